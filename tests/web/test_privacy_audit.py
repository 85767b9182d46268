"""Masking of patient identifiers (columns marked pii: in the data model) and the audit trail."""

from __future__ import annotations

import csv
import io
import json

from tests.web.conftest import OWN_DEPT, audit_rows, case_of_dept
from yunying.model.privacy import mask_row, mask_value, pii_columns


def test_pii_columns_come_from_the_model():
    cols = pii_columns()
    assert {"patient_name", "id_number", "phone", "contact_name", "contact_phone", "address"} <= set(cols)
    assert "mrn" not in cols and "sex" not in cols


def test_mask_values():
    assert mask_value("name", "张三丰") == "张**"
    assert mask_value("id", "330102199001011234") == "330***********1234"
    assert mask_value("phone", "13199842255") == "131****2255"
    assert mask_value("address", "浙江省云影市某某路1号") == "浙江省云影市****"
    assert mask_value("name", None) is None
    row = {"patient_name": "李四", "mrn": "1", "phone": "13800000000"}
    assert mask_row(row, see_pii=True) == row
    assert mask_row(row, see_pii=False) == {"patient_name": "李*", "mrn": "1", "phone": "138****0000"}


def _raw(app, h, mrn, adm):
    cur = app.state.ctx.wh.cursor()
    try:
        r = cur.execute("select patient_name, id_number, phone, contact_phone from discharge where hospital_id = ? "
                        "and mrn = ? and admission_no = ?", [h, mrn, adm]).fetchall()[0]
    finally:
        cur.close()
    return dict(zip(["patient_name", "id_number", "phone", "contact_phone"], r))


def test_case_detail_masked_unless_role_allows(app, clients):
    h, mrn, adm = case_of_dept(app, OWN_DEPT)
    raw = _raw(app, h, mrn, adm)
    for user in ("leader_a", "qc", "card1"):
        rec = clients[user].get(f"/api/cases/{h}/{mrn}/{adm}").json()["record"]
        assert rec["patient_name"] != raw["patient_name"] and rec["patient_name"].startswith(raw["patient_name"][0])
        assert rec["id_number"] != raw["id_number"] and "*" in rec["id_number"]
        assert rec["phone"] != raw["phone"] and "****" in rec["phone"]
        assert raw["id_number"] not in json.dumps(clients[user].get(f"/case/{h}/{mrn}/{adm}").text)
    for user in ("admin", "records"):
        rec = clients[user].get(f"/api/cases/{h}/{mrn}/{adm}").json()["record"]
        assert rec["patient_name"] == raw["patient_name"] and rec["id_number"] == raw["id_number"]


def test_case_list_and_export_masked(app, clients):
    rows = clients["leader_a"].get(f"/api/cases?dept={OWN_DEPT}").json()
    assert rows["masked"] is True and all("*" in r["patient_name"] for r in rows["rows"])
    text = clients["leader_a"].get(f"/api/export/cases.csv?dept={OWN_DEPT}").content.decode("utf-8-sig")
    names = [r["姓名 name"] for r in csv.DictReader(io.StringIO(text))]
    assert names and all("*" in n for n in names)
    text = clients["records"].get(f"/api/export/cases.csv?dept={OWN_DEPT}").content.decode("utf-8-sig")
    names = [r["姓名 name"] for r in csv.DictReader(io.StringIO(text))]
    assert names and not any("*" in n for n in names)


def test_case_views_and_exports_are_audited(app, clients):
    h, mrn, adm = case_of_dept(app, OWN_DEPT)
    c = clients["card1"]
    c.get(f"/api/cases?year=2022&dept={OWN_DEPT}")
    c.get(f"/api/engine/cases?indicator=OP-28&period=2022&dept={OWN_DEPT}")
    c.get(f"/api/cases/{h}/{mrn}/{adm}")
    c.get(f"/case/{h}/{mrn}/{adm}")
    c.get("/api/export/cases.csv?year=2022")
    c.get("/api/export/indicator/OP-08.csv?year=2022")
    listed = audit_rows(app, username="card1", action="case_list")
    assert any(json.loads(r.filters) == {"year": 2022, "dept": OWN_DEPT, "offset": 0} for r in listed)
    assert any(r.target == "engine:OP-28" and json.loads(r.filters) == {"period": "2022", "dept": OWN_DEPT,
                                                                         "part": "numerator"} for r in listed)
    viewed = audit_rows(app, username="card1", action="case_view")
    assert len([r for r in viewed if r.target == f"{h}/{mrn}/{adm}"]) >= 2      # API and page
    exports = audit_rows(app, username="card1", action="export")
    assert {r.target for r in exports} >= {"cases.csv", "indicator:OP-08.csv"}
    for r in listed + viewed + exports:
        assert r.role == "dept_head" and r.client_ip and r.at is not None


def test_admin_sees_audit_log(clients):
    clients["leader_a"].get("/api/cases?limit=5")
    rows = clients["admin"].get("/api/admin/audit?username=leader_a&action=case_list").json()
    assert rows and rows[0]["username"] == "leader_a" and rows[0]["filters"] is not None
    page = clients["admin"].get("/admin?audit_user=leader_a").text
    assert "case_list" in page and "leader_a" in page


def test_logins_are_audited(app, clients):
    assert audit_rows(app, username="admin", action="login")
