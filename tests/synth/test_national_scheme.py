"""The synthetic case mix against the national CHS-DRG 1.1 pack (../shared/drg/chs-drg-1.1, read at test time,
never copied): every code of the synth code tables is a dictionary code (same name), every case-mix row groups,
and a generated sample imported through the real pipeline groups — at least 97 % of the cases that carry no
injected defect (defects_truth.csv), the failures listed with their reasons when not.

Expected outcome, from the pack README alone: a case groups (status SUCCESS) when its principal diagnosis is in
the principal list of an MDC it enters and one of that MDC's ADRGs holds; every PDX-rule ADRG (px condition
`none`) holds whatever the procedures, so a principal diagnosis in the dx list of such an ADRG always groups.
Before the case mix moved to national codes, 37 % of tertiary-general cases failed (K80.100, I25.100, Z51.100 …
are in no MDC list)."""

from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from yunying.synth.generator import generate
from yunying.synth.profile import load_tables

REPO = Path(__file__).resolve().parents[2]
SYNTH = REPO / "yunying" / "synth"
MIN_GROUPED = 0.97


def _pack_dir() -> Path:
    shared = Path(os.environ.get("YUNYING_SHARED", REPO.parent / "shared"))
    pack = shared / "drg" / "chs-drg-1.1"
    if not (pack / "diagnoses.csv").is_file():
        pytest.skip(f"../shared 缺国家方案包 / national pack not found at {pack}: reference data absent "
                    f"(set YUNYING_SHARED)")
    return pack


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def pack_dir() -> Path:
    return _pack_dir()


@pytest.fixture(scope="module")
def national(pack_dir):
    from yunying.drg.grouper import Grouper
    from yunying.drg.pack import load_pack
    pack = load_pack(pack_dir)
    return pack, Grouper(pack)


def test_code_tables_hold_national_dictionary_codes(pack_dir):
    """Every code of dx_codes.csv / px_codes.csv (the demo code list: what the case mix draws, plus earlier entries
    kept for the demo QC dictionary) is a code of the national dictionaries. Names may be a synonym."""
    for ours, theirs in (("dx_codes.csv", "diagnoses.csv"), ("px_codes.csv", "procedures.csv")):
        codes = {r["code"] for r in _rows(pack_dir / theirs)}
        missing = [r["code"] for r in _rows(SYNTH / "codes" / ours) if r["code"] not in codes]
        assert missing == [], f"{ours}: not in {theirs}: {missing}"


def _case(i: int, sex: int, age: int, dx: str, px: str, days: str = "", weight: str = "") -> dict:
    return {"record_id": str(i), "sex": str(sex), "age_years": str(age), "age_days": days,
            "newborn_weight_g": weight, "dept_code": "", "los_days": "5", "discharge_type": "1", "dx": dx, "px": px}


def test_every_case_mix_row_groups(national):
    """Each row as the generator can write it: without its procedure (when p_px < 1, when an extra procedure of the
    department may come first), with its procedure; for each sex the department admits (unless the code is
    sex-specific); newborn rows at 3 days with a birth weight."""
    _, grouper = national
    t = load_tables()
    extras: dict[str, list[str]] = {}
    for e in t.extra_px:
        extras.setdefault(e["group"], []).append(e["px_code"])
    cases, what = [], []
    for r in t.case_mix:
        g, dx = t.groups[r["group"]], t.dx[r["dx_code"]]
        sexes = {"M": [1], "F": [2]}.get(dx["sex"]) or \
            ([1] if g["female_share"] == 0 else [2] if g["female_share"] == 1 else [1, 2])
        newborn = "perinatal" in dx["traits"] or g["age_max"] == 0
        age = 0 if newborn else int(min(max(g["age_mean"], g["age_min"]), g["age_max"]))
        days, weight = ("3", "1800" if "low_birth_weight" in dx["traits"] else "3200") if newborn else ("", "")
        variants = [r["px_code"]] if r["px_code"] else []
        if r["p_px"] < 1:
            variants += [""] + extras.get(r["group"], []) + extras.get("*", [])
        for sex in sexes:
            for px in variants:
                cases.append(_case(len(cases), sex, age, r["dx_code"], px, days, weight))
                what.append((r["group"], r["dx_code"], px, sex))
    res = grouper.group_table(pa.Table.from_pylist(cases))
    failed = [(w, s) for w, s in zip(what, res["status"].to_pylist()) if s != "SUCCESS"]
    assert len(cases) > 500
    assert failed == [], f"{len(failed)} case-mix variants do not group under CHS-DRG 1.1: {failed[:20]}"


@pytest.mark.parametrize("profile,scale", [("tertiary-general", 0.03), ("secondary-general", 0.3),
                                           ("tertiary-tcm", 0.1)])
def test_generated_sample_groups_under_chs_drg(national, tmp_path, profile, scale):
    """A sample of a few thousand discharges, imported and grouped as `yunying drg run` does it."""
    from yunying.drg.explain import explain_case
    from yunying.drg.store import warehouse_cases
    from yunying.ingest.engine import import_files
    from yunying.warehouse.db import connect

    pack, grouper = national
    res = generate(profile=profile, years=[2022], scale=scale, seed=3, out=tmp_path, kinds={"discharge"})
    con = connect(tmp_path / "w.duckdb")
    try:
        import_files(con, "discharge", res.files["discharge"])
        cases = warehouse_cases(con)
    finally:
        con.close()
    assert cases.num_rows == res.counts["discharge"] >= 2000
    out = grouper.group_table(cases)
    defect = {(r["hospital_id"], r["mrn"], int(r["admission_no"]))
              for r in _rows_bom(tmp_path / "defects_truth.csv")}
    keys = zip(cases["hospital_id"].to_pylist(), cases["mrn"].to_pylist(), cases["admission_no"].to_pylist())
    clean = [k not in defect for k in keys]
    status = out["status"].to_pylist()
    n_clean = sum(clean)
    ok = sum(1 for c, s in zip(clean, status) if c and s == "SUCCESS")
    if ok < MIN_GROUPED * n_clean:
        recs = cases.to_pylist()
        bad = [i for i, (c, s) in enumerate(zip(clean, status)) if c and s != "SUCCESS"]
        by_code = Counter((status[i], recs[i]["dx"].split("|")[0], recs[i]["px"].split("|")[0]) for i in bad)
        why = [f"{recs[i]['record_id']}: {explain_case(pack, recs[i]).summary_zh()}" for i in bad[:8]]
        pytest.fail(f"{profile}: {ok}/{n_clean} clean cases grouped (< {MIN_GROUPED:.0%}); "
                    f"by status/principal dx/principal px: {by_code.most_common(15)}\n" + "\n".join(why))
    # surgical cases reach procedure-based ADRGs (the DRG figures of surgery are not medical groups by default)
    rule = {r["adrg"]: r["px_condition"] for r in pack.rows("adrgs")}
    cat = {r["code"]: r["category"] for r in _rows(SYNTH / "codes" / "px_codes.csv")}
    surgical = [(a, rule.get(a, "none")) for a, p, c in zip(out["adrg"].to_pylist(), cases["px"].to_pylist(), clean)
                if c and cat.get(p.split("|")[0]) in ("surgery", "interventional")]
    assert surgical and sum(1 for _, k in surgical if k != "none") >= 0.9 * len(surgical)


def _rows_bom(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))
