"""Synthetic hospital generator: profile (YAML) + case-mix tables (CSV) -> import-ready files.

Vectorised with numpy/pyarrow: loops run over years, departments, months and fixed column slots, never over
cases or visits. Every department draws from its own generator seeded by (seed, year, crc32(dept code), stream),
so adding a department does not change the random draws of the others (hospital-wide calibration factors —
LOS scale, fee raking, surgery and death shifts — still depend on the whole mix, by design).

Files: discharge_<year>.csv (GB18030, national 首页 upload layout; `national-tcm` dialect for a TCM profile),
outpatient_<year>.csv, departments.csv, staff.csv, finance.csv, beds.csv, hospital.csv (UTF-8 with BOM,
canonical column names of yunying/model/tables.yaml), manifest.json, defects_truth.csv (UTF-8 with BOM).
"""

from __future__ import annotations

import calendar
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import fake
from .codes_source import CodeSource
from .layout import discharge_header, tcm_rename
from .profile import DX_TRAITS, PX_TRAITS, Profile, ProfileError, Tables, load_profile, load_tables

GENERATOR_VERSION = "1.0.0"
BOM = b"\xef\xbb\xbf"
Progress = Callable[[str, int, int], None] | None

FEE_WEST = ["fee_general_service", "fee_general_treatment", "fee_nursing", "fee_general_other", "fee_pathology",
            "fee_lab", "fee_imaging", "fee_clinical_dx", "fee_nonsurgical", "fee_surgical", "fee_rehab", "fee_tcm",
            "fee_western_drug", "fee_patent_tcm", "fee_herbal", "fee_blood", "fee_albumin", "fee_globulin",
            "fee_coag_factor", "fee_cytokine", "fee_mat_exam", "fee_mat_treat", "fee_mat_surg", "fee_other"]
FEE_TCM = [f for f in FEE_WEST if f != "fee_tcm"]
FEE_TCM[FEE_TCM.index("fee_rehab") + 1:FEE_TCM.index("fee_rehab") + 1] = \
    ["fee_tcm_diagnosis", "fee_tcm_treatment", "fee_tcm_other"]
FEE_SUBSETS = ["fee_tcm_syndrome", "fee_tcm_syndrome_consult", "fee_physio", "fee_anaesthesia", "fee_operation",
               "fee_tcm_external", "fee_tcm_bone", "fee_acupuncture", "fee_tuina", "fee_tcm_anorectal",
               "fee_tcm_special", "fee_tcm_special_prep", "fee_tcm_diet", "fee_antibiotic", "fee_inhouse_tcm_prep"]
DRUG = ["fee_western_drug", "fee_patent_tcm", "fee_herbal"]
MATERIAL = ["fee_mat_exam", "fee_mat_treat", "fee_mat_surg"]
# presence probability of optional fee items (others always > 0); source: assumption
PRESENCE = {"fee_pathology": 0.06, "fee_blood": 0.05, "fee_albumin": 0.08, "fee_globulin": 0.03,
            "fee_coag_factor": 0.01, "fee_cytokine": 0.03, "fee_rehab": 0.12, "fee_tcm": 0.12,
            "fee_patent_tcm": 0.45, "fee_herbal": 0.05, "fee_general_other": 0.6, "fee_other": 0.5}
OP_FEE = np.array([0, 700, 1900, 4800, 11000], dtype=float)   # 手术治疗费 by level (元); source: assumption
WEEKDAY_DISCHARGE = np.array([1.10, 1.05, 1.05, 1.05, 1.15, 0.80, 0.60])   # Mon..Sun; assumption
MAX_DX, MAX_PX = 15, 7
ANAES = np.array(["11", "12", "22", "21", "33", "35", "51"])   # RC013 subcodes (全麻吸入/静脉, 硬膜外, 腰麻, 神经阻滞, 局部浸润, 静吸复合)


@dataclass
class GenerateResult:
    profile: str
    seed: int
    scale: float
    years: list[int]
    out: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# ----------------------------------------------------------------------------------------------------------------
# helpers

def _seed(seed: int, year: int, key: str, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, year, zlib.crc32(key.encode("utf-8")), stream])


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    q = total * w / w.sum()
    base = np.floor(q).astype(np.int64)
    rest = total - base.sum()
    order = np.argsort(-(q - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _dec(cents: np.ndarray, scale: int = 2) -> pa.Array:
    """int64 cents -> arrow decimal128(16,2) without per-value Python work."""
    c = np.ascontiguousarray(cents, dtype=np.int64)
    buf = np.empty((len(c), 2), dtype=np.int64)
    buf[:, 0] = c
    buf[:, 1] = c >> 63
    return pa.Array.from_buffers(pa.decimal128(16, scale), len(c), [None, pa.py_buffer(buf.tobytes())])


def _s(x, mask: np.ndarray | None = None) -> pa.Array:
    """numbers/strings -> arrow string array, null where mask is True."""
    if isinstance(x, (pa.Array, pa.ChunkedArray)):
        arr = x if x.type == pa.string() else pc.cast(x, pa.string())
    else:
        x = np.asarray(x)
        if x.dtype.kind in "US":          # few distinct values: encode each once, then take
            uniq, inv = np.unique(x, return_inverse=True)
            arr = pa.array(uniq.astype(str)).take(pa.array(inv.ravel()))
        else:
            arr = pc.cast(pa.array(x), pa.string())
    if mask is not None:
        arr = pc.if_else(pa.array(np.asarray(mask)), pa.scalar(None, pa.string()), arr)
    return arr


def _ts(x: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(x.astype("datetime64[s]"))
    if mask is not None:
        arr = pc.if_else(pa.array(mask), pa.scalar(None, pa.timestamp("s")), arr)
    return arr


def _ymd(d: np.ndarray):
    d = d.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, dd


def _age_years(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    by, bm, bd = _ymd(birth)
    ay, am, ad = _ymd(at)
    return ay - by - ((am * 100 + ad) < (bm * 100 + bd)).astype(np.int64)


def _csv_bytes(table: pa.Table, header: bool) -> bytes:
    sink = io.BytesIO()
    try:       # unquoted is what HIS exports look like; our own strings never contain , " or newlines
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=header, quoting_style="none",
                                                        batch_size=8192))
    except pa.ArrowInvalid:    # e.g. a scheme pack's code name with a comma: quote this chunk's strings
        sink = io.BytesIO()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=header, quoting_style="needed",
                                                        batch_size=8192))
    return sink.getvalue()


class _Writer:
    """Append arrow tables to one CSV file; encoding gb18030 (transcoded per chunk) or utf-8 with BOM."""

    def __init__(self, path: Path, encoding: str):
        self.path, self.encoding = path, encoding
        self.f = open(path, "wb")
        self.rows = 0
        self.header_done = False
        if encoding == "utf-8-sig":
            self.f.write(BOM)

    def write(self, table: pa.Table) -> None:
        data = _csv_bytes(table, False)
        if not self.header_done:          # unquoted header line, as HIS exports write it
            data = (",".join(table.column_names) + "\n").encode("utf-8") + data
            self.header_done = True
        if self.encoding == "gb18030":
            data = data.decode("utf-8").encode("gb18030")
        self.f.write(data)
        self.rows += table.num_rows

    def close(self) -> None:
        self.f.close()


def _weekday(d: np.ndarray) -> np.ndarray:
    return (d.astype("datetime64[D]").astype(np.int64) + 3) % 7      # 1970-01-01 was a Thursday; Mon=0


def _draw_days(rng, year: int, month: int, n: int, weekday_w: np.ndarray) -> np.ndarray:
    start = np.datetime64(f"{year}-{month:02d}-01")
    nd = calendar.monthrange(year, month)[1]
    days = start + np.arange(nd)
    w = weekday_w[_weekday(days)]
    return rng.choice(days, n, p=w / w.sum())


# ----------------------------------------------------------------------------------------------------------------
# context shared by years

