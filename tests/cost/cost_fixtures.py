"""Cost test fixtures: the input tables exactly as COST-CONTRACT A defines them (the cost-data slice creates them in
the real warehouse through the data model), plus small loaders. Output tables come from the real migrations."""

from __future__ import annotations

import datetime as dt

from yunying.warehouse.db import connect

INPUT_DDL = """
create table if not exists cost_unit (hospital_id VARCHAR, unit_code VARCHAR, unit_name VARCHAR, dept_code VARCHAR,
  cost_class VARCHAR, service_line VARCHAR, valid_from DATE, valid_to DATE);
create table if not exists cost_ledger (hospital_id VARCHAR, month DATE, unit_code VARCHAR, cost_item VARCHAR,
  fund_source VARCHAR, amount DECIMAL(16,2));
create table if not exists cost_basis (hospital_id VARCHAR, month DATE, unit_code VARCHAR, basis_code VARCHAR,
  provider_unit VARCHAR, quantity DECIMAL(18,4));
create table if not exists cost_revenue (hospital_id VARCHAR, month DATE, charge_category VARCHAR,
  order_unit VARCHAR, exec_unit VARCHAR, amount DECIMAL(16,2));
create or replace view v_cost_unit_month as
  with m as (select unnest(generate_series(date '2020-01-01', date '2030-12-01', interval 1 month))::DATE as month)
  select u.hospital_id, m.month, u.unit_code, u.unit_name, u.dept_code, u.cost_class, u.service_line
  from cost_unit u join m on m.month >= u.valid_from and (u.valid_to is null or m.month <= u.valid_to);
"""

# inserts name their columns: the real tables (cost-data's data model) may carry more
UNIT_COLS = "hospital_id, unit_code, unit_name, dept_code, cost_class, service_line, valid_from, valid_to"
LEDGER_COLS = "hospital_id, month, unit_code, cost_item, fund_source, amount"
BASIS_COLS = "hospital_id, month, unit_code, basis_code, provider_unit, quantity"
REVENUE_COLS = "hospital_id, month, charge_category, order_unit, exec_unit, amount"

H = "H1"
JAN = dt.date(2025, 1, 1)


def warehouse(path):
    con = connect(str(path))
    con.execute(INPUT_DDL)
    return con


def add_units(con, rows, hospital=H, valid_from=dt.date(2024, 1, 1)):
    """rows: (unit_code, cost_class, service_line[, dept_code[, valid_from, valid_to]])"""
    for r in rows:
        code, cls, line = r[:3]
        dept = r[3] if len(r) > 3 else code
        vf = r[4] if len(r) > 4 else valid_from
        vt = r[5] if len(r) > 5 else None
        con.execute(f"insert into cost_unit ({UNIT_COLS}) values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [hospital, code, f"单元{code}", dept, cls, line, vf, vt])


def add_ledger(con, rows, month=JAN, hospital=H):
    """rows: (unit, item, amount[, fund_source])"""
    for r in rows:
        con.execute(f"insert into cost_ledger ({LEDGER_COLS}) values (?, ?, ?, ?, ?, ?)",
                    [hospital, month, r[0], r[1], r[3] if len(r) > 3 else "own", r[2]])


def add_basis(con, rows, month=JAN, hospital=H):
    """rows: (unit, basis, quantity[, provider])"""
    for r in rows:
        con.execute(f"insert into cost_basis ({BASIS_COLS}) values (?, ?, ?, ?, ?, ?)",
                    [hospital, month, r[0], r[1], r[3] if len(r) > 3 else "*", r[2]])


def mini_example(con, month=JAN):
    """../shared/spec/drg-payment-cost.md §4.4 mini example in yuan: admin 100, supply 60, lab 200, IM 500,
    surgery 600; staff 10/20/40/30 (supply/lab/IM/surgery); packs from supply 1/3/6 (lab/IM/surgery);
    ordered revenue at the lab 60/40 (IM/surgery)."""
    add_units(con, [("ADM", "admin", "other"), ("SUP", "support", "other"), ("LAB", "medtech", "other"),
                    ("IM", "clinical", "inpatient"), ("SUR", "clinical", "inpatient")])
    add_ledger(con, [("ADM", "personnel", 100), ("SUP", "material", 60), ("LAB", "material", 200),
                     ("IM", "personnel", 500), ("SUR", "personnel", 600)], month)
    add_basis(con, [("SUP", "staff", 10), ("LAB", "staff", 20), ("IM", "staff", 40), ("SUR", "staff", 30),
                    ("LAB", "packs", 1, "SUP"), ("IM", "packs", 3, "SUP"), ("SUR", "packs", 6, "SUP"),
                    ("IM", "ordered_revenue", 60, "LAB"), ("SUR", "ordered_revenue", 40, "LAB")], month)


def snapshot(con) -> dict:
    """Every output table's rows, to prove a refused run changed nothing."""
    return {t: con.execute(f"select * from {t} order by all").fetchall()
            for t in ("cost_run", "cost_alloc_trail", "cost_unit_full", "cost_unit_cost")}
