"""CSV export of the records behind an indicator (the engine's drill-down /engine/cases): the same rows as the page
(all of them), Chinese headers, UTF-8 with BOM, identifiers masked as on the page, scope enforced, audit-logged."""

from __future__ import annotations

import csv
import html
import io
import json

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, PASSWORD, audit_rows, login, wh_sql
from yunying.model.privacy import mask_value

pytest.importorskip("yunying.indicators", reason="indicator engine not installed")

URL = "/api/export/engine/cases.csv"


def _csv(resp) -> tuple[list[str], list[dict]]:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.content.startswith(b"\xef\xbb\xbf")                      # BOM: Excel opens UTF-8 Chinese
    assert resp.headers["content-disposition"].startswith("attachment;")
    reader = csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig")))
    return reader.fieldnames, list(reader)


def _as_text(v) -> str:
    return "" if v is None else str(v)


def test_export_holds_every_record_behind_the_value(app, clients):
    c = clients["qc"]
    header, rows = _csv(c.get(f"{URL}?indicator=OP-08&period=2022"))
    assert header[:5] == ["医疗机构 hospital_id", "病案号 mrn", "住院次数 admission_no", "月份 period_month",
                          "科室代码 dept_code"]
    # OP-08 平均住院日: numerator sum(los_days) over 2022 discharges → one record per discharge with a stay length
    expected = {(m, str(a)) for m, a in wh_sql(app, "select mrn, admission_no from discharge where hospital_id = 'H001' "
                                                  "and year(discharge_time) = 2022 and los_days is not null")}
    got = [(r["病案号 mrn"], r["住院次数 admission_no"]) for r in rows]
    assert len(got) == len(set(got)) and set(got) == expected
    assert len(expected) > 200                                          # more than the page shows
    # the page's rows are the first rows of the file, column by column
    page = c.get("/api/engine/cases?indicator=OP-08&period=2022").json()
    assert page["limit"] == 200 and len(page["rows"]) == 200
    for r, csv_row in zip(page["rows"], rows):
        assert [_as_text(r[k]) for k in page["columns"]] == list(csv_row.values())


def test_export_is_audited(app, clients):
    c = clients["qc"]
    _, rows = _csv(c.get(f"{URL}?indicator=OP-28&period=2022"))
    deaths = wh_sql(app, "select count(*) from discharge where year(discharge_time) = 2022 "
                       "and discharge_disposition = '5'")[0][0]
    assert len(rows) == deaths
    [a] = [a for a in audit_rows(app, username="qc", action="export") if a.target == "engine:OP-28.csv"]
    assert json.loads(a.filters) == {"period": "2022", "hospital": "H001", "part": "numerator"}
    assert a.rows == deaths and a.role == "office" and a.client_ip