class _Ctx:
    def __init__(self, prof: Profile, tables: Tables, codes_dir: Path | None, seed: int):
        self.p, self.t, self.seed = prof, tables, seed
        self.tcm_layout = prof.tcm is not None and prof.tcm.layout == "national-tcm"
        self.dx_codes = list(tables.dx)
        self.dx_index = {c: i for i, c in enumerate(self.dx_codes)}
        self.px_codes = list(tables.px)
        self.px_index = {c: i for i, c in enumerate(self.px_codes)}
        self.px_cat = np.array([tables.px[c]["category"] for c in self.px_codes])
        self.px_level = np.array([tables.px[c]["level"] for c in self.px_codes])
        self.px_is_surg = self.px_cat == "surgery"
        self.px_has_level = np.isin(self.px_cat, ["surgery", "interventional"])
        # what a code means to the generator comes from its `traits` (codes/*.csv), never from the code itself
        self.dx_trait = {t: np.array([t in tables.dx[c]["traits"] for c in self.dx_codes]) for t in DX_TRAITS}
        self.px_trait = {t: np.array([t in tables.px[c]["traits"] for c in self.px_codes]) for t in PX_TRAITS}
        self.dx_neo = self.dx_trait["neoplasm"]
        self.dx_st = self.dx_trait["injury"]
        self.dx_perinatal = self.dx_trait["perinatal"]
        self.dx_sex = np.array([{"F": 2, "M": 1}.get(tables.dx[c]["sex"], 0) for c in self.dx_codes])
        dx_pack = px_pack = None
        if codes_dir is not None:
            codes_dir = Path(codes_dir)
            dx_pack, px_pack = codes_dir / "diagnoses.csv", codes_dir / "procedures.csv"
            for f in (dx_pack, px_pack):
                if not f.exists():
                    raise FileNotFoundError(f"--codes {codes_dir}: {f.name} not found")
        self.dx_src = CodeSource(self.dx_codes, [tables.dx[c]["name"] for c in self.dx_codes], dx_pack, "dx")
        self.px_src = CodeSource(self.px_codes, [tables.px[c]["name"] for c in self.px_codes], px_pack, "px")
        # case-mix rows with tilt on high-level surgery (secondary hospitals)
        tilt = prof.case_mix.surgery_level_tilt
        cm = tables.case_mix
        self.cm_group = np.array([r["group"] for r in cm])
        self.cm_dx = np.array([self.dx_index[r["dx_code"]] for r in cm])
        self.cm_px = np.array([self.px_index[r["px_code"]] if r["px_code"] else -1 for r in cm])
        lvl = np.where(self.cm_px >= 0, self.px_level[self.cm_px], 0)
        w = np.array([r["weight"] for r in cm], dtype=float)
        self.cm_w = w * np.where(lvl >= 3, tilt ** (lvl - 2), 1.0)
        self.cm_p = np.clip(np.array([r["p_px"] for r in cm]), 0.0, 1.0)
        self.cm_los = np.array([r["los_factor"] for r in cm])
        self.cm_risk = np.array([r["risk"] for r in cm])
        self.cm_surg = (self.cm_px >= 0) & np.where(self.cm_px >= 0, self.px_is_surg[self.cm_px], False)
        self.cm_fixed = self.cm_p >= 1.0      # the procedure defines the row (e.g. 剖宫产): not shifted
        self.delta = self._surgery_shift()
        # comorbidity pool
        self.co_dx = np.array([self.dx_index[r["dx_code"]] for r in tables.comorbidities])
        self.co_w = np.array([r["weight"] for r in tables.comorbidities], dtype=float)
        self.co_mode = np.array([r["age_mode"] for r in tables.comorbidities])
        self.co_poa = np.array([int(r["poa"]) for r in tables.comorbidities])
        self.cx_dx = np.array([self.dx_index[r["dx_code"]] for r in tables.complications])
        self.cx_w = np.array([r["weight"] for r in tables.complications], dtype=float)
        if self.dx_trait["delivery"][self.cm_dx].any():
            self.z37 = self.dx_one("birth_single"), self.dx_one("birth_twins")
        self.onco = np.flatnonzero(self.dx_trait["treated_malignancy"])
        neutral = self.onco[self.dx_sex[self.onco] == 0]
        if self.dx_trait["needs_malignancy"][self.cm_dx].any() and not len(neutral):
            raise ProfileError(f"{tables.files.get('dx_codes')}: a case-mix diagnosis has trait needs_malignancy but "
                               f"no code without sex restriction has trait treated_malignancy")
        self.onco_neutral = int(neutral[0]) if len(neutral) else -1
        self.female_defect = np.flatnonzero(self.dx_trait["female_defect"] & (self.dx_sex == 2))
        # TCM codes
        self.tcm_d = [r for r in tables.tcm if r["kind"] == "disease"]
        self.tcm_s = [r for r in tables.tcm if r["kind"] == "syndrome"]
        # fee profile vectors over FEE_WEST
        self.fee_prof = {k: np.array([v.get(f, 0.0) for f in FEE_WEST]) for k, v in tables.fee_profiles.items()}
        self.depts = prof.departments
        self.rosters: dict[str, dict[str, pa.Array]] = {}

    def _surgery_shift(self) -> float:
        """Logit shift of surgical rows' p_px so the expected share of discharges with a 手术 hits the target."""
        target = self.p.calibration["surgery_share"].target
        p = np.clip(self.cm_p, 1e-4, 1 - 1e-4)
        lg = np.log(p / (1 - p))
        row_share = np.zeros(len(p))
        for d in self.p.departments:
            m = self.cm_group == d.group
            row_share[m] += d.share * self.cm_w[m] / self.cm_w[m].sum()

        def expected(delta):
            q = np.where(self.cm_surg, np.where(self.cm_fixed, 1.0, 1 / (1 + np.exp(-(lg + delta)))), 0.0)
            return float((row_share * q).sum())
        lo, hi = -8.0, 8.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if expected(mid) < target else (lo, mid)
        return (lo + hi) / 2

    def dx_one(self, trait: str) -> int:
        """Index of the first dx code carrying `trait` (ProfileError when none does)."""
        idx = np.flatnonzero(self.dx_trait[trait])
        if not len(idx):
            raise ProfileError(f"{self.t.files.get('dx_codes')}: no code has trait {trait!r} (needed by the generator)")
        return int(idx[0])

    def p_px(self, rows: np.ndarray) -> np.ndarray:
        p = np.clip(self.cm_p[rows], 1e-4, 1 - 1e-4)
        adj = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + self.delta)))
        return np.where(self.cm_surg[rows] & ~self.cm_fixed[rows], adj, self.cm_p[rows])

    def roster(self, dept: str) -> dict[str, pa.Array]:
        if dept not in self.rosters:
            rng = _seed(self.seed, 0, dept, 99)
            sizes = {"head": 1, "chief": 5, "attending": 8, "resident": 12, "nurse": 20, "fellow": 3, "intern": 6}
            self.rosters[dept] = {k: fake.names(rng, rng.integers(1, 3, v)) for k, v in sizes.items()}
        return self.rosters[dept]


# ----------------------------------------------------------------------------------------------------------------
# discharges

def _year_counts(ctx: _Ctx, year: int, yi: int, n_total: int) -> dict[str, np.ndarray]:
    p = ctx.p
    shares = np.array([d.share for d in p.departments])
    per_dept = _largest_remainder(n_total, shares)
    season = np.array(p.seasonality, dtype=float)
    out = {}
    for d, n in zip(p.departments, per_dept):
        s = season.copy()
        if d.group in ("RESP", "PED", "GER", "ICU"):
            s[[0, 1, 11]] *= 1 + p.respiratory_winter_boost
        out[d.code] = _largest_remainder(int(n), s)
    return out


