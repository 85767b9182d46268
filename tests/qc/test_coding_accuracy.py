"""主要诊断编码正确率 judges the principal diagnosis *code* against the coding dictionary (scoring.yaml
coding_accuracy; configurable); a name differing from the dictionary name is its own warning. Domain tables the
engine used to hold (D106's R-chapter map) come from the catalogue."""

from __future__ import annotations

import textwrap

from yunying.qc.report import report_rows

from .helpers import findings, record, run_records

GRADES = ["甲", "乙", "丙"]


def _dx(*rows):
    return [{"code": c, "name": n, "poa": "1"} for c, n in rows]


def _records():
    # CA1 clean; CA2 principal code K35.800 valid, written name differs from the dictionary's 急性阑尾炎;
    # CA3 principal code ZZZ.999 not in the demo dictionary; CA4 only the OTHER diagnosis code ZZZ.998 is invalid;
    # CA5 has no diagnosis at all (no principal code: not correctly coded)
    return [record("CA1"), record("CA5", diagnoses=[]),
            record("CA2", diagnoses=_dx(("K35.800", "阑尾炎"), ("I10.x00", "原发性高血压"))),
            record("CA3", diagnoses=_dx(("ZZZ.999", "某病"), ("I10.x00", "原发性高血压"))),
            record("CA4", diagnoses=_dx(("K35.800", "急性阑尾炎"), ("ZZZ.998", "另病")))]


def _write(tmp_path, text):
    p = tmp_path / "qc-overrides.yaml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_name_mismatch_is_not_a_coding_error(tmp_path):
    con, _ = run_records(_records())
    ok = dict(con.execute("select mrn, pdx_code_ok from qc_record").fetchall())
    # by hand: CA1, CA2 (name only), CA4 (other diagnosis only) correctly coded; CA3 (invalid code), CA5 (none) not
    assert ok == {"CA1": True, "CA2": True, "CA3": False, "CA4": True, "CA5": False}
    # CA2's name mismatch is its own finding, a warning (it was an error counted as a coding error before)
    sev = con.execute("select rule_key, severity, seq from qc_finding where mrn = 'CA2' and rule_id = 'V003'"
                      ).fetchall()
    assert sev == [("V003/name", "W", 0)]
    assert ("V003", "dx_code", 0, "ZZZ.999") in findings(con, "CA3")
    assert ("V003", "dx_code", 1, "ZZZ.998") in findings(con, "CA4")
    # 主要诊断编码正确率 = 3 / 5 = 60.00 % (qc report, the department view and the web page read qc_record alike)
    rows = {r["month"]: r for r in report_rows(con, "hospital", "2022", GRADES)}
    assert float(rows["2022-03"]["pdx_code_accuracy"]) == 60.0 and rows["2022-03"]["n_pdx_checked"] == 5
    assert float(con.execute("select pdx_code_accuracy from qc_dept_month").fetchall()[0][0]) == 60.0


def test_coding_dictionary_is_configurable(tmp_path):
    ov = _write(tmp_path, """
        coding_accuracy: {dictionary: dx_yb}
        """)
    # the hospital codes in an edition holding ZZZ.999 (某病) but not ZZZ.998
    yb = ("insert into qc_dictionary (kind, code, name) values ('dx_yb', 'K35.800', '急性阑尾炎'), "
          "('dx_yb', 'I10.x00', '原发性高血压'), ('dx_yb', 'ZZZ.999', '某病')")
    con, _ = run_records(_records(), overrides=ov, sql=[yb])
    ok = dict(con.execute("select mrn, pdx_code_ok from qc_record").fetchall())
    # by hand against dx_yb: every principal code is in it -> 4 / 5 (CA5 has none)
    assert ok == {"CA1": True, "CA2": True, "CA3": True, "CA4": True, "CA5": False}
    bad = con.execute("select mrn, seq, value from qc_finding where rule_key = 'V003' order by 1").fetchall()
    assert bad == [("CA4", 1, "ZZZ.998")]
    rows = {r["month"]: r for r in report_rows(con, "hospital", "2022", GRADES)}
    assert float(rows["2022-03"]["pdx_code_accuracy"]) == 80.0


def test_coding_dictionary_not_loaded_is_not_determinable(tmp_path):
    ov = _write(tmp_path, """
        coding_accuracy: {dictionary: dx_yb}
        """)
    con, s = run_records(_records(), overrides=ov)
    st = {x.rule_key: x for x in s.statuses}
    assert st["V003"].status == "not_applicable" and "dx_yb" in st["V003"].reason
    assert set(con.execute("select pdx_code_checked, pdx_code_ok from qc_record").fetchall()) == {(False, None)}
    rows = {r["month"]: r for r in report_rows(con, "hospital", "2022", GRADES)}
    assert rows["2022-03"]["pdx_code_accuracy"] is None


def test_symptom_chapter_map_is_catalogue_data(tmp_path):
    # D106: principal R10.400 (腹痛) with a definite disease of the digestive system (K) among the other diagnoses
    recs = [record("RM1", diagnoses=_dx(("R10.400", "腹痛"), ("K80.100", "胆囊结石伴慢性胆囊炎"))),
            record("RM2", diagnoses=_dx(("R10.400", "腹痛"), ("N20.000", "肾结石")))]
    con, _ = run_records(recs)
    assert con.execute("select mrn from qc_finding where rule_id = 'D106'").fetchall() == [("RM1",)]
    # the map comes from code_lists.yaml: a hospital mapping R10–R19 to chapter N flags RM2 instead
    ov = _write(tmp_path, """
        code_maps:
          symptom_system: {R10-R19: N}
        """)
    con, _ = run_records(recs, overrides=ov)
    assert con.execute("select mrn from qc_finding where rule_id = 'D106'").fetchall() == [("RM2",)]


def test_migration_fixes_stored_coding_results():
    """Migration 0080 recomputes pdx_code_ok of results stored under the old reading (name mismatch = error)."""
    import duckdb

    from yunying.warehouse.db import apply_migration, migration_files

    con = duckdb.connect()
    files = migration_files()
    for name, sql in files:
        if name >= "0080":
            break
        apply_migration(con, name, sql)
    con.execute("insert into discharge (hospital_id, mrn, admission_no) values ('H', 'A', 1), ('H', 'B', 1), "
                "('H', 'C', 1)")
    con.execute("insert into discharge_diagnosis (hospital_id, mrn, admission_no, dx_type, seq, dx_code) values "
                "('H', 'A', 1, 'W', 0, 'K35.800'), ('H', 'B', 1, 'W', 0, 'ZZZ.999')")
    for m in "ABC":     # all stored as coding errors by the old reading
        con.execute("insert into qc_record (run_id, hospital_id, mrn, admission_no, score, grade, passed, excellent, "
                    "complete, n_error, n_warning, n_info, pdx_defect, ppx_defect, pdx_code_checked, pdx_code_ok) "
                    "values ('r', 'H', ?, 1, 90, '甲', true, false, true, 0, 0, 0, false, false, true, false)", [m])
    con.execute("insert into qc_finding (run_id, hospital_id, mrn, admission_no, rule_id, rule_key, severity, seq) "
                "values ('r', 'H', 'A', 1, 'V003', 'V003/name', 'E', 0), ('r', 'H', 'B', 1, 'V003', 'V003', 'E', 0)")
    con.execute(next(sql for name, sql in files if name.startswith("0080")))
    # by hand: A only a name finding -> correct; B invalid code -> not; C no principal code -> not
    assert con.execute("select mrn, pdx_code_ok from qc_record order by 1").fetchall() == [
        ("A", True), ("B", False), ("C", False)]
