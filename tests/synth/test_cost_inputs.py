"""The synthetic hospital's cost inputs (issue 17) agree with its other tables.

Every check is computed independently in SQL on the imported warehouse, from the tables the cost inputs must agree
with (finance_month, staff_count, ward_month, outpatient_visit, discharge); none reads the generator's code or data.
"""

from __future__ import annotations

import duckdb
import pytest

from yunying.cli.warehouse_cmds import import_folder
from yunying.synth.generator import generate

# 首页 fee columns -> charge categories, stated here by hand from docs/cost.md "1 Inputs" (the same reading as the
# generator's finance income lines). 床位费 and 诊察费 share 一般医疗服务费, so they are checked together.
CATEGORY_COLUMNS = {
    "bed+consult": ["fee_general_service"],
    "treatment": ["fee_general_treatment", "fee_nonsurgical", "fee_rehab", "fee_tcm", "fee_tcm_diagnosis",
                  "fee_tcm_treatment", "fee_tcm_other"],
    "nursing": ["fee_nursing"],
    "exam": ["fee_pathology", "fee_imaging", "fee_clinical_dx"],
    "lab": ["fee_lab"],
    "surgery": ["fee_surgical"],
    "material": ["fee_mat_exam", "fee_mat_treat", "fee_mat_surg"],
    "drug": ["fee_western_drug"],
    "patent_tcm": ["fee_patent_tcm"],
    "herbal": ["fee_herbal"],
    "other": ["fee_general_other", "fee_other", "fee_blood", "fee_albumin", "fee_globulin", "fee_coag_factor",
              "fee_cytokine"],
}


def _load(tmp_path_factory, profile: str, scale: float) -> duckdb.DuckDBPyConnection:
    """Generate, import with `import all`, and attach the injected-defect truth file as table defects_truth."""
    base = tmp_path_factory.mktemp(profile)
    generate(profile=profile, years=[2022], scale=scale, seed=13, out=base / "data")
    res = import_folder(base / "w.duckdb", base / "data", quiet=True, reject_dir=base / "rej")
    assert res["ok"], res
    for kind in ("cost_unit", "charge_item", "cost_ledger", "cost_basis", "cost_revenue", "item_volume",
                 "case_charge"):
        assert res["imports"][kind]["inserted"] > 0 and res["imports"][kind]["rejected"] == 0, kind
    con = duckdb.connect(str(base / "w.duckdb"), read_only=True)
    con.execute(f"create temp table defects_truth as select * from read_csv('{base / 'data' / 'defects_truth.csv'}', "
                f"all_varchar = true)")
    return con


@pytest.fixture(scope="module")
def general(tmp_path_factory):
    con = _load(tmp_path_factory, "tertiary-general", 0.01)
    yield con
    con.close()


def one(con, sql):
    return con.execute(sql).fetchall()


def test_ledger_months_and_items_equal_finance_expense_lines(general):
    # cost item <- finance line(s): personnel, material, drug, depreciation, amortisation, risk fund one to one;
    # 其他运行费用 = 能耗支出 + 其他支出. Exact to the cent for every month and item.
    bad = one(general, """
        with f as (select month, case item_code when 'expense_personnel' then 'personnel'
                     when 'expense_material' then 'material' when 'expense_drug' then 'drug'
                     when 'expense_depreciation' then 'depreciation' when 'expense_amortisation' then 'amortization'
                     when 'expense_risk_fund' then 'risk_fund' when 'expense_energy' then 'other'
                     when 'expense_other' then 'other' end as cost_item, amount
                   from finance_month where dept_code = '*'),
             fi as (select month, cost_item, sum(amount) as f from f where cost_item is not null group by all),
             l as (select month, cost_item, sum(amount) as l from cost_ledger group by all)
        select * from fi full join l using (month, cost_item) where f is distinct from l""")
    assert bad == []
    assert one(general, "select count(distinct month), count(distinct cost_item), count(distinct fund_source) "
                        "from cost_ledger") == [(12, 7, 3)]
    # and the total is 总支出 up to the finance table's own rounding of its lines (≤ 1 cent per line, 8 lines)
    worst = one(general, """select max(abs(l - f)) from (select month, sum(amount) l from cost_ledger group by 1)
                            join (select month, amount f from finance_month where dept_code = '*'
                                  and item_code = 'expense_total') using (month)""")[0][0]
    assert worst <= 0.08


def _basis_by_dept(con, basis: str) -> str:
    return f"""select b.month, u.dept_code, sum(b.quantity) as q from cost_basis b
               join cost_unit u using (hospital_id, unit_code)
               where b.basis_code = '{basis}' and b.provider_unit = '*' group by all"""


def test_staff_bed_day_visit_and_discharge_bases_are_the_counted_tables(general):
    checks = {
        "staff": "select month, dept_code, sum(headcount) as s from staff_count group by all",
        "bed_days": "select month, dept_code, occupied_bed_days as s from ward_month where occupied_bed_days > 0",
        "op_visits": "select cast(date_trunc('month', reg_time) as date) as month, dept_code, count(*) as s "
                     "from outpatient_visit group by all",
        "discharges": "select cast(date_trunc('month', discharge_time) as date) as month, "
                      "discharge_dept_code as dept_code, count(*) as s from discharge group by all",
    }
    for basis, truth in checks.items():
        # a measured zero (every unit and month has its general basis rows) matches a month with nothing counted
        n, bad = one(general, f"""select count(*), count(*) filter (where coalesce(q, 0) <> coalesce(s, 0))
                                  from ({_basis_by_dept(general, basis)}) full join ({truth}) using (month, dept_code)""")[0]
        assert n > 0 and bad == 0, basis


