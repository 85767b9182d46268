"""Cross-record rules (L015 overlap, L016 admission order, X002 readmission, L018 00:00 admissions), the aggregate
views (科室/医师 × 月) and the DRG risk view — expectations worked out by hand."""

from __future__ import annotations

import pytest

from .helpers import BASE, findings, record, run_records


def stay(bah, zycs, admit, disch, los, **kw):
    kw.setdefault("SFZH", "-")
    kw.setdefault("procedures", [])
    return record(bah, ZYCS=str(zycs), RYSJ=admit, CYSJ=disch, SJZYTS=str(los), **kw)


@pytest.fixture(scope="module")
def wh():
    recs = [
        # same 病案号 X00001: stay 2 starts before stay 1 ends → L015 on stay 2 (the later admission)
        stay("X00001", 1, "2022-03-01 08:00:00", "2022-03-06 09:00:00", 5),
        stay("X00001", 2, "2022-03-05 08:00:00", "2022-03-08 09:00:00", 3),
        # X00002: 住院次数 3 admitted before 住院次数 2 → L016 on 住院次数 2; back 10 days after a discharge without a
        # plan → X002 on the later stay; no overlap
        stay("X00002", 3, "2022-03-01 08:00:00", "2022-03-06 09:00:00", 5),
        stay("X00002", 2, "2022-03-16 08:00:00", "2022-03-18 09:00:00", 2),
        # X00003: readmitted after 40 days (no X002), and with a plan on the index stay the next time (no X002)
        stay("X00003", 1, "2022-01-01 08:00:00", "2022-01-06 09:00:00", 5, SFZZYJH="2", MD="化疗"),
        stay("X00003", 2, "2022-01-10 08:00:00", "2022-01-12 09:00:00", 2),
        stay("X00003", 3, "2022-02-21 08:00:00", "2022-02-23 09:00:00", 2),
        # two 病案号 with the same 身份证号 overlapping → L015 on the later one
        stay("X00004", 1, "2022-05-01 08:00:00", "2022-05-10 09:00:00", 9, SFZH=BASE["SFZH"]),
        stay("X00005", 1, "2022-05-03 08:00:00", "2022-05-04 09:00:00", 1, SFZH=BASE["SFZH"]),
    ]
    # ward W-MID: 20 admissions, 12 of them at 00:00 (> 50 %) → L018 on those 12; ward GS-1 (others) unaffected
    for i in range(20):
        t = "00:00:00" if i < 12 else "09:30:00"
        recs.append(stay(f"M{i:05d}", 1, f"2022-06-{i + 1:02d} {t}", f"2022-06-{i + 3:02d} 10:00:00", 2,
                         RYBF="W-MID", CYKB="ICU", RYKB="ICU", ZZYS="甲医生", NL="42", ZKRQ=None, procedures=[],
                         MAF="0", SSF="0", SSZLF="0", XYF="5000.00"))
    con, s = run_records(recs, departments=[("H9", "GS"), ("H9", "ICU")])
    yield con, s
    con.close()


def keys(con, bah):
    return [(f[0], f[2]) for f in findings(con, bah)]


def test_overlap_same_mrn_and_same_person(wh):
    con, _ = wh
    rows = con.execute("select mrn, admission_no, expected from qc_finding where rule_id = 'L015' order by 1").fetchall()
    assert rows == [("X00001", 2, "X00001/1"), ("X00005", 1, "X00004/1")]


def test_admission_order_and_readmission(wh):
    con, _ = wh
    assert con.execute("select mrn, admission_no from qc_finding where rule_id = 'L016'").fetchall() == [("X00002", 2)]
    # X00001 stay 2 overlaps stay 1 (admitted before the discharge) — an overlap (L015), not a readmission
    assert sorted(con.execute("select mrn, admission_no from qc_finding where rule_id = 'X002'").fetchall()) == \
        [("X00002", 2)]


def test_midnight_admissions(wh):
    con, _ = wh
    n = con.execute("select count(*), count(distinct mrn) from qc_finding where rule_id = 'L018'").fetchall()[0]
    assert n == (12, 12)


def test_views_department_and_doctor_month(wh):
    con, _ = wh
    # ICU, 2022-06: 20 records; L018 costs nothing (score: []), so all 20 score 100 → 合格率 100 %
    row = con.execute("select n_records, n_passed, pass_rate, avg_score, n_pdx_checked, pdx_code_accuracy "
                      "from qc_dept_month where dept_code = 'ICU'").fetchall()
    assert row == [(20, 20, 100.0, 100.0, 20, 100.0)]
    doc = con.execute("select n_records from qc_doctor_month where doctor = '甲医生' and role = 'attending'").fetchall()
    assert doc == [(20,)]
    top = con.execute("select rule_id, n_records, rank from qc_top_defects where dept_code = 'ICU'").fetchall()
    assert top == [("L018", 12, 1)]


def test_drg_risk_view(wh):
    con, _ = wh
    # a DRG result on a record with a principal-diagnosis defect is at risk; another is not
    con.execute("insert into qc_finding (run_id, hospital_id, mrn, admission_no, rule_id, severity, field, tag) "
                "values ('t', 'H9', 'X00003', 1, 'D101', 'E', 'pdx_code', 'pdx')")
    con.execute("update qc_record set pdx_defect = true where mrn = 'X00003' and admission_no = 1")
    con.execute("insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg, drg) "
                "values ('H9', 'X00003', 1, 's', 'h', 'SUCCESS', 'MDCG', 'GD2', 'GD23'), "
                "('H9', 'X00003', 2, 's', 'h', 'SUCCESS', 'MDCG', 'GD2', 'GD25')")
    rows = con.execute("select admission_no, at_risk, risk_rules from qc_drg_risk order by 1").fetchall()
    assert rows == [(1, True, "D101"), (2, False, None)]


def test_drg_risk_explained():
    """drg_risk(): a record whose principal diagnosis is an external-cause code (D101, tag pdx) is at risk, with the
    finding; a clean record is not; a record QC never saw gives None."""
    from yunying.qc.report import drg_risk

    con, _ = run_records([record("R00001", diagnoses=[{"code": "W19.x99", "name": "跌倒", "poa": "1"},
                                                      {"code": "S72.000", "name": "股骨颈骨折", "poa": "1"}]),
                          record("R00002", SFZH="-")])
    risk = drg_risk(con, "H9", "R00001", 1)
    assert risk["at_risk"] is True and "D101" in risk["rules"]
    assert risk["text_zh"].startswith("分组结果存在风险：主要诊断存在质控缺陷（") and "W19.x99" in str(risk["findings"])
    ok = drg_risk(con, "H9", "R00002", 1)
    assert ok["at_risk"] is False and ok["rules"] == [] and ok["qc_score"] == 100.0
    assert drg_risk(con, "H9", "NOPE", 1) is None
