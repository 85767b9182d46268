"""Differential test: the set-based batch grouper and the per-case interpreter (two independent readings of the
pack README) agree on generated cases with deliberately odd values, under both reference packs; each case gets
exactly one status."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from drgpacks import shared_pack
from yunying.drg.explain import CaseInterpreter
from yunying.drg.grouper import STATUS_NAMES, Grouper
from yunying.drg.pack import load_pack

BENCH = Path(__file__).resolve().parents[2] / "bench" / "drg_group.py"


def _generator():
    spec = importlib.util.spec_from_file_location("drg_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.generate_cases


def _oddify(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = table.num_rows
    cols = {c: table[c].to_pylist() for c in table.column_names}
    odd = {
        "sex": ["", "0", "3", "9", "M", " 1", "1.0", "2 "],
        "age_years": ["", "0", "x", "1.5", "-1", " 7", "17", "16", "120"],
        "age_days": ["", "0", "28", "29", "abc", "365"],
        "newborn_weight_g": ["", "0", "1499", "1500", "2499", "2500", "x"],
        "dept_code": ["ICU", "icu", ""],
    }
    for c, values in odd.items():
        hit = rng.random(n) < 0.06
        for i in np.flatnonzero(hit):
            cols[c][i] = values[rng.integers(len(values))]
    # code-list oddities: empty pieces, repeats, trailing separators, swapped principal
    for i in np.flatnonzero(rng.random(n) < 0.08):
        k = rng.integers(5)
        dx, px = cols["dx"][i], cols["px"][i]
        if k == 0:
            cols["dx"][i] = dx + "|"
        elif k == 1:
            cols["px"][i] = "|" + px if px else ""
        elif k == 2:
            cols["dx"][i] = dx + "|" + dx.split("|")[0]
        elif k == 3:
            parts = px.split("|")
            cols["px"][i] = "|".join(parts[1:] + parts[:1]) if px else px
        else:
            cols["dx"][i] = ""
    return pa.table({c: pa.array(v, type=pa.string()) for c, v in cols.items()})


@pytest.mark.parametrize("name", ["chs-drg-1.1", "zhejiang-2022"])
def test_batch_equals_interpreter_on_generated_cases(name):
    pack = load_pack(shared_pack(name))
    table = _oddify(_generator()(pack, 6000, seed=7), seed=11)
    res = Grouper(pack).group_table(table, chunk_size=1500)
    assert set(res["status"].to_pylist()) <= set(STATUS_NAMES)
    batch = list(zip(*(res[c].to_pylist() for c in ("status", "mdc", "adrg", "drg"))))
    it = CaseInterpreter(pack)
    wrong = []
    for rec, b in zip(table.to_pylist(), batch):
        e = it.explain(rec)
        if (e.status, e.mdc, e.adrg, e.drg) != b:
            wrong.append((rec, b, (e.status, e.mdc, e.adrg, e.drg)))
    assert not wrong, wrong[:3]
    # not everything failed: the generator reaches many groups
    assert sum(1 for b in batch if b[0] == "SUCCESS") > len(batch) * 0.5


def test_mapping_mode_batch_equals_interpreter(tmp_path):
    """Mapping mode on the national pack (an override switches it on): old-version codes, repeats and chains."""
    base = shared_pack("chs-drg-1.1")
    local = tmp_path / "chs-mapped"
    local.mkdir()
    (local / "pack.yaml").write_text(f"base: {base}\n", encoding="utf-8")
    (local / "overrides.csv").write_text(
        "op,table,key,column,value,reason_zh\nset_option,,mapping_mode,value,on,旧版编码输入\n", encoding="utf-8")
    pack = load_pack(local)
    assert pack.options["mapping_mode"] == "on"
    rng = np.random.default_rng(5)
    dmap = pack.rows("dx_code_map")
    pmap = pack.rows("px_code_map")
    changed_dx = [r["source_code"] for r in dmap if r["source_code"] != r["target_code"]]
    same_dx = [r["source_code"] for r in dmap if r["source_code"] == r["target_code"]]
    targets = [r["target_code"] for r in dmap if r["source_code"] != r["target_code"]]
    px_src = [r["source_code"] for r in pmap]
    cases = []
    for i in range(3000):
        k = rng.integers(2, 5)
        pools = [changed_dx, same_dx, targets]
        dx = []
        for _ in range(k):
            p = pools[rng.integers(3)]
            dx.append(p[rng.integers(len(p))])
        if rng.random() < 0.2:
            dx.append(dx[0])  # repeat
        if rng.random() < 0.05:
            dx.append("NOT.A.CODE")
        px = [px_src[rng.integers(len(px_src))] for _ in range(rng.integers(0, 3))]
        if rng.random() < 0.03:
            px.append("")
        cases.append({"record_id": f"m{i}", "sex": "1" if i % 2 else "2", "age_years": "50", "age_days": "",
                      "newborn_weight_g": "", "dept_code": "", "los_days": "3", "discharge_type": "1",
                      "dx": "|".join(dx), "px": "|".join(px)})
    table = pa.table({c: pa.array([x[c] for x in cases], type=pa.string()) for c in cases[0]})
    res = Grouper(pack).group_table(table, chunk_size=700)
    batch = list(zip(*(res[c].to_pylist() for c in ("status", "mdc", "adrg", "drg"))))
    it = CaseInterpreter(pack)
    wrong = [(c, b) for c, b in zip(cases, batch)
             if (lambda e: (e.status, e.mdc, e.adrg, e.drg))(it.explain(c)) != b]
    assert not wrong, wrong[:3]
    statuses = {b[0] for b in batch}
    assert {"SUCCESS", "ZD_NOT_MAPPING", "SS_NOT_MAPPING"} <= statuses
