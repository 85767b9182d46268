"""DRG indicators computed from the DRG economics per-case view (v_drg_case, migration 0050).

The hand-worked values are in test_formulas.py (weights and benchmark of indfixtures.py). Here: the indicator
engine and `yunying drg metrics` agree on the same data (CMI, 总权重, 消耗指数, 风险组死亡率, every level), the
not-computable reason without weights, the scheme choice and a warehouse without the economics views.
"""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from yunying.cli.main import app
from yunying.economics.metrics import metrics
from yunying.indicators import compute
from yunying.warehouse.db import connect

from indfixtures import BENCHMARKS, build, insert

# indicator → drg_metrics column (value scale: % indicators are × 100)
PAIRS = [("DRG-02", "total_weight", 1), ("DRG-03", "cmi", 1), ("DRG-04", "cost_index", 1),
         ("DRG-05", "time_index", 1), ("G3-14", "low_risk_mortality", 100), ("DRG-07", "midlow_risk_mortality", 100)]
LEVELS = [("hospital", "hospital"), ("department", "department"), ("doctor", "doctor_group")]


def _ours(con, level):
    rows = compute(con, ids=[p[0] for p in PAIRS], period="2022", level=level, targets=[])
    return {(r["indicator_id"], r["hospital_id"], r["dept_code"] or None, r["doctor_group"] or None): r for r in rows}


def _theirs(con, level):
    return {(r["hospital_id"], r["dept_code"], r["doctor_group"]): r for r in metrics(con, "2022", level, "s1")}


@pytest.mark.parametrize("level,econ_level", LEVELS)
def test_indicators_equal_drg_metrics_on_the_same_data(wh, catalogue, level, econ_level):
    # a second year of cases without imported benchmark for 2021 would change nothing here: add a department
    # without weights for one case so that "grouped without weight" is exercised (left out of CMI in both)
    insert(wh, "drg_result", [dict(hospital_id="H1", mrn="M4", admission_no=1, scheme="s1", scheme_hash="x",
                                   status="SUCCESS", mdc="X", adrg="X", drg="ZZ99")])
    ours = _ours(wh, level)
    theirs = _theirs(wh, econ_level)
    assert theirs
    checked = 0
    for (h, d, g), m in theirs.items():
        for iid, col, scale in PAIRS:
            r = ours[(iid, h, d, g)]
            if m[col] is None:
                assert r["value"] is None
            else:
                assert r["value"] == pytest.approx(m[col] * scale, rel=1e-9), (iid, h, d, g)
                checked += 1
    assert checked >= 6


def test_cmi_equals_the_drg_metrics_command(tmp_path):
    path = tmp_path / "w.duckdb"
    con = connect(path)
    build(con)
    con.close()
    runner = CliRunner()
    res = runner.invoke(app, ["drg", "metrics", "--db", str(path), "--period", "2022", "--scheme", "s1",
                              "--format", "csv"])
    assert res.exit_code == 0, res.output
    econ = next(csv.DictReader(io.StringIO(res.output[res.output.index("scheme,"):])))
    res = runner.invoke(app, ["indicators", "compute", "--db", str(path), "--family", "drg", "--period", "2022",
                              "--format", "csv"])
    assert res.exit_code == 0, res.output
    ind = {r["indicator_id"]: r for r in csv.DictReader(io.StringIO(res.output[res.output.index("indicator_id"):]))}
    # both print rounded figures (drg metrics CSV: 5 decimals)
    assert float(ind["DRG-03"]["value"]) == pytest.approx(float(econ["cmi"]), abs=1e-5)
    assert float(ind["DRG-03"]["value"]) == pytest.approx(5.8 / 3)
    assert float(ind["DRG-02"]["value"]) == pytest.approx(float(econ["total_weight"]), abs=1e-5)


def test_without_weights_the_rw_indicators_are_not_computable(catalogue):
    con = connect(":memory:")
    build(con, weights=False)
    rows = {r["indicator_id"]: r for r in compute(con, catalogue, family="drg", period="2022", targets=[])}
    for iid in ("DRG-02", "DRG-03", "DRG-09"):
        r = rows[iid]
        assert r["status"] == "不可计算" and r["value"] is None and r["numerator"] is None
        assert r["reason"].startswith("不可计算：缺少 DRG 相对权重：未导入/校准 DRG 权重"), r["reason"]
        assert "drg_case.rw" in r["reason"]
    # benchmarks fall back to the warehouse's own data (as in yunying drg metrics): same data → indexes = 1
    assert rows["DRG-04"]["value"] == pytest.approx(1.0)
    assert rows["DRG-05"]["value"] == pytest.approx(1.0)
    con.close()


def test_without_drg_results_the_reason_asks_for_grouping(catalogue):
    con = connect(":memory:")
    build(con, drg=False)
    r = {r["indicator_id"]: r for r in compute(con, catalogue, ids=["DRG-03"], period="2022", targets=[])}["DRG-03"]
    assert r["status"] == "不可计算" and r["value"] is None
    assert "DRG分组结果及其经济测算视图（请先运行 yunying drg group" in r["reason"]
    assert "drg_case.period_month" in r["reason"]
    con.close()


def test_warehouse_without_economics_views_uses_the_empty_placeholder(catalogue):
    """Migration 0050 creates an empty drg_metric_case when the economics views were never created; read only
    through the query function (no connection to create them), the indicators are not computable, not errors."""
    from yunying.indicators.engine import duckdb_query

    con = connect(":memory:")
    build(con)
    rows = compute(None, catalogue, ids=["DRG-03", "G3-14"], period="2022", targets=[], query=duckdb_query(con))
    assert {r["status"] for r in rows} == {"不可计算"}
    con.close()


def test_latest_scheme_with_weights_is_used(wh, catalogue):
    # a more recently grouped scheme s2 without weights: the DRG indicators stay on s1 (which has weights)
    wh.execute("insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg, drg,"
               " grouped_at) select hospital_id, mrn, admission_no, 's2', 'y', status, mdc, adrg, drg,"
               " now() + interval 1 day from drg_result where scheme = 's1'")
    r = {r["indicator_id"]: r for r in compute(wh, catalogue, ids=["DRG-03"], period="2022", targets=[])}
    assert r["DRG-03"]["value"] == pytest.approx(5.8 / 3)
    # --scheme s2 pins the scheme without weights → not computable
    r = compute(wh, catalogue, ids=["DRG-03"], period="2022", scheme="s2", targets=[])[0]
    assert r["status"] == "不可计算"


def test_benchmark_source_is_visible_in_v_drg_case(wh, catalogue):
    compute(wh, catalogue, ids=["DRG-04"], period="2022", targets=[])      # creates the economics views
    src = wh.execute("select distinct benchmark_source, weight_source from v_drg_case where scheme = 's1'"
                     " and is_grouped").fetchall()
    assert src == [("imported:R1 2022", "weights 2022 (import:test.csv)")]
    assert BENCHMARKS[0]["region"] == "R1"