def test_every_unit_of_a_department_is_accounted_and_units_follow_departments(general):
    # clinical departments with stays have an inpatient unit; every medtech/support/admin department one unit
    missing = one(general, """select d.dept_code from department d where d.dept_class <> 'clinical'
                              and not exists (select 1 from cost_unit u where u.dept_code = d.dept_code)""")
    assert missing == []
    no_ip = one(general, """select distinct discharge_dept_code from discharge where discharge_dept_code not in
                            (select dept_code from cost_unit where service_line = 'inpatient')""")
    assert no_ip == []
    assert {r[0] for r in one(general, "select unit_code from cost_unit where cost_class = 'support'")} >= \
        {"CSSD", "MRD", "REGB", "ADMO"}


def test_case_lines_sum_to_each_case_fee_block_by_category(general):
    total = one(general, """select count(*), count(*) filter (where l is distinct from fee_total) from discharge
                            left join (select mrn, admission_no, sum(amount) l from case_item_charge group by all)
                            using (mrn, admission_no)""")[0]
    assert total[0] > 1000 and total[1] == 0
    # F002 defects (injected: 实验室诊断费 raised without ZFY) are the only cases whose lab column disagrees
    for cat, cols in CATEGORY_COLUMNS.items():
        cats = cat.split("+")
        fee = " + ".join(f"coalesce({c}, 0)" for c in cols)
        bad = one(general, f"""
            with l as (select c.mrn, c.admission_no, sum(c.amount) as l from case_item_charge c
                       join charge_item i on i.hospital_id = c.hospital_id and i.item_code = c.item_code
                       where i.charge_category in ({', '.join(repr(x) for x in cats)}) group by all)
            select d.mrn from discharge d left join l using (mrn, admission_no)
            where coalesce(l.l, 0) <> {fee}
              and d.mrn not in (select mrn from defects_truth where rule_id = 'F002')""")
        assert bad == [], cat
    assert one(general, "select count(*) from defects_truth where rule_id = 'F002'")[0][0] > 0


def test_revenue_equals_the_stays_and_visits_and_feeds_ordered_revenue(general):
    # inpatient revenue (ordered by IP units) = Σ 住院总费用 by discharge month; outpatient = Σ visit fees by month
    bad = one(general, """
        with r as (select month, u.service_line, sum(amount) as r from cost_revenue c
                   join cost_unit u on u.hospital_id = c.hospital_id and u.unit_code = c.order_unit group by all),
             t as (select cast(date_trunc('month', discharge_time) as date) as month, 'inpatient' as service_line,
                          sum(fee_total) as t from discharge group by all
                   union all
                   select cast(date_trunc('month', reg_time) as date), 'outpatient', sum(fee_total)
                   from outpatient_visit group by all)
        select * from r full join t using (month, service_line) where r is distinct from t""")
    assert bad == []
    # ordered revenue of a medtech provider = the revenue it executes for that ordering unit
    bad = one(general, """
        with o as (select month, unit_code, provider_unit, quantity from cost_basis where basis_code = 'ordered_revenue'),
             r as (select month, order_unit as unit_code, exec_unit as provider_unit, sum(amount) as quantity
                   from cost_revenue c join cost_unit u on u.hospital_id = c.hospital_id and u.unit_code = c.exec_unit
                   where u.cost_class = 'medtech' and order_unit <> exec_unit group by all)
        select * from o full join r using (month, unit_code, provider_unit) where o.quantity is distinct from r.quantity""")
    assert bad == []
    assert one(general, "select count(distinct provider_unit) from cost_basis where basis_code = 'ordered_revenue'")[0][0] >= 5
    # item volumes add up to the revenue of the same month, units and category
    bad = one(general, """
        with v as (select month, i.charge_category, order_unit, v.exec_unit, sum(v.amount) a from item_volume v
                   join charge_item i using (hospital_id, item_code) group by all),
             r as (select month, charge_category, order_unit, exec_unit, amount a from cost_revenue)
        select * from v full join r using (month, charge_category, order_unit, exec_unit) where v.a is distinct from r.a""")
    assert bad == []


def test_tcm_layout_case_lines_match_its_fee_block(tmp_path_factory):
    con = _load(tmp_path_factory, "tertiary-tcm", 0.005)
    try:
        n, bad = one(con, """select count(*), count(*) filter (where l is distinct from fee_total) from discharge
                             left join (select mrn, admission_no, sum(amount) l from case_item_charge group by all)
                             using (mrn, admission_no)""")[0]
        assert n > 100 and bad == 0
        tcm = one(con, """select sum(c.amount) from case_item_charge c join charge_item i using (hospital_id, item_code)
                          where i.item_code in ('ST0010', 'ST0011')""")[0][0]
        fees = one(con, "select sum(fee_tcm_diagnosis) + sum(fee_tcm_other) from discharge")[0][0]
        assert tcm == fees and fees > 0
    finally:
        con.close()
