"""Queries behind the cost pages (issue 17 item 5): 科室成本, 分摊流向 (Sankey + hops), 病种/DRG 成本与盈亏.

Reads only the cost engine's output tables of the shared contract (docs/cost.md §6): cost_run, cost_unit_full,
cost_unit_cost, cost_alloc_trail, the view v_cost_case_margin, and v_cost_unit_month for unit names when present.
Every function takes the request's `Scope`: hospitals outside it are refused, a 科主任 (dept_head) gets only rows
of their own department (by the `dept_code` the engine stored on each unit), never another department's figures.
Codes (cost items, classes, bases, methods) stay codes here; templates decode them through domains.yaml.
"""

from __future__ import annotations


from yunying.model.privacy import mask_rows
from yunying.reports import cost as figures
from yunying.web.errors import WebError, not_found
from yunying.web.scope import Scope

STEPS = (1, 2, 3)                 # step-down steps of cost_unit_full (step1_in … step3_in)
HOP_LIMIT = 500                   # hops listed on the 分摊流向 page (the filters narrow them)
CASE_LIMIT = 200                  # cases listed on a DRG drill-down
SANKEY_DIRECT, SANKEY_FULL = "__direct__", "__full__"     # the two end nodes of the Sankey (names, not unit codes)
SANKEY_OUT = "__out__"            # a department head's view: what their units passed on to others, as one total
YM = figures.YM                                          # a month column as 'YYYY-MM' (DATE or text)


def no_run() -> dict:
    """The empty state: no cost run exists (or none this account may see)."""
    return {"computed": False, "reason_zh": "尚未运行成本核算：yunying cost run …（导入成本台账与分摊参数后运行，见 docs/cost.md）",
            "reason_en": "no cost run yet: yunying cost run … (import the ledger and bases, then run; docs/cost.md)"}


def _hospital_where(scope: Scope, alias: str, hospital: str | None) -> tuple[str, list]:
    """Hospital part of the scope only (cost_run has no department)."""
    scope.check_hospital(hospital)
    parts, params = ["true"], []
    if scope.hospitals is not None:
        parts.append(f"{alias}.hospital_id in ({', '.join('?' for _ in scope.hospitals)})" if scope.hospitals
                     else "false")
        params += list(scope.hospitals)
    if hospital:
        parts.append(f"{alias}.hospital_id = ?")
        params.append(hospital)
    return " and ".join(parts), params


def _f(v) -> float | None:
    return None if v is None else float(v)


RUN_COLS = ["run_id", "hospital_id", "month_from", "month_to", "plan_id", "plan_version", "plan_hash", "measure",
            "created_at", "created_by", "note"]


def runs(wh, cur, scope: Scope, hospital: str | None = None, measure: str = "cost") -> list[dict]:
    """Cost runs this account may see, latest first."""
    if "cost_run" not in wh.tables(cur):
        return []
    where, params = _hospital_where(scope, "r", hospital)
    rows = cur.execute(f"select {', '.join('r.' + c for c in RUN_COLS)}, {YM.format(col='r.month_from')}, "
                       f"{YM.format(col='r.month_to')} from cost_run r where r.measure = ? and {where} "
                       f"order by r.created_at desc, r.run_id desc", [measure] + params).fetchall()
    out = []
    for r in rows:
        d = dict(zip(RUN_COLS, r[:len(RUN_COLS)]))
        d["months"] = figures.months_between(r[-2], r[-1])
        d["period"] = r[-2] if r[-2] == r[-1] else f"{r[-2]} – {r[-1]}"
        out.append(d)
    return out


def pick_run(wh, cur, scope: Scope, run: str | None, hospital: str | None) -> tuple[dict | None, list[dict]]:
    """The requested run (404 when unknown or outside the scope), else the latest; with the list for the selector."""
    all_runs = runs(wh, cur, scope, hospital)
    if run:
        found = [r for r in all_runs if r["run_id"] == run]
        if not found:
            raise not_found(f"没有成本核算运行 {run}（或无权查看）", f"no cost run {run} (or not visible to you)")
        return found[0], all_runs
    return (all_runs[0] if all_runs else None), all_runs


