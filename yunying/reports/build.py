"""Build the two reports from a warehouse connection: build_annual (年度工作报告数据篇) and build_monthly (质量月报)."""

from __future__ import annotations

from pathlib import Path

from yunying.reports import collect, fmt
from yunying.reports.collect import Context, Periods
from yunying.reports.model import Chart, Column, Report, Section, Table, Value
from yunying.reports.templating import environment, load_spec, render_paragraphs


def _cell(v: float | None, unit: str, dec: int):
    """A table cell: (number, Excel format). Rates are stored as fractions with a % format."""
    if v is None:
        return None
    zeros = "0" * dec
    if unit == "%":
        return (v / 100.0, f"0.{zeros}%" if dec else "0%")
    return (v, f"0.{zeros}" if dec else "0")


def figures_table(title: str, values: list[Value], *, mom: bool = False) -> Table:
    cols = [Column("指标"), Column("指标编号"), Column("单位"), Column("本期"), Column("同期")]
    if mom:
        cols.append(Column("上期"))
    cols += [Column("同比变化"), Column("评价")]
    if mom:
        cols.append(Column("环比变化"))
    cols += [Column("目标"), Column("状态"), Column("说明")]
    rows = []
    for v in values:
        unit = "" if v.unit in fmt.BARE_UNITS else v.unit
        ch = v.yoy()
        row = [v.label, v.indicator_id + ("" if v.part == "value" else f"（{ {'numerator': '分子', 'denominator': '分母'}[v.part]}）"),
               unit, _cell(v.value, v.unit, v.dec), _cell(v.yoy_value, v.unit, v.dec)]
        if mom:
            row.append(_cell(v.mom_value, v.unit, v.dec))
        row += [ch.short("") if ch.ok else None, ch.judgement or None]
        if mom:
            m = v.mom()
            row.append(m.short("") if m.ok else None)
        row += [v.target or None, v.status or None, (v.note or None) if v.ok else v.missing_text()]
        rows.append(row)
    return Table(title, cols, rows)


def _base_context(report: Report, year: int, month: int | None = None) -> dict:
    return {"hospital": report.hospital_name, "year": year, "month": month, "period": report.period,
            "dept_name": report.dept_name or "", "dept_code": report.dept_code or ""}


def _new_report(kind: str, spec: dict, con, period: str, hospital_id: str | None, dept: str | None,
                year: int, month: int | None = None) -> tuple[Report, str]:
    hid, hname = collect.pick_hospital(con, hospital_id)
    dname = None
    if dept:
        names = collect.dept_names(con, hid)
        dname = names.get(dept, dept)
    title = spec.get("title", "{hospital}报告").format(hospital=hname, year=year, month=month or "",
                                                      dept=dname or "", period=period)
    return Report(kind, title, period, hid, hname, dept, dname), hid


