"""医疗服务项目成本 (spec §4.6) and the cost-to-charge ratios (§4.7) of one step-down run.

Pools: each service unit's cost before the third step (direct + step 1 + step 2 inflows, per cost item, from
cost_unit_full) — a medical-technology unit's own items carry its cost, a clinical unit's items carry its own cost,
so nothing is counted twice. Drugs and separately chargeable materials leave the pools and are costed at cost by
the ledger ratios. Each unit's pool is split over its charge items by the method resolved for the unit
(case_methods.yaml): 作业成本法 (abc: a driver per cost item) or 成本比例系数法 (revenue / time / workload). All set
work is SQL; Python only resolves the per-unit method from configuration. docs/cost.md §4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from yunying.cost.case_config import RATIO_DRIVER, load_charge_map, load_methods
from yunying.cost.case_errors import CostCaseError


@dataclass
class Run:
    run_id: str
    hospital_id: str
    month_from: date
    month_to: date            # first day of the last month
    label: str                # 'YYYY', 'YYYY-MM' or 'YYYY-MM..YYYY-MM'

    @property
    def end(self) -> date:    # exclusive
        y, m = self.month_to.year + (self.month_to.month // 12), self.month_to.month % 12 + 1
        return date(y, m, 1)


def q(con, sql: str, params: dict | None = None):
    """con.execute with only the named parameters the SQL uses (DuckDB refuses unused ones)."""
    if not params or not isinstance(params, dict):
        return con.execute(sql, params) if params else con.execute(sql)
    used = set(re.findall(r"\$([a-z_][a-z0-9_]*)", sql))
    return con.execute(sql, {k: v for k, v in params.items() if k in used})


def _first(d) -> date:
    d = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
    return date(d.year, d.month, 1)


def load_run(con, run_id: str) -> Run:
    rows = q(con, "select hospital_id, month_from, month_to, measure from cost_run where run_id = ?",
                       [run_id]).fetchall()
    if not rows:
        raise CostCaseError("COST-RUN-UNKNOWN", f"成本核算运行 {run_id} 不存在；请先运行 yunying cost run",
                            f"cost run {run_id} does not exist; run yunying cost run first")
    h, mf, mt, measure = rows[0]
    if measure != "cost":
        raise CostCaseError("COST-RUN-MEASURE", f"运行 {run_id} 分摊的是{measure}而非成本，不能核算项目/病种成本",
                            f"run {run_id} allocated {measure}, not cost; item and case cost need a cost run")
    mf, mt = _first(mf), _first(mt)
    if (mf.month, mt.month) == (1, 12) and mf.year == mt.year:
        label = str(mf.year)
    elif mf == mt:
        label = mf.strftime("%Y-%m")
    else:
        label = f"{mf:%Y-%m}..{mt:%Y-%m}"
    return Run(run_id, h, mf, mt, label)


def _temp(con, name: str, cols: str, rows: list[tuple]) -> None:
    q(con, f"create or replace temp table {name} ({cols})")
    if rows:
        con.executemany(f"insert into {name} values ({', '.join('?' * len(rows[0]))})", rows)


def prepare(con, run: Run, cfg: dict, cmap: dict) -> dict:
    """Temp tables shared by items and cases: categories, pools, ratios. Returns the ratios."""
    cats = cmap["categories"]
    _temp(con, "_cc_cat", "charge_category varchar, cost_kind varchar",
          [(c, s["cost_kind"]) for c, s in cats.items()])
    li = cfg["items"]["ledger_items"]
    _temp(con, "_cc_class", "cost_class varchar", [(c,) for c in cfg["items"]["service_classes"]])
    p = {"run": run.run_id, "h": run.hospital_id, "d0": run.month_from, "d1": run.end,
         "drug": li["drug"], "mat": li["material"]}
    # ledger cost of drugs / materials (before step 3, service units) and revenue by kind
    led = dict(q(con, """
        select cost_item, sum(direct + shared_in + step1_in + step2_in) from cost_unit_full f
        where run_id = $run and hospital_id = $h and cost_class in (select cost_class from _cc_class)
          and cost_item in ($drug, $mat) group by cost_item""", p).fetchall())
    rev = dict(q(con, """
        select k.cost_kind, sum(r.amount) from cost_revenue r join _cc_cat k using (charge_category)
        where r.hospital_id = $h and r.month >= $d0 and r.month < $d1 group by k.cost_kind""",
                           {k: p[k] for k in ("h", "d0", "d1")}).fetchall())
    L_d, L_m = float(led.get(li["drug"]) or 0), float(led.get(li["material"]) or 0)
    R_d, R_m = float(rev.get("drug") or 0), float(rev.get("material") or 0)
    ratios, basis = {}, {}
    for kind, L, R in (("drug", L_d, R_d), ("material", L_m, R_m)):
        setting = cfg["ratios"][kind]
        if isinstance(setting, (int, float)):
            ratios[kind], basis[kind] = float(setting), "configured_ratio"
        elif R > 0:
            r = L / R
            ratios[kind] = min(1.0, r) if setting == "ledger_capped" else r
            basis[kind] = "ledger_ratio"
        else:
            ratios[kind], basis[kind] = None, "ledger_ratio"
    # share of the ledger material cost that is separately chargeable (costed at cost, out of the pools)
    phi = min(1.0, (ratios["material"] or 0) * R_m / L_m) if L_m > 0 else 0.0
    q(con, """
        create or replace temp table _cc_pool as
        select month, unit_code as exec_unit, cost_item,
               sum((direct + shared_in + step1_in + step2_in)
                   * case when cost_item = $drug then 0 when cost_item = $mat then 1 - $phi else 1 end) as amount
        from cost_unit_full
        where run_id = $run and hospital_id = $h and cost_class in (select cost_class from _cc_class)
          and month >= $d0 and month < $d1
        group by all""", p | {"phi": phi})
    return {"drug": ratios["drug"], "material": ratios["material"], "basis": basis, "phi": phi,
            "ledger": {"drug": L_d, "material": L_m}, "revenue": {"drug": R_d, "material": R_m}}


def _methods(con, cfg: dict) -> dict[str, str]:
    """Method per executing unit: configured, or auto (abc with complete activity data, else the fallback)."""
    it = cfg["items"]
    rows = q(con, """
        select exec_unit, bool_and(std_minutes > 0), bool_and(workload_eq > 0),
               list(distinct item_code) filter (where not coalesce(std_minutes > 0, false)),
               list(distinct item_code) filter (where not coalesce(workload_eq > 0, false))
        from _cc_lines where quantity > 0 group by exec_unit order by exec_unit""").fetchall()
    out = {}
    for unit, has_min, has_weq, no_min, no_weq in rows:
        m = (it["units"] or {}).get(unit, it["default"])
        if m == "auto":
            m = "abc" if has_min and has_weq else it["fallback"]
        need = {"abc": set(it["abc_drivers"].values()), "ratio_time": {"minutes"},
                "ratio_workload": {"workload"}}.get(m, set())
        for drv, ok, missing, zh in (("minutes", has_min, no_min, "标准操作时间 std_minutes"),
                                     ("workload", has_weq, no_weq, "工作量系数 workload_eq")):
            if drv in need and not ok:
                raise CostCaseError(
                    "COST-ITEM-DRIVER",
                    f"执行单元 {unit} 配置为 {m}，但收费项目 {', '.join(sorted(missing)[:5])} 缺少{zh}；"
                    "请在收费项目字典补齐，或在 cost/case_methods.yaml 的 items.units 改用其他方法",
                    f"executing unit {unit} is set to {m} but items {', '.join(sorted(missing)[:5])} lack "
                    f"{drv}; complete the charge_item dictionary or choose another method in items.units")
        out[unit] = m
    return out


def compute_items(con, run: Run, cfg: dict, ratios: dict) -> dict:
    """Write cost_item_unit and cost_ccr of the run. Returns a summary."""
    p = {"h": run.hospital_id, "d0": run.month_from, "d1": run.end}
    q(con, """
        create or replace temp table _cc_lines as
        select v.month, v.exec_unit, v.item_code, ci.charge_category, v.quantity, v.amount, ci.std_minutes,
               ci.workload_eq
        from item_volume v
        join charge_item ci on ci.hospital_id = v.hospital_id and ci.item_code = v.item_code
         and ci.valid_from <= v.month and (ci.valid_to is null or ci.valid_to >= v.month)
        join _cc_cat k on k.charge_category = ci.charge_category and k.cost_kind = 'service'
        where v.hospital_id = $h and v.month >= $d0 and v.month < $d1""", p)
    undefined = q(con, """
        select count(distinct v.item_code) from item_volume v
        where v.hospital_id = $h and v.month >= $d0 and v.month < $d1 and not exists (
          select 1 from charge_item ci where ci.hospital_id = v.hospital_id and ci.item_code = v.item_code
            and ci.valid_from <= v.month and (ci.valid_to is null or ci.valid_to >= v.month))""", p).fetchall()[0][0]
    methods = _methods(con, cfg)
    _temp(con, "_cc_unit_method", "exec_unit varchar, method varchar", sorted(methods.items()))
    items = [r[0] for r in q(con, "select distinct cost_item from _cc_pool order by 1").fetchall()]
    abc = cfg["items"]["abc_drivers"]
    drivers = [(u, ci, abc.get(ci, abc.get("*", "workload")) if m == "abc" else RATIO_DRIVER[m])
               for u, m in methods.items() for ci in items]
    _temp(con, "_cc_driver", "exec_unit varchar, cost_item varchar, driver varchar", drivers)
    q(con, """
        create or replace temp table _cc_agg as
        select month, exec_unit, item_code, any_value(charge_category) as charge_category,
               sum(quantity) as quantity, sum(amount) as amount, sum(quantity * std_minutes) as minutes,
               sum(quantity * workload_eq) as workload
        from _cc_lines group by all""")
    # item cost per cost item (kept for the case cost composition by 成本项目)
    q(con, """
        create or replace temp table _cc_item_ci as
        with d as (
          select a.month, a.exec_unit, a.item_code, a.charge_category, u.cost_item,
                 case u.driver when 'amount' then a.amount when 'minutes' then a.minutes else a.workload end as drv
          from _cc_agg a join _cc_driver u on u.exec_unit = a.exec_unit
        ), tot as (
          select month, exec_unit, cost_item, sum(drv) as t from d group by all
        )
        select d.month, d.exec_unit, d.item_code, d.charge_category, d.cost_item,
               case when tot.t > 0 then coalesce(pl.amount, 0) * d.drv / tot.t else 0 end as cost
        from d join tot using (month, exec_unit, cost_item)
        left join _cc_pool pl using (month, exec_unit, cost_item)""")
    q(con, """
        create or replace temp table _cc_item as
        select a.month, a.exec_unit, a.item_code, a.charge_category, a.quantity, a.amount, coalesce(c.cost, 0) as cost
        from _cc_agg a left join (select month, exec_unit, item_code, sum(cost) as cost from _cc_item_ci
                                  group by all) c using (month, exec_unit, item_code)""")
    q(con, "delete from cost_item_unit where run_id = ?", [run.run_id])
    q(con, """
        insert into cost_item_unit (run_id, hospital_id, month, item_code, exec_unit, method, unit_cost, quantity,
                                    cost, charge_category, revenue)
        select $run, $h, i.month, i.item_code, i.exec_unit, m.method,
               case when i.quantity > 0 then i.cost / i.quantity end, i.quantity, i.cost, i.charge_category,
               i.amount
        from _cc_item i join _cc_unit_method m using (exec_unit)""", {"run": run.run_id, "h": run.hospital_id})
    # ---- CCR per executing unit × category over the run period
    q(con, """
        create or replace temp table _cc_ccr as
        with pool as (select exec_unit, sum(amount) as p from _cc_pool group by all),
        rev as (
          select r.exec_unit, r.charge_category, sum(r.amount) as rev
          from cost_revenue r join _cc_cat k on k.charge_category = r.charge_category and k.cost_kind = 'service'
          where r.hospital_id = $h and r.month >= $d0 and r.month < $d1 group by all
        ), ic as (select exec_unit, charge_category, sum(cost) as c from _cc_item group by all),
        icu as (select exec_unit, sum(cost) as c from _cc_item group by all having sum(cost) > 0),
        revu as (select exec_unit, sum(rev) as r from rev group by all having sum(rev) > 0),
        cells as (
          select exec_unit, charge_category from rev union select exec_unit, charge_category from ic
        )
        select c.exec_unit, c.charge_category,
               case when icu.c is not null then pool.p * coalesce(ic.c, 0) / icu.c
                    when revu.r is not null then pool.p * coalesce(rev.rev, 0) / revu.r end as cost,
               rev.rev as revenue,
               case when icu.c is not null then 'item_cost' else 'revenue_share' end as basis
        from cells c join pool using (exec_unit)
        left join rev using (exec_unit, charge_category) left join ic using (exec_unit, charge_category)
        left join icu using (exec_unit) left join revu using (exec_unit)""", p)
    q(con, "delete from cost_ccr where run_id = ?", [run.run_id])
    q(con, """
        insert into cost_ccr (run_id, hospital_id, month_or_year, exec_unit, charge_category, cost, revenue, ccr, basis)
        select $run, $h, $label, exec_unit, charge_category, cost, revenue,
               case when revenue > 0 then cost / revenue end, basis from _cc_ccr""",
                {"run": run.run_id, "h": run.hospital_id, "label": run.label})
    # drugs and separately chargeable materials: hospital-wide, at cost
    rows = q(con, """
        select k.charge_category, k.cost_kind, sum(r.amount)
        from _cc_cat k left join cost_revenue r on r.charge_category = k.charge_category and r.hospital_id = $h
          and r.month >= $d0 and r.month < $d1
        where k.cost_kind <> 'service' group by all order by 1""", p).fetchall()
    for cat, kind, rev in rows:
        ratio = ratios[kind]
        q(con, "insert into cost_ccr values (?, ?, ?, '*', ?, ?, ?, ?, ?)",
                    [run.run_id, run.hospital_id, run.label, cat,
                     None if ratio is None or rev is None else ratio * float(rev), rev, ratio,
                     ratios["basis"][kind]])
    # composition by 成本项目 of each CCR cell: the category's item-cost mix (basis item_cost), else the unit's
    # pool mix; drugs / materials are wholly their ledger cost item
    q(con, """
        create or replace temp table _cc_ccr_mix as
        with icc as (select exec_unit, charge_category, cost_item, sum(cost) as c from _cc_item_ci group by all),
        ict as (select exec_unit, charge_category, sum(cost) as c from _cc_item_ci group by all having sum(cost) > 0),
        pm as (select exec_unit, cost_item, sum(amount) as a from _cc_pool group by all),
        pt as (select exec_unit, sum(amount) as a from _cc_pool group by all having sum(amount) <> 0),
        cells as (
          select c.exec_unit, c.charge_category, c.basis = 'item_cost' and ict.c is not null as by_items
          from _cc_ccr c left join ict using (exec_unit, charge_category)
        )
        select c.exec_unit, c.charge_category, icc.cost_item, icc.c / ict.c as share
        from cells c join ict using (exec_unit, charge_category) join icc using (exec_unit, charge_category)
        where c.by_items
        union all
        select c.exec_unit, c.charge_category, pm.cost_item, pm.a / pt.a
        from cells c join pt using (exec_unit) join pm using (exec_unit)
        where not c.by_items""")
    li = cfg["items"]["ledger_items"]
    con.executemany("insert into _cc_ccr_mix values ('*', ?, ?, 1.0)",
                    [(cat, li[kind]) for cat, kind, _ in rows])
    pool_total, assigned = con.execute(
        "select (select sum(amount) from _cc_pool), (select sum(cost) from _cc_item)").fetchall()[0]
    return {"units": methods, "items": q(con, "select count(*) from _cc_item").fetchall()[0][0],
            "pool": float(pool_total or 0), "assigned_to_items": float(assigned or 0),
            "items_without_dictionary": int(undefined)}


def run_items(con, run_id: str, config_path=None, charge_map_path=None) -> dict:
    """Item unit costs and CCRs of one run (cases.run_case_costing calls this and then costs the cases)."""
    run = load_run(con, run_id)
    cfg, cmap = load_methods(config_path), load_charge_map(charge_map_path)
    ratios = prepare(con, run, cfg, cmap)
    return compute_items(con, run, cfg, ratios) | {"ratios": ratios}
