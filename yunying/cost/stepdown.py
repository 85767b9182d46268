"""The step-down engine (科室全成本, docs/cost.md §2): set-based SQL per plan step over all months and units at once.

Money is handled in integer cents. Each (source unit, month, cost item) pool is split over its receivers in
proportion to their basis quantity, floored to the cent; the cents left over go one each to the receivers with the
largest remainders (ties: larger quantity, then unit code) — so every source's outflow equals its pool exactly and
Σ full = Σ direct to the cent. Every hop is stored (cost_alloc_trail). Inputs are checked before anything is written
and the whole run is one transaction: a refused run changes nothing stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Callable

import yaml

from yunying.cost.errors import CostError
from yunying.cost.plan import Plan, Step, domain_codes

INPUT_TABLES = {"cost": ("cost_unit", "v_cost_unit_month", "cost_ledger", "cost_basis"),
                "revenue": ("cost_unit", "v_cost_unit_month", "cost_revenue", "cost_basis")}
SHOW = 5   # offending rows named in a message


@cache
def calibres() -> dict:
    return yaml.safe_load(resources.files("yunying.cost").joinpath("calibres.yaml").read_text(encoding="utf-8"))


def calibre_sql(calibre: str, alias: str = "l", class_col: str = "u.cost_class") -> str:
    """SQL predicate selecting the ledger rows of a calibre (calibres.yaml)."""
    spec = calibres()["calibres"].get(calibre)
    if spec is None:
        known = ", ".join(calibres()["calibres"])
        raise CostError("COST-CALIBRE", f"未知的成本口径 {calibre!r}（可用：{known}）",
                        f"unknown cost calibre {calibre!r} (known: {known})")
    cols = {"fund_source": f"{alias}.fund_source", "cost_item": f"{alias}.cost_item", "cost_class": class_col}
    ors = []
    for cond in spec["include"]:
        ands = [f"{cols[k]} in ({', '.join(_lit(v) for v in vals)})" for k, vals in cond.items()]
        ors.append("(" + (" and ".join(ands) or "true") + ")")
    return "(" + " or ".join(ors) + ")"


def _lit(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _list(vals: list[str] | None) -> str:
    return "null" if vals is None else "[" + ", ".join(_lit(v) for v in vals) + "]::VARCHAR[]"


@dataclass
class RunResult:
    run_id: str
    hospital_id: str
    months: int
    hops: int
    total: float


def _month(d) -> dt.date:
    if isinstance(d, str):
        y, m = d.split("-")[:2]
        return dt.date(int(y), int(m), 1)
    return dt.date(d.year, d.month, 1)


def _rows_text(rows, cols: list[str]) -> str:
    return "; ".join(", ".join(f"{c}={v}" for c, v in zip(cols, r)) for r in rows[:SHOW])


def _refuse_rows(con, sql: str, params: list, code: str, zh: str, en: str, cols: list[str]) -> None:
    rows = con.execute(sql, params).fetchall()
    if rows:
        more = f"（共 {len(rows)} 处）" if len(rows) > SHOW else ""
        more_en = f" ({len(rows)} in all)" if len(rows) > SHOW else ""
        raise CostError(code, f"{zh}：{_rows_text(rows, cols)}{more}", f"{en}: {_rows_text(rows, cols)}{more_en}")


def check_inputs(con, measure: str) -> None:
    have = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                      "where table_schema = 'main'").fetchall()}
    missing = [t for t in INPUT_TABLES[measure] if t not in have]
    if missing:
        raise CostError("COST-NO-INPUT", f"仓库缺少成本核算输入表 {'、'.join(missing)}：请先导入核算单元、成本台账与分摊参数"
                        f"（yunying import cost_unit|cost_ledger|cost_basis FILE）",
                        f"the warehouse lacks cost input tables {', '.join(missing)}: import cost units, the ledger "
                        f"and allocation bases first (yunying import cost_unit|cost_ledger|cost_basis FILE)")


def run_stepdown(con, month_from, month_to, plan: Plan, *, measure: str = "cost", calibre: str | None = None,
                 hospitals: list[str] | None = None, created_by: str | None = None, note: str | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> list[RunResult]:
    """Validate, step down and store one run per hospital, all in one transaction. Raises CostError (nothing stored
    changes) on bad input."""
    if measure not in INPUT_TABLES:
        raise CostError("COST-MEASURE", f"measure 须为 cost 或 revenue，收到 {measure!r}",
                        f"measure must be cost or revenue, got {measure!r}")
    m0, m1 = _month(month_from), _month(month_to)
    if m1 < m0:
        raise CostError("COST-PERIOD", f"起始月 {m0:%Y-%m} 晚于结束月 {m1:%Y-%m}", f"--from {m0:%Y-%m} is after --to "
                        f"{m1:%Y-%m}")
    if measure == "cost":
        calibre = calibre or calibres()["default"]
        cal_sql = calibre_sql(calibre)
    elif calibre:
        raise CostError("COST-CALIBRE", "成本口径只用于成本核算（--measure cost），收入分摊不取口径",
                        "a calibre applies to cost runs only (--measure cost), not to revenue")
    check_inputs(con, measure)
    progress = progress or (lambda *_: None)
    total_steps = len(plan.steps) + 3
    con.execute("begin transaction")
    try:
        progress("validate", 0, total_steps)
        hosp = _prepare(con, m0, m1, measure, cal_sql if measure == "cost" else None, hospitals)
        for i, step in enumerate(plan.steps):
            _step(con, plan, step)
            progress("allocate", i + 1, total_steps)
        results = _store(con, plan, hosp, m0, m1, measure, calibre, created_by, note)
        progress("store", total_steps - 1, total_steps)
        if measure == "cost":
            from yunying.cost.unit_cost import store_unit_costs

            for r in results:
                store_unit_costs(con, r.run_id, calibre)
        progress("store", total_steps, total_steps)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for t in ("_u", "_src_rows", "_basis", "_direct", "_pool", "_trail", "_step0_units", "_rule", "_res", "_rcv",
                  "_ucu"):
            con.execute(f"drop table if exists {t}")
    return results


def _prepare(con, m0: dt.date, m1: dt.date, measure: str, cal_sql: str | None, hospitals) -> list[str]:
    """Temp tables _u (units in force), _basis, _direct/_pool (cents), after the run-time checks."""
    hfilter = "" if hospitals is None else f" and hospital_id in ({', '.join(_lit(h) for h in hospitals)})"
    p = [m0, m1]
    con.execute(f"""create or replace temp table _u as
        select hospital_id, month, unit_code, unit_name, dept_code, cost_class, service_line
        from v_cost_unit_month where month between ? and ?{hfilter}""", p)
    if measure == "cost":
        con.execute(f"""create or replace temp table _src_rows as
            select hospital_id, month, unit_code, cost_item, fund_source, amount
            from cost_ledger where month between ? and ?{hfilter}""", p)
        what_zh, what_en, kind = "成本台账", "ledger", "cost_ledger"
    else:
        con.execute(f"""create or replace temp table _src_rows as
            select hospital_id, month, exec_unit as unit_code, charge_category as cost_item,
                   null::VARCHAR as fund_source, sum(amount) as amount
            from cost_revenue where month between ? and ?{hfilter} group by all""", p)
        what_zh, what_en, kind = "收入（按执行单元 × 收费类别）", "revenue (by executing unit × charge category)", \
            "cost_revenue"
    con.execute(f"""create or replace temp table _basis as
        select hospital_id, month, unit_code, basis_code, provider_unit, sum(quantity) as quantity,
               count(*) filter (where quantity < 0 or quantity is null) as bad
        from cost_basis where month between ? and ?{hfilter} group by all""", p)
    hosp = [r[0] for r in con.execute("select distinct hospital_id from _src_rows order by 1").fetchall()]
    if not hosp:
        raise CostError("COST-NO-DATA", f"{m0:%Y-%m}—{m1:%Y-%m} 没有{what_zh}数据：请检查期间，或先导入 {kind}",
                        f"no {what_en} rows in {m0:%Y-%m}..{m1:%Y-%m}: check the period or import {kind} first")
    _refuse_rows(con, """select hospital_id, strftime(month, '%Y-%m'), unit_code, count(*) from _u
        group by all having count(*) > 1 order by all""", [], "COST-UNIT-DUP",
        "同一核算单元在同一月份有多条有效的 cost_unit 记录（有效期重叠）。请修正 valid_from / valid_to 使其不重叠",
        "a cost unit has more than one cost_unit row in force in the same month (overlapping validity); correct "
        "valid_from / valid_to so they do not overlap", ["hospital", "month", "unit", "rows"])
    _refuse_rows(con, """select hospital_id, strftime(month, '%Y-%m'), unit_code, cost_item, fund_source
        from _src_rows where amount is null order by all""", [], "COST-LEDGER-MISSING",
        f"{what_zh}金额缺失（单元、月份、项目如下）。请补齐金额（无发生额填 0）后重新导入 {kind}",
        f"{what_en} amount missing (unit, month, item below). Fill it in (0 when nothing was spent) and re-import "
        f"{kind}", ["hospital", "month", "unit", "item", "fund"])
    _refuse_rows(con, """select hospital_id, strftime(month, '%Y-%m'), unit_code, cost_item, fund_source, amount
        from _src_rows where amount < 0 order by all""", [], "COST-NEGATIVE",
        f"{what_zh}金额为负（冲销应在来源系统中抵减后导入）",
        f"negative {what_en} amount (net reversals in the source system before importing)",
        ["hospital", "month", "unit", "item", "fund", "amount"])
    _refuse_rows(con, """select b.hospital_id, strftime(b.month, '%Y-%m'), b.unit_code, b.basis_code,
            b.provider_unit from _basis b where b.bad > 0 order by all""", [], "COST-NEGATIVE",
        "分摊参数数量为负或缺失。请修正 cost_basis 后重新导入", "negative or missing basis quantity; fix cost_basis "
        "and re-import", ["hospital", "month", "unit", "basis", "provider"])
    _refuse_rows(con, """select distinct l.hospital_id, strftime(l.month, '%Y-%m'), l.unit_code from _src_rows l
        anti join _u u using (hospital_id, month, unit_code) order by all""", [], "COST-UNIT-UNKNOWN",
        f"{what_zh}中的核算单元在该月不存在（不在 cost_unit 的有效期内）。请在 cost_unit 中登记该单元或修正其有效期",
        f"{what_en} names a unit not in force that month (no cost_unit row valid then). Register the unit in "
        "cost_unit or correct its validity dates", ["hospital", "month", "unit"])
    known = domain_codes("dept_class")
    classes = ", ".join(_lit(c) for c in known)
    _refuse_rows(con, """select distinct u.hospital_id, strftime(u.month, '%Y-%m'), u.unit_code, u.cost_class
        from _u u where (u.cost_class is null or u.cost_class not in ({classes}))
          and (exists (select 1 from _src_rows l where l.hospital_id = u.hospital_id and l.month = u.month
                       and l.unit_code = u.unit_code)
               or exists (select 1 from _basis b where b.hospital_id = u.hospital_id and b.month = u.month
                          and b.unit_code = u.unit_code)) order by all""".format(classes=classes), [],
        "COST-UNIT-NOCLASS", f"核算单元没有有效的科室类别（{'/'.join(known)}），无法参与分摊。请在 cost_unit 中填写 cost_class",
        f"cost unit without a valid cost class ({'/'.join(known)}) cannot take part in the step-down; fill "
        "cost_class in cost_unit", ["hospital", "month", "unit", "class"])
    cal = f" and {cal_sql}" if cal_sql else ""
    con.execute(f"""create or replace temp table _direct as
        select l.hospital_id, l.month, l.unit_code, l.cost_item, sum(round(l.amount * 100)::BIGINT) as cents
        from _src_rows l join _u u using (hospital_id, month, unit_code)
        where true{cal} group by all""")
    con.execute("create or replace temp table _pool as select * from _direct")
    con.execute("""create or replace temp table _trail (hospital_id VARCHAR, month DATE, step INTEGER,
        source_unit VARCHAR, dest_unit VARCHAR, cost_item VARCHAR, basis_code VARCHAR, basis_provider VARCHAR,
        qs HUGEINT, total_qs HUGEINT, cents BIGINT)""")
    con.execute("create or replace temp macro _c(x) as (coalesce(x, 0)::DECIMAL(18,0) / 100)::DECIMAL(16,2)")
    con.execute("create or replace temp table _step0_units (hospital_id VARCHAR, month DATE, unit_code VARCHAR)")
    return hosp


def _rule_rows(step: Step) -> list[str]:
    """VALUES rows of the step's rules: overrides first (rank = position), then the step default."""
    out = []
    rules = [(i, o, o.when) for i, o in enumerate(step.overrides)] + [(len(step.overrides), step, None)]
    for rank, rule, when in rules:
        rw = rule.receivers_where
        for item, basis in rule.basis.items():
            out.append("(" + ", ".join([
                str(rank), _lit(item), _lit(basis), "true" if rule.by_provider else "false",
                "true" if rule.missing_policy == "refuse" else "false",
                _list(when.unit_codes if when else None), _list(when.dept_codes if when else None),
                _list(when.service_line if when else None),
                _lit(when.provider_basis) if when and when.provider_basis else "null::VARCHAR",
                _list(step.receivers), _list(rw.service_line if rw else None), _list(rw.unit_codes if rw else None),
                _lit(fb) if (fb := (rule.fallback or {}).get(item) or (rule.fallback or {}).get("*"))
                else "null::VARCHAR",
            ]) + ")")
    return out