def build_annual(con, year: int, *, templates: Path | None = None, hospital_id: str | None = None) -> Report:
    """年度工作报告数据篇 for `year` (同期 = the previous year); figures from the indicator engine (docs/reports.md)."""
    spec = load_spec("annual.yaml", templates)
    env = environment(templates)
    report, hid = _new_report("annual", spec, con, str(year), hospital_id, None, year)
    ctx = Context(con, hid, Periods.year(int(year)))
    allv: dict[str, Value] = {}
    for sec in spec.get("sections", []):
        if sec.get("kind") == "cost":         # 成本核算: figures of the latest cost run (yunying/reports/cost.py)
            from yunying.reports import cost
            report.sections.append(cost.section(con, hid, int(year), sec, env, _base_context(report, year), ctx.used))
            continue
        items = sec.get("items", [])
        vals = collect.section_values(ctx, items)
        allv.update(vals)
        s = Section(sec["key"], sec["title"])
        s.paragraphs = render_paragraphs(env, sec["template"], {**_base_context(report, year), "v": vals})
        keys = sec.get("table") or [i["key"] for i in items]
        s.tables.append(figures_table(f"{sec['title'].split('、')[-1]}指标表", [vals[k] for k in keys]))
        ch = sec.get("chart")
        if ch:
            cv = [vals[k] for k in ch["items"] if vals[k].ok]
            if cv:
                pct = all(x.unit == "%" for x in cv)
                s.charts.append(Chart(ch["title"], ch.get("kind", "bar"), [x.label for x in cv],
                                      {f"{year - 1}年": [x.yoy_value for x in cv], f"{year}年": [x.value for x in cv]},
                                      "%" if pct else (cv[0].unit if len({x.unit for x in cv}) == 1 else "")))
        report.sections.append(s)
    summ = spec.get("summary")
    if summ:
        up = [allv[k] for k in summ.get("up", []) if k in allv]
        down = [allv[k] for k in summ.get("down", []) if k in allv]
        complete = all(x.yoy().ok for x in up + down) and bool(up + down)
        paras = render_paragraphs(env, summ["template"], {**_base_context(report, year), "up": up, "down": down,
                                                          "complete": complete, "name": summ.get("name", "")})
        if paras:
            report.sections.insert(0, Section("summary", "总体情况", paras))
    if allv and not any(v.yoy().ok for v in allv.values()):
        report.warnings.append(f"{year - 1}年无可比数据，本报告未作同比比较 / no data for {year - 1}: no year-on-year "
                               f"comparison")
    report.warnings += ctx.warnings
    report.sources = dict(ctx.used)
    return report


# ---------------------------------------------------------------- monthly

def _dept_ranking(ctx: Context, sec: dict, names: dict[str, str]) -> tuple[list[dict], list[dict], bool, list]:
    items = sec.get("items", [])
    depts_rows = collect.indicator_values(ctx, [{"key": "_n", "indicator": "OP-02", "unit": "人次"}],
                                          level="department", depts=sorted(names) or None) if names else {}
    sizes = {d: v.value or 0 for (k, d), v in depts_rows.items()}
    depts = [d for d, n in sizes.items() if n >= sec.get("min_discharges", 10)]
    if not depts:
        return [], [], False, []
    vals = collect.indicator_values(ctx, items, level="department", depts=depts)
    scored = []
    for d in depts:
        dv = [vals[(i["key"], d)] for i in items]
        good = [x for x in dv if x.yoy().verdict == "better"]
        bad = [x for x in dv if x.yoy().verdict == "worse" or x.status_code == "not_met"]
        scored.append((d, len(good) - len(bad), good, bad, sizes[d]))
    ranked = any(x.yoy().ok for (_, _), x in vals.items())
    n = sec.get("show", 3)
    improved = [{"code": d, "name": names.get(d, d), "changes": g}
                for d, sc, g, b, sz in sorted(scored, key=lambda t: (-t[1], -t[4], t[0])) if sc > 0 and g][:n]
    short = [{"code": d, "name": names.get(d, d), "changes": b}
             for d, sc, g, b, sz in sorted(scored, key=lambda t: (t[1], -t[4], t[0])) if b and sc <= 0][:n]
    return improved, short, ranked, [x for x in vals.values()]


