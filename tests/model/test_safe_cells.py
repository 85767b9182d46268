"""Formula injection (issue 15 item 7): exported text cells that a spreadsheet would execute are neutralised in
CSV (leading apostrophe) and stored as strings in xlsx; numbers stay numbers; masking never keeps a trigger."""

from __future__ import annotations

import csv
import io

import duckdb
import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from yunying.model.privacy import mask_value
from yunying.model.safe_cells import csv_writer, neutralise, sql_neutralised, xlsx_no_formulas

HOSTILE = ['=HYPERLINK("http://x","点我")', "+cmd|'/C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_gets_an_apostrophe(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["-12.5", "+3", "-", "12%", "张三", "", -12.5, 7, None, "a=b"])
def test_numbers_and_ordinary_text_unchanged(value):
    assert neutralise(value) == value


def test_csv_writer_neutralises_every_cell():
    buf = io.StringIO()
    csv_writer(buf).writerow(HOSTILE + [-1, "-1"])
    row = next(csv.reader(io.StringIO(buf.getvalue())))
    assert row == ["'" + t for t in HOSTILE] + ["-1", "-1"]


def test_xlsx_cells_are_strings_not_formulas(tmp_path):
    wb = Workbook()
    wb.active.append(["=1+1", "=HYPERLINK(\"http://x\")", 3])
    xlsx_no_formulas(wb)
    wb.save(tmp_path / "x.xlsx")
    ws = load_workbook(tmp_path / "x.xlsx").active
    assert [c.data_type for c in ws[1]] == ["s", "s", "n"]
    assert [c.value for c in ws[1]] == ["=1+1", "=HYPERLINK(\"http://x\")", 3]


def test_duckdb_copy_neutralised(tmp_path):
    con = duckdb.connect()
    sql = "select '=1+1' as a, '-3' as b, -5 as n, '正常' as c, null::varchar as d"
    out = tmp_path / "o.csv"
    con.execute(f"copy ({sql_neutralised(con, sql)}) to '{out}' (header)")
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows == [{"a": "'=1+1", "b": "-3", "n": "-5", "c": "正常", "d": ""}]


@pytest.mark.parametrize("kind,value", [("name", "=cmd"), ("phone", "+8613800000000"), ("id", "-110101199001011234"),
                                        ("address", "@北京市朝阳区某街道")])
def test_masking_never_keeps_a_trigger(kind, value):
    masked = mask_value(kind, value)
    assert masked[0] == "*" and len(masked) == len(mask_value(kind, "x" + value[1:]))


def test_cli_sql_output_is_neutralised(tmp_path):
    from yunying.cli.main import app
    from yunying.warehouse.db import connect

    db = tmp_path / "w.duckdb"
    connect(db).close()
    out = tmp_path / "q.csv"
    r = CliRunner().invoke(app, ["sql", "--db", str(db), "--output", str(out),
                                 "select '=HYPERLINK(\"x\")' as link, -4 as n"])
    assert r.exit_code == 0, r.stderr
    assert list(csv.reader(out.open(encoding="utf-8-sig"))) == [["link", "n"], ["'=HYPERLINK(\"x\")", "-4"]]
