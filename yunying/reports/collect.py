"""Data collection: turn the items of a report spec into Values for a period, a comparison period (同期) and, for
monthly reports, the previous month (环比).

Sources, by item `source`:
* ``indicators`` (default) — the indicator engine (yunying.indicators.compute): value, numerator or denominator of
  a catalogue indicator, its target and status, or its not-computable reason — the only definitions of the
  figures (record QC too: QC-GRADE-A, QC-SCORE). When the engine or its catalogue cannot be loaded, the figures
  are not computable and say why; the report still builds and says so in its warnings.
* ``drg`` — yunying.economics drg_metrics (CMI, DRG组数, 入组率, 低风险组死亡率) and ``drg_pay`` (盈亏 from the
  stored payment simulation runs as DRG-10 reads them, v_drg_pay).
QC top defects: yunying.qc.report.top_defects (the definition of yunying qc report and the web page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from yunying.qc.report import top_defects as qc_top_defects
from yunying.reports.model import Value

UP = {"up", "逐步提高"}
DOWN = {"down", "逐步降低"}


# ---------------------------------------------------------------- periods

def add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)


@dataclass(frozen=True)
class Periods:
    grain: str              # year / month
    cur: str
    yoy: str
    mom: str | None

    @staticmethod
    def year(y: int) -> "Periods":
        return Periods("year", str(y), str(y - 1), None)

    @staticmethod
    def month(text: str) -> "Periods":
        y, m = (int(x) for x in text.split("-"))
        d = date(y, m, 1)
        p = add_months(d, -1)
        return Periods("month", f"{y}-{m:02d}", f"{y - 1}-{m:02d}", f"{p.year}-{p.month:02d}")

    def all(self) -> list[str]:
        return [p for p in (self.cur, self.yoy, self.mom) if p]


def period_bounds(p: str) -> tuple[date, date]:
    if "-" in p:
        y, m = (int(x) for x in p.split("-"))
        s = date(y, m, 1)
        return s, add_months(s, 1)
    return date(int(p), 1, 1), date(int(p) + 1, 1, 1)


# ---------------------------------------------------------------- context

@dataclass
class Context:
    con: object
    hospital_id: str
    periods: Periods
    level: str = "hospital"          # hospital / department
    dept: str | None = None
    warnings: list[str] = field(default_factory=list)
    used: dict = field(default_factory=dict)       # source name → description (report.sources)
    _engine_rows: dict = field(default_factory=dict)
    _catalogue: object = None
    _engine_error: str | None = None
    drg_detail: str = ""                           # why drg_metrics could not be read
    pay_runs: set = field(default_factory=set)     # payment runs the 盈亏 figures read

    def q(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    def has_table(self, name: str) -> bool:
        rows = self.q("select count(*) from information_schema.tables where table_name = ?", [name])
        return bool(rows and rows[0][0])


def pick_hospital(con, hospital_id: str | None = None) -> tuple[str, str]:
    """(hospital_id, the name that heads the report). The name comes from the hospital table, else from the
    abstracts' 机构名称 (discharge.hospital_name); never the code: '本院' when no name was imported."""
    rows = con.execute("select hospital_id, hospital_name from hospital order by hospital_id").fetchall()
    if hospital_id:
        hid = hospital_id
        name = next((n for h, n in rows if h == hospital_id), None)
    elif rows:
        hid, name = rows[0]
    else:
        found = con.execute("select distinct hospital_id from discharge order by 1 limit 1").fetchall()
        if not found:
            return "", "本院"
        hid, name = found[0][0], None
    if not name:
        got = con.execute("select max(hospital_name) from discharge where hospital_id = ? and hospital_name <> ''",
                          [hid]).fetchall()
        name = got[0][0] if got else None
    return hid, name or "本院"


def dept_names(con, hospital_id: str) -> dict[str, str]:
    rows = con.execute("select dept_code, dept_name from department where hospital_id = ?", [hospital_id]).fetchall()
    return {r[0]: r[1] for r in rows}


# ---------------------------------------------------------------- indicator engine

def _catalogue(ctx: Context):
    if ctx._catalogue is None and ctx._engine_error is None:
        try:
            from yunying.indicators import load_catalogue
            ctx._catalogue = load_catalogue()
        except Exception as exc:  # noqa: BLE001 — catalogue broken: the figures are not computable, say so
            ctx._engine_error = str(exc).splitlines()[0][:200]
    return ctx._catalogue


