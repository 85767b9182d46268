"""DRG payment simulation (spec §2.1–2.3): the spec's worked examples and each case class, by hand."""

from __future__ import annotations

import json

import pytest
from econ_fixtures import case, write

from yunying.economics.errors import EconomicsError
from yunying.economics.params import load_params
from yunying.economics.payment import margins, simulate
from yunying.economics.weights import import_weights


def _pay(con, run_id):
    rows = con.execute("select mrn, case_class, ratio, points, expected_payment, margin_charges, flags "
                       "from econ_case_payment where run_id = ? order by mrn", [run_id]).fetchall()
    return {r[0]: r[1:] for r in rows}


def _weights(con, tmp_path, text="drg,rw,avg_cost\nGZ13,0.8,8000\n", year=2022):
    import_weights(con, "t", write(tmp_path / "w.csv", text), year=year)


def test_rate_method_spec_example(tiny, tmp_path):
    # spec §2.3: rate ¥10 000/RW; GZ13 RW 0.80 → Std ¥8 000.
    # c1 charges 7 200 → normal, paid 8 000, margin +800.
    # c2 charges 26 000 → r = 26 000 / 8 000 = 3.25 > 3 → 高倍率 (三级): 8 000 + 8 000 × (3.25 − 3) = 10 000,
    #    margin 10 000 − 26 000 = −16 000.
    con = tiny([case("c1", "GZ13", 7200), case("c2", "GZ13", 26000)])
    _weights(con, tmp_path)
    res = simulate(con, "t", method="rate", overrides={"rate": 10000}, year=2022)
    got = _pay(con, res.run_id)
    assert got["c1"][0] == "normal" and got["c1"][3] == pytest.approx(8000) and got["c1"][4] == pytest.approx(800)
    assert got["c2"][0] == "high" and got["c2"][1] == pytest.approx(3.25)
    assert got["c2"][3] == pytest.approx(10000) and got["c2"][4] == pytest.approx(-16000)
    assert res.summary["margin"] == pytest.approx(800 - 16000)


def test_rate_from_budget(tiny, tmp_path):
    # spec §2.1: rate = budget / Σ RW·n. Two GZ13 cases → Σ RW = 1.6; budget 16 000 → rate 10 000 → as above.
    con = tiny([case("c1", "GZ13", 7200), case("c2", "GZ13", 26000)])
    _weights(con, tmp_path)
    res = simulate(con, "t", method="rate", overrides={"budget": 16000}, year=2022)
    assert res.summary["money_per_rw"] == pytest.approx(10000)
    assert _pay(con, res.run_id)["c2"][3] == pytest.approx(10000)


def test_points_method_spec_example(tiny, tmp_path):
    # spec §2.3 (Zhejiang-style): group mean ¥8 000, all-case mean ¥10 000 → base 80 points (RW 0.8);
    # 差异系数 1.05 → 84 points; point value 116.67 → ¥9 800 (84 × 116.67 = 9 800.28).
    # p2 charges 30 000: r = 30 000 / 8 000 = 3.75 > 3 (≤ 100 points → cut 3): 84 + 80 × 0.75 = 144 points.
    # p3 charges 2 400: r = 0.30 < 0.4 → 80 × 0.30 = 24 points.
    con = tiny([case("p1", "GZ13", 8000), case("p2", "GZ13", 30000), case("p3", "GZ13", 2400)])
    _weights(con, tmp_path)
    ov = {"method": "points", "point_value": 116.67, "coefficient": 1.05, "low": {"cut": 0.4},
          "high": {"ladder": [{"max_points": 100, "cut": 3}, {"max_points": 300, "cut": 2}, {"cut": 1.5}]}}
    res = simulate(con, "t", overrides=ov, year=2022)
    got = _pay(con, res.run_id)
    assert got["p1"][0] == "normal" and got["p1"][2] == pytest.approx(84)
    assert got["p1"][3] == pytest.approx(84 * 116.67) and round(got["p1"][3]) == 9800
    assert got["p2"][0] == "high" and got["p2"][1] == pytest.approx(3.75) and got["p2"][2] == pytest.approx(144)
    assert got["p3"][0] == "low" and got["p3"][1] == pytest.approx(0.3) and got["p3"][2] == pytest.approx(24)
    # point value from a budget: PV = budget / Σ points = 25 200 / (84 + 144 + 24) = 100
    res2 = simulate(con, "t", overrides=ov | {"budget": 25200, "point_value": None}, year=2022)
    assert res2.summary["point_value"] == pytest.approx(100)
    assert _pay(con, res2.run_id)["p2"][3] == pytest.approx(14400)


