"""drg metrics: the CMI carries its definition id, sql_hash and grouping run; `drg metrics-cases` lists exactly the
cases behind it (issue 14). Hand-worked (same cases as test_econ_metrics.py), hospital H1, 2022, weights
G111 = 1.0, G211 = 2.0:
  g1a G111 GS 2022-03, g1b G111 IM 2022-03, g2a G211 GS 2022-04 are grouped with a weight;
  f1 / f2 FAIL (not in the CMI).
  H1 2022:     cases g1a g1b g2a, Σ RW 1 + 1 + 2 = 4, CMI 4 / 3
  GS 2022:     cases g1a g2a,     Σ RW 3,           CMI 1.5
  H1 2022-03:  cases g1a g1b,     Σ RW 2,           CMI 1.0
"""

from __future__ import annotations

import csv
import io

import pytest
from econ_fixtures import build, case, write
from typer.testing import CliRunner

from yunying.cli.main import app
from yunying.economics.metrics import figure_cases, metrics
from yunying.economics.weights import import_weights
from yunying.indicators.catalogue import load_catalogue
from yunying.indicators.engine import definition_hash

CASES = [case("g1a", "G111", 1000, los=4, dept="GS"), case("g1b", "G111", 3000, los=6, dept="IM"),
         case("g2a", "G211", 6000, los=10, dept="GS", month=4),
         case("f1", "0000", 500, status="FAIL", los=3, dept="GS"), case("f2", "0000", 500, status="FAIL", los=70)]
runner = CliRunner()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    con = build(path, CASES)
    import_weights(con, "t", write(tmp_path / "w.csv", "drg,rw\nG111,1.0\nG211,2.0\n"), year=2022)
    con.execute("update drg_result set run_id = 'drg-test-run'")     # as `yunying drg run` stores it
    con.close()
    return path


def test_cmi_row_names_definition_and_run(db):
    from yunying.warehouse.db import connect

    con = connect(db)
    (h,) = metrics(con, "2022", "hospital", "t")
    con.close()
    cat = load_catalogue(use_env=False)
    assert h["cmi"] == pytest.approx(4 / 3)
    assert (h["cmi_definition"], h["cmi_sql_hash"], h["run_id"]) == ("DRG-03", definition_hash(cat, cat["DRG-03"]),
                                                                      "drg-test-run")
    assert f"cmi=DRG-03@{h['cmi_sql_hash']}" in h["definitions"]
    res = runner.invoke(app, ["drg", "metrics", "--db", str(db), "--period", "2022", "--scheme", "t"])
    row = next(csv.DictReader(io.StringIO(res.stdout)))
    assert (row["cmi_definition"], row["run_id"]) == ("DRG-03", "drg-test-run")


@pytest.mark.parametrize("period, dept, mrns, value", [("2022", None, ["g1a", "g1b", "g2a"], 4 / 3),
                                                       ("2022", "GS", ["g1a", "g2a"], 1.5),
                                                       ("2022-03", None, ["g1a", "g1b"], 1.0)])
def test_cmi_drill_down_lists_exactly_its_cases(db, period, dept, mrns, value):
    from yunying.warehouse.db import connect

    con = connect(db)
    got = figure_cases(con, "cmi", period, scheme="t", hospital="H1", dept=dept)
    level = "department" if dept else "hospital"
    (m,) = [r for r in metrics(con, period, level, "t") if r["dept_code"] == dept]
    con.close()
    res = got["result"]
    listed = sorted(dict(zip(res.columns, r))["mrn"] for r in res.rows)
    assert listed == mrns
    rw = [dict(zip(res.columns, r))["c0"] for r in res.rows]
    assert sum(rw) / len(rw) == pytest.approx(value) == pytest.approx(m["cmi"])
    assert got["row"]["value"] == pytest.approx(value) and got["run_id"] == "drg-test-run"
    assert got["indicator_id"] == "DRG-03"


def test_metrics_cases_cli(db):
    res = runner.invoke(app, ["drg", "metrics-cases", "--db", str(db), "--period", "2022", "--scheme", "t",
                              "--hospital", "H1", "--dept", "GS", "--format", "text"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "cmi = DRG-03" in out and "drg-test-run" in out and "分子 3.0000 分母 2.0000 值 1.5000" in out and "病例 2 例" in out
    assert "mrn=g1a" in out and "mrn=g2a" in out and "g1b" not in out
    bad = runner.invoke(app, ["drg", "metrics-cases", "--db", str(db), "--period", "2022", "--figure", "nope"])
    assert bad.exit_code == 2
