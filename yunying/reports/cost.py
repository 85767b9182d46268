"""Cost figures shared by the web's cost pages and the annual report's cost section (issue 17; docs/cost.md §6) —
one definition each: 诊次/床日成本 = Σ cost ÷ Σ volume of cost_unit_cost over the months shown; per DRG the cases, mean
cost per method, mean expected payment and Σ margins of v_cost_case_margin (payment and charges once per case).
Reads only the cost engine's contract tables; SQL fragments for the scope come from the caller.
"""

from __future__ import annotations

from collections import defaultdict

YM = "left(cast({col} as varchar), 7)"        # a month column as 'YYYY-MM' (DATE or text)


def _f(v) -> float | None:
    return None if v is None else float(v)


def months_between(a: str, b: str) -> list[str]:
    """'2022-05', '2022-07' → ['2022-05', '2022-06', '2022-07']."""
    y, m = int(a[:4]), int(a[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= b[:7]:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_in(col: str, months: list[str]) -> tuple[str, list]:
    """SQL predicate: the month column `col` is one of `months` ('YYYY-MM')."""
    return f"{YM.format(col=col)} in ({', '.join('?' for _ in months)})", list(months)


def unit_costs(con, run_id: str, hospital_id: str, months: list[str], *, dept: str | None = None,
               by: str = "") -> dict:
    """{key: {measure: {cost, volume, unit_cost}}} — key the `by` column (dept_code | unit_code), '' hospital-wide."""
    mw, mp = month_in("c.month", months)
    dw, dp = ("c.dept_code = ?", [dept]) if dept else ("true", [])
    key = f"c.{by}" if by else "''"
    # where the volumes came from (cost_basis, or a warehouse fallback): printed beside the figure
    has_src = bool(con.execute("select count(*) from information_schema.columns where table_name = 'cost_unit_cost' "
                               "and column_name = 'volume_source'").fetchall()[0][0])
    src = "string_agg(distinct c.volume_source, '、' order by c.volume_source)" if has_src else "null"
    out: dict = defaultdict(dict)
    for k, measure, cost, vol, vsrc in con.execute(
            f"""select {key}, c.measure, sum(c.cost), sum(c.volume), {src} from cost_unit_cost c
                where c.run_id = ? and c.hospital_id = ? and {mw} and {dw} group by 1, 2""",
            [run_id, hospital_id] + mp + dp).fetchall():
        if vsrc:         # decoded for display (domain volume_source); codes stay in the warehouse
            from yunying.cost.plan import domain_label
            vsrc = "、".join(domain_label("volume_source", s) for s in vsrc.split("、"))
        out[k][measure] = {"cost": _f(cost), "volume": _f(vol), "volume_source": vsrc,
                           "unit_cost": round(float(cost) / float(vol), 2) if vol else None}
    return out


def drg_groups(con, src: str, params: list, method: str | None = None, names: dict | None = None) -> dict:
    """Per DRG over `src` ('from v_cost_case_margin m where …'): cases, per method the mean cost and Σ margin on
    cost, mean expected payment, Σ margin on charges; `method` (default: the method with the most case rows, ties by
    code) decides which margin marks a group as losing. {'methods': [], …} when there are no case costs."""
    methods = [r[0] for r in con.execute(f"select m.method, count(*) {src} group by 1 order by 2 desc, 1",
                                         params).fetchall()]
    if not methods:
        return {"methods": [], "method": None, "groups": []}
    if method is not None and method not in methods:
        raise ValueError(method)
    method = method or methods[0]
    per_method: dict = defaultdict(dict)
    for g, m, n, cost, mc in con.execute(f"select m.drg, m.method, count(*), avg(m.cost), sum(m.margin_cost) {src} "
                                         f"group by 1, 2", params).fetchall():
        per_method[g][m] = {"cases": n, "mean_cost": _f(cost), "margin_cost": _f(mc)}
    rows = con.execute(f"""select drg, count(*), avg(expected_payment), avg(fee_total), sum(expected_payment),
                                  sum(margin_charges)
                           from (select distinct m.hospital_id, m.mrn, m.admission_no, m.drg, m.expected_payment,
                                        m.fee_total, m.margin_charges {src}) group by 1""", params).fetchall()
    names = names or {}
    groups = []
    for g, n, pay, fee, pay_sum, mch in rows:
        pm = per_method.get(g, {})
        mc = pm.get(method, {}).get("margin_cost")
        groups.append({"drg": g, "name": names.get(g, ""), "cases": n, "mean_payment": _f(pay), "mean_fee": _f(fee),
                       "payment": _f(pay_sum), "margin_charges": _f(mch), "methods": pm, "margin_cost": mc,
                       "mean_cost": pm.get(method, {}).get("mean_cost"),
                       "losing": mc is not None and mc < 0, "losing_charges": mch is not None and mch < 0})
    groups.sort(key=lambda x: (x["margin_cost"] if x["margin_cost"] is not None else float("inf"), x["drg"] or ""))
    losing = [g for g in groups if g["losing"]]
    total = {"cases": sum(g["cases"] for g in groups),
             "margin_cost": round(sum(g["margin_cost"] or 0 for g in groups), 2),
             "margin_charges": round(sum(g["margin_charges"] or 0 for g in groups), 2),
             "groups": len(groups), "losing_groups": len(losing),
             "losing_share": round(100 * len(losing) / len(groups), 2) if groups else None,
             "loss": round(sum(g["margin_cost"] for g in losing), 2),
             "losing_cost_only": sum(1 for g in losing if not g["losing_charges"])}
    return {"methods": methods, "method": method, "groups": groups, "total": total}


# ---------------------------------------------------------------- the annual report's section

def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}


def latest_run(con, hospital_id: str, year: int) -> dict | None:
    """The latest cost run (measure cost) of the hospital whose period overlaps the year, with the months of the
    year it covers."""
    if "cost_run" not in _tables(con):
        return None
    rows = con.execute(f"""select run_id, plan_id, plan_version, plan_hash, created_at,
                                  {YM.format(col='month_from')}, {YM.format(col='month_to')} from cost_run
                           where hospital_id = ? and measure = 'cost' and {YM.format(col='month_from')} <= ?
                             and {YM.format(col='month_to')} >= ? order by created_at desc, run_id desc limit 1""",
                       [hospital_id, f"{year}-12", f"{year}-01"]).fetchall()
    if not rows:
        return None
    r = rows[0]
    months = [m for m in months_between(r[5], r[6]) if m.startswith(f"{year}-")]
    return {"run_id": r[0], "plan_id": r[1], "plan_version": r[2], "plan_hash": r[3], "created_at": r[4],
            "month_from": r[5], "month_to": r[6], "months": months}


def section(con, hospital_id: str, year: int, sec: dict, env, base: dict, used: dict):
    """The annual report's cost section (spec `kind: cost`): 科室全成本 top departments, 诊次/床日成本, DRG groups
    losing on cost — with the run and calibre printed; a note only when no cost run covers the year."""
    from yunying.reports.collect import dept_names
    from yunying.reports.model import Column, Section, Table, Value
    from yunying.reports.templating import render_paragraphs

    s = Section(sec["key"], sec["title"])
    run = latest_run(con, hospital_id, year)
    if run is None:
        s.paragraphs = render_paragraphs(env, sec["template"], {**base, "run": None})
        return s
    used["cost"] = (f"成本核算 cost_run {run['run_id']}（分摊方案 {run['plan_id']} v{run['plan_version']}，"
                    f"{run['months'][0]}至{run['months'][-1]}）")
    period, note = str(year), f"成本核算运行 {run['run_id']}"
    base_args = [run["run_id"], hospital_id]
    mw, mp = month_in("u.month", run["months"])

    def val(key, label, v, unit, ident, **kw):
        return Value(key=key, indicator_id=ident, label=label, period=period, value=v, unit=unit, source="cost",
                     note=note, **kw)

    names = dept_names(con, hospital_id)
    show = int(sec.get("show", 10))
    rows = con.execute(f"""select u.dept_code, sum(u.direct), sum(u.step1_in), sum(u.step2_in), sum(u.step3_in),
                                  sum(u.full) from cost_unit_full u where u.run_id = ? and u.hospital_id = ? and {mw}
                           group by 1 having sum(u.full) <> 0 order by sum(u.full) desc, 1""",
                       base_args + mp).fetchall()
    tot = con.execute(f"select sum(u.direct), sum(u.full) from cost_unit_full u where u.run_id = ? "
                      f"and u.hospital_id = ? and {mw}", base_args + mp).fetchall()[0]
    direct_total, full_total = _f(tot[0]) or 0.0, _f(tot[1]) or 0.0
    top = [{"code": r[0], "name": names.get(r[0], r[0]),
            "full": val(f"full_{r[0]}", f"{names.get(r[0], r[0])}全成本", float(r[5]) / 1e4, "万元", "COST-FULL",
                        dept_code=r[0])} for r in rows[:int(sec.get("top_in_text", 3))]]
    hosp = unit_costs(con, run["run_id"], hospital_id, run["months"]).get("", {})
    by_dept = unit_costs(con, run["run_id"], hospital_id, run["months"], by="dept_code")
    ctx = {**base, "run": run, "calibre": sec.get("calibre", ""),
           "full_total": val("full_total", "临床服务类科室全成本合计", full_total / 1e4, "万元", "COST-FULL"),
           "direct_total": val("direct_total", "直接成本合计", direct_total / 1e4, "万元", "COST-DIRECT"),
           "conserved": abs(direct_total - full_total) < 0.005, "top": top, "partial": len(run["months"]) < 12,
           "n_months": len(run["months"])}
    for measure, label, ident in (("visit", "诊次成本", "COST-VISIT"), ("bed_day", "床日成本", "COST-BED-DAY")):
        x = hosp.get(measure)
        ctx[measure] = val(measure, label, x["unit_cost"] if x else None, "元", ident,
                           numerator=x["cost"] if x else None, denominator=x["volume"] if x else None,
                           missing_zh=f"本期无{label}（无门急诊人次/实际占用床日）")
    # DRG groups losing on cost
    drg = {"methods": []}
    if "v_cost_case_margin" in _tables(con):
        pw, pp = month_in("m.period_month", run["months"])
        drg = drg_groups(con, f"from v_cost_case_margin m where m.hospital_id = ? and {pw}", [hospital_id] + pp)
    from yunying.model.catalogue import load_model
    dom = load_model().domains.get("case_cost_method")
    method_names = dom.codes if dom else {}
    if drg["methods"]:
        t = drg["total"]
        ctx["drg"] = {"method": method_names.get(drg["method"], drg["method"]),
                      "groups": val("drg_groups", "有病例成本的DRG组数", t["groups"], "组", "COST-DRG"),
                      "losing": val("drg_losing", "成本口径亏损DRG组数", t["losing_groups"], "组", "COST-DRG-LOSS"),
                      "share": val("drg_losing_share", "成本口径亏损病组占比", t["losing_share"], "%", "COST-DRG-LOSS"),
                      "loss": val("drg_loss", "成本口径亏损合计", t["loss"], "元", "COST-DRG-LOSS"),
                      "cost_only": t["losing_cost_only"]}
    else:
        ctx["drg"] = None
    s.paragraphs = render_paragraphs(env, sec["template"], ctx)
    money = "#,##0.00"
    table_note = (f"成本核算运行 {run['run_id']}；分摊方案 {run['plan_id']} v{run['plan_version']}；期间 "
                  f"{run['months'][0]}至{run['months'][-1]}；口径：{sec.get('calibre', '')}。")
    s.tables.append(Table(f"科室全成本（前{show}位，元）", [
        Column("科室"), Column("科室代码"), Column("直接成本", money), Column("一级分摊转入", money),
        Column("二级分摊转入", money), Column("三级分摊转入", money), Column("全成本", money), Column("占全成本", "0.00%")],
        [[names.get(r[0], r[0]), r[0]] + [(float(x), money) for x in r[1:]] +
         [((float(r[5]) / full_total) if full_total else None, "0.00%")] for r in rows[:show]], note=table_note))
    uc_rows = [["全院", ""] + _uc_cells(hosp)]
    for code in sorted(by_dept, key=lambda d: (names.get(d, d), d)):
        uc_rows.append([names.get(code, code), code] + _uc_cells(by_dept[code]))
    s.tables.append(Table("诊次/床日成本", [Column("科室"), Column("科室代码"), Column("诊次成本（元）", money),
                                        Column("门急诊人次", "0"), Column("床日成本（元）", money),
                                        Column("实际占用床日", "0"), Column("工作量来源")], uc_rows, note=table_note))
    if drg["methods"]:
        losing = [g for g in drg["groups"] if g["losing"]][:show]
        mname = method_names.get(drg["method"], drg["method"])
        s.tables.append(Table(f"成本口径亏损 DRG 组（{mname}）", [
            Column("DRG"), Column("病例数", "0"), Column("例均成本", money), Column("例均预计支付", money),
            Column("成本口径盈亏", money), Column("费用口径盈亏", money)],
            [[g["drg"], (g["cases"], "0"), (g["mean_cost"], money), (g["mean_payment"], money),
              (g["margin_cost"], money), (g["margin_charges"], money)] for g in losing],
            note=table_note + f"方法：{mname}；成本口径盈亏 = 预计支付 − 病例成本，费用口径盈亏 = 预计支付 − 费用。"))
    return s


def _uc_cells(x: dict) -> list:
    v, b = x.get("visit"), x.get("bed_day")
    srcs = sorted({s for m in (v, b) if m and m.get("volume_source") for s in m["volume_source"].split("、")})
    return [(v["unit_cost"], "#,##0.00") if v and v["unit_cost"] is not None else None,
            (v["volume"], "0") if v else None,
            (b["unit_cost"], "#,##0.00") if b and b["unit_cost"] is not None else None,
            (b["volume"], "0") if b else None, "、".join(srcs) or None]
