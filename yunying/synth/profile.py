"""Hospital profiles (YAML) and case-mix / code tables (CSV) for the synthetic hospital.

A profile says *what* the hospital looks like; generator.py says *how* to draw it. Loading validates everything
the generator relies on and raises ProfileError naming the file and the key.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

HERE = Path(__file__).parent
PROFILES_DIR = HERE / "profiles"
TABLES_DIR = HERE / "tables"
CODES_DIR = HERE / "codes"

KNOWN_DEFECTS = {
    "L002": "实际住院天数与出入院日期不符（差1天）",
    "C015": "损伤中毒主诊断缺外部原因",
    "D001": "男性患者出现女性专有诊断",
    "F002": "费用明细之和不等于总费用",
    "C001": "主要诊断入院病情缺失",
}
PROFILE_NAMES = ("tertiary-general", "tertiary-tcm", "secondary-general")
# traits a code row may carry (codes/*.csv `traits`, ';'-separated): what the generator does with the code.
# Meanings in codes/README.md; the generator asks for traits, never for codes.
DX_TRAITS = ("neoplasm", "treated_malignancy", "needs_malignancy", "injury", "head_injury", "coma", "perinatal",
             "low_birth_weight", "delivery", "birth_single", "birth_twins", "female_defect", "checkup",
             "sex_fallback")
PX_TRAITS = ("no_incision", "ventilation", "ventilation_96h")


class ProfileError(ValueError):
    """A profile or table is invalid; the message names the file and the key."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Target(_M):
    target: float
    tolerance: float


class Dept(_M):
    code: str
    name_zh: str
    group: str
    share: float = Field(ge=0, le=1)
    outpatient_weight: float = Field(default=0, ge=0)
    parent: str | None = None
    is_tcm: bool = False
    outpatient_visit_type: str | None = None
    los_median: float | None = None
    deaths_per_1000: float | None = None


class OtherDept(_M):
    code: str
    name_zh: str
    dept_class: str
    parent: str | None = None
    outpatient_weight: float = Field(default=0, ge=0)
    outpatient_visit_type: str | None = None


class CaseMixRef(_M):
    table: str = "tables/case_mix.csv"
    groups: str = "tables/groups.csv"
    surgery_level_tilt: float = Field(default=1.0, gt=0)
    complication_rate: float = Field(default=0.012, ge=0, le=1)


class Outpatient(_M):
    visit_type_mix: dict[str, float]
    appointment_rate: float = Field(ge=0, le=1)
    first_visit_rate: float = Field(ge=0, le=1)
    weekday_weights: list[float] = Field(min_length=7, max_length=7)
    fee_mean: dict[str, float]
    drug_share: float = Field(ge=0, le=1)
    antibacterial_rate: float = Field(ge=0, le=1)
    tcm_rx_rate: float = Field(ge=0, le=1)
    herbal_rate: float = Field(ge=0, le=1)
    tcm_nondrug_rate: float = Field(ge=0, le=1)
    fund_share: float = Field(ge=0, le=1)
    referral_out_rate: float = Field(ge=0, le=1)


class Staff(_M):
    physicians_per_bed: float
    nurses_per_bed: float
    physicians_per_10k_visits: float
    medtech_per_dept: float
    support_per_dept: float
    admin_per_dept: float
    pharmacists: float


class Tcm(_M):
    """TCM 首页 block (tertiary-tcm): layout, 治疗类别 mix, flag rates, fee blend towards the `tcm` fee profile."""
    layout: str = "national-tcm"
    treatment_category: dict[str, float]
    pathway: dict[str, float]
    inhouse_prep_rate: float = Field(ge=0, le=1)
    equipment_rate: float = Field(ge=0, le=1)
    technique_rate: float = Field(ge=0, le=1)
    syndrome_nursing_rate: float = Field(ge=0, le=1)
    herbal_rate: float = Field(ge=0, le=1)
    fee_blend: float = Field(ge=0, le=1)
    second_syndrome_rate: float = Field(default=0.3, ge=0, le=1)