def _month_filter(run: dict, month: str | None) -> tuple[list[str], str]:
    """The months shown: one month of the run ('YYYY-MM'), or all of them (month = 'all'); default the latest."""
    if month == "all":
        return run["months"], "all"
    if not month:
        return run["months"][-1:], run["months"][-1]
    if month not in run["months"]:
        raise WebError(422, "WEB-PARAM", f"月份 {month} 不在成本核算运行 {run['run_id']} 的期间（{run['period']}）内",
                       f"month {month} is outside cost run {run['run_id']} ({run['period']})")
    return [month], month


def _in(col: str, values: list) -> tuple[str, list]:
    return f"{col} in ({', '.join('?' for _ in values)})", list(values)


def _header(wh, cur, scope: Scope, run: str | None, month: str | None, hospital: str | None) -> dict:
    """Run, months and selectors shared by every cost page; {'computed': False, …} when there is no run."""
    r, all_runs = pick_run(wh, cur, scope, run, hospital)
    if r is None:
        return no_run()
    months, sel = _month_filter(r, month)
    return {"computed": True, "run": r, "runs": all_runs, "months": months, "month": sel,
            "dept_head": scope.is_dept_head, "own_dept": scope.dept}


def unit_info(wh, cur, run: dict, months: list[str]) -> dict[str, dict]:
    """unit_code -> {dept_code, cost_class, service_line, unit_name} of the run (names from v_cost_unit_month when
    the warehouse has it; else the department's name with the service line, decoded in the template)."""
    mw, mp = _in(YM.format(col="u.month"), months)
    rows = cur.execute(f"""select u.unit_code, any_value(u.dept_code), any_value(u.cost_class),
                               any_value(u.service_line) from cost_unit_full u
                           where u.run_id = ? and u.hospital_id = ? and {mw} group by 1""",
                       [run["run_id"], run["hospital_id"]] + mp).fetchall()
    info = {r[0]: {"unit_code": r[0], "dept_code": r[1], "cost_class": r[2], "service_line": r[3],
                   "unit_name": None} for r in rows}
    if "v_cost_unit_month" in wh.tables(cur):
        vw, vp = _in(YM.format(col="v.month"), months)
        for code, name in cur.execute(f"select v.unit_code, max(v.unit_name) from v_cost_unit_month v "
                                      f"where v.hospital_id = ? and {vw} group by 1",
                                      [run["hospital_id"]] + vp).fetchall():
            if code in info:
                info[code]["unit_name"] = name
    return info


# ---------------------------------------------------------------------------------------------------------------
# 科室成本
# ---------------------------------------------------------------------------------------------------------------

FULL_SUMS = "sum(u.direct), sum(u.step1_in), sum(u.step2_in), sum(u.step3_in), sum(u.allocated_out), sum(u.full)"
FULL_KEYS = ["direct", "step1_in", "step2_in", "step3_in", "allocated_out", "full"]


def _unit_costs(cur, run: dict, months: list[str], dept: str | None, by: str) -> dict:
    """诊次/床日成本 = Σ cost ÷ Σ volume over the months shown (yunying.reports.cost.unit_costs: one definition)."""
    return figures.unit_costs(cur, run["run_id"], run["hospital_id"], months, dept=dept, by=by)