def build_monthly(con, month: str, dept: str | None = None, *, templates: Path | None = None,
                  hospital_id: str | None = None) -> Report:
    """质量月报 for `month` ('2022-06'): hospital edition, or the edition of one department (dept code)."""
    periods = Periods.month(month)
    year, mon = (int(x) for x in periods.cur.split("-"))
    spec = load_spec("monthly.yaml", templates)
    env = environment(templates)
    report, hid = _new_report("monthly", spec, con, periods.cur, hospital_id, dept, year, mon)
    ctx = Context(con, hid, periods, level="department" if dept else "hospital", dept=dept)
    names = collect.dept_names(con, hid)
    if dept and names and dept not in names:
        some = "、".join(sorted(names)[:12])
        raise ValueError(f"科室代码 {dept} 不在科室字典中（例如：{some}）/ department {dept} is not in the department "
                         f"table")
    base = _base_context(report, year, mon)
    issues: list[dict] = []
    for sec in spec.get("sections", []):
        if sec.get("hospital_only") and dept:
            continue
        s = Section(sec["key"], sec["title"])
        items = sec.get("items", [])
        key = sec["key"]
        ctxd = dict(base)
        if key == "departments":
            improved, short, ranked, _ = _dept_ranking(ctx, sec, names)
            ctxd.update(improved=improved, short=short, ranked=ranked, min_discharges=sec.get("min_discharges", 10))
            for d in short:
                for x in d["changes"]:
                    issues.append({"text": f"{d['name']}{x.label}" + ("未达标" if x.status_code == "not_met" else
                                                                      f"{x.yoy().phrase('同期')}"),
                                   "figure": x, "dept": d["code"]})
            s.paragraphs = render_paragraphs(env, sec["template"], ctxd)
            rows = []
            for d in improved:
                rows.append([d["name"], "进步", "；".join(f"{x.label}{x.yoy().phrase('同期')}" for x in d["changes"])])
            for d in short:
                rows.append([d["name"], "不足", "；".join(f"{x.label}{x.text()}" + (f"（目标{x.target}）" if x.status_code == "not_met"
                                                                                 else x.yoy().phrase('同期'))
                                                        for x in d["changes"])])
            s.tables.append(Table("科室进步与不足", [Column("科室"), Column("类别"), Column("依据")], rows))
            report.sections.append(s)
            continue
        if key == "issues":
            s.paragraphs = render_paragraphs(env, sec["template"], {**ctxd, "issues": issues})
            s.tables.append(Table("问题清单", [Column("序号"), Column("问题"), Column("依据（指标/数值）"), Column("科室")],
                                  [[(n, "0"), i["text"], (f"{i['figure'].indicator_id} {i['figure'].text()}"
                                                           if isinstance(i.get("figure"), Value) else i.get("figure")),
                                    names.get(i.get("dept") or "", i.get("dept") or "全院")]
                                   for n, i in enumerate(issues, start=1)]))
            report.sections.append(s)
            continue
        vals = collect.section_values(ctx, items)
        ctxd["v"] = vals
        if key == "qc":
            defects = collect.top_defects(ctx, periods.cur, sec.get("top_defects", 10))
            n_checked = collect.qc_record_count(ctx, periods.cur)[0]
            dvals = []
            for d in defects:
                lab = f"{d['rule_id']}{('【' + d['field'] + '】') if d['field'] else ''}"
                fv = Value(f"defect_{d['rule_id']}", f"QC:{d['rule_id']}", lab, periods.cur, d["records"], "份",
                           0, source="qc", denominator=d["total_records"], dept_code=dept or "")
                rv = Value(f"defect_rate_{d['rule_id']}", f"QC:{d['rule_id']}", lab + "缺陷率", periods.cur,
                           d["rate"], "%", 2, source="qc", numerator=d["records"],
                           denominator=d["total_records"], dept_code=dept or "")
                dvals.append({"label": lab, "records": fv, "rate": rv, "example": d["example"]})
            ctxd.update(defects=dvals, qc_records=n_checked)
            s.paragraphs = render_paragraphs(env, sec["template"], ctxd)
            s.tables.append(figures_table("首页质量指标", list(vals.values()), mom=True))
            s.tables.append(Table("缺陷项目排行", [Column("排名"), Column("规则"), Column("严重程度"), Column("字段"),
                                                  Column("涉及病案数"), Column("缺陷率"), Column("示例")],
                                  [[(n, "0"), d["rule_id"], d["severity"], d["field"], (d["records"], "0"),
                                    _cell(d["rate"], "%", 2), d["example"]] for n, d in enumerate(defects, 1)]))
            for d in dvals[:3]:
                issues.append({"text": f"病案首页缺陷“{d['label']}”涉及病案{d['records'].text()}", "figure": d["rate"],
                               "dept": dept or ""})
        else:
            s.paragraphs = render_paragraphs(env, sec["template"], ctxd)
            keys = sec.get("table") or [i["key"] for i in items]
            s.tables.append(figures_table(f"{sec['title'].split('、')[-1]}", [vals[k] for k in keys], mom=True))
        for v in vals.values():
            if v.status_code == "not_met":
                issues.insert(0, {"text": f"{v.label}{v.text()}未达到目标{v.target}", "figure": v, "dept": dept or ""})
        if key == "drg":
            lr = vals.get("low_risk_deaths")
            if lr is not None and lr.ok and lr.value > 0:
                issues.append({"text": f"低风险组死亡{lr.text()}，需逐例讨论", "figure": lr, "dept": dept or ""})
            mg = vals.get("margin")
            if mg is not None and mg.ok and mg.value < 0:
                issues.append({"text": f"DRG 支付测算亏损{fmt.with_unit(-mg.value, mg.unit, mg.dec)}", "figure": mg,
                               "dept": dept or ""})
        if key == "indicators":
            for v in vals.values():
                if v.yoy().verdict == "worse" and v.status_code != "not_met":
                    issues.append({"text": f"{v.label}{v.text()}，{v.yoy().phrase('同期')}", "figure": v,
                                   "dept": dept or ""})
            trend = _trend_chart(ctx, items, periods)
            if trend:
                s.charts.append(trend)
        report.sections.append(s)
    first = report.sections[0].paragraphs if report.sections else []
    if first and all(not v.yoy().ok for p in first for v in p.values):
        report.warnings.append(f"{periods.yoy}无可比数据，本月报未作同比比较 / no data for {periods.yoy}")
    report.warnings += ctx.warnings
    report.sources = dict(ctx.used)
    return report


