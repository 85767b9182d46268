"""The query layer: every warehouse read of the web app goes through here and takes a `Scope`.

Indicator values (全院概览, 科室视图, 指标详情, 绩效指标) come from the indicator engine through
`engine_adapter.py`; this module serves case lists, one case, DRG analysis, record QC and import history. Values
that need a capability whose results are absent (DRG, QC, economics) are "not computed", never zero.
"""

from __future__ import annotations

import functools
import threading

import duckdb

from yunying.model.privacy import mask_finding, mask_rows, pii_columns
from yunying.qc.report import drg_risk, record_identifiers, top_defects
from yunying.web.errors import not_found
from yunying.web.scope import Scope
from yunying.web.warehouse import Warehouse

CASE_LIST_LIMIT = 200
EXPORT_LIMIT = 100_000


def engine_status() -> dict:
    """Whether the indicator engine / economics modules are installed (their results replace the basic set)."""
    out = {}
    for mod in ("indicators", "economics", "qc"):
        try:
            __import__(f"yunying.{mod}")
            out[mod] = True
        except ImportError:
            out[mod] = False
    return out


# ---------------------------------------------------------------------------------------------------------------
# base relation and capability detection
# ---------------------------------------------------------------------------------------------------------------

def capabilities(wh: Warehouse, cur: duckdb.DuckDBPyConnection) -> dict:
    tables = wh.tables(cur)
    has_drg = "drg_result" in tables and cur.execute("select count(*) from drg_result").fetchall()[0][0] > 0
    has_qc = "qc_record" in tables and cur.execute("select count(*) from qc_record").fetchall()[0][0] > 0
    has_weights = "econ_weight" in tables and cur.execute(
        "select count(*) from econ_weight").fetchall()[0][0] > 0
    return {"drg": has_drg, "qc": has_qc, "weights": has_weights}


def default_scheme(cur: duckdb.DuckDBPyConnection) -> str | None:
    rows = cur.execute("select scheme, count(*) from drg_result group by 1 order by 2 desc, 1 limit 1").fetchall()
    return rows[0][0] if rows else None


def schemes(cur: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in cur.execute("select distinct scheme from drg_result order by 1").fetchall()]


# ---------------------------------------------------------------------------------------------------------------
# departments (names cached per data version)
# ---------------------------------------------------------------------------------------------------------------

_DEPTS: dict[tuple, tuple[dict[str, str], set[str]]] = {}
_DEPTS_LOCK = threading.Lock()


def _depts(wh: Warehouse, cur: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], set[str]]:
    key = (wh.uid, wh.version)
    with _DEPTS_LOCK:
        found = _DEPTS.get(key)
    if found is None:
        names = dict(cur.execute("select dept_code, any_value(dept_name) from department group by 1").fetchall())
        codes = {r[0] for r in cur.execute("select distinct discharge_dept_code from discharge "
                                           "where discharge_dept_code is not null").fetchall()}
        found = (names, codes)
        with _DEPTS_LOCK:
            if len(_DEPTS) > 16:
                _DEPTS.clear()
            _DEPTS[key] = found
    return found


