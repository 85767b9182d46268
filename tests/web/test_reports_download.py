"""Report downloads from the web app (issue 8 item 4): scope rules, file contents, audit of every download."""

from __future__ import annotations

import io

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, audit_rows


def test_leader_downloads_annual_and_monthly_reports(app, clients):
    from docx import Document
    from openpyxl import load_workbook

    r = clients["leader_a"].get("/api/reports/annual.docx", params={"period": "2022"})
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["content-disposition"]
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "2022" in text and "出院" in text
    r = clients["leader_a"].get("/api/reports/monthly.xlsx", params={"period": "2022-06"})
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert len(wb.sheetnames) >= 2
    rows = audit_rows(app, action="export", username="leader_a")
    assert {row.target for row in rows} >= {"report:annual:2022.docx", "report:monthly:2022-06.xlsx"}


def test_dept_head_gets_only_own_department_monthly(app, clients):
    c = clients["card1"]
    assert c.get("/api/reports/annual.docx", params={"period": "2022"}).status_code == 403
    assert c.get("/api/reports/monthly.docx", params={"period": "2022-06", "dept": OTHER_DEPT}).status_code == 403
    r = c.get("/api/reports/monthly.docx", params={"period": "2022-06"})     # no dept → own department edition
    assert r.status_code == 200
    from docx import Document

    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert OWN_DEPT in text or "心血管内科一病区" in text
    assert audit_rows(app, action="export", username="card1")[-1].target == "report:monthly:2022-06.docx"


@pytest.mark.parametrize("path,params", [
    ("/api/reports/weekly.docx", {"period": "2022-06"}),
    ("/api/reports/monthly.pdf", {"period": "2022-06"}),
    ("/api/reports/monthly.docx", {"period": "2022-13"}),
    ("/api/reports/annual.xlsx", {"period": "22"}),
])
def test_bad_requests_are_explained(clients, path, params):
    r = clients["leader_a"].get(path, params=params)
    assert r.status_code == 422 and r.json()["error"]["code"] == "WEB-PARAM"


def test_other_hospital_and_no_login_are_refused(app, clients):
    assert clients["leader_b"].get("/api/reports/monthly.docx", params={"period": "2022-06", "hospital": "H001"}).status_code == 403
    from fastapi.testclient import TestClient

    assert TestClient(app).get("/api/reports/monthly.docx", params={"period": "2022-06"}).status_code in (401, 403)


def test_reports_page_lists_periods(clients):
    r = clients["leader_a"].get("/reports")
    assert r.status_code == 200 and "2022-12" in r.text and "/api/reports/annual.docx" in r.text
    r = clients["card1"].get("/reports")
    assert r.status_code == 200 and "/api/reports/annual.docx" not in r.text