def engine_rows(ctx: Context, ids: list[str], period: str, level: str) -> dict[tuple[str, str], dict] | None:
    """(indicator id, dept_code) → engine row for one period; None when the engine is unavailable."""
    cat = _catalogue(ctx)
    if cat is None:
        return None
    key = (tuple(sorted(ids)), period, level)
    if key not in ctx._engine_rows:
        from yunying.indicators import compute
        known = [i for i in ids if i in cat.indicators]
        rows = []
        if known:
            try:
                rows = compute(ctx.con, cat, ids=known, period=period, grain=ctx.periods.grain, level=level,
                               hospitals=[ctx.hospital_id] if ctx.hospital_id else None)
            except Exception as exc:  # noqa: BLE001
                ctx._engine_error = f"指标引擎计算失败：{str(exc).splitlines()[0][:200]}"
                return None
        ctx._engine_rows[key] = {(r["indicator_id"], r.get("dept_code") or ""): r for r in rows
                                 if not ctx.hospital_id or r["hospital_id"] == ctx.hospital_id}
        ctx.used["indicators"] = f"指标引擎 yunying.indicators（目录版本 {getattr(cat, 'version', '')}）"
    return ctx._engine_rows[key]


def _direction(item: dict, row: dict | None) -> str:
    d = item.get("direction")
    if d:
        return d
    if row and row.get("direction"):
        return "up" if row["direction"] in UP else "down" if row["direction"] in DOWN else "monitor"
    return "monitor"


def _new_value(item: dict, ctx: Context, dept: str = "") -> Value:
    return Value(key=item["key"], indicator_id=item.get("indicator", item["key"]), label=item.get("label", item["key"]),
                 period=ctx.periods.cur, unit=item.get("unit", ""), decimals=item.get("decimals"),
                 change_kind=item.get("change"), tolerance=item.get("tolerance"),
                 direction=item.get("direction", "monitor"), part=item.get("part", "value"),
                 missing_zh=item.get("missing_zh", ""), yoy_period=ctx.periods.yoy,
                 mom_period=ctx.periods.mom or "", dept_code=dept)


def _pick(row: dict | None, part: str) -> float | None:
    if row is None:
        return None
    v = row.get(part)
    if v is None or v != v:          # None or NaN
        return None
    return float(v)


def indicator_values(ctx: Context, items: list[dict], level: str | None = None,
                     depts: list[str] | None = None) -> dict:
    """Values of engine-sourced items. Hospital level: {key: Value}; department level: {(key, dept): Value}."""
    level = level or ctx.level
    ids = sorted({i["indicator"] for i in items})
    per = {p: engine_rows(ctx, ids, p, level) for p in ctx.periods.all()}
    failed = any(r is None for r in per.values())
    if failed:
        # no other formulas: every engine figure is not computable, with the reason (docs/reports.md)
        msg = f"指标引擎不可用（{ctx._engine_error}），指标无法计算 / indicator engine unavailable"
        if msg not in ctx.warnings:
            ctx.warnings.append(msg)
        per = {p: {} for p in ctx.periods.all()}
    out: dict = {}
    want_depts = depts if depts is not None else ([ctx.dept] if level == "department" and ctx.dept else None)
    for item in items:
        for d in (want_depts if level == "department" else [""]):
            v = _new_value(item, ctx, d)
            part = v.part
            cur = per[ctx.periods.cur].get((item["indicator"], d))
            v.source = "indicators"
            v.direction = _direction(item, cur) if part == "value" else item.get("direction", "monitor")
            if cur is None and failed:
                # the item's missing sentence ('…数据未导入') would misstate the cause: say the engine failed
                v.reason, v.missing_zh = f"不可计算：指标引擎不可用（{ctx._engine_error}）", ""
            elif cur is None:
                v.reason = "无数据（指标目录中无此指标或本期无记录）"
                blocked = per[ctx.periods.cur].get((item["indicator"], "*"))
                if d and blocked is not None:          # the data is missing for the whole hospital
                    v.reason = blocked.get("reason") or v.reason
                elif d:
                    ind = getattr(ctx._catalogue, "indicators", {}).get(item["indicator"])
                    if ind is not None and "department" not in getattr(ind, "levels", ["department"]):
                        v.missing_zh = f"{v.label}仅有全院口径，科室版不列示"
                    else:
                        v.missing_zh = f"本科室本期无{v.label}数据"
            else:
                v.value = _pick(cur, part)
                if v.value is not None and item.get("scale"):
                    v.value *= item["scale"]
                v.numerator, v.denominator = _pick(cur, "numerator"), _pick(cur, "denominator")
                v.reason = (cur.get("reason") or "") if v.value is None else ""
                if part == "value" and cur.get("status_code") in ("met", "not_met"):
                    v.target, v.status, v.status_code = cur.get("target") or "", cur.get("status") or "", \
                        cur["status_code"]
                v.note = (cur.get("note") or "") if v.value is not None else ""
                v.warn = bool(v.note) and (bool(cur.get("fallback")) or
                                           any(r.get("warn") for r in cur.get("remarks") or []))
                if v.note and cur.get("fallback"):   # a figure on a fallback reading says so (tables, provenance,
                    msg = f"{v.label}（{v.indicator_id}）：{v.note}"     # warnings)
                    if msg not in ctx.warnings:
                        ctx.warnings.append(msg)
            for attr, p in (("yoy_value", ctx.periods.yoy), ("mom_value", ctx.periods.mom)):
                if not p:
                    continue
                r = per[p].get((item["indicator"], d))
                pv = _pick(r, part)
                if pv is not None and item.get("scale"):
                    pv *= item["scale"]
                setattr(v, attr, pv)
            if v.value is None and v.numerator is None and not v.reason:
                v.reason = "无数据"
            out[(item["key"], d) if depts is not None else item["key"]] = v
    return out


