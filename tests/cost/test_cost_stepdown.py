"""Step-down engine (issue 17 item 2): the spec's mini example exactly, cent rounding, revenue, calibres, step 0.
Expected numbers are worked by hand in the comments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from tests.cost.cost_fixtures import JAN, REVENUE_COLS, add_basis, add_ledger, add_units, mini_example, warehouse
from yunying.cost.plan import load_plan
from yunying.cost.stepdown import run_stepdown


@pytest.fixture
def con(tmp_path):
    c = warehouse(tmp_path / "w.duckdb")
    yield c
    c.close()


def full_by_unit(con, run_id):
    return dict(con.execute('select unit_code, sum("full") from cost_unit_full where run_id = ? group by 1',
                            [run_id]).fetchall())


def test_spec_mini_example_is_reproduced_exactly(con):
    # spec §4.4: step 1 admin 100 by staff 10/20/40/30 → supply +10, lab +20, IM +40, surgery +30;
    # step 2 supply 70 by packs 1/3/6 → lab +7, IM +21, surgery +42; step 3 lab 227 by ordered revenue 60/40 →
    # IM +136.2, surgery +90.8. IM 500+40+21+136.2 = 697.2, surgery 600+30+42+90.8 = 762.8, total 1460.
    mini_example(con)
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan())
    full = full_by_unit(con, r.run_id)
    assert full == {"ADM": D("0.00"), "SUP": D("0.00"), "LAB": D("0.00"), "IM": D("697.20"), "SUR": D("762.80")}
    steps = dict(((u, s), a) for u, s, a in con.execute(
        "select dest_unit, step, sum(amount) from cost_alloc_trail where run_id = ? group by 1, 2", [r.run_id]
    ).fetchall())
    assert steps == {("SUP", 1): D("10.00"), ("LAB", 1): D("20.00"), ("IM", 1): D("40.00"), ("SUR", 1): D("30.00"),
                     ("LAB", 2): D("7.00"), ("IM", 2): D("21.00"), ("SUR", 2): D("42.00"),
                     ("IM", 3): D("136.20"), ("SUR", 3): D("90.80")}
    # the hop records the basis, its quantity and total, and that the quantity is the lab's own (provider)
    hop = con.execute("""select basis_code, sum(basis_qty) / count(*), any_value(basis_total), any_value(basis_provider)
        from cost_alloc_trail where run_id = ? and step = 3 and dest_unit = 'IM' group by 1""", [r.run_id]).fetchall()
    assert hop == [("ordered_revenue", D("60"), D("100"), "LAB")]
    run = con.execute("select plan_id, measure, calibre, month_from, month_to from cost_run").fetchall()
    assert run == [("default", "cost", "hospital_full", JAN, JAN)]
    cols = con.execute("""select sum(direct), sum(step1_in), sum(step2_in), sum(step3_in), sum(allocated_out)
        from cost_unit_full where run_id = ? and unit_code = 'IM'""", [r.run_id]).fetchall()[0]
    assert cols == (D("500.00"), D("40.00"), D("21.00"), D("136.20"), D("0.00"))


def test_largest_remainder_puts_leftover_cents_on_the_largest_remainders(con, tmp_path):
    # 0.10 by 47/29/24: exact 4.7, 2.9, 2.4 cents → floors 4, 2, 2 (8); the 2 cents left go to the largest
    # remainders .9 (B) and .7 (A): A 5, B 3, C 2 (a "largest receiver" rule would give A 6).
    # 100.00 by 1/1/1: 3333 cents each + 1 left; equal remainders and quantities → first by unit code (A).
    add_units(con, [("ADM", "admin", "other"), ("ADM2", "admin", "other"), ("A", "clinical", "inpatient"),
                    ("B", "clinical", "inpatient"), ("C", "clinical", "inpatient")])
    add_ledger(con, [("ADM", "other", D("0.10")), ("ADM2", "personnel", 100)])
    add_basis(con, [("A", "staff", 47), ("B", "staff", 29), ("C", "staff", 24),
                    ("A", "workload", 1), ("B", "workload", 1), ("C", "workload", 1)])
    plan = tmp_path / "p.yaml"
    plan.write_text("""plan_id: t
