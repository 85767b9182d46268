"""The reports' own SQL for core figures, used only when the indicator engine (yunying.indicators) cannot be loaded.

Definitions follow spec performance-indicators.md and the engine's catalogue (operating.yaml) in their simplest
form; a report built from these says so in its warnings. Surgery = a 首页 procedure row with a 手术级别 (one row =
one 台次); 门急诊 = all visits except 健康体检; finance figures are hospital totals (dept_code '*').
"""

from __future__ import annotations


# base → SQL returning (dept_code, numbers…) for one hospital and [start, end)
BASES = {
    "disch": ("""select discharge_dept_code, count(*), sum(los_days), count(*) filter (where discharge_disposition = '5'),
                        sum(fee_total)
                 from discharge where hospital_id = ? and discharge_time >= ? and discharge_time < ?
                 group by rollup(discharge_dept_code)""", ["n", "los", "deaths", "fee"]),
    "proc": ("""select d.discharge_dept_code, count(*) filter (where p.level is not null),
                       count(*) filter (where p.level in ('3', '4'))
                from discharge_procedure p join discharge d using (hospital_id, mrn, admission_no)
                where d.hospital_id = ? and d.discharge_time >= ? and d.discharge_time < ?
                group by rollup(d.discharge_dept_code)""", ["surg", "g34"]),
    "visit": ("""select dept_code, count(*) filter (where visit_type <> 'checkup'),
                        count(*) filter (where visit_type in ('general', 'expert', 'special', 'chronic', 'online')),
                        count(*) filter (where visit_type = 'emergency')
                 from outpatient_visit where hospital_id = ? and reg_time >= ? and reg_time < ?
                 group by rollup(dept_code)""", ["visits", "clinic", "er"]),
    "ward": ("""select dept_code, sum(occupied_bed_days), sum(open_bed_days), sum(open_beds), count(distinct month)
                from ward_month where hospital_id = ? and month >= ? and month < ?
                group by rollup(dept_code)""", ["occ", "open", "beds_sum", "months"]),
    "fin": ("""select '', sum(amount) filter (where item_code = 'income_medical'),
                      sum(amount) filter (where item_code = 'income_outpatient'),
                      sum(amount) filter (where item_code = 'income_drug'),
                      sum(amount) filter (where item_code = 'income_material'),
                      sum(amount) filter (where item_code in ('income_registration', 'income_bed', 'income_consult',
                          'income_treatment', 'income_surgery', 'income_nursing', 'income_pharmacy_service'))
               from finance_month where hospital_id = ? and month >= ? and month < ? and dept_code = '*'
               """, ["medical", "outpatient", "drug", "material", "service"]),
}

MISSING = {"disch": "缺少病案首页（出院记录）", "proc": "缺少首页手术及操作", "visit": "缺少门急诊就诊记录",
           "ward": "缺少病房动态月报（床日）", "fin": "缺少财务数据"}

# id → (numerator (base, col), denominator (base, col) | None, scale)
DEFS = {
    "OP-01": (("visit", "visits"), None, 1),
    "OP-01.clinic": (("visit", "clinic"), None, 1),
    "OP-01.emergency": (("visit", "er"), None, 1),
    "OP-02": (("disch", "n"), None, 1),
    "OP-08": (("disch", "los"), ("disch", "n"), 1),
    "OP-28": (("disch", "deaths"), ("disch", "n"), 100),
    "OP-23": (("disch", "fee"), ("disch", "n"), 1),
    "OP-13": (("proc", "g34"), ("proc", "surg"), 100),
    "G3-04": (("proc", "surg"), ("disch", "n"), 100),
    "OP-09": (("ward", "occ"), ("ward", "open"), 100),
    "OP-10": (("disch", "n"), ("ward", "avg_beds"), 1),
    "OP-03": (("fin", "drug"), ("fin", "medical"), 100),
    "OP-04": (("fin", "material"), ("fin", "medical"), 100),
    "OP-06": (("fin", "service"), ("fin", "medical"), 100),
    "OP-07": (("fin", "outpatient"), ("fin", "medical"), 100),
    "OP-22": (("fin", "outpatient"), ("visit", "visits"), 1),
}


def _base(ctx, name: str, period: str) -> dict[str, dict]:
    from yunying.reports.collect import period_bounds

    sql, cols = BASES[name]
    s, e = period_bounds(period)
    try:
        rows = ctx.q(sql, [ctx.hospital_id, s, e])
    except Exception:  # noqa: BLE001 — table absent
        return {}
    out = {}
    for r in rows:
        d = "" if r[0] is None else r[0]
        if r[0] is None and "" in out:
            continue
        vals = {c: (None if x is None else float(x)) for c, x in zip(cols, r[1:])}
        if name == "ward":
            vals["avg_beds"] = (vals["beds_sum"] / vals["months"]) if vals.get("beds_sum") and vals["months"] else None
        if name == "fin" and not vals.get("medical"):
            continue
        out[d] = vals
    return out


def rows(ctx, ids: list[str], period: str, level: str) -> dict[tuple[str, str], dict]:
    bases = {b: _base(ctx, b, period) for b in BASES}
    out = {}
    for i in ids:
        if i not in DEFS:
            continue
        (nb, nc), den, scale = DEFS[i]
        depts = set(bases[nb]) | (set(bases[den[0]]) if den else set())
        depts = {d for d in depts if (d == "") == (level != "department")}
        for d in depts:
            num = bases[nb].get(d, {}).get(nc)
            dv = bases[den[0]].get(d, {}).get(den[1]) if den else None
            reason = ""
            if num is None and d not in bases[nb]:
                reason = f"不可计算：{MISSING[nb]}"
            if den and d not in bases[den[0]]:
                reason = f"不可计算：{MISSING[den[0]]}"
            if den:
                val = None if reason or num is None or not dv else num / dv * scale
                if not reason and not dv:
                    reason = "分母为0"
            else:
                val = num
            out[(i, d)] = {"indicator_id": i, "dept_code": d, "numerator": num, "denominator": dv, "value": val,
                           "reason": reason, "target": "", "status": ""}
    return out