# ---------------------------------------------------------------- DRG (economics)

# why DRG rows are missing: code → the sentence a report prints
DRG_REASONS = {"not_grouped": "尚未进行 DRG 分组（yunying drg group），DRG 指标无法统计",
               "no_metrics": "DRG 评价指标无法读取：{detail}"}


def _drg_rows(ctx: Context, period: str, level: str) -> tuple[dict[str, dict], str]:
    """dept_code ('' = hospital) → drg_metrics row; a reason code (DRG_REASONS) when none (its detail in
    ctx.drg_detail)."""
    if not ctx.has_table("drg_result") or not ctx.q("select 1 from drg_result limit 1"):
        return {}, "not_grouped"
    try:
        from yunying.economics.metrics import metrics
        scheme = ctx.q("select scheme from drg_result group by scheme order by max(grouped_at) desc limit 1")[0][0]
        rows = metrics(ctx.con, period, level="department" if level == "department" else "hospital", scheme=scheme)
    except Exception as exc:  # noqa: BLE001 — economics views unavailable (read-only warehouse without views …)
        ctx.drg_detail = str(exc).splitlines()[0][:160]
        return {}, "no_metrics"
    ctx.used["drg"] = f"DRG 评价 yunying.economics drg_metrics（方案 {scheme}）"
    return {(r.get("dept_code") or ""): r for r in rows
            if not ctx.hospital_id or r["hospital_id"] == ctx.hospital_id}, ""


def _pay_rows(ctx: Context, period: str, level: str) -> tuple[dict[str, tuple], str]:
    """dept_code ('' = hospital) → (Σ margin, cases, loss cases) of the stored DRG payment runs as DRG-10 reads them
    (v_drg_pay: per case the latest run covering its scheme and year), for the scheme of the latest run."""
    if not ctx.has_table("v_drg_pay") or not ctx.has_table("econ_run"):
        return {}, "尚未进行 DRG 支付测算（yunying drg pay），盈亏无法计算"
    runs = ctx.q("select run_id, kind, scheme from econ_run where kind like 'drg%' order by created_at desc limit 1")
    if not runs:
        return {}, "尚未进行 DRG 支付测算（yunying drg pay），盈亏无法计算"
    s, e = period_bounds(period)
    rows = ctx.q("""select coalesce(dept_code, ''), sum(margin_charges), count(*),
                           count(*) filter (where margin_charges < 0), string_agg(distinct run_id, ',')
                    from v_drg_pay where scheme = ? and hospital_id = ?
                      and period_month >= ? and period_month < ? group by rollup(1)""",
                 [runs[0][2], ctx.hospital_id, s, e])
    ctx.pay_runs |= {r for row in rows if row[4] for r in row[4].split(",")}
    if ctx.pay_runs:
        ctx.used["drg_pay"] = f"DRG 支付测算 v_drg_pay（方案 {runs[0][2]}，运行 {'、'.join(sorted(ctx.pay_runs))}）"
    out = {}
    for d, m, n, neg, _ in rows:
        out["" if d is None else (d or "")] = (m, n, neg)
        if d is None:
            out[""] = (m, n, neg)
    return out, ""