steps:
  - step: 1
    source: {cost_class: admin}
    receivers: [clinical]
    basis: {"*": staff, personnel: workload}
""", encoding="utf-8")
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan(plan))
    got = con.execute("select source_unit, dest_unit, amount from cost_alloc_trail order by 1, 2").fetchall()
    assert got == [("ADM", "A", D("0.05")), ("ADM", "B", D("0.03")), ("ADM", "C", D("0.02")),
                   ("ADM2", "A", D("33.34")), ("ADM2", "B", D("33.33")), ("ADM2", "C", D("33.33"))]


def test_revenue_steps_down_like_cost(con):
    # measure revenue: the lab executed 100 of lab revenue (charge category lab), IM executed 50 consult.
    # Step 3 moves the lab's 100 to IM/SUR by ordered revenue 60/40 → IM lab 60, SUR lab 40; IM consult stays 50.
    mini_example(con)
    con.execute(f"""insert into cost_revenue ({REVENUE_COLS}) values ('H1', '2025-01-01', 'lab', 'IM', 'LAB', 70),
        ('H1', '2025-01-01', 'lab', 'SUR', 'LAB', 30), ('H1', '2025-01-01', 'consult', 'IM', 'IM', 50)""")
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan(), measure="revenue")
    got = con.execute("""select unit_code, cost_item, "full" from cost_unit_full where run_id = ? and "full" <> 0
        order by 1, 2""", [r.run_id]).fetchall()
    assert got == [("IM", "consult", D("50.00")), ("IM", "lab", D("60.00")), ("SUR", "lab", D("40.00"))]
    assert con.execute("select measure, calibre from cost_run").fetchall() == [("revenue", None)]
    assert con.execute("select count(*) from cost_unit_cost").fetchall()[0][0] == 0
    from yunying.cost.report import build_tables

    _, sheets = build_tables(con, r.run_id)
    assert [t for t, _, _ in sheets] == ["医院科室直接收入表", "医院临床服务类科室全收入表", "全收入构成", "医院科室收入分摊汇总表"]
    full = {row[0]: row[-1] for row in sheets[1][2]}
    assert full == {"IM": 110, "SUR": 40, "合计": 150}


@pytest.mark.parametrize("calibre,im", [("medical_business", "500.00"), ("medical", "600.00"),
                                         ("medical_full", "650.00"), ("hospital_full", "700.00")])
def test_calibres_take_the_ledger_rows_of_their_reading(con, calibre, im):
    # IM: own 500, fiscal depreciation 50, fiscal other 20, research other 30; ADM own 100 → all to IM (staff).
    # 医疗业务成本 own, non-admin = 500; 医疗成本 + admin = 600; 医疗全成本 + fiscal depreciation = 650; 医院全成本 all = 700.
    add_units(con, [("ADM", "admin", "other"), ("IM", "clinical", "inpatient")])
    add_ledger(con, [("ADM", "personnel", 100), ("IM", "personnel", 500), ("IM", "depreciation", 50, "fiscal"),
                     ("IM", "other", 20, "fiscal"), ("IM", "other", 30, "research")])
    add_basis(con, [("IM", "staff", 10)])
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan(), calibre=calibre)
    assert full_by_unit(con, r.run_id)["IM"] == D(im)
    assert con.execute("select calibre from cost_run").fetchall() == [(calibre,)]


def test_step_zero_shares_costs_and_its_units_receive_nothing_later(con, tmp_path):
    # step 0: PUB 90 by area ADM 10 / IM 20 / SUR 30 → 15 / 30 / 45 (PUB's own area 50 is not its share).
    # step 1: ADM 100+15 = 115 by staff IM 40 / SUR 60 → 46 / 69; PUB (support) has staff 50 but is a step-0 source.
    # IM 500+30+46 = 576, SUR 600+45+69 = 714; 1290 = 90+100+500+600.
    add_units(con, [("PUB", "support", "other"), ("ADM", "admin", "other"), ("IM", "clinical", "inpatient"),
                    ("SUR", "clinical", "inpatient")])
    add_ledger(con, [("PUB", "other", 90), ("ADM", "personnel", 100), ("IM", "personnel", 500),
                     ("SUR", "personnel", 600)])
    add_basis(con, [("PUB", "area", 50), ("ADM", "area", 10), ("IM", "area", 20), ("SUR", "area", 30),
                    ("PUB", "staff", 50), ("IM", "staff", 40), ("SUR", "staff", 60)])
    plan = tmp_path / "p.yaml"
    plan.write_text("""plan_id: shared