class Profile(_M):
    profile: str
    label_zh: str
    hospital: dict[str, Any]
    per_year_at_scale_1: dict[str, float]
    calibration: dict[str, Target]
    year_over_year: dict[str, float] = Field(default_factory=dict)
    seasonality: list[float] = Field(min_length=12, max_length=12)
    respiratory_winter_boost: float = 0.0
    readmission_rate: float = Field(default=0.06, ge=0, le=0.5)
    case_mix: CaseMixRef = Field(default_factory=CaseMixRef)
    payment_mix: dict[str, float]
    admission_route: dict[str, float]
    departments: list[Dept] = Field(min_length=1)
    other_departments: list[OtherDept] = Field(default_factory=list)
    beds: dict[str, float] = Field(default_factory=lambda: {"target_occupancy": 0.93})
    outpatient: Outpatient
    staff: Staff
    finance: dict[str, float]
    defects: dict[str, float] = Field(default_factory=dict)
    tcm: Tcm | None = None
    sources: dict[str, str] = Field(default_factory=dict)

    @field_validator("defects")
    @classmethod
    def _known_defects(cls, v: dict[str, float]) -> dict[str, float]:
        for k, rate in v.items():
            if k not in KNOWN_DEFECTS:
                raise ValueError(f"unknown defect id {k!r}; known: {', '.join(KNOWN_DEFECTS)}")
            if not 0 <= rate <= 1:
                raise ValueError(f"defect {k}: rate {rate} not in [0, 1]")
        return v


@dataclass
class Tables:
    """Case-mix and code tables, as plain lists/dicts (small)."""
    groups: dict[str, dict[str, Any]]
    case_mix: list[dict[str, Any]]
    extra_px: list[dict[str, Any]]
    comorbidities: list[dict[str, Any]]
    complications: list[dict[str, Any]]
    fee_profiles: dict[str, dict[str, float]]
    morphology: dict[str, tuple[str, str]]
    dx: dict[str, dict[str, str]]
    px: dict[str, dict[str, Any]]
    tcm: list[dict[str, str]]
    external_causes: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _num(path: Path, row_no: int, row: dict[str, str], key: str, default: float | None = None) -> float:
    raw = row.get(key, "")
    if raw in ("", None):
        if default is not None:
            return default
        raise ProfileError(f"{path}: row {row_no}: column {key!r} is empty")
    try:
        return float(raw)
    except ValueError:
        raise ProfileError(f"{path}: row {row_no}: column {key!r}: {raw!r} is not a number") from None