def _phase_a(ctx: _Ctx, d, year: int, months: np.ndarray) -> dict:
    t = ctx.t
    g = t.groups[d.group]
    rng = _seed(ctx.seed, year, d.code, 1)
    n = int(months.sum())
    c: dict = {"n": n, "rng": rng}
    if n == 0:
        return c
    c["disch_date"] = np.concatenate([_draw_days(rng, year, m + 1, int(k), WEEKDAY_DISCHARGE)
                                      for m, k in enumerate(months) if k > 0])
    rows = np.flatnonzero(ctx.cm_group == d.group)
    w = ctx.cm_w[rows]
    row = rows[rng.choice(len(rows), n, p=w / w.sum())]
    c["row"] = row
    dx0 = ctx.cm_dx[row]
    c["dx0"] = dx0
    fem = rng.random(n) < g["female_share"]
    sex = np.where(fem, 2, 1)
    sex = np.where(ctx.dx_sex[dx0] > 0, ctx.dx_sex[dx0], sex)
    c["sex"] = sex
    a = rng.normal(g["age_mean"], g["age_sd"], n)
    age_y = np.clip(np.round(a), g["age_min"], g["age_max"]).astype(np.int64)
    age_d = np.where(age_y == 0, rng.integers(29, 365, n), -1)
    # perinatal (P-chapter) principal diagnoses and the neonatal ward: babies of 0-28 days
    newborn = ctx.dx_perinatal[dx0] | (d.group == "NEO")
    nb_days = np.minimum(np.floor(rng.exponential(4.0, n)), 28).astype(np.int64)
    age_y = np.where(newborn, 0, age_y)
    age_d = np.where(newborn, nb_days, age_d)
    c["age_y"], c["age_d"] = age_y, age_d
    median = d.los_median or g["los_median"]
    c["los_x"] = np.exp(rng.normal(np.log(median * ctx.cm_los[row]), g["los_sigma"], n))
    rate = (d.deaths_per_1000 if d.deaths_per_1000 is not None else g["deaths_per_1000"]) / 1000
    f = ctx.cm_risk[row] * np.exp((np.maximum(age_y, 0) - 60) / 25)
    c["p_death_raw"] = rate * f / max(f.mean(), 1e-12)
    c["u_death"] = rng.random(n)
    # procedures: main + extras, compacted into MAX_PX slots
    main = np.where(rng.random(n) < ctx.p_px(row), ctx.cm_px[row], -1)
    extras = [r for r in t.extra_px if r["group"] in (d.group, "*")]
    slots = [main]
    for r in extras:
        k = ctx.px_index[r["px_code"]]
        slots.append(np.where((rng.random(n) < r["p"]) & (main != k), k, -1))
    px = np.stack(slots, axis=1)
    # drop duplicate extras (same code twice), then compact
    for j in range(1, px.shape[1]):
        dup = (px[:, :j] == px[:, j:j + 1]).any(axis=1) & (px[:, j] >= 0)
        px[dup, j] = -1
    order = np.argsort(px < 0, axis=1, kind="stable")
    px = np.take_along_axis(px, order, axis=1)[:, :MAX_PX]
    if px.shape[1] < MAX_PX:
        px = np.hstack([px, -np.ones((n, MAX_PX - px.shape[1]), dtype=px.dtype)])
    c["px"] = px
    # other diagnoses (Efraimidis–Spirakis weighted sampling without replacement)
    lam = 0.3 + np.maximum(age_y - 20, 0) / 18.0 + (1.5 if d.group in ("ICU", "GER", "NEPH") else 0.0)
    k = np.minimum(rng.poisson(lam), 10)
    mode = ctx.co_mode[None, :]
    ag = age_y[:, None]
    wt = ctx.co_w[None, :] * np.select(
        [mode == "child", mode == "adult", mode == "elderly"],
        [(ag < 14) * 1.0, (ag >= 18) * 1.0, (ag >= 45) * (ag / 60.0) ** 2], 1.0)
    wt = np.where(ctx.co_dx[None, :] == dx0[:, None], 0.0, wt)
    keys = np.where(wt > 0, np.log(rng.random(wt.shape)) / np.maximum(wt, 1e-12), -np.inf)
    top = np.argsort(-keys, axis=1, kind="stable")[:, :10]
    chosen = np.where((np.arange(10)[None, :] < k[:, None]) & np.isfinite(np.take_along_axis(keys, top, axis=1)),
                      top, -1)
    odx = np.where(chosen >= 0, ctx.co_dx[np.maximum(chosen, 0)], -1)
    opoa = np.where(chosen >= 0, ctx.co_poa[np.maximum(chosen, 0)], 0)
    pre_dx = np.full((n, 2), -1)
    pre_poa = np.zeros((n, 2), dtype=np.int64)
    # chemo/radiotherapy principals (trait needs_malignancy) carry a malignancy (a sex-specific one drawn for the
    # other sex becomes the pool's first sex-neutral code); deliveries carry the outcome of delivery (birth_*)
    z51 = ctx.dx_trait["needs_malignancy"][dx0]
    if z51.any():
        onc = ctx.onco[rng.integers(0, len(ctx.onco), n)]
        onc = np.where((ctx.dx_sex[onc] > 0) & (ctx.dx_sex[onc] != sex), ctx.onco_neutral, onc)
        pre_dx[z51, 0], pre_poa[z51, 0] = onc[z51], 1
    delivery = ctx.dx_trait["delivery"][dx0]
    if delivery.any():
        twins = rng.random(n) < 0.02
        pre_dx[delivery, 0] = np.where(twins, ctx.z37[1], ctx.z37[0])[delivery]
        pre_poa[delivery, 0] = 1
    c["delivery"], c["twins"] = delivery, delivery & (pre_dx[:, 0] == ctx.z37[1])
    surg = (px[:, 0] >= 0) & ctx.px_is_surg[np.maximum(px[:, 0], 0)]
    cx = surg & (rng.random(n) < ctx.p.case_mix.complication_rate)
    cx_code = ctx.cx_dx[rng.choice(len(ctx.cx_dx), n, p=ctx.cx_w / ctx.cx_w.sum())]
    pre_dx[cx, 1], pre_poa[cx, 1] = cx_code[cx], 4
    pad = max(MAX_DX - 2 - odx.shape[1], 0)
    allx = np.hstack([pre_dx, odx, np.full((n, pad), -1)])
    allp = np.hstack([pre_poa, opoa, np.zeros((n, pad), dtype=np.int64)])
    order = np.argsort(allx < 0, axis=1, kind="stable")
    c["odx"] = np.take_along_axis(allx, order, axis=1)[:, :MAX_DX]
    c["opoa"] = np.take_along_axis(allp, order, axis=1)[:, :MAX_DX]
    c["surgery"] = surg
    return c


def _los_scale(xs: np.ndarray, target: float) -> float:
    s = target / max(float(xs.mean()), 1e-9)
    for _ in range(8):
        m = np.clip(np.round(s * xs), 1, 365).mean()
        s *= target / m
    return s


def _phase_b_fees(ctx: _Ctx, d, year: int, c: dict) -> None:
    """Fee matrix (元, float) over FEE_WEST for one department; raking happens hospital-wide afterwards."""
    n = c["n"]
    if n == 0:
        return
    rng = _seed(ctx.seed, year, d.code, 2)
    g = ctx.t.groups[d.group]
    los = c["los"]
    base = ctx.fee_prof[g["fee_profile"]].copy()
    if ctx.p.tcm is not None:
        base = (1 - ctx.p.tcm.fee_blend) * base / base.sum() + ctx.p.tcm.fee_blend * ctx.fee_prof["tcm"] / ctx.fee_prof["tcm"].sum()
    total = g["daily_cost"] * los ** 0.85 * np.exp(rng.normal(0, 0.35, n)) * np.where(c["died"], 1.6, 1.0)
    shares = base[None, :] * rng.gamma(4.0, 0.25, (n, len(FEE_WEST)))
    col = {f: i for i, f in enumerate(FEE_WEST)}
    is_tcm = d.is_tcm or d.group == "TCM" or ctx.p.tcm is not None
    pres = dict(PRESENCE)
    if is_tcm:
        pres.update({"fee_tcm": 0.95, "fee_patent_tcm": 0.9, "fee_herbal": ctx.p.tcm.herbal_rate if ctx.p.tcm else 0.8})
    if d.group == "REHAB":
        pres["fee_rehab"] = 1.0
    for f, p in pres.items():
        shares[:, col[f]] *= rng.random(n) < p
    neo = ctx.dx_neo[c["dx0"]]
    shares[:, col["fee_pathology"]] = np.where(c["surgery"] | neo, base[col["fee_pathology"]] * 2,
                                               shares[:, col["fee_pathology"]])
    has_blood = shares[:, col["fee_blood"]] > 0
    c["has_blood"] = has_blood
    shares[:, col["fee_surgical"]] = 0
    shares[:, col["fee_mat_surg"]] = 0
    fees = total[:, None] * shares / np.maximum(shares.sum(axis=1, keepdims=True), 1e-12)
    # surgery / intervention component on the principal procedure
    p0 = c["px"][:, 0]
    lvl = np.where(p0 >= 0, ctx.px_level[np.maximum(p0, 0)], 0)
    has_op = lvl > 0
    op = OP_FEE[lvl] * np.exp(rng.normal(0, 0.3, n))
    interv = (p0 >= 0) & (ctx.px_cat[np.maximum(p0, 0)] == "interventional")
    mat = op * g["surg_material_ratio"] * np.where(interv, 2.2, 1.0) * np.exp(rng.normal(0, 0.4, n))
    fees[:, col["fee_surgical"]] = np.where(has_op, op, 0)
    fees[:, col["fee_mat_surg"]] = np.where(has_op, mat, 0)
    c["fees"] = fees
    c["fee_u"] = rng.random((n, 8))