steps:
  - {step: 0, source: {unit_codes: [PUB]}, receivers: [admin, support, clinical], basis: {other: area}}
  - {step: 1, source: {cost_class: admin}, receivers: [support, clinical], basis: {"*": staff}}
""", encoding="utf-8")
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan(plan))
    assert full_by_unit(con, r.run_id) == {"PUB": D("0.00"), "ADM": D("0.00"), "IM": D("576.00"),
                                           "SUR": D("714.00")}
    shared = dict(con.execute("select unit_code, sum(shared_in) from cost_unit_full where run_id = ? group by 1",
                              [r.run_id]).fetchall())
    assert shared == {"PUB": 0, "ADM": D("15.00"), "IM": D("30.00"), "SUR": D("45.00")}


def test_months_are_independent_and_units_keep_their_history(con):
    # IM is clinical until 2025-01, then reorganised as IM2 from 2025-02; each month's staff shares apply.
    # Jan: ADM 100 → IM 100 (only clinical unit). Feb: ADM 80 → IM2 80.
    add_units(con, [("ADM", "admin", "other"), ("IM", "clinical", "inpatient", "03", dt.date(2024, 1, 1),
                                                 dt.date(2025, 1, 31)),
                    ("IM2", "clinical", "inpatient", "03", dt.date(2025, 2, 1), None)])
    feb = dt.date(2025, 2, 1)
    add_ledger(con, [("ADM", "personnel", 100), ("IM", "personnel", 10)])
    add_ledger(con, [("ADM", "personnel", 80), ("IM2", "personnel", 20)], month=feb)
    add_basis(con, [("IM", "staff", 5)])
    add_basis(con, [("IM2", "staff", 7)], month=feb)
    (r,) = run_stepdown(con, "2025-01", "2025-02", load_plan())
    got = con.execute("""select month, unit_code, sum("full") from cost_unit_full where run_id = ? and "full" <> 0
        group by 1, 2 order by 1""", [r.run_id]).fetchall()
    assert got == [(JAN, "IM", D("110.00")), (feb, "IM2", D("100.00"))]


def test_fallback_basis_when_nobody_ordered_from_a_medtech_unit(con):
    # the spec's mini example without the lab's ordered revenue (nobody ordered from it that month): the default
    # plan's step-3 fallback 收入 allocates the lab's 227 by clinical revenue IM 30 / SUR 70 → IM +68.1, SUR +158.9;
    # IM 500 + 40 + 21 + 68.1 = 629.1, SUR 600 + 30 + 42 + 158.9 = 830.9, total 1460 unchanged.
    add_units(con, [("ADM", "admin", "other"), ("SUP", "support", "other"), ("LAB", "medtech", "other"),
                    ("IM", "clinical", "inpatient"), ("SUR", "clinical", "inpatient")])
    add_ledger(con, [("ADM", "personnel", 100), ("SUP", "material", 60), ("LAB", "material", 200),
                     ("IM", "personnel", 500), ("SUR", "personnel", 600)])
    add_basis(con, [("SUP", "staff", 10), ("LAB", "staff", 20), ("IM", "staff", 40), ("SUR", "staff", 30),
                    ("LAB", "packs", 1, "SUP"), ("IM", "packs", 3, "SUP"), ("SUR", "packs", 6, "SUP"),
                    ("IM", "revenue", 30), ("SUR", "revenue", 70)])
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan())
    full = full_by_unit(con, r.run_id)
    assert full["IM"] == D("629.10") and full["SUR"] == D("830.90")
    hops = con.execute("""select dest_unit, basis_code, basis_provider, sum(amount) from cost_alloc_trail
        where run_id = ? and step = 3 group by all order by 1""", [r.run_id]).fetchall()
    assert hops == [("IM", "revenue", "*", D("68.10")), ("SUR", "revenue", "*", D("158.90"))]