@cache
def load_tables() -> Tables:
    files = {n: TABLES_DIR / f"{n}.csv" for n in
             ("groups", "case_mix", "extra_procedures", "comorbidities", "complications", "fee_profiles", "morphology",
              "external_causes")}
    files |= {n: CODES_DIR / f"{n}.csv" for n in ("dx_codes", "px_codes", "tcm_codes")}
    dx = {}
    for i, r in enumerate(_read_csv(files["dx_codes"]), 2):
        dx[r["code"]] = {**r, "traits": _traits(files["dx_codes"], i, r, DX_TRAITS)}
    px = {}
    for i, r in enumerate(_read_csv(files["px_codes"]), 2):
        if r["category"] not in ("surgery", "interventional", "therapeutic", "diagnostic"):
            raise ProfileError(f"{files['px_codes']}: row {i}: category {r['category']!r} unknown")
        lvl = r.get("level") or ""
        if r["category"] in ("surgery", "interventional") and lvl not in ("1", "2", "3", "4"):
            raise ProfileError(f"{files['px_codes']}: row {i}: {r['code']} needs level 1-4")
        px[r["code"]] = {**r, "level": int(lvl) if lvl else 0, "traits": _traits(files["px_codes"], i, r, PX_TRAITS)}
    groups = {}
    for i, r in enumerate(_read_csv(files["groups"]), 2):
        g = dict(r)
        for k in ("los_median", "los_sigma", "deaths_per_1000", "age_mean", "age_sd", "age_min", "age_max",
                  "female_share", "daily_cost", "surg_material_ratio"):
            g[k] = _num(files["groups"], i, r, k)
        groups[r["group"]] = g
    fee_profiles = {}
    for i, r in enumerate(_read_csv(files["fee_profiles"]), 2):
        fee_profiles[r["fee_profile"]] = {k: _num(files["fee_profiles"], i, r, k) for k in r
                                          if k not in ("fee_profile", "source")}
    case_mix = []
    for i, r in enumerate(_read_csv(files["case_mix"]), 2):
        if r["group"] not in groups:
            raise ProfileError(f"{files['case_mix']}: row {i}: group {r['group']!r} not in groups.csv")
        if r["dx_code"] not in dx:
            raise ProfileError(f"{files['case_mix']}: row {i}: dx_code {r['dx_code']!r} not in dx_codes.csv")
        if r["px_code"] and r["px_code"] not in px:
            raise ProfileError(f"{files['case_mix']}: row {i}: px_code {r['px_code']!r} not in px_codes.csv")
        case_mix.append({"group": r["group"], "dx_code": r["dx_code"], "px_code": r["px_code"],
                         "weight": _num(files["case_mix"], i, r, "weight"),
                         "p_px": _num(files["case_mix"], i, r, "p_px", 0.0),
                         "los_factor": _num(files["case_mix"], i, r, "los_factor", 1.0),
                         "risk": _num(files["case_mix"], i, r, "risk", 1.0)})
    extra = []
    for i, r in enumerate(_read_csv(files["extra_procedures"]), 2):
        if r["px_code"] not in px:
            raise ProfileError(f"{files['extra_procedures']}: row {i}: px_code {r['px_code']!r} not in px_codes.csv")
        extra.append({"group": r["group"], "px_code": r["px_code"], "p": _num(files["extra_procedures"], i, r, "p")})
    como = []
    for name in ("comorbidities", "complications"):
        rows = []
        for i, r in enumerate(_read_csv(files[name]), 2):
            if r["dx_code"] not in dx:
                raise ProfileError(f"{files[name]}: row {i}: dx_code {r['dx_code']!r} not in dx_codes.csv")
            rows.append({**r, "weight": _num(files[name], i, r, "weight")})
        como.append(rows)
    morph = {r["dx_prefix"]: (r["code"], r["name"]) for r in _read_csv(files["morphology"])}
    ext: dict[str, list[str]] = {}
    for i, r in enumerate(_read_csv(files["external_causes"]), 2):
        if dx.get(r["code"], {}).get("role") != "external":
            raise ProfileError(f"{files['external_causes']}: row {i}: code {r['code']!r} is not an external-cause "
                               f"row (role external) of dx_codes.csv")
        ext.setdefault(r["dx_prefix"], []).append(r["code"])
    tcm = _read_csv(files["tcm_codes"])
    for fp in {g["fee_profile"] for g in groups.values()}:
        if fp not in fee_profiles:
            raise ProfileError(f"{files['groups']}: fee_profile {fp!r} not in fee_profiles.csv")
    return Tables(groups, case_mix, extra, como[0], como[1], fee_profiles, morph, dx, px, tcm, ext, files)


def _traits(path: Path, row_no: int, row: dict[str, str], known: tuple[str, ...]) -> frozenset[str]:
    traits = frozenset(t for t in (row.get("traits") or "").split(";") if t)
    unknown = sorted(traits - set(known))
    if unknown:
        raise ProfileError(f"{path}: row {row_no}: {row.get('code')}: unknown trait(s) {', '.join(unknown)} "
                           f"(known: {', '.join(known)})")
    return traits


def _err_loc(loc: tuple) -> str:
    return ".".join(str(x) for x in loc)


