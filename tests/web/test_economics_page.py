"""DRG 分析 with economics (issue 4): CMI from the scheme's weights and 盈亏 from the payment simulation, by scope."""

from __future__ import annotations

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, close_app, login, new_app, wh_sql


def _economics(db):
    try:
        from yunying.cli.drg_economics import demo_stage
    except ImportError:
        pytest.skip("economics (yunying.cli.drg_economics) not installed")
    demo_stage(db)


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("econ"), prepare=_economics)
    yield a
    close_app(a)


def test_cmi_and_profit(app):
    d = login(app, "leader_a").get("/api/drg?year=2022").json()
    run = wh_sql(app, "select run_id from econ_run where scheme = 'demo' and year = 2022 order by created_at desc")
    if not run:
        pytest.skip("the economics demo stage produced no payment run")
    margin = wh_sql(app, "select sum(margin_charges) from econ_case_payment where run_id = ?", [run[0][0]])[0][0]
    assert d["profit"]["run_id"] == run[0][0]
    assert d["profit"]["margin"] == pytest.approx(margin, abs=0.01)
    # CMI = mean RW over grouped cases of the year with a weight (weights of the latest year ≤ 2022)
    cmi = wh_sql(app, """
        select avg(w.rw) from drg_result r join discharge d using (hospital_id, mrn, admission_no)
        join econ_weight w on w.scheme = r.scheme and w.drg = r.drg
         and w.year = (select max(year) from econ_weight where scheme = 'demo' and year <= 2022)
        where r.scheme = 'demo' and r.status = 'SUCCESS' and year(d.discharge_time) = 2022""")[0][0]
    assert d["cmi"] == pytest.approx(cmi, abs=0.001)
    assert "盈亏" in login(app, "leader_a").get("/drg").text


def test_dept_head_profit_is_own_department(app):
    c = login(app, "card1")
    d = c.get("/api/drg?year=2022").json()
    assert {x["dept"] for x in (d["profit"] or {}).get("by_dept", [])} <= {OWN_DEPT}
    assert c.get(f"/api/drg?dept={OTHER_DEPT}").status_code == 403