def dept_names(wh: Warehouse, cur: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return _depts(wh, cur)[0]


def dept_codes(wh: Warehouse, cur: duckdb.DuckDBPyConnection) -> set[str]:
    """Departments (出院科别) that have discharges."""
    return _depts(wh, cur)[1]


def departments(wh, cur, scope: Scope) -> list[dict]:
    """Departments the user may open (dept_head: only their own)."""
    names = dept_names(wh, cur)
    codes = [scope.dept] if scope.is_dept_head else sorted(dept_codes(wh, cur))
    return [{"dept": c, "dept_name": names.get(c, c)} for c in codes]


# ---------------------------------------------------------------------------------------------------------------
# case lists and case detail (case-level: callers audit-log every call)
# ---------------------------------------------------------------------------------------------------------------

CASE_COLUMNS = ["hospital_id", "mrn", "admission_no", "patient_name", "sex", "age_years", "dept_code",
                "admit_time", "discharge_time", "los_days", "fee_total", "drg_status", "drg", "qc_grade",
                "qc_score"]


_CAPS: dict[tuple, tuple[dict, str | None]] = {}


def _caps_scheme(wh: Warehouse, cur) -> tuple[dict, str | None]:
    """capabilities() and the default scheme, per data version (case lists ask on every request)."""
    key = (wh.uid, wh.version)
    found = _CAPS.get(key)
    if found is None:
        caps = capabilities(wh, cur)
        found = (caps, default_scheme(cur) if caps["drg"] else None)
        if len(_CAPS) > 16:
            _CAPS.clear()
        _CAPS[key] = found
    return found


def cases(wh, cur, scope: Scope, *, year=None, month=None, dept=None, hospital=None, drg=None, qc_grade=None,
          date_from=None, date_to=None, limit=50, offset=0, export=False) -> dict:
    """Case list by period (year/month and/or a discharge date range date_from..date_to, both days included),
    department, DRG or record grade (the records behind an indicator value are the engine's drill-down:
    engine_adapter.cases). Newest discharge first; ties by hospital, 病案号, 住院次数 (a stable order: pages and the
    export agree). One scan of `discharge` with bound range predicates on discharge_time."""
    import datetime as dt

    scope.require("export" if export else "cases")
    hospital, dept = scope.resolve(hospital, dept)
    caps, scheme = _caps_scheme(wh, cur)
    where, params = scope.where("d", "discharge_dept_code", hospital=hospital, dept=dept)
    conds = [where, "d.discharge_time is not null"]
    lo = hi = None                                   # [lo, hi) on discharge_time
    if year:
        y = int(year)
        lo, hi = (dt.datetime(y, int(month), 1), dt.datetime(y + int(month) // 12, int(month) % 12 + 1, 1)) \
            if month else (dt.datetime(y, 1, 1), dt.datetime(y + 1, 1, 1))
    if date_from:
        start = dt.datetime.combine(date_from, dt.time())
        lo = max(lo, start) if lo else start
    if date_to:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time())
        hi = min(hi, end) if hi else end
    if lo:
        conds.append("d.discharge_time >= ?")
        params.append(lo)
    if hi:
        conds.append("d.discharge_time < ?")
        params.append(hi)
    drg_on = ("r.hospital_id = d.hospital_id and r.mrn = d.mrn and r.admission_no = d.admission_no "
              "and r.scheme = ?")
    qc_on = "q.hospital_id = d.hospital_id and q.mrn = d.mrn and q.admission_no = d.admission_no"
    # filtering joins only for the filters that need them; the page's DRG / QC columns are joined to its rows only
    joins, pre = "", []
    if drg:
        if caps["drg"]:
            joins += f" join drg_result r on {drg_on}"
            pre.append(scheme)
            conds.append("r.drg = ?")
            params.append(drg)
        else:
            conds.append("false")
    if qc_grade:
        if caps["qc"]:
            joins += f" join qc_record q on {qc_on}"
            conds.append("q.grade = ?")
            params.append(qc_grade)
        else:
            conds.append("false")
    limit = EXPORT_LIMIT if export else max(1, min(int(limit), CASE_LIST_LIMIT))
    sql_from = f"from discharge d{joins} where {' and '.join(conds)}"
    total = cur.execute(f"select count(*) {sql_from}", pre + params).fetchall()[0][0]
    order = "d.discharge_time desc, d.hospital_id, d.mrn, d.admission_no"
    drg_cols = "r.status, r.drg" if caps["drg"] else "cast(null as varchar), cast(null as varchar)"
    qc_cols = "q.grade, q.score" if caps["qc"] else "cast(null as varchar), cast(null as decimal(6,2))"
    page_joins, post = "", []
    if caps["drg"]:
        page_joins += f" left join drg_result r on {drg_on}"
        post.append(scheme)
    if caps["qc"]:
        page_joins += f" left join qc_record q on {qc_on}"
    rows = cur.execute(
        f"with page as (select d.hospital_id, d.mrn, d.admission_no, d.patient_name, d.sex, d.age_years, "
        f"d.discharge_dept_code, d.admit_time, d.discharge_time, d.los_days, d.fee_total {sql_from} "
        f"order by {order} limit {limit} offset {max(0, int(offset))}) "
        f"select d.*, {drg_cols}, {qc_cols} from page d{page_joins} order by {order}",
        pre + params + post).fetchall()
    out = [dict(zip(CASE_COLUMNS, r)) for r in rows]
    names = dept_names(wh, cur)
    for r in out:
        r["dept_name"] = names.get(r["dept_code"], r["dept_code"])
    filters = {"year": year, "month": month, "dept": dept, "hospital": hospital, "drg": drg, "qc_grade": qc_grade}
    if date_from or date_to:
        filters.update({"from": date_from.isoformat() if date_from else None,
                        "to": date_to.isoformat() if date_to else None})
    return {"total": total, "offset": offset, "limit": limit, "rows": mask_rows(out, scope.see_pii),
            "masked": not scope.see_pii, "filters": filters}


DETAIL_FIELDS = ["hospital_id", "hospital_name", "mrn", "admission_no", "patient_name", "sex", "birth_date",
                 "age_years", "id_number", "phone", "address", "contact_name", "contact_phone", "payment_category",
                 "admission_route", "admit_time", "admit_dept_code", "discharge_time", "discharge_dept_code",
                 "los_days", "discharge_disposition", "attending_physician", "resident_physician", "coder",
                 "fee_total", "fee_self_pay"]
# detail fields holding a department code: shown with the department's name (入院科别 RESP 呼吸内科)
DEPT_FIELDS = ("admit_dept_code", "discharge_dept_code")

_PACKS: dict[tuple[str, str], object] = {}


def case_detail(wh, cur, scope: Scope, hospital: str, mrn: str, admission_no: int, *, scheme=None) -> dict:
    scope.require("cases")
    scope.check_hospital(hospital)
    where, params = scope.where("d", "discharge_dept_code")
    key = [hospital, mrn, int(admission_no)]
    cols = ", ".join(f"d.{c}" for c in DETAIL_FIELDS)
    found = cur.execute(f"select {cols} from discharge d where d.hospital_id = ? and d.mrn = ? "
                        f"and d.admission_no = ? and {where}", key + params).fetchall()
    if not found:
        # a case outside the scope answers exactly like a missing one (status, code, text), so case keys cannot be
        # probed; the refusal is still written to the audit log as `denied` WEB-FORBIDDEN-CASE
        exists = cur.execute("select 1 from discharge where hospital_id = ? and mrn = ? and admission_no = ?",
                             key).fetchall()
        err = not_found(f"没有病例 {hospital}/{mrn}/{admission_no}（或不在您的查看范围内）",
                        f"no case {hospital}/{mrn}/{admission_no} (or not within what you may see)")
        err.audit_code = "WEB-FORBIDDEN-CASE" if exists else None
        raise err
    record = dict(zip(DETAIL_FIELDS, found[0]))
    dx = [dict(zip(["dx_type", "seq", "dx_code", "dx_name", "poa"], r)) for r in cur.execute(
        "select dx_type, seq, dx_code, dx_name, poa from discharge_diagnosis where hospital_id = ? and mrn = ? "
        "and admission_no = ? order by dx_type desc, seq", key).fetchall()]
    px = [dict(zip(["seq", "px_code", "px_name", "px_time", "level", "surgeon"], r)) for r in cur.execute(
        "select seq, px_code, px_name, px_time, level, surgeon from discharge_procedure where hospital_id = ? "
        "and mrn = ? and admission_no = ? order by seq", key).fetchall()]
    tables = wh.tables(cur)

    @functools.cache
    def identifiers() -> dict:                  # the record's identifiers as stored, read once when needed
        return record_identifiers(cur, [tuple(key)]).get(tuple(key), {})

    out = {"record": mask_rows([record], scope.see_pii)[0], "masked": not scope.see_pii,
           "pii_columns": sorted(pii_columns()), "diagnoses": dx, "procedures": px,
           "qc": None, "drg": None, "drg_risk": None, "drg_results": []}
    names = dept_names(wh, cur)
    out["dept_names"] = {k: names[record[k]] for k in DEPT_FIELDS if record.get(k) in names}
    if "qc_record" in tables:
        rec = cur.execute("select score, grade, passed, n_error, n_warning, n_info, run_id from qc_record "
                          "where hospital_id = ? and mrn = ? and admission_no = ?", key).fetchall()
        if rec:
            findings = cur.execute(
                "select rule_id, severity, field, seq, value, expected, message_zh, message_en, points "
                "from qc_finding where hospital_id = ? and mrn = ? and admission_no = ? order by severity, rule_id",
                key).fetchall()
            findings = [dict(zip(["rule_id", "severity", "field", "seq", "value", "expected", "message_zh",
                                  "message_en", "points"], f)) for f in findings]
            if not scope.see_pii:
                # messages quote values (【身份证号】“…”校验位错误): mask the record's identifiers in them too
                findings = [mask_finding(f, identifiers()) for f in findings]
            out["qc"] = {**dict(zip(["score", "grade", "passed", "n_error", "n_warning", "n_info", "run_id"],
                                    rec[0])), "findings": findings}
    if "drg_result" in tables:
        res = cur.execute("select scheme, status, mdc, adrg, drg, grouped_at from drg_result where hospital_id = ? "
                          "and mrn = ? and admission_no = ? order by scheme", key).fetchall()
        out["drg_results"] = [dict(zip(["scheme", "status", "mdc", "adrg", "drg", "grouped_at"], r)) for r in res]
        chosen = scheme or (res[0][0] if res else None)
        if chosen:
            out["drg"] = _explain(cur, chosen, key)
            # QC's word on it: at risk when the principal diagnosis / procedure has a defect (issue 5)
            risk = drg_risk(cur, *key)
            if risk is not None and not scope.see_pii:
                risk["findings"] = [mask_finding(f, identifiers()) for f in risk["findings"]]
            out["drg_risk"] = risk
    return out


def _explain(cur, scheme: str, key: list) -> dict:
    try:
        from yunying.drg.explain import explain_case
        from yunying.drg.grouper import STATUS_ZH
        from yunying.drg.store import load_registered, stored_reading, stored_result, warehouse_cases

        h = cur.execute("select content_hash from drg_scheme where name = ?", [scheme]).fetchall()
        if not h:
            return {"scheme": scheme, "error_zh": f"方案 {scheme} 未登记，无法解释", "error_en": "scheme not registered"}
        pk = (scheme, h[0][0])
        if pk not in _PACKS:
            _PACKS[pk] = load_registered(cur, scheme)
        cases_tbl = warehouse_cases(cur, "where d.hospital_id = ? and d.mrn = ? and d.admission_no = ?", key)
        rec = {k: ("" if v is None else str(v)) for k, v in cases_tbl.to_pylist()[0].items()
               if k not in ("hospital_id", "mrn", "admission_no")}
        ex = explain_case(_PACKS[pk], rec)
        stored = stored_result(cur, scheme, *key)
        if stored is None:                  # not grouped under this scheme: the live grouping, labelled as such
            return {"scheme": scheme, **ex.as_dict(), "summary_zh": ex.summary_zh(), "result_source": "live"}
        # the stored result of the run is the answer; a regrouping explains it only while scheme and case agree
        rd = stored_reading(stored, ex)
        return {**ex.as_dict(), **{k: stored[k] for k in ("scheme", "status", "mdc", "adrg", "drg", "run_id",
                                                          "grouped_at", "scheme_hash", "scheme_changed")},
                "status_zh": STATUS_ZH.get(stored["status"], stored["status"]), "result_source": "stored", **rd,
                "trace": ex.trace if rd["trace_explains_stored"] else [],
                "regrouped": None if rd["trace_explains_stored"] else {**ex.as_dict(), "summary_zh": ex.summary_zh()},
                "summary_zh": ex.summary_zh() if rd["trace_explains_stored"] else ""}
    except Exception as exc:  # an explanation problem must not hide the case
        return {"scheme": scheme, "error_zh": f"无法生成分组解释：{exc}", "error_en": f"cannot explain: {exc}"}


# ---------------------------------------------------------------------------------------------------------------
# DRG analysis and record QC
# ---------------------------------------------------------------------------------------------------------------

def drg_summary(wh, cur, scope: Scope, *, scheme=None, year=None, dept=None, hospital=None) -> dict:
    scope.require("drg")
    hospital, dept = scope.resolve(hospital, dept)
    tables = wh.tables(cur)
    if "drg_result" not in tables or not schemes(cur):
        return {"computed": False, "reason_zh": "尚未计算：仓库中没有 DRG 分组结果（请运行 yunying drg group）",
                "reason_en": "not computed yet: no DRG grouping results"}
    all_schemes = schemes(cur)
    scheme = scheme or default_scheme(cur)
    if scheme not in all_schemes:
        raise not_found(f"没有分组方案 {scheme}", f"no scheme {scheme}")
    where, params = scope.where("d", "discharge_dept_code", hospital=hospital, dept=dept)
    years = [r[0] for r in cur.execute(
        f"select distinct year(d.discharge_time) from discharge d where {where} and d.discharge_time is not null "
        f"order by 1", params).fetchall()]
    year = int(year) if year else (years[-1] if years else None)
    src = (f"from drg_result r join discharge d on d.hospital_id = r.hospital_id and d.mrn = r.mrn "
           f"and d.admission_no = r.admission_no where r.scheme = ? and year(d.discharge_time) = ? and {where}")
    p = [scheme, year] + params
    status = dict(cur.execute(f"select r.status, count(*) {src} group by 1 order by 2 desc", p).fetchall())
    total = sum(status.values())
    names = {}
    try:
        pack = _pack(cur, scheme)
        names = pack.names().get("drg", {}) if pack else {}
    except Exception:
        names = {}
    try:
        weights = _weights(cur, tables, scheme, year)
    except duckdb.Error:
        weights = {}
    groups = [dict(zip(["drg", "n", "avg_los", "avg_fee"], r)) for r in cur.execute(
        f"select r.drg, count(*), round(avg(d.los_days), 2), round(avg(d.fee_total), 2) {src} "
        f"and r.status = 'SUCCESS' group by 1 order by 2 desc, 1 limit 30", p).fetchall()]
    for g in groups:
        g["name"] = names.get(g["drg"], "")
        g["avg_fee"] = float(g["avg_fee"]) if g["avg_fee"] is not None else None
        g["rw"] = weights.get(g["drg"]) if weights else None
    depts = cur.execute(
        f"select d.discharge_dept_code, count(*), count(*) filter (where r.status = 'SUCCESS'), "
        f"count(distinct r.drg) filter (where r.status = 'SUCCESS'), round(avg(d.fee_total), 2), "
        f"list(r.drg) filter (where r.status = 'SUCCESS') {src} group by 1 order by 2 desc", p).fetchall()
    dnames = dept_names(wh, cur)
    by_dept = []
    for code, n, ok, ngroups, fee, drgs in depts:
        cmi = None
        if weights:
            rws = [weights[x] for x in (drgs or []) if x in weights]
            cmi = round(sum(rws) / len(rws), 4) if rws else None
        by_dept.append({"dept": code, "dept_name": dnames.get(code, code), "n": n, "grouped": ok,
                        "rate": round(100 * ok / n, 2) if n else None, "groups": ngroups,
                        "avg_fee": float(fee) if fee is not None else None, "cmi": cmi})
    # results QC marks at risk (a principal-diagnosis / procedure defect on the record), by department
    risk = None
    if "qc_record" in tables:
        qsrc = src.replace("where r.scheme", "join qc_record q on q.hospital_id = r.hospital_id and q.mrn = r.mrn "
                           "and q.admission_no = r.admission_no where r.scheme", 1)
        risk = dict(cur.execute(f"select d.discharge_dept_code, count(*) filter (where q.pdx_defect or q.ppx_defect) "
                                f"{qsrc} group by 1", p).fetchall())
        for d in by_dept:
            d["at_risk"] = risk.get(d["dept"], 0)
    cmi_all = None
    if weights:
        rws = [weights[x] for row in depts for x in (row[5] or []) if x in weights]
        cmi_all = round(sum(rws) / len(rws), 4) if rws else None
    try:
        profit = _profit(cur, tables, scope, scheme, year, hospital, dept, dnames)
    except duckdb.Error:          # economics tables of another version: show "not computed", keep the page
        profit = None
    return {"computed": True, "scheme": scheme, "schemes": all_schemes, "year": year, "years": years,
            "dept": dept, "total": total, "status": status, "profit": profit,
            "grouping_rate": round(100 * status.get("SUCCESS", 0) / total, 2) if total else None,
            "groups": groups, "by_dept": by_dept, "cmi": cmi_all,
            "at_risk": sum(risk.values()) if risk is not None else None,
            "cmi_reason_zh": None if weights else "CMI 尚未计算：该方案没有权重（DRG 经济运行模块导入或测算权重后显示）",
            "cmi_reason_en": None if weights else "CMI not computed yet: no weights for this scheme",
            "profit_reason_zh": "盈亏尚未计算：该方案与年度尚无医保支付测算（yunying drg pay）",
            "profit_reason_en": "profit/loss not computed yet: no payment simulation for this scheme and year"}


def _profit(cur, tables, scope: Scope, scheme, year, hospital, dept, dnames) -> dict | None:
    """盈亏 (expected payment − charges) from the latest DRG payment simulation of this scheme and year
    (econ_run / econ_case_payment, issue 4); None when no simulation exists."""
    if "econ_case_payment" not in tables or "econ_run" not in tables:
        return None
    run = cur.execute("select run_id, kind, created_at from econ_run where scheme = ? and year = ? and kind like "
                      "'drg%' order by created_at desc limit 1", [scheme, year]).fetchall()
    if not run:
        return None
    where, params = scope.where("p", "dept_code", hospital=hospital, dept=dept)
    rows = cur.execute(
        f"select p.dept_code, count(*), sum(p.expected_payment), sum(p.fee_total), sum(p.margin_charges) "
        f"from econ_case_payment p where p.run_id = ? and {where} group by 1 order by 5", [run[0][0]] + params
    ).fetchall()
    by_dept = [{"dept": r[0], "dept_name": dnames.get(r[0], r[0]), "n": r[1], "expected_payment": _f(r[2]),
                "fee_total": _f(r[3]), "margin": _f(r[4])} for r in rows]
    return {"run_id": run[0][0], "kind": run[0][1], "by_dept": by_dept,
            "expected_payment": round(sum(d["expected_payment"] or 0 for d in by_dept), 2),
            "fee_total": round(sum(d["fee_total"] or 0 for d in by_dept), 2),
            "margin": round(sum(d["margin"] or 0 for d in by_dept), 2)}


def _pack(cur, scheme):
    from yunying.drg.store import load_registered
    h = cur.execute("select content_hash from drg_scheme where name = ?", [scheme]).fetchall()
    if not h:
        return None
    pk = (scheme, h[0][0])
    if pk not in _PACKS:
        _PACKS[pk] = load_registered(cur, scheme)
    return _PACKS[pk]


def _weights(cur, tables, scheme, year) -> dict[str, float]:
    if "econ_weight" not in tables:
        return {}
    rows = cur.execute("select drg, rw from econ_weight where scheme = ? and year = (select max(year) from "
                       "econ_weight where scheme = ? and year <= coalesce(?, 9999))", [scheme, scheme, year]).fetchall()
    return {d: float(rw) for d, rw in rows}


def qc_summary(wh, cur, scope: Scope, *, year=None, dept=None, hospital=None) -> dict:
    scope.require("qc")
    hospital, dept = scope.resolve(hospital, dept)
    tables = wh.tables(cur)
    if "qc_record" not in tables or cur.execute("select count(*) from qc_record").fetchall()[0][0] == 0:
        return {"computed": False, "reason_zh": "尚未计算：病案首页质控尚未运行（yunying qc run）",
                "reason_en": "not computed yet: record QC has not run"}
    where, params = scope.where("q", "discharge_dept_code", hospital=hospital, dept=dept)
    years = [r[0] for r in cur.execute(f"select distinct year(q.discharge_month) from qc_record q where {where} "
                                       f"order by 1", params).fetchall() if r[0] is not None]
    year = int(year) if year else (years[-1] if years else None)
    cond = f"{where} and year(q.discharge_month) = ?"
    p = params + [year]
    # 主要诊断编码正确率: records whose principal code passed / records where a dictionary could check it
    pdx = ("round(100.0 * count(*) filter (where pdx_code_ok) / nullif(count(*) filter (where pdx_code_checked), 0), "
           "2)")
    head = cur.execute(f"select count(*), count(*) filter (where passed), round(avg(score), 2), "
                       f"count(*) filter (where excellent), {pdx} from qc_record q where {cond}", p).fetchall()[0]
    grades = dict(cur.execute(f"select grade, count(*) from qc_record q where {cond} group by 1 order by 1",
                              p).fetchall())
    dnames = dept_names(wh, cur)
    by_dept = [{"dept": r[0], "dept_name": dnames.get(r[0], r[0]), "n": r[1], "pass_rate": _f(r[2]),
                "avg_score": _f(r[3]), "pdx_accuracy": _f(r[4])} for r in cur.execute(
        f"select q.discharge_dept_code, count(*), round(100.0 * count(*) filter (where passed) / count(*), 2), "
        f"round(avg(score), 2), {pdx} from qc_record q where {cond} group by 1 order by 3, 1", p).fetchall()]
    # one department: its doctors (主治医师 of the record) — staff names, not patient identifiers
    by_doctor = [] if not dept else [
        {"doctor": r[0], "n": r[1], "pass_rate": _f(r[2]), "avg_score": _f(r[3]), "pdx_accuracy": _f(r[4])}
        for r in cur.execute(
            f"select coalesce(q.attending_physician, '—'), count(*), "
            f"round(100.0 * count(*) filter (where passed) / count(*), 2), round(avg(score), 2), {pdx} "
            f"from qc_record q where {cond} group by 1 order by 3, 1", p).fetchall()]
    # top defects: the one definition of yunying qc report and the reports (yunying.qc.report.top_defects); an
    # example message per rule, the patient's identifiers masked whatever the role (an aggregate view)
    top = [{**t, "message_zh": t.pop("example")} for t in top_defects(cur, cond, p, 15)]
    return {"computed": True, "year": year, "years": years, "dept": dept,
            "dept_name": dnames.get(dept, dept) if dept else None, "n_records": head[0],
            "pass_rate": round(100 * head[1] / head[0], 2) if head[0] else None, "avg_score": _f(head[2]),
            "excellent": head[3], "pdx_accuracy": _f(head[4]), "grades": grades, "by_dept": by_dept,
            "by_doctor": by_doctor, "top_defects": top}


def qc_records(wh, cur, scope: Scope, *, year=None, dept=None, hospital=None, grade=None, limit=50) -> dict:
    """Record list of the QC page: the lowest scores first (case-level: audited by the caller)."""
    scope.require("qc")
    scope.require("cases")
    hospital, dept = scope.resolve(hospital, dept)
    if "qc_record" not in wh.tables(cur):
        return {"rows": [], "total": 0}
    where, params = scope.where("q", "discharge_dept_code", hospital=hospital, dept=dept)
    if year:
        where += " and year(q.discharge_month) = ?"
        params.append(int(year))
    if grade:
        where += " and q.grade = ?"
        params.append(grade)
    total = cur.execute(f"select count(*) from qc_record q where {where}", params).fetchall()[0][0]
    rows = cur.execute(
        f"select q.hospital_id, q.mrn, q.admission_no, d.patient_name, q.discharge_dept_code, q.score, q.grade, "
        f"q.n_error, q.n_warning from qc_record q join discharge d on d.hospital_id = q.hospital_id and "
        f"d.mrn = q.mrn and d.admission_no = q.admission_no where {where} order by q.score, q.mrn "
        f"limit {max(1, min(int(limit), CASE_LIST_LIMIT))}", params).fetchall()
    cols = ["hospital_id", "mrn", "admission_no", "patient_name", "dept_code", "score", "grade", "n_error",
            "n_warning"]
    out = [dict(zip(cols, r)) for r in rows]
    dnames = dept_names(wh, cur)
    for r in out:
        r["score"] = _f(r["score"])
        r["dept_name"] = dnames.get(r["dept_code"], r["dept_code"])
    return {"rows": mask_rows(out, scope.see_pii), "total": total, "masked": not scope.see_pii}


def _f(v):
    return None if v is None else float(v)


def import_history(cur, scope: Scope, username: str, limit: int = 20) -> list[dict]:
    """Recent imports. A user limited to some hospitals sees an import only when all the hospitals of its rows are
    theirs (import_log.hospitals), or when they started it themselves (imported_by) — never another hospital's
    file names and counts; imports whose hospitals are unknown (failed before reading rows, older entries) only
    when they started them."""
    cols = ["import_id", "kind", "file_name", "started_at", "finished_at", "status", "rows_read", "inserted",
            "updated", "rejected", "warnings", "message"]
    where, params = "", []
    if scope.hospitals is not None:
        where = ("where (hospitals is not null and len(hospitals) > 0 and list_has_all(?::varchar[], hospitals)) "
                 "or imported_by = ?")
        params = [list(scope.hospitals), username]
    return [dict(zip(cols, r)) for r in cur.execute(
        f"select {', '.join(cols)} from import_log {where} order by import_id desc limit {int(limit)}",
        params).fetchall()]


def import_rejects(cur, import_ids: list[int], limit: int = 200) -> list[dict]:
    if not import_ids:
        return []
    cols = ["import_id", "row_no", "record_key", "field", "value", "code", "reason_zh", "reason_en"]
    return [dict(zip(cols, r)) for r in cur.execute(
        f"select {', '.join(cols)} from import_reject where import_id in ({', '.join('?' for _ in import_ids)}) "
        f"order by import_id, row_no limit {int(limit)}", list(import_ids)).fetchall()]