def _to_cents(ctx: _Ctx, c: dict, drug_f: float, mat_f: float) -> None:
    """Rake, round to cents, derive subset items and, for the TCM layout, split 中医类 into its three items."""
    if c["n"] == 0:
        return
    fees = c.pop("fees")
    col = {f: i for i, f in enumerate(FEE_WEST)}
    for f in DRUG:
        fees[:, col[f]] *= drug_f
    for f in MATERIAL:
        fees[:, col[f]] *= mat_f
    cents = {f: np.round(fees[:, i] * 100).astype(np.int64) for i, f in enumerate(FEE_WEST)}
    cents["fee_general_service"] = np.maximum(cents["fee_general_service"], 2000)   # bed + 诊察 always > 0
    cents["fee_nursing"] = np.maximum(cents["fee_nursing"], 1000)
    u = c["fee_u"]
    n = c["n"]
    zero = np.zeros(n, dtype=np.int64)
    surg = c["surgery"]
    anti_p = np.where(surg, 0.7, 0.35)
    cents["fee_antibiotic"] = np.where(u[:, 0] < anti_p, (cents["fee_western_drug"] * (0.05 + 0.35 * u[:, 1])).astype(np.int64), 0)
    cents["fee_physio"] = np.where(u[:, 2] < 0.3, (cents["fee_nonsurgical"] * 0.3 * u[:, 3]).astype(np.int64), 0)
    p0 = c["px"][:, 0]
    surgery_row = (p0 >= 0) & np.isin(ctx.px_cat[np.maximum(p0, 0)], ["surgery", "interventional"])
    cents["fee_anaesthesia"] = np.where(surgery_row, (cents["fee_surgical"] * (0.15 + 0.15 * u[:, 4])).astype(np.int64), 0)
    cents["fee_operation"] = np.where(surgery_row, (cents["fee_surgical"] * (0.45 + 0.2 * u[:, 5])).astype(np.int64), 0)
    for f in ("fee_tcm_syndrome", "fee_tcm_syndrome_consult", "fee_inhouse_tcm_prep", "fee_tcm_external",
              "fee_tcm_bone", "fee_acupuncture", "fee_tuina", "fee_tcm_anorectal", "fee_tcm_special",
              "fee_tcm_special_prep", "fee_tcm_diet", "fee_tcm_diagnosis", "fee_tcm_treatment", "fee_tcm_other"):
        cents[f] = zero
    if ctx.p.tcm is not None:
        tc = c["tcm"]
        cents["fee_tcm_syndrome"] = (cents["fee_general_service"] * (0.05 + 0.15 * u[:, 6])).astype(np.int64)
        cents["fee_inhouse_tcm_prep"] = np.where(tc["prep"] == 1, np.maximum((cents["fee_patent_tcm"] * (0.1 + 0.5 * u[:, 7])).astype(np.int64), 1), 0)
        # TCM drugs must exist for 中医/中西医 treatment (QC T007) and for 院内制剂 (T005)
        need = (tc["zllb"] != "3") | (tc["prep"] == 1)
        cents["fee_patent_tcm"] = np.where(need, np.maximum(cents["fee_patent_tcm"], 3000), cents["fee_patent_tcm"])
        cents["fee_inhouse_tcm_prep"] = np.minimum(cents["fee_inhouse_tcm_prep"], cents["fee_patent_tcm"])
        tcm_total = cents["fee_tcm"]
        tech = tc["technique"] == 1
        tcm_total = np.where(tech | (tc["zllb"] != "3"), np.maximum(tcm_total, 5000), tcm_total)
        if ctx.tcm_layout:
            dxf = np.where(tc["zllb"] != "3", np.maximum((tcm_total * 0.08).astype(np.int64), 2000), 0)
            trt = np.where(tech, (tcm_total * 0.82).astype(np.int64), 0)
            cents["fee_tcm_diagnosis"] = dxf
            cents["fee_tcm_treatment"] = trt
            cents["fee_tcm_other"] = np.maximum(tcm_total - dxf - trt, 0)
            cents["fee_acupuncture"] = (trt * 0.4).astype(np.int64)
            cents["fee_tuina"] = (trt * 0.2).astype(np.int64)
            cents["fee_tcm_external"] = (trt * 0.15).astype(np.int64)
            cents["fee_tcm_special_prep"] = (cents["fee_tcm_other"] * 0.3).astype(np.int64)
            cents["fee_tcm"] = zero
        else:
            cents["fee_tcm"] = tcm_total
    items = FEE_TCM if ctx.tcm_layout else FEE_WEST
    cents["fee_total"] = sum(cents[f] for f in items)
    pay = c["payment"]
    frac = np.where(pay == "7", 1.0, 0.15 + 0.3 * c["fee_u"][:, 1])
    cents["fee_self_pay"] = np.minimum((cents["fee_total"] * frac).astype(np.int64), cents["fee_total"])
    c["cents"] = cents


def _phase_b_rest(ctx: _Ctx, d, year: int, c: dict) -> None:
    """Dates, payment, TCM flags: everything numeric except fees."""
    n = c["n"]
    if n == 0:
        return
    rng = _seed(ctx.seed, year, d.code, 3)
    p = ctx.p
    los = c["los"]
    dd = c["disch_date"]
    ad = dd - los.astype("timedelta64[D]")
    c["admit_date"] = ad
    adm_h = np.clip(np.round(rng.normal(13, 4, n)), 0, 23).astype(np.int64)
    dis_h = np.clip(np.round(rng.normal(11, 2.5, n)), 7, 20).astype(np.int64)
    dis_h = np.where(c["died"], rng.integers(0, 24, n), dis_h)
    c["admit_time"] = ad.astype("datetime64[s]") + (adm_h * 3600 + rng.integers(0, 60, n) * 60).astype("timedelta64[s]")
    c["disch_time"] = dd.astype("datetime64[s]") + (dis_h * 3600 + rng.integers(0, 60, n) * 60).astype("timedelta64[s]")
    # birth date from age at admission
    age_y, age_d = c["age_y"], c["age_d"]
    birth = np.where(age_d >= 0, ad - np.maximum(age_d, 0).astype("timedelta64[D]"),
                     ad - (np.floor(age_y * 365.25) + rng.integers(0, 365, n)).astype("timedelta64[D]"))
    c["birth"] = birth
    c["age"] = np.maximum(_age_years(birth, ad), 0)
    c["age_days"] = np.where(c["age"] == 0, (ad - birth).astype(np.int64), -1)
    # procedure times inside the stay
    span = (c["disch_time"] - c["admit_time"]).astype(np.int64)
    px = c["px"]
    frac = 0.1 + 0.6 * rng.random(px.shape)
    frac[:, 1:] = np.sort(frac[:, 1:], axis=1) * 0.9 + 0.05
    sec = (c["admit_time"].astype(np.int64)[:, None] + (frac * span[:, None]).astype(np.int64)) // 60 * 60
    c["px_time"] = sec.astype("datetime64[s]")
    keys = list(p.payment_mix)
    pw = np.array([p.payment_mix[k] for k in keys])
    c["payment"] = np.array(keys)[rng.choice(len(keys), n, p=pw)]
    rk = list(p.admission_route)
    rw = np.array([p.admission_route[k] for k in rk])
    route = np.array(rk)[rng.choice(len(rk), n, p=rw)]
    if d.group in ("EMER", "ICU"):
        route = np.where(rng.random(n) < 0.7, "1", route)
    c["route"] = route
    # disposition: death 5, transfers 2/3, against advice 4
    u = rng.random(n)
    disp = np.select([c["died"], u < 0.012, u < 0.03, u < 0.045, u < 0.05], ["5", "2", "3", "4", "9"], "1")
    c["disp"] = disp
    c["u"] = rng.random((n, 12))
    if p.tcm is not None:
        tc = p.tcm

        def pick(mix):
            ks = list(mix)
            w = np.array([mix[k] for k in ks])
            return np.array(ks)[rng.choice(len(ks), n, p=w)]
        zllb = pick(tc.treatment_category)
        c["tcm"] = {"zllb": zllb, "pathway": pick(tc.pathway),
                    "prep": np.where(rng.random(n) < tc.inhouse_prep_rate, 1, 2),
                    "equipment": np.where(rng.random(n) < tc.equipment_rate, 1, 2),
                    "technique": np.where((rng.random(n) < tc.technique_rate) | (zllb == "1"), 1, 2),
                    "nursing": np.where(rng.random(n) < tc.syndrome_nursing_rate, 1, 2)}
        dis = [r for r in ctx.tcm_d if d.group in r["groups"].split(";")] or ctx.tcm_d
        syn = [r for r in ctx.tcm_s if d.group in r["groups"].split(";")] or ctx.tcm_s
        c["tcm_d"] = (dis, rng.integers(0, len(dis), n))
        c["tcm_s"] = (syn, rng.integers(0, len(syn), (n, 2)), rng.random(n) < tc.second_syndrome_rate)


def _death_and_los(ctx: _Ctx, cs: list[dict], year: int, yi: int) -> None:
    cal = ctx.p.calibration
    yoy = ctx.p.year_over_year
    alive = [c for c in cs if c["n"] > 0]
    if not alive:
        return
    xs = np.concatenate([c["los_x"] for c in alive])
    target = cal["avg_los_days"].target + yoy.get("avg_los_days", 0.0) * yi
    s = _los_scale(xs, target)
    praw = np.concatenate([c["p_death_raw"] for c in alive])
    k = cal["death_rate"].target * len(praw) / max(praw.sum(), 1e-12)
    for c in alive:
        c["los"] = np.clip(np.round(s * c["los_x"]), 1, 365).astype(np.int64)
        c["died"] = c["u_death"] < np.minimum(c["p_death_raw"] * k, 0.9)


