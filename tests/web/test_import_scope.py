"""Uploads respect the uploader's hospitals: the form field (403) and every row of the file (the import job
refuses a file holding another hospital's rows, IMP-HOSPITAL-SCOPE, nothing stored, audit `denied`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.web.conftest import (audit_rows, close_app, demo_discharge_rows, login, new_app, wait_job as _wait,
                                wh_sql, write_gb18030_csv)


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("importscope"))
    yield a
    close_app(a)


def discharge_file(demo_folder: Path, out: Path, hospitals: list[str], mrn_prefix: str) -> Path:
    """National-layout discharge file (GB18030): one valid new record per entry of `hospitals`, whose 组织机构代码
    (ZZJGDM) is that entry. Data rows start at file line 2."""
    header, rows = demo_discharge_rows(demo_folder, len(hospitals))
    i_mrn, i_h = header.index("BAH"), header.index("ZZJGDM")
    for n, (r, h) in enumerate(zip(rows, hospitals)):
        r[i_mrn], r[i_h] = f"{mrn_prefix}{n:05d}", h
    return write_gb18030_csv(out, header, rows)


def _upload(client, f: Path, **form):
    with f.open("rb") as fh:
        return client.post("/api/imports", data={"kind": "discharge", **form}, files={"files": (f.name, fh, "text/csv")})


def _count_of(app, sql: str, params: list) -> int:
    return wh_sql(app, sql, params)[0][0]


def test_hospital_user_cannot_import_rows_of_another_hospital(app, demo_folder, tmp_path):
    ops = login(app, "ops")                                     # 运营管理部 of H001 (import module)
    f = discharge_file(demo_folder, tmp_path / "混合医院.csv", ["H001", "H002", "H001", "H002"], "XH")
    r = _upload(ops, f, hospital="H001")                        # the form field names the user's own hospital
    assert r.status_code == 202, r.text
    job = _wait(ops, r.json()["id"])
    assert job["status"] == "failed" and job["error_code"] == "IMP-HOSPITAL-SCOPE"     # nothing of it stored
    res = job["result"]
    assert res["failed_files"] == 1 and res["inserted"] == 0 and res["updated"] == 0
    [fr] = res["files"]
    assert fr["file"] == f.name and fr["status"] == "failed" and fr["error_code"] == "IMP-HOSPITAL-SCOPE"
    # rows 3 and 5 of the file (header = line 1) hold H002; Chinese first, then English; how to fix
    zh, en = fr["message"].split(" / ", 1)
    assert "第 3、5 行（共 2 行）" in zh and "ZZJGDM" in zh and "H002" in zh and "H001" in zh and "整个文件未导入" in zh
    assert "rows 3, 5 (2 in all)" in en and "nothing from this file was imported" in en
    # nothing stored: neither the own-hospital rows of that file nor the foreign ones, nor a hospital H002
    assert _count_of(app, "select count(*) from discharge where mrn like 'XH%'", []) == 0
    assert _count_of(app, "select count(*) from hospital where hospital_id = 'H002'", []) == 0
    assert _count_of(app, "select count(*) from import_log where status = 'failed' and message like "
                       "'IMP-HOSPITAL-SCOPE%' and file_name like ?", [f"%{f.name}"]) == 1
    # the refusal is in the audit trail
    [a] = [a for a in audit_rows(app, username="ops", action="denied") if a.target == f"import {f.name}"]
    flt = json.loads(a.filters)
    assert flt["code"] == "IMP-HOSPITAL-SCOPE" and flt["allowed"] == ["H001"] and flt["kind"] == "discharge"
    assert a.role == "office" and a.client_ip


def test_crafted_file_cannot_bypass_the_form_field(app, demo_folder, tmp_path):
    """No form field at all (it defaults to the user's hospital): the file's own hospital column still decides."""
    ops = login(app, "ops")
    f = discharge_file(demo_folder, tmp_path / "other.csv", ["H002", "H002"], "XC")
    job = _wait(ops, _upload(ops, f).json()["id"])
    assert job["result"]["files"][0]["error_code"] == "IMP-HOSPITAL-SCOPE"
    assert "第 2、3 行" in job["result"]["files"][0]["message"]
    assert _count_of(app, "select count(*) from discharge where mrn like 'XC%'", []) == 0


def test_own_hospital_file_imports(app, demo_folder, tmp_path):
    ops = login(app, "ops")
    f = discharge_file(demo_folder, tmp_path / "own.csv", ["H001"] * 3, "XO")
    job = _wait(ops, _upload(ops, f).json()["id"])
    assert job["result"]["failed_files"] == 0 and job["result"]["inserted"] == 3
    assert _count_of(app, "select count(*) from discharge where mrn like 'XO%' and hospital_id = 'H001'", []) == 3
    assert not [a for a in audit_rows(app, username="ops", action="denied") if a.target == f"import {f.name}"]


def test_form_field_of_another_hospital_is_refused_and_audited(app, demo_folder, tmp_path):
    ops = login(app, "ops")
    f = discharge_file(demo_folder, tmp_path / "f.csv", ["H002"], "XF")
    r = _upload(ops, f, hospital="H002")
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-HOSPITAL"
    assert any(a.target == "POST /api/imports" and json.loads(a.filters)["code"] == "WEB-FORBIDDEN-HOSPITAL"
               for a in audit_rows(app, username="ops", action="denied"))


def test_dept_head_may_not_import(app, demo_folder, tmp_path):
    card1 = login(app, "card1")
    f = discharge_file(demo_folder, tmp_path / "d.csv", ["H001"], "XD")
    r = _upload(card1, f)
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-FORBIDDEN-MODULE"
    with f.open("rb") as fh:
        r = card1.post("/import", data={"kind": "discharge", "csrf_token": card1.headers["X-CSRF-Token"]},
                       files={"files": (f.name, fh, "text/csv")}, follow_redirects=False)
    assert r.status_code == 403
    assert len([a for a in audit_rows(app, username="card1", action="denied")
                if json.loads(a.filters)["code"] == "WEB-FORBIDDEN-MODULE"]) >= 2
    assert _count_of(app, "select count(*) from discharge where mrn like 'XD%'", []) == 0


def test_admin_and_regional_accounts_import_any_hospital(app, demo_folder, tmp_path):
    admin = login(app, "admin")
    f = discharge_file(demo_folder, tmp_path / "a.csv", ["H001", "H002"], "XA")
    job = _wait(admin, _upload(admin, f).json()["id"])
    assert job["result"]["failed_files"] == 0 and job["result"]["inserted"] == 2
    assert _count_of(app, "select count(*) from discharge where mrn like 'XA%' and hospital_id = 'H002'", []) == 1
    # a regional 运营管理部 account (hospital '*') is not limited either
    r = admin.post("/api/admin/users", json={"username": "ops_region", "password": "region-pass-1", "role": "office",
                                             "office": "ops", "hospital": "*"})
    assert r.status_code == 201, r.text
    region = login(app, "ops_region", "region-pass-1")
    f = discharge_file(demo_folder, tmp_path / "r.csv", ["H003"], "XR")
    job = _wait(region, _upload(region, f).json()["id"])
    assert job["result"]["failed_files"] == 0 and job["result"]["inserted"] == 1
    assert _count_of(app, "select count(*) from discharge where mrn like 'XR%' and hospital_id = 'H003'", []) == 1


def test_import_page_states_the_restriction(app):
    page = login(app, "ops").get("/import").text
    assert 'id="upload-scope"' in page and "H001" in page
    assert 'id="upload-scope"' not in login(app, "admin").get("/import").text


def test_import_history_shows_own_hospitals_and_own_uploads_only(app, demo_folder, tmp_path):
    # an administrator imports one file of H001 and one of H002; 运营部 (H001) uploads a file mixing H001 and H002
    # rows, which is refused. Hospital users see imports whose rows are all theirs, plus their own uploads; the
    # administrator sees everything.
    admin, ops, records = login(app, "admin"), login(app, "ops"), login(app, "records")
    f1 = discharge_file(demo_folder, tmp_path / "本院H001.csv", ["H001", "H001"], "HA")
    f2 = discharge_file(demo_folder, tmp_path / "外院H002.csv", ["H002"], "HB")
    f3 = discharge_file(demo_folder, tmp_path / "混合H001H002.csv", ["H001", "H002"], "HC")
    for client, f in ((admin, f1), (admin, f2), (ops, f3)):
        job = _wait(client, _upload(client, f).json()["id"])
        assert job["status"] == ("failed" if f is f3 else "done")       # f3 holds H002 rows: refused for ops

    def files(client, page: bool = False):
        if page:
            html = client.get("/import").text
            return {f.name for f in (f1, f2, f3) if f.name in html}
        r = client.get("/api/imports/history")
        assert r.status_code == 200, r.text
        return {h["file_name"].split("__", 1)[-1] for h in r.json()} & {f1.name, f2.name, f3.name}

    assert files(admin) == {f1.name, f2.name, f3.name}
    assert files(ops) == {f1.name, f3.name}                 # own refused upload, not the other hospital's file
    assert files(records) == {f1.name}                      # neither H002's file nor ops's mixed upload
    assert files(records, page=True) == {f1.name} and files(ops, page=True) == {f1.name, f3.name}
    # what the importer recorded
    cur = app.state.ctx.wh.cursor()
    try:
        logged = {n.split("__", 1)[-1]: (h, u, s) for n, h, u, s in cur.execute(
            "select file_name, hospitals, imported_by, status from import_log").fetchall()}
    finally:
        cur.close()
    assert logged[f1.name] == (["H001"], "admin", "ok") and logged[f2.name] == (["H002"], "admin", "ok")
    assert logged[f3.name] == (["H001", "H002"], "ops", "failed")
