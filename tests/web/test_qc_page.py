"""病案质控 page over the record-QC tables (migration 0020: qc_record, qc_finding), with hand-written rows:
rates and top defects worked by hand, department restriction, masking, audit, QC defects on the case page."""

from __future__ import annotations

import datetime

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, audit_rows, close_app, login, new_app


def _insert(cur, table: str, row: dict) -> None:
    """Insert a row, giving NOT NULL columns the test does not care about a neutral value (the QC tables are
    owned by the QC capability and may gain columns)."""
    cols = cur.execute("select column_name, data_type, is_nullable from information_schema.columns "
                       "where table_name = ?", [table]).fetchall()
    full = dict(row)
    for name, dtype, nullable in cols:
        if name not in full and nullable == "NO":
            full[name] = False if dtype == "BOOLEAN" else ("" if dtype == "VARCHAR" else 0)
    names = list(full)
    cur.execute(f"insert into {table} ({', '.join(names)}) values ({', '.join('?' for _ in names)})",
                [full[n] for n in names])


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("qcpage"))
    cur = a.state.ctx.wh.cursor()
    own = cur.execute("select hospital_id, mrn, admission_no from discharge where discharge_dept_code = ? and "
                      "year(discharge_time) = 2022 order by mrn limit 3", [OWN_DEPT]).fetchall()
    other = cur.execute("select hospital_id, mrn, admission_no from discharge where discharge_dept_code = ? and "
                        "year(discharge_time) = 2022 order by mrn limit 1", [OTHER_DEPT]).fetchall()
    # 4 records: CARD1 scores 100 (甲), 90 (甲), 70 (乙, failed); ORTHO 95 (甲)
    recs = [(own[0], OWN_DEPT, 100, "甲", True), (own[1], OWN_DEPT, 90, "甲", True),
            (own[2], OWN_DEPT, 70, "乙", False), (other[0], OTHER_DEPT, 95, "甲", True)]
    # 主要诊断编码: checked on the three CARD1 records (ok, ok, wrong), not checkable on the ORTHO one;
    # 主治医师: 甲医生 on the first two CARD1 records, 乙医生 on the third
    pdx = [(True, True, "甲医生"), (True, True, "甲医生"), (True, False, "乙医生"), (False, None, "丙医生")]
    for ((h, mrn, adm), dept, score, grade, passed), (checked, ok, doctor) in zip(recs, pdx):
        _insert(cur, "qc_record", {"run_id": "t1", "hospital_id": h, "mrn": mrn, "admission_no": adm,
                                   "discharge_month": datetime.date(2022, 3, 1), "discharge_dept_code": dept,
                                   "score": score, "grade": grade, "passed": passed, "excellent": False,
                                   "n_error": 0 if passed else 2, "n_warning": 0, "n_info": 0, "pdx_defect": False,
                                   "ppx_defect": False, "pdx_code_checked": checked, "pdx_code_ok": ok,
                                   "attending_physician": doctor})
    # findings: L002 on two CARD1 records, C015 on one
    for (h, mrn, adm), rule in ((own[2], "L002"), (own[1], "L002"), (own[2], "C015")):
        _insert(cur, "qc_finding", {"run_id": "t1", "hospital_id": h, "mrn": mrn, "admission_no": adm,
                                    "rule_id": rule, "severity": "E", "field": "los_days", "value": "5",
                                    "expected": "6", "message_zh": "【实际住院天数】填写为5天，应为6天",
                                    "message_en": "LOS is 5, expected 6", "points": 2})
    # findings quoting identifiers (V009 身份证号, V012 姓名) on the first CARD1 record, as the engine writes them
    h, mrn, adm = own[0]
    name, idn = cur.execute("select patient_name, id_number from discharge where hospital_id = ? and mrn = ? and "
                            "admission_no = ?", [h, mrn, adm]).fetchall()[0]
    for rule, field, value, msg in (("V009", "id_number", idn, f"【身份证号】“{idn}”不是有效的18位号码"),
                                    ("V012", "patient_name", name, f"【姓名】“{name}”含数字、标点或空格")):
        _insert(cur, "qc_finding", {"run_id": "t1", "hospital_id": h, "mrn": mrn, "admission_no": adm,
                                    "rule_id": rule, "severity": "W", "field": field, "value": value,
                                    "message_zh": msg, "message_en": f"{field} {value}", "points": 1})
    # a principal-diagnosis defect (tag pdx) on the second CARD1 record: its DRG result is at risk
    h1, mrn1, adm1 = own[1]
    _insert(cur, "qc_finding", {"run_id": "t1", "hospital_id": h1, "mrn": mrn1, "admission_no": adm1,
                                "rule_id": "D101", "severity": "E", "field": "pdx_code", "value": "W19.x99",
                                "message_zh": "主要诊断“W19.x99”为损伤中毒外部原因编码(V01–Y98)，不能作主要诊断",
                                "message_en": "principal diagnosis W19.x99 is an external-cause code", "points": 8,
                                "tag": "pdx"})
    cur.execute("update qc_record set pdx_defect = true where hospital_id = ? and mrn = ? and admission_no = ?",
                [h1, mrn1, adm1])
    # an informational note (severity I) on three records: the most frequent finding, but not a defect — no top-defects
    # list shows it (one severity rule: scoring.yaml defect_severities E, W)
    for h, mrn, adm in (own[0], own[1], other[0]):
        _insert(cur, "qc_finding", {"run_id": "t1", "hospital_id": h, "mrn": mrn, "admission_no": adm,
                                    "rule_id": "L017", "severity": "I", "field": "admission_route", "value": "3",
                                    "message_zh": "入院途径为其他医疗机构转入", "message_en": "transfer in",
                                    "points": 0})
    cur.close()
    a.state.ctx.wh.bump()
    a.own, a.other, a.pii = own, other, (name, idn)
    yield a
    close_app(a)


