"""Role restrictions, enforced by the API for every query: 科主任 own department only (also through filters,
drill-down lists, case detail and exports), 院领导 own hospital (or region), 职能科室 own modules."""

from __future__ import annotations

import csv
import io

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, audit_rows, case_of_dept


def _code(r):
    return r.json()["error"]["code"]


# ---- 科主任 dept_head ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    f"/api/dept/{OTHER_DEPT}",
    f"/api/indicators/OP-08?dept={OTHER_DEPT}",
    f"/api/cases?dept={OTHER_DEPT}",
    f"/api/engine/cases?indicator=OP-28&period=2022&dept={OTHER_DEPT}",
    f"/api/export/cases.csv?dept={OTHER_DEPT}",
    f"/api/export/indicator/OP-08.csv?dept={OTHER_DEPT}",
    f"/api/drg?dept={OTHER_DEPT}",
    f"/api/qc?dept={OTHER_DEPT}",
    f"/api/qc/records?dept={OTHER_DEPT}",
    f"/dept/{OTHER_DEPT}",
    f"/indicator/OP-08?dept={OTHER_DEPT}",
    f"/engine/cases?indicator=OP-28&period=2022&dept={OTHER_DEPT}",
    f"/cases?dept={OTHER_DEPT}",
])
def test_dept_head_other_department_is_403(clients, url):
    r = clients["card1"].get(url)
    assert r.status_code == 403, (url, r.text[:200])
    if url.startswith("/api"):
        assert _code(r) == "WEB-FORBIDDEN-DEPT"
        assert OWN_DEPT in r.json()["error"]["zh"] and "department" in r.json()["error"]["en"]
    else:
        assert "科主任只能查看本科室" in r.text


def test_dept_head_case_of_other_department_is_hidden(app, clients):
    """Answered like a missing case (404, docs/security.md), audit-logged as denied WEB-FORBIDDEN-CASE."""
    h, mrn, adm = case_of_dept(app, OTHER_DEPT)
    r = clients["card1"].get(f"/api/cases/{h}/{mrn}/{adm}")
    assert r.status_code == 404 and _code(r) == "WEB-NOT-FOUND"
    assert clients["card1"].get(f"/case/{h}/{mrn}/{adm}").status_code == 404
    h, mrn, adm = case_of_dept(app, OWN_DEPT)
    assert clients["card1"].get(f"/api/cases/{h}/{mrn}/{adm}").status_code == 200


def test_dept_head_sees_only_own_department(clients):
    c = clients["card1"]
    assert c.get("/api/overview").status_code == 403             # no whole-hospital overview
    r = c.get(f"/api/dept/{OWN_DEPT}")
    assert r.status_code == 200
    for card in r.json()["indicators"]:
        assert "peers" not in card                                # other departments stay anonymous
    d = c.get("/api/indicators/OP-08").json()
    assert d["dept"] == OWN_DEPT and [b["dept"] for b in d["breakdown"]] == [OWN_DEPT]
    rows = c.get("/api/cases?limit=200").json()["rows"]
    assert rows and {x["dept_code"] for x in rows} == {OWN_DEPT}
    text = c.get("/api/export/cases.csv").content.decode("utf-8-sig")
    depts = {row["科室代码 dept"] for row in csv.DictReader(io.StringIO(text))}
    assert depts == {OWN_DEPT}
    drg = c.get("/api/drg").json()
    assert [x["dept"] for x in drg["by_dept"]] == [OWN_DEPT]
    assert [x["dept"] for x in c.get("/api/departments").json()] == [OWN_DEPT]
    r = c.get("/", follow_redirects=False)
    assert r.headers["location"] == f"/dept/{OWN_DEPT}"


def test_dept_head_counts_match_own_department(app, clients):
    cur = app.state.ctx.wh.cursor()
    n = cur.execute("select count(*) from discharge where discharge_dept_code = ? and year(discharge_time) = 2022",
                    [OWN_DEPT]).fetchall()[0][0]
    cur.close()
    r = clients["card1"].get(f"/api/dept/{OWN_DEPT}?year=2022").json()
    assert r["indicators"][0]["id"] == "OP-02" and r["indicators"][0]["value"] == n
    assert clients["card1"].get("/api/cases?year=2022").json()["total"] == n


# ---- 院领导 leader ---------------------------------------------------------------------------------------------

def test_leader_of_other_hospital_cannot_see_h001(app, clients):
    c = clients["leader_b"]
    for url in ["/api/overview?hospital=H001", "/api/cases?hospital=H001", "/api/export/cases.csv?hospital=H001",
                "/api/drg?hospital=H001", f"/api/dept/{OWN_DEPT}?hospital=H001"]:
        r = c.get(url)
        assert r.status_code == 403 and _code(r) == "WEB-FORBIDDEN-HOSPITAL", url
    h, mrn, adm = case_of_dept(app, OWN_DEPT)
    assert c.get(f"/api/cases/{h}/{mrn}/{adm}").status_code == 403
    # without a filter: nothing of H001 leaks
    ov = c.get("/api/overview").json()
    assert all(card["value"] in (None, 0) for card in ov["indicators"])
    assert c.get("/api/cases").json()["total"] == 0


def test_leader_of_own_hospital_and_region(clients):
    a = clients["leader_a"].get("/api/overview?hospital=H001")
    assert a.status_code == 200 and a.json()["indicators"][0]["value"] > 0
    assert "peers" in clients["leader_a"].get(f"/api/dept/{OTHER_DEPT}").json()["indicators"][0]
    assert clients["region"].get("/api/overview?hospital=H001").status_code == 200


# ---- 职能科室 offices: only their modules ------------------------------------------------------------------------

@pytest.mark.parametrize("user,url,ok", [
    ("insurance", "/api/qc", False), ("insurance", "/api/drg", True),
    ("qc", "/api/drg", False), ("qc", "/api/qc", True), ("qc", "/api/overview", True),
    ("leader_a", "/api/imports/history", False), ("ops", "/api/imports/history", True),
    ("records", "/api/imports/history", True), ("qc", "/api/admin/audit", False),
    ("leader_a", "/api/admin/users", False), ("admin", "/api/admin/users", True),
])
def test_office_modules(clients, user, url, ok):
    r = clients[user].get(url)
    assert (r.status_code == 200) is ok, (user, url, r.status_code, r.text[:200])
    if not ok:
        assert r.status_code == 403


def test_office_upload_refused_without_import_module(clients):
    r = clients["qc"].post("/api/imports", data={"kind": "discharge"},
                           files={"files": ("a.csv", b"BAH\n1\n", "text/csv")})
    assert r.status_code == 403 and _code(r) == "WEB-FORBIDDEN-MODULE"


def test_denied_requests_are_audited(app, clients):
    clients["card1"].get(f"/api/cases?dept={OTHER_DEPT}")
    rows = audit_rows(app, username="card1", action="denied")
    assert rows and any(OTHER_DEPT in (r.filters or "") for r in rows)


def test_scope_sql_is_parameterised(clients):
    # a filter value is data, never SQL
    r = clients["card1"].get("/api/cases", params={"dept": "CARD1' or '1'='1"})
    assert r.status_code == 403
    r = clients["admin"].get("/api/cases", params={"dept": "x' or '1'='1"})
    assert r.status_code == 200 and r.json()["total"] == 0
