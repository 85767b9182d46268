"""DRG evaluation metrics (spec §1.1–1.2): 入组率, CMI, CEI/TEI, risk grading, 低风险组死亡率 — by hand."""

from __future__ import annotations

import math

import pytest
from econ_fixtures import case, write

from yunying.economics.metrics import group_risk, metrics
from yunying.economics.weights import import_benchmark, import_weights

# Hospital H1, 2022:
#   G1 (RW 1.0): fees 1 000 and 3 000 (mean 2 000), LOS 4 and 6 (mean 5)
#   G2 (RW 2.0): fee 6 000, LOS 10
#   one FAIL case (LOS 3) and one FAIL case with LOS 70 (not an 分析病例)
# 入组率 = 3 grouped / 4 analysed = 0.75; DRG组数 2; 总权重 1 + 1 + 2 = 4; CMI = 4 / 3.
# Benchmark: G1 C = 2 500, L = 4; G2 C = 5 000, L = 8.
#   k_G1 = 2 000 / 2 500 = 0.8, k_G2 = 6 000 / 5 000 = 1.2 → CEI = (0.8·2 + 1.2·1) / 3 = 2.8 / 3 = 0.9333…
#   (not Σ actual / Σ expected = 10 000 / 10 000 = 1.0 — the charge-weighted index the spec warns about)
#   t_G1 = 5 / 4 = 1.25, t_G2 = 10 / 8 = 1.25 → TEI = 1.25.
CASES = [case("g1a", "G111", 1000, los=4, dept="GS"), case("g1b", "G111", 3000, los=6, dept="IM"),
         case("g2a", "G211", 6000, los=10, dept="GS", month=4),
         case("f1", "0000", 500, status="FAIL", los=3, dept="GS"), case("f2", "0000", 500, status="FAIL", los=70)]


def _setup(tiny, tmp_path, cases=CASES):
    con = tiny(cases)
    import_weights(con, "t", write(tmp_path / "w.csv", "drg,rw\nG111,1.0\nG211,2.0\n"), year=2022)
    return con


def test_hospital_metrics_hand_worked(tiny, tmp_path):
    con = _setup(tiny, tmp_path)
    import_benchmark(con, "t", write(tmp_path / "b.csv", "drg,mean_cost,mean_los\nG111,2500,4\nG211,5000,8\n"),
                     year=2022, region="测试省")
    (h,) = metrics(con, "2022", "hospital", "t")
    assert (h["cases_reported"], h["cases_analysed"], h["cases_grouped"]) == (5, 4, 3)
    assert h["grouping_rate"] == pytest.approx(0.75)
    assert h["drg_count"] == 2 and h["total_weight"] == pytest.approx(4)
    assert h["cmi"] == pytest.approx(4 / 3)
    assert h["cost_index"] == pytest.approx(2.8 / 3)
    assert h["time_index"] == pytest.approx(1.25)
    assert h["benchmark_source"] == "imported:测试省 2022"
    assert h["weight_source"].startswith("weights 2022 (import:w.csv)")


def test_department_and_month_levels(tiny, tmp_path):
    con = _setup(tiny, tmp_path)
    import_benchmark(con, "t", write(tmp_path / "b.csv", "drg,mean_cost,mean_los\nG111,2500,4\nG211,5000,8\n"),
                     year=2022)
    depts = {r["dept_code"]: r for r in metrics(con, "2022", "department", "t")}
    # GS: g1a (RW 1, fee 1 000 → k 0.4) and g2a (RW 2, k 1.2) → CMI 1.5, CEI (0.4 + 1.2)/2 = 0.8; 入组率 2/3
    assert depts["GS"]["cmi"] == pytest.approx(1.5)
    assert depts["GS"]["cost_index"] == pytest.approx(0.8)
    assert depts["GS"]["grouping_rate"] == pytest.approx(2 / 3)
    # IM: g1b fee 3 000 → k 1.2; LOS 6/4 = 1.5
    assert depts["IM"]["cost_index"] == pytest.approx(1.2) and depts["IM"]["time_index"] == pytest.approx(1.5)
    months = {r["period"]: r for r in metrics(con, "2022", "hospital", "t", by_month=True)}
    assert set(months) == {"2022-03", "2022-04"}
    assert months["2022-04"]["cmi"] == pytest.approx(2.0)
    (m,) = metrics(con, "2022-03", "hospital", "t")
    assert m["cmi"] == pytest.approx(1.0)


