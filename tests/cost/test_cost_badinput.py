"""Run-time validation (issue 17 'Bad input'): each case is refused with its stable code, the message names the
unit, month, step and basis as applicable plus the fix, and nothing already stored changes (one transaction)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.cost.cost_fixtures import JAN, add_basis, add_ledger, add_units, mini_example, snapshot, warehouse
from yunying.cost.errors import CostError
from yunying.cost.plan import load_plan
from yunying.cost.stepdown import run_stepdown

FEB = dt.date(2025, 2, 1)


@pytest.fixture
def con(tmp_path):
    """A warehouse holding one good run of the mini example for January; February is filled per case."""
    c = warehouse(tmp_path / "w.duckdb")
    mini_example(c)
    run_stepdown(c, "2025-01", "2025-01", load_plan())
    yield c
    c.close()


def feb_good(con, skip_basis=()):
    add_ledger(con, [("ADM", "personnel", 100), ("SUP", "material", 60), ("LAB", "material", 200),
                     ("IM", "personnel", 500), ("SUR", "personnel", 600)], FEB)
    rows = [("SUP", "staff", 10), ("LAB", "staff", 20), ("IM", "staff", 40), ("SUR", "staff", 30),
            ("LAB", "packs", 1, "SUP"), ("IM", "packs", 3, "SUP"), ("SUR", "packs", 6, "SUP"),
            ("IM", "ordered_revenue", 60, "LAB"), ("SUR", "ordered_revenue", 40, "LAB")]
    add_basis(con, [r for r in rows if r[:2] not in skip_basis], FEB)


def refused(con, code, plan=None, **kw):
    before = snapshot(con)
    with pytest.raises(CostError) as e:
        run_stepdown(con, "2025-01", "2025-02", load_plan(plan), **kw)
    assert e.value.code == code, e.value
    assert snapshot(con) == before and len(before["cost_run"]) == 1
    return e.value


def test_ledger_for_a_unit_unknown_that_month(con):
    feb_good(con)
    con.execute("update cost_unit set valid_to = date '2025-01-31' where unit_code = 'SUR'")
    e = refused(con, "COST-UNIT-UNKNOWN")
    assert "month=2025-02, unit=SUR" in e.zh and "cost_unit" in e.zh and "not in force" in e.en


@pytest.mark.parametrize("cls", [None, "ward"])
def test_unit_without_class(con, cls):
    feb_good(con)
    add_units(con, [("NEW", cls, "inpatient")])
    add_ledger(con, [("NEW", "personnel", 5)], FEB)
    e = refused(con, "COST-UNIT-NOCLASS")
    assert "unit=NEW" in e.zh and "cost_class" in e.zh


def test_receiving_unit_without_basis_value(con):
    feb_good(con, skip_basis={("SUR", "staff")})
    e = refused(con, "COST-BASIS-MISSING")
    assert "第 1 步" in e.zh and "month=2025-02, source=ADM, basis=staff, receiver=SUR" in e.zh


def test_basis_total_zero_for_the_whole_receiving_set(con, tmp_path):
    feb_good(con, skip_basis={("IM", "ordered_revenue"), ("SUR", "ordered_revenue")})
    # the default plan falls back to 收入 for step 3, and this fixture has no revenue quantities: refused by name
    e = refused(con, "COST-BASIS-MISSING")
    assert "source=LAB, basis=revenue, receiver=IM" in e.zh
    # a plan without the fallback refuses the zero total itself
    from yunying.cost.plan import default_plan_path
    plan = tmp_path / "nofallback.yaml"
    plan.write_text(default_plan_path().read_text(encoding="utf-8").replace("fallback:", "# fallback:"),
                    encoding="utf-8")
    e = refused(con, "COST-BASIS-ZERO", plan=plan)
    # provider-specific quantities may be absent per receiver, but not for all of them
    assert "第 3 步" in e.zh and "month=2025-02, source=LAB, basis=ordered_revenue, provider=LAB" in e.zh
    assert "overrides" in e.en and "cost_basis" in e.en


def test_zero_quantities_count_as_zero_total(con):
    feb_good(con)
    con.execute("update cost_basis set quantity = 0 where month = ? and basis_code = 'staff'", [FEB])
    e = refused(con, "COST-BASIS-ZERO")
    assert "source=ADM, basis=staff" in e.zh


@pytest.mark.parametrize("sql,code", [
    ("update cost_ledger set amount = -5 where month = '2025-02-01' and unit_code = 'IM'", "COST-NEGATIVE"),
    ("update cost_basis set quantity = -1 where month = '2025-02-01' and unit_code = 'IM' and basis_code = 'staff'",
     "COST-NEGATIVE"),
    ("update cost_ledger set amount = null where month = '2025-02-01' and unit_code = 'LAB'", "COST-LEDGER-MISSING"),
])
def test_negative_or_missing_values(con, sql, code):
    feb_good(con)
    con.execute(sql)
    e = refused(con, code)
    assert "month=2025-02" in e.zh


def test_source_with_no_receiving_unit(con):
    # February: the only units in force are admin ones
    con.execute("update cost_unit set valid_to = date '2025-01-31' where unit_code <> 'ADM'")
    add_ledger(con, [("ADM", "personnel", 100)], FEB)
    e = refused(con, "COST-NO-RECEIVER")
    assert "source=ADM" in e.zh


def test_missing_input_tables(tmp_path):
    from yunying.warehouse.db import connect

    c = connect(str(tmp_path / "empty.duckdb"))
    with pytest.raises(CostError) as e:
        run_stepdown(c, "2025-01", "2025-01", load_plan())
    # the input tables exist in every warehouse (migration 0100); an empty one has no ledger rows to step down
    assert e.value.code == "COST-NO-DATA" and "cost_ledger" in e.value.zh
    c.close()


def test_period_without_ledger(con):
    with pytest.raises(CostError) as e:
        run_stepdown(con, "2024-01", "2024-03", load_plan())
    assert e.value.code == "COST-NO-DATA"


def test_a_good_run_after_a_refusal_stores_normally(con):
    feb_good(con)
    con.execute("update cost_ledger set amount = -5 where month = '2025-02-01' and unit_code = 'IM'")
    refused(con, "COST-NEGATIVE")
    con.execute("update cost_ledger set amount = 500 where month = '2025-02-01' and unit_code = 'IM'")
    (r,) = run_stepdown(con, "2025-01", "2025-02", load_plan())
    assert r.total == 2 * 1460


def test_calibre_is_refused_for_revenue_and_unknown_calibre(con):
    with pytest.raises(CostError) as e:
        run_stepdown(con, "2025-01", "2025-01", load_plan(), measure="revenue", calibre="medical")
    assert e.value.code == "COST-CALIBRE"
    with pytest.raises(CostError) as e:
        run_stepdown(con, "2025-01", "2025-01", load_plan(), calibre="everything")
    assert e.value.code == "COST-CALIBRE" and "hospital_full" in e.value.zh


def test_overlapping_unit_validity(con):
    # IM re-registered from 2025-02 without closing the old row: two rows in force in February
    feb_good(con)
    add_units(con, [("IM", "clinical", "outpatient", "IM", FEB, None)])
    e = refused(con, "COST-UNIT-DUP")
    assert "month=2025-02, unit=IM, rows=2" in e.zh and "valid_to" in e.en