def _rake(ctx: _Ctx, cs: list[dict], yi: int) -> tuple[float, float]:
    cal, yoy = ctx.p.calibration, ctx.p.year_over_year
    dt = cal["drug_share"].target + yoy.get("drug_share", 0.0) * yi
    mt = cal["consumables_share"].target + yoy.get("consumables_share", 0.0) * yi
    col = {f: i for i, f in enumerate(FEE_WEST)}
    di = [col[f] for f in DRUG]
    mi = [col[f] for f in MATERIAL]
    D = sum(float(c["fees"][:, di].sum()) for c in cs if c["n"])
    M = sum(float(c["fees"][:, mi].sum()) for c in cs if c["n"])
    T = sum(float(c["fees"].sum()) for c in cs if c["n"])
    R = T - D - M
    return dt * R / ((1 - dt - mt) * D), mt * R / ((1 - dt - mt) * M)


READMIT_EXCLUDED = {"OBS", "NEO", "PED"}


def _readmissions(ctx: _Ctx, d, year: int, c: dict) -> np.ndarray:
    """Index of the stay whose patient this stay belongs to (itself, or an earlier stay of the same department,
    same sex, discharged before this admission). Birth date and age follow the earlier stay; half of the links
    fall within 31 days (indicator OP-29 needs them)."""
    n = c["n"]
    ident = np.arange(n)
    rate = ctx.p.readmission_rate
    if rate <= 0 or d.group in READMIT_EXCLUDED or n < 20:
        return ident
    rng = _seed(ctx.seed, year, d.code, 5)
    ok = (c["age"] >= 1) & ~c["died"]
    cand = np.flatnonzero(ok & (rng.random(n) < rate))
    src_pool = np.setdiff1d(np.flatnonzero(ok), cand)
    ad, dd = c["admit_date"].astype("datetime64[D]"), c["disch_date"].astype("datetime64[D]")
    chosen_j, chosen_i = [], []
    for sx in (1, 2):
        pool = src_pool[c["sex"][src_pool] == sx]
        js = cand[c["sex"][cand] == sx]
        if len(pool) == 0 or len(js) == 0:
            continue
        pool = pool[np.argsort(dd[pool], kind="stable")]
        hi = np.searchsorted(dd[pool], ad[js], "left")            # sources discharged strictly before admission
        lo_recent = np.searchsorted(dd[pool], ad[js] - np.timedelta64(30, "D"), "left")
        lo = np.where(rng.random(len(js)) < 0.5, lo_recent, 0)
        has = hi > lo
        pick = lo + (rng.random(len(js)) * (hi - lo)).astype(np.int64)
        chosen_j.append(js[has])
        chosen_i.append(pool[np.minimum(pick, len(pool) - 1)][has])
    if not chosen_j:
        return ident
    j, i = np.concatenate(chosen_j), np.concatenate(chosen_i)
    _, first = np.unique(i, return_index=True)                     # one readmission per earlier stay
    j, i = j[first], i[first]
    ident[j] = i
    c["birth"] = c["birth"][ident]
    c["age"] = np.maximum(_age_years(c["birth"], c["admit_date"]), 0)
    c["age_days"] = np.where(c["age"] == 0, (c["admit_date"] - c["birth"]).astype(np.int64), -1)
    return ident