def dept_cost(wh, cur, scope: Scope, *, run=None, month=None, hospital=None, dept_names=None) -> dict:
    """科室成本: per department direct cost, inflows of steps 1–3, allocated out, full cost, 诊次/床日成本."""
    scope.require("cost")
    head = _header(wh, cur, scope, run, month, hospital)
    if not head["computed"]:
        return head
    r = head["run"]
    mw, mp = _in(YM.format(col="u.month"), head["months"])
    dw, dp = ("u.dept_code = ?", [scope.dept]) if scope.is_dept_head else ("true", [])
    rows = cur.execute(f"""select u.dept_code, string_agg(distinct u.cost_class, ',' order by u.cost_class),
                                  {FULL_SUMS} from cost_unit_full u
                           where u.run_id = ? and u.hospital_id = ? and {mw} and {dw}
                           group by 1 order by sum(u.full) desc, sum(u.direct) desc, 1""",
                       [r["run_id"], r["hospital_id"]] + mp + dp).fetchall()
    costs = _unit_costs(cur, r, head["months"], scope.dept, "dept_code")
    names = dict(dept_names or {})
    for u in unit_info(wh, cur, r, head["months"]).values():   # a department outside the department table (院办,
        if u["unit_name"] and u["dept_code"] not in names:      # 供应室 …): the name of its cost unit
            names[u["dept_code"]] = u["unit_name"]
    depts = []
    for row in rows:
        d = {"dept": row[0], "dept_name": names.get(row[0], row[0]), "classes": row[1].split(",") if row[1] else [],
             **{k: _f(v) for k, v in zip(FULL_KEYS, row[2:])}}
        d["unit_costs"] = costs.get(row[0], {})
        depts.append(d)
    out = {**head, "depts": depts}
    if not scope.is_dept_head:          # hospital totals: a department head sees only their department
        tot = {k: round(sum(d[k] or 0 for d in depts), 2) for k in FULL_KEYS}
        out["totals"] = tot
        out["conserved"] = abs(tot["direct"] - tot["full"]) < 0.005
        out["hospital_unit_costs"] = _unit_costs(cur, r, head["months"], None, "").get("", {})
    return out


def dept_detail(wh, cur, scope: Scope, dept: str, *, run=None, month=None, hospital=None, dept_names=None) -> dict:
    """One department: its units, composition by cost item, unit costs and the hops that brought cost in."""
    scope.require("cost")
    scope.check_dept(dept)                               # a department head: only their own (403 otherwise)
    head = _header(wh, cur, scope, run, month, hospital)
    if not head["computed"]:
        return head
    r = head["run"]
    base = [r["run_id"], r["hospital_id"]]
    mw, mp = _in(YM.format(col="u.month"), head["months"])
    units = cur.execute(f"""select u.unit_code, any_value(u.cost_class), any_value(u.service_line), {FULL_SUMS}
                            from cost_unit_full u where u.run_id = ? and u.hospital_id = ? and {mw}
                              and u.dept_code = ? group by 1 order by 1""", base + mp + [dept]).fetchall()
    if not units:
        raise not_found(f"成本核算运行 {r['run_id']} 中没有科室 {dept}", f"department {dept} is not in cost run "
                        f"{r['run_id']}")
    info = unit_info(wh, cur, r, head["months"])
    ucost = _unit_costs(cur, r, head["months"], dept, "unit_code")
    unit_rows = [{"unit_code": u[0], "unit_name": info.get(u[0], {}).get("unit_name"), "cost_class": u[1],
                  "service_line": u[2], **{k: _f(v) for k, v in zip(FULL_KEYS, u[3:])},
                  "unit_costs": ucost.get(u[0], {})} for u in units]
    items = cur.execute(f"""select u.cost_item, {FULL_SUMS} from cost_unit_full u
                            where u.run_id = ? and u.hospital_id = ? and {mw} and u.dept_code = ?
                            group by 1 order by sum(u.full) desc, sum(u.direct) desc, 1""",
                        base + mp + [dept]).fetchall()
    total = {k: round(sum(u[k] or 0 for u in unit_rows), 2) for k in FULL_KEYS}
    comp = []
    for it in items:
        d = {"cost_item": it[0], **{k: _f(v) for k, v in zip(FULL_KEYS, it[1:])}}
        d["share"] = round(100 * d["full"] / total["full"], 2) if total["full"] else None
        comp.append(d)
    # inflows: the hops into this department's units, by step, source unit, cost item and basis
    tw, tp = _in(YM.format(col="t.month"), head["months"])
    own = [u["unit_code"] for u in unit_rows]
    ow, op = _in("t.dest_unit", own)
    inflow = [dict(zip(["step", "source_unit", "basis_code", "amount"], x)) for x in cur.execute(
        f"""select t.step, t.source_unit, t.basis_code, sum(t.amount) from cost_alloc_trail t
            where t.run_id = ? and t.hospital_id = ? and {tw} and {ow} group by 1, 2, 3 order by 1, 4 desc, 2""",
        base + tp + op).fetchall()]
    for x in inflow:
        x["amount"] = _f(x["amount"])
        x["source_name"] = info.get(x["source_unit"], {}).get("unit_name")
    names = dept_names or {}
    own_names = sorted({u["unit_name"] for u in unit_rows if u["unit_name"]})
    return {**head, "dept": dept, "dept_name": names.get(dept) or (own_names[0] if len(own_names) == 1 else dept), "units": unit_rows, "composition": comp,
            "total": total, "inflow": inflow, "unit_costs": _unit_costs(cur, r, head["months"], dept,
                                                                          "dept_code").get(dept, {})}