def test_fallback_benchmark_stated(tiny, tmp_path):
    # no benchmark imported: 2021 uses its own data (same_data, indexes ≈ 1), 2022 the 2021 data (prior_year).
    cases = CASES + [case("o1", "G111", 2000, los=5, year=2021), case("o2", "G211", 3000, los=5, year=2021)]
    con = _setup(tiny, tmp_path, cases)
    (h22,) = metrics(con, "2022", "hospital", "t")
    (h21,) = metrics(con, "2021", "hospital", "t")
    assert h22["benchmark_source"].startswith("fallback:prior_year 2021")
    assert h21["benchmark_source"].startswith("fallback:same_data 2021")
    # 2021 against itself: each group has one case equal to its own mean → CEI = TEI = 1
    assert h21["cost_index"] == pytest.approx(1.0) and h21["time_index"] == pytest.approx(1.0)
    # 2022 against 2021: k_G1 = 2 000/2 000 = 1, k_G2 = 6 000/3 000 = 2 → CEI (1·2 + 2·1)/3 = 4/3
    assert h22["cost_index"] == pytest.approx(4 / 3)
    for row in metrics(con, "2022", "department", "t") + metrics(con, "2022", "doctor_group", "t"):
        assert row["benchmark_source"]                          # stated in every row


# Risk grading (spec §1.2): reference mortalities L1 0.0001, L2 0.001, L3 0.01, L4 0.1, Z0 0.
#   x = ln m = ln10 · (−4, −3, −2, −1); μ = −2.5·ln10; sample SD = ln10·√((1.5² + 0.5² + 0.5² + 1.5²)/3)
#   = ln10·√(5/3) = 1.291·ln10 → μ − σ = −3.791·ln10, μ + σ = −1.209·ln10.
#   L1: −4 < −3.791 → 1 低风险; L2: −3 ∈ [−3.791, −2.5) → 2; L3: −2 ∈ [−2.5, −1.209) → 3; L4: −1 ≥ −1.209 → 4;
#   Z0: m = 0 → 0 (无死亡).
# Hospital: 4 cases in L1 with 1 death → 低风险组死亡率 1/4 = 0.25; 2 cases in L2, 0 deaths → 0.
RISK_BENCH = "drg,mortality\nL111,0.0001\nL211,0.001\nL311,0.01\nL411,0.1\nZ011,0\n"


def test_risk_grading_and_low_risk_mortality(tiny, tmp_path):
    cases = [case(f"l1{i}", "L111", 100, died=(i == 0)) for i in range(4)]
    cases += [case(f"l2{i}", "L211", 100) for i in range(2)] + [case("l4", "L411", 100, died=True)]
    con = tiny(cases)
    import_benchmark(con, "t", write(tmp_path / "r.csv", RISK_BENCH), year=2022, region="national")
    levels = {r["drg"]: r["risk_level"] for r in group_risk(con, "t", 2022)}
    assert levels == {"L111": 1, "L211": 2, "L311": 3, "L411": 4, "Z011": 0}
    (h,) = metrics(con, "2022", "hospital", "t")
    assert (h["low_risk_cases"], h["low_risk_deaths"]) == (4, 1)
    assert h["low_risk_mortality"] == pytest.approx(0.25)
    assert (h["midlow_risk_cases"], h["midlow_risk_deaths"], h["midlow_risk_mortality"]) == (2, 0, 0.0)
    # the thresholds themselves, from the view
    mu, sd = con.execute("select distinct ln_mortality_mean, ln_mortality_sd from drg_benchmark_stats "
                         "where kind = 'imported' and mortality > 0").fetchall()[0]
    assert mu == pytest.approx(-2.5 * math.log(10)) and sd == pytest.approx(math.log(10) * math.sqrt(5 / 3))


def test_given_risk_levels_win(tiny, tmp_path):
    # a loaded national table with risk_level (国考 table) is used as given, not recomputed
    con = tiny([case("a", "L111", 100, died=True)])
    import_benchmark(con, "t", write(tmp_path / "r.csv", "drg,mortality,risk_level\nL111,0.5,1\nL211,0.001,4\n"),
                     year=2022)
    (h,) = metrics(con, "2022", "hospital", "t")
    assert h["low_risk_mortality"] == pytest.approx(1.0)
    assert {r["drg"]: r["risk_level_source"] for r in group_risk(con, "t", 2022)} == {"L111": "given",
                                                                                     "L211": "given"}


def test_read_only_connection_uses_stored_views(tiny, tmp_path):
    import duckdb

    from yunying.economics.errors import EconomicsError

    con = _setup(tiny, tmp_path)
    con.close()
    ro = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    with pytest.raises(EconomicsError, match="ECON-VIEWS"):      # never created in this file yet
        metrics(ro, "2022", "hospital", "t")
    ro.close()
    from yunying.warehouse.db import connect

    rw = connect(tmp_path / "t.duckdb")
    metrics(rw, "2022", "hospital", "t")                        # a writable run stores the views
    rw.close()
    ro = duckdb.connect(str(tmp_path / "t.duckdb"), read_only=True)
    (h,) = metrics(ro, "2022", "hospital", "t")
    assert h["cmi"] == pytest.approx(4 / 3)
    ro.close()
