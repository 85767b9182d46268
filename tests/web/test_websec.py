"""Web security of issue 15 (docs/security.md): identifiers in reject rows and birth dates, upload limits and checks,
case keys that do not reveal which cases exist, /openapi.json behind login, unknown pages in Chinese."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.web.conftest import (OTHER_DEPT, OWN_DEPT, audit_rows, case_of_dept, close_app, demo_discharge_rows, login,
                                new_app, wait_job, wh_sql, write_gb18030_csv)

ROWS, COLS_FACTOR = 20, 12         # the module's limits: 20 data rows per file, 12 rows' worth of cells


@pytest.fixture(scope="module")
def ncols(demo_folder) -> int:
    return len(demo_discharge_rows(demo_folder, 1)[0])


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory, ncols):
    a = new_app(demo_folder, tmp_path_factory.mktemp("websec"), upload_max_mb=1, upload_max_files=2,
                upload_max_rows=ROWS, upload_max_cells=ncols * COLS_FACTOR)
    yield a
    close_app(a)


@pytest.fixture(scope="module")
def ops(app):
    return login(app, "ops")          # 运营管理部: import module, identifiers masked


def _upload(client, name: str, content: bytes, **form):
    return client.post("/api/imports", data={"kind": "discharge", **form},
                       files={"files": (name, content, "text/csv")})


def _code(r) -> str:
    return r.json()["error"]["code"]


def _stored(app) -> list[str]:
    folder = app.state.ctx.settings.uploads
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


def _discharge_csv(demo_folder, tmp_path, n: int, prefix: str, edit=None) -> bytes:
    header, rows = demo_discharge_rows(demo_folder, n)
    i_mrn = header.index("BAH")
    for k, r in enumerate(rows):
        r[i_mrn] = f"{prefix}{k:05d}"
    if edit is not None:
        edit(header, rows)
    return write_gb18030_csv(tmp_path / f"{prefix}.csv", header, rows).read_bytes()


# ---- item 10: login-adjacent ----------------------------------------------------------------------------------

def test_openapi_document_needs_login(app):
    from fastapi.testclient import TestClient
    anon = TestClient(app)
    r = anon.get("/openapi.json", follow_redirects=False)
    assert r.status_code in (303, 401) and "paths" not in r.text        # before: 200 with every route
    doc = login(app, "leader_a").get("/openapi.json").json()
    assert "/api/cases" in doc["paths"] and "/openapi.json" not in doc["paths"]


def test_unknown_pages_answer_in_chinese(app):
    from fastapi.testclient import TestClient
    anon = TestClient(app)
    r = anon.get("/api/no-such-thing")
    assert r.status_code == 404 and _code(r) == "WEB-NOT-FOUND"            # before: {"detail": "Not Found"}
    assert r.json()["error"]["zh"].startswith("页面不存在") and r.json()["error"]["en"]
    r = anon.get("/no-such-page")
    assert r.status_code == 404 and "页面不存在" in r.text and "<html" in r.text.lower()
    r = login(app, "leader_a").delete("/api/cases")
    assert r.status_code == 405 and _code(r) == "WEB-METHOD" and r.json()["error"]["zh"] == "不支持该请求方法"


def test_other_department_case_answers_like_a_missing_one(app):
    """A 科主任 probing case keys cannot tell an existing case of another department from a missing one: same
    status, code and text (before: 403 for an existing one, 404 for a missing one); the probe is audit-logged."""
    card1 = login(app, "card1")
    h, mrn, adm = case_of_dept(app, OTHER_DEPT)
    other = card1.get(f"/api/cases/{h}/{mrn}/{adm}")
    missing = card1.get(f"/api/cases/{h}/NO-SUCH-MRN/{adm}")
    assert other.status_code == missing.status_code == 404
    assert _code(other) == _code(missing) == "WEB-NOT-FOUND"
    assert other.json()["error"]["zh"].replace(mrn, "X") == missing.json()["error"]["zh"].replace("NO-SUCH-MRN", "X")
    assert card1.get(f"/case/{h}/{mrn}/{adm}").status_code == 404
    denied = [a for a in audit_rows(app, username="card1", action="denied") if mrn in a.target]
    assert len(denied) == 2 and all(json.loads(a.filters)["code"] == "WEB-FORBIDDEN-CASE" for a in denied)
    assert not [a for a in audit_rows(app, username="card1", action="denied") if "NO-SUCH-MRN" in a.target]
    h, mrn, adm = case_of_dept(app, OWN_DEPT)
    assert card1.get(f"/api/cases/{h}/{mrn}/{adm}").status_code == 200


# ---- item 8: identifiers -------------------------------------------------------------------------------------

def test_birth_date_is_year_only_beside_a_masked_id_number(app):
    """Masked ID 330***********1234 keeps 7 digits; a full birth date beside it gave 8 more (15 of 18). Masked
    roles now see the birth year only; roles that see identifiers see the date."""
    h, mrn, adm = case_of_dept(app, OWN_DEPT)
    [(birth, idno)] = wh_sql(app, "select birth_date, id_number from discharge where hospital_id = ? and mrn = ? "
                                  "and admission_no = ?", [h, mrn, adm])
    rec = login(app, "leader_a").get(f"/api/cases/{h}/{mrn}/{adm}").json()["record"]
    assert rec["birth_date"] == f"{birth.year}-**-**"
    assert "*" in rec["id_number"] and str(birth).replace("-", "") not in rec["id_number"]
    page = login(app, "leader_a").get(f"/case/{h}/{mrn}/{adm}").text
    assert str(birth) not in page
    assert login(app, "admin").get(f"/api/cases/{h}/{mrn}/{adm}").json()["record"]["birth_date"] == str(birth)


def _reject_file(demo_folder, tmp_path) -> tuple[bytes, str, str, str]:
    """3 records: row 3 has an extra field (IMP-COLS: the raw line, with name and ID number, is the reject's
    value), row 4 an impossible birth date 1990-13-45 (IMP-DATE on 出生日期)."""
    raw = {}

    def edit(header, rows):
        i_name, i_id, i_birth = header.index("XM"), header.index("SFZH"), header.index("CSRQ")
        rows[1][i_name], rows[1][i_id] = "欧阳秘密", "330102199001011234"
        rows[1].append("多余的字段")
        rows[2][i_birth] = "1990-13-45"
        raw.update(name=rows[1][i_name], id=rows[1][i_id])
    data = _discharge_csv(demo_folder, tmp_path, 3, "REJ", edit)
    return data, raw["name"], raw["id"], "1990-13-45"


@pytest.mark.parametrize("user, masked", [("ops", True), ("records", False)])
def test_reject_rows_are_masked_by_role_and_audit_logged(app, demo_folder, tmp_path, user, masked):
    client = login(app, user)
    data, name, idno, birth = _reject_file(demo_folder, tmp_path)
    r = _upload(client, f"rej-{user}.csv", data)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    rejects = {x["code"]: x for x in job["rejects"]}
    assert set(rejects) == {"IMP-COLS", "IMP-DATE"}
    cols, date = rejects["IMP-COLS"], rejects["IMP-DATE"]
    text = json.dumps(job["rejects"], ensure_ascii=False)
    if masked:   # before: the raw line with the patient's name and ID number, and the birth date, were shown
        assert name not in text and idno not in text and birth not in text
        assert cols["value"].startswith("〔") and cols["row_no"] == 3
        assert date["value"] == "1990-**-**" and date["field"] == "birth_date"
    else:
        assert name in cols["value"] and idno in cols["value"] and date["value"] == birth
    [view] = [a for a in audit_rows(app, username=user, action="reject_view") if a.target == f"job {job['id']}"]
    assert view.rows == 2 and json.loads(view.filters)["masked"] is masked


# ---- item 9: uploads -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["..", ".", "../../etc/passwd.csv", "a\\b.csv", "a:b.csv", "x" * 250 + ".csv"])
def test_invalid_file_names_are_refused_not_500(app, ops, name):
    r = _upload(ops, name, b"BAH,ZYCS\n1,1\n")
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-NAME", r.text      # before: 500 for ".."
    assert "文件名无效" in r.json()["error"]["zh"]


def test_unsupported_type_and_non_csv_content_are_named(app, ops):
    r = _upload(ops, "report.pdf", b"%PDF-1.4 ...")
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-TYPE"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    r = _upload(ops, "首页.csv", buf.getvalue())          # an .xlsx saved with a .csv name
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-NOT-CSV"
    assert "Excel (.xlsx)" in r.json()["error"]["zh"] and ".xlsx" in r.json()["error"]["en"]
    r = _upload(ops, "scan.csv", b"\x89PNG\r\n\x1a\n....")
    assert r.status_code == 400 and "PNG 图片" in r.json()["error"]["zh"]
    r = _upload(ops, "data.xlsx", b"BAH,ZYCS\n1,1\n")
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-NOT-XLSX"
    assert _stored(app) == []


def test_header_is_checked_before_the_file_is_stored(app, ops):
    """A CSV whose header has no key column is refused from its first chunk (before: stored and queued; the job
    failed later). The message is the importer's own (same rule)."""
    r = _upload(ops, "wrong.csv", "姓名,性别\n张三,1\n".encode("utf-8") + b"x" * 100)
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-HEADER"
    assert "缺少必需列【病案号】" in r.json()["error"]["zh"]
    assert _stored(app) == []