# ---------------------------------------------------------------------------------------------------------------
# 分摊流向
# ---------------------------------------------------------------------------------------------------------------

def flow(wh, cur, scope: Scope, *, run=None, month=None, hospital=None, step=None, source=None, dest=None,
         dept_names=None) -> dict:
    """The step-down as a Sankey (直接成本 → units → hops → clinical units → 全成本) and the table of hops."""
    scope.require("cost")
    head = _header(wh, cur, scope, run, month, hospital)
    if not head["computed"]:
        return head
    r = head["run"]
    base = [r["run_id"], r["hospital_id"]]
    info = unit_info(wh, cur, r, head["months"])
    names = dept_names or {}
    mine = {u for u, i in info.items() if i["dept_code"] == scope.dept} if scope.is_dept_head else None
    tw, tp = _in(YM.format(col="t.month"), head["months"])
    links = cur.execute(f"""select t.source_unit, t.dest_unit, sum(t.amount) from cost_alloc_trail t
                            where t.run_id = ? and t.hospital_id = ? and {tw} group by 1, 2""",
                        base + tp).fetchall()
    mw, mp = _in(YM.format(col="u.month"), head["months"])
    per_unit = {x[0]: (_f(x[1]), _f(x[2])) for x in cur.execute(
        f"""select u.unit_code, sum(u.direct), sum(u.full) from cost_unit_full u
            where u.run_id = ? and u.hospital_id = ? and {mw} group by 1""", base + mp).fetchall()}
    sk_links = []
    for u, (direct, full) in sorted(per_unit.items()):
        if mine is not None and u not in mine:
            continue
        if direct:
            sk_links.append({"source": SANKEY_DIRECT, "target": u, "value": round(direct, 2)})
        if full:
            sk_links.append({"source": u, "target": SANKEY_FULL, "value": round(full, 2)})
    out_of_mine: dict[str, float] = {}
    for s, d, amt in sorted(links):
        if mine is not None and d not in mine:
            if s in mine and amt:        # a department head's cost passed on: one total, not other departments' share
                out_of_mine[s] = out_of_mine.get(s, 0.0) + float(amt)
            continue
        if amt:
            sk_links.append({"source": s, "target": d, "value": round(float(amt), 2)})
    sk_links += [{"source": s, "target": SANKEY_OUT, "value": round(v, 2)} for s, v in sorted(out_of_mine.items())]
    used = {x for lk in sk_links for x in (lk["source"], lk["target"])}
    nodes = [{"name": n} for n in sorted(used)]
    node_labels = {u: (i["unit_name"] or f"{names.get(i['dept_code'], i['dept_code'])}") for u, i in info.items()}
    # hop table
    where, params = [f"t.run_id = ?", "t.hospital_id = ?", tw], base + tp
    if step:
        where.append("t.step = ?")
        params.append(int(step))
    if source:
        where.append("t.source_unit = ?")
        params.append(source)
    if dest:
        where.append("t.dest_unit = ?")
        params.append(dest)
    if mine is not None:
        if not mine:
            where.append("false")
        else:
            b, bp = _in("t.dest_unit", sorted(mine))        # the hops into the department (its inflows)
            where.append(b)
            params += bp
    sql_from = f"from cost_alloc_trail t where {' and '.join(where)}"
    n_hops = cur.execute(f"select count(*) {sql_from}", params).fetchall()[0][0]
    hops = []
    for h in cur.execute(f"""select {YM.format(col='t.month')}, t.step, t.source_unit, t.cost_item, t.basis_code,
                                    t.basis_qty, t.basis_total, t.amount, t.dest_unit {sql_from}
                             order by 1, 2, 3, t.cost_item, t.dest_unit limit {HOP_LIMIT}""", params).fetchall():
        d = dict(zip(["month", "step", "source_unit", "cost_item", "basis_code", "basis_qty", "basis_total",
                      "amount", "dest_unit"], h))
        for k in ("basis_qty", "basis_total", "amount"):
            d[k] = _f(d[k])
        d["share"] = round(100 * d["basis_qty"] / d["basis_total"], 2) if d["basis_total"] else None
        d["source_name"] = node_labels.get(d["source_unit"], d["source_unit"])
        d["dest_name"] = node_labels.get(d["dest_unit"], d["dest_unit"])
        hops.append(d)
    steps = [x[0] for x in cur.execute("select distinct t.step from cost_alloc_trail t where t.run_id = ? "
                                       "and t.hospital_id = ? order by 1", base).fetchall()]
    return {**head, "sankey": {"nodes": nodes, "links": sk_links,
                               "labels": {u: x for u, x in node_labels.items() if u in used}},
            "hops": hops, "n_hops": n_hops, "hop_limit": HOP_LIMIT, "steps": steps,
            "units": sorted(({"unit_code": u, "label": node_labels.get(u, u)} for u in info
                             if mine is None or u in mine), key=lambda x: x["unit_code"]),
            "filters": {"step": step, "source": source, "dest": dest}}


