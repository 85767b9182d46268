"""Test helper of the cost-case slice: creates the cost input tables and the step-down outputs it reads, exactly
per /work/wt/COST-CONTRACT.md (the cost-data and cost-alloc slices add them to the model and migrations; until
those branches merge, `if not exists` keeps this helper harmless), and writes small hand-made rows."""

from __future__ import annotations

from datetime import date

CONTRACT_DDL = [
    """create table if not exists cost_unit (hospital_id VARCHAR, unit_code VARCHAR, unit_name VARCHAR,
       dept_code VARCHAR, cost_class VARCHAR, service_line VARCHAR, valid_from DATE, valid_to DATE)""",
    """create table if not exists cost_revenue (hospital_id VARCHAR, month DATE, charge_category VARCHAR,
       order_unit VARCHAR, exec_unit VARCHAR, amount DECIMAL(16,2))""",
    """create table if not exists charge_item (hospital_id VARCHAR, item_code VARCHAR, item_name VARCHAR,
       charge_category VARCHAR, unit VARCHAR, price DECIMAL(14,2), std_minutes DECIMAL(10,2),
       workload_eq DECIMAL(12,4), exec_unit VARCHAR, valid_from DATE, valid_to DATE)""",
    """create table if not exists item_volume (hospital_id VARCHAR, month DATE, item_code VARCHAR,
       order_unit VARCHAR, exec_unit VARCHAR, quantity DECIMAL(16,4), amount DECIMAL(16,2))""",
    """create table if not exists case_item_charge (hospital_id VARCHAR, mrn VARCHAR, admission_no INTEGER,
       line_no INTEGER, item_code VARCHAR, exec_unit VARCHAR, charge_date DATE, quantity DECIMAL(16,4),
       amount DECIMAL(16,2))""",
    """create table if not exists cost_run (run_id VARCHAR, hospital_id VARCHAR, month_from DATE, month_to DATE,
       plan_id VARCHAR, plan_version VARCHAR, plan_hash VARCHAR, measure VARCHAR, created_at TIMESTAMP,
       created_by VARCHAR, note VARCHAR)""",
    """create table if not exists cost_unit_full (run_id VARCHAR, hospital_id VARCHAR, month DATE,
       unit_code VARCHAR, dept_code VARCHAR, cost_class VARCHAR, service_line VARCHAR, cost_item VARCHAR,
       direct DECIMAL(16,2), step1_in DECIMAL(16,2), step2_in DECIMAL(16,2), step3_in DECIMAL(16,2),
       allocated_out DECIMAL(16,2), "full" DECIMAL(16,2), shared_in DECIMAL(16,2) default 0)""",
]

H = "H1"
M = date(2022, 3, 1)


def create_contract_tables(con) -> None:
    for ddl in CONTRACT_DDL:
        con.execute(ddl)


def run(con, run_id="cr1", month_from=M, month_to=M, measure="cost", at="2023-01-01 08:00:00"):
    con.execute("insert into cost_run (run_id, hospital_id, month_from, month_to, plan_id, plan_hash, measure, "
                "created_at) values (?, ?, ?, ?, 'default', 'test', ?, ?)", [run_id, H, month_from, month_to, measure, at])


def unit(con, code, dept, cls, line="inpatient"):
    con.execute("insert into cost_unit (hospital_id, unit_code, unit_name, dept_code, cost_class, service_line, "
                "valid_from, valid_to) values (?, ?, ?, ?, ?, ?, date '2020-01-01', null)",
                [H, code, code, dept, cls, line])


def full(con, code, dept, cls, item, *, direct=0, s0=0, s1=0, s2=0, s3=0, out=0, run_id="cr1", month=M,
         line="inpatient"):
    """One cost_unit_full row; full = direct + shared_in + inflows − allocated_out (as the step-down writes it)."""
    con.execute("insert into cost_unit_full (run_id, hospital_id, month, unit_code, dept_code, cost_class, "
                "service_line, cost_item, direct, step1_in, step2_in, step3_in, allocated_out, \"full\", shared_in) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, H, month, code, dept, cls, line, item, direct, s1, s2, s3, out,
                 direct + s0 + s1 + s2 + s3 - out, s0])


def revenue(con, cat, order_unit, exec_unit, amount, month=M):
    con.execute("insert into cost_revenue (hospital_id, month, charge_category, order_unit, exec_unit, "
                "amount) values (?, ?, ?, ?, ?, ?)", [H, month, cat, order_unit, exec_unit, amount])


def item(con, code, cat, *, minutes=None, weq=None, price=None):
    con.execute("insert into charge_item (hospital_id, item_code, item_name, charge_category, unit, price, "
                "std_minutes, workload_eq, exec_unit, valid_from, valid_to) "
                "values (?, ?, ?, ?, '次', ?, ?, ?, null, date '2020-01-01', null)",
                [H, code, code, cat, price, minutes, weq])


def volume(con, code, order_unit, exec_unit, qty, amount, month=M):
    con.execute("insert into item_volume (hospital_id, month, item_code, order_unit, exec_unit, quantity, "
                "amount) values (?, ?, ?, ?, ?, ?, ?)", [H, month, code, order_unit, exec_unit,
                                                                         qty, amount])


def line(con, mrn, no, code, exec_unit, qty, amount, day=date(2022, 3, 10)):
    con.execute("insert into case_item_charge (hospital_id, mrn, admission_no, line_no, item_code, exec_unit, "
                "charge_date, quantity, amount) values (?, ?, 1, ?, ?, ?, ?, ?, ?)",
                [H, mrn, no, code, exec_unit, day, qty, amount])


def discharge(con, mrn, dept="GS", fees: dict | None = None, fee_total=None, team=None, day=10):
    fees = fees or {}
    total = fee_total if fee_total is not None else sum(fees.values())
    cols = ["hospital_id", "mrn", "admission_no", "discharge_time", "discharge_dept_code", "doctor_group",
            "fee_total"] + list(fees)
    vals = [H, mrn, 1, f"2022-03-{day:02d} 10:00:00", dept, team, total] + list(fees.values())
    con.execute(f"insert into discharge ({', '.join(cols)}) values ({', '.join('?' * len(cols))})", vals)
    if not con.execute("select count(*) from hospital where hospital_id = ?", [H]).fetchall()[0][0]:
        con.execute("insert into hospital (hospital_id, hospital_name, level) values (?, ?, 'tertiary')", [H, H])