def _step(con, plan: Plan, step: Step) -> None:
    n = step.step
    if step.source.unit_codes:
        src_pred = f"list_contains({_list(step.source.unit_codes)}, u.unit_code)"
        con.execute(f"insert into _step0_units select hospital_id, month, unit_code from _u u where {src_pred}")
    else:
        src_pred = f"u.cost_class = {_lit(step.source.cost_class)}"
    con.execute(f"""create or replace temp table _rule (rank INTEGER, item VARCHAR, basis VARCHAR, by_provider BOOLEAN,
        refuse_missing BOOLEAN, m_units VARCHAR[], m_depts VARCHAR[], m_lines VARCHAR[], m_provider_basis VARCHAR,
        r_classes VARCHAR[], r_lines VARCHAR[], r_units VARCHAR[], fb_basis VARCHAR)""")
    con.execute("insert into _rule values " + ", ".join(_rule_rows(step)))
    # resolved rule per source unit, month and cost item (first matching override, item-specific before '*')
    con.execute(f"""create or replace temp table _res as
        select p.hospital_id, p.month, p.unit_code as source_unit, p.cost_item, p.cents, r.*
        from _pool p join _u u using (hospital_id, month, unit_code)
        join _rule r on r.item in ('*', p.cost_item)
          and (r.m_units is null or list_contains(r.m_units, u.unit_code))
          and (r.m_depts is null or list_contains(r.m_depts, u.dept_code))
          and (r.m_lines is null or list_contains(r.m_lines, u.service_line))
          and (r.m_provider_basis is null or exists (select 1 from _basis b where b.hospital_id = p.hospital_id
               and b.month = p.month and b.provider_unit = p.unit_code and b.basis_code = r.m_provider_basis))
        where {src_pred} and p.cents > 0
        qualify row_number() over (partition by p.hospital_id, p.month, p.unit_code, p.cost_item
                                   order by r.rank, r.item = '*') = 1""")
    con.execute("""create or replace temp table _rcv as
        select s.hospital_id, s.month, s.source_unit, s.cost_item, s.cents, s.basis, s.by_provider, s.refuse_missing,
               d.unit_code as dest_unit, b.quantity,
               case when s.by_provider then s.source_unit else '*' end as provider
        from _res s join _u d on d.hospital_id = s.hospital_id and d.month = s.month
          and list_contains(s.r_classes, d.cost_class) and d.unit_code <> s.source_unit
          and (s.r_lines is null or list_contains(s.r_lines, d.service_line))
          and (s.r_units is null or list_contains(s.r_units, d.unit_code))
          and not exists (select 1 from _step0_units z where z.hospital_id = d.hospital_id and z.month = d.month
                          and z.unit_code = d.unit_code)
        left join _basis b on b.hospital_id = s.hospital_id and b.month = s.month and b.unit_code = d.unit_code
          and b.basis_code = s.basis and b.provider_unit = case when s.by_provider then s.source_unit else '*' end""")
    # the rule's fallback basis (general quantities) where the receivers' quantities of its basis sum to 0
    con.execute("""create or replace temp table _rcv as
        with z as (select hospital_id, month, source_unit, cost_item from _rcv
                   group by all having coalesce(sum(quantity), 0) = 0),
        fb as (select s.hospital_id, s.month, s.source_unit, s.cost_item, s.fb_basis
               from _res s semi join z using (hospital_id, month, source_unit, cost_item)
               where s.fb_basis is not null)
        select r.hospital_id, r.month, r.source_unit, r.cost_item, r.cents,
               coalesce(fb.fb_basis, r.basis) as basis,
               r.by_provider and fb.fb_basis is null as by_provider,
               r.refuse_missing or fb.fb_basis is not null as refuse_missing,
               r.dest_unit, case when fb.fb_basis is null then r.quantity else b.quantity end as quantity,
               case when fb.fb_basis is null then r.provider else '*' end as provider
        from _rcv r left join fb using (hospital_id, month, source_unit, cost_item)
        left join _basis b on fb.fb_basis is not null and b.hospital_id = r.hospital_id and b.month = r.month
          and b.unit_code = r.dest_unit and b.basis_code = fb.fb_basis and b.provider_unit = '*'""")
    where = f"分摊方案 {plan.path or plan.plan_id} 第 {n} 步"
    where_en = f"plan {plan.path or plan.plan_id} step {n}"
    _refuse_rows(con, """select s.hospital_id, strftime(s.month, '%Y-%m'), s.source_unit, s.cost_item
        from _res s anti join _rcv r using (hospital_id, month, source_unit, cost_item) order by all""", [],
        "COST-NO-RECEIVER", f"{where}：来源单元有待分摊成本，但该月没有接收单元（接收类别中无在用单元）。请检查 cost_unit 的"
        "类别与有效期，或调整方案的 receivers", f"{where_en}: a source unit has cost to allocate but no receiving unit "
        "that month (no unit of the receiving classes in force). Check cost_unit classes and dates, or the plan's "
        "receivers", ["hospital", "month", "source", "item"])
    _refuse_rows(con, """select distinct hospital_id, strftime(month, '%Y-%m'), source_unit, basis, dest_unit
        from _rcv where quantity is null and refuse_missing order by all""", [], "COST-BASIS-MISSING",
        f"{where}：接收单元缺少分摊参数数量。请在 cost_basis 中为它登记该参数（没有则填 0），或在方案中改用其他参数",
        f"{where_en}: a receiving unit has no quantity for the basis. Add it to cost_basis (0 when none), or choose "
        "another basis in the plan", ["hospital", "month", "source", "basis", "receiver"])
    _refuse_rows(con, """select distinct hospital_id, strftime(month, '%Y-%m'), source_unit, basis,
            any_value(provider), count(*) from _rcv group by hospital_id, month, source_unit, cost_item, basis
        having coalesce(sum(quantity), 0) = 0 order by all""", [], "COST-BASIS-ZERO",
        f"{where}：接收单元的分摊参数合计为 0，来源单元的成本无处可分。请导入该月的参数数量（cost_basis），或在方案中为该来源"
        "单元改用其他参数（overrides）", f"{where_en}: the basis quantities of the whole receiving set sum to 0, so the "
        "source unit's cost cannot be allocated. Import that month's quantities (cost_basis) or give that source "
        "unit another basis in the plan (overrides)", ["hospital", "month", "source", "basis", "provider",
                                                        "receivers"])
    # largest remainder in integer arithmetic: quantities scaled to 1e-4, cents × qty // total
    con.execute(f"""insert into _trail
        with q as (
            select *, round(coalesce(quantity, 0) * 10000)::HUGEINT as qs from _rcv),
        t as (
            select *, sum(qs) over w as total_qs from q
            window w as (partition by hospital_id, month, source_unit, cost_item)),
        f as (
            select *, (cents::HUGEINT * qs) // total_qs as fl, (cents::HUGEINT * qs) % total_qs as rem from t),
        r as (
            select *, cents - sum(fl) over w as left_over,
                   row_number() over (partition by hospital_id, month, source_unit, cost_item
                                      order by rem desc, qs desc, dest_unit) as rk
            from f window w as (partition by hospital_id, month, source_unit, cost_item))
        select hospital_id, month, {n}, source_unit, dest_unit, cost_item, basis, provider, qs, total_qs,
               (fl + case when rk <= left_over then 1 else 0 end)::BIGINT
        from r where qs > 0""")
    con.execute(f"""create or replace temp table _pool as
        select hospital_id, month, unit_code, cost_item, sum(cents)::BIGINT as cents from (
            select hospital_id, month, unit_code, cost_item, cents from _pool
            union all select hospital_id, month, source_unit, cost_item, -cents from _res
            union all select hospital_id, month, dest_unit, cost_item, cents from _trail where step = {n})
        group by all""")


