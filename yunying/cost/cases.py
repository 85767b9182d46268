"""病种成本 and DRG 成本 per case (spec §4.7) by 项目叠加法 and 成本收入比法, and the entry point of this slice.

item_sum: Σ service lines quantity × item unit cost (cost_item_unit of the line's month and executing unit; else
the run-period unit cost of the item at that unit, else of the item at any unit) + drug lines × drug ratio +
material lines × material ratio. ccr: each 首页 fee column × the CCR of its charge categories, weighted by how the
case's department (its inpatient units) ordered that category across executing units. docs/cost.md §4.
"""

from __future__ import annotations

from yunying.cost.case_config import load_charge_map, load_methods
from yunying.cost.items import Run, _temp, q, compute_items, load_run, prepare
from yunying.warehouse.db import transaction

RESIDUAL = "(residual)"


def _has(con, table: str) -> bool:
    return bool(q(con, "select count(*) from information_schema.tables where table_name = ?",
                            [table]).fetchall()[0][0])


def cost_item_sum(con, run: Run, ratios: dict, cfg: dict) -> int:
    if not _has(con, "case_item_charge"):
        return 0
    p = {"run": run.run_id, "h": run.hospital_id, "d0": run.month_from, "d1": run.end,
         "rd": ratios["drug"], "rm": ratios["material"]}
    q(con, """
        create or replace temp table _cc_case_items as
        with cases as (
          select hospital_id, mrn, admission_no from discharge
          where hospital_id = $h and discharge_time >= $d0 and discharge_time < $d1
        ), lines as (
          select l.mrn, l.admission_no, l.item_code, l.exec_unit, cast(date_trunc('month', l.charge_date) as date)
                 as month, l.quantity, l.amount, k.cost_kind
          from case_item_charge l join cases c using (hospital_id, mrn, admission_no)
          left join charge_item ci on ci.hospital_id = l.hospital_id and ci.item_code = l.item_code
           and ci.valid_from <= l.charge_date and (ci.valid_to is null or ci.valid_to >= l.charge_date)
          left join _cc_cat k on k.charge_category = ci.charge_category
        ), per as (
          select item_code, exec_unit, sum(cost) / nullif(sum(quantity), 0) as uc from cost_item_unit
          where run_id = $run group by all
        ), peri as (
          select item_code, sum(cost) / nullif(sum(quantity), 0) as uc from cost_item_unit
          where run_id = $run group by all
        )
        select l.*,
          case l.cost_kind when 'drug' then l.amount * $rd when 'material' then l.amount * $rm
               else l.quantity * coalesce(m.unit_cost, per.uc, peri.uc) end as cost,
          case when l.cost_kind = 'service' and m.unit_cost is null and per.uc is not null then 'item_period_cost'
               when l.cost_kind = 'service' and m.unit_cost is null and per.uc is null and peri.uc is not null
                 then 'item_any_unit_cost' end as fb
        from lines l
        left join cost_item_unit m on m.run_id = $run and m.item_code = l.item_code and m.exec_unit = l.exec_unit
          and m.month = l.month
        left join per on per.item_code = l.item_code and per.exec_unit = l.exec_unit
        left join peri on peri.item_code = l.item_code""", p)
    q(con, """
        insert into cost_case (run_id, hospital_id, mrn, admission_no, method, cost, drug_cost, material_cost,
                               service_cost, revenue, uncosted_amount, fallback)
        select $run, $h, mrn, admission_no, 'item_sum',
               coalesce(sum(cost), 0),
               coalesce(sum(cost) filter (where cost_kind = 'drug'), 0),
               coalesce(sum(cost) filter (where cost_kind = 'material'), 0),
               coalesce(sum(cost) filter (where cost_kind = 'service'), 0),
               sum(amount), coalesce(sum(amount) filter (where cost is null), 0),
               nullif(concat_ws(';', any_value(fbs.s),
                                case when count(*) filter (where cost is null) > 0 then 'uncosted_lines' end), '')
        from _cc_case_items l left join (select mrn, admission_no, string_agg(fb, ';' order by fb) as s
                                from (select distinct mrn, admission_no, fb from _cc_case_items where fb is not null)
                                group by all) fbs using (mrn, admission_no)
        group by mrn, admission_no""", {"run": run.run_id, "h": run.hospital_id})
    li = cfg["items"]["ledger_items"]
    q(con, """
        insert into cost_case_item (run_id, hospital_id, mrn, admission_no, method, cost_item, cost)
        with sh as (
          select item_code, exec_unit, cost_item,
                 sum(cost) / nullif(sum(sum(cost)) over (partition by item_code, exec_unit), 0) as share
          from _cc_item_ci group by item_code, exec_unit, cost_item
        ), shi as (
          select item_code, cost_item,
                 sum(cost) / nullif(sum(sum(cost)) over (partition by item_code), 0) as share
          from _cc_item_ci group by item_code, cost_item
        ), parts as (
          select mrn, admission_no, case cost_kind when 'drug' then $drug else $mat end as cost_item, cost
          from _cc_case_items where cost_kind in ('drug', 'material')
          union all
          select l.mrn, l.admission_no, s.cost_item, l.cost * s.share from _cc_case_items l
          join sh s on s.item_code = l.item_code and s.exec_unit = l.exec_unit
          where l.cost_kind = 'service' and l.fb is null
          union all
          select l.mrn, l.admission_no, s.cost_item, l.cost * s.share from _cc_case_items l
          join sh s on s.item_code = l.item_code and s.exec_unit = l.exec_unit
          where l.cost_kind = 'service' and l.fb = 'item_period_cost'
          union all
          select l.mrn, l.admission_no, s.cost_item, l.cost * s.share from _cc_case_items l
          join shi s on s.item_code = l.item_code
          where l.cost_kind = 'service' and l.fb = 'item_any_unit_cost'
        )
        select $run, $h, mrn, admission_no, 'item_sum', cost_item, sum(cost) from parts
        where cost is not null and cost_item is not null group by all having sum(cost) <> 0""",
      {"run": run.run_id, "h": run.hospital_id, "drug": li["drug"], "mat": li["material"]})
    return q(con, "select count(*) from cost_case where run_id = ? and method = 'item_sum'",
                       [run.run_id]).fetchall()[0][0]


