"""Calibration and clinical plausibility, computed from the files on disk (not from generator summaries)."""

from __future__ import annotations

import csv
from datetime import date, datetime

import numpy as np
import pytest

from yunying.synth.profile import load_profile

from .conftest import SYNTH, YEARS, col, num, px_categories, read_csv

DRUG = ["XYF", "ZCYF", "ZCYF1"]
MAT_W = ["HCYYCLF", "YYCLF", "YCXYYCLF"]
MAT_T = ["JCYYCLF", "YYCLF", "SSYCXCLF"]
ITEMS_W = ["YLFUF", "ZLCZF", "HLF", "QTFY", "BLZDF", "SYSZDF", "YXXZDF", "LCZDXMF", "FSSZLXMF", "SSZLF", "KFF",
           "ZYZLF", "XYF", "ZCYF", "ZCYF1", "XF", "BDBLZPF", "QDBLZPF", "NXYZLZPF", "XBYZLZPF", "HCYYCLF", "YYCLF",
           "YCXYYCLF", "QTF"]
ITEMS_T = ["YLFWF", "ZLCZF", "HLF", "QTFY", "BLZDF", "ZDF", "YXXZDF", "LCZDXMF", "FSSZLXMF", "SSZLF", "KFF",
           "ZYL_ZYZD", "ZYZL", "ZYQT", "XYF", "ZCYF", "ZCYF1", "XF", "BDBLZPF", "QDBLZPF", "NXYZLZPF", "XBYZLZPF",
           "JCYYCLF", "YYCLF", "SSYCXCLF", "QTF"]


def truth_keys(folder, rule=None) -> set[str]:
    with open(folder / "defects_truth.csv", encoding="utf-8-sig") as f:
        return {r["mrn"] + "|" + r["admission_no"] for r in csv.DictReader(f) if rule is None or r["rule_id"] == rule}


def keys(t) -> np.ndarray:
    return np.array([f"{b}|{z}" for b, z in zip(t["BAH"].to_pylist(), t["ZYCS"].to_pylist())])


def surgery_share(t) -> float:
    cat = px_categories()
    surg = np.zeros(t.num_rows, dtype=bool)
    for i in range(1, 8):
        surg |= np.array([cat.get(c) == "surgery" for c in t[f"SSJCZBM{i}"].to_pylist()])
    return float(surg.mean())


def shares(t, mat):
    total = num(t, "ZFY").sum()
    return sum(num(t, c).sum() for c in DRUG) / total, sum(num(t, c).sum() for c in mat) / total


@pytest.mark.parametrize("year_index", [0, 1])
def test_tertiary_general_hits_profile_targets(general_discharges, year_index):
    prof = load_profile("tertiary-general")
    cal, yoy = prof.calibration, prof.year_over_year
    t = general_discharges[YEARS[year_index]]
    los = num(t, "SJZYTS").mean()
    assert abs(los - (cal["avg_los_days"].target + yoy["avg_los_days"] * year_index)) <= 0.5
    drug, mat = shares(t, MAT_W)
    assert abs(drug - (cal["drug_share"].target + yoy["drug_share"] * year_index)) <= 0.015
    assert abs(mat - (cal["consumables_share"].target + yoy["consumables_share"] * year_index)) <= 0.015
    assert abs(surgery_share(t) - cal["surgery_share"].target) <= 0.03
    death = (col(t, "LYFS") == "5").mean()
    assert 0.002 <= death <= 0.009


def test_year_over_year_change(general_discharges):
    a, b = general_discharges[YEARS[0]], general_discharges[YEARS[1]]
    assert 1.02 <= b.num_rows / a.num_rows <= 1.06
    assert num(b, "SJZYTS").mean() < num(a, "SJZYTS").mean() - 0.15
    assert shares(b, MAT_W)[0] < shares(a, MAT_W)[0] - 0.005


def test_other_profiles_hit_their_targets(tcm, secondary):
    for folder, name, mat in ((tcm, "tertiary-tcm", MAT_T), (secondary, "secondary-general", MAT_W)):
        cal = load_profile(name).calibration
        t = read_csv(folder / "discharge_2022.csv", "gb18030")
        los_col = "SJZY" if name == "tertiary-tcm" else "SJZYTS"
        assert abs(num(t, los_col).mean() - cal["avg_los_days"].target) <= 0.5, name
        drug, m = shares(t, mat)
        assert abs(drug - cal["drug_share"].target) <= 0.015, name
        assert abs(m - cal["consumables_share"].target) <= 0.015, name
        assert abs(surgery_share(t) - cal["surgery_share"].target) <= 0.04, name


