"""QC reports (科室/医师/全院 × 月) and single-record explanations, computed from qc_record / qc_finding."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import duckdb

from yunying.qc.engine import lit
from yunying.qc.loader import Catalogue

LEVELS = ("hospital", "department", "doctor")
# (column alias, Chinese header, is_number)
COLUMNS = [
    ("hospital_id", "医疗机构代码", False), ("dept_code", "科室代码", False), ("dept_name", "科室名称", False),
    ("doctor_role", "医师角色", False), ("doctor", "医师", False), ("month", "月份", False),
    ("n_records", "检查病案数", True), ("n_passed", "合格病案数", True), ("pass_rate", "合格率(%)", True),
    ("avg_score", "平均分", True), ("n_grade1", "甲级", True), ("n_grade2", "乙级", True), ("n_grade3", "丙级", True),
    ("excellent_rate", "优秀率(%)", True), ("complete_rate", "首页填报完整率(%)", True),
    ("n_pdx_checked", "主要诊断编码可判定数", True),
    ("pdx_code_accuracy", "主要诊断编码正确率(%)", True), ("n_pdx_defect", "主要诊断缺陷病案数", True),
    ("n_error", "错误(E)数", True), ("n_warning", "警告(W)数", True), ("top_defects", "主要缺陷(前三)", False),
    ("run_id", "质控运行", False), ("catalogue_hash", "质控目录版本", False), ("definitions", "口径编号", False),
]


def _measures(g: list[str]) -> list[tuple[str, str]]:
    """(alias, SQL over qc_record rows) of every report figure — the one definition of each, also hashed into the
    report's definitions column (`qc-report.<alias>@<sha256[:12]>`)."""
    return [
        ("n_records", "count(*)"), ("n_passed", "count(*) filter (where passed)"),
        ("pass_rate", "round(100.0 * count(*) filter (where passed) / count(*), 2)"),
        ("avg_score", "round(avg(score), 2)"),
        ("n_grade1", f"count(*) filter (where grade = {lit(g[0])})"),
        ("n_grade2", f"count(*) filter (where grade = {lit(g[1])})"),
        ("n_grade3", f"count(*) filter (where grade = {lit(g[2])})"),
        ("excellent_rate", "round(100.0 * count(*) filter (where excellent) / count(*), 2)"),
        ("complete_rate", "round(100.0 * count(*) filter (where complete) / count(*), 2)"),
        ("n_pdx_checked", "count(*) filter (where pdx_code_checked)"),
        ("pdx_code_accuracy", "round(100.0 * count(*) filter (where pdx_code_ok) / "
                              "nullif(count(*) filter (where pdx_code_checked), 0), 2)"),
        ("n_pdx_defect", "count(*) filter (where pdx_defect)"),
        ("n_error", "sum(n_error)"), ("n_warning", "sum(n_warning)"),
    ]


TRACED = ("avg_score", "pass_rate", "pdx_code_accuracy")     # figures whose definition id the report carries


def figure_definitions(grades: list[str]) -> dict[str, str]:
    """alias → 'qc-report.<alias>@<hash of its SQL>' for the traced report figures."""
    import hashlib

    sql = dict(_measures(grades + ["", "", ""]))
    return {a: f"qc-report.{a}@{hashlib.sha256(sql[a].encode()).hexdigest()[:12]}" for a in TRACED}