def test_points_ladder_by_base_points(tiny, tmp_path):
    # RW 2.5 → 250 base points → ladder step 100–300 → cut 2. Charges 2.2 × avg_cost 20 000 = 44 000 → r 2.2 > 2
    # → high: 250 + 250 × 0.2 = 300 points (coefficient 1).
    con = tiny([case("h1", "XX11", 44000)])
    _weights(con, tmp_path, "drg,rw,avg_cost\nXX11,2.5,20000\n")
    ov = {"method": "points", "point_value": 1.0,
          "high": {"ladder": [{"max_points": 100, "cut": 3}, {"max_points": 300, "cut": 2}, {"cut": 1.5}]}}
    got = _pay(con, simulate(con, "t", overrides=ov, year=2022).run_id)
    assert got["h1"][0] == "high" and got["h1"][2] == pytest.approx(300)


def test_other_classes(tiny, tmp_path):
    # rate 10 000; weights: GZ13 RW 0.8 only.
    # u1 FAIL (未入组) charges 1 000 → by item × 0.7 = 700.   q1 QY 歧义组 charges 2 000 → 1 400 (class qy).
    # n1 grouped in NEW1, which has no weight → by item × 1.0 = 3 000 (class no_weight).
    # e1 GZ13 with LOS 61 → excluded (排除病例), by item = 9 000; flagged los>60 for 特病单议.
    # d1 GZ13 died on day 1, charges 8 000 → normal 8 000, flagged death_within_1d.
    # l1 GZ13 charges 1 600 → r = 0.2 < 0.3 → low, pro rata: 0.8 × 0.2 = 0.16 RW → 1 600.
    con = tiny([case("u1", "0000", 1000, status="FAIL"), case("q1", "GQY", 2000, status="QY"),
                case("n1", "NEW1", 3000), case("e1", "GZ13", 9000, los=61), case("d1", "GZ13", 8000, los=1,
                                                                                    died=True),
                case("l1", "GZ13", 1600)])
    _weights(con, tmp_path)
    res = simulate(con, "t", overrides={"rate": 10000, "unmatched": {"discount": 0.7}}, year=2022)
    got = _pay(con, res.run_id)
    assert got["u1"][0] == "ungrouped" and got["u1"][3] == pytest.approx(700)
    assert got["q1"][0] == "qy" and got["q1"][3] == pytest.approx(1400)
    assert got["n1"][0] == "no_weight" and got["n1"][3] == pytest.approx(3000)
    assert got["e1"][0] == "excluded" and got["e1"][3] == pytest.approx(9000) and "los>60" in got["e1"][5]
    assert got["d1"][0] == "normal" and got["d1"][3] == pytest.approx(8000) and "death_within_1d" in got["d1"][5]
    assert got["l1"][0] == "low" and got["l1"][3] == pytest.approx(1600)
    assert res.summary["special_review"] == 2
    # fee_points rule for 未入组 under 点数法: points = fee / C̄ × 100 × discount = 1 000 / 10 000 × 100 × 0.5 = 5
    res2 = simulate(con, "t", overrides={"method": "points", "point_value": 10, "overall_mean_cost": 10000,
                                         "unmatched": {"rule": "fee_points", "discount": 0.5}}, year=2022)
    assert _pay(con, res2.run_id)["u1"][2] == pytest.approx(5)