def test_secondary_has_fewer_grade_3_4_operations(general_discharges, secondary):
    def high_share(t, prefix):
        lv = [x for i in range(1, 8) for x in t[f"{prefix}{i}"].to_pylist() if x]
        return np.isin(lv, ["3", "4"]).mean(), np.isin(lv, ["4"]).mean()
    g = high_share(general_discharges[YEARS[0]], "SSJB")
    s = high_share(read_csv(secondary / "discharge_2022.csv", "gb18030"), "SSJB")
    assert 0.20 <= g[1] <= 0.45          # 四级 share in a big tertiary hospital
    assert s[0] < g[0] - 0.1 and s[1] < g[1] / 2


def test_fee_identity_and_subsets_on_clean_rows(general, general_discharges, tcm):
    for folder, t, items, subsets in (
            (general, general_discharges[YEARS[0]], ITEMS_W,
             [("KJYWF", ["XYF"]), ("WLZLF", ["FSSZLXMF"]), ("MAF+SSF", ["SSZLF"]), ("ZYZJF", ["ZCYF"])]),
            (tcm, read_csv(tcm / "discharge_2022.csv", "gb18030"), ITEMS_T,
             [("KJYWF", ["XYF"]), ("ZLF", ["FSSZLXMF"]), ("MZF+SSF", ["SSZLF"]), ("ZYZJF", ["ZCYF"]),
              ("BZLZF+ZYBLZHZF", ["YLFWF"]), ("ZYWZ+ZYGS+ZCYJF+ZYTNZL+ZYGCZL+ZYTSZL", ["ZYZL"]),
              ("ZYTSTPJG+BZSS", ["ZYQT"])])):
        bad = np.isin(keys(t), list(truth_keys(folder, "F002")))
        cents = lambda c: np.round(num(t, c) * 100).astype(np.int64)  # noqa: E731
        total = sum(cents(c) for c in items)
        assert (total[~bad] == cents("ZFY")[~bad]).all()
        assert bad.sum() == 0 or (total[bad] != cents("ZFY")[bad]).all()
        for sub, parent in subsets:
            s = sum(cents(c) for c in sub.split("+"))
            assert (s <= cents(parent[0])).all(), sub
        assert (cents("ZFY") > 0).all()
        self_pay = cents("ZFJE")
        assert ((self_pay >= 0) & (self_pay <= cents("ZFY"))).all()


def test_dates_los_and_age_are_consistent(general, general_discharges):
    t = general_discharges[YEARS[0]]
    l002 = np.isin(keys(t), list(truth_keys(general, "L002")))
    adm = [datetime.fromisoformat(x) for x in t["RYSJ"].to_pylist()]
    dis = [datetime.fromisoformat(x) for x in t["CYSJ"].to_pylist()]
    birth = [date.fromisoformat(x) for x in t["CSRQ"].to_pylist()]
    los = num(t, "SJZYTS").astype(int)
    expect = np.array([max(1, (d.date() - a.date()).days) for a, d in zip(adm, dis)])
    assert all(d > a for a, d in zip(adm, dis))
    assert (los[~l002] == expect[~l002]).all() and (los[l002] == expect[l002] + 1).all()
    assert all(d.year == YEARS[0] for d in dis)
    age = np.array([a.year - b.year - ((a.month, a.day) < (b.month, b.day)) for a, b in zip(adm, birth)])
    assert (age == num(t, "NL").astype(int)).all()
    under1 = age == 0
    days = np.array([(a.date() - b).days for a, b in zip(adm, birth)])
    assert (num(t, "BZYZS_NL")[under1] == days[under1]).all()
    assert (col(t, "BZYZS_NL")[~under1] == None).all()  # noqa: E711
    # procedures lie inside the stay
    for i in range(1, 8):
        for a, d, p in zip(adm, dis, t[f"SSJCZRQ{i}"].to_pylist()):
            if p:
                assert a <= datetime.fromisoformat(p) <= d


