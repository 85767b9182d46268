"""RW calibration (spec §1.3) and weight / benchmark import, against values worked out by hand."""

from __future__ import annotations

import pytest

from econ_fixtures import case, write
from yunying.economics.errors import EconomicsError
from yunying.economics.weights import CalibrationParams, calibrate, import_benchmark, import_weights

# Group A: fees 100, 200, 300, 10 000; group B: 400, 400, 400. Plus an ungrouped case and a LOS-61 case.
# IQR fence for A (DuckDB quantile_cont, linear): Q1 = 175, Q3 = 300 + 0.25·9 700 = 2 725, IQR = 2 550,
#   upper fence 2 725 + 3 825 = 6 550 → 10 000 trimmed; A keeps 100, 200, 300 (mean 200); B keeps all (mean 400).
# C̄(trimmed) = (600 + 1 200) / 6 = 300 → raw RW A = 2/3, B = 4/3.
# Normalisation over the calibration population (A 4 cases, B 3): (4·2/3 + 3·4/3) / 7 = 20/21
#   → RW A = (2/3)/(20/21) = 0.7, RW B = (4/3)/(20/21) = 1.4; check (4·0.7 + 3·1.4)/7 = 1.
# overall mean after normalisation = 300 · 20/21 = 285.714…, so RW_A · C̄ = 200 = C_A.
# RIV over kept cases: SS_within = 100² + 0 + 100² = 20 000; SS_total around 300 = 200² + 100² + 0 + 3·100²
#   = 80 000 → RIV = 1 − 20 000 / 80 000 = 0.75.
CASES = [case("a1", "AA11", 100), case("a2", "AA11", 200), case("a3", "AA11", 300), case("a4", "AA11", 10000),
         case("b1", "BB11", 400), case("b2", "BB11", 400), case("b3", "BB11", 400),
         case("x1", "0000", 900, status="FAIL"), case("x2", "BB11", 5000, los=61)]


def test_calibration_hand_worked(tiny):
    con = tiny(CASES)
    rep, rows = calibrate(con, "t", 2022, CalibrationParams(min_cases=3))
    rw = {r[0]: r[1] for r in rows}
    assert rw["AA11"] == pytest.approx(0.7)
    assert rw["BB11"] == pytest.approx(1.4)
    assert rep.overall_mean == pytest.approx(300 * 20 / 21)
    assert rep.normaliser == pytest.approx(20 / 21)
    assert rep.riv == pytest.approx(0.75)
    assert rep.cases == 7 and rep.cases_kept == 6
    assert rep.excluded == {"not_grouped": 1, "los_over_max": 1, "no_charges": 0}
    stored = dict(con.execute("select drg, rw from econ_weight where scheme = 't' and year = 2022").fetchall())
    assert stored == pytest.approx({"AA11": 0.7, "BB11": 1.4})
    # avg_cost = trimmed mean C_g; cv of A = sd(100,200,300)/200 = 100/200 = 0.5
    a = con.execute("select avg_cost, cv, n_cases, n_trimmed, stable from econ_weight where drg = 'AA11'").fetchall()
    assert a[0][0] == pytest.approx(200) and a[0][1] == pytest.approx(0.5) and a[0][2:] == (4, 3, True)


def test_unstable_groups_reported(tiny):
    con = tiny(CASES)
    rep, _ = calibrate(con, "t", 2022, CalibrationParams(min_cases=5))   # A has 4 cases, B 3 → both unstable
    assert sorted(u[0] for u in rep.unstable) == ["AA11", "BB11"]
    assert "病例数 3 < 5" in dict((u[0], u[3]) for u in rep.unstable)["BB11"]


def test_other_trim_methods(tiny):
    con = tiny(CASES)
    # no trimming: A mean (100+200+300+10000)/4 = 2650, B 400; C̄ = (10600 + 1200)/7 = 11800/7
    # raw RW are C_g/C̄ and case-weighted mean is exactly 1 → RW A = 2650·7/11800, B = 400·7/11800
    _, rows = calibrate(con, "t", 2022, CalibrationParams(trim="none"), store=False)
    rw = {r[0]: r[1] for r in rows}
    assert rw["AA11"] == pytest.approx(2650 * 7 / 11800)
    assert rw["BB11"] == pytest.approx(400 * 7 / 11800)
    with pytest.raises(EconomicsError, match="修剪方法"):
        calibrate(con, "t", 2022, CalibrationParams(trim="magic"))


def test_calibration_without_data(tiny):
    con = tiny(CASES)
    with pytest.raises(EconomicsError, match="ECON-NODATA"):
        calibrate(con, "t", 2019)