def load_profile(name_or_path: str | Path) -> Profile:
    """Load and validate a profile by name (profiles/<name>.yaml) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ProfileError(f"{path}: profile not found (known profiles: {known})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}: YAML error: {e}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: top level must be a mapping")
    try:
        prof = Profile(**raw)
    except ValidationError as e:
        msgs = "; ".join(f"{_err_loc(err['loc'])}: {err['msg']}" for err in e.errors())
        raise ProfileError(f"{path}: {msgs}") from None
    _check(prof, path, load_tables())
    return prof


def _sum_check(path: Path, key: str, values: dict[str, float] | list[float]) -> None:
    s = sum(values.values() if isinstance(values, dict) else values)
    if abs(s - 1.0) > 1e-6:
        raise ProfileError(f"{path}: {key}: shares sum to {s:.6f}, expected 1")


def _check(p: Profile, path: Path, t: Tables) -> None:
    from yunying.model.catalogue import load_model
    dom = load_model().domains
    _sum_check(path, "departments[].share", [d.share for d in p.departments])
    _sum_check(path, "payment_mix", p.payment_mix)
    _sum_check(path, "admission_route", p.admission_route)
    _sum_check(path, "outpatient.visit_type_mix", p.outpatient.visit_type_mix)
    for key, domain in (("payment_mix", "payment_category"), ("admission_route", "admission_route"),
                        ("outpatient.visit_type_mix", "visit_type")):
        vals = getattr(p, key) if "." not in key else p.outpatient.visit_type_mix
        for code in vals:
            if code not in dom[domain].codes:
                raise ProfileError(f"{path}: {key}: code {code!r} not in domain {domain}")
    codes = [d.code for d in p.departments] + [d.code for d in p.other_departments]
    dup = {c for c in codes if codes.count(c) > 1}
    if dup:
        raise ProfileError(f"{path}: departments: duplicate codes {sorted(dup)}")
    for i, d in enumerate(p.departments):
        if d.group not in t.groups:
            raise ProfileError(f"{path}: departments.{i}.group: {d.group!r} not in {t.files['groups']}")
        if not any(r["group"] == d.group for r in t.case_mix):
            raise ProfileError(f"{path}: departments.{i}.group: {d.group!r} has no rows in {t.files['case_mix']}")
        if d.parent and d.parent not in codes:
            raise ProfileError(f"{path}: departments.{i}.parent: {d.parent!r} is not a department code")
        if d.outpatient_visit_type and d.outpatient_visit_type not in dom["visit_type"].codes:
            raise ProfileError(f"{path}: departments.{i}.outpatient_visit_type: {d.outpatient_visit_type!r} unknown")
    for i, d in enumerate(p.other_departments):
        if d.dept_class not in dom["dept_class"].codes:
            raise ProfileError(f"{path}: other_departments.{i}.dept_class: {d.dept_class!r} not in domain dept_class")
    for k in ("discharges", "outpatient_visits"):
        if k not in p.per_year_at_scale_1:
            raise ProfileError(f"{path}: per_year_at_scale_1.{k}: missing")
    for k in ("avg_los_days", "drug_share", "consumables_share", "surgery_share", "death_rate"):
        if k not in p.calibration:
            raise ProfileError(f"{path}: calibration.{k}: missing")
    for vt in p.outpatient.visit_type_mix:
        if vt not in p.outpatient.fee_mean:
            raise ProfileError(f"{path}: outpatient.fee_mean.{vt}: missing")
    for vt in ("emergency", "checkup"):
        if vt not in p.outpatient.fee_mean:
            raise ProfileError(f"{path}: outpatient.fee_mean.{vt}: missing")
    if p.tcm is not None:
        _sum_check(path, "tcm.treatment_category", p.tcm.treatment_category)
        _sum_check(path, "tcm.pathway", p.tcm.pathway)
        if p.tcm.layout not in ("national-tcm", "national"):
            raise ProfileError(f"{path}: tcm.layout: {p.tcm.layout!r} must be national-tcm or national")