def test_qc_summary_by_hand(app):
    c = login(app, "qc")
    d = c.get("/api/qc?year=2022").json()
    assert d["computed"] and d["n_records"] == 4
    assert d["pass_rate"] == 75.0                                  # 3 passed / 4
    assert d["avg_score"] == 88.75                                 # (100 + 90 + 70 + 95) / 4
    assert d["grades"] == {"甲": 3, "乙": 1}
    top = d["top_defects"]
    # by hand (E/W findings, records affected, ties by rule): L002 2; C015, D101, V009, V012 1 each; L017 (I) not listed
    assert [(t["rule_key"], t["n_records"]) for t in top] == [("L002", 2), ("C015", 1), ("D101", 1), ("V009", 1),
                                                               ("V012", 1)]
    assert {x["dept"] for x in d["by_dept"]} == {OWN_DEPT, OTHER_DEPT}
    assert d["grades"]["甲"] / d["n_records"] * 100 == 75.0       # 病案甲级率 (the engine has no such entry yet)


def test_qc_dept_head_and_records(app):
    c = login(app, "card1")
    d = c.get("/api/qc?year=2022").json()
    assert d["n_records"] == 3 and [x["dept"] for x in d["by_dept"]] == [OWN_DEPT]
    assert round(d["pass_rate"], 2) == 66.67                       # 2 / 3
    assert c.get(f"/api/qc?dept={OTHER_DEPT}").status_code == 403
    recs = c.get("/api/qc/records?year=2022").json()
    assert [r["score"] for r in recs["rows"]] == [70.0, 90.0, 100.0]      # lowest first
    assert all("*" in r["patient_name"] for r in recs["rows"])
    assert audit_rows(app, username="card1", action="case_list")
    page = c.get("/qc").text
    assert "L002" in page and "66.67" in page


def test_case_page_shows_qc_defects(app):
    h, mrn, adm = app.own[2]
    c = login(app, "qc")
    case = c.get(f"/api/cases/{h}/{mrn}/{adm}").json()
    assert case["qc"]["grade"] == "乙" and {f["rule_id"] for f in case["qc"]["findings"]} == {"L002", "C015"}
    assert "【实际住院天数】" in c.get(f"/case/{h}/{mrn}/{adm}").text


def test_identifiers_quoted_by_findings_are_masked(app):
    """Case page: masked unless the role may see identifiers. Top defects (an aggregate view): always masked."""
    h, mrn, adm = app.own[0]
    name, idn = app.pii
    for user, see in (("qc", False), ("card1", False), ("records", True)):
        c = login(app, user)
        fs = {f["rule_id"]: f for f in c.get(f"/api/cases/{h}/{mrn}/{adm}").json()["qc"]["findings"]}
        text = str(fs) + c.get(f"/case/{h}/{mrn}/{adm}").text
        assert (idn in text) == see and (name in text) == see, user
        if not see:
            assert fs["V009"]["value"] == idn[:3] + "*" * (len(idn) - 7) + idn[-4:]
            assert fs["V012"]["message_zh"] == f"【姓名】“{name[0] + '*' * (len(name) - 1)}”含数字、标点或空格"
        top = {t["rule_id"]: t for t in c.get("/api/qc?year=2022").json()["top_defects"]}
        assert idn not in top["V009"]["message_zh"] and idn[-4:] in top["V009"]["message_zh"]
        assert name not in top["V012"]["message_zh"] and name[0] + "*" in top["V012"]["message_zh"]
        if not see:                        # (the record list of the page shows names to those who may see them)
            assert name not in c.get("/qc").text and idn not in c.get("/qc").text


