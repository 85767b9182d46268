"""诊次成本 / 床日成本 (issue 17 item 3): per unit, department and hospital, volume from cost_basis else from the
warehouse (ward_month / outpatient_visit) with the source recorded; incomplete volumes give no unit cost."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.cost.cost_fixtures import JAN, add_basis, add_ledger, add_units, warehouse
from yunying.cost.plan import load_plan
from yunying.cost.stepdown import run_stepdown


@pytest.fixture
def con(tmp_path):
    c = warehouse(tmp_path / "w.duckdb")
    # ADM 100 by staff IM-OP 1 / IM-IP 2 / SUR-IP 2 → 20 / 40 / 40.
    # Full: IM-OP 300+20 = 320, IM-IP 500+40 = 540, SUR-IP 600+40 = 640.
    add_units(c, [("ADM", "admin", "other"), ("IM-OP", "clinical", "outpatient", "IM"),
                  ("IM-IP", "clinical", "inpatient", "IM"), ("SUR-IP", "clinical", "inpatient", "SUR")])
    add_ledger(c, [("ADM", "personnel", 100), ("IM-OP", "personnel", 300), ("IM-IP", "personnel", 500),
                   ("SUR-IP", "personnel", 600)])
    add_basis(c, [("IM-OP", "staff", 1), ("IM-IP", "staff", 2), ("SUR-IP", "staff", 2),
                  ("IM-OP", "op_visits", 160), ("IM-IP", "bed_days", 270)])
    # SUR has no bed_days in cost_basis: its ward_month (the only inpatient unit of SUR) gives 256
    c.execute("insert into ward_month (hospital_id, month, dept_code, open_bed_days, occupied_bed_days) "
              "values ('H1', '2025-01-01', 'SUR', 300, 256), ('H1', '2025-01-01', 'IM', 300, 999)")
    yield c
    c.close()


def rows(con, run_id):
    return {(u, d, m): (cost, vol, uc, src) for u, d, m, cost, vol, uc, src in con.execute(
        """select unit_code, dept_code, measure, cost, volume, unit_cost, volume_source from cost_unit_cost
           where run_id = ?""", [run_id]).fetchall()}


def test_visit_and_bed_day_costs_per_unit_department_and_hospital(con):
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan())
    got = rows(con, r.run_id)
    # 诊次: IM-OP 320 / 160 = 2.00 (cost_basis); the IM department and the hospital are the same single unit
    assert got[("IM-OP", "IM", "visit")] == (D("320.00"), D("160"), D("2.00"), "cost_basis")
    assert got[("*", "*", "visit")] == (D("320.00"), D("160"), D("2.00"), "cost_basis")
    # 床日: IM-IP 540 / 270 = 2.00 (cost_basis; ward_month's 999 not used); SUR-IP 640 / 256 = 2.50 (ward_month)
    assert got[("IM-IP", "IM", "bed_day")] == (D("540.00"), D("270"), D("2.00"), "cost_basis")
    assert got[("SUR-IP", "SUR", "bed_day")] == (D("640.00"), D("256"), D("2.50"), "ward_month")
    assert got[("*", "SUR", "bed_day")] == (D("640.00"), D("256"), D("2.50"), "ward_month")
    # hospital 床日成本: (540 + 640) / (270 + 256) = 1180 / 526 = 2.2433… → 2.24, from two sources
    assert got[("*", "*", "bed_day")] == (D("1180.00"), D("526"), D("2.24"), "mixed")
    assert {v[3] for v in got.values()} <= {"cost_basis", "ward_month", "mixed"}
    assert con.execute("select distinct calibre from cost_unit_cost").fetchall() == [("hospital_full",)]


def test_no_department_fallback_when_the_department_has_two_units_and_totals_say_incomplete(con):
    # a second inpatient unit in SUR: SUR's ward_month volume cannot be split, so neither SUR unit has a volume;
    # SUR-IP2 direct 100 (+ staff 0 → nothing from ADM). The hospital bed-day row is incomplete: no unit cost.
    add_units(con, [("SUR-IP2", "clinical", "inpatient", "SUR")])
    add_ledger(con, [("SUR-IP2", "personnel", 100)])
    add_basis(con, [("SUR-IP2", "staff", 0)])
    (r,) = run_stepdown(con, "2025-01", "2025-01", load_plan())
    got = rows(con, r.run_id)
    assert got[("SUR-IP", "SUR", "bed_day")] == (D("640.00"), None, None, "none")
    assert got[("*", "SUR", "bed_day")][2:] == (None, "incomplete")
    assert got[("*", "*", "bed_day")] == (D("1280.00"), D("270"), None, "incomplete")
    assert got[("IM-IP", "IM", "bed_day")][2] == D("2.00")