def period_filter(period: str) -> str:
    """2022 | 2022-03 | 2022Q1 | 2022-01:2022-06 -> SQL predicate on discharge_month."""
    p = period.strip()
    if re.fullmatch(r"\d{4}", p):
        return f"year(discharge_month) = {int(p)}"
    if m := re.fullmatch(r"(\d{4})-?(\d{1,2})", p):
        return f"discharge_month = make_date({int(m[1])}, {int(m[2])}, 1)"
    if m := re.fullmatch(r"(\d{4})[Qq]([1-4])", p):
        q = int(m[2])
        return f"year(discharge_month) = {int(m[1])} and quarter(discharge_month) = {q}"
    if m := re.fullmatch(r"(\d{4})-(\d{1,2}):(\d{4})-(\d{1,2})", p):
        return (f"discharge_month between make_date({int(m[1])}, {int(m[2])}, 1) "
                f"and make_date({int(m[3])}, {int(m[4])}, 1)")
    raise ValueError(f"无法识别的期间 {period!r}（如 2022、2022-03、2022Q1、2022-01:2022-06）/ unrecognised period")


@functools.lru_cache(maxsize=1)
def defect_severities() -> tuple[str, ...]:
    """Severities whose findings are defects in every top-defects list (scoring.yaml defect_severities)."""
    import yaml

    from yunying.qc.loader import _read_package

    return tuple(str(s) for s in yaml.safe_load(_read_package("scoring.yaml"))["defect_severities"])


def defect_rank_sql(f: str = "f") -> tuple[str, str, str]:
    """(defect key, finding filter, order) of the one top-defects definition, over the qc_finding alias `f`: a defect
    is a catalogue entry (rule key) with findings of defect_severities(); ranked by records affected, most first,
    ties by key."""
    key = f"coalesce({f}.rule_key, {f}.rule_id)"
    cond = f"{f}.severity in ({', '.join(lit(s) for s in defect_severities())})"
    return key, cond, f"count(distinct ({f}.mrn, {f}.admission_no)) desc, {key}"


def top_defects(con, where: str, params: list, limit: int) -> list[dict]:
    """The most frequent defects among the qc_record rows `q` matching `where` (with `params`) — the list of `yunying
    qc report`, the reports and the web page: rule_key, rule_id, severity, field, n_records, n_findings and an
    example message (identifiers masked)."""
    key, cond, order = defect_rank_sql("f")
    rows = con.execute(
        f"select {key}, any_value(f.rule_id), any_value(f.severity), any_value(f.field), "
        f"count(distinct (f.mrn, f.admission_no)), count(*), {EXAMPLE_SQL} "
        f"from qc_finding f join qc_record q on q.hospital_id = f.hospital_id and q.mrn = f.mrn "
        f"and q.admission_no = f.admission_no where ({where}) and {cond} group by 1 order by {order} "
        f"limit {int(limit)}", params).fetchall()
    examples = masked_examples(con, [r[6] for r in rows])
    return [{"rule_key": r[0], "rule_id": r[1], "severity": r[2], "field": r[3], "n_records": r[4],
             "n_findings": r[5], "example": ex} for r, ex in zip(rows, examples)]