# ---------------------------------------------------------------------------------------------------------------
# 病种/DRG 成本与盈亏
# ---------------------------------------------------------------------------------------------------------------

def _margin_source(wh, cur, scope: Scope, head: dict, dept: str | None) -> tuple[str, list] | None:
    """FROM/WHERE over v_cost_case_margin for the run's hospital, the months shown and the scope's department."""
    if "v_cost_case_margin" not in wh.tables(cur):
        return None
    r = head["run"]
    mw, mp = _in(YM.format(col="m.period_month"), head["months"])
    _, dept = scope.resolve(r["hospital_id"], dept)
    where = ["m.hospital_id = ?", mw]
    params = [r["hospital_id"]] + mp
    if dept:
        where.append("m.dept_code = ?")
        params.append(dept)
    return f"from v_cost_case_margin m where {' and '.join(where)}", params


NO_CASE_COST_ZH = "尚无病种/DRG 成本：该成本核算期间没有病例成本（yunying cost run 计算病例成本并完成 DRG 支付测算后显示）"
NO_CASE_COST_EN = "no case / DRG cost for this period yet (yunying cost run with case costing, after a DRG payment run)"


def drg_cost(wh, cur, scope: Scope, *, run=None, month=None, hospital=None, dept=None, method=None,
             drg_names=None) -> dict:
    """Per DRG: cases, mean cost by method, mean expected payment, cost margin (by method) beside charge margin."""
    scope.require("cost")
    head = _header(wh, cur, scope, run, month, hospital)
    if not head["computed"]:
        return head
    src = _margin_source(wh, cur, scope, head, dept)
    if src is None:
        return {**head, "cases_computed": False, "reason_zh": NO_CASE_COST_ZH, "reason_en": NO_CASE_COST_EN}
    try:
        got = figures.drg_groups(cur, src[0], src[1], method, drg_names)
    except ValueError:
        methods = figures.drg_groups(cur, src[0], src[1])["methods"]
        raise WebError(422, "WEB-PARAM", f"成本方法 {method} 在本期没有结果（可选：{'、'.join(methods)}）",
                       f"no results for cost method {method} (available: {', '.join(methods)})") from None
    if not got["methods"]:
        return {**head, "cases_computed": False, "reason_zh": NO_CASE_COST_ZH, "reason_en": NO_CASE_COST_EN}
    return {**head, "cases_computed": True, **got, "dept": dept if not scope.is_dept_head else scope.dept}