def test_age_sex_consistent_with_department_and_diagnosis(general, general_discharges):
    t = general_discharges[YEARS[0]]
    dept, sex, age = col(t, "CYKB"), col(t, "XB"), num(t, "NL")
    obs = dept == "OBS"
    assert obs.any() and (sex[obs] == "2").all() and (age[obs] >= 18).all() and (age[obs] <= 45).all()
    assert (age[dept == "PED"] < 14).all()
    neo = dept == "NEO"
    assert (age[neo] == 0).all() and (num(t, "BZYZS_NL")[neo] <= 28).all()
    assert (col(t, "XSERYTZ")[neo] != None).all()  # noqa: E711
    deliveries = obs & np.array([x == "Z37.000" or x == "Z37.200" for x in t["JBDM1"].to_pylist()])
    assert deliveries.sum() > 0.8 * obs.sum() and (col(t, "XSECSTZ")[deliveries] != None).all()  # noqa: E711
    with open(SYNTH / "codes" / "dx_codes.csv", encoding="utf-8") as f:
        female = {r["code"] for r in csv.DictReader(f) if r["sex"] == "F"}
    d001 = np.isin(keys(t), list(truth_keys(general, "D001")))
    dx_cols = ["JBDM"] + [f"JBDM{i}" for i in range(1, 16)]
    has_f = np.zeros(t.num_rows, dtype=bool)
    for c in dx_cols:
        has_f |= np.isin(col(t, c), list(female))
    assert not (has_f & (sex == "1") & ~d001).any()


def test_deaths_tied_to_severity_and_age(general_discharges):
    t = general_discharges[YEARS[0]]
    died = col(t, "LYFS") == "5"
    dept = col(t, "CYKB")
    assert died[dept == "ICU"].mean() > 5 * died.mean()
    assert died[dept == "OBS"].mean() < died.mean() / 5
    age = num(t, "NL")
    assert age[died].mean() > age[~died].mean() + 8
    assert (col(t, "SWHZSJ")[died] != None).all() and (col(t, "SWHZSJ")[~died] == None).all()  # noqa: E711


def test_los_is_right_skewed_and_department_specific(general_discharges):
    t = general_discharges[YEARS[0]]
    los, dept = num(t, "SJZYTS"), col(t, "CYKB")
    assert np.median(los) < los.mean()
    assert np.median(los[dept == "REHAB"]) > 2 * np.median(los[dept == "OPH"])


def test_fee_structure_by_department(general_discharges):
    t = general_discharges[YEARS[0]]
    dept = col(t, "CYKB")
    tot = num(t, "ZFY")

    def share(m, cols):
        return sum(num(t, c)[m].sum() for c in cols) / tot[m].sum()
    surgical = np.isin(dept, ["ORTHO", "SPINE", "GIS", "HBS"])
    medical = np.isin(dept, ["RESP", "NEURO", "GI", "ENDO"])
    assert share(surgical, MAT_W) > share(medical, MAT_W) + 0.1
    assert share(medical, DRUG) > share(surgical, DRUG) + 0.05


def test_seasonality_winter_respiratory_peak(general_discharges):
    t = general_discharges[YEARS[0]]
    month = np.array([int(x[5:7]) for x in t["CYSJ"].to_pylist()])
    resp = col(t, "CYKB") == "RESP"
    winter = np.isin(month, [1, 12]).astype(float)
    assert resp[winter == 1].mean() > resp[np.isin(month, [5, 6, 9])].mean()
    assert (month == 2).sum() < (month == 3).sum()


def test_outpatient_visit_patterns(general):
    t = read_csv(general / f"outpatient_{YEARS[0]}.csv", "utf-8-sig")
    vt = col(t, "visit_type")
    clinic = ~np.isin(vt, ["emergency", "checkup"])
    appt = col(t, "appointment") == "1"
    assert 0.6 <= appt[clinic].mean() <= 0.7
    assert set(vt) <= {"general", "expert", "special", "emergency", "checkup", "online", "chronic"}
    parts = ["fee_western_drug", "fee_patent_tcm", "fee_herbal", "fee_registration", "fee_consult", "fee_exam",
             "fee_lab", "fee_treatment", "fee_surgery", "fee_material", "fee_other"]
    cents = lambda c: np.round(num(t, c) * 100).astype(np.int64)  # noqa: E731
    assert (sum(cents(c) for c in parts) == cents("fee_total")).all()
    herbal = col(t, "has_herbal") == "1"
    assert (cents("fee_herbal")[~herbal] == 0).all()
    wd = np.array([date.fromisoformat(x[:10]).weekday() for x in t["reg_time"].to_pylist()])
    assert (wd[clinic] == 0).sum() > 2 * (wd[clinic] == 6).sum()
    er = vt == "emergency"
    assert (col(t, "er_outcome")[er] != None).all() and (col(t, "er_outcome")[~er] == None).all()  # noqa: E711
    # the same patient_id always has the same name, sex and birth date
    ids, names, births = col(t, "patient_id"), col(t, "patient_name"), col(t, "birth_date")
    first = {}
    for i, n, b in zip(ids, names, births):
        assert first.setdefault(i, (n, b)) == (n, b)
    assert len(first) < len(ids)


