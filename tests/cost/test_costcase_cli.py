"""The cost-case commands as the `yunying cost` group registers them (yunying/cli/cost_cases.register)."""

from __future__ import annotations

import json

import typer
from tests.cost.test_costcase_margin import priced  # noqa: F401  (fixture)
from typer.testing import CliRunner

from yunying.cli import cost_cases


def _app():
    app = typer.Typer()
    cost_cases.register(app)
    return app


def test_cases_margin_breakeven_report(priced, tmp_path):  # noqa: F811
    con, _ = priced
    db = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchall()[0][0]
    con.close()
    r = CliRunner().invoke(_app(), ["cases", "--run", "cr1", "--db", db])
    assert r.exit_code == 0, r.output
    assert "成本收入比法 ccr 3 例" in r.output and "drug ratio 1.0" in r.output
    r = CliRunner().invoke(_app(), ["margin", "--run", "cr1", "--db", db, "--losing", "--format", "json"])
    rows = json.loads(r.stdout)
    assert [(x["drg"], round(x["margin_cost"])) for x in rows] == [("GZ13", -11900), ("AB11", -800)]
    r = CliRunner().invoke(_app(), ["group-cost", "--run", "cr1", "--db", db, "--kind", "drg", "--level",
                                    "doctor_group", "--format", "json"])
    got = {(x["doctor_group"], x["group_code"]): x["mean_cost"] for x in json.loads(r.stdout)}
    assert got == {("T1", "AB11"): 10800, ("T1", "GZ13"): 6500, ("T2", "GZ13"): 23400}
    r = CliRunner().invoke(_app(), ["breakeven", "--run", "cr1", "--db", db, "--format", "csv"])
    assert r.stdout.splitlines()[1].startswith("H1,GS,21000")
    out = tmp_path / "c.xlsx"
    r = CliRunner().invoke(_app(), ["case-report", "--run", "cr1", "--db", db, "--out", str(out)])
    assert r.exit_code == 0 and out.exists()
    r = CliRunner().invoke(_app(), ["cases", "--run", "nope", "--db", db])
    assert r.exit_code == 2 and "COST-RUN-UNKNOWN" in r.output
