"""Where diagnosis/procedure codes come from: the demo lists (default) or a DRG scheme pack (`codes=DIR`).

With a pack, each demo code keeps its role in the case mix (department, surgery category, level) but the code
written to the file is drawn, per case, from the pack's codes sharing the demo code's ICD-10 category (3 chars,
e.g. K35) or ICD-9-CM-3 subcategory (e.g. 47.0); when none share it, from the pack's codes sharing the chapter
letter / two-digit section; as last resort any pack code. The pack is read at run time, never copied.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa


class CodeSource:
    def __init__(self, demo_codes: list[str], demo_names: list[str], pack_file: Path | None, kind: str):
        self.demo_codes = demo_codes
        self.kind = kind
        self.pack = pack_file
        if pack_file is None:
            self.codes = pa.array(demo_codes, pa.string())
            self.names = pa.array(demo_names, pa.string())
            return
        rows = []
        with open(pack_file, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                c = r.get("code") or ""
                if c and "+" not in c and "*" not in c and not c.startswith(" "):
                    rows.append((c, r.get("name") or c))
        if not rows:
            raise ValueError(f"{pack_file}: no usable codes (expected columns code,name)")
        rows.sort()
        pcodes = [c for c, _ in rows]
        self.codes = pa.array(pcodes, pa.string())
        self.names = pa.array([n for _, n in rows], pa.string())
        arr = np.array(pcodes)
        starts, lens = [], []
        for dc in demo_codes:
            for key in self._keys(dc):
                lo = int(np.searchsorted(arr, key, "left"))
                hi = int(np.searchsorted(arr, key + "\uffff", "left"))
                if hi > lo:
                    break
            else:
                lo, hi = 0, len(arr)
            starts.append(lo)
            lens.append(hi - lo)
        self.starts = np.array(starts, dtype=np.int64)
        self.lens = np.array(lens, dtype=np.int64)

    def _keys(self, code: str) -> list[str]:
        if self.kind == "dx":       # K35.800x001 -> K35.8, K35, K3, K
            return [code[:5], code[:3], code[:2], code[:1]]
        return [code[:4], code[:3], code[:2]]   # 47.0100 -> 47.0, 47., 47

    def draw(self, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Map demo-code indices (-1 = none) to indices into self.codes / self.names (-1 = none)."""
        idx = np.asarray(idx)
        if self.pack is None:
            return idx
        safe = np.where(idx < 0, 0, idx)
        out = self.starts[safe] + (rng.random(idx.shape) * self.lens[safe]).astype(np.int64)
        return np.where(idx < 0, -1, out)

    def strings(self, mapped: np.ndarray) -> tuple[pa.Array, pa.Array]:
        m = pa.array(np.where(mapped < 0, 0, mapped))
        mask = pa.array(mapped < 0)
        codes = self.codes.take(m)
        names = self.names.take(m)
        import pyarrow.compute as pc
        return pc.if_else(mask, pa.scalar(None, pa.string()), codes), pc.if_else(mask, pa.scalar(None, pa.string()), names)