def drg_values(ctx: Context, items: list[dict]) -> dict[str, Value]:
    out = {}
    per, reasons = {}, {}
    pay, pay_reason = {}, {}
    for p in ctx.periods.all():
        if any(i.get("source") == "drg" for i in items):
            per[p], reasons[p] = _drg_rows(ctx, p, ctx.level)
        if any(i.get("source") == "drg_pay" for i in items):
            pay[p], pay_reason[p] = _pay_rows(ctx, p, ctx.level)
    d = ctx.dept or ""
    for item in items:
        v = _new_value(item, ctx, d)
        v.source = item["source"]
        scale = item.get("scale", 1)

        def get(p):
            if item["source"] == "drg_pay":
                r = pay.get(p, {}).get(d)
                if r is None or r[0] is None:
                    return None
                return {"margin": r[0], "cases": r[1], "loss_cases": r[2]}.get(item.get("metric", "margin"))
            r = per.get(p, {}).get(d)
            return None if r is None else r.get(item["metric"])

        cur = get(ctx.periods.cur)
        v.value = None if cur is None else float(cur) * scale
        yv = get(ctx.periods.yoy)
        v.yoy_value = None if yv is None else float(yv) * scale
        if ctx.periods.mom:
            mv = get(ctx.periods.mom)
            v.mom_value = None if mv is None else float(mv) * scale
        if v.value is None:
            if item["source"] == "drg_pay":
                v.reason = pay_reason.get(ctx.periods.cur) or "本期无支付测算结果"
            else:
                code = reasons.get(ctx.periods.cur)
                v.reason = (DRG_REASONS[code].format(detail=ctx.drg_detail) if code else
                            "本期无 DRG 分组结果")
                r = per.get(ctx.periods.cur, {}).get(d)
                if item["metric"] == "cmi" and r is not None and (r.get("grouped_without_weight") or 0) > 0:
                    v.reason = "DRG 权重尚未导入，CMI 无法计算"
            if reasons.get(ctx.periods.cur) == "not_grouped" and not item.get("keep_missing"):
                v.missing_zh = DRG_REASONS["not_grouped"]
        else:
            r = per.get(ctx.periods.cur, {}).get(d)
            if r is not None:
                v.numerator = r.get("low_risk_deaths") if item["metric"] == "low_risk_mortality" else None
                v.denominator = r.get("low_risk_cases") if item["metric"] == "low_risk_mortality" else None
        if item["source"] == "drg" and item.get("remarks"):
            _drg_remarks(ctx, v, item, per.get(ctx.periods.cur, {}).get(d))
        out[item["key"]] = v
    return out


def _drg_remarks(ctx: Context, v: Value, item: dict, row: dict | None) -> None:
    """The catalogue remarks of the item's indicator (e.g. DRG-06: the risk reference, its size, thin), valued from
    the drg_metrics row: the item's `remarks` maps each remark code to the drg_metrics column holding it."""
    cat = _catalogue(ctx)
    ind = getattr(cat, "indicators", {}).get(v.indicator_id) if cat is not None else None
    if ind is None or row is None:
        return
    from yunying.indicators.engine import remark_entries

    cols = item["remarks"]
    got = remark_entries([rm for rm in ind.remarks if rm.code in cols], lambda rm: row.get(cols[rm.code]))
    v.note = "；".join(r["text_zh"] for r in got)
    v.warn = any(r["warn"] for r in got)


# ---------------------------------------------------------------- QC

def qc_record_count(ctx: Context, period: str) -> tuple[int, str, list]:
    """Records QC checked in the period (department edition: that department), with the qc_record filter used."""
    s, e = period_bounds(period)
    where = "q.hospital_id = ? and q.discharge_month >= ? and q.discharge_month < ?"
    args = [ctx.hospital_id, s, e] + ([ctx.dept] if ctx.dept else [])
    where += " and q.discharge_dept_code = ?" if ctx.dept else ""
    if not ctx.has_table("qc_record"):
        return 0, where, args
    return ctx.q(f"select count(*) from qc_record q where {where}", args)[0][0], where, args


def top_defects(ctx: Context, period: str, limit: int = 10) -> list[dict]:
    """Most frequent QC defects in the period (department edition: that department): yunying.qc.report.top_defects,
    the definition of yunying qc report and the web page, with the share of the period's records affected."""
    if not ctx.has_table("qc_finding") or not ctx.has_table("qc_record"):
        return []
    total, where, args = qc_record_count(ctx, period)
    # the example message of each rule has the patient's identifiers masked: a report is a document
    return [{"rule_id": d["rule_key"], "severity": d["severity"], "field": d["field"], "records": d["n_records"],
             "findings": d["n_findings"], "example": d["example"], "total_records": total,
             "rate": (100.0 * d["n_records"] / total) if total else None}
            for d in qc_top_defects(ctx.con, where, args, limit)]


# ---------------------------------------------------------------- all items of a section

def section_values(ctx: Context, items: list[dict]) -> dict[str, Value]:
    eng = [i for i in items if i.get("source", "indicators") == "indicators"]
    drg = [i for i in items if i.get("source") in ("drg", "drg_pay")]
    out: dict[str, Value] = {}
    if eng:
        out.update(indicator_values(ctx, eng))
    if drg:
        out.update(drg_values(ctx, drg))
    return {i["key"]: out[i["key"]] for i in items}
