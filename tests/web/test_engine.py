"""The indicator engine (yunying.indicators) in the web app: values by scope, drill-down restricted and audited."""

from __future__ import annotations

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, audit_rows

pytest.importorskip("yunying.indicators", reason="indicator engine not installed")


@pytest.fixture(scope="module")
def hospital_rows(clients):
    r = clients["admin"].get("/api/engine?family=tertiary-general&period=2022")
    assert r.status_code == 200
    return r.json()


def test_engine_values_with_reasons(hospital_rows):
    d = hospital_rows
    assert d["computed"] and d["family"]["key"] == "tertiary-general" and d["rows"]
    assert d["n_computable"] > 0
    for r in d["rows"]:
        assert r["value"] is not None or r["reason"]            # never a silent blank
    assert {r["hospital_id"] for r in d["rows"]} == {"H001"}


def test_dept_head_engine_scope(clients):
    c = clients["card1"]
    d = c.get("/api/engine?period=2022").json()
    assert d["level"] == "department" and {r["dept_code"] for r in d["rows"]} == {OWN_DEPT}
    r = c.get(f"/api/engine?period=2022&level=department&dept={OTHER_DEPT}")
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-DEPT"
    r = c.get(f"/api/engine/cases?indicator=G3-04&period=2022&dept={OTHER_DEPT}")
    assert r.status_code == 403
    r = c.get("/api/engine/cases?indicator=G3-04&period=2022")
    assert r.status_code == 200
    rows = r.json()["rows"]
    assert all(x["dept_code"] == OWN_DEPT for x in rows)


def test_leader_of_other_hospital_sees_no_engine_values(clients):
    d = clients["leader_b"].get("/api/engine?period=2022").json()
    assert all(r["hospital_id"] != "H001" for r in d["rows"])
    assert clients["leader_b"].get("/api/engine/cases?indicator=G3-04&period=2022&hospital=H001").status_code == 403


def test_engine_drill_down_audited(app, clients, hospital_rows):
    ok = [r for r in hospital_rows["rows"] if r["value"] is not None and r["indicator_id"] == "G3-04"]
    assert ok
    r = clients["qc"].get("/api/engine/cases?indicator=G3-04&period=2022")
    assert r.status_code == 200 and r.json()["rows"]
    assert any(a.target == "engine:G3-04" for a in audit_rows(app, username="qc", action="case_list"))
    assert clients["qc"].get("/engine/cases?indicator=G3-04&period=2022").status_code == 200
    assert clients["admin"].get("/engine?period=2022").status_code == 200


def test_engine_bad_params(clients):
    assert clients["admin"].get("/api/engine?family=nope").status_code == 404
    assert clients["admin"].get("/api/engine?period=20x2").status_code == 400
    assert clients["admin"].get("/api/engine/cases?indicator=NOPE&period=2022").status_code == 404


def test_fallback_reading_note_on_the_web(clients):
    """The web warehouse has no procedure dictionary (ind_px_dict): G3-04 is computed on the 手术级别 fallback and
    the API row, the engine table and the indicator page all say so."""
    note = "按手术级别近似，未加载手术操作分类字典"
    d = clients["admin"].get("/api/engine?family=tertiary-general&period=2022").json()
    g = [r for r in d["rows"] if r["indicator_id"] == "G3-04" and r["value"] is not None]
    assert g and all(r["fallback"] == "px_no_dict" and r["note"].startswith(note) for r in g)
    assert all(not r.get("note") for r in d["rows"] if r["indicator_id"] == "G3-02")
    assert note in clients["admin"].get("/engine?period=2022").text
    page = clients["admin"].get("/indicator/G3-04?year=2022")
    assert page.status_code == 200 and note in page.text and 'id="ind-note"' in page.text


def test_low_risk_row_states_its_reference_in_both_languages(clients, hospital_rows):
    """Issue 14: the 低风险组死亡率 row carries its risk reference (the demo loads none: the hospital's own data) and
    its size; the engine page renders the remarks in the page's language, status/verdict by code."""
    g = next(r for r in hospital_rows["rows"] if r["indicator_id"] == "G3-14")
    codes = [m["code"] for m in g["remarks"]]
    assert codes[:2] == ["risk_reference", "risk_reference_size"]
    assert g["remarks"][0]["value"].startswith("fallback:")
    assert g["note"].startswith("风险分级参照：fallback:")
    en = clients["admin"].get("/engine?family=tertiary-general&period=2022&lang=en")
    assert en.status_code == 200 and "risk reference: fallback:" in en.text
    zh = clients["admin"].get("/engine?family=tertiary-general&period=2022&lang=zh")
    assert "风险分级参照：fallback:" in zh.text