def test_tcm_profile_is_strongly_tcm(tcm):
    t = read_csv(tcm / "discharge_2022.csv", "gb18030")
    zllb = col(t, "ZLLB")
    assert np.isin(zllb, ["1", "2"]).mean() > 0.8
    assert (num(t, "ZCYF1") > 0).mean() > 0.6
    assert (col(t, "ZB_JBBM") != None).all() and (col(t, "ZZ_JBBM1") != None).all()  # noqa: E711
    prep = col(t, "ZYYJ") == "1"
    assert ((num(t, "ZYZJF") > 0) == prep).all()                      # QC T005
    tcm_fee = num(t, "ZYL_ZYZD") + num(t, "ZYZL") + num(t, "ZYQT")
    assert (tcm_fee[np.isin(zllb, ["1", "2"])] > 0).all()              # QC T006
    o = read_csv(tcm / "outpatient_2022.csv", "utf-8-sig")
    assert (col(o, "has_tcm_rx") == "1").mean() > 0.3


def test_beds_consistent_with_discharge_bed_days(general, general_discharges):
    beds = read_csv(general / "beds.csv", "utf-8-sig")
    y0 = str(YEARS[0])
    month = col(beds, "month")
    occ = num(beds, "occupied_bed_days")[np.char.startswith(month.astype(str), y0)].sum()
    los = num(general_discharges[YEARS[0]], "SJZYTS").sum()
    assert abs(occ / los - 1) < 0.05
    open_days = num(beds, "open_bed_days")[np.char.startswith(month.astype(str), y0)].sum()
    assert 0.8 <= occ / open_days <= 1.05
    deps = read_csv(general / "departments.csv", "utf-8-sig")
    known = set(col(deps, "dept_code"))
    assert set(col(general_discharges[YEARS[0]], "CYKB")) <= known
    assert set(col(beds, "dept_code")) <= known


def test_finance_matches_generated_activity(general, general_discharges):
    fin = read_csv(general / "finance.csv", "utf-8-sig")
    y0 = str(YEARS[0])
    m = (col(fin, "dept_code") == "*") & np.char.startswith(col(fin, "month").astype(str), y0)
    item, amt = col(fin, "item_code")[m], num(fin, "amount")[m]
    ip = amt[item == "income_inpatient"].sum()
    assert ip == pytest.approx(num(general_discharges[YEARS[0]], "ZFY").sum(), rel=0.002)   # F002 bumps only
    med = amt[item == "income_medical"].sum()
    parts = ["income_registration", "income_bed", "income_consult", "income_exam", "income_lab", "income_treatment",
             "income_surgery", "income_nursing", "income_material", "income_drug_western", "income_drug_patent_tcm",
             "income_drug_herbal", "income_medical_other"]
    assert sum(amt[item == p].sum() for p in parts) == pytest.approx(med, rel=1e-4)


def test_readmissions_link_stays_without_overlap(general_discharges):
    t = general_discharges[YEARS[0]]
    by: dict[str, list] = {}
    for b, z, a, d, sfzh, name in zip(t["BAH"].to_pylist(), t["ZYCS"].to_pylist(), t["RYSJ"].to_pylist(),
                                      t["CYSJ"].to_pylist(), t["SFZH"].to_pylist(), t["XM"].to_pylist()):
        by.setdefault(b, []).append((int(z), a, d, sfzh, name))
    multi = [sorted(v) for v in by.values() if len(v) > 1]
    assert 0.03 * t.num_rows <= len(multi) <= 0.08 * t.num_rows
    within31 = 0
    for stays in multi:
        assert len({s[3] for s in stays}) == 1 and len({s[4] for s in stays}) == 1   # same person
        for (z1, a1, d1, *_), (z2, a2, d2, *_) in zip(stays, stays[1:]):
            assert z2 == z1 + 1 and a2[:10] > d1[:10]                                  # L015/L016 clean
            within31 += (date.fromisoformat(a2[:10]) - date.fromisoformat(d1[:10])).days <= 31
    assert within31 > 0.3 * len(multi)