def report_sql(level: str, period: str, grades: list[str]) -> str:
    if level not in LEVELS:
        raise ValueError(f"level 必须是 {'/'.join(LEVELS)} / unknown level {level!r}")
    g = grades + ["", "", ""]
    where = period_filter(period)
    if level == "hospital":
        dims = [("hospital_id", "hospital_id")]
        dim_sel = ["hospital_id", "null as dept_code", "null as dept_name", "null as doctor_role", "null as doctor"]
        src = f"(select * from qc_record where {where})"
    elif level == "department":
        dims = [("hospital_id", "hospital_id"), ("discharge_dept_code", "dept_code")]
        dim_sel = ["hospital_id", "discharge_dept_code as dept_code",
                   "(select any_value(dept_name) from department d where d.hospital_id = r.hospital_id "
                   "and d.dept_code = r.discharge_dept_code) as dept_name", "null as doctor_role", "null as doctor"]
        src = f"(select * from qc_record where {where})"
    else:
        dims = [("hospital_id", "hospital_id"), ("doctor_role", "doctor_role"), ("doctor", "doctor")]
        dim_sel = ["hospital_id", "null as dept_code", "null as dept_name", "doctor_role", "doctor"]
        src = (f"(select *, 'attending' as doctor_role, attending_physician as doctor from qc_record where {where} "
               f"and attending_physician is not null union all "
               f"select *, 'resident' as doctor_role, resident_physician as doctor from qc_record where {where} "
               f"and resident_physician is not null)")
    measures = ", ".join(f"{sql} as {a}" for a, sql in _measures(g)) + \
        ", string_agg(distinct run_id, ',' order by run_id) as run_id"
    dkey, dcond, dorder = defect_rank_sql("f")
    top = f"""(select string_agg(k || '×' || n, '、' order by i) from (
                 select {dkey} as k, count(distinct (f.mrn, f.admission_no)) as n,
                        row_number() over (order by {dorder}) as i
                 from qc_finding f join {src} x using (hospital_id, mrn, admission_no)
                 where {' and '.join(f'x.{a} is not distinct from r.{b}' for a, b in dims)}
                   and (r.month = '合计' or strftime(x.discharge_month, '%Y-%m') = r.month)
                   and {dcond}
                 group by 1 order by i limit 3))"""
    return f"""
        select * replace (case r.doctor_role when 'attending' then '主治医师' when 'resident' then '住院医师' end
                          as doctor_role), {top} as top_defects from (
          select {', '.join(dim_sel)}, strftime(discharge_month, '%Y-%m') as month, {measures}
          from {src} r group by all
          union all
          select {', '.join(dim_sel)}, '合计' as month, {measures}
          from {src} r group by all) r
        order by {', '.join('r.' + b for _, b in dims)}, r.month"""


def report_rows(con: duckdb.DuckDBPyConnection, level: str, period: str, grades: list[str]) -> list[dict]:
    """Report rows, each with the QC run(s) its records come from, those runs' catalogue hash (the rules and scoring
    that produced the scores) and the definition ids of the traced figures."""
    res = con.execute(report_sql(level, period, grades))
    names = [d[0] for d in res.description]
    rows = [dict(zip(names, row)) for row in res.fetchall()]
    cat_hash = dict(con.execute("select run_id, catalogue_hash from qc_run").fetchall())
    defs = ", ".join(f"{a}={d}" for a, d in figure_definitions(grades).items())
    for r in rows:
        runs = (r.get("run_id") or "").split(",")
        r["catalogue_hash"] = ",".join(sorted({(cat_hash.get(x) or "")[:16] for x in runs if x} - {""}))
        r["definitions"] = defs
    return rows


def report_cases(con: duckdb.DuckDBPyConnection, period: str, *, hospital: str | None = None,
                 dept: str | None = None, doctor: str | None = None, role: str | None = None,
                 month: str | None = None) -> tuple[list[str], list[tuple]]:
    """Drill-down of a report row: the qc_record rows it aggregates (same period filter; unit by hospital,
    department, or doctor as attending/resident physician; one month or the whole period)."""
    where, args = [period_filter(period)], []
    for col, v in (("hospital_id", hospital), ("discharge_dept_code", dept)):
        if v:
            where.append(f"{col} = ?")
            args.append(v)
    if doctor:
        cols = {"attending": ["attending_physician"], "resident": ["resident_physician"]}.get(
            role or "", ["attending_physician", "resident_physician"])
        if role and role not in ("attending", "resident"):
            raise ValueError(f"医师角色应为 attending 或 resident，收到 {role!r} / role must be attending or resident")
        where.append("(" + " or ".join(f"{c} = ?" for c in cols) + ")")
        args += [doctor] * len(cols)
    if month:
        where.append("strftime(discharge_month, '%Y-%m') = ?")
        args.append(month)
    cur = con.execute("select hospital_id, mrn, admission_no, strftime(discharge_month, '%Y-%m') as month, "
                      "discharge_dept_code as dept_code, attending_physician, resident_physician, score, grade, "
                      "passed, run_id from qc_record where " + " and ".join(where) +
                      " order by hospital_id, mrn, admission_no", args)
    return [d[0] for d in cur.description], cur.fetchall()


