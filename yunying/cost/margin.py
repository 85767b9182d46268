"""Cost-basis 盈亏 (spec §2.3) of one cost run beside the charge-basis margin, the groups that lose money on cost,
病种/DRG group cost (mean over cases) and 保本点 per department. docs/cost.md §5."""

from __future__ import annotations

from yunying.cost.case_errors import CostCaseError
from yunying.cost.items import q

LEVELS = {
    "case": ["hospital_id", "mrn", "admission_no", "dept_code", "doctor_group", "drg"],
    "drg": ["hospital_id", "drg"],
    "department": ["hospital_id", "dept_code"],
    "doctor_group": ["hospital_id", "dept_code", "doctor_group"],
    "hospital": ["hospital_id"],
}


def _method_filter(method: str) -> str:
    if method == "primary":
        return "c.is_primary"
    if method in ("item_sum", "ccr"):
        return f"c.method = '{method}'"
    raise CostCaseError("COST-CASE-METHOD", f"未知病例成本方法 {method}（primary / item_sum / ccr）",
                        f"unknown case cost method {method} (primary / item_sum / ccr)")


def case_margin_sql(method: str = "primary") -> str:
    """Cases of run $run with the latest DRG payment (v_drg_pay): cost, payment, charges and both margins."""
    return f"""
        select p.hospital_id, p.mrn, p.admission_no, p.period_month, p.dept_code, p.doctor_group, p.drg,
               p.scheme, p.run_id as pay_run_id, c.method, c.cost, c.drug_cost, c.material_cost, c.service_cost,
               p.expected_payment, p.fee_total, p.expected_payment - c.cost as margin_cost, p.margin_charges,
               c.fallback
        from cost_case c
        join v_drg_pay p on p.hospital_id = c.hospital_id and p.mrn = c.mrn and p.admission_no = c.admission_no
        where c.run_id = $run and {_method_filter(method)}"""


def margins(con, run_id: str, level: str = "drg", *, method: str = "primary", losing_only: bool = False,
            top: int | None = None) -> list[dict]:
    """Cost- and charge-basis 盈亏 per case / DRG / department / doctor group / hospital, worst cost margin first.
    loses_on_cost_only marks the groups that lose money on cost while their charges are covered."""
    if level not in LEVELS:
        raise CostCaseError("COST-CASE-LEVEL", f"未知层级 {level}（{' / '.join(LEVELS)}）",
                            f"unknown level {level} ({' / '.join(LEVELS)})")
    keys = ", ".join(LEVELS[level])
    sql = f"""
        with m as ({case_margin_sql(method)})
        select {keys}, count(*) as cases, sum(cost) as cost, avg(cost) as mean_cost,
               sum(expected_payment) as payment, sum(fee_total) as fees,
               sum(margin_cost) as margin_cost, sum(margin_charges) as margin_charges,
               sum(margin_cost) < 0 as loses_on_cost, sum(margin_charges) < 0 as loses_on_charges,
               sum(margin_cost) < 0 and sum(margin_charges) >= 0 as loses_on_cost_only
        from m group by {keys}
        {'having sum(margin_cost) < 0' if losing_only else ''}
        order by margin_cost, {keys} {f'limit {int(top)}' if top else ''}"""
    cur = con.execute(sql, {"run": run_id})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def disease_code_sql(length: int | None, column: str = "dx_code") -> str:
    """病种 key: the principal diagnosis code, whole or its first `length` characters without the dot."""
    return column if not length else f"substr(replace({column}, '.', ''), 1, {int(length)})"


