"""重新质控 from the web app: a background job with progress that re-runs record QC for the user's hospital;
department heads and other hospitals are refused server-side; the run is audit-logged."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import audit_rows, close_app, login, new_app, wait_job, wh_sql


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("qcrun"))
    yield a
    close_app(a)


def test_qc_office_reruns_qc_for_its_hospital(app):
    qc = login(app, "qc")                                         # 质控办 of H001
    r = qc.post("/api/qc/run", json={})
    assert r.status_code == 202, r.text
    job = wait_job(qc, r.json()["id"])
    assert job["status"] == "done" and job["kind"] == "qc" and job["percent"] == 100.0
    res = job["result"]
    n_h001 = wh_sql(app, "select count(*) from discharge where hospital_id = 'H001'", [])[0][0]
    assert res["hospital"] == "H001" and res["n_records"] == n_h001 > 0
    # the run's scores replaced H001's: every H001 record is scored by this run, and the findings agree
    assert wh_sql(app, "select count(*), count(distinct run_id) from qc_record where hospital_id = 'H001'", []) == \
        [(n_h001, 1)]
    assert wh_sql(app, "select distinct run_id from qc_record where hospital_id = 'H001'", []) == [(res["run_id"],)]
    assert wh_sql(app, "select count(*) from qc_finding where run_id = ?", [res["run_id"]])[0][0] == res["n_findings"]
    assert res["summary_zh"].startswith(f"质控完成：{n_h001:,} 份病案")
    [a] = [a for a in audit_rows(app, username="qc", action="qc_run")]
    assert a.target == "H001"


def test_department_head_and_other_hospitals_are_refused(app):
    head = login(app, "card1")
    r = head.post("/api/qc/run", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-QC-RUN"
    qc = login(app, "qc")
    r = qc.post("/api/qc/run", json={"hospital": "H002"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-HOSPITAL"
    ops = login(app, "ops")                                        # 运营部: no 病案质控 module
    assert ops.post("/api/qc/run", json={}).status_code == 403


def test_the_qc_page_offers_the_button_and_queues_a_job(app):
    qc, head = login(app, "qc"), login(app, "card1")
    page = qc.get("/qc").text
    assert 'id="qc-run"' in page and 'name="hospital" value="H001"' in page
    assert 'id="qc-run"' not in head.get("/qc").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = qc.post("/qc/run", data={"csrf_token": csrf, "hospital": "H001"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job = wait_job(qc, int(r.headers["location"].rsplit("/", 1)[1]))
    assert job["status"] == "done" and job["result"]["hospital"] == "H001"


def test_a_discharge_upload_regroups_and_rescores_the_hospitals_it_touched(app, demo_folder, tmp_path):
    # 运营部 (no 病案质控 module) uploads two new H001 records: the job stores them, regroups them with the
    # registered DRG scheme that has results, then re-runs QC of H001 — the new records have DRG results and
    # scores, and the result says so
    from tests.web.test_import_scope import _upload, discharge_file

    ops = login(app, "ops")
    f = discharge_file(demo_folder, tmp_path / "新出院.csv", ["H001", "H001"], "QA")
    job = wait_job(ops, _upload(ops, f).json()["id"])
    res = job["result"]
    assert job["status"] == "done" and res["inserted"] == 2 and "qc_error" not in res
    [q] = res["qc"]
    n_h001 = wh_sql(app, "select count(*) from discharge where hospital_id = 'H001'", [])[0][0]
    assert q["hospital"] == "H001" and q["n_records"] == n_h001
    assert wh_sql(app, "select count(*) from qc_record where mrn like 'QA%' and run_id = ?", [q["run_id"]]) == [(2,)]
    assert res["qc_summary_zh"].startswith(f"H001 质控 {n_h001:,} 份")
    schemes = [r[0] for r in wh_sql(app, "select distinct scheme from drg_result where mrn not like 'QA%'", [])]
    assert schemes and [d["scheme"] for d in res["drg"]] == sorted(schemes) and "drg_error" not in res
    n_all = wh_sql(app, "select count(*) from discharge", [])[0][0]
    for name in schemes:
        assert wh_sql(app, "select count(*) from drg_result where scheme = ? and mrn like 'QA%'", [name]) == [(2,)]
        assert wh_sql(app, "select count(*) from drg_result where scheme = ?", [name]) == [(n_all,)]
    assert job["percent"] == 100.0


def test_an_upload_that_stores_nothing_runs_no_qc(app, demo_folder, tmp_path):
    from tests.web.test_import_scope import _upload, discharge_file

    ops = login(app, "ops")
    f = discharge_file(demo_folder, tmp_path / "外院.csv", ["H002"], "QB")          # refused: another hospital
    res = wait_job(ops, _upload(ops, f).json()["id"])["result"]
    assert res["inserted"] == 0 and "qc" not in res
