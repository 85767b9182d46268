"""Bad input to `yunying import` (issue 15): every class of broken file gets its own error code and a message,
never a traceback; a refused file leaves the warehouse exactly as it was (fingerprint of every table before and
after); the files after it in the same command still load.

Corpus: small text files in tests/badinput/corpus/ (named after their class); large or binary files (damaged
xlsx, a 10 MB field, Big5, mixed encodings, random bytes) are generated here. The 3 GOOD records (A001–A003) come
from tests/ingest/test_import.py.
"""

from __future__ import annotations

import errno
import io
import json
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest
from typer.testing import CliRunner

from tests.badinput.helpers import fingerprint, log_rows
from tests.ingest.test_import import GOOD, HEADER, write
from yunying.cli.main import app

CORPUS = Path(__file__).parent / "corpus"
runner = CliRunner()


def invoke(db: Path, *args) -> tuple[int, dict, str]:
    r = runner.invoke(app, ["import", *map(str, args), "--db", str(db), "--json"])
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    try:
        return r.exit_code, json.loads(r.stdout), r.stderr
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON on stdout (exit {r.exit_code}): {r.stdout!r} {r.stderr!r} {r.exception!r}")


@pytest.fixture
def seeded(tmp_path) -> Path:
    """A warehouse holding the 3 GOOD records (one import)."""
    db = tmp_path / "w.duckdb"
    code, out, _ = invoke(db, "discharge", write(tmp_path / "seed.csv", [HEADER, *GOOD]))
    assert (code, out["inserted"]) == (0, 3)
    return db


