"""医疗服务项目成本 (spec §4.6) and 项目叠加法 case cost (§4.7), hand-worked."""

from __future__ import annotations

import pytest
from tests.cost.costcase_fixtures import (create_contract_tables, discharge, full, item, line, revenue, run, unit,
                                         volume)

from yunying.cost.case_errors import CostCaseError
from yunying.cost.cases import run_case_costing
from yunying.warehouse.db import connect

# LAB (medtech) pool before step 3: personnel 6 000 + step-1 1 000 = 7 000, other 3 000 → 10 000.
#   L1: 10 min, workload 1, qty 100, amount 2 000;  L2: 30 min, workload 4, qty 50, amount 6 000.
#   Both have activity data → 作业成本法 (abc): personnel by minutes (L1 1 000, L2 1 500 of 2 500),
#   other by workload (L1 100, L2 200 of 300):
#   L1 = 7 000×1 000/2 500 + 3 000×100/300 = 2 800 + 1 000 = 3 800 → 38.00 per test
#   L2 = 4 200 + 2 000 = 6 200 → 124.00
# WARD (clinical): personnel 5 000 + step-2 1 000 = 6 000 (its step-3 10 000 from LAB is LAB's item cost, not
#   counted again); drug 3 000 (out of the pool); material 1 000 of which chargeable:
#   material revenue 800 < ledger 1 000 → ratio min(1, 1 000/800) = 1, chargeable share 800/1 000 = 0.8 →
#   200 stays in the pool → pool 6 200. B1 bed / N1 nursing have no activity data → ratio_revenue (fallback):
#   B1 amount 2 000, N1 2 000 → 3 100 each → B1 155.00 per day (qty 20), N1 77.50 (qty 40).
# Drug ratio = ledger 3 000 / drug revenue 2 500 = 1.2.
# Case c1: L1×2 = 76, L2×1 = 124, B1×5 = 775, N1×5 = 387.5 → service 1 362.5;
#   drug line 300 × 1.2 = 360; material line 100 × 1 = 100 → 1 822.5.


def _hospital(con):
    create_contract_tables(con)
    run(con)
    unit(con, "WARD", "GS", "clinical")
    unit(con, "LAB", "LAB", "medtech")
    full(con, "LAB", "LAB", "medtech", "personnel", direct=6000, s1=1000, out=7000)
    full(con, "LAB", "LAB", "medtech", "other", direct=3000, out=3000)
    full(con, "WARD", "GS", "clinical", "personnel", direct=5000, s2=1000, s3=7000)
    full(con, "WARD", "GS", "clinical", "other", s3=3000)
    full(con, "WARD", "GS", "clinical", "drug", direct=3000)
    full(con, "WARD", "GS", "clinical", "material", direct=1000)
    item(con, "L1", "lab", minutes=10, weq=1)
    item(con, "L2", "lab", minutes=30, weq=4)
    item(con, "B1", "bed")
    item(con, "N1", "nursing")
    item(con, "D1", "drug")
    item(con, "M1", "material")
    volume(con, "L1", "WARD", "LAB", 100, 2000)
    volume(con, "L2", "WARD", "LAB", 50, 6000)
    volume(con, "B1", "WARD", "WARD", 20, 2000)
    volume(con, "N1", "WARD", "WARD", 40, 2000)
    volume(con, "D1", "WARD", "PHARM", 100, 2500)        # drugs: never an item cost
    revenue(con, "lab", "WARD", "LAB", 8000)
    revenue(con, "bed", "WARD", "WARD", 2000)
    revenue(con, "nursing", "WARD", "WARD", 2000)
    revenue(con, "drug", "WARD", "PHARM", 2500)
    revenue(con, "material", "WARD", "WARD", 800)
    discharge(con, "c1", "GS", {"fee_lab": 200, "fee_general_service": 500, "fee_nursing": 250,
                                "fee_western_drug": 300, "fee_mat_treat": 100})
    for n, (code, exe, qty, amount) in enumerate([("L1", "LAB", 2, 40), ("L2", "LAB", 1, 120), ("B1", "WARD", 5, 500),
                                                  ("N1", "WARD", 5, 250), ("D1", "PHARM", 3, 300),
                                                  ("M1", "WARD", 1, 100)]):
        line(con, "c1", n, code, exe, qty, amount)