def test_variants_by_level_and_insurance(tiny, tmp_path):
    # H2 is a 二级 hospital: variant high cut 2 → charges 20 000 on Std 8 000 is r = 2.5 > 2 → high:
    #   8 000 + 8 000 × 0.5 = 12 000.  The same case in 三级 H1 (cut 3) is normal: 8 000.
    # payment_category '2' (居民) variant coefficient 0.9 → 0.8 × 10 000 × 0.9 = 7 200 (r = 7 200/7 200 = 1).
    con = tiny([case("a", "GZ13", 20000, hospital="H1"), case("b", "GZ13", 20000, hospital="H2"),
                case("c", "GZ13", 7200, pay="2")], levels={"H2": "secondary"})
    _weights(con, tmp_path)
    params = write(tmp_path / "p.yaml", """
method: rate
rate: 10000
variants:
  - when: {hospital_level: secondary}
    high: {cut: 2.0}
  - when: {payment_category: ["2", "3"]}
    coefficient: 0.9
""")
    got = _pay(con, simulate(con, "t", params_file=params, year=2022).run_id)
    assert got["a"][0] == "normal" and got["a"][3] == pytest.approx(8000)
    assert got["b"][0] == "high" and got["b"][3] == pytest.approx(12000)
    assert got["c"][0] == "normal" and got["c"][3] == pytest.approx(7200)


def test_margins_sum_and_worst_groups(tiny, tmp_path):
    # group margins add up to total payment − total fees; worst group first.
    con = tiny([case("c1", "GZ13", 7200, dept="GS", team="T1"), case("c2", "GZ13", 26000, dept="GS", team="T2"),
                case("c3", "AB11", 5000, dept="IM", team="T3")])
    _weights(con, tmp_path, "drg,rw\nGZ13,0.8\nAB11,1.0\n")
    res = simulate(con, "t", overrides={"rate": 10000}, year=2022)
    by_group = margins(con, res.run_id, "group")
    assert [r["group_code"] for r in by_group] == ["GZ13", "AB11"]          # −15 200 then +5 000
    assert by_group[0]["margin"] == pytest.approx(800 - 16000)
    assert by_group[1]["margin"] == pytest.approx(10000 - 5000)
    total = res.summary["expected_payment"] - res.summary["fees"]
    assert sum(r["margin"] for r in by_group) == pytest.approx(total)
    assert sum(r["margin"] for r in margins(con, res.run_id, "department")) == pytest.approx(total)
    teams = {r["doctor_group"]: r["margin"] for r in margins(con, res.run_id, "doctor_group")}
    assert teams == pytest.approx({"T1": 800, "T2": -16000, "T3": 5000})
    assert margins(con, res.run_id, "group", top=1)[0]["group_code"] == "GZ13"


def test_parameters_recorded_and_reproducible(tiny, tmp_path):
    con = tiny([case("c1", "GZ13", 7200), case("c2", "GZ13", 26000)])
    _weights(con, tmp_path)
    params = write(tmp_path / "p.yaml", "method: rate\nrate: 10000\nregion_code: '330100'\nyear: 2022\n")
    r1 = simulate(con, "t", params_file=params)
    rows1 = con.execute("select * exclude (run_id) from econ_case_payment where run_id = ? order by mrn",
                        [r1.run_id]).fetchall()
    run = con.execute("select params_json, params_hash, weights_hash, year, weight_year from econ_run "
                      "where run_id = ?", [r1.run_id]).fetchall()[0]
    stored = json.loads(run[0])
    assert stored["rate"] == 10000 and stored["region_code"] == "330100" and stored["high"]["cut"] == 3.0
    assert run[3:] == (2022, 2022)
    # re-running from the stored parameters reproduces the same run id and the same rows
    r2 = simulate(con, "t", params=stored | {"_file": "stored"})
    assert r2.run_id == r1.run_id
    rows2 = con.execute("select * exclude (run_id) from econ_case_payment where run_id = ? order by mrn",
                        [r2.run_id]).fetchall()
    assert rows2 == rows1
    r3 = simulate(con, "t", params_file=params, overrides={"rate": 12000})
    assert r3.run_id != r1.run_id
    assert con.execute("select count(distinct run_id) from econ_run").fetchall()[0][0] == 2


