"""Cost-basis 盈亏 (spec §2.3) through the real path: stored DRG payment run (v_drg_pay) + case costs →
v_cost_case_margin, group margins, losing groups, 保本点, and the economics hook (econ_case_payment.margin_cost)."""

from __future__ import annotations

import pytest
from tests.cost.costcase_fixtures import create_contract_tables, full, revenue, run, unit

from tests.economics.econ_fixtures import build, case, write
from yunying.cost.cases import run_case_costing
from yunying.cost.margin import group_costs, margins
from yunying.economics.payment import simulate
from yunying.economics.weights import import_weights

# CCRs: WARD nursing 9 000 / 10 000 = 0.90; OR surgery 12 000 / 10 000 = 1.20; drugs 2 000 / 2 000 = 1.00.
# Payment: rate ¥10 000/RW; GZ13 RW 0.8 → ¥8 000; AB11 RW 1.0 → ¥10 000.
# c1 GZ13 T1: nursing 7 000 + drugs 200 = ¥7 200 → cost 6 300 + 200 = ¥6 500 → charges +800, cost +1 500 (spec).
# c2 GZ13 T2: nursing 26 000 → r 3.25 高倍率 → paid 10 000 → charges −16 000; cost 23 400 → −13 400.
# c3 AB11 T1: surgery 9 000 → paid 10 000 → charges +1 000; cost 10 800 → −800: loses on cost only.
FEES = {"c1": {"fee_nursing": 7000, "fee_western_drug": 200}, "c2": {"fee_nursing": 26000},
        "c3": {"fee_surgical": 9000}}


@pytest.fixture
def priced(tmp_path):
    con = build(tmp_path / "w.duckdb", [case("c1", "GZ13", 7200, team="T1"), case("c2", "GZ13", 26000, team="T2"),
                                        case("c3", "AB11", 9000, team="T1")])
    for mrn, fees in FEES.items():
        con.execute(f"update discharge set {', '.join(f'{k} = {v}' for k, v in fees.items())} where mrn = ?", [mrn])
    import_weights(con, "t", write(tmp_path / "w.csv", "drg,rw,avg_cost\nGZ13,0.8,8000\nAB11,1.0,10000\n"),
                   year=2022)
    pay = simulate(con, "t", method="rate", overrides={"rate": 10000}, year=2022)
    create_contract_tables(con)
    run(con)
    unit(con, "WARD", "GS", "clinical")
    unit(con, "OR", "OR", "medtech")
    full(con, "WARD", "GS", "clinical", "personnel", direct=9000, s3=12000)
    full(con, "WARD", "GS", "clinical", "drug", direct=2000)
    full(con, "OR", "OR", "medtech", "personnel", direct=12000, out=12000)
    revenue(con, "nursing", "WARD", "WARD", 10000)
    revenue(con, "surgery", "WARD", "OR", 10000)
    revenue(con, "drug", "WARD", "PHARM", 2000)
    run_case_costing(con, "cr1")
    return con, pay


def test_spec_worked_example_through_the_view(priced):
    con, _ = priced
    rows = {r[0]: r[1:] for r in con.execute(
        "select mrn, method, cost, expected_payment, fee_total, margin_cost, margin_charges, drg, cost_run_id "
        "from v_cost_case_margin where is_primary").fetchall()}
    assert rows["c1"] == ("ccr", pytest.approx(6500), pytest.approx(8000), pytest.approx(7200), pytest.approx(1500),
                          pytest.approx(800), "GZ13", "cr1")
    assert rows["c2"][4:6] == (pytest.approx(-13400), pytest.approx(-16000))
    assert rows["c3"][4:6] == (pytest.approx(-800), pytest.approx(1000))


