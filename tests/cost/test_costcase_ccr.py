"""成本收入比法 (spec §4.7): the spec's CCR example reproduced exactly through the engine, with its readings."""

from __future__ import annotations

import pytest
from tests.cost.costcase_fixtures import create_contract_tables, discharge, full, revenue, run, unit

from yunying.cost.cases import run_case_costing
from yunying.warehouse.db import connect


def _spec_hospital(con):
    # Units: WARD (GS 住院, clinical), LAB / RAD / OR (medical technology).
    # Pools before step 3: WARD personnel 14 000 (its drug 25 000 and material 20 000 leave the pool: drugs at cost,
    # materials: ledger 20 000 = revenue 20 000 → ratio 1.00, all chargeable); LAB 8 500, RAD 7 500, OR 12 000
    # (allocated to WARD in step 3 — not counted again in WARD's pool).
    # Revenue executed: WARD nursing 10 000, LAB lab 10 000, RAD exam 10 000, OR surgery 10 000, drugs 25 000,
    # materials 20 000 (all ordered by WARD).
    # → CCR WARD 14 000/10 000 = 1.40, LAB 0.85, RAD 0.75, OR 1.20, drugs 25 000/25 000 = 1.00, materials 1.00.
    create_contract_tables(con)
    run(con)
    for code, cls in (("WARD", "clinical"), ("LAB", "medtech"), ("RAD", "medtech"), ("OR", "medtech")):
        unit(con, code, "GS" if code == "WARD" else code, cls)
    full(con, "WARD", "GS", "clinical", "personnel", direct=14000, s3=28000)
    full(con, "WARD", "GS", "clinical", "drug", direct=25000)
    full(con, "WARD", "GS", "clinical", "material", direct=20000)
    for code, amount in (("LAB", 8500), ("RAD", 7500), ("OR", 12000)):
        full(con, code, code, "medtech", "personnel", direct=amount, out=amount)
    for cat, exe in (("nursing", "WARD"), ("lab", "LAB"), ("exam", "RAD"), ("surgery", "OR")):
        revenue(con, cat, "WARD", exe, 10000)
    revenue(con, "drug", "WARD", "PHARM", 25000)
    revenue(con, "material", "WARD", "WARD", 20000)


SPEC_FEES = {"fee_nursing": 2000, "fee_lab": 1500, "fee_imaging": 1000, "fee_surgical": 3000,
             "fee_western_drug": 2500, "fee_mat_surg": 2000}


def test_spec_ccr_example(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    _spec_hospital(con)
    # the spec's case: ward 2 000, lab 1 500, imaging 1 000, OR 3 000, drugs 2 500, materials 2 000 = 12 000
    discharge(con, "c1", "GS", SPEC_FEES)
    # the same fee block in a department with no cost unit of its own: the hospital-wide order mix is used
    discharge(con, "c2", "XX", SPEC_FEES)
    res = run_case_costing(con, "cr1")
    assert res["ratios"]["drug"] == pytest.approx(1.0) and res["ratios"]["material"] == pytest.approx(1.0)
    ccr = {(r[0], r[1]): r[2] for r in con.execute(
        "select exec_unit, charge_category, ccr from cost_ccr where run_id = 'cr1'").fetchall()}
    assert ccr[("WARD", "nursing")] == pytest.approx(1.40) and ccr[("LAB", "lab")] == pytest.approx(0.85)
    assert ccr[("RAD", "exam")] == pytest.approx(0.75) and ccr[("OR", "surgery")] == pytest.approx(1.20)
    assert ccr[("*", "drug")] == pytest.approx(1.0) and ccr[("*", "material")] == pytest.approx(1.0)
    got = {r[0]: r[1:] for r in con.execute(
        "select mrn, cost, drug_cost, material_cost, service_cost, revenue, fallback, is_primary "
        "from cost_case where run_id = 'cr1' and method = 'ccr'").fetchall()}
    # 2 000×1.40 + 1 500×0.85 + 1 000×0.75 + 3 000×1.20 + 2 500×1.00 + 2 000×1.00
    #   = 2 800 + 1 275 + 750 + 3 600 + 2 500 + 2 000 = 12 925 vs revenue 12 000 → loss 925
    assert got["c1"][0] == pytest.approx(12925)
    assert got["c1"][1:4] == pytest.approx((2500, 2000, 8425))
    assert got["c1"][4] == pytest.approx(12000) and got["c1"][5] is None
    assert got["c1"][6] is True                      # no item lines → ccr is the primary figure
    # by 成本项目: every service unit's pool is personnel only → 8 425 personnel, drugs 2 500, materials 2 000
    comp = dict(con.execute("select cost_item, cost from cost_case_item where mrn = 'c1' and method = 'ccr'")
                .fetchall())
    assert comp == pytest.approx({"personnel": 8425, "drug": 2500, "material": 2000})
    assert got["c2"][0] == pytest.approx(12925)
    assert "ccr_hospital_mix:fee_nursing" in got["c2"][5]


def test_blended_fee_column_and_residual(tmp_path):
    # 一般医疗服务费 maps to 床位费 and 诊察费: WARD executes bed 6 000 and consult 2 000 (ordered by WARD).
    # WARD pool 14 000 over service revenue 10 000 (nursing) + 6 000 + 2 000 = 18 000, no item volumes → revenue
    # share: every WARD category at 14 000 / 18 000 = 0.7778 → fee_general_service 900 → 700.
    # fee_total 1 000 − mapped 900 = residual 100 → category other: WARD orders no 'other' anywhere → hospital
    # overall service CCR = (14 000 + 8 500 + 7 500 + 12 000) / (18 000 + 30 000) = 42 000 / 48 000 = 0.875 → 87.5.
    con = connect(tmp_path / "w.duckdb")
    _spec_hospital(con)
    revenue(con, "bed", "WARD", "WARD", 6000)
    revenue(con, "consult", "WARD", "WARD", 2000)
    discharge(con, "c1", "GS", {"fee_general_service": 900}, fee_total=1000)
    run_case_costing(con, "cr1")
    cost, fb = con.execute("select cost, fallback from cost_case where method = 'ccr'").fetchall()[0]
    assert cost == pytest.approx(700 + 87.5)
    assert fb == "ccr_hospital_overall:(residual)"
    # the composition by 成本项目 adds up to the cost on every fallback level (all pools are personnel here)
    assert dict(con.execute("select cost_item, sum(cost) from cost_case_item where method = 'ccr' group by 1")
                .fetchall()) == {"personnel": pytest.approx(787.5)}


def test_step0_shared_costs_are_in_the_pool(tmp_path):
    # the step-down's step 0 (shared costs received, cost_unit_full.shared_in) is part of the unit's cost before
    # step 3: WARD receives 2 000 → pool 16 000 / nursing 10 000 → CCR 1.60; the spec case's nursing 2 000 now
    # costs 3 200 instead of 2 800 → 12 925 + 400 = 13 325.
    con = connect(tmp_path / "w.duckdb")
    _spec_hospital(con)
    full(con, "WARD", "GS", "clinical", "other", s0=2000)
    discharge(con, "c1", "GS", SPEC_FEES)
    run_case_costing(con, "cr1")
    assert con.execute("select ccr from cost_ccr where exec_unit = 'WARD'").fetchall() == [(pytest.approx(1.6),)]
    assert con.execute("select cost from cost_case where method = 'ccr'").fetchall() == [(pytest.approx(13325),)]