def group_cost_sql(kind: str, level: str, method: str, disease_code_length: int | None = None) -> str:
    """Mean case cost per 病种 (principal diagnosis) or DRG (latest grouping of $scheme) at hospital / department /
    doctor-group level, with the composition drug / material / service."""
    if kind == "drg":
        key_sql = ("join (select hospital_id, mrn, admission_no, arg_max(drg, grouped_at) as grp from drg_result "
                   "where scheme = $scheme group by all) g using (hospital_id, mrn, admission_no)")
    else:
        code = disease_code_sql(disease_code_length)
        key_sql = (f"join (select hospital_id, mrn, admission_no, max({code}) as grp from discharge_diagnosis "
                   "where dx_type = 'W' and seq = 0 group by all) g using (hospital_id, mrn, admission_no)")
    lv = {"hospital": [], "department": ["dept_code"], "doctor_group": ["dept_code", "doctor_group"]}[level]
    extra = "".join(f", {c}" for c in lv)
    return f"""
        with c as (
          select c.hospital_id, c.mrn, c.admission_no, c.cost, c.drug_cost, c.material_cost, c.service_cost,
                 c.revenue, d.discharge_dept_code as dept_code,
                 coalesce(d.doctor_group, d.attending_physician) as doctor_group
          from cost_case c join discharge d using (hospital_id, mrn, admission_no)
          where c.run_id = $run and {_method_filter(method)}
        )
        select hospital_id{extra}, g.grp as group_code, count(*) as cases, avg(cost) as mean_cost,
               sum(cost) as cost, sum(drug_cost) as drug_cost, sum(material_cost) as material_cost,
               sum(service_cost) as service_cost, sum(revenue) as revenue
        from c {key_sql}
        group by all order by hospital_id{extra}, group_code"""


_CONFIG = object()


def default_scheme(con) -> str | None:
    """The DRG scheme of the latest grouping in the warehouse (DRG cost groups cases by it unless one is given)."""
    rows = q(con, "select arg_max(scheme, grouped_at) from drg_result having count(*) > 0").fetchall()
    return rows[0][0] if rows else None


def group_costs(con, run_id: str, kind: str = "drg", level: str = "hospital", *, method: str = "primary",
                scheme: str | None = None, disease_code_length=_CONFIG) -> list[dict]:
    if disease_code_length is _CONFIG:
        from yunying.cost.case_config import load_methods

        disease_code_length = load_methods()["cases"]["disease_code_length"]
    params = {"run": run_id}
    if kind == "drg":
        scheme = scheme or default_scheme(con)
        if scheme is None:
            return []
        params["scheme"] = scheme
    cur = con.execute(group_cost_sql(kind, level, method, disease_code_length), params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def compute_breakeven(con, run, cfg: dict) -> int:
    """保本点 per department: Q* = F / (p − v) on the department's inpatient units (docs/cost.md §5)."""
    fixed = list(cfg["breakeven"]["fixed_items"])
    line = cfg["cases"]["order_service_line"]
    q(con, "delete from cost_breakeven where run_id = ?", [run.run_id])
    p = {"run": run.run_id, "h": run.hospital_id, "d0": run.month_from, "d1": run.end, "line": line,
         "fixed": fixed, "fixed_txt": ",".join(fixed)}
    q(con, """
        insert into cost_breakeven
        with cost as (
          select dept_code, sum("full") filter (where list_contains($fixed, cost_item)) as f,
                 sum("full") filter (where not list_contains($fixed, cost_item)) as v
          from cost_unit_full where run_id = $run and hospital_id = $h and service_line = $line
          group by dept_code
        ), n as (
          select discharge_dept_code as dept_code, count(*) as cases, avg(cast(fee_total as double)) as fee
          from discharge where hospital_id = $h and discharge_time >= $d0 and discharge_time < $d1 group by all
        ), pay as (
          select dept_code, avg(expected_payment) as pay from v_drg_pay
          where hospital_id = $h and period_month >= $d0 and period_month < $d1 group by all
        )
        select $run, $h, cost.dept_code, coalesce(f, 0), coalesce(v, 0), coalesce(n.cases, 0),
               coalesce(v, 0) / nullif(n.cases, 0), pay.pay, n.fee,
               case when pay.pay - coalesce(v, 0) / nullif(n.cases, 0) > 0
                    then coalesce(f, 0) / (pay.pay - coalesce(v, 0) / n.cases) end,
               case when n.fee - coalesce(v, 0) / nullif(n.cases, 0) > 0
                    then coalesce(f, 0) / (n.fee - coalesce(v, 0) / n.cases) end,
               $fixed_txt
        from cost left join n using (dept_code) left join pay using (dept_code)""", p)
    return q(con, "select count(*) from cost_breakeven where run_id = ?", [run.run_id]).fetchall()[0][0]