def _num(v):
    return v if isinstance(v, (int, float)) else float(v)


def write_report(rows: list[dict], level: str, fmt: str, output: Path) -> Path:
    cols = [c for c in COLUMNS if not (
        (level != "department" and c[0] in ("dept_code", "dept_name")) or
        (level != "doctor" and c[0] in ("doctor_role", "doctor")))]
    output.parent.mkdir(parents=True, exist_ok=True)
    from yunying.model.safe_cells import csv_writer, xlsx_no_formulas

    if fmt == "csv":
        with open(output, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv_writer(fh)
            w.writerow([c[1] for c in cols])
            for r in rows:
                w.writerow(["" if r.get(c[0]) is None else (_num(r[c[0]]) if c[2] else r[c[0]]) for c in cols])
    elif fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.styles import Font

        wb = Workbook()
        ws = wb.active
        ws.title = {"hospital": "全院", "department": "科室", "doctor": "医师"}[level]
        ws.append([c[1] for c in cols])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append([None if r.get(c[0]) is None else (_num(r[c[0]]) if c[2] else str(r[c[0]])) for c in cols])
        for i, c in enumerate(cols, start=1):
            ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, len(c[1]) * 2)
        ws.freeze_panes = "A2"
        xlsx_no_formulas(wb)
        wb.save(output)
    else:
        raise ValueError(f"format 必须是 csv 或 xlsx / unknown format {fmt!r}")
    return output


def explain_record(con: duckdb.DuckDBPyConnection, cat: Catalogue, hospital: str, mrn: str,
                   admission_no: int) -> dict:
    """Score, grade, section deductions and every finding of one record, with the rule's item and hint."""
    key = [hospital, mrn, admission_no]
    rec = con.execute("select score, grade, passed, n_error, n_warning, n_info, run_id, discharge_dept_code, "
                      "pdx_code_ok, pdx_defect, ppx_defect from qc_record where hospital_id = ? and mrn = ? "
                      "and admission_no = ?", key).fetchall()
    if not rec:
        return {}
    r = rec[0]
    finds = con.execute("select rule_id, rule_key, severity, field, seq, value, expected, message_zh, item, "
                        "cast(points as double) from qc_finding where hospital_id = ? and mrn = ? and admission_no = ? "
                        "order by severity, rule_id, field, seq", key).fetchall()
    rules = cat.by_key()
    sc = cat.scoring
    from yunying.qc.scoring import deductions

    sections = deductions([(f[8], f[4], f[9] or 0) for f in finds], sc)
    sec = {s: {"deducted": round(min(sc.sections[s], v), 2), "cap": sc.sections[s]} for s, v in sections.items()}
    status = con.execute("select rule_id, status, reason from qc_rule_status where run_id = ? and hospital_id = ? "
                         "and status in ('not_applicable', 'error') order by 1", [r[6], hospital]).fetchall()
    return {
        "record": {"hospital_id": hospital, "mrn": mrn, "admission_no": admission_no, "dept": r[7]},
        "score": float(r[0]), "grade": r[1], "passed": r[2], "n_error": r[3], "n_warning": r[4], "n_info": r[5],
        "pdx_code_ok": r[8], "pdx_defect": r[9], "ppx_defect": r[10], "run_id": r[6], "sections": sec,
        "findings": [{"rule_id": f[0], "rule_key": f[1], "severity": f[2], "field": f[3], "seq": f[4],
                      "value": f[5], "expected": f[6], "message": f[7], "item": f[8], "points": f[9],
                      "hint_zh": rules[f[1]].hint_zh if f[1] in rules else None,
                      "src": rules[f[1]].src if f[1] in rules else None} for f in finds],
        "not_applicable": [{"rule": s[0], "status": s[1], "reason": s[2]} for s in status],
    }


