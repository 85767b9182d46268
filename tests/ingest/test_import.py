"""Import contract (issue 2): validation, quarantine, reject file, atomic and idempotent loads, bad input.

Fixtures are tiny 首页 files written here as literals; expected counts are worked out by reading them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from yunying.cli.main import app
from yunying.ingest.engine import import_files
from yunying.warehouse.db import connect

runner = CliRunner()

HEADER = "ZZJGDM,BAH,ZYCS,XM,XB,CSRQ,NL,RYSJ,CYSJ,CYKB,SJZYTS,LYFS,JBDM,ZYZD,RYBQ,JBDM1,QTZD1,RYBQ1,SSJCZBM1,SSJCZRQ1,SSJB1,ZFY,XYF"
GOOD = [
    "H1,A001,1,张三,1,1960-03-01,62,2022-03-01 08:00:00,2022-03-09 10:00:00,0302,8,1,J18.900,肺炎,1,I10.x00,高血压,1,,,,8000.00,2400.00",
    "H1,A002,1,李四,2,1985-07-12,36,2022-03-02 09:30:00,2022-03-06 11:00:00,0401,4,1,K35.800,急性阑尾炎,1,,,,47.0901,2022-03-02 15:00:00,2,12000.00,1500.00",
    "H1,A003,2,王五,1,1950-01-01,72,2022-03-05,2022-03-20,0302,15,5,I63.900,脑梗死,1,J18.900,肺炎,4,,,,30000.00,9000.00",
]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def run_import(db: Path, *files: Path, extra: tuple = ()) -> tuple[int, dict]:
    result = runner.invoke(app, ["import", "discharge", *map(str, files), "--db", str(db), "--json", *extra])
    try:
        return result.exit_code, json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON on stdout: {result.stdout!r} {result.stderr!r}")


def rows(db: Path, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_gb18030_import_loads_rows_children_and_log(tmp_path, db):
    f = write(tmp_path / "d.csv", [HEADER, *GOOD], "gb18030")
    code, out = run_import(db, f)
    assert code == 0
    assert (out["inserted"], out["updated"], out["rejected"], out["reject_file"]) == (3, 0, 0, None)
    assert out["files"][0]["encoding"] == "gb18030"
    assert rows(db, "select patient_name, los_days, fee_total from discharge where mrn='A001'") == \
        [("张三", 8, pytest.approx(8000))]
    # A001: principal + 1 other; A002: principal only; A003: principal + 1 other = 5 diagnosis rows
    assert rows(db, "select count(*) from discharge_diagnosis") == [(5,)]
    assert rows(db, "select dx_code, poa from discharge_diagnosis where mrn='A003' and seq=1") == [("J18.900", "4")]
    assert rows(db, "select seq, px_code, level, px_time::varchar from discharge_procedure") == \
        [(1, "47.0901", "2", "2022-03-02 15:00:00")]
    assert rows(db, "select kind, file_name, status, inserted, rejected, length(file_sha256) from import_log") == \
        [("discharge", "d.csv", "ok", 3, 0, 64)]
    assert rows(db, "select hospital_id from hospital") == [("H1",)]


def test_reimport_is_idempotent_and_updates(tmp_path, db):
    f = write(tmp_path / "d.csv", [HEADER, *GOOD])
    run_import(db, f)
    code, out = run_import(db, f)
    assert (code, out["inserted"], out["updated"]) == (0, 0, 3)
    assert rows(db, "select count(*) from discharge") == [(3,)]
    assert rows(db, "select count(*) from discharge_diagnosis") == [(5,)]
    # a corrected record replaces the old one, including its child rows
    changed = GOOD[0].replace(",8000.00,", ",8100.00,").replace("I10.x00,高血压,1", ",,")
    g = write(tmp_path / "e.csv", [HEADER, changed])
    code, out = run_import(db, g)
    assert (out["inserted"], out["updated"]) == (0, 1)
    assert rows(db, "select fee_total from discharge where mrn='A001'") == [(pytest.approx(8100),)]
    assert rows(db, "select count(*) from discharge_diagnosis where mrn='A001'") == [(1,)]


def test_bad_rows_are_quarantined_and_explained(tmp_path, db):
    bad = [
        "H1,,1,缺病案号,1,1960-03-01,62,2022-03-01,2022-03-02,0302,1,1,J18.900,肺炎,1,,,,,,,100,10",     # line 5: key
        "H1,B002,1,坏日期,1,1960-03-01,62,2022-13-01,2022-03-02,0302,1,1,J18.900,肺炎,1,,,,,,,100,10",   # line 6: date
        "H1,B003,1,倒序,1,1960-03-01,62,2022-03-05,2022-03-02,0302,1,1,J18.900,肺炎,1,,,,,,,100,10",     # line 7: order
        "H1,B004,1,非数字,1,1960-03-01,62,2022-03-01,2022-03-02,0302,1,1,J18.900,肺炎,1,,,,,,,一百,10",  # line 8: fee
        "H1,B005,1,截断,1,1960-03-01",                                                                    # line 9: cut
    ]
    f = write(tmp_path / "d.csv", [HEADER, *GOOD, *bad])
    code, out = run_import(db, f)
    assert code == 0
    assert (out["inserted"], out["rejected"]) == (3, 5)
    with open(out["reject_file"], encoding="utf-8-sig") as fh:
        reader = list(csv.DictReader(fh))
    by_line = {int(r["行号 row"]): r for r in reader}
    assert sorted(by_line) == [5, 6, 7, 8, 9]
    assert by_line[5]["错误码 code"] == "IMP-KEY" and "病案号" in by_line[5]["原因"]
    assert by_line[6]["错误码 code"] == "IMP-DATE" and by_line[6]["值 value"] == "2022-13-01"
    assert "入院时间" in by_line[6]["原因"] and "not a valid date" in by_line[6]["reason"]
    assert by_line[7]["错误码 code"] == "IMP-DATE-ORDER"
    assert by_line[8]["错误码 code"] == "IMP-NUMBER" and by_line[8]["字段 field"] == "fee_total"
    assert by_line[9]["错误码 code"] == "IMP-COLS"
    # quarantine keeps the whole original row
    raw = rows(db, "select raw_record from import_reject where row_no = 8")[0][0]
    assert json.loads(raw)["ZFY"] == "一百"
    assert rows(db, "select count(*) from import_reject") == [(5,)]


def test_duplicate_keys_in_one_file(tmp_path, db):
    conflicting = GOOD[0].replace(",8000.00,", ",9999.00,")
    f = write(tmp_path / "d.csv", [HEADER, GOOD[0], GOOD[1], GOOD[1], conflicting])
    code, out = run_import(db, f)
    # A002 twice, identical -> loaded once; A001 twice with different fees -> both rejected
    assert (out["inserted"], out["rejected"], out["unchanged_duplicates"]) == (1, 2, 1)
    assert rows(db, "select mrn from discharge") == [("A002",)]
    assert rows(db, "select row_no, code from import_reject order by row_no") == [(2, "IMP-DUP"), (5, "IMP-DUP")]


def test_empty_file_and_header_only(tmp_path, db):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    code, out = run_import(db, empty)
    assert code == 1 and out["files"][0]["error_code"] == "IMP-EMPTY"
    assert "文件为空" in out["files"][0]["message"]
    head = write(tmp_path / "head.csv", [HEADER])
    code, out = run_import(db, head)
    assert code == 0 and out["inserted"] == 0
    assert any("只有表头" in n for n in out["files"][0]["notes"])


def test_missing_key_column_is_refused_with_accepted_headers(tmp_path, db):
    f = write(tmp_path / "d.csv", [HEADER.replace("BAH,", "XXX,"), *GOOD])
    code, out = run_import(db, f)
    assert code == 1
    res = out["files"][0]
    assert res["error_code"] == "IMP-MISSING-COLUMN"
    assert "病案号" in res["message"] and "BAH" in res["message"]
    assert rows(db, "select count(*) from discharge") == [(0,)]


def test_hospital_from_option_when_file_has_none(tmp_path, db):
    header = HEADER.replace("ZZJGDM,", "")
    f = write(tmp_path / "d.csv", [header, *[g.split(",", 1)[1] for g in GOOD]])
    code, out = run_import(db, f)
    assert code == 1 and "--hospital" in out["files"][0]["message"]
    code, out = run_import(db, f, extra=("--hospital", "H9"))
    assert code == 0 and out["inserted"] == 3
    assert rows(db, "select distinct hospital_id from discharge") == [("H9",)]


def test_unknown_columns_are_reported_not_fatal(tmp_path, db):
    f = write(tmp_path / "d.csv", [HEADER + ",备注,EXTRA1", *[g + ",x,y" for g in GOOD]])
    code, out = run_import(db, f)
    assert code == 0 and out["inserted"] == 3
    assert out["files"][0]["unknown_columns"] == ["备注", "EXTRA1"]


def test_mixed_encoding_rows_are_rejected_with_line_numbers(tmp_path, db):
    data = (HEADER + "\n" + GOOD[0] + "\n").encode("utf-8") + (GOOD[1] + "\n").encode("gb18030") + \
        (GOOD[2] + "\n").encode("utf-8")
    f = tmp_path / "mixed.csv"
    f.write_bytes(data)
    code, out = run_import(db, f)
    assert code == 0
    assert (out["inserted"], out["rejected"]) == (2, 1)
    assert rows(db, "select row_no, code from import_reject") == [(3, "IMP-ENCODING")]
    assert any("混有" in n for n in out["files"][0]["notes"])


def test_wrong_forced_encoding_gives_clear_message(tmp_path, db):
    f = write(tmp_path / "d.csv", [HEADER, *GOOD], "gb18030")
    code, out = run_import(db, f, extra=("--encoding", "utf-8"))
    # every data row has Chinese text in GB18030: rows are rejected as not UTF-8, nothing half-loaded
    assert out["inserted"] == 0 and out["rejected"] == 3
    assert set(r[0] for r in rows(db, "select code from import_reject")) == {"IMP-ENCODING"}


def test_utf8_bom_xlsx_and_parquet(tmp_path, db):
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    bom = write(tmp_path / "bom.csv", [HEADER, GOOD[0]], "utf-8-sig")
    code, out = run_import(db, bom)
    assert out["files"][0]["encoding"] == "utf-8-sig" and out["inserted"] == 1

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    import datetime as dtm
    vals = GOOD[1].split(",")
    vals[2] = 1                                        # ZYCS as a number cell
    vals[7] = dtm.datetime(2022, 3, 2, 9, 30)          # RYSJ as a date cell
    ws.append(vals)
    ws.append([])                                      # blank line is skipped
    ws.append(GOOD[2].replace("2022-03-20", "not-a-date").split(","))
    wb.save(tmp_path / "d.xlsx")
    code, out = run_import(db, tmp_path / "d.xlsx")
    assert (out["inserted"], out["rejected"]) == (1, 1)
    assert rows(db, "select row_no, code from import_reject") == [(4, "IMP-DATE")]   # Excel row 4
    assert rows(db, "select admit_time::varchar from discharge where mrn='A002'") == [("2022-03-02 09:30:00",)]

    cols = HEADER.split(",")
    table = pa.table({c: [g.split(",")[i] or None for g in GOOD] for i, c in enumerate(cols)})
    pq.write_table(table, tmp_path / "d.parquet")
    code, out = run_import(db, tmp_path / "d.parquet")
    assert (out["inserted"], out["updated"]) == (1, 2)   # A001, A002 exist already; A003 new
    assert rows(db, "select count(*) from discharge") == [(3,)]


def test_chinese_headers_and_user_profile(tmp_path, db):
    zh = write(tmp_path / "zh.csv", ["医疗机构代码,病案号,住院次数,性别,入院日期,出院日期,出院科室,主要诊断编码,总费用",
                                     "H2,C1,1,男,2022/3/1 8:00,2022/3/4,0302,J18.900,1234.5"])
    code, out = run_import(db, zh)
    assert out["inserted"] == 1 and out["files"][0]["profile"] == "chinese-titles"
    assert rows(db, "select sex, los_days, admit_time::varchar, fee_total from discharge") == \
        [("1", None, "2022-03-01 08:00:00", pytest.approx(1234.5))]
    assert rows(db, "select dx_code from discharge_diagnosis") == [("J18.900",)]

    prof = tmp_path / "his-x.yaml"
    prof.write_text("name: his-x\nkind: discharge\ncolumns:\n  JGDM: hospital_id\n  ZYH: mrn\n  CS: admission_no\n"
                    "  CYRQ: discharge_time\nrepeats:\n  discharge_diagnosis:\n"
                    "    - {dx_type: W, seq: 0, dx_code: ZDBM}\n", encoding="utf-8")
    his = write(tmp_path / "his.csv", ["JGDM,ZYH,CS,CYRQ,ZDBM", "H2,C2,1,20220305,K35.800"])
    code, out = run_import(db, his, extra=("--profile", str(prof)))
    assert out["inserted"] == 1 and out["files"][0]["profile"] == "his-x"
    assert rows(db, "select discharge_time::varchar from discharge where mrn='C2'") == [("2022-03-05 00:00:00",)]


def test_domain_and_required_warnings_store_the_row(tmp_path, db):
    odd = GOOD[0].replace(",1,J18.900", ",7,J18.900")          # LYFS = 7: outside RC019
    f = write(tmp_path / "d.csv", [HEADER, odd])
    code, out = run_import(db, f)
    assert out["inserted"] == 1 and out["warnings"] == 1
    assert rows(db, "select field, value, code from import_warning") == [("discharge_disposition", "7", "IMP-DOMAIN")]
    assert rows(db, "select discharge_disposition from discharge") == [("7",)]


def test_failed_load_rolls_back_everything(tmp_path, db, monkeypatch):
    f = write(tmp_path / "d.csv", [HEADER, *GOOD])
    run_import(db, f)
    from yunying.ingest import engine

    def boom(self, *a, **k):
        raise duckdb.IOException("disk full (simulated)")

    monkeypatch.setattr(engine.Importer, "_issue_sql", boom)  # fails after rows were inserted
    changed = [g.replace("H1,", "H1,", 1).replace(",8000.00,", ",1.00,") for g in GOOD]
    g = write(tmp_path / "e.csv", [HEADER, *changed, "H1,NEW,1,x,1,1960-01-01,1,2022-01-01,2022-01-02,1,1,1,A,B,1,,,,,,,1,1"])
    con = connect(db)
    summary = import_files(con, "discharge", [g], reject_dir=tmp_path)
    con.close()
    assert summary.files[0].status == "failed" and "回滚" in summary.files[0].message
    assert rows(db, "select count(*), sum(fee_total) from discharge") == [(3, pytest.approx(50000))]
    assert rows(db, "select status from import_log order by import_id") == [("ok",), ("failed",)]


def test_stats_and_sql_commands(tmp_path, db):
    run_import(db, write(tmp_path / "d.csv", [HEADER, *GOOD]))
    r = runner.invoke(app, ["stats", "--db", str(db), "--json"])
    assert r.exit_code == 0
    t = json.loads(r.stdout)["tables"]
    assert (t["discharge"], t["discharge_diagnosis"], t["import_log"]) == (3, 5, 1)
    r = runner.invoke(app, ["sql", "--db", str(db), "select mrn, los_days from discharge order by mrn"])
    assert r.stdout.splitlines() == ["mrn,los_days", "A001,8", "A002,4", "A003,15"]
    r = runner.invoke(app, ["sql", "--db", str(db), "delete from discharge"])
    assert r.exit_code == 1 and "只读" in r.stderr
    assert rows(db, "select count(*) from discharge") == [(3,)]


def test_unknown_kind_and_missing_db(tmp_path):
    r = runner.invoke(app, ["import", "nonsense", str(tmp_path / "x.csv"), "--db", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 2 and "未知的数据类型" in r.stderr
    r = runner.invoke(app, ["stats", "--db", str(tmp_path / "none.duckdb")])
    assert r.exit_code == 2 and "仓库文件不存在" in r.stderr


def test_parallel_transcoding_reports_global_line_numbers(tmp_path, db, monkeypatch):
    """Large GB18030 files are decoded in pieces; an undecodable byte is still reported at its file line."""
    from yunying.ingest import readers

    monkeypatch.setattr(readers, "PARALLEL_MIN", 0)
    lines = [HEADER] + [GOOD[0].replace("A001", f"P{i:05d}") for i in range(400)]
    data = ("\n".join(lines) + "\n").encode("gb18030")
    cut = data.index(b"P00300")                       # line 302 (header is line 1) starts here
    data = data[:cut] + b"\x80\xff" + data[cut:]      # bytes no GB18030 sequence allows
    f = tmp_path / "big.csv"
    f.write_bytes(data)
    code, out = run_import(db, f, extra=("--encoding", "gb18030"))
    assert code == 1
    assert out["files"][0]["error_code"] == "IMP-ENCODING" and "第 302 行" in out["files"][0]["message"]
    assert rows(db, "select count(*) from discharge") == [(0,)]
    f.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    code, out = run_import(db, f)
    assert (code, out["inserted"]) == (0, 400)


def test_line_numbers_stay_right_after_a_broken_line_in_a_long_file(tmp_path, db):
    body = [GOOD[0].replace("A001", f"L{i:06d}") for i in range(30000)]
    body[15000] = "H1,BROKEN,1"                         # line 15002: too few fields
    body[25000] = body[25000].replace(",8000.00,", ",八千,")   # line 25002: bad fee
    f = write(tmp_path / "long.csv", [HEADER, *body])
    code, out = run_import(db, f)
    assert (out["inserted"], out["rejected"]) == (29998, 2)
    assert rows(db, "select row_no, code, record_key from import_reject order by row_no") == \
        [(15002, "IMP-COLS", None), (25002, "IMP-NUMBER", "H1|L025000|1")]


@pytest.mark.slow
def test_a_200_mb_file_streams_through(tmp_path, db):
    """About 200 MB of GB18030 text: imported with bounded memory; one bad row among them is explained."""
    line = (GOOD[0] + ",").encode("gb18030")
    head = (HEADER + ",备注\n").encode("gb18030")
    pad = ("说明" * 300).encode("gb18030")             # a long free-text column, as HIS exports have
    f = tmp_path / "big.csv"
    n = 0
    with open(f, "wb") as fh:
        fh.write(head)
        while fh.tell() < 200 * 2**20:
            block = b"".join(line.replace(b"A001", f"M{n + i:07d}".encode()) + pad + b"\n" for i in range(1000))
            fh.write(block)
            n += 1000
    with open(f, "ab") as fh:
        fh.write(line.replace(b"2022-03-09 10:00:00", b"2022-02-30 10:00:00").replace(b"A001", b"BADDATE") + b"x\n")
    assert f.stat().st_size > 200 * 2**20
    code, out = run_import(db, f)
    assert code == 0
    assert (out["inserted"], out["rejected"]) == (n, 1)
    assert rows(db, "select row_no, code from import_reject") == [(n + 2, "IMP-DATE")]
    assert rows(db, "select count(*) from discharge_diagnosis") == [(2 * n,)]


@pytest.mark.parametrize("name,content,code", [
    ("garbage.csv", bytes(range(256)) * 20, "IMP-ENCODING-GUESS"),   # not text in any encoding we read
    ("blank.csv", b"\n\n\n", "IMP-NOHEADER"),
    ("badquote.csv", b'BAH,ZYCS\n"A,1\n', "IMP-QUOTE"),             # line 2 opens a quote never closed
    ("fake.xlsx", b"PK not really a zip", "IMP-XLSX"),
    ("fake.parquet", b"PAR1 not really parquet", "IMP-PARQUET"),
    ("old.xls", b"\xd0\xcf\x11\xe0", "IMP-XLS"),
])
def test_unreadable_files_fail_cleanly(tmp_path, db, name, content, code):
    f = tmp_path / name
    f.write_bytes(content)
    r = runner.invoke(app, ["import", "discharge", str(f), "--db", str(db), "--hospital", "H1", "--json"])
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["files"][0]["error_code"] == code
    assert "Traceback" not in r.stdout + r.stderr
    assert rows(db, "select status from import_log") == [("failed",)]