def test_qc_page_department_and_year_links(app):
    c = login(app, "qc")
    page = c.get("/qc?year=2022").text
    assert f'href="/qc?year=2022&amp;dept={OWN_DEPT}"' in page or f'href="/qc?year=2022&dept={OWN_DEPT}"' in page
    one = c.get(f"/qc?year=2022&dept={OWN_DEPT}").text
    assert 'id="qc-all-depts"' in one and "· 心血管内科一病区" in one          # the department by name (issue 16)
    d = c.get(f"/api/qc?year=2022&dept={OWN_DEPT}").json()
    assert d["n_records"] == 3 and [x["dept"] for x in d["by_dept"]] == [OWN_DEPT]
    assert 'id="qc-all-depts"' not in login(app, "card1").get("/qc?year=2022").text      # their one department


def test_qc_pdx_accuracy_and_doctors_by_hand(app):
    c = login(app, "qc")
    d = c.get("/api/qc?year=2022").json()
    # 主要诊断编码正确率 = ok / checked: 2 / 3 (the ORTHO record could not be checked: not in the denominator)
    assert d["pdx_accuracy"] == 66.67 and d["by_doctor"] == []
    by = {x["dept"]: x["pdx_accuracy"] for x in d["by_dept"]}
    assert by == {OWN_DEPT: 66.67, OTHER_DEPT: None}
    one = c.get(f"/api/qc?year=2022&dept={OWN_DEPT}").json()
    # 甲医生: 100 and 90, both passed, codes ok; 乙医生: 70, failed, code wrong (lowest pass rate first)
    assert one["by_doctor"] == [
        {"doctor": "乙医生", "n": 1, "pass_rate": 0.0, "avg_score": 70.0, "pdx_accuracy": 0.0},
        {"doctor": "甲医生", "n": 2, "pass_rate": 100.0, "avg_score": 95.0, "pdx_accuracy": 100.0}]
    page = login(app, "card1").get("/qc?year=2022").text          # a department head sees their doctors
    assert 'id="qc-doctors"' in page and "甲医生" in page and "66.67" in page


def test_case_page_marks_drg_result_at_risk(app):
    """A DRG result on a record with a principal-diagnosis defect is marked as at risk, with the finding."""
    c = login(app, "qc")
    (h1, mrn1, adm1), (h0, mrn0, adm0) = app.own[1], app.own[0]
    risky = c.get(f"/api/cases/{h1}/{mrn1}/{adm1}").json()
    assert risky["drg"] and risky["drg_risk"]["at_risk"] is True and risky["drg_risk"]["rules"] == ["D101"]
    assert risky["drg_risk"]["text_zh"] == ("分组结果存在风险：主要诊断存在质控缺陷（D101），入组依据可能不准确，"
                                            "请先核对首页")
    page = c.get(f"/case/{h1}/{mrn1}/{adm1}").text
    assert 'id="drg-risk"' in page and "W19.x99" in page
    fine = c.get(f"/api/cases/{h0}/{mrn0}/{adm0}").json()["drg_risk"]
    assert fine["at_risk"] is False and fine["rules"] == []
    # the DRG page counts those results: one CARD1 record has a principal-diagnosis defect (fixture)
    r = login(app, "records")                                       # (质控办 has no DRG module)
    d = r.get("/api/drg?year=2022").json()
    assert d["at_risk"] == 1 and {x["dept"]: x["at_risk"] for x in d["by_dept"]}[OWN_DEPT] == 1
    assert 'id="drg-at-risk"' in r.get("/drg?year=2022").text


def test_top_defects_are_one_list_in_qc_report_monthly_report_and_web(app):
    """The same month's top defects: identical ids in the same order in `yunying qc report`, the 质量月报 and the web
    page (one definition, yunying.qc.report.top_defects)."""
    from yunying.qc.report import report_rows
    from yunying.reports import build_monthly

    h = app.own[0][0]
    hand = ["L002", "C015", "D101", "V009", "V012"]        # worked in test_qc_summary_by_hand
    web = [t["rule_key"] for t in login(app, "qc").get(f"/api/qc?year=2022&hospital={h}").json()["top_defects"]]
    cur = app.state.ctx.wh.cursor()
    try:
        qc_rep = [r for r in report_rows(cur, "hospital", "2022-03", ["甲", "乙", "丙"]) if r["hospital_id"] == h
                  and r["month"] == "2022-03"][0]["top_defects"]
        monthly = build_monthly(cur, "2022-03", hospital_id=h)
    finally:
        cur.close()
    table = [t for s in monthly.sections for t in s.tables if t.title == "缺陷项目排行"][0]
    in_report = [row[1] for row in table.rows]
    assert web == in_report == hand
    assert qc_rep == "L002×2、C015×1、D101×1"             # the qc report lists the first three
