"""Uploads run as background jobs on one worker: progress, result and reject report; the dashboard answers while
an import writes; two uploads queue; the new data shows when the job finishes."""

from __future__ import annotations

import threading
import time

import pytest

from tests.web.conftest import close_app, discharge_file_with_bad_row, login, new_app, wait_job as _wait


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("jobs"))
    yield a
    close_app(a)


def test_upload_with_bad_row_shows_reject_report(app, demo_folder, tmp_path):
    ops = login(app, "ops")
    before = ops.get("/api/overview?year=2022").json()["indicators"][0]["value"]
    f = discharge_file_with_bad_row(demo_folder, tmp_path / "首页_补报.csv", n_rows=5, mrn_prefix="UPA")
    with f.open("rb") as fh:
        r = ops.post("/api/imports", data={"kind": "discharge"}, files={"files": (f.name, fh, "text/csv")})
    assert r.status_code == 202, r.text
    job = _wait(ops, r.json()["id"])
    assert job["status"] == "done" and job["percent"] == 100.0
    res = job["result"]
    assert res["inserted"] == 4 and res["rejected"] == 1 and res["failed_files"] == 0
    assert res["files"][0]["file"] == f.name and res["files"][0]["encoding"] == "gb18030"
    [rej] = job["rejects"]
    assert rej["code"] == "IMP-DATE" and rej["field"] == "discharge_time" and rej["row_no"] == 3
    assert "2022-13-01" in rej["value"] and rej["reason_zh"] and rej["reason_en"]
    # the dashboard shows the new data once the job has finished (cache keyed by data version)
    after = ops.get("/api/overview?year=2022").json()["indicators"][0]["value"]
    assert after == before + 4
    assert any(h["file_name"].endswith(f.name) for h in ops.get("/api/imports/history").json())
    # the job page renders too
    assert ops.get(f"/jobs/{job['id']}").status_code == 200


def test_upload_refuses_unknown_kind_and_foreign_hospital(app):
    ops = login(app, "ops")
    r = ops.post("/api/imports", data={"kind": "nonsense"}, files={"files": ("a.csv", b"x\n", "text/csv")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "WEB-IMPORT-KIND"
    r = ops.post("/api/imports", data={"kind": "discharge", "hospital": "H999"},
                 files={"files": ("a.csv", b"x\n", "text/csv")})
    assert r.status_code == 403


def test_upload_needs_csrf(app):
    ops = login(app, "ops")
    ops.headers.pop("X-CSRF-Token")
    r = ops.post("/api/imports", data={"kind": "discharge"}, files={"files": ("a.csv", b"x\n", "text/csv")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-CSRF"


def test_broken_file_is_a_failed_file_not_a_crash(app):
    ops = login(app, "ops")
    r = ops.post("/api/imports", data={"kind": "discharge"}, files={"files": ("empty.csv", b"", "text/csv")})
    job = _wait(ops, r.json()["id"])
    # nothing stored: the job failed (issue 16: not "done 完成" with a full bar), with the file's code
    assert job["status"] == "failed" and job["result"]["failed_files"] == 1 and job["percent"] == 0.0
    assert job["result"]["files"][0]["error_code"] == job["error_code"]


def test_dashboard_answers_while_a_job_writes(app):
    """A job holding an open write transaction on the warehouse does not block readers (MVCC)."""
    ctx = app.state.ctx
    admin = login(app, "admin")
    started, release = threading.Event(), threading.Event()

    def slow_write(cur, job, progress):
        cur.execute("begin")
        cur.execute("delete from discharge where discharge_dept_code = 'ORTHO'")
        progress("load", 1, 2)
        started.set()
        release.wait(30)
        cur.execute("rollback")
        return {"ok": True}

    job = ctx.jobs.submit("test", "admin", "slow write", {}, slow_write)
    assert started.wait(30)
    try:
        t0 = time.perf_counter()
        for _ in range(5):
            r = admin.get("/api/dept/ORTHO?year=2022")
            assert r.status_code == 200 and r.json()["indicators"][0]["value"] > 0   # the reader's snapshot
        assert admin.get("/api/cases?dept=ORTHO").json()["total"] > 0
        assert time.perf_counter() - t0 < 20
        assert ctx.jobs.jobs[job.id].status == "running"
        assert admin.get(f"/api/jobs/{job.id}").json()["stage"] == "load"
    finally:
        release.set()
    assert ctx.jobs.wait_idle(30)


def test_two_uploads_queue_one_after_the_other(app, demo_folder, tmp_path):
    ops = login(app, "ops")
    records = login(app, "records")
    f1 = discharge_file_with_bad_row(demo_folder, tmp_path / "a.csv", n_rows=40, mrn_prefix="QA")
    f2 = discharge_file_with_bad_row(demo_folder, tmp_path / "b.csv", n_rows=40, mrn_prefix="QB")
    ids = []
    for client, f in ((ops, f1), (records, f2)):
        with f.open("rb") as fh:
            r = client.post("/api/imports", data={"kind": "discharge"}, files={"files": (f.name, fh, "text/csv")})
        assert r.status_code == 202
        ids.append((client, r.json()["id"]))
    j1, j2 = _wait(*ids[0]), _wait(*ids[1])
    assert j1["status"] == j2["status"] == "done"
    assert j1["result"]["inserted"] == j2["result"]["inserted"] == 39
    jobs = app.state.ctx.jobs.jobs                                   # single worker: strictly one after the other
    assert jobs[ids[1][1]].started_at >= jobs[ids[0][1]].finished_at
    # each user sees only their own jobs
    assert ids[1][1] not in [j["id"] for j in ops.get("/api/jobs").json()]
    assert ops.get(f"/api/jobs/{ids[1][1]}").status_code == 404


def test_jobs_outlive_a_restart(demo_folder, tmp_path):
    # a finished job keeps its page and result after the service restarts; a job the restart interrupted says so;
    # new jobs continue the numbering
    import datetime as dt

    from yunying.web.appdb import JobRecord

    a = new_app(demo_folder, tmp_path)
    qc = login(a, "qc")
    done = _wait(qc, qc.post("/api/qc/run", json={}).json()["id"])
    assert done["status"] == "done"
    with a.state.ctx.sessions() as s:           # as if a job had been running when the service stopped
        s.add(JobRecord(id=done["id"] + 1, kind="import", username="qc", label="discharge: x.csv", params="{}",
                        status="running", stage="load", created_at=dt.datetime.now()))
        s.commit()
    close_app(a)

    b = new_app(demo_folder, tmp_path)          # same application DB: a restart
    try:
        qc = login(b, "qc")
        again = qc.get(f"/api/jobs/{done['id']}").json()
        assert again["status"] == "done" and again["result"]["run_id"] == done["result"]["run_id"]
        assert again["result"]["summary_zh"] == done["result"]["summary_zh"]
        lost = qc.get(f"/api/jobs/{done['id'] + 1}").json()
        assert lost["status"] == "failed" and "服务重启" in lost["error"]
        assert [j["id"] for j in qc.get("/api/jobs").json()][:2] == [done["id"] + 1, done["id"]]
        assert f"#{done['id']}" in qc.get(f"/jobs/{done['id']}").text
        new = qc.post("/api/qc/run", json={}).json()
        assert new["id"] == done["id"] + 2
        _wait(qc, new["id"])
        # other users still do not see them
        assert login(b, "ops").get(f"/api/jobs/{done['id']}").status_code == 404
    finally:
        close_app(b)