def test_group_margins_and_losing_groups(priced):
    con, _ = priced
    by_drg = margins(con, "cr1", "drg")
    assert [r["drg"] for r in by_drg] == ["GZ13", "AB11"]                 # worst cost margin first
    g = {r["drg"]: r for r in by_drg}
    assert g["GZ13"]["margin_cost"] == pytest.approx(1500 - 13400)
    assert g["GZ13"]["margin_charges"] == pytest.approx(800 - 16000)
    assert g["GZ13"]["mean_cost"] == pytest.approx((6500 + 23400) / 2)
    assert g["AB11"]["loses_on_cost"] and not g["AB11"]["loses_on_charges"] and g["AB11"]["loses_on_cost_only"]
    assert not g["GZ13"]["loses_on_cost_only"]
    teams = {r["doctor_group"]: (r["margin_cost"], r["margin_charges"]) for r in margins(con, "cr1", "doctor_group")}
    assert teams == {"T1": pytest.approx((700, 1800)), "T2": pytest.approx((-13400, -16000))}
    dept = margins(con, "cr1", "department")
    assert len(dept) == 1 and dept[0]["margin_cost"] == pytest.approx(1500 - 13400 - 800)
    assert [r["drg"] for r in margins(con, "cr1", "drg", losing_only=True)] == ["GZ13", "AB11"]
    # DRG cost = mean over the DRG's cases (latest grouping of the scheme)
    costs = {r["group_code"]: r for r in group_costs(con, "cr1", "drg", "hospital", scheme="t")}
    assert costs["GZ13"]["mean_cost"] == pytest.approx(14950) and costs["GZ13"]["cases"] == 2
    assert costs["GZ13"]["drug_cost"] == pytest.approx(200)


def test_breakeven(priced):
    # GS inpatient full cost: personnel 9 000 + 12 000 (OR, step 3) = 21 000 fixed; drugs 2 000 variable.
    # 3 cases: v = 666.67; mean payment p = (8 000 + 10 000 + 10 000)/3 = 9 333.33 → Q* = 21 000 / 8 666.67
    # = 2.4231 cases; on charges (7 200 + 26 000 + 9 000)/3 = 14 066.67 → 21 000 / 13 400 = 1.5672.
    con, _ = priced
    f, v, n, vpc, p, fee, q, qc = con.execute(
        "select fixed_cost, variable_cost, cases, variable_per_case, payment_per_case, fee_per_case, "
        "breakeven_cases, breakeven_cases_charges from cost_breakeven where dept_code = 'GS'").fetchall()[0]
    assert (f, v, n) == (pytest.approx(21000), pytest.approx(2000), 3)
    assert q == pytest.approx(21000 / (28000 / 3 - 2000 / 3))
    assert qc == pytest.approx(21000 / (42200 / 3 - 2000 / 3))


def test_economics_hook_reads_the_primary_cost(priced):
    con, pay = priced
    again = simulate(con, "t", method="rate", overrides={"rate": 10000}, year=2022)
    assert again.run_id == pay.run_id
    got = dict(con.execute("select mrn, margin_cost from econ_case_payment where run_id = ?",
                           [pay.run_id]).fetchall())
    assert got == {"c1": pytest.approx(1500), "c2": pytest.approx(-13400), "c3": pytest.approx(-800)}


def test_disease_cost_by_principal_diagnosis(priced):
    # 病种 = principal western diagnosis: c1 K35.8, c2 K35.1, c3 K40.9 (a secondary diagnosis of c3 is ignored).
    # Full code: three groups; 类目 (3 characters): K35 = (6 500 + 23 400) / 2 = 14 950, K40 = 10 800.
    con, _ = priced
    con.execute("insert into discharge_diagnosis (hospital_id, mrn, admission_no, dx_type, seq, dx_code) values "
                "('H1', 'c1', 1, 'W', 0, 'K35.8'), ('H1', 'c2', 1, 'W', 0, 'K35.1'), ('H1', 'c3', 1, 'W', 0, 'K40.9'),"
                "('H1', 'c3', 1, 'W', 1, 'K35.8')")
    full_code = {r["group_code"]: r["cases"] for r in group_costs(con, "cr1", "disease")}
    assert full_code == {"K35.8": 1, "K35.1": 1, "K40.9": 1}
    by3 = {r["group_code"]: r["mean_cost"] for r in group_costs(con, "cr1", "disease", "department",
                                                                 disease_code_length=3)}
    assert by3 == {"K35": pytest.approx(14950), "K40": pytest.approx(10800)}
    teams = {(r["doctor_group"], r["group_code"]): r["cases"]
             for r in group_costs(con, "cr1", "disease", "doctor_group", disease_code_length=3)}
    assert teams == {("T1", "K35"): 1, ("T2", "K35"): 1, ("T1", "K40"): 1}
