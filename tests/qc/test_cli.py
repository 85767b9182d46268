"""`yunying qc …` through Typer's CliRunner: run, report (csv/xlsx), rules, explain, check, check-record, dict,
demo_stage; and docs/qc.md's generated rule list is current."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yunying.cli.main import app
from yunying.ingest.engine import import_files
from yunying.warehouse.db import connect

from .helpers import record, write_csv

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    src = write_csv([record("CL0001", SJZYTS="9"), record("CL0002", SFZH="-"),
                     record("CL0003", SFZH="-", diagnoses=[{"code": "W19.x00", "name": "跌倒", "poa": "1"}])],
                    tmp / "d.csv")
    path = tmp / "w.duckdb"
    con = connect(path)
    import_files(con, "discharge", [src], reject_dir=tmp, profile="national")
    con.close()
    return path, src


def ok(args):
    res = runner.invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def test_dict_run_report_explain(db, tmp_path):
    path, _ = db
    assert "dx 317" in ok(["qc", "dict", "import", "--db", path, "--demo"])   # rows of synth/codes/dx_codes.csv
    out = json.loads(ok(["qc", "run", "--db", path, "--json"]))
    assert out["records"] == 3 and out["rules"]["failed"] >= 2
    assert "首页质控：3 份病案" in ok(["qc", "run", "--db", path])
    ok(["qc", "report", "--db", path, "--period", "2022", "--level", "department", "--format", "xlsx",
        "--output", tmp_path / "r.xlsx"])
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "r.xlsx").active
    header = [c.value for c in ws[1]]
    assert header[:5] == ["医疗机构代码", "科室代码", "科室名称", "月份", "检查病案数"]
    total = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[3] == "合计"][0]
    # 3 records: CL0002 100, CL0001 98 (L002), CL0003 92 (D101 8) → all 甲 (≥ 90) → 3 合格, average 96.67
    assert total[4] == 3 and isinstance(total[4], int)
    assert total[header.index("合格病案数")] == 3 and total[header.index("平均分")] == pytest.approx(96.67)
    ok(["qc", "report", "--db", path, "--period", "2022-03", "--level", "doctor", "--format", "csv",
        "--output", tmp_path / "d.csv"])
    rows = list(csv.DictReader(open(tmp_path / "d.csv", encoding="utf-8-sig")))
    assert {r["医师角色"] for r in rows} == {"主治医师", "住院医师"}
    text = ok(["qc", "explain", "--db", path, "--record", "H9|CL0003|1"])
    assert "得分 92.0" in text and "D101" in text
    bad = runner.invoke(app, ["qc", "explain", "--db", str(path), "--record", "H9|NOPE"])
    assert bad.exit_code == 1 and "--record" in bad.output


def test_rules_and_sql_only():
    data = json.loads(ok(["qc", "rules", "--json"]))
    status = {r["key"]: r["status"] for r in data["rules"]}
    assert status["L002"] == "implemented" and status["D102"] == "not_implemented" and status["V014/org"] == "disabled"
    sql = ok(["qc", "run", "--sql-only"])
    assert "-- kind expr_equals" in sql and "insert into qc_finding" in sql
    # row-local kinds as executed: one scan copies the violating rows, every arm then reads only those
    assert "create or replace temp table _qc_viol as select * from _qc_rec s where" in sql and "from _qc_viol s" in sql


def test_check_and_check_record(db, tmp_path):
    _, src = db
    out = ok(["qc", "check", "--input", src, "--output", tmp_path / "f.csv", "--summary", tmp_path / "s.csv",
              "--demo-dict"])
    assert "检查 3 份病案" in out
    rows = list(csv.DictReader(open(tmp_path / "f.csv", encoding="utf-8-sig")))
    assert {(r["BAH"], r["rule_id"]) for r in rows} >= {("CL0001", "L002"), ("CL0003", "D101")}
    res = json.loads(ok(["qc", "check-record", "--json", json.dumps(record("CR0001", SJZYTS="2")), "--demo-dict"]))
    assert [(f["rule_id"], f["field"]) for f in res["findings"]] == [("L002", "SJZYTS")]
    assert res["score"] == 98.0 and res["grade"] == "甲" and res["n_error"] == 1       # 5 d, not 2: −2 points
    # several records from a file: one result each, in order
    (tmp_path / "recs.json").write_text(json.dumps({"records": [record("CR0002", SJZYTS="2"), record("CR0003")]}),
                                        encoding="utf-8")
    many = json.loads(ok(["qc", "check-record", "--file", tmp_path / "recs.json", "--demo-dict"]))
    assert [(r["BAH"], r["score"]) for r in many["records"]] == [("CR0002", 98.0), ("CR0003", 100.0)]
    bad = runner.invoke(app, ["qc", "check-record", "--json", "{not json"])
    assert bad.exit_code == 1 and "JSON" in bad.output
    bad = runner.invoke(app, ["qc", "check-record", "--json", "[1, 2]"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output


def test_broken_override_exits_cleanly(tmp_path):
    ov = tmp_path / "ov.yaml"
    ov.write_text("- {id: NOPE, enabled: false}\n", encoding="utf-8")
    res = runner.invoke(app, ["qc", "rules", "--overrides", str(ov)])
    assert res.exit_code == 1 and "NOPE" in res.output and "Traceback" not in res.output


def test_demo_stage(db, capsys):
    from yunying.cli.qc import demo_stage

    path, _ = db
    demo_stage(path)
    assert "首页质控：3 份病案" in capsys.readouterr().out


def test_docs_rule_list_is_current():
    from yunying.qc.docgen import render

    doc = (REPO / "docs" / "qc.md").read_text(encoding="utf-8")
    assert render(doc) == doc, "docs/qc.md is stale: run python -m yunying.qc.docgen docs/qc.md"


@pytest.fixture(scope="module")
def db4(tmp_path_factory):
    """The three GS records of `db` plus CL0004 discharged from IM (outside the GS drill-down)."""
    tmp = tmp_path_factory.mktemp("cli4")
    src = write_csv([record("CL0001", SJZYTS="9"), record("CL0002", SFZH="-"),
                     record("CL0003", SFZH="-", diagnoses=[{"code": "W19.x99", "name": "跌倒", "poa": "1"}]),
                     record("CL0004", SFZH="-", RYKB="IM", CYKB="IM")], tmp / "d.csv")
    path = tmp / "w.duckdb"
    con = connect(path)
    import_files(con, "discharge", [src], reject_dir=tmp, profile="national")
    con.close()
    ok(["qc", "dict", "import", "--db", path, "--demo"])
    ok(["qc", "run", "--db", path])
    return path


def test_report_average_carries_definition_and_run_and_drills_down(db4, tmp_path):
    """GS, 2022: CL0002 100, CL0001 98 (L002), CL0003 92 (D101) → 平均分 (100 + 98 + 92) / 3 = 96.67, 合格 3/3."""
    con = connect(db4, read_only=True)
    run_id, cat_hash = con.execute("select run_id, catalogue_hash from qc_run").fetchall()[0]
    con.close()
    ok(["qc", "report", "--db", db4, "--period", "2022", "--level", "department", "--format", "csv",
        "--output", tmp_path / "r.csv"])
    rows = list(csv.DictReader(open(tmp_path / "r.csv", encoding="utf-8-sig")))
    gs = next(r for r in rows if r["科室代码"] == "GS" and r["月份"] == "合计")
    assert float(gs["平均分"]) == pytest.approx(96.67) and gs["检查病案数"] == "3"
    assert gs["质控运行"] == run_id and gs["质控目录版本"] == cat_hash[:16]
    assert re.search(r"avg_score=qc-report\.avg_score@[0-9a-f]{12}", gs["口径编号"])
    out = ok(["qc", "report-cases", "--db", db4, "--period", "2022", "--hospital", "H9", "--dept", "GS"])
    lines = out.splitlines()
    assert "平均分 avg_score = Σ得分 290 ÷ 3 = 96.67" in lines[0] and run_id in lines[0]
    assert "合格率 pass_rate = 3 ÷ 3 = 100.0%" in lines[0]
    assert [ln.split("\t")[1] for ln in lines[2:]] == ["CL0001", "CL0002", "CL0003"]
    # the doctor level: 陈主治 is the attending of all four records
    out = ok(["qc", "report-cases", "--db", db4, "--period", "2022-03", "--doctor", "陈主治", "--role", "attending"])
    assert [ln.split("\t")[1] for ln in out.splitlines()[2:]] == ["CL0001", "CL0002", "CL0003", "CL0004"]