def cost_ccr_method(con, run: Run, cfg: dict, cmap: dict) -> int:
    cats = cmap["categories"]
    cols = sorted({c for s in cats.values() for c in s["fee_columns"]})
    _temp(con, "_cc_fee_cat", "fee_column varchar, charge_category varchar",
          [(c, cat) for cat, s in cats.items() for c in s["fee_columns"]] + [(RESIDUAL, cmap["residual_category"])])
    _temp(con, "_cc_fee_kind", "fee_column varchar, cost_kind varchar",
          sorted(cmap["kind_of_column"].items()) + [(RESIDUAL, cats[cmap["residual_category"]]["cost_kind"])])
    p = {"run": run.run_id, "h": run.hospital_id, "d0": run.month_from, "d1": run.end,
         "line": cfg["cases"]["order_service_line"]}
    col_sum = " + ".join(f"coalesce({c}, 0)" for c in cols)
    # the fee block, one row per case × fee column (the residual = fee_total − Σ mapped columns)
    q(con, f"""
        create or replace temp table _cc_fees as
        with d as (
          select mrn, admission_no, discharge_dept_code as dept_code, cast(fee_total as double) as fee_total,
                 {', '.join(f'cast({c} as double) as {c}' for c in cols)}
          from discharge where hospital_id = $h and discharge_time >= $d0 and discharge_time < $d1
        )
        select mrn, admission_no, dept_code, fee_column, amount from (
          unpivot (select mrn, admission_no, dept_code, {', '.join(cols)},
                          greatest(coalesce(fee_total, 0) - ({col_sum}), 0) as "{RESIDUAL}" from d)
          on {', '.join(cols)}, "{RESIDUAL}" into name fee_column value amount)
        where amount <> 0""", p)
    # revenue ordered by each department's inpatient units (and hospital-wide), × CCR of the executing unit
    q(con, """
        create or replace temp table _cc_priced as
        with units as (
          select distinct unit_code, dept_code from cost_unit
          where hospital_id = $h and service_line = $line and valid_from < $d1
            and (valid_to is null or valid_to >= $d0)
        ), rev as (
          select u.dept_code, r.charge_category, r.exec_unit, sum(r.amount) as rev
          from cost_revenue r left join units u on u.unit_code = r.order_unit
          where r.hospital_id = $h and r.month >= $d0 and r.month < $d1 group by all
        )
        select rev.*, coalesce(c.ccr, s.ccr) as ccr, case when c.ccr is not null then c.exec_unit else '*' end
               as src_unit
        from rev left join cost_ccr c on c.run_id = $run and c.exec_unit = rev.exec_unit
          and c.charge_category = rev.charge_category
        left join cost_ccr s on s.run_id = $run and s.exec_unit = '*' and s.charge_category = rev.charge_category
        where coalesce(c.ccr, s.ccr) is not null""", p)
    q(con, """
        create or replace temp table _cc_eff as
        select f.fee_column, p.dept_code, grouping(p.dept_code) = 1 as hospital_wide,
               case when grouping(p.dept_code) = 1 then '*' else 'd:' || p.dept_code end as scope,
               sum(p.rev * p.ccr) / nullif(sum(p.rev), 0) as ccr
        from _cc_priced p join _cc_fee_cat f using (charge_category)
        group by grouping sets ((f.fee_column, p.dept_code), (f.fee_column))""")
    # composition of each effective ratio by 成本项目 (shares summing to 1)
    q(con, """
        create or replace temp table _cc_comp as
        with v as (
          select f.fee_column, p.dept_code, grouping(p.dept_code) = 1 as hospital_wide, m.cost_item,
                 sum(p.rev * p.ccr * m.share) as v
          from _cc_priced p join _cc_fee_cat f using (charge_category)
          join _cc_ccr_mix m on m.exec_unit = p.src_unit and m.charge_category = p.charge_category
          group by grouping sets ((f.fee_column, p.dept_code, m.cost_item), (f.fee_column, m.cost_item))
        )
        select fee_column, case when hospital_wide then '*' else 'd:' || dept_code end as scope, cost_item,
               v / nullif(sum(v) over (partition by fee_column, dept_code, hospital_wide), 0) as share
        from v""")
    overall = q(con, """
        select sum(cost) / nullif(sum(revenue), 0) from cost_ccr
        where run_id = ? and exec_unit <> '*' and revenue > 0""", [run.run_id]).fetchall()[0][0]
    q(con, """
        create or replace temp table _cc_case_fees as
        with priced as (
          select f.*, k.cost_kind, coalesce(ed.ccr, eh.ccr, $overall) as ccr,
                 case when ed.ccr is not null then 'd:' || f.dept_code when eh.ccr is not null then '*'
                      when $overall is not null then 'overall' end as lvl,
                 case when ed.ccr is not null then null
                      when eh.ccr is not null then 'ccr_hospital_mix:' || f.fee_column
                      when $overall is not null then 'ccr_hospital_overall:' || f.fee_column end as fb
          from _cc_fees f join _cc_fee_kind k using (fee_column)
          left join _cc_eff ed on ed.fee_column = f.fee_column and ed.scope = 'd:' || f.dept_code
          left join _cc_eff eh on eh.fee_column = f.fee_column and eh.scope = '*'
        )
        select * from priced""", {"overall": overall})
    q(con, """
        insert into cost_case (run_id, hospital_id, mrn, admission_no, method, cost, drug_cost, material_cost,
                               service_cost, revenue, uncosted_amount, fallback)
        select $run, $h, mrn, admission_no, 'ccr',
               coalesce(sum(amount * ccr), 0),
               coalesce(sum(amount * ccr) filter (where cost_kind = 'drug'), 0),
               coalesce(sum(amount * ccr) filter (where cost_kind = 'material'), 0),
               coalesce(sum(amount * ccr) filter (where cost_kind = 'service'), 0),
               sum(amount), coalesce(sum(amount) filter (where ccr is null), 0),
               nullif(concat_ws(';', any_value(fbs.s),
                                case when count(*) filter (where ccr is null) > 0 then 'uncosted_fees' end), '')
        from _cc_case_fees l left join (select mrn, admission_no, string_agg(fb, ';' order by fb) as s
                                from (select distinct mrn, admission_no, fb from _cc_case_fees where fb is not null)
                                group by all) fbs using (mrn, admission_no)
        group by mrn, admission_no""", {"run": run.run_id, "h": run.hospital_id})
    q(con, """
        insert into cost_case_item (run_id, hospital_id, mrn, admission_no, method, cost_item, cost)
        with overall as (
          select m.cost_item, sum(c.cost * m.share) / sum(sum(c.cost * m.share)) over () as share
          from cost_ccr c join _cc_ccr_mix m on m.exec_unit = c.exec_unit and m.charge_category = c.charge_category
          where c.run_id = $run and c.exec_unit <> '*' and c.revenue > 0 group by m.cost_item
        ), parts as (
          select f.mrn, f.admission_no, m.cost_item, f.amount * f.ccr * m.share as cost
          from _cc_case_fees f join _cc_comp m on m.fee_column = f.fee_column and m.scope = f.lvl
          union all
          select f.mrn, f.admission_no, o.cost_item, f.amount * f.ccr * o.share
          from _cc_case_fees f cross join overall o where f.lvl = 'overall'
        )
        select $run, $h, mrn, admission_no, 'ccr', cost_item, sum(cost) from parts
        where cost is not null group by all having sum(cost) <> 0""", {"run": run.run_id, "h": run.hospital_id})
    return q(con, "select count(*) from cost_case where run_id = ? and method = 'ccr'",
                       [run.run_id]).fetchall()[0][0]