def test_size_limit(app, ops, demo_folder, tmp_path):
    data = _discharge_csv(demo_folder, tmp_path, 2, "BIG")
    big = data + b"," * ((1 << 20) + 10)              # upload_max_mb = 1 (a data row can be huge: one cell)
    r = _upload(ops, "big.csv", big)
    assert r.status_code == 413 and _code(r) == "WEB-UPLOAD-SIZE" and "1 MB" in r.json()["error"]["zh"]
    assert _stored(app) == []


def test_request_body_limit_refuses_before_reading(app, ops):
    # the whole request may hold upload_max_files (2) × upload_max_mb (1) + 1 MB: 4 MB is refused by length
    r = _upload(ops, "huge.csv", b"BAH\n" + b"1\n" * (2 << 20))
    assert r.status_code == 413 and _code(r) == "WEB-UPLOAD-SIZE" and "每个文件 1 MB" in r.json()["error"]["zh"]


def test_row_and_cell_limits(app, ops, demo_folder, tmp_path):
    r = _upload(ops, "rows.csv", _discharge_csv(demo_folder, tmp_path, ROWS + 1, "ROW"))
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-ROWS" and f"{ROWS:,}" in r.json()["error"]["zh"]
    # 13 rows: within the row limit (20) but 13 × columns > upload_max_cells (12 × columns)
    r = _upload(ops, "cells.csv", _discharge_csv(demo_folder, tmp_path, COLS_FACTOR + 1, "CEL"))
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-CELLS"
    assert _stored(app) == []