CASE_COLS = ["hospital_id", "mrn", "admission_no", "patient_name", "period_month", "dept_code", "doctor_group",
             "expected_payment", "fee_total", "margin_charges"]


def drg_cases(wh, cur, scope: Scope, drg: str, *, run=None, month=None, hospital=None, dept=None,
              dept_names=None) -> dict:
    """The cases of one DRG with cost and margin per method; patient identifiers masked unless the role may see
    them. The caller audit-logs the list."""
    scope.require("cost")
    head = _header(wh, cur, scope, run, month, hospital)
    if not head["computed"]:
        return head
    src = _margin_source(wh, cur, scope, head, dept)
    if src is None:
        return {**head, "cases_computed": False, "reason_zh": NO_CASE_COST_ZH, "reason_en": NO_CASE_COST_EN}
    sql, p = src
    has_name = "discharge" in wh.tables(cur)
    name_sel = ("(select max(d.patient_name) from discharge d where d.hospital_id = c.hospital_id "
                "and d.mrn = c.mrn and d.admission_no = c.admission_no)") if has_name else "cast(null as varchar)"
    rows = cur.execute(f"""select c.hospital_id, c.mrn, c.admission_no, {name_sel}, c.period_month, c.dept_code,
                                  c.doctor_group, c.expected_payment, c.fee_total, c.margin_charges, c.costs
                           from (select m.hospital_id, m.mrn, m.admission_no, any_value(m.period_month) period_month,
                                        any_value(m.dept_code) dept_code, any_value(m.doctor_group) doctor_group,
                                        any_value(m.expected_payment) expected_payment,
                                        any_value(m.fee_total) fee_total, any_value(m.margin_charges) margin_charges,
                                        list({{'method': m.method, 'cost': m.cost, 'margin': m.margin_cost}}
                                             order by m.method) costs
                                 {sql} and m.drg = ? group by 1, 2, 3) c
                           order by c.margin_charges, c.mrn limit {CASE_LIMIT}""", p + [drg]).fetchall()
    if not rows:
        raise not_found(f"本期没有 DRG {drg} 的病例成本", f"no case cost for DRG {drg} in this period")
    names = dept_names or {}
    out, methods = [], []
    for r in rows:
        d = dict(zip(CASE_COLS, r[:len(CASE_COLS)]))
        for k in ("expected_payment", "fee_total", "margin_charges"):
            d[k] = _f(d[k])
        d["dept_name"] = names.get(d["dept_code"], d["dept_code"])
        d["costs"] = {c["method"]: {"cost": _f(c["cost"]), "margin": _f(c["margin"])} for c in r[-1]}
        methods += [m for m in d["costs"] if m not in methods]
        out.append(d)
    return {**head, "cases_computed": True, "drg": drg, "rows": mask_rows(out, scope.see_pii),
            "masked": not scope.see_pii, "methods": sorted(methods), "limit": CASE_LIMIT,
            "can_open": "cases" in scope.modules}