def _discharge_table(ctx: _Ctx, d, dept_no: int, year: int, c: dict, hospital: dict,
                     truth: list[dict]) -> pa.Table:
    """Format one department-year as the national upload layout (arrow string/decimal/timestamp columns)."""
    n = c["n"]
    rng = _seed(ctx.seed, year, d.code, 4)
    u = c["u"]
    ident = _readmissions(ctx, d, year, c)
    readmit = ident != np.arange(n)
    cols: dict[str, pa.Array] = {}
    hid = hospital["hospital_id"]
    cols["ZZJGDM"] = pa.array([hid] * n)
    cols["JGMC"] = pa.array([hospital["hospital_name"]] * n)
    cols["YLFKFS"] = _s(c["payment"])
    cols["JKKH"] = pc.if_else(pa.array(u[:, 0] < 0.4), fake.join("J", fake.digits(rng.integers(0, 10**12, n), 12)), pa.scalar("-"))
    zycs = 1 + np.minimum(rng.geometric(0.78, n) - 1, 9)
    zycs = zycs[ident] + readmit
    cols["ZYCS"] = _s(zycs)
    mrn = fake.join(fake.digits(np.full(n, year % 100), 2), fake.digits(np.full(n, dept_no), 2),
                    fake.digits(ident + 1, 6))
    cols["BAH"] = mrn
    c["mrn"], c["zycs"] = mrn, zycs            # the case keys of the cost tables' charge lines (synth/cost.py)
    sex = c["sex"].copy()
    xm = fake.names(rng, sex)
    cols["XM"] = xm
    prov = np.where(rng.random(n) < 0.85, 0, rng.integers(0, len(fake.PROVINCES), n))
    cols["CSRQ"] = pa.array(c["birth"].astype("datetime64[D]"))
    cols["NL"] = _s(c["age"])
    cols["GJ"] = pa.array(["中国"] * n)
    cols["BZYZS_NL"] = _s(c["age_days"], c["age_days"] < 0)
    # newborn weights: mother's record (XSECSTZ) and neonates (birth + admission weight)
    bw = np.round(np.clip(rng.normal(3300, 450, n), 1000, 5000) / 10) * 10
    pre = ctx.dx_trait["low_birth_weight"][c["dx0"]]
    bw = np.where(pre, np.round(rng.uniform(1100, 2450, n) / 10) * 10, bw)
    neo = (c["age"] == 0) & (c["age_days"] >= 0) & (c["age_days"] <= 28)     # newborn record
    bw = np.where(neo & ~pre, np.clip(bw, 2500, 4800), bw)
    has_bw = c["delivery"] | neo
    cols["XSECSTZ"] = _s(bw.astype(np.int64), ~has_bw)
    bw2 = np.round(np.clip(rng.normal(2500, 350, n), 1000, 4000) / 10) * 10
    cols["XSECSTZ2"] = _s(bw2.astype(np.int64), ~c["twins"])
    cols["XSECSTZ3"] = pa.nulls(n, pa.string())
    adw = bw + c["age_days"].clip(0) * 20
    cols["XSERYTZ"] = _s(adw.astype(np.int64), ~neo)
    addr = fake.addresses(rng, prov, hospital.get("city"))
    cols["CSD"] = fake.join(pa.array([p[0] for p in fake.PROVINCES]).take(pa.array(prov)),
                            pa.array(fake.CITIES).take(pa.array(rng.integers(0, len(fake.CITIES), n))))
    cols["GG"] = pa.array([p[0] for p in fake.PROVINCES]).take(pa.array(prov))
    cols["MZ"] = _s(np.where(rng.random(n) < 0.96, "01", np.array(["02", "03", "04", "05", "08", "09"])[rng.integers(0, 6, n)]))
    cols["SFZH"] = fake.id_numbers(rng, c["birth"], sex, prov)
    age = c["age"]
    occ = np.select([age < 7, age < 18, age >= 62], ["90", "31", "80"],
                    np.array(["13", "17", "21", "24", "27", "51", "54", "70", "11"])[rng.integers(0, 9, n)])
    cols["ZY"] = _s(occ)
    hy = np.select([age < 22, age >= 75], ["1", np.where(rng.random(n) < 0.35, "3", "2")],
                   np.where(rng.random(n) < 0.85, "2", np.where(rng.random(n) < 0.5, "1", "4")))
    hy = np.where(age < 18, "1", hy)
    cols["HY"] = _s(hy)
    cols["XZZ"] = addr
    cols["DH"] = fake.phones(rng, n)
    cols["YB1"] = fake.postcodes(rng, prov)
    cols["HKDZ"] = pc.if_else(pa.array(rng.random(n) < 0.7), addr, fake.addresses(rng, prov))
    cols["YB2"] = fake.postcodes(rng, prov)
    cols["GZDWJDZ"] = pc.if_else(pa.array((age >= 18) & (age < 62)),
                                 pa.array(fake.EMPLOYERS).take(pa.array(rng.integers(0, len(fake.EMPLOYERS), n))),
                                 pa.scalar("无"))
    cols["DWDH"] = pc.if_else(pa.array(rng.random(n) < 0.3), fake.phones(rng, n), pa.scalar("-"))
    cols["YB3"] = fake.postcodes(rng, prov)
    csex = np.where(sex == 1, 2, 1)
    cols["LXRXM"] = fake.names(rng, csex)
    # GB/T 4761 家庭关系: 1 配偶, 2 子, 3 女, 51 父亲, 52 母亲
    parent = np.where(rng.random(n) < 0.45, "51", "52")
    child = np.where(rng.random(n) < 0.5, "2", "3")
    cols["GX"] = _s(np.where((age < 18) | (hy == "1"), parent, np.where((age >= 70) | (hy == "3"), child, "1")))
    cols["DZ"] = addr
    cols["DH2"] = fake.phones(rng, n)
    cols["RYTJ"] = _s(c["route"])
    cols["RYSJ"] = _ts(c["admit_time"])
    transfer = (u[:, 1] < 0.03) & (d.group != "ICU")
    icu_in = (u[:, 1] < 0.05) & (d.group == "ICU")
    cols["RYKB"] = pc.if_else(pa.array(transfer), pa.scalar("EMER" if d.code != "EMER" else "ICU"), pa.scalar(d.code))
    cols["RYBF"] = pa.array([f"{d.code}-1"] * n)
    cols["ZKKB"] = pc.if_else(pa.array(transfer), pa.scalar(d.code), pa.scalar(None, pa.string()))
    cols["CYSJ"] = _ts(c["disch_time"])
    cols["CYKB"] = pa.array([d.code] * n)
    cols["CYBF"] = cols["RYBF"]
    los_written = c["los"].copy()
    # -- diagnoses (codes drawn now, so defects can edit them)
    dx0m = ctx.dx_src.draw(c["dx0"], rng)
    odx = c["odx"].copy()
    opoa = c["opoa"].copy()
    poa0 = np.where(u[:, 2] < 0.92, "1", np.where(u[:, 2] < 0.97, "2", "3"))
    ext = np.full(n, -1)
    for pref, lst in ctx.t.external_causes.items():      # tables/external_causes.csv
        m = np.array([x.startswith(pref) for x in ctx.dx_codes])[c["dx0"]]
        if m.any():
            choice = np.array([ctx.dx_index[x] for x in lst])[rng.integers(0, len(lst), n)]
            ext = np.where(m, choice, ext)
    st = ctx.dx_st[c["dx0"]]
    # ---- defects (recorded in truth) ----
    dfx = ctx.p.defects
    keys = None

    def key_of(i):
        nonlocal keys
        if keys is None:
            keys = (cols["BAH"].to_numpy(zero_copy_only=False), zycs)
        return keys[0][i], int(keys[1][i])

    ren = tcm_rename(MAX_DX, MAX_PX) if ctx.tcm_layout else {}

    def record(mask, rule, field, what):
        for i in np.flatnonzero(mask):
            f = field(i) if callable(field) else field
            f = ren.get(f, f)         # column name as written in this file's dialect
            b, z = key_of(i)
            truth.append({"hospital_id": hid, "mrn": b, "admission_no": z, "year": year, "rule_id": rule,
                          "field": f, "injected": what(i) if callable(what) else what})
    du = rng.random((n, 5))
    m = du[:, 0] < dfx.get("L002", 0)
    if m.any():
        los_written = np.where(m, los_written + 1, los_written)
        record(m, "L002", "SJZYTS", lambda i: f"实际住院天数写为{los_written[i]}，应为{c['los'][i]}")
    m = st & (du[:, 1] < dfx.get("C015", 0))
    if m.any():
        ext = np.where(m, -1, ext)
        record(m, "C015", "H23", "损伤中毒主诊断缺外部原因(WBYY/H23 置空)")
    fem_codes = ctx.female_defect          # female-only codes with trait female_defect
    m = (sex == 1) & (age >= 18) & (du[:, 2] < dfx.get("D001", 0)) & (odx[:, MAX_DX - 1] < 0) & (len(fem_codes) > 0)
    if m.any():
        slot = (odx >= 0).sum(axis=1)
        fc = fem_codes[rng.integers(0, len(fem_codes), n)]
        rows_ = np.flatnonzero(m)
        odx[rows_, slot[rows_]] = fc[rows_]
        opoa[rows_, slot[rows_]] = 1
        record(m, "D001", lambda i: f"JBDM{slot[i] + 1}", lambda i: f"男性记录加入女性专有诊断 {ctx.dx_codes[fc[i]]}")
    m = du[:, 4] < dfx.get("C001", 0)
    poa0 = np.where(m, "", poa0)
    if m.any():
        record(m, "C001", "RYBQ", "主要诊断入院病情置空")
    cols["SJZYTS"] = _s(los_written)
    cols["XB"] = _s(sex)
    # er diagnosis = principal diagnosis (as the admitting doctor wrote it)
    dcode, dname = ctx.dx_src.strings(dx0m)
    cols["MZZD"], cols["JBBM"] = dname, dcode
    cols["JBDM"], cols["ZYZD"], cols["RYBQ"] = dcode, dname, _s(poa0, poa0 == "")
    odm = ctx.dx_src.draw(odx, rng)
    for i in range(MAX_DX):
        oc, on = ctx.dx_src.strings(odm[:, i])
        cols[f"JBDM{i + 1}"], cols[f"QTZD{i + 1}"] = oc, on
        cols[f"RYBQ{i + 1}"] = _s(opoa[:, i], odx[:, i] < 0)
    ec, en = ctx.dx_src.strings(ctx.dx_src.draw(ext, rng))
    cols["WBYY"], cols["H23"] = en, ec
    neo_p = ctx.dx_neo[c["dx0"]]
    morph_code = np.array([ctx.t.morphology.get(x[:3], ("", ""))[0] for x in ctx.dx_codes])[c["dx0"]]
    morph_name = np.array([ctx.t.morphology.get(x[:3], ("", ""))[1] for x in ctx.dx_codes])[c["dx0"]]
    has_path = neo_p & (morph_code != "")
    cols["BLZD"] = _s(morph_name, ~has_path)
    cols["JBMM"] = _s(morph_code, ~has_path)
    cols["BLH"] = _s(fake.join("BL", fake.digits(np.full(n, year % 100), 2), fake.digits(rng.integers(0, 10**6, n), 6)), ~has_path)
    allergy = u[:, 3] < 0.06
    cols["YWGM"] = _s(np.where(allergy, "2", "1"))
    cols["GMYW"] = _s(np.array(["青霉素", "头孢类", "磺胺类", "青霉素、头孢类", "阿司匹林"])[rng.integers(0, 5, n)], ~allergy)
    died = c["died"]
    cols["SWHZSJ"] = _s(np.where(u[:, 4] < 0.03, "1", "2"), ~died)
    abo = np.array(["1", "2", "3", "4", "5", "6"])[rng.choice(6, n, p=[.28, .24, .32, .08, .04, .04])]
    abo = np.where(c["has_blood"] & np.isin(abo, ["5", "6"]), "3", abo)    # transfused -> typed (QC F008)
    cols["XX"] = _s(abo)
    cols["RH"] = _s(np.where(c["has_blood"], "2", np.where(rng.random(n) < 0.9, "2", np.where(rng.random(n) < 0.5, "1", "4"))))
    ros = ctx.roster(d.code)
    team = rng.integers(0, 4, n)
    def pick(arr, idx):
        return arr.take(pa.array(idx % len(arr)))
    cols["KZR"] = pick(ros["head"], np.zeros(n, dtype=np.int64))
    cols["ZRYS"] = pick(ros["chief"], team)
    cols["ZZYS"] = pick(ros["attending"], team * 2 + rng.integers(0, 2, n))
    cols["ZYYS"] = pick(ros["resident"], team * 3 + rng.integers(0, 3, n))
    cols["ZRHS"] = pick(ros["nurse"], rng.integers(0, 20, n))
    cols["JXYS"] = pc.if_else(pa.array(u[:, 5] < 0.2), pick(ros["fellow"], rng.integers(0, 3, n)), pa.scalar(None, pa.string()))
    cols["SXYS"] = pc.if_else(pa.array(u[:, 6] < 0.3), pick(ros["intern"], rng.integers(0, 6, n)), pa.scalar(None, pa.string()))
    coders = ctx.roster("MRD")["resident"]
    cols["BMY"] = pick(coders, rng.integers(0, 5, n))
    cols["BAZL"] = _s(np.where(u[:, 7] < 0.96, "1", "2"))
    cols["ZKYS"] = pick(ctx.roster("MED")["attending"], rng.integers(0, 3, n))
    cols["ZKHS"] = pick(ctx.roster("NUR")["nurse"], rng.integers(0, 3, n))
    cols["ZKRQ"] = pa.array((c["disch_date"] + rng.integers(1, 6, n).astype("timedelta64[D]")).astype("datetime64[D]"))
    disp = c["disp"]
    cols["LYFS"] = _s(disp)
    cols["YZZY_YLJG"] = _s(np.full(n, "云影市第二人民医院（演示）"), disp != "2")
    cols["WSY_YLJG"] = _s(np.full(n, "云影市东城社区卫生服务中心（演示）"), disp != "3")
    plan = (~died) & (np.isin(ctx.cm_group[c["row"]], ["ONC", "HEM"]) | (u[:, 8] < 0.03))
    cols["SFZZYJH"] = _s(np.where(plan, "2", "1"))
    cols["MD"] = _s(np.full(n, "按计划返院治疗"), ~plan)
    # head injuries always have a coma time (QC D120), other `coma` diagnoses half of the time
    coma = (ctx.dx_trait["coma"][c["dx0"]] & (u[:, 9] < 0.5)) | ctx.dx_trait["head_injury"][c["dx0"]]
    cm_pre = np.where(coma, rng.integers(0, 600, n), 0)
    cm_post = np.where(coma, rng.integers(0, 3000, n), 0)
    cols["RYQ_T"], cols["RYQ_XS"], cols["RYQ_F"] = _s(cm_pre // 1440), _s(cm_pre % 1440 // 60), _s(cm_pre % 60)
    cols["RYH_T"], cols["RYH_XS"], cols["RYH_F"] = _s(cm_post // 1440), _s(cm_post % 1440 // 60), _s(cm_post % 60)
    px = c["px"]
    vent = (ctx.px_trait["ventilation"][np.maximum(px, 0)] & (px >= 0)).any(axis=1)
    long = (ctx.px_trait["ventilation_96h"][np.maximum(px, 0)] & (px >= 0)).any(axis=1)
    vh = np.where(long, rng.uniform(96, 300, n), rng.uniform(4, 95, n))
    vh = np.minimum(vh, c["los"] * 24.0)
    cols["HXJSYSJ"] = pa.array(np.round(np.where(vent, vh, 0), 1))
    los = c["los"]
    sp = np.where(d.group == "ICU", los, np.where(died, np.minimum(los, 2), 0))
    g1 = np.minimum(los - sp, np.round(los * np.where(c["surgery"], 0.4, 0.2)).astype(np.int64))
    g2 = los - sp - g1
    cols["TJHLTS"], cols["YJHLTS"], cols["EJHLTS"], cols["SJHLTS"] = _s(sp), _s(g1), _s(g2), _s(np.zeros(n, dtype=np.int64))
    rescue = (died | (u[:, 10] < 0.01)).astype(np.int64) * rng.integers(1, 3, n)
    cols["QJCS"] = _s(rescue)
    cols["QJCGCS"] = _s(np.where(died, np.maximum(rescue - 1, 0), rescue))
    # ---- procedures
    pxm = ctx.px_src.draw(px, rng)
    surg_team_lead = pick(ros["chief"], team)
    anaes = ctx.roster("ANES")
    for i in range(MAX_PX):
        k = px[:, i]
        none = k < 0
        kk = np.maximum(k, 0)
        code, name = ctx.px_src.strings(pxm[:, i])
        lvl = ctx.px_level[kk]
        is_s = ctx.px_is_surg[kk] & ~none
        has_l = ctx.px_has_level[kk] & ~none
        cols[f"SSJCZBM{i + 1}"], cols[f"SSJCZMC{i + 1}"] = code, name
        cols[f"SSJCZRQ{i + 1}"] = _ts(c["px_time"][:, i], none)
        cols[f"SSJB{i + 1}"] = _s(lvl, ~has_l)
        surgeon = pc.if_else(pa.array(lvl >= 3), surg_team_lead, cols["ZZYS"])
        cols[f"SZ{i + 1}"] = pc.if_else(pa.array(has_l), surgeon, pa.scalar(None, pa.string()))
        cols[f"YZ{i + 1}"] = pc.if_else(pa.array(has_l), cols["ZYYS"], pa.scalar(None, pa.string()))
        cols[f"EZ{i + 1}"] = pc.if_else(pa.array(is_s & (lvl >= 3)), pick(ros["resident"], rng.integers(0, 12, n)), pa.scalar(None, pa.string()))
        endo = ctx.px_trait["no_incision"][kk]
        qk = np.where(endo, "0", np.where(rng.random(n) < 0.55, "I", np.where(rng.random(n) < 0.85, "II", "III")))
        cols[f"QKDJ{i + 1}"] = _s(qk, ~is_s)
        heal = np.where(rng.random(n) < 0.97, "甲", np.where(rng.random(n) < 0.6, "乙", "丙"))
        cols[f"QKYHLB{i + 1}"] = _s(heal, ~is_s)
        an = np.where(lvl >= 3, ANAES[rng.choice([0, 1, 6], n)], ANAES[rng.choice([2, 3, 4, 5], n)])
        cols[f"MZFS{i + 1}"] = _s(an, ~is_s)
        cols[f"MZYS{i + 1}"] = pc.if_else(pa.array(is_s), pick(anaes["attending"], rng.integers(0, 8, n)), pa.scalar(None, pa.string()))
    # ---- fees
    cents = c["cents"]
    m = du[:, 3] < dfx.get("F002", 0)
    if m.any():
        bump = rng.integers(1000, 20000, n)
        cents = dict(cents)
        cents["fee_lab"] = np.where(m, cents["fee_lab"] + bump, cents["fee_lab"])
        record(m, "F002", "ZFY", lambda i: f"实验室诊断费多记{bump[i] / 100:.2f}元，总费用未同步")
    code_of = {"fee_total": "ZFY", "fee_self_pay": "ZFJE", "fee_general_service": "YLFUF", "fee_tcm_syndrome": "BZLZF",
               "fee_tcm_syndrome_consult": "ZYBLZHZF", "fee_general_treatment": "ZLCZF", "fee_nursing": "HLF",
               "fee_general_other": "QTFY", "fee_pathology": "BLZDF", "fee_lab": "SYSZDF", "fee_imaging": "YXXZDF",
               "fee_clinical_dx": "LCZDXMF", "fee_nonsurgical": "FSSZLXMF", "fee_physio": "WLZLF",
               "fee_surgical": "SSZLF", "fee_anaesthesia": "MAF", "fee_operation": "SSF", "fee_rehab": "KFF",
               "fee_tcm": "ZYZLF", "fee_western_drug": "XYF", "fee_antibiotic": "KJYWF", "fee_patent_tcm": "ZCYF",
               "fee_inhouse_tcm_prep": "ZYZJF", "fee_herbal": "ZCYF1", "fee_blood": "XF", "fee_albumin": "BDBLZPF",
               "fee_globulin": "QDBLZPF", "fee_coag_factor": "NXYZLZPF", "fee_cytokine": "XBYZLZPF",
               "fee_mat_exam": "HCYYCLF", "fee_mat_treat": "YYCLF", "fee_mat_surg": "YCXYYCLF", "fee_other": "QTF",
               "fee_tcm_diagnosis": "ZYL_ZYZD", "fee_tcm_treatment": "ZYZL", "fee_tcm_external": "ZYWZ",
               "fee_tcm_bone": "ZYGS", "fee_acupuncture": "ZCYJF", "fee_tuina": "ZYTNZL", "fee_tcm_anorectal": "ZYGCZL",
               "fee_tcm_special": "ZYTSZL", "fee_tcm_other": "ZYQT", "fee_tcm_special_prep": "ZYTSTPJG", "fee_tcm_diet": "BZSS"}
    for f, code in code_of.items():
        cols[code] = _dec(cents[f])
    if ctx.p.tcm is not None:
        tc = c["tcm"]
        cols["ZLLB"] = _s(tc["zllb"])
        cols["SSLCLJ"] = _s(tc["pathway"])
        cols["ZYYJ"], cols["ZYZLSB"] = _s(tc["prep"]), _s(tc["equipment"])
        cols["ZYZLJS"], cols["BZSH"] = _s(tc["technique"]), _s(tc["nursing"])
        dis, di = c["tcm_d"]
        syn, si, two = c["tcm_s"]
        dcodes = pa.array([r["code"] for r in dis]).take(pa.array(di))
        dnames = pa.array([r["name"] for r in dis]).take(pa.array(di))
        cols["ZB"], cols["ZB_JBBM"], cols["ZB_RYBQ"] = dnames, dcodes, pa.array(["1"] * n)
        cols["MZD_ZYZD"], cols["JBDM_TCM"] = dnames, dcodes
        s2 = np.where(si[:, 1] == si[:, 0], (si[:, 1] + 1) % len(syn), si[:, 1])
        for j, (idx, mask) in enumerate(((si[:, 0], np.zeros(n, bool)), (s2, ~two | (len(syn) < 2)))):
            cols[f"ZZ{j + 1}"] = _s(pa.array([r["name"] for r in syn]).take(pa.array(idx)), mask)
            cols[f"ZZ_JBBM{j + 1}"] = _s(pa.array([r["code"] for r in syn]).take(pa.array(idx)), mask)
            cols[f"ZZ_RYBQ{j + 1}"] = _s(np.full(n, "1"), mask)
    if readmit.any():       # a readmitted patient keeps the identity of the earlier stay
        take = pa.array(ident)
        for k in ("JKKH", "XM", "CSD", "GG", "MZ", "SFZH", "XZZ", "DH", "YB1", "HKDZ", "YB2", "GZDWJDZ", "DWDH",
                  "YB3", "LXRXM", "GX", "DZ", "DH2"):
            cols[k] = cols[k].take(take)
    header = discharge_header(ctx.tcm_layout, MAX_DX, MAX_PX)
    if ctx.tcm_layout:
        ren = tcm_rename(MAX_DX, MAX_PX)
        cols = {ren.get(k, k): v for k, v in cols.items()}
    return pa.table({h: cols[h] for h in header})


# ----------------------------------------------------------------------------------------------------------------
# public API

def generate(profile: str | Path = "tertiary-general", years: list[int] | tuple[int, ...] = (2022,),
             scale: float = 1.0, seed: int = 42, out: Path | str = "demo-data", codes: Path | str | None = None,
             progress: Progress = None, kinds: set[str] | None = None,
             n_discharges: int | None = None) -> GenerateResult:
    """Write a synthetic hospital for `years` into `out`. kinds limits the files (default: all);
    n_discharges overrides the per-year discharge count (benchmarks)."""
    import time
    from .others import write_other_tables
    from .outpatient import write_outpatient
    t0 = time.perf_counter()
    prof = load_profile(profile)
    tables = load_tables()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    years = sorted(int(y) for y in years)
    ctx = _Ctx(prof, tables, Path(codes) if codes else None, seed)
    ctx.scale = scale
    ctx.first_year = min(int(y) for y in years)
    from .cost import COST_KINDS, CostBook
    all_kinds = {"discharge", "outpatient", "department", "staff", "finance", "beds", "hospital", *COST_KINDS}
    kinds = all_kinds if kinds is None else set(kinds)
    book = None
    if kinds & set(COST_KINDS):      # derived from the stays, visits, staff, wards and finance: all generated
        needed = {"discharge", "outpatient", "staff", "finance", "beds"}
        if not needed <= kinds:
            raise ValueError(f"cost kinds need {sorted(needed - kinds)} generated too")
        book = CostBook(ctx, out, years)
    res = GenerateResult(profile=prof.profile, seed=seed, scale=scale, years=years, out=out)
    truth: list[dict] = []
    agg: dict = {"ip": {}, "op": {}, "census": {}, "spill": {}}
    y0 = years[0]
    for y in years:
        yi = y - y0
        n_total = n_discharges if n_discharges is not None else round(
            prof.per_year_at_scale_1["discharges"] * scale * (1 + prof.year_over_year.get("discharges", 0)) ** yi)
        if "discharge" in kinds or kinds & {"beds", "finance", "department", "staff"}:
            path = _write_discharges(ctx, y, yi, n_total, out, truth, agg, progress,
                                     write="discharge" in kinds, book=book)
            if path:
                res.files.setdefault("discharge", []).append(path)
        if "outpatient" in kinds:
            n_op = round(prof.per_year_at_scale_1["outpatient_visits"] * scale *
                         (1 + prof.year_over_year.get("outpatient_visits", 0)) ** yi)
            path, cnt = write_outpatient(ctx, y, n_op, out, agg, progress)
            res.files.setdefault("outpatient", []).append(path)
            res.counts["outpatient"] = res.counts.get("outpatient", 0) + cnt
    if "discharge" in kinds:
        res.counts["discharge"] = sum(v["n"] for v in agg["ip"].values()) if agg["ip"] else 0
    other = write_other_tables(ctx, years, out, agg, kinds)
    for k, (path, cnt) in other.items():
        res.files[k] = [path]
        res.counts[k] = cnt
    if book is not None:
        for k, (path, cnt) in book.write(agg, kinds).items():
            res.files[k] = path if isinstance(path, list) else [path]
            res.counts[k] = cnt
    tpath = out / "defects_truth.csv"
    _write_truth(tpath, truth)
    res.counts["defects"] = len(truth)
    res.seconds = round(time.perf_counter() - t0, 2)
    manifest = {"generator": "yunying.synth", "generator_version": GENERATOR_VERSION, "profile": prof.profile,
                "label_zh": prof.label_zh, "hospital_id": prof.hospital["hospital_id"], "seed": seed,
                "scale": scale, "years": years, "codes": str(codes) if codes else "demo",
                "discharge_layout": "national-tcm" if ctx.tcm_layout else "national",
                "encodings": {"discharge": "gb18030", "other": "utf-8-sig"},
                "files": {k: [p.name for p in v] for k, v in res.files.items()} | {"defects_truth": ["defects_truth.csv"]},
                "counts": res.counts}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
    return res


def generate_discharges(n: int = 1_000_000, out: Path | str = "bench-data", profile: str = "tertiary-general",
                        year: int = 2022, seed: int = 42, codes: Path | str | None = None,
                        progress: Progress = None) -> Path:
    """Only the discharge file, with exactly n rows (import benchmark)."""
    res = generate(profile=profile, years=[year], seed=seed, out=out, codes=codes, progress=progress,
                   kinds={"discharge"}, n_discharges=n)
    return res.files["discharge"][0]


def _write_truth(path: Path, truth: list[dict]) -> None:
    cols = ["hospital_id", "mrn", "admission_no", "year", "rule_id", "field", "injected"]
    tab = pa.table({k: pa.array([r[k] for r in truth], pa.int64() if k in ("admission_no", "year") else pa.string())
                    for k in cols}) if truth else pa.table({k: pa.array([], pa.string()) for k in cols})
    w = _Writer(path, "utf-8-sig")
    w.write(tab)
    w.close()


def _write_discharges(ctx: _Ctx, year: int, yi: int, n_total: int, out: Path, truth: list, agg: dict,
                      progress: Progress, write: bool = True, book=None) -> Path | None:
    prof = ctx.p
    counts = _year_counts(ctx, year, yi, n_total)
    cs = []
    for i, d in enumerate(prof.departments):
        cs.append(_phase_a(ctx, d, year, counts[d.code]))
        if progress:
            progress(f"discharge {year}: draw", i + 1, len(prof.departments))
    _death_and_los(ctx, cs, year, yi)
    for d, c in zip(prof.departments, cs):
        _phase_b_rest(ctx, d, year, c)
        _phase_b_fees(ctx, d, year, c)
    drug_f, mat_f = _rake(ctx, cs, yi)
    path = out / f"discharge_{year}.csv"
    w = _Writer(path, "gb18030") if write else None
    for i, (d, c) in enumerate(zip(prof.departments, cs)):
        if c["n"] == 0:
            continue
        _to_cents(ctx, c, drug_f, mat_f)
        _aggregate_ip(ctx, d, year, c, agg)
        if w:
            w.write(_discharge_table(ctx, d, i + 1, year, c, prof.hospital, truth))
            if book is not None:
                book.add_cases(d, year, c)
        cs[i] = {"n": c["n"]}        # free memory as we go
        if progress:
            progress(f"discharge {year}: write", i + 1, len(prof.departments))
    if w:
        w.close()
    return path if write else None


def _aggregate_ip(ctx: _Ctx, d, year: int, c: dict, agg: dict) -> None:
    """Monthly sums by department for finance and bed tables (from the clean, pre-defect values)."""
    cents = c["cents"]
    month = c["disch_date"].astype("datetime64[M]").astype(np.int64) % 12
    def ms(x):
        return np.bincount(month, weights=x / 100.0, minlength=12)
    a = {"n": c["n"], "discharges": np.bincount(month, minlength=12).astype(float),
         "bed_days": ms(c["los"] * 100.0)}
    for f in set(FEE_WEST + FEE_TCM + ["fee_total"]):
        a[f] = ms(cents[f].astype(float))
    agg["ip"][(year, d.code)] = a
    # census: bed days by calendar month from admission/discharge dates (patients span months/years)
    ad = c["admit_date"].astype("datetime64[D]")
    dd = c["disch_date"].astype("datetime64[D]")
    for yy in (year - 1, year):
        for m in range(12):
            ms0 = np.datetime64(f"{yy}-{m + 1:02d}-01")
            me = (ms0.astype("datetime64[M]") + 1).astype("datetime64[D]")
            ov = (np.minimum(dd, me) - np.maximum(ad, ms0)).astype(np.int64)
            s = int(np.clip(ov, 0, None).sum())
            if s:
                key = (yy, m, d.code)
                agg["census"][key] = agg["census"].get(key, 0) + s
                if yy == year - 1:
                    agg["spill"][(year, d.code)] = agg["spill"].get((year, d.code), 0) + s