def test_parameter_errors(tiny, tmp_path):
    with pytest.raises(EconomicsError, match="method"):
        load_params(None, {"method": "magic", "rate": 1})
    with pytest.raises(EconomicsError, match="rate"):
        load_params(None, {"method": "rate"})
    with pytest.raises(EconomicsError, match="未知参数"):
        load_params(write(tmp_path / "p.yaml", "rat: 100\n"))
    with pytest.raises(EconomicsError, match="high.rule"):
        load_params(None, {"rate": 1, "high": {"rule": "magic"}})
    con = tiny([case("c1", "GZ13", 7200)])
    with pytest.raises(EconomicsError, match="没有权重"):
        simulate(con, "t", overrides={"rate": 10000})


def test_cost_hook(tiny, tmp_path):
    # when cost accounting stored case costs (cost_case, migration 0120), margin_cost is filled from the primary
    # method's cost of the latest cost run (v_cost_case_primary), one row per case whatever the methods/runs:
    # spec §2.3: Std 8 000, case cost 6 500 → cost margin +1 500.
    con = tiny([case("c1", "GZ13", 7200)])
    _weights(con, tmp_path)
    con.execute("""insert into cost_case (run_id, hospital_id, mrn, admission_no, method, cost, is_primary,
                   computed_at) values
                   ('old', 'H1', 'c1', 1, 'item_sum', 9999, true, '2023-01-01'),
                   ('new', 'H1', 'c1', 1, 'item_sum', 6500, true, '2023-02-01'),
                   ('new', 'H1', 'c1', 1, 'ccr', 7000, false, '2023-02-01')""")
    res = simulate(con, "t", overrides={"rate": 10000}, year=2022)
    got = con.execute("select case_cost, margin_cost from econ_case_payment where run_id = ?",
                      [res.run_id]).fetchall()
    assert got == [(6500.0, 1500.0)]


def test_explain_payment_spec_example(tiny, tmp_path):
    from yunying.economics.payment import explain_payment

    con = tiny([case("c1", "GZ13", 7200), case("c2", "GZ13", 26000)])
    _weights(con, tmp_path)
    res = simulate(con, "t", method="rate", overrides={"rate": 10000}, year=2022)
    text = "\n".join(explain_payment(con, res.run_id, "c2"))
    assert "26,000.00 / 8,000.00 = 3.2500" in text and "高倍率病例：r > 3" in text
    assert "预计支付 10,000.00 元，盈亏 -16,000.00 元" in text
    with pytest.raises(EconomicsError, match="没有病案"):
        explain_payment(con, res.run_id, "nope")


def test_drg10_indicator_reads_the_stored_run(tiny, tmp_path):
    """Issue 14: after `drg pay` stores a run, DRG-10 结余/亏损率 is computed from it (it said "missing payment
    rates" before). Spec example above: payments 8 000 + 10 000, margins +800 − 16 000 → −15 200 / 18 000."""
    from yunying.indicators import compute

    con = tiny([case("c1", "GZ13", 7200), case("c2", "GZ13", 26000)])
    _weights(con, tmp_path)
    before = compute(con, ids=["DRG-10"], period="2022", targets=[])[0]
    assert before["status_code"] == "not_computable" and before["value"] is None
    res = simulate(con, "t", method="rate", overrides={"rate": 10000}, year=2022)
    r = compute(con, ids=["DRG-10"], period="2022", targets=[])[0]
    assert (r["numerator"], r["denominator"]) == (pytest.approx(-15200), pytest.approx(18000))
    assert r["value"] == pytest.approx(-15200 / 18000 * 100)          # −84.44 %
    assert r["note"] == f"支付测算 {res.run_id}"