def _xlsx(rows: int) -> bytes:
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["BAH", "ZYCS", "ZZJGDM"])
    for n in range(rows):
        ws.append([f"X{n}", 1, "H001"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_expansion_is_refused_from_the_zip_directory(app, ops):
    """A small .xlsx whose parts expand far beyond their size (a 1.7 MB file expanding to 421 MB ran for
    minutes): refused from the declared sizes, before any parser opens it."""
    src = zipfile.ZipFile(io.BytesIO(_xlsx(2)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":   # 8 MB of whitespace inside the sheet
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (8 << 20))
            z.writestr(info.filename, data)
    bomb = buf.getvalue()
    assert len(bomb) < 100_000
    r = ops.post("/api/imports", data={"kind": "discharge"}, files={"files": ("bomb.xlsx", bomb, "application/zip")})
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-XLSX-EXPANSION", r.text
    assert "解压后" in r.json()["error"]["zh"]
    assert _stored(app) == []


def test_xlsx_row_stream_stops_at_the_row_limit(app, ops):
    r = ops.post("/api/imports", data={"kind": "discharge"},
                 files={"files": ("many.xlsx", _xlsx(ROWS + 5), "application/zip")})
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-ROWS"
    assert _stored(app) == []


def test_refused_uploads_are_audit_logged(app):
    client = login(app, "admin")
    _upload(client, "..", b"x")
    _upload(client, "h.csv", "姓名\n张三\n".encode())
    _upload(client, "z.csv", b"PK\x03\x04rest")
    rows = audit_rows(app, username="admin", action="upload_refused")
    assert [json.loads(a.filters)["code"] for a in rows] == ["WEB-UPLOAD-NAME", "WEB-UPLOAD-HEADER",
                                                            "WEB-UPLOAD-NOT-CSV"]
    assert [a.target for a in rows] == ["import ..", "import h.csv", "import z.csv"]
    assert all(a.client_ip == "testclient" and a.role == "admin" for a in rows)


def test_uploaded_file_is_deleted_after_import(app, ops, demo_folder, tmp_path):
    r = _upload(ops, "ok.csv", _discharge_csv(demo_folder, tmp_path, 2, "DEL"))
    assert r.status_code == 202, r.text
    job = wait_job(ops, r.json()["id"])
    assert job["status"] == "done" and job["result"]["inserted"] == 2
    assert _stored(app) == []                         # before: <id>__ok.csv stayed in the uploads folder
    assert wh_sql(app, "select count(*) from discharge where mrn like 'DEL%'")[0][0] == 2


def test_uploads_of_a_killed_server_process_are_swept(app, ops, demo_folder, tmp_path):
    """An upload stored by a server process that died before importing it (named yunying-<pid>-…) is removed at the
    next upload; files of live processes and files named otherwise stay."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    folder = app.state.ctx.settings.uploads
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"yunying-{dead}-0123456789ab__left.csv").write_bytes(b"x" * 1000)
    (folder / "keep-me.txt").write_text("not ours", encoding="utf-8")
    r = _upload(ops, "ok.csv", _discharge_csv(demo_folder, tmp_path, 1, "SWP"))
    assert r.status_code == 202, r.text
    assert wait_job(ops, r.json()["id"])["status"] == "done"
    assert _stored(app) == ["keep-me.txt"]
    (folder / "keep-me.txt").unlink()


def test_two_files_in_one_upload_are_accepted_whole_or_not_at_all(app, ops, demo_folder, tmp_path):
    good = _discharge_csv(demo_folder, tmp_path, 2, "TWO")
    r = ops.post("/api/imports", data={"kind": "discharge"},
                 files=[("files", ("good.csv", good, "text/csv")), ("files", ("bad.pdf", b"%PDF", "text/csv"))])
    assert r.status_code == 400 and _code(r) == "WEB-UPLOAD-TYPE"
    assert _stored(app) == []
    assert wh_sql(app, "select count(*) from discharge where mrn like 'TWO%'")[0][0] == 0


def test_import_form_shows_the_refusal_as_a_page(app):
    client = login(app, "ops")
    r = client.post("/import", data={"kind": "discharge", "csrf_token": client.headers["X-CSRF-Token"]},
                    files={"files": ("扫描件.csv", b"%PDF-1.7 ...", "text/csv")})
    assert r.status_code == 400 and "WEB-UPLOAD-NOT-CSV" in r.text and "PDF 文件" in r.text
    assert _stored(app) == []