def _store(con, plan: Plan, hosp: list[str], m0, m1, measure, calibre, created_by, note) -> list[RunResult]:
    bad = con.execute("""select d.hospital_id, strftime(d.month, '%Y-%m'), d.c, p.c from
        (select hospital_id, month, sum(cents) c from _direct group by all) d
        full join (select hospital_id, month, sum(cents) c from _pool group by all) p using (hospital_id, month)
        where coalesce(d.c, 0) <> coalesce(p.c, 0) or exists (select 1 from _pool where cents < 0)""").fetchall()
    if bad:   # cannot happen by construction; refuse rather than store a run that does not add up
        raise CostError("COST-CONSERVATION", f"分摊前后总额不等：{bad[:SHOW]}", f"totals before/after differ: {bad[:SHOW]}")
    stamp = dt.datetime.now()
    results = []
    for h in hosp:
        run_id = f"cost-{stamp:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
        con.execute("""insert into cost_run (run_id, hospital_id, month_from, month_to, plan_id, plan_version,
            plan_hash, measure, created_at, created_by, note, calibre, plan_path)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [run_id, h, m0, m1, plan.plan_id, plan.version, plan.sha256, measure, stamp, created_by, note,
                     calibre, plan.path])
        con.execute("""insert into cost_alloc_trail (run_id, hospital_id, month, step, source_unit, dest_unit, cost_item,
            basis_code, basis_qty, basis_total, amount, basis_provider)
            select ?, hospital_id, month, step, source_unit, dest_unit, cost_item, basis_code,
                   (qs::DECIMAL(38,0) / 10000)::DECIMAL(18,4), (total_qs::DECIMAL(38,0) / 10000)::DECIMAL(22,4),
                   (cents::DECIMAL(18,0) / 100)::DECIMAL(16,2), basis_provider
            from _trail where hospital_id = ?""", [run_id, h])
        con.execute("""insert into cost_unit_full (run_id, hospital_id, month, unit_code, dept_code, cost_class,
            service_line, cost_item, direct, step1_in, step2_in, step3_in, allocated_out, "full", shared_in)
            with k as (
                select hospital_id, month, unit_code, cost_item from _direct
                union select hospital_id, month, unit_code, cost_item from _pool
                union select hospital_id, month, source_unit, cost_item from _trail
                union select hospital_id, month, dest_unit, cost_item from _trail),
            ins as (select hospital_id, month, dest_unit as unit_code, cost_item,
                        sum(cents) filter (where step = 0) s0, sum(cents) filter (where step = 1) s1,
                        sum(cents) filter (where step = 2) s2, sum(cents) filter (where step = 3) s3
                    from _trail group by all),
            outs as (select hospital_id, month, source_unit as unit_code, cost_item, sum(cents) o
                     from _trail group by all)
            select ?, k.hospital_id, k.month, k.unit_code, u.dept_code, u.cost_class, u.service_line, k.cost_item,
                   _c(d.cents), _c(i.s1), _c(i.s2), _c(i.s3), _c(o.o), _c(p.cents), _c(i.s0)
            from k join _u u using (hospital_id, month, unit_code)
            left join _direct d using (hospital_id, month, unit_code, cost_item)
            left join _pool p using (hospital_id, month, unit_code, cost_item)
            left join ins i using (hospital_id, month, unit_code, cost_item)
            left join outs o using (hospital_id, month, unit_code, cost_item)
            where k.hospital_id = ?""", [run_id, h])
        hops, total = con.execute("""select (select count(*) from cost_alloc_trail where run_id = $1),
            (select sum("full") from cost_unit_full where run_id = $1)""", [run_id]).fetchall()[0]
        months = con.execute("select count(distinct month) from _direct where hospital_id = ?", [h]).fetchall()[0][0]
        results.append(RunResult(run_id, h, months, hops, float(total or 0)))
    return results