def _trend_chart(ctx: Context, items: list[dict], periods: Periods) -> Chart | None:
    """Discharges by month over the 12 months ending with the report month (one engine call per month is too slow;
    the figure comes from the same source as the sentences: OP-02 per month)."""
    it = [i for i in items if i.get("indicator") == "OP-02" and i.get("part", "value") == "value"]
    if not it:
        return None
    y, m = (int(x) for x in periods.cur.split("-"))
    from datetime import date
    months = [collect.add_months(date(y, m, 1), -k) for k in range(11, -1, -1)]
    start, end = months[0], collect.add_months(months[-1], 1)
    if ctx.dept:
        rows = ctx.q("""select cast(date_trunc('month', discharge_time) as date), count(*) from discharge
                        where hospital_id = ? and discharge_dept_code = ? and discharge_time >= ? and discharge_time < ?
                        group by 1""", [ctx.hospital_id, ctx.dept, start, end])
    else:
        rows = ctx.q("""select cast(date_trunc('month', discharge_time) as date), count(*) from discharge
                        where hospital_id = ? and discharge_time >= ? and discharge_time < ? group by 1""",
                     [ctx.hospital_id, start, end])
    by = {r[0]: r[1] for r in rows}
    if not by:
        return None
    return Chart("近12个月出院人次", "line", [f"{d.year % 100:02d}-{d.month:02d}" for d in months],
                 {"出院人次": [by.get(d) for d in months]}, "人次")


def build_report(con, kind: str, period: str, dept: str | None = None, *, templates: Path | None = None,
                 hospital_id: str | None = None) -> Report:
    """One entry point for the web app: kind 'monthly' (period '2022-06', optional dept) or 'annual' ('2022')."""
    if kind == "monthly":
        return build_monthly(con, period, dept, templates=templates, hospital_id=hospital_id)
    if kind == "annual":
        if dept:
            raise ValueError("年度报告没有科室版 / the annual report has no department edition")
        return build_annual(con, int(period), templates=templates, hospital_id=hospital_id)
    raise ValueError(f"报告类型应为 monthly/annual / kind must be monthly or annual: {kind!r}")