def test_item_costs_by_method_and_item_sum_case(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    _hospital(con)
    res = run_case_costing(con, "cr1")
    assert res["items"]["units"] == {"LAB": "abc", "WARD": "ratio_revenue"}
    got = {r[0]: r[1:] for r in con.execute(
        "select item_code, exec_unit, method, unit_cost, quantity, cost from cost_item_unit where run_id = 'cr1'"
    ).fetchall()}
    assert set(got) == {"L1", "L2", "B1", "N1"}                       # drugs / materials are not item costs
    assert got["L1"][1:] == ("abc", pytest.approx(38.0), 100, pytest.approx(3800))
    assert got["L2"][1:] == ("abc", pytest.approx(124.0), 50, pytest.approx(6200))
    assert got["B1"][1:] == ("ratio_revenue", pytest.approx(155.0), 20, pytest.approx(3100))
    assert got["N1"][1:] == ("ratio_revenue", pytest.approx(77.5), 40, pytest.approx(3100))
    assert res["ratios"]["drug"] == pytest.approx(1.2) and res["ratios"]["phi"] == pytest.approx(0.8)
    # conservation: item costs + drugs at cost + chargeable materials at cost = the service units' cost before
    # step 3 = 10 000 + 10 000 (= the clinical full cost) → 16 200 + 2 500×1.2 + 800×1 = 20 000
    assert res["items"]["assigned_to_items"] + 3000 + 800 == pytest.approx(20000)
    cc = {r[0]: r[1:] for r in con.execute(
        "select method, cost, service_cost, drug_cost, material_cost, is_primary, fallback from cost_case "
        "where mrn = 'c1'").fetchall()}
    assert cc["item_sum"][:4] == pytest.approx((1822.5, 1362.5, 360, 100))
    assert cc["item_sum"][4] is True and cc["ccr"][4] is False and cc["item_sum"][5] is None
    # composition by 成本项目: L1 76 = personnel 76×2 800/3 800 = 56 + other 20; L2 124 = 84 + 40;
    # B1 775 = personnel 775×3 000/3 100 = 750 + material 25; N1 387.5 = 375 + 12.5; drugs 360; materials 100
    # → personnel 1 265, other 60, material 137.5, drug 360 (Σ 1 822.5)
    comp = _composition(con)
    assert comp["item_sum"] == pytest.approx({"personnel": 1265, "other": 60, "material": 137.5, "drug": 360})
    # CCR: lab 200 × (10 000/8 000 = 1.25) = 250 (LAB item mix: personnel 70 %, other 30 %);
    # 一般医疗服务费 500 × bed (B1 3 100 / 2 000 = 1.55) = 775 (B1 mix: personnel 3 000/3 100, material 100/3 100);
    # nursing 250 × 1.55 = 387.5 (same mix); drugs 300 × 1.2 = 360; materials 100 → 1 872.5
    assert cc["ccr"][0] == pytest.approx(1872.5)
    assert comp["ccr"] == pytest.approx({"personnel": 175 + 750 + 375, "other": 75, "material": 37.5 + 100,
                                         "drug": 360})


def _composition(con, mrn="c1"):
    out: dict = {}
    for m, ci, c in con.execute("select method, cost_item, cost from cost_case_item where mrn = ?", [mrn]).fetchall():
        out.setdefault(m, {})[ci] = c
    return out


def test_configured_ratio_methods(tmp_path):
    # LAB set to ratio_revenue: L1 = 10 000 × 2 000/8 000 = 2 500 → 25.00; L2 7 500 → 150.00.
    # LAB set to ratio_workload: L1 100/300 → 3 333.33; ratio_time: L1 1 000/2 500 → 4 000 → 40.00.
    con = connect(tmp_path / "w.duckdb")
    _hospital(con)
    for method, l1 in (("ratio_revenue", 25.0), ("ratio_workload", 10000 / 3 / 100), ("ratio_time", 40.0)):
        cfg = tmp_path / f"{method}.yaml"
        cfg.write_text(f"items: {{units: {{LAB: {method}}}}}\n", encoding="utf-8")
        run_case_costing(con, "cr1", config_path=cfg)
        m, uc = con.execute("select method, unit_cost from cost_item_unit where item_code = 'L1'").fetchall()[0]
        assert (m, uc) == (method, pytest.approx(l1))


def test_missing_driver_is_refused(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    _hospital(con)
    cfg = tmp_path / "m.yaml"
    cfg.write_text("items: {units: {WARD: ratio_time}}\n", encoding="utf-8")
    with pytest.raises(CostCaseError) as e:
        run_case_costing(con, "cr1", config_path=cfg)
    assert e.value.code == "COST-ITEM-DRIVER" and "WARD" in e.value.zh and "B1" in e.value.zh
    assert con.execute("select count(*) from cost_case").fetchall()[0][0] == 0      # nothing stored


def test_item_sum_period_fallback_and_uncosted(tmp_path):
    # a line charged in February (no February item cost) uses the run-period unit cost of L1 at LAB (38.00);
    # an item unknown to the dictionary is left uncosted and said so.
    con = connect(tmp_path / "w.duckdb")
    _hospital(con)
    from datetime import date
    line(con, "c1", 10, "L1", "LAB", 1, 20, day=date(2022, 2, 27))
    line(con, "c1", 11, "ZZ", "LAB", 1, 99)
    run_case_costing(con, "cr1")
    cost, unc, fb = con.execute("select cost, uncosted_amount, fallback from cost_case "
                                "where method = 'item_sum'").fetchall()[0]
    assert cost == pytest.approx(1822.5 + 38) and unc == pytest.approx(99)
    assert fb == "item_period_cost;uncosted_lines"
    assert sum(_composition(con)["item_sum"].values()) == pytest.approx(1822.5 + 38)


def test_unknown_and_revenue_runs_refused(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    _hospital(con)
    run(con, "rv1", measure="revenue")
    with pytest.raises(CostCaseError, match="COST-RUN-UNKNOWN"):
        run_case_costing(con, "nope")
    with pytest.raises(CostCaseError, match="COST-RUN-MEASURE"):
        run_case_costing(con, "rv1")