def test_import_weights_and_errors(tiny, tmp_path):
    con = tiny(CASES)
    f = write(tmp_path / "w.csv", "drg,rw,avg_cost,high_cut\nAA11,0.8,8000,\nBB11,1.25,,2.5\n")
    res = import_weights(con, "t", f, year=2022)
    assert res[2022]["groups"] == 2
    got = con.execute("select drg, rw, avg_cost, high_cut from econ_weight order by drg").fetchall()
    assert got == [("AA11", 0.8, 8000.0, None), ("BB11", 1.25, None, 2.5)]
    src = con.execute("select source from econ_weight_set").fetchall()[0][0]
    assert src == "import:w.csv"
    bad = write(tmp_path / "bad.csv", "drg,rw\nAA11,0.8\nBB11,abc\n")
    with pytest.raises(EconomicsError, match=r"bad.csv 第3行 字段【rw】"):
        import_weights(con, "t", bad, year=2022)
    dup = write(tmp_path / "dup.csv", "drg,rw,year\nAA11,0.8,2022\nAA11,0.9,2022\n")
    with pytest.raises(EconomicsError, match="第3行 DRG AA11"):
        import_weights(con, "t", dup)
    noyear = write(tmp_path / "ny.csv", "drg,rw\nAA11,0.8\n")
    with pytest.raises(EconomicsError, match="缺少年度"):
        import_weights(con, "t", noyear)
    neg = write(tmp_path / "neg.csv", "drg,rw\nAA11,-1\n")
    with pytest.raises(EconomicsError, match="第2行"):
        import_weights(con, "t", neg, year=2022)


def test_import_weights_xlsx(tiny, tmp_path):
    from openpyxl import Workbook

    con = tiny(CASES)
    wb = Workbook()
    ws = wb.active
    ws.append(["DRG编码", "权重", "年度"])
    ws.append(["AA11", 0.9, 2021])
    wb.save(tmp_path / "w.xlsx")
    assert import_weights(con, "t", tmp_path / "w.xlsx") == {2021: {"groups": 1, "content_hash": pytest.approx(
        con.execute("select content_hash from econ_weight_set").fetchall()[0][0])}}


def test_import_benchmark(tiny, tmp_path):
    con = tiny(CASES)
    f = write(tmp_path / "b.csv", "drg,mean_cost,mean_los,mortality\nAA11,250,4,0.01\nBB11,500,8,\n")
    assert import_benchmark(con, "t", f, year=2022, region="测试省") == {2022: 2}
    bad = write(tmp_path / "b2.csv", "drg,mortality\nAA11,3\n")
    with pytest.raises(EconomicsError, match="第2行 字段【mortality】"):
        import_benchmark(con, "t", bad, year=2022)
    bad = write(tmp_path / "b3.csv", "drg,risk_level\nAA11,7\n")
    with pytest.raises(EconomicsError, match="risk_level"):
        import_benchmark(con, "t", bad, year=2022)


def test_import_from_scheme_pack_extras(tiny):
    # a registered pack may carry weights.csv and thresholds.csv as extra tables (docs/drg-scheme-pack.md)
    con = tiny(CASES)
    con.execute("insert into drg_scheme_file values ('t', 'weights.csv', 'extra', ?)",
                ["drg,rw,year\nAA11,0.8,2022\nBB11,1.2,2022\n"])
    con.execute("insert into drg_scheme_file values ('t', 'thresholds.csv', 'extra', ?)",
                ["drg,high_cut,low_cut\nBB11,2.5,0.4\n"])
    from yunying.economics.weights import import_pack_weights

    assert import_pack_weights(con, "t")[2022]["groups"] == 2
    got = con.execute("select drg, rw, high_cut, low_cut from econ_weight order by drg").fetchall()
    assert got == [("AA11", 0.8, None, None), ("BB11", 1.2, 2.5, 0.4)]
    with pytest.raises(EconomicsError, match="没有 weights.csv"):
        import_pack_weights(con, "other")


def test_pooled_years_with_price_index(tiny):
    # 2021 cases at 2021 prices ×1.1 pooled with 2022: A: 100·1.1 = 110 and 200 (2022) → mean 155;
    # B: 300·1.1 = 330 and 330 → mean 330 (no trimming). C̄ = (110 + 200 + 330 + 330)/4 = 242.5;
    # raw RW A = 155/242.5, B = 330/242.5; case-weighted mean = (2·155 + 2·330)/(4·242.5) = 1 → no rescaling.
    cases = [case("a1", "AA11", 100, year=2021), case("a2", "AA11", 200), case("b1", "BB11", 300, year=2021),
             case("b2", "BB11", 330)]
    con = tiny(cases)
    rep, rows = calibrate(con, "t", 2022, CalibrationParams(trim="none", pool_years=(2021,),
                                                            price_index={2021: 1.1}))
    rw = {r[0]: r[1] for r in rows}
    assert rw == pytest.approx({"AA11": 155 / 242.5, "BB11": 330 / 242.5})
    assert rep.cases == 4
    method = con.execute("select method_json from econ_weight_set where year = 2022").fetchall()[0][0]
    assert '"years_used": [2021, 2022]' in method
