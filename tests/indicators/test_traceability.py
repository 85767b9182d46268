"""Issue 14 traceability: explain at month/quarter grain, a per-indicator sql_hash, lint compiling every measure.

Hand-worked from indfixtures.py (hospital H1):
  OP-08 平均住院日 = Σ los_days / discharges
  2022-03: D1 (5 d) + D2 (10 d) → 15 / 2 = 7.5
  2022Q2:  D3 (3 d) + D4 (6 d)  →  9 / 2 = 4.5
"""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from indfixtures import build
from yunying.cli.main import app
from yunying.economics.views import create_views
from yunying.indicators import compute, load_catalogue
from yunying.indicators.engine import definition_hash, lint_sql
from yunying.warehouse.db import connect

runner = CliRunner()


@pytest.fixture(scope="module")
def dbfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "w.duckdb"
    con = connect(path)
    build(con)
    create_views(con)
    con.close()
    return path


def _result_line(output: str, label: str) -> tuple[str, str]:
    m = re.search(rf"OP-08 {label} H1\s+分子 (\S+) 分母 (\S+)", output)
    assert m, output
    return m[1], m[2]


@pytest.mark.parametrize("period, grain, num, den", [("2022-03", "month", 15, 2), ("2022Q2", "quarter", 9, 2)])
def test_explain_at_month_and_quarter_matches_compute(dbfile, catalogue, period, grain, num, den):
    res = runner.invoke(app, ["indicators", "explain", "OP-08", "--db", str(dbfile), "--period", period])
    assert res.exit_code == 0, res.output
    assert _result_line(res.output, period) == (str(num), str(den))
    con = connect(dbfile, read_only=True)
    rows = compute(con, catalogue, ids=["OP-08"], period=period, grain=grain, targets=[])
    con.close()
    assert [(r["period"], r["numerator"], r["denominator"]) for r in rows] == [(period, num, den)]
    # the listed cases are exactly the hand-counted ones (March: M1, M2; Q2: M3/1, M3/2)
    want = {"2022-03": ["H1 | M1 | 1", "H1 | M2 | 1"], "2022Q2": ["H1 | M3 | 1", "H1 | M3 | 2"]}[period]
    cases = re.findall(r"^\s+(H1 \| M\d \| \d)", res.output.split("分母病例")[1], re.M)
    assert cases == want


def test_sql_hash_is_per_indicator_definition(dbfile, catalogue):
    con = connect(dbfile, read_only=True)
    alone = compute(con, catalogue, ids=["OP-08"], period="2022", targets=[])
    batch = compute(con, catalogue, ids=["OP-02", "OP-08", "G3-04"], period="2022Q1", grain="quarter",
                    level="department", targets=[])
    every = compute(con, catalogue, period="2022", targets=[])
    con.close()
    h = {r["sql_hash"] for r in alone}
    assert len(h) == 1 and h == {r["sql_hash"] for r in batch if r["indicator_id"] == "OP-08"}
    assert all(r["sql_hash"] for r in every), [r["indicator_id"] for r in every if not r["sql_hash"]]
    by_id: dict[str, set] = {}
    for r in every:
        by_id.setdefault(r["indicator_id"], set()).add(r["sql_hash"])
    assert all(len(v) == 1 for v in by_id.values())
    assert len({next(iter(v)) for v in by_id.values()}) == len(by_id)       # two indicators never share one
    # derived indicators (no measure of their own) hash their formula and references, not an empty string
    empty = "e3b0c44298fc"                                                 # sha256("")[:12]
    assert empty not in {r["sql_hash"] for r in every}
    assert by_id["G3-02"] != by_id["G3-02.op"]


def test_sql_hash_changes_only_for_the_changed_definition(tmp_path):
    def cat(sql: str):
        f = tmp_path / "own.yaml"
        f.write_text(
            "family: own\nindicators:\n"
            f"  - {{id: X-01, name_zh: 甲, type: count, unit: 人次, direction: up,\n"
            f"     numerator: {{over: discharge, sql: '{sql}'}}}}\n"
            "  - {id: X-02, name_zh: 乙, type: count, unit: 人次, direction: up,\n"
            "     numerator: {over: discharge, sql: 'count(*)'}}\n"
            "  - {id: X-03, name_zh: 丙, type: derived, unit: 人次, direction: up, expr: '{X-01} + 1'}\n",
            encoding="utf-8")
        return load_catalogue(f, use_env=False)

    a, b = cat("count(*) filter (where los_days > 5)"), cat("count(*) filter (where los_days > 7)")
    assert a.version != b.version
    assert definition_hash(a, a["X-01"]) != definition_hash(b, b["X-01"])
    assert definition_hash(a, a["X-03"]) != definition_hash(b, b["X-03"])      # references X-01
    assert definition_hash(a, a["X-02"]) == definition_hash(b, b["X-02"])
    assert definition_hash(a, a["OP-08"]) == definition_hash(b, b["OP-08"])


def test_shipped_catalogue_lints_clean(catalogue):
    assert lint_sql(catalogue) == []


@pytest.mark.parametrize("sql, word", [("sum(no_such_fn(los_days))", "no_such_fn"),
                                       ("sum(los_dayz)", "los_dayz")])
def test_lint_fails_on_unknown_function_and_column(tmp_path, sql, word):
    f = tmp_path / "bad.yaml"
    f.write_text("family: x\nindicators:\n  - {id: X-01, name_zh: 坏, type: sum, unit: 天, direction: up,\n"
                 f"     numerator: {{over: discharge, sql: '{sql}'}}}}\n", encoding="utf-8")
    res = runner.invoke(app, ["indicators", "lint", "--catalogue", str(f)])
    assert res.exit_code == 2, res.output
    assert f"{f}:3" in res.output and word in " ".join(res.output.split())


def test_lint_fails_on_derived_expression_the_evaluator_cannot_compute(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("family: x\nindicators:\n  - {id: X-01, name_zh: 坏, type: derived, unit: 天, direction: up,\n"
                 "     expr: 'sqrt({OP-08})'}\n", encoding="utf-8")
    res = runner.invoke(app, ["indicators", "lint", "--catalogue", str(f)])
    assert res.exit_code == 2 and "X-01 expr" in " ".join(res.output.split()), res.output