def _xlsx_bytes() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    for g in GOOD:
        ws.append(g.split(","))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rezip(data: bytes, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            body = change(info.filename, src.read(info.filename))
            if body is not None:
                z.writestr(info.filename, body)
    return out.getvalue()


def make_truncated_xlsx(d: Path) -> Path:          # a download cut in the middle: not even a zip any more
    f = d / "truncated.xlsx"
    data = _xlsx_bytes()
    f.write_bytes(data[: len(data) // 2])
    return f


def make_sheetless_xlsx(d: Path) -> Path:          # a zip/workbook whose worksheet parts are gone (was IndexError)
    f = d / "sheetless.xlsx"
    f.write_bytes(_rezip(_xlsx_bytes(), lambda n, b: None if n.startswith("xl/worksheets/") else b))
    return f


def make_cut_sheet_xlsx(d: Path) -> Path:          # the sheet XML cut in half (was xml ParseError)
    f = d / "cut-sheet.xlsx"
    f.write_bytes(_rezip(_xlsx_bytes(), lambda n, b: b[: len(b) // 2] if n.startswith("xl/worksheets/") else b))
    return f


def make_random_bytes(d: Path) -> Path:            # no text in any encoding: would be stored as GB18030 mojibake
    f = d / "random.csv"
    f.write_bytes(HEADER.encode() + b"\n" + bytes(range(128, 256)) * 8 + b"\n")
    return f


def corpus(name: str):
    return lambda d: CORPUS / name


# (class, how to get the file, expected error code, words the message must hold)
REFUSED = [
    ("truncated xlsx", make_truncated_xlsx, "IMP-XLSX", "损坏"),
    ("sheet-less xlsx", make_sheetless_xlsx, "IMP-XLSX", "没有工作表"),
    ("cut sheet xml", make_cut_sheet_xlsx, "IMP-XLSX", "ParseError"),
    ("unbalanced quote", corpus("unbalanced-quote.csv"), "IMP-QUOTE", "第 3 行"),
    ("duplicate headers", corpus("duplicate-headers.csv"), "IMP-DUP-HEADER", "第 2、4 列"),
    ("duplicate headers (case, blanks)", corpus("duplicate-headers-case.csv"), "IMP-DUP-HEADER", "第 2、4 列"),
    ("random bytes", make_random_bytes, "IMP-ENCODING-GUESS", "编码"),
    ("missing file", lambda d: d / "no-such-file.csv", "IMP-NOFILE", "找不到文件"),
    ("a folder", lambda d: d, "IMP-NOFILE", "文件夹"),
]


@pytest.mark.parametrize("label,make,code,words", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_file_has_its_code_and_changes_nothing(tmp_path, seeded, label, make, code, words):
    before, log_before = fingerprint(seeded), log_rows(seeded)
    bad = make(tmp_path)
    exit_code, out, _ = invoke(seeded, "discharge", bad)
    assert exit_code == 1 and out["ok"] is False
    f = out["files"][0]
    assert (f["status"], f["error_code"], f["inserted"], f["updated"]) == ("failed", code, 0, 0)
    assert words in f["message"] and " / " in f["message"]          # Chinese first, then English
    assert fingerprint(seeded) == before                              # nothing stored changed
    new = log_rows(seeded)[len(log_before):]
    assert [(r[2], r[3].split()[0]) for r in new] == [("failed", code)]


def test_files_after_a_broken_one_are_still_imported(tmp_path, db):
    """Was: the sheet-less workbook raised IndexError and good.csv (after it on the command line) never loaded."""
    good = write(tmp_path / "good.csv", [HEADER, *GOOD])
    code, out, _ = invoke(db, "discharge", make_sheetless_xlsx(tmp_path), make_cut_sheet_xlsx(tmp_path), good)
    assert code == 1
    assert [(Path(f["file"]).name, f["status"], f["inserted"]) for f in out["files"]] == \
        [("sheetless.xlsx", "failed", 0), ("cut-sheet.xlsx", "failed", 0), ("good.csv", "ok", 3)]
    assert out["inserted"] == 3 and out["failed_files"] == 2


def test_a_10_mb_field_is_one_rejected_line_with_its_number(tmp_path, db):
    """Was: 'CSV Error on Line: 1' from the dialect sniffer and the whole file refused. Line 3 (A002) holds an
    11 MB 主要诊断名称 (> the 10 MB line limit): it alone is rejected; A001 (line 2) and A003 (line 4) load."""
    f = tmp_path / "huge-field.csv"
    big = GOOD[1].replace("急性阑尾炎", "急" * (11 * 2**20 // 3))      # 3 bytes per character in UTF-8
    write(f, [HEADER, GOOD[0], big, GOOD[2]])
    code, out, _ = invoke(db, "discharge", f)
    assert code == 0 and (out["inserted"], out["rejected"]) == (2, 1)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select mrn from discharge order by mrn").fetchall() == [("A001",), ("A003",)]
        (row, rcode, zh, n), = con.execute("select row_no, code, reason_zh, length(value) from import_reject").fetchall()
    finally:
        con.close()
    assert (row, rcode) == (3, "IMP-LINE-SIZE") and "第3行" in zh and "11.0 MB" in zh
    assert n <= 1001                                   # the quarantine keeps the line's start, not 11 MB


def test_unbalanced_quote_message_names_the_line_not_sniffing(tmp_path, db):
    code, out, _ = invoke(db, "discharge", CORPUS / "unbalanced-quote.csv")
    msg = out["files"][0]["message"]
    assert "sniffing" not in msg and "第 3 行" in msg and "line 3" in msg


def test_big5_is_detected_not_stored_as_mojibake(tmp_path, db):
    """Big5 bytes decode as GB18030 without an error, as 朝\\ue610ゅ-like mojibake. The names below are written in
    Big5 (traditional characters); they must be stored as written."""
    trad = {"张三": "陳大文", "李四": "黃小明", "王五": "張偉", "高血压": "高血壓", "急性阑尾炎": "急性闌尾炎", "脑梗死": "腦梗死"}
    lines = []
    for g in GOOD:
        for a, b in trad.items():
            g = g.replace(a, b)
        lines.append(g)
    f = write(tmp_path / "big5.csv", [HEADER, *lines], "big5")
    code, out, _ = invoke(db, "discharge", f)
    assert code == 0 and out["inserted"] == 3 and out["files"][0]["encoding"] == "cp950"
    assert any("Big5" in n for n in out["files"][0]["notes"])
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select patient_name from discharge order by mrn").fetchall() == \
            [("陳大文",), ("黃小明",), ("張偉",)]
        assert con.execute("select dx_name from discharge_diagnosis where mrn = 'A002'").fetchall() == [("急性闌尾炎",)]
    finally:
        con.close()


def test_mixed_encoding_reject_keeps_the_line_readable(tmp_path, db):
    """Line 3 is GB18030 in a UTF-8 file: rejected (IMP-ENCODING) as before, but the quarantine and the reject file
    now hold the line as written (李四, 急性阑尾炎), not '????'."""
    data = (HEADER + "\n" + GOOD[0] + "\n").encode() + (GOOD[1] + "\n").encode("gb18030") + (GOOD[2] + "\n").encode()
    f = tmp_path / "mixed.csv"
    f.write_bytes(data)
    code, out, _ = invoke(db, "discharge", f)
    assert (out["inserted"], out["rejected"]) == (2, 1)
    con = duckdb.connect(str(db), read_only=True)
    try:
        (row, rcode, value, raw), = con.execute("select row_no, code, value, raw_record from import_reject").fetchall()
    finally:
        con.close()
    assert (row, rcode, value) == (3, "IMP-ENCODING", GOOD[1]) and json.loads(raw) == GOOD[1]
    assert GOOD[1] in Path(out["reject_file"]).read_text(encoding="utf-8-sig")


REJECTING = ["H1,,1,缺病案号,1,1960-03-01,62,2022-03-01,2022-03-02,0302,1,1,J18.900,肺炎,1,,,,,,,100,10"]   # IMP-KEY


def test_unwritable_reject_folder_fails_before_commit(tmp_path, seeded):
    """Was: rows committed, then a traceback while writing the reject file. The reject folder here sits under a
    regular file (cannot be created, as on a read-only share): the file with a rejected row fails with
    IMP-REJECT-FILE and stores nothing; a clean file of the same command still loads (it needs no reject file)."""
    (tmp_path / "a-file").write_text("x")
    before = fingerprint(seeded)
    with_reject = write(tmp_path / "new.csv", [HEADER, GOOD[0].replace("A001", "N001"), *REJECTING])
    r = runner.invoke(app, ["import", "discharge", str(with_reject), "--db", str(seeded), "--json",
                            "--reject-dir", str(tmp_path / "a-file" / "rejects")])
    assert "Traceback" not in r.stdout + r.stderr and r.exit_code == 1
    out = json.loads(r.stdout)
    f = out["files"][0]
    assert (f["error_code"], f["inserted"], f["rejected"], out["reject_file"]) == ("IMP-REJECT-FILE", 0, 0, None)
    assert "--reject-dir" in f["message"]
    assert fingerprint(seeded) == before


def test_full_disk_while_writing_rejects_rolls_the_file_back(tmp_path, seeded, monkeypatch):
    """ENOSPC while the reject rows are written: the file is rolled back, the reject file is not left half
    written, and the error says so."""
    from yunying.ingest import engine

    real = engine.write_issue_file

    def full(con, table, ids, path):
        real(con, table, ids, path)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(engine, "write_issue_file", full)
    before = fingerprint(seeded)
    f = write(tmp_path / "new.csv", [HEADER, GOOD[0].replace("A001", "N001"), *REJECTING])
    code, out, _ = invoke(seeded, "discharge", f, "--reject-dir", tmp_path / "rej")
    assert code == 1 and out["files"][0]["error_code"] == "IMP-REJECT-FILE"
    assert "No space left on device" in out["files"][0]["message"]
    assert fingerprint(seeded) == before
    assert list((tmp_path / "rej").glob("*.csv")) == []                # nothing half-written left behind


def test_reject_file_is_complete_for_several_files(tmp_path, db):
    """Rejects of two files of one command go to one reject file (written per file inside its transaction)."""
    a = write(tmp_path / "a.csv", [HEADER, GOOD[0], *REJECTING])
    b = write(tmp_path / "b.csv", [HEADER, GOOD[1], REJECTING[0].replace("缺病案号", "又缺")])
    code, out, _ = invoke(db, "discharge", a, b)
    assert (code, out["inserted"], out["rejected"]) == (0, 2, 2)
    text = Path(out["reject_file"]).read_text(encoding="utf-8-sig").splitlines()
    assert text[0].startswith("文件 file,") and len(text) == 3
    assert [line.split(",")[:2] for line in text[1:]] == [["a.csv", "3"], ["b.csv", "3"]]
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert {r[0] for r in con.execute("select reject_file from import_log").fetchall()} == {out["reject_file"]}
    finally:
        con.close()


def test_json_counts_are_zero_when_the_file_was_rolled_back(tmp_path, db, monkeypatch):
    """Was: `inserted 3` in the JSON although the failure rolled the 3 rows back."""
    from yunying.ingest import engine

    def boom(self, *a, **k):
        raise duckdb.IOException("disk full (simulated)")

    monkeypatch.setattr(engine.Importer, "_issue_sql", boom)          # fails after the rows were inserted
    code, out, _ = invoke(db, "discharge", write(tmp_path / "d.csv", [HEADER, *GOOD]))
    assert code == 1 and out["ok"] is False
    assert (out["inserted"], out["updated"], out["rejected"]) == (0, 0, 0)
    assert out["files"][0]["error_code"] == "IMP-INTERNAL" and "回滚" in out["files"][0]["message"]


def test_json_on_failure_before_any_file(tmp_path):
    """Was: --json printed nothing on stdout when the command failed before importing (unknown kind, warehouse)."""
    code, out, err = invoke(tmp_path / "w.duckdb", "nonsense", tmp_path / "x.csv")
    assert code == 2 and (out["ok"], out["error_code"], out["inserted"], out["files"]) == (False, "IMP-KIND", 0, [])
    assert "未知的数据类型" in out["message"] and "未知的数据类型" in err
    code, out, _ = invoke(tmp_path / "nowhere" / "w.duckdb", "discharge", tmp_path / "x.csv")
    assert code == 2 and out["error_code"] == "WH-NO-FOLDER"
