"""`yunying drg weights|benchmark|pay|margins|metrics|dip` through typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json

import pytest
from econ_fixtures import build, case, write
from typer.testing import CliRunner

from yunying.cli.main import app

runner = CliRunner()
CASES = [case("c1", "GZ13", 7200, dept="GS"), case("c2", "GZ13", 26000, dept="GS"),
         case("c3", "AB11", 5000, dept="IM"), case("c4", "AB11", 5400, dept="IM"),
         case("o1", "GZ13", 8000, year=2021), case("o2", "AB11", 5000, year=2021),
         case("f1", "0000", 900, status="FAIL")]


@pytest.fixture
def db(tmp_path):
    con = build(tmp_path / "w.duckdb", CASES)
    con.close()
    return tmp_path / "w.duckdb"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Rich wraps long messages at the terminal width; compare without line breaks."""
    return text.replace("\n", " ")


def test_weights_import_pay_margins(db, tmp_path):
    w = write(tmp_path / "w.csv", "drg,rw\nGZ13,0.8\nAB11,0.5\n")
    res = run("drg", "weights", "import", "--db", db, "--scheme", "t", "--year", 2022, w)
    assert res.exit_code == 0, res.output
    res = run("drg", "weights", "list", "--db", db)
    assert "t\t2022\timport:w.csv\t2 groups" in res.stdout
    # rate 10 000: c1 8 000 (+800), c2 high 10 000 (−16 000), c3 5 000 (0), c4 5 000 (−400),
    # f1 by item 900 (0) → payment 28 900, fees 44 500, margin −15 600
    res = run("drg", "pay", "--db", db, "--scheme", "t", "--method", "rate", "--rate", 10000, "--year", 2022,
              "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["summary"]["expected_payment"] == pytest.approx(28900)
    assert out["summary"]["margin"] == pytest.approx(-15600)
    assert out["worst_groups"][0]["group_code"] == "GZ13"
    run_id = out["summary"]["run_id"]
    res = run("drg", "margins", "--db", db, "--run", run_id, "--level", "department")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {r["dept_code"]: float(r["margin"]) for r in rows} == {"GS": -15200, "IM": -400}
    res = run("drg", "pay", "--db", db, "--scheme", "t", "--rate", 10000, "--year", 2022, "--top", 1)
    assert res.exit_code == 0 and res.stdout.strip() == run_id          # same parameters → same run


def test_calibrate_and_metrics_json(db, tmp_path):
    out = tmp_path / "cal.csv"
    res = run("drg", "weights", "calibrate", "--db", db, "--scheme", "t", "--year", 2021, "--out", out,
              "--min-cases", 1)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    # 2021: GZ13 8 000, AB11 5 000 → C̄ 6 500; RW 8/6.5 and 5/6.5, already case-weighted mean 1
    assert {r["drg"]: float(r["rw"]) for r in rows} == pytest.approx({"GZ13": 8 / 6.5, "AB11": 5 / 6.5}, rel=1e-5)
    res = run("drg", "metrics", "--db", db, "--period", 2021, "--format", "json")
    (h,) = json.loads(res.stdout)
    assert h["cmi"] == pytest.approx(1.0) and h["benchmark_source"].startswith("fallback:same_data")
    res = run("drg", "metrics", "--db", db, "--period", 2022, "--level", "department", "--scheme", "t",
              "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {r["dept_code"] for r in rows} == {"GS", "IM"}
    assert all(r["benchmark_source"].startswith("fallback:prior_year 2021") for r in rows)


def test_benchmark_import_cli(db, tmp_path):
    b = write(tmp_path / "b.csv", "drg,mean_cost,mean_los\nGZ13,10000,5\nAB11,5000,5\n")
    res = run("drg", "benchmark", "import", "--db", db, "--scheme", "t", "--year", 2022, "--region", "省", b)
    assert res.exit_code == 0, res.output
    res = run("drg", "metrics", "--db", db, "--period", 2022, "--format", "json")
    assert json.loads(res.stdout)[0]["benchmark_source"] == "imported:省 2022"


def test_dip_cli_with_demo_catalogue(db):
    res = run("drg", "dip", "--db", db, "--catalogue", "demo", "--point-value", 10, "--json")
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)["summary"]
    assert s["cases"] == len(CASES) and s["catalogue"] == "dip_demo"


def test_cli_errors_are_bilingual_without_traceback(db, tmp_path):
    res = run("drg", "pay", "--db", db, "--scheme", "t", "--rate", 10000)
    assert res.exit_code == 2 and "没有权重" in flat(res.output) and "Traceback" not in res.output
    res = run("drg", "pay", "--db", db, "--scheme", "t", "--method", "magic")
    assert res.exit_code == 2
    bad = write(tmp_path / "bad.csv", "drg,rw\nGZ13,x\n")
    res = run("drg", "weights", "import", "--db", db, "--scheme", "t", "--year", 2022, bad)
    assert res.exit_code == 2 and "bad.csv 第2行" in flat(res.output)
    res = run("drg", "metrics", "--db", db, "--period", "22", "--format", "csv")
    assert res.exit_code == 2
    res = run("drg", "metrics", "--db", db, "--period", "2022", "--format", "xml")
    assert res.exit_code == 2
    broken = write(tmp_path / "cat.csv", "dip_code,dip_type,diag_code,score,avg_amount\nX,核心,K80.1,abc,1\n")
    res = run("drg", "dip", "--db", db, "--catalogue", broken, "--point-value", 1)
    assert res.exit_code == 2 and "cat.csv 第2行" in flat(res.output)
