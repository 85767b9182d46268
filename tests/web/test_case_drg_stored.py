"""The case page shows the stored DRG result of the case's run (issue 14) and, when the registered scheme changed
since that run, says 方案自该次分组后已变更 and shows a regrouping only as a labelled comparison."""

from __future__ import annotations

import pytest

from tests.web.conftest import OWN_DEPT, close_app, login, new_app

CHANGED: dict = {}


def _prepare(db) -> None:
    """Two grouped CARD1 cases. The first is left as grouped; the second's stored row is made to look grouped by
    an earlier version of the scheme (other hash) that put it in DRG ZZ99 — what the page must then show."""
    from yunying.warehouse.db import connect

    con = connect(db)
    rows = con.execute("select r.hospital_id, r.mrn, r.admission_no, r.drg, r.run_id from drg_result r join discharge d "
                       "using (hospital_id, mrn, admission_no) where d.discharge_dept_code = ? and r.status = 'SUCCESS' "
                       "order by r.mrn limit 2", [OWN_DEPT]).fetchall()
    (h, m, a, drg, run), second = rows[0], rows[1]
    CHANGED.update(same=(h, m, a), same_drg=drg, run_id=run, changed=second[:3], real_drg=second[3])
    con.execute("update drg_result set drg = 'ZZ99', adrg = 'ZZ9', scheme_hash = 'an-older-pack' "
                "where hospital_id = ? and mrn = ? and admission_no = ?", list(second[:3]))
    con.close()


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("casedrg"), prepare=_prepare)
    yield a
    close_app(a)


def test_case_page_shows_stored_result_and_scheme_change(app):
    c = login(app, "qc")
    h, m, a = CHANGED["same"]
    same = c.get(f"/api/cases/{h}/{m}/{a}").json()["drg"]
    assert (same["result_source"], same["drg"], same["run_id"]) == ("stored", CHANGED["same_drg"], CHANGED["run_id"])
    assert same["run_id"].startswith("drg-") and same["notice_zh"] == "" and same["trace"] and not same["regrouped"]
    page = c.get(f"/case/{h}/{m}/{a}").text
    assert 'id="drg-stored"' in page and CHANGED["run_id"] in page and 'id="drg-scheme-changed"' not in page

    h, m, a = CHANGED["changed"]
    d = c.get(f"/api/cases/{h}/{m}/{a}").json()["drg"]
    assert (d["result_source"], d["drg"], d["adrg"], d["scheme_changed"]) == ("stored", "ZZ99", "ZZ9", True)
    assert d["notice_zh"] == "方案自该次分组后已变更" and d["trace"] == []
    assert d["regrouped"]["drg"] == CHANGED["real_drg"] != "ZZ99"
    page = c.get(f"/case/{h}/{m}/{a}").text
    assert "<b>ZZ99</b>" in page and 'id="drg-scheme-changed"' in page and "方案自该次分组后已变更" in page
    assert 'id="drg-regrouped"' in page and "仅供对比" in page