def test_dept_head_gets_own_department_only(app, clients):
    c = clients["card1"]
    _, rows = _csv(c.get(f"{URL}?indicator=OP-08&period=2022"))
    expected = {(m, str(a)) for m, a in wh_sql(app, "select mrn, admission_no from discharge where year(discharge_time)"
                                                  " = 2022 and los_days is not null and discharge_dept_code = ?",
                                             [OWN_DEPT])}
    assert rows and {r["科室代码 dept_code"] for r in rows} == {OWN_DEPT}
    assert {(r["病案号 mrn"], r["住院次数 admission_no"]) for r in rows} == expected
    [a] = [a for a in audit_rows(app, username="card1", action="export") if a.target == "engine:OP-08.csv"]
    assert json.loads(a.filters)["dept"] == OWN_DEPT and a.rows == len(expected)
    r = c.get(f"{URL}?indicator=OP-08&period=2022&dept={OTHER_DEPT}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-DEPT"
    assert any(a.target == "GET /api/export/engine/cases.csv" and json.loads(a.filters)["dept"] == OTHER_DEPT
               for a in audit_rows(app, username="card1", action="denied"))


def test_other_hospital_and_module_refused(app, clients):
    r = clients["leader_b"].get(f"{URL}?indicator=OP-08&period=2022&hospital=H001")
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-HOSPITAL"
    from yunying.web.appdb import add_user
    with app.state.ctx.sessions() as s:                                  # 财务部: neither 病例 nor 导出
        add_user(s, "finance", PASSWORD, "office", office="finance", hospital="H001", replace=True)
    r = login(app, "finance").get(f"{URL}?indicator=OP-08&period=2022")
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-MODULE"
    assert not [a for a in audit_rows(app, username="finance", action="export")]
    assert [a for a in audit_rows(app, username="finance", action="denied")]
    assert clients["admin"].get(f"{URL}?indicator=NOPE&period=2022").status_code == 404


def test_identifiers_masked_exactly_as_on_the_page(app, clients, monkeypatch):
    """The shipped indicators' drill-down has no identifier columns; an engine answering with 姓名 and 电话 (a
    hospital's own indicator could) must be masked in the CSV exactly as on the page unless the role allows."""
    import yunying.web.engine_adapter as ea
    from yunying.indicators.engine import CaseResult

    raw = wh_sql(app, "select hospital_id, mrn, admission_no, discharge_dept_code, patient_name, phone from discharge "
                    "where discharge_dept_code = ? and phone is not null order by mrn limit 3", [OWN_DEPT])
    real = ea.engine()

    class WithIdentifiers:
        def __getattr__(self, name):
            return getattr(real, name)

        def cases(self, cur, cat, indicator_id, **kw):
            return CaseResult("-", ["hospital_id", "mrn", "admission_no", "dept_code", "patient_name", "phone"],
                              [tuple(r) for r in raw])

    monkeypatch.setattr(ea, "engine", lambda: WithIdentifiers())
    for user, see in (("qc", False), ("leader_a", False), ("records", True), ("admin", True)):
        c = clients[user]
        header, rows = _csv(c.get(f"{URL}?indicator=OP-08&period=2022&hospital=H001"))
        assert "姓名 patient_name" in header and "电话 phone" in header
        page = c.get("/api/engine/cases?indicator=OP-08&period=2022&hospital=H001").json()
        for (_, _, _, _, name, phone), r, shown in zip(raw, rows, page["rows"]):
            want = (name, phone) if see else (mask_value("name", name), mask_value("phone", phone))
            assert (r["姓名 patient_name"], r["电话 phone"]) == want == (shown["patient_name"], shown["phone"])
        assert len(rows) == len(raw)
        if not see:
            assert not any(name in r["姓名 patient_name"] for (*_, name, _), r in zip(raw, rows) if len(name) > 1)


def test_drill_down_page_links_the_export(clients):
    page = clients["qc"].get("/engine/cases?indicator=OP-28&period=2022").text
    assert 'id="export-engine-cases"' in page
    href = html.unescape(page.split('id="export-engine-cases" href="', 1)[1].split('"', 1)[0])
    assert href.startswith(URL + "?") and "indicator=OP-28" in href and "period=2022" in href
    _, rows = _csv(clients["qc"].get(href))                             # the link downloads the same records
    assert rows
    page = clients["card1"].get("/engine/cases?indicator=OP-28&period=2022").text
    href = html.unescape(page.split('id="export-engine-cases" href="', 1)[1].split('"', 1)[0])
    assert f"dept={OWN_DEPT}" in href


def test_export_cells_cannot_execute_as_formulas(app, clients, monkeypatch):
    """Text from the warehouse that a spreadsheet would run (=, +, -, @) is written with a leading apostrophe,
    masked or not; the masked value never keeps the trigger."""
    import yunying.web.engine_adapter as ea
    from yunying.indicators.engine import CaseResult

    real = ea.engine()
    row = ("H001", "@SUM(A1)", 1, OWN_DEPT, '=HYPERLINK("http://x","点我")', "+8613800000000")

    class Hostile:
        def __getattr__(self, name):
            return getattr(real, name)

        def cases(self, cur, cat, indicator_id, **kw):
            return CaseResult("-", ["hospital_id", "mrn", "admission_no", "dept_code", "patient_name", "phone"], [row])

    monkeypatch.setattr(ea, "engine", lambda: Hostile())
    for user in ("records", "qc"):
        _, [r] = _csv(clients[user].get(f"{URL}?indicator=OP-08&period=2022&hospital=H001"))
        cells = list(r.values())
        assert r["病案号 mrn"] == "'@SUM(A1)"
        assert not any(c[:1] in ("=", "+", "-", "@") and not c[1:].isdigit() for c in cells), cells
        if user == "records":                            # a plain number (+86…) cannot execute: left as it is
            assert r["姓名 patient_name"] == "'" + row[4] and r["电话 phone"] == row[5]
        else:
            assert r["姓名 patient_name"].startswith("*") and r["电话 phone"].startswith("*")
