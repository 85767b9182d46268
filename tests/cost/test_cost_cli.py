"""`yunying cost run|report|explain|import` (issue 17 items 2–3 outputs) on the spec's mini example."""

from __future__ import annotations

import json

import openpyxl
import pytest
from typer.testing import CliRunner

from tests.cost.cost_fixtures import BASIS_COLS, mini_example, warehouse
from yunying.cli.main import app

runner = CliRunner()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    con = warehouse(path)
    mini_example(con)
    con.execute("update cost_unit set dept_code = '=SUM(A1)' where unit_code = 'IM'")   # formula-looking text
    con.close()
    return path


def run_ok(args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.stderr + r.stdout
    return r


def test_run_report_explain(db, tmp_path):
    r = run_ok(["cost", "run", "--from", "2025-01", "--to", "2025-01", "--db", db, "--json"])
    res = json.loads(r.stdout)
    (run,) = res["runs"]
    assert res["ok"] and run["total"] == 1460.0 and run["hops"] == 14
    rid = run["run_id"]

    out = tmp_path / "cost.xlsx"
    run_ok(["cost", "report", "--run", rid, "--out", out, "--db", db])
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["医院科室直接成本表", "医院临床服务类科室全成本表", "全成本构成", "医院科室成本分摊汇总表",
                             "诊次床日成本表"]
    direct = list(wb["医院科室直接成本表"].iter_rows(min_row=5, values_only=True))
    # units in the plan's class order (行政后勤, 医疗辅助, 医疗技术, 临床); 直接成本合计 = ledger 1460
    assert [r[0] for r in direct] == ["ADM", "SUP", "LAB", "IM", "SUR", "合计"] and direct[-1][-1] == 1460
    assert direct[0][2] == "行政后勤" and direct[0][-1] == 100
    full = {row[0]: row for row in wb["医院临床服务类科室全成本表"].iter_rows(min_row=5, values_only=True)}
    # IM: direct 500, step 1 +40, step 2 +21, step 3 +136.2 = 697.2 — numbers stored as numbers
    assert full["IM"][3:] == (500, 40, 21, 136.2, 697.2)
    assert full["IM"][1] == "'=SUM(A1)"                           # text that looks like a formula is neutralised
    assert full["合计"][-1] == 1460
    assert "口径 医院全成本" in wb["医院临床服务类科室全成本表"]["A3"].value
    trail = list(wb["医院科室成本分摊汇总表"].iter_rows(min_row=5, values_only=True))
    assert ("三级分摊（医疗技术类）", "LAB", "IM", "开单收入", "ordered_revenue", "LAB", 60, 100, 1, 136.2) \
        in trail
    assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)

    r = run_ok(["cost", "explain", "--run", rid, "--unit", "IM", "--month", "2025-01", "--db", db])
    text = r.stdout
    assert "全成本 full 697.20 = 直接 direct 500.00" in text
    assert "2025-01 personnel 人员经费 own 500.00" in text                                 # the unit's ledger row
    assert "自 from LAB 按 by ordered_revenue 开单收入（由 LAB 提供 provided by） 60.0000 / 100.0000 = 136.20" in text
    assert "2025-01 material 卫生材料费 own 200.00" in text                                  # the lab's own ledger row
    ex = json.loads(run_ok(["cost", "explain", "--run", rid, "--unit", "IM", "--db", db, "--json"]).stdout)
    assert sorted(ex["sources"]) == ["ADM", "LAB", "SUP"]


def test_refusals_exit_with_code_and_store_nothing(db, tmp_path):
    import duckdb

    c = duckdb.connect(str(db))
    c.execute("update cost_basis set quantity = 0 where basis_code = 'staff'")
    c.close()
    r = runner.invoke(app, ["cost", "run", "--from", "2025-01", "--to", "2025-01", "--db", str(db)])
    assert r.exit_code == 2 and "[COST-BASIS-ZERO]" in r.stderr and "source=ADM" in r.stderr
    r = runner.invoke(app, ["cost", "run", "--from", "2025-01", "--to", "2025-01", "--db", str(db), "--json"])
    assert json.loads(r.stdout)["error_code"] == "COST-BASIS-ZERO"
    c = duckdb.connect(str(db), read_only=True)
    assert c.execute("select count(*) from cost_run").fetchall() == [(0,)]
    c.close()
    bad = tmp_path / "p.yaml"
    bad.write_text('plan_id: x\nsteps:\n  - {step: 1, source: {cost_class: admin}, receivers: [admin], '
                   'basis: {"*": staff}}\n', encoding="utf-8")
    r = runner.invoke(app, ["cost", "run", "--from", "2025-01", "--to", "2025-01", "--plan", str(bad),
                            "--db", str(db)])
    assert r.exit_code == 2 and "[COST-PLAN-SELF]" in r.stderr
    r = runner.invoke(app, ["cost", "run", "--from", "2025-13", "--to", "2025-01", "--db", str(db)])
    assert r.exit_code == 2 and "2025-01" in r.stderr
    r = runner.invoke(app, ["cost", "explain", "--run", "nope", "--unit", "IM", "--db", str(db)])
    assert r.exit_code == 2 and "[COST-RUN-UNKNOWN]" in r.stderr


def test_cost_import_is_the_generic_import(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n", encoding="utf-8")
    args = ["nosuchkind", str(f), "--db", str(tmp_path / "w.duckdb"), "--json"]
    generic = runner.invoke(app, ["import", *args])
    alias = runner.invoke(app, ["cost", "import", *args])
    assert alias.exit_code == generic.exit_code != 0
    assert json.loads(alias.stdout) == json.loads(generic.stdout)


def test_demo_stage_runs_the_default_plan_and_writes_the_workbook(db, tmp_path, capsys):
    from yunying.cli.cost import demo_stage

    c = warehouse(db)
    # bed days for IM and SUR: 697.2 + 762.8 = 1460 over 100 + 100 = 200 bed days → 7.30 per bed day
    c.execute(f"insert into cost_basis ({BASIS_COLS}) values ('H1', '2025-01-01', 'IM', 'bed_days', '*', 100), "
              "('H1', '2025-01-01', 'SUR', 'bed_days', '*', 100)")
    c.close()
    demo_stage(db)
    assert (tmp_path / "reports" / "cost-H1-2025-01-2025-01.xlsx").is_file()
    assert "床日成本 7.30" in capsys.readouterr().err
    empty = tmp_path / "e" / "w.duckdb"
    empty.parent.mkdir()
    warehouse(empty).close()
    demo_stage(empty)                                    # no ledger: skipped, nothing raised


def test_report_of_a_warehouse_without_cost_runs_is_a_clear_refusal(tmp_path):
    import duckdb

    from yunying.warehouse.db import connect

    path = tmp_path / "old.duckdb"
    connect(str(path)).close()
    c = duckdb.connect(str(path))                  # as if written before migration 0110
    c.execute("drop table cost_run")
    c.execute("delete from schema_migrations where version like '0110%'")
    c.close()
    r = runner.invoke(app, ["cost", "report", "--run", "x", "--out", str(tmp_path / "r.xlsx"), "--db", str(path)])
    assert r.exit_code == 2 and "[COST-RUN-UNKNOWN]" in r.stderr
