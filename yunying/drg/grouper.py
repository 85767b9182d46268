"""Set-based batch DRG grouper.

The pack is compiled once into integer code ids and per-code attribute arrays:

* every ADRG (plus every enabled QY slot) gets a *slot*; slots are numbered in the order the algorithm tries
  them (MDC priority, then ``order_in_mdc``, a QY slot right after its ``after_adrg_order``), and a case's
  candidate slots are held as a bitset of 64-bit words;
* per diagnosis code: the slots whose ``dx`` list holds it, its MDC principal-list memberships, CC/MCC and
  exclusion table ids, and "any position" features (trauma region, ``any_in_list`` ADRGs);
* per procedure code: the slots whose ``px`` list holds it, valid-OR flag, and "any position" features (pair
  lists, combination labels, codes used by ``PX_ALL`` splits).

A batch of cases is split into flat code arrays (Arrow), looked up (hash join in Arrow), reduced per case with
numpy segment reductions, and every rule column becomes one vectorised bitset operation. The first set bit of
``rule holds & MDC entered & a DRG split holds`` is the slot; then the first DRG whose split holds. No Python
loop runs per case; loops run over rule *kinds*, a few special slots and DRG positions.

Semantics: ../shared/drg/chs-drg-1.1/README.md and the zhejiang-2022 extensions (see docs/drg-scheme-pack.md).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yunying.drg.cases import Demographics, column
from yunying.drg.pack import Pack
from yunying.model.catalogue import load_model

STATUS_NAMES = ("SUCCESS", "FAIL", "CHECK_FAILED", "ZD_NOT_MAPPING", "SS_NOT_MAPPING", "QY")
SUCCESS, FAIL, CHECK_FAILED, ZD_NOT_MAPPING, SS_NOT_MAPPING, QY = range(6)
# labels of the status codes: the data model's drg_status domain (rendering only; logic keeps the codes)
STATUS_ZH = {c: load_model().domains["drg_status"].codes.get(c, c) for c in STATUS_NAMES}
_STATUS_ARR = pa.array(STATUS_NAMES, type=pa.string())
RESULT_COLUMNS = ("record_id", "status", "mdc", "adrg", "drg")

U64 = np.uint64
ONE = U64(1)


def _words(n_bits: int) -> int:
    return max(1, (n_bits + 63) // 64)


def _bit(mask: np.ndarray, i: int) -> None:
    mask[..., i // 64] |= ONE << U64(i % 64)


class _Features:
    """Named boolean features packed into 64-bit words (per code)."""

    def __init__(self):
        self.names: dict[object, int] = {}

    def add(self, key) -> int:
        if key not in self.names:
            self.names[key] = len(self.names)
        return self.names[key]

    @property
    def width(self) -> int:
        return _words(len(self.names))


@dataclass
class Slot:
    index: int
    mdc: int  # MDC index (priority order)
    adrg: str  # 'QY' for a QY slot
    qy_code: str = ""
    dx_condition: str = "none"
    px_condition: str = "none"
    age_days_max: int | None = None
    weight_min: int | None = None
    weight_max: int | None = None
    combination: list[list[int]] | None = None
    try_next: bool = False
    drgs: list[int] | None = None  # indices into CompiledScheme.drg_codes, in order_in_adrg


def _int_or_none(v: str) -> int | None:
    return int(v) if v not in (None, "") else None


class CompiledScheme:
    """A pack compiled into arrays. Build once per pack (see :func:`compile_pack`)."""

    def __init__(self, pack: Pack):
        self.pack_name = pack.name
        self.identity = pack.identity
        self.content_hash = pack.content_hash
        opts = pack.options
        self.retry = opts["retry_each_secondary_px_alone"] == "yes"
        self.mapping_mode = opts["mapping_mode"] == "on"
        self.sex_match = opts["sex_match"]

        mdcs = sorted(pack.rows("mdcs"), key=lambda r: int(r["priority"]))
        self.mdc_codes = [r["mdc"] for r in mdcs]
        mdc_ix = {m: i for i, m in enumerate(self.mdc_codes)}
        self.mdc_rows = mdcs

        # ---- slots -----------------------------------------------------------------------------------
        adrgs_by_mdc: dict[str, list[dict]] = {}
        for r in pack.rows("adrgs"):
            adrgs_by_mdc.setdefault(r["mdc"], []).append(r)
        qy = {r["mdc"]: r for r in pack.rows("qy_rules") if r.get("enabled") == "1"}
        drgs_by_adrg: dict[str, list[dict]] = {}
        for r in pack.rows("drgs"):
            drgs_by_adrg.setdefault(r["adrg"], []).append(r)
        self.drg_codes: list[str] = []
        self.drg_kind: list[str] = []
        self.drg_value: list[str] = []
        self.slots: list[Slot] = []
        for m in self.mdc_codes:
            rows = sorted(adrgs_by_mdc.get(m, []), key=lambda r: int(r["order_in_mdc"]))
            q = qy.get(m)
            if q is not None and int(q["after_adrg_order"]) <= 0:
                self._add_qy(m, mdc_ix[m], q)
            for r in rows:
                comb = None
                if r["px_condition"] == "labelled_combination":
                    comb = [[int(x) for x in alt.split("+")] for alt in r["px_combination"].split("|")]
                drg_ids = []
                for d in sorted(drgs_by_adrg.get(r["adrg"], []), key=lambda d: int(d["order_in_adrg"])):
                    drg_ids.append(len(self.drg_codes))
                    self.drg_codes.append(d["drg"])
                    self.drg_kind.append(d["split_kind"])
                    self.drg_value.append(d.get("split_value", ""))
                self.slots.append(Slot(
                    index=len(self.slots), mdc=mdc_ix[m], adrg=r["adrg"],
                    dx_condition=r["dx_condition"], px_condition=r["px_condition"],
                    age_days_max=_int_or_none(r.get("age_days_max")),
                    weight_min=_int_or_none(r.get("weight_min_g")), weight_max=_int_or_none(r.get("weight_max_g")),
                    combination=comb, try_next=r.get("when_no_drg_holds") == "try_next_adrg", drgs=drg_ids))
                if q is not None and r["order_in_mdc"] == q["after_adrg_order"]:
                    self._add_qy(m, mdc_ix[m], q)
        ns = len(self.slots)
        self.W = W = _words(ns)
        self.slot_adrg = np.array([s.adrg for s in self.slots], dtype=object)
        self.slot_mdc = np.array([s.mdc for s in self.slots], dtype=np.int32)
        self.slot_is_qy = np.array([s.adrg == "QY" for s in self.slots])

        def mask(pred) -> np.ndarray:
            mk = np.zeros(W, dtype=U64)
            for s in self.slots:
                if pred(s):
                    _bit(mk, s.index)
            return mk

        self.m_dx_pil = mask(lambda s: s.dx_condition == "principal_in_list")
        self.m_dx_pnil = mask(lambda s: s.dx_condition == "principal_not_in_list")
        self.m_dx_none = mask(lambda s: s.dx_condition == "none")
        self.m_px_pil = mask(lambda s: s.px_condition == "principal_in_list")
        self.m_px_pvor = mask(lambda s: s.px_condition == "principal_in_valid_or")
        self.m_px_pnvor = mask(lambda s: s.px_condition == "principal_not_valid_or")
        self.m_px_nonevor = mask(lambda s: s.px_condition == "none_in_valid_or")
        self.m_px_none = mask(lambda s: s.px_condition == "none")
        self.m_qy = mask(lambda s: s.adrg == "QY")
        self.m_mdc = np.zeros((len(self.mdc_codes), W), dtype=U64)
        for s in self.slots:
            _bit(self.m_mdc[s.mdc], s.index)
        nm = len(self.mdc_codes)
        if nm > 64:
            raise ValueError("more than 64 MDCs are not supported")
        self.all_mdc_bits = U64((1 << nm) - 1)

        def mdc_mask(pred) -> U64:
            v = 0
            for i, r in enumerate(mdcs):
                if pred(r):
                    v |= 1 << i
            return U64(v)

        self.req_pdx_mask = mdc_mask(lambda r: r["requires_principal_dx_in_list"] == "yes")
        self.req_anydx_mask = mdc_mask(lambda r: r.get("requires_any_dx_in_list") == "yes")
        self.req_pvor_mask = mdc_mask(lambda r: r["requires_principal_px_valid_or"] == "yes")
        self.req_pdx, self.req_anydx, self.req_pvor = (bool(self.req_pdx_mask), bool(self.req_anydx_mask),
                                                       bool(self.req_pvor_mask))
        self.sex_masks = [(int(v), mdc_mask(lambda r, v=v: r["sex"] == v))
                          for v in sorted({r["sex"] for r in mdcs if r["sex"]})]
        self.age_masks = [(int(v), mdc_mask(lambda r, v=v: r["age_years"] == v))
                          for v in sorted({r["age_years"] for r in mdcs if r["age_years"]})]
        self.trauma_all_mask = mdc_mask(lambda r: bool(r["min_trauma_regions"]))
        self.trauma_masks = [(int(v), mdc_mask(lambda r, v=v: r["min_trauma_regions"] == v))
                             for v in sorted({r["min_trauma_regions"] for r in mdcs if r["min_trauma_regions"]})]
        # entered-MDC bits -> slot mask, one 256-row table per byte of the MDC bitset
        self.mdc_bytes = max(1, (nm + 7) // 8)
        self.mdc_byte_table = np.zeros((self.mdc_bytes, 256, W), dtype=U64)
        for b in range(self.mdc_bytes):
            for v in range(256):
                for k in range(8):
                    m = 8 * b + k
                    if v >> k & 1 and m < nm:
                        self.mdc_byte_table[b, v] |= self.m_mdc[m]
        # newborn age / weight bands: one mask per distinct (age_days_max, weight_min, weight_max)
        self.age_groups: list[tuple[tuple, np.ndarray]] = []
        keys = sorted({(s.age_days_max, s.weight_min, s.weight_max) for s in self.slots
                       if (s.age_days_max, s.weight_min, s.weight_max) != (None, None, None)},
                      key=lambda k: tuple(-1 if x is None else x for x in k))
        for k in keys:
            self.age_groups.append((k, mask(lambda s, k=k: (s.age_days_max, s.weight_min, s.weight_max) == k)))
        self.m_no_age = mask(lambda s: (s.age_days_max, s.weight_min, s.weight_max) == (None, None, None))
        self.age_groups_need_days = all(k[0] is not None for k, _ in self.age_groups)

        # ---- code dictionaries -------------------------------------------------------------------------
        adrg_slot = {s.adrg: s.index for s in self.slots if s.adrg != "QY"}
        codes = pack.rows("adrg_codes")
        dx_codes: dict[str, int] = {}
        px_codes: dict[str, int] = {}

        def dx_id(c: str) -> int:
            return dx_codes.setdefault(c, len(dx_codes) + 1)

        def px_id(c: str) -> int:
            return px_codes.setdefault(c, len(px_codes) + 1)

        for r in pack.rows("mdc_principal_dx"):
            dx_id(r["code"])
        for t in ("mdcz_trauma_regions", "cc", "mcc", "principal_dx_exclusion"):
            for r in pack.rows(t):
                dx_id(r["code"])
        for r in pack.rows("valid_or_procedures"):
            px_id(r["code"])
        for r in codes:
            (dx_id if r["list"] == "dx" else px_id)(r["code"])
        principal_px_also = []
        for r in mdcs:
            also = [c for c in (r.get("principal_px_also") or "").split("|") if c != ""]
            principal_px_also.append(also)
            for c in also:
                px_id(c)
        px_all_codes = sorted({c for k, v in zip(self.drg_kind, self.drg_value) if k == "PX_ALL"
                               for c in v.split("+")})
        for c in px_all_codes:
            px_id(c)
        self.dx_vocab = pa.array(list(dx_codes), type=pa.string())
        self.px_vocab = pa.array(list(px_codes), type=pa.string())
        nd, npx = len(dx_codes) + 1, len(px_codes) + 1

        # ---- per diagnosis code ------------------------------------------------------------------------
        self.dx_slots = np.zeros((nd, W), dtype=U64)
        for r in codes:
            if r["list"] == "dx":
                _bit(self.dx_slots[dx_codes[r["code"]]], adrg_slot[r["adrg"]])
        self.dx_mdc = np.zeros(nd, dtype=U64)  # bit per MDC index: in that MDC's principal list
        for r in pack.rows("mdc_principal_dx"):
            self.dx_mdc[dx_codes[r["code"]]] |= ONE << U64(mdc_ix[r["mdc"]])
        table_ids: dict[str, int] = {}

        def table_id(v: str) -> int:
            return table_ids.setdefault(v, len(table_ids) + 1)

        self.dx_cc = np.zeros(nd, dtype=np.int32)  # exclusion table id of a CC code (0 = not a CC)
        self.dx_mcc = np.zeros(nd, dtype=np.int32)
        self.dx_excl = np.zeros(nd, dtype=np.int32)
        for t, arr in (("cc", self.dx_cc), ("mcc", self.dx_mcc), ("principal_dx_exclusion", self.dx_excl)):
            for r in pack.rows(t):
                arr[dx_codes[r["code"]]] = table_id(r["exclusion_table"])
        self.dx_is_cm = (self.dx_cc != 0) | (self.dx_mcc != 0)
        # any-position diagnosis features: MDC list membership, trauma regions, any_in_list ADRGs
        f = _Features()
        for i in range(len(self.mdc_codes)):
            f.add(("mdc", i))
        regions = sorted({r["region"] for r in pack.rows("mdcz_trauma_regions")})
        for reg in regions:
            f.add(("region", reg))
        self.any_dx_slots = [s for s in self.slots if s.dx_condition == "any_in_list"]
        for s in self.any_dx_slots:
            f.add(("adrg", s.index))
        self.dxf = f
        self.dx_feat = np.zeros((nd, f.width), dtype=U64)
        for code, i in dx_codes.items():
            bits = int(self.dx_mdc[i])
            for m in range(len(self.mdc_codes)):
                if bits >> m & 1:
                    _bit(self.dx_feat[i], f.names[("mdc", m)])
        for r in pack.rows("mdcz_trauma_regions"):
            _bit(self.dx_feat[dx_codes[r["code"]]], f.names[("region", r["region"])])
        for r in codes:
            if r["list"] == "dx" and ("adrg", adrg_slot[r["adrg"]]) in f.names:
                _bit(self.dx_feat[dx_codes[r["code"]]], f.names[("adrg", adrg_slot[r["adrg"]])])
        self.region_feats = [f.names[("region", reg)] for reg in regions]

        # ---- per procedure code ------------------------------------------------------------------------
        self.px_slots = np.zeros((npx, W), dtype=U64)
        for r in codes:
            if r["list"] == "px":
                _bit(self.px_slots[px_codes[r["code"]]], adrg_slot[r["adrg"]])
        self.px_vor = np.zeros(npx, dtype=bool)
        for r in pack.rows("valid_or_procedures"):
            self.px_vor[px_codes[r["code"]]] = True
        self.px_also = np.zeros(npx, dtype=U64)  # bit per MDC: code in that MDC's principal_px_also
        for m, also in enumerate(principal_px_also):
            for c in also:
                self.px_also[px_codes[c]] |= ONE << U64(m)
        g = _Features()
        g.add("vor")
        self.pair_slots = [s for s in self.slots if s.px_condition == "any_in_list_and_any_in_list2"]
        for s in self.pair_slots:
            g.add(("px", s.index))
            g.add(("px2", s.index))
        self.label_slots = [s for s in self.slots if s.px_condition == "labelled_combination"]
        for s in self.label_slots:
            for lab in sorted({x for alt in s.combination for x in alt}):
                g.add(("label", s.index, lab))
        for c in px_all_codes:
            g.add(("code", c))
        self.pxf = g
        self.px_feat = np.zeros((npx, g.width), dtype=U64)
        for i in np.flatnonzero(self.px_vor):
            _bit(self.px_feat[i], g.names["vor"])
        for r in codes:
            s = adrg_slot[r["adrg"]]
            key = None
            if r["list"] in ("px", "px2") and (r["list"], s) in g.names:
                key = (r["list"], s)
                _bit(self.px_feat[px_codes[r["code"]]], g.names[key])
            if r["list"] == "px" and r.get("label") and ("label", s, int(r["label"])) in g.names:
                _bit(self.px_feat[px_codes[r["code"]]], g.names[("label", s, int(r["label"]))])
        for c in px_all_codes:
            _bit(self.px_feat[px_codes[c]], g.names[("code", c)])

        # ---- per-code condition tables (the hot path gathers these) ----------------------------------------
        # dx_ok[code]: slots whose dx condition holds for this principal; any_in_list slots are left set here and
        # cleared per row from the any-position feature.
        m_any_dx = mask(lambda s: s.dx_condition == "any_in_list")
        self.dx_ok = (self.dx_slots & self.m_dx_pil) | (~self.dx_slots & self.m_dx_pnil) | self.m_dx_none | m_any_dx
        # px_ok[code]: slots whose px condition holds for this principal procedure (code 0 = none / unknown);
        # pair and label slots left set (cleared per row); none_in_valid_or and QY handled by any_vor_ok.
        m_px_later = mask(lambda s: s.px_condition in ("any_in_list_and_any_in_list2", "labelled_combination",
                                                       "none_in_valid_or", "any_in_valid_or"))
        vor_col = self.px_vor[:, None]
        self.px_ok = ((self.px_slots & self.m_px_pil) | self.m_px_none | m_px_later
                      | np.where(vor_col, self.m_px_pvor, self.m_px_pnvor))
        all_slots = mask(lambda s: True)
        # any_vor_ok[0 or 1]: rows without / with a valid OR procedure at any position
        self.any_vor_ok = np.stack([all_slots & ~self.m_qy, all_slots & ~self.m_px_nonevor])
        # age_table[code]: code has bit g set when age group g's condition holds
        ng = len(self.age_groups)
        if ng > 12:
            raise ValueError("too many distinct newborn age/weight bands")
        self.age_table = np.zeros((1 << ng, W), dtype=U64)
        for code in range(1 << ng):
            row = self.m_no_age.copy()
            for gi, (_k, mk) in enumerate(self.age_groups):
                if code >> gi & 1:
                    row |= mk
            self.age_table[code] = row

        # ---- DRG table -----------------------------------------------------------------------------------
        maxd = max((len(s.drgs) for s in self.slots if s.drgs), default=1)
        self.slot_drgs = np.full((ns + 1, maxd), -1, dtype=np.int32)  # row ns = "no slot"
        for s in self.slots:
            if s.drgs:
                self.slot_drgs[s.index, : len(s.drgs)] = s.drgs
        self.drg_kind_arr = np.array(self.drg_kind + ["NONE"], dtype=object)
        kinds = {"NONE": 0, "MCC": 1, "MCC_OR_CC": 2}
        # special split predicates (AGE_LT v, DEPT_EQ v, PX_ALL codes) get their own index
        self.special: list[tuple[str, str]] = []
        drg_code_kind = np.zeros(len(self.drg_codes) + 1, dtype=np.int32)
        for i, (k, v) in enumerate(zip(self.drg_kind, self.drg_value)):
            if k in kinds:
                drg_code_kind[i] = kinds[k]
            else:
                if (k, v) not in self.special:
                    self.special.append((k, v))
                drg_code_kind[i] = 3 + self.special.index((k, v))
        self.drg_code_kind = drg_code_kind
        # slots whose DRG list may fail to yield (no unconditional DRG)
        self.fallible = [s for s in self.slots if s.drgs is not None and s.adrg != "QY"
                         and not any(self.drg_kind[d] == "NONE" for d in s.drgs)]
        self.drg_codes_arr = pa.array(self.drg_codes + [""], type=pa.string())
        self.slot_adrg_arr = pa.array([s.adrg for s in self.slots] + [""], type=pa.string())
        self.slot_qy_arr = pa.array([s.qy_code for s in self.slots] + [""], type=pa.string())
        self.mdc_codes_arr = pa.array(self.mdc_codes, type=pa.string())
        # mapping mode
        self.dx_map = self._code_map(pack.rows("dx_code_map"))
        self.px_map = self._code_map(pack.rows("px_code_map"))

    @staticmethod
    def _code_map(rows):
        return (pa.array([r["source_code"] for r in rows], type=pa.string()),
                pa.array([r["target_code"] for r in rows], type=pa.string()))

    def _add_qy(self, mdc: str, mi: int, q: dict) -> None:
        self.slots.append(Slot(index=len(self.slots), mdc=mi, adrg="QY", qy_code=q["qy_code"],
                               dx_condition="none", px_condition="any_in_valid_or", drgs=None))


_CACHE: dict[str, CompiledScheme] = {}


def compile_pack(pack: Pack) -> CompiledScheme:
    key = pack.content_hash
    if key not in _CACHE:
        _CACHE[key] = CompiledScheme(pack)
    return _CACHE[key]


# ------------------------------------------------------------------------------------------------------------
# flat code lists
# ------------------------------------------------------------------------------------------------------------


@dataclass
class CodeLists:
    """Per-case code lists as flat arrays: ids (0 = not in any list of the scheme), offsets, lengths."""

    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, len n+1
    texts: pa.Array | None = None  # the codes as text (kept for mapping mode / explain)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def _string_parts(col: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """(offsets int64, data uint8) of a plain string array, or None."""
    if not pa.types.is_string(col.type) or col.null_count:
        return None
    bufs = col.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1, offset=col.offset * 4).astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def split_codes(col: pa.Array, blank_is_empty_list: bool) -> tuple[pa.Array, np.ndarray]:
    """Split on ``|`` (and ``,``, as the reference does). Returns (flat texts, offsets).

    A blank dx gives ``[""]``; a blank px gives ``[]`` (pack README, "The record").
    """
    col = pc.fill_null(col, "")
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    parts = _string_parts(col)
    if parts is not None:  # cheap byte scan for the (rare) comma separator
        comma = bool(len(col)) and bool((parts[1][parts[0][0]:parts[0][-1]] == ord(",")).any())
    else:
        comma = pc.any(pc.match_substring(col, ",")).as_py()
    lists = pc.split_pattern_regex(col, r"[|,]") if comma else pc.split_pattern(col, "|")
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    flat = lists.values
    if offsets[0] != 0 or len(flat) != offsets[-1] - offsets[0]:
        flat = flat.slice(offsets[0], offsets[-1] - offsets[0])
        offsets = offsets - offsets[0]
    if blank_is_empty_list:
        blank = np.asarray(pc.equal(col, ""))
        if blank.any():
            lens = np.diff(offsets)
            keep = np.repeat(~blank, lens)
            flat = flat.filter(pa.array(keep))
            offsets = np.concatenate([[0], np.cumsum(np.where(blank, 0, lens))]).astype(np.int64)
    return flat, offsets


def lookup(vocab: pa.Array, flat: pa.Array) -> np.ndarray:
    idx = pc.index_in(flat, value_set=vocab)
    return np.asarray(pc.fill_null(pc.add(idx, 1), 0), dtype=np.int32)


def seg_or(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Bitwise OR of values over each segment; 0 for empty segments. values: (m,) or (m, k)."""
    n = len(offsets) - 1
    out = np.zeros((n,) + values.shape[1:], dtype=values.dtype)
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    if len(values) and nonempty.any():
        out[nonempty] = np.bitwise_or.reduceat(values, starts[nonempty], axis=0)
    return out


