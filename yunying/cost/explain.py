"""`cost explain`: a unit's full cost in a stored run, down to its ledger rows and every hop (source, basis,
quantity, total, amount), each source explained the same way (docs/cost.md §2)."""

from __future__ import annotations

from yunying.cost.errors import CostError
from yunying.cost.plan import domain_label
from yunying.cost.stepdown import _month, calibre_sql


def _dicts(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def get_run(con, run_id: str) -> dict:
    import duckdb

    try:
        rows = _dicts(con.execute("select * from cost_run where run_id = ?", [run_id]))
    except duckdb.CatalogException:     # a warehouse opened read-only before migration 0110 was applied
        raise CostError("COST-RUN-UNKNOWN", f"仓库中还没有核算运行（无 cost_run 表），没有 {run_id}。先运行 yunying cost run",
                        f"the warehouse holds no cost runs yet (no cost_run table), so no {run_id}. Run yunying "
                        "cost run first") from None
    if not rows:
        last = con.execute("select run_id from cost_run order by created_at desc limit 5").fetchall()
        hint = "、".join(r[0] for r in last) or "无 none"
        raise CostError("COST-RUN-UNKNOWN", f"没有核算运行 {run_id}（最近的：{hint}）。先运行 yunying cost run",
                        f"no cost run {run_id} (latest: {hint}). Run yunying cost run first")
    return rows[0]


def explain_unit(con, run_id: str, unit: str, month=None, *, depth: int = 1) -> dict:
    run = get_run(con, run_id)
    m = _month(month) if month else None
    if m and not (run["month_from"] <= m <= run["month_to"]):
        raise CostError("COST-MONTH", f"{m:%Y-%m} 不在运行 {run_id} 的期间 {run['month_from']:%Y-%m}—"
                        f"{run['month_to']:%Y-%m} 内", f"{m:%Y-%m} is outside run {run_id}'s period")
    lo, hi = (m, m) if m else (run["month_from"], run["month_to"])
    info = _dicts(con.execute("""select unit_code, any_value(dept_code) dept_code, any_value(cost_class) cost_class,
            any_value(service_line) service_line from cost_unit_full where run_id = ? and unit_code = ?
            and month between ? and ? group by 1""", [run_id, unit, lo, hi]))
    if not info:
        raise CostError("COST-UNIT-NOT-IN-RUN", f"运行 {run_id} 中没有单元 {unit} 在 {lo:%Y-%m}—{hi:%Y-%m} 的成本",
                        f"run {run_id} has no cost for unit {unit} in {lo:%Y-%m}..{hi:%Y-%m}")
    return {"run": run, "unit": info[0], "month_from": lo, "month_to": hi,
            **_node(con, run, unit, lo, hi, depth)}


def _node(con, run: dict, unit: str, lo, hi, depth: int) -> dict:
    rid, h = run["run_id"], run["hospital_id"]
    items = _dicts(con.execute("""select cost_item, sum(direct) direct, sum(shared_in) shared_in,
            sum(step1_in) step1_in, sum(step2_in) step2_in, sum(step3_in) step3_in,
            sum(allocated_out) allocated_out, sum("full") "full"
        from cost_unit_full where run_id = ? and unit_code = ? and month between ? and ? group by 1 order by 1""",
                               [rid, unit, lo, hi]))
    if run["measure"] == "cost":
        taken = calibre_sql(run["calibre"], "l", "u.cost_class")
        ledger = _dicts(con.execute(f"""select l.month, l.cost_item, l.fund_source, l.amount, {taken} as taken
            from cost_ledger l left join v_cost_unit_month u using (hospital_id, month, unit_code)
            where l.hospital_id = ? and l.unit_code = ? and l.month between ? and ? order by 1, 2, 3""",
                                    [h, unit, lo, hi]))
    else:
        ledger = _dicts(con.execute("""select month, charge_category as cost_item, order_unit as fund_source,
                amount, true as taken from cost_revenue where hospital_id = ? and exec_unit = ?
                and month between ? and ? order by 1, 2, 3""", [h, unit, lo, hi]))
    hops_sql = """select month, step, source_unit, dest_unit, basis_code, basis_provider, basis_qty, basis_total,
            sum(amount) amount, string_agg(cost_item, ',' order by cost_item) cost_items
        from cost_alloc_trail where run_id = ? and {col} = ? and month between ? and ?
        group by all order by month, step, {other}"""
    inbound = _dicts(con.execute(hops_sql.format(col="dest_unit", other="source_unit"), [rid, unit, lo, hi]))
    outbound = _dicts(con.execute(hops_sql.format(col="source_unit", other="dest_unit"), [rid, unit, lo, hi]))
    sources = {}
    if depth > 0:
        for src in dict.fromkeys(r["source_unit"] for r in inbound):
            sources[src] = _node(con, run, src, lo, hi, depth - 1)
            sources[src]["outbound"] = []            # the parent's inbound hops already show where it went
    return {"items": items, "ledger": ledger, "inbound": inbound, "outbound": outbound, "sources": sources}


def render_text(ex: dict, lang: str = "zh") -> str:
    """Plain text for the terminal (codes plus Chinese labels)."""
    run, u = ex["run"], ex["unit"]
    L = lambda dom, c: f"{c} {domain_label(dom, c)}" if domain_label(dom, c) != c else str(c)   # noqa: E731
    item_dom = "cost_item" if run["measure"] == "cost" else "charge_category"
    out = [f"运行 run {run['run_id']}  方案 plan {run['plan_id']} v{run['plan_version']} ({run['plan_hash'][:12]})  "
           f"{run['measure']}  口径 calibre {run['calibre'] or '-'}",
           f"单元 unit {u['unit_code']}  科室 dept {u['dept_code']}  类别 class {L('dept_class', u['cost_class'])}  "
           f"{ex['month_from']:%Y-%m}—{ex['month_to']:%Y-%m}"]

    def node(n: dict, indent: str) -> None:
        tot = {k: sum((r[k] for r in n["items"]), 0) for k in ("direct", "shared_in", "step1_in", "step2_in",
                                                             "step3_in", "allocated_out", "full")}
        out.append(f"{indent}全成本 full {tot['full']:,.2f} = 直接 direct {tot['direct']:,.2f} + 公共 shared "
                   f"{tot['shared_in']:,.2f} + 一级 {tot['step1_in']:,.2f} + 二级 {tot['step2_in']:,.2f} + 三级 "
                   f"{tot['step3_in']:,.2f} − 分出 out {tot['allocated_out']:,.2f}")
        for r in n["items"]:
            out.append(f"{indent}  {L(item_dom, r['cost_item'])}: 直接 {r['direct']:,.2f}  全成本 {r['full']:,.2f}")
        if n["ledger"]:
            out.append(f"{indent}  台账 ledger rows:")
            for r in n["ledger"]:
                mark = "" if r["taken"] else "  (不在本口径 not in calibre)"
                out.append(f"{indent}    {r['month']:%Y-%m} {L(item_dom, r['cost_item'])} {r['fund_source'] or ''} "
                           f"{r['amount']:,.2f}{mark}")
        for r in n["inbound"]:
            prov = "" if r["basis_provider"] == "*" else f"（由 {r['basis_provider']} 提供 provided by）"
            out.append(f"{indent}  ← 第{r['step']}步 step {r['step']} {r['month']:%Y-%m} 自 from {r['source_unit']} "
                       f"按 by {L('alloc_basis', r['basis_code'])}{prov} {r['basis_qty']:,} / {r['basis_total']:,} "
                       f"= {r['amount']:,.2f}  [{r['cost_items']}]")
            sub = n["sources"].get(r["source_unit"])
            if sub is not None and not sub.get("_shown"):
                sub["_shown"] = True
                out.append(f"{indent}     {r['source_unit']}:")
                node(sub, indent + "      ")
        for r in n["outbound"]:
            out.append(f"{indent}  → 第{r['step']}步 step {r['step']} {r['month']:%Y-%m} 至 to {r['dest_unit']} "
                       f"按 by {L('alloc_basis', r['basis_code'])} {r['basis_qty']:,} / {r['basis_total']:,} "
                       f"= {r['amount']:,.2f}")

    node(ex, "")
    return "\n".join(out)