# an example finding of a rule, for aggregate views (top defects): picked with the record it belongs to, so that
# the record's identifiers can be masked in its message
EXAMPLE_SQL = ("any_value({'message': f.message_zh, 'field': f.field, 'value': f.value, 'hospital_id': f.hospital_id, "
               "'mrn': f.mrn, 'admission_no': f.admission_no})")


def masked_examples(con, examples: list[dict | None]) -> list[str | None]:
    """Messages of example findings (rows of EXAMPLE_SQL) with the patient's identifiers masked. Aggregate views and
    reports always mask: the example illustrates the defect, not the patient."""
    from yunying.model.privacy import mask_finding

    pii = record_identifiers(con, {(e["hospital_id"], e["mrn"], e["admission_no"]) for e in examples if e})
    return [mask_finding(e, pii.get((e["hospital_id"], e["mrn"], e["admission_no"]), {}))["message"] if e else None
            for e in examples]


def record_identifiers(con, keys) -> dict[tuple, dict]:
    """(hospital_id, mrn, admission_no) -> the record's identifier columns (`pii:` in the data model) as stored, for
    masking texts that may quote them."""
    from yunying.model.privacy import pii_columns

    have = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_name = 'discharge'").fetchall()}
    cols = [c for c in pii_columns() if c in have]
    keys = list(keys)
    if not keys or not cols:
        return {}
    cond = " or ".join("(hospital_id = ? and mrn = ? and admission_no = ?)" for _ in keys)
    return {tuple(row[:3]): dict(zip(cols, row[3:])) for row in con.execute(
        f"select hospital_id, mrn, admission_no, {', '.join(cols)} from discharge where {cond}",
        [v for k in keys for v in k]).fetchall()}


def drg_risk(con, hospital: str, mrn: str, admission_no: int) -> dict | None:
    """QC's word on a record's DRG result: `at_risk` when the record has a principal-diagnosis or principal-procedure
    defect (tags pdx, pdx_code, ppx), with those findings — the grouping rests on the fields they question. None when
    QC has not run on the record (or the warehouse has no QC tables)."""
    have = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                      "where table_name in ('qc_record', 'qc_finding')").fetchall()}
    if have != {"qc_record", "qc_finding"}:
        return None
    key = [hospital, mrn, int(admission_no)]
    rec = con.execute("select pdx_defect, ppx_defect, cast(score as double), grade from qc_record "
                      "where hospital_id = ? and mrn = ? and admission_no = ?", key).fetchall()
    if not rec:
        return None
    pdx, ppx, score, grade = rec[0]
    found = [dict(zip(("rule_id", "severity", "field", "message_zh", "message_en"), r)) for r in con.execute(
        "select rule_id, severity, field, message_zh, message_en from qc_finding where hospital_id = ? and mrn = ? "
        "and admission_no = ? and tag in ('pdx', 'pdx_code', 'ppx') order by severity, rule_id, seq", key).fetchall()]
    at_risk = bool(pdx or ppx)
    what_zh = "、".join(x for x, on in (("主要诊断", pdx), ("主要手术操作", ppx)) if on)
    what_en = " and ".join(x for x, on in (("principal diagnosis", pdx), ("principal procedure", ppx)) if on)
    rules = sorted({f["rule_id"] for f in found})
    return {"at_risk": at_risk, "qc_score": score, "qc_grade": grade, "rules": rules, "findings": found,
            "text_zh": (f"分组结果存在风险：{what_zh}存在质控缺陷（{'、'.join(rules)}），入组依据可能不准确，请先核对首页"
                        if at_risk else "主要诊断与主要手术操作未发现质控缺陷"),
            "text_en": (f"at risk: the {what_en} has QC defects ({', '.join(rules)}); the grouping may rest on wrong "
                        "fields — check the record first" if at_risk
                        else "no QC defect in the principal diagnosis or procedure")}