# ------------------------------------------------------------------------------------------------------------
# the grouper
# ------------------------------------------------------------------------------------------------------------


class BatchResult:
    def __init__(self, status, slot, drg, mdc):
        self.status = status  # int8 codes (STATUS_NAMES)
        self.slot = slot  # int32, -1 none
        self.drg = drg  # int32 index into drg_codes, -1 none
        self.mdc = mdc  # int32 MDC index, -1 none


class Grouper:
    def __init__(self, pack_or_compiled: Pack | CompiledScheme):
        self.c = pack_or_compiled if isinstance(pack_or_compiled, CompiledScheme) else compile_pack(pack_or_compiled)

    # -------------------------------------------------------------------------------------------- public
    def group_table(self, table: pa.Table, chunk_size: int = 131_072, progress=None,
                    threads: int | None = None) -> pa.Table:
        """Group a table of canonical cases; returns record_id, status, mdc, adrg, drg (strings).

        Chunks are grouped in a thread pool (numpy and Arrow release the GIL in their kernels); the output
        keeps the input order.
        """
        n = table.num_rows
        if n <= chunk_size:
            out = self._format(table, self.group_arrays(table))
            if progress is not None:
                progress(n, n)
            return out
        starts = list(range(0, n, chunk_size))
        workers = threads or _default_workers()

        def work(start):
            part = table.slice(start, min(chunk_size, n - start))
            return self._format(part, self.group_arrays(part))

        parts = []
        if workers <= 1:
            for st in starts:
                parts.append(work(st))
                if progress is not None:
                    progress(min(st + chunk_size, n), n)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for st, part in zip(starts, pool.map(work, starts)):
                    parts.append(part)
                    if progress is not None:
                        progress(min(st + chunk_size, n), n)
        return pa.concat_tables(parts)

    def group_arrays(self, table: pa.Table) -> BatchResult:
        c = self.c
        n = table.num_rows
        demo = Demographics(table, c.sex_match)
        status = np.full(n, FAIL, dtype=np.int8)
        dx_flat, dx_off = split_codes(column(table, "dx"), blank_is_empty_list=False)
        px_flat, px_off = split_codes(column(table, "px"), blank_is_empty_list=True)
        if c.mapping_mode:
            zd, dx_flat, dx_off = self._map(dx_flat, dx_off, c.dx_map, skip_empty_lists=False)
            ss, px_flat, px_off = self._map(px_flat, px_off, c.px_map, skip_empty_lists=True)
            status[ss] = SS_NOT_MAPPING
            status[zd] = ZD_NOT_MAPPING  # diagnoses are converted first
            mapped_fail = zd | ss
        else:
            mapped_fail = np.zeros(n, dtype=bool)
        check_fail = (demo.check != 0) & ~mapped_fail
        status[check_fail] = CHECK_FAILED
        dx = CodeLists(lookup(c.dx_vocab, dx_flat), dx_off)
        px = CodeLists(lookup(c.px_vocab, px_flat), px_off)
        active = ~(mapped_fail | check_fail)
        slot, drg = self._pass(np.arange(n), demo, dx, px, active)
        if c.retry:
            slot, drg = self._retry(demo, dx, px, active, slot, drg)
        ok = slot >= 0
        is_qy = ok & c.slot_is_qy[np.maximum(slot, 0)]
        status[ok] = SUCCESS
        status[is_qy] = QY
        mdc = np.where(ok, c.slot_mdc[np.maximum(slot, 0)], -1).astype(np.int32)
        return BatchResult(status, slot.astype(np.int32), drg.astype(np.int32), mdc)

    # -------------------------------------------------------------------------------------------- passes
    def _dx_features(self, dx: CodeLists):
        c = self.c
        lens = dx.lengths
        first = dx.offsets[:-1]
        has = lens > 0
        pdx = np.where(has, dx.ids[np.minimum(first, max(len(dx.ids) - 1, 0))] if len(dx.ids) else 0, 0)
        feat = seg_or(c.dx_feat[dx.ids], dx.offsets)
        # counting CC / MCC among secondary diagnoses (positions 2..n), given the principal's exclusion table;
        # only positions holding a CC or MCC code are looked at
        n = len(lens)
        pos = np.flatnonzero(c.dx_is_cm[dx.ids])
        case_of = np.searchsorted(dx.offsets, pos, side="right") - 1
        sec = pos != dx.offsets[case_of]
        pos, case_of = pos[sec], case_of[sec]
        ids = dx.ids[pos]
        excl = c.dx_excl[pdx[case_of]]
        mcc_t = c.dx_mcc[ids]
        cc_t = c.dx_cc[ids]
        count_mcc = (mcc_t != 0) & ((excl == 0) | (excl != mcc_t))
        count_cc = (cc_t != 0) & ((excl == 0) | (excl != cc_t))
        has_mcc = np.zeros(n, dtype=bool)
        has_mcc[case_of[count_mcc]] = True
        has_any = np.zeros(n, dtype=bool)
        has_any[case_of[count_mcc | count_cc]] = True
        return pdx, feat, has_mcc, has_any

    def _pass(self, rows, demo, dx, px, active, dxf=None):
        """One grouping pass. rows: original case index of each pass row (retry rows repeat a case)."""
        c = self.c
        n = len(rows)
        if dxf is None:
            dxf = self._dx_features(dx)
        pdx, dfeat, has_mcc, has_ccmcc = dxf
        plen = px.lengths
        pfirst = px.offsets[:-1]
        ppx = np.where(plen > 0, px.ids[np.minimum(pfirst, max(len(px.ids) - 1, 0))] if len(px.ids) else 0, 0)
        pfeat = seg_or(c.px_feat[px.ids], px.offsets)

        def dbit(name) -> np.ndarray:
            i = c.dxf.names[name]
            return ((dfeat[:, i // 64] >> U64(i % 64)) & ONE).astype(bool)

        def pbit(name) -> np.ndarray:
            i = c.pxf.names[name]
            return ((pfeat[:, i // 64] >> U64(i % 64)) & ONE).astype(bool)

        sex = demo.sex[rows]
        age = demo.age_years[rows]
        age_ok = demo.age_ok[rows]
        any_vor = pbit("vor")
        p_vor = c.px_vor[ppx] & (plen > 0)

        # ---- MDC entry: one bit per MDC (priority order) in a uint64, then expanded to slot masks
        E = np.where(active, c.all_mdc_bits, U64(0))
        if c.req_pdx:
            E &= c.dx_mdc[pdx] | ~c.req_pdx_mask
        if c.req_anydx:
            E &= dfeat[:, 0] | ~c.req_anydx_mask  # MDC features are the first bits of word 0
        if c.req_pvor:
            ok = np.where(p_vor, c.all_mdc_bits, c.px_also[ppx])
            ok = np.where(plen > 0, ok, U64(0))
            E &= ok | ~c.req_pvor_mask
        for value, mk in c.sex_masks:
            E &= np.where(sex == value, c.all_mdc_bits, ~mk)
        for value, mk in c.age_masks:
            E &= np.where(age_ok & (age == value), c.all_mdc_bits, ~mk)
        if c.trauma_masks:  # only rows still holding a multi-trauma MDC bit need the region count
            sub = np.flatnonzero(E & c.trauma_all_mask)
            if len(sub):
                cnt = np.zeros(len(sub), dtype=np.int32)
                fsub = dfeat[sub]
                for fi in c.region_feats:
                    cnt += ((fsub[:, fi // 64] >> U64(fi % 64)) & ONE).astype(np.int32)
                for value, mk in c.trauma_masks:
                    E[sub] &= np.where(cnt >= value, c.all_mdc_bits, ~mk)
        entered = c.mdc_byte_table[0][(E & U64(255)).astype(np.intp)]
        for b in range(1, c.mdc_bytes):
            entered |= c.mdc_byte_table[b][((E >> U64(8 * b)) & U64(255)).astype(np.intp)]

        # ---- diagnosis and procedure conditions: per-code tables precomputed at compile time
        hold = c.dx_ok[pdx]
        hold &= c.px_ok[ppx]
        hold &= c.any_vor_ok[any_vor.view(np.uint8)]
        for s in c.any_dx_slots:
            _clear_where_not(hold, dbit(("adrg", s.index)), s.index)
        for s in c.pair_slots:
            _clear_where_not(hold, pbit(("px", s.index)) & pbit(("px2", s.index)), s.index)
        for s in c.label_slots:
            ok = np.zeros(n, dtype=bool)
            for alt in s.combination:
                a = np.ones(n, dtype=bool)
                for lab in alt:
                    a &= pbit(("label", s.index, lab))
                ok |= a
            _clear_where_not(hold, ok, s.index)
        # ---- newborn age / weight bands: one small code per row -> table of slot masks
        if c.age_groups:
            if c.age_groups_need_days:  # only infants with age_days can satisfy any band
                sub = np.flatnonzero(demo.age_days_ok[rows])
            else:
                sub = np.arange(n)
            r = rows[sub]
            days_ok = demo.age_days_ok[r]
            days = demo.age_days[r]
            w = demo.weight[r]
            w_ok = demo.weight_ok[r] & (w != 0)
            code = np.zeros(len(sub), dtype=np.intp)
            for gi, ((dmax, wmin, wmax), _mk) in enumerate(c.age_groups):
                cond = np.ones(len(sub), dtype=bool)
                if dmax is not None:
                    cond &= days_ok & (days <= dmax)
                if wmin is not None:
                    cond &= w_ok & (w >= wmin)
                if wmax is not None:
                    cond &= w_ok & (w < wmax)
                code |= cond.astype(np.intp) << gi
            keep = hold[sub]
            hold &= c.m_no_age
            hold[sub] = keep & c.age_table[code]
        hold &= entered

        # ---- DRG splits: a per-row boolean per split kind
        split_true = [np.ones(n, dtype=bool), has_mcc, has_ccmcc]
        for kind, val in c.special:
            if kind == "AGE_LT":
                split_true.append(age_ok & (age < int(val)))
            elif kind == "DEPT_EQ":
                dept = pc.fill_null(demo.dept, "\x00")
                eq = np.asarray(pc.equal(dept, val))
                split_true.append(eq[rows])
            elif kind == "PX_ALL":
                a = np.ones(n, dtype=bool)
                for code in val.split("+"):
                    a &= pbit(("code", code))
                split_true.append(a)
        split_mat = np.stack(split_true, axis=1)  # (n, kinds)

        def drg_holds(drg_idx: np.ndarray) -> np.ndarray:
            valid = drg_idx >= 0
            k = c.drg_code_kind[np.where(valid, drg_idx, -1)]
            return valid & split_mat[np.arange(n), k]

        # slots whose every split fails for a row: with try_next_adrg the slot is skipped
        for s in c.fallible:
            if not s.try_next:
                continue
            any_hold = np.zeros(n, dtype=bool)
            for d in s.drgs:
                any_hold |= split_mat[:, c.drg_code_kind[d]]
            hold[~any_hold, s.index // 64] &= ~(ONE << U64(s.index % 64))

        slot = _first_bit(hold)
        # ---- DRG: first split that holds within the chosen slot
        drg = np.full(n, -1, dtype=np.int64)
        has_slot = slot >= 0
        srow = np.where(has_slot, slot, len(c.slots))
        pending = has_slot & ~c.slot_is_qy[np.maximum(slot, 0)]
        for j in range(c.slot_drgs.shape[1]):
            if not pending.any():
                break
            cand = c.slot_drgs[srow, j]
            h = pending & drg_holds(cand)
            drg[h] = cand[h]
            pending &= ~h
        # a chosen slot with no holding DRG (only when when_no_drg_holds != try_next_adrg): no result
        slot = np.where(pending, -1, slot)
        return slot, drg

    def _retry(self, demo, dx, px, active, slot, drg):
        """Zhejiang 3b: for a failed pass with more than one procedure, try each secondary one alone."""
        lens = px.lengths
        need = active & (slot < 0) & (lens > 1)
        if not need.any():
            return slot, drg
        cases = np.flatnonzero(need)
        k = lens[cases] - 1  # number of secondary procedures
        rows = np.repeat(cases, k)
        # position of each secondary procedure in the flat array
        starts = px.offsets[cases] + 1
        within = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
        pos = np.repeat(starts, k) + within
        px1 = CodeLists(px.ids[pos], np.arange(len(rows) + 1, dtype=np.int64))
        pdx, dfeat, has_mcc, has_cc = self._dx_features(dx)
        dxf = (pdx[rows], dfeat[rows], has_mcc[rows], has_cc[rows])
        s2, d2 = self._pass(rows, demo, None, px1, active[rows], dxf=dxf)
        ok = s2 >= 0
        if ok.any():
            first_rows, first_idx = np.unique(rows[ok], return_index=True)
            okpos = np.flatnonzero(ok)[first_idx]
            slot = slot.copy()
            drg = drg.copy()
            slot[first_rows] = s2[okpos]
            drg[first_rows] = d2[okpos]
        return slot, drg

    # -------------------------------------------------------------------------------------------- mapping
    def _map(self, flat: pa.Array, offsets: np.ndarray, cmap, skip_empty_lists: bool):
        """Optional mapping mode (README "Preprocessing"). Returns (failed per case, new flat, new offsets)."""
        sources, targets = cmap
        n = len(offsets) - 1
        lens = np.diff(offsets)
        idx = pc.index_in(flat, value_set=sources)
        found = np.asarray(pc.is_valid(idx))
        case_of = np.repeat(np.arange(n), lens)
        failed = np.zeros(n, dtype=bool)
        failed[case_of[~found]] = True  # any unconvertible code (an empty code is never a source)
        tgt = pc.take(targets, pc.fill_null(idx, 0))
        new = pc.if_else(pa.array(found), tgt, flat)
        # repeated or chained codes inside one list: the README's positional rule can differ from a plain
        # element-wise map; those (rare) lists are converted by the literal procedure below.
        src_idx = np.asarray(pc.fill_null(idx, -1), dtype=np.int64)
        changed = found & np.asarray(pc.fill_null(pc.not_equal(new, flat), False))
        key = case_of.astype(np.int64) * (len(sources) + 1) + src_idx
        tgt_idx = np.asarray(pc.fill_null(pc.index_in(new, value_set=sources), -1), dtype=np.int64)
        tkey = case_of.astype(np.int64) * (len(sources) + 1) + tgt_idx
        uniq, counts = np.unique(key[found], return_counts=True)
        special = np.zeros(n, dtype=bool)
        special[case_of[found][np.isin(key[found], uniq[counts > 1])]] = True
        special[case_of[changed & (tgt_idx >= 0) & np.isin(tkey, key[found])]] = True
        special &= ~failed
        new_py = None
        if special.any():
            new_py = new.to_pylist()
            flat_py = flat.to_pylist()
            table = dict(zip(sources.to_pylist(), targets.to_pylist()))
            for i in np.flatnonzero(special):
                a, b = offsets[i], offsets[i + 1]
                new_py[a:b] = map_list_literal(flat_py[a:b], table)[1]
            new = pa.array(new_py, type=pa.string())
        keep = np.asarray(pc.not_equal(new, ""))
        keep |= failed[case_of]  # failed cases are not grouped; keep as is
        new = pc.filter(new, pa.array(keep))
        new_lens = np.bincount(case_of[keep], minlength=n) if n else np.zeros(0, dtype=np.int64)
        new_off = np.concatenate([[0], np.cumsum(new_lens)]).astype(np.int64)
        return failed, new, new_off

    # -------------------------------------------------------------------------------------------- output
    def _format(self, table: pa.Table, r: BatchResult) -> pa.Table:
        c = self.c
        n = table.num_rows
        rid = column(table, "record_id")
        status = pc.take(_STATUS_ARR, pa.array(r.status.astype(np.int32)))
        ok = r.slot >= 0
        mdc = pc.if_else(pa.array(ok), pc.take(c.mdc_codes_arr, pa.array(np.maximum(r.mdc, 0))), "0000")
        slot_ix = pa.array(np.where(ok, r.slot, len(c.slots)))
        is_qy = ok & c.slot_is_qy[np.maximum(r.slot, 0)]
        adrg = pc.if_else(pa.array(ok), pc.take(c.slot_adrg_arr, slot_ix), "00")
        drg_ok = ok & ~is_qy & (r.drg >= 0)
        drg = pc.take(c.drg_codes_arr, pa.array(np.where(drg_ok, r.drg, len(c.drg_codes))))
        drg = pc.if_else(pa.array(drg_ok), drg, "0000")
        if is_qy.any():
            drg = pc.if_else(pa.array(is_qy), pc.take(c.slot_qy_arr, slot_ix), drg)
        del n
        return pa.table({"record_id": rid, "status": status, "mdc": mdc, "adrg": adrg, "drg": drg})


def map_list_literal(codes: list[str], table: dict[str, str]) -> tuple[list[str], list[str]]:
    """The README's positional conversion of one list: (unconvertible codes, converted list incl. empties)."""
    cur = list(codes)
    bad = []
    for i in range(len(cur)):
        x = cur[i]
        j = cur.index(x)
        if x in table:
            if table[x] != x:
                cur[j] = table[x]
        else:
            cur[j] = ""
            bad.append(x)
    return bad, cur


def _clear_where_not(hold: np.ndarray, cond: np.ndarray, bit_index: int) -> None:
    """Slots whose condition is an any-position test (any_in_list dx, pair or label px): the per-code tables
    leave their bit set; clear it in rows where the test fails."""
    w = bit_index // 64
    hold[:, w] &= np.where(cond, ~U64(0), ~(ONE << U64(bit_index % 64)))


def _default_workers() -> int:
    """Threads for chunk-parallel grouping: one per core (at most 4)."""
    return max(1, min(4, os.cpu_count() or 1))


def _first_bit(hold: np.ndarray) -> np.ndarray:
    """Index of the lowest set bit of each row of a (n, W) uint64 bitset; -1 when none."""
    n, W = hold.shape
    nz = hold != 0
    anyset = nz.any(axis=1)
    w = np.argmax(nz, axis=1)
    word = hold[np.arange(n), w]
    low = word & (~word + ONE)
    bit = np.zeros(n, dtype=np.int64)
    pos = low != 0
    bit[pos] = np.log2(low[pos].astype(np.float64)).astype(np.int64)
    return np.where(anyset, w * 64 + bit, -1)


def group(pack: Pack, table: pa.Table) -> pa.Table:
    return Grouper(pack).group_table(table)