def _mark_primary(con, run: Run, cfg: dict) -> None:
    pref = cfg["cases"]["method_preference"]
    order = "case method " + " ".join(f"when '{m}' then {i}" for i, m in enumerate(pref)) + " else 99 end"
    q(con, f"""
        update cost_case c set is_primary = (c.method = k.method and k.ord < 99), computed_at = now()
        from (select mrn, admission_no, arg_min(method, {order}) as method, min({order}) as ord from cost_case
              where run_id = $run group by all) k
        where c.run_id = $run and c.mrn = k.mrn and c.admission_no = k.admission_no""", {"run": run.run_id})


def run_case_costing(con, run_id: str, *, config_path=None, charge_map_path=None) -> dict:
    """Item unit costs, CCRs, case costs (both methods) and 保本点 of one cost run, in one transaction."""
    from yunying.cost.margin import compute_breakeven

    run = load_run(con, run_id)
    cfg, cmap = load_methods(config_path), load_charge_map(charge_map_path)
    with transaction(con):
        ratios = prepare(con, run, cfg, cmap)
        items = compute_items(con, run, cfg, ratios)
        q(con, "delete from cost_case where run_id = ?", [run_id])
        q(con, "delete from cost_case_item where run_id = ?", [run_id])
        n_item = cost_item_sum(con, run, ratios, cfg)
        n_ccr = cost_ccr_method(con, run, cfg, cmap)
        _mark_primary(con, run, cfg)
        be = compute_breakeven(con, run, cfg)
    for (t,) in con.execute("select table_name from duckdb_tables() where temporary and table_name like '\\_cc\\_%' "
                            "escape '\\'").fetchall():
        con.execute(f"drop table if exists {t}")
    return {"run_id": run_id, "period": run.label, "config_hash": cfg["_hash"], "ratios": ratios,
            "items": items, "cases": {"item_sum": n_item, "ccr": n_ccr}, "breakeven_departments": be}
