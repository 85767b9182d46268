"""The query layer: every warehouse read of the web app goes through here and takes a `Scope`.

Indicators come from the indicator engine (yunying.indicators) when it is installed; until then a small catalogue
of basic statistics (catalogue/basic_indicators.yaml) computed over the 首页 is shown, labelled as such. Values
that need a capability whose results are absent (DRG, QC, economics) are "not computed", never zero.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from statistics import median

import duckdb
import yaml

from yunying.web.errors import bad_request, forbidden, not_found
from yunying.web.privacy import mask_rows, pii_columns
from yunying.web.scope import Scope
from yunying.web.warehouse import Warehouse

CASE_LIST_LIMIT = 200
EXPORT_LIMIT = 100_000


# ---------------------------------------------------------------------------------------------------------------
# indicator catalogue
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Indicator:
    id: str
    name_zh: str
    name_en: str
    type: str
    numerator: dict
    unit: str
    direction: str
    cases: str
    definition_zh: str = ""
    definition_en: str = ""
    denominator: dict | None = None
    scale: float = 1
    needs: str | None = None
    cases_zh: str = ""
    cases_en: str = ""

    def public(self) -> dict:
        return {"id": self.id, "name_zh": self.name_zh, "name_en": self.name_en, "type": self.type,
                "unit": self.unit, "direction": self.direction, "definition_zh": self.definition_zh,
                "definition_en": self.definition_en, "numerator": self.numerator.get("label_zh"),
                "numerator_en": self.numerator.get("label_en"),
                "denominator": (self.denominator or {}).get("label_zh"),
                "denominator_en": (self.denominator or {}).get("label_en"),
                "cases_zh": self.cases_zh or "全部病例", "cases_en": self.cases_en or "all cases",
                "needs": self.needs, "source": "basic"}


@cache
def indicators() -> tuple[Indicator, ...]:
    text = resources.files("yunying.web").joinpath("catalogue/basic_indicators.yaml").read_text(encoding="utf-8")
    return tuple(Indicator(**entry) for entry in yaml.safe_load(text))


def indicator(ind_id: str) -> Indicator:
    for i in indicators():
        if i.id == ind_id:
            return i
    raise not_found(f"没有指标 {ind_id}", f"no indicator {ind_id}")


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


def base_sql(caps: dict) -> str:
    """One row per discharge with the fields the basic indicators and case lists use. Parameter: the scheme."""
    drg_cols = "r.status as drg_status, r.drg as drg" if caps["drg"] else \
        "cast(null as varchar) as drg_status, cast(null as varchar) as drg"
    drg_join = ("left join drg_result r on r.hospital_id = d.hospital_id and r.mrn = d.mrn "
                "and r.admission_no = d.admission_no and r.scheme = ?") if caps["drg"] else ""
    qc_cols = "q.grade as qc_grade, q.score as qc_score" if caps["qc"] else \
        "cast(null as varchar) as qc_grade, cast(null as decimal(6,2)) as qc_score"
    qc_join = ("left join qc_record q on q.hospital_id = d.hospital_id and q.mrn = d.mrn "
               "and q.admission_no = d.admission_no") if caps["qc"] else ""
    return f"""
      select d.hospital_id, d.mrn, d.admission_no, d.discharge_dept_code as dept_code,
             cast(date_trunc('month', d.discharge_time) as date) as month, d.los_days, d.fee_total,
             coalesce(d.fee_western_drug, 0) + coalesce(d.fee_patent_tcm, 0) + coalesce(d.fee_herbal, 0) as fee_drug,
             coalesce(d.fee_mat_exam, 0) + coalesce(d.fee_mat_treat, 0) + coalesce(d.fee_mat_surg, 0) as fee_material,
             d.discharge_disposition,
             exists (select 1 from discharge_procedure p where p.hospital_id = d.hospital_id and p.mrn = d.mrn
                     and p.admission_no = d.admission_no) as has_surgery,
             {drg_cols}, {qc_cols}
      from discharge d {drg_join} {qc_join}
      where d.discharge_time is not null"""


# ---------------------------------------------------------------------------------------------------------------
# the mart: per hospital × department × month numerators and denominators, cached per data version
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Mart:
    rows: list[tuple]                  # (hospital_id, dept_code, month, n_0, d_0, n_1, d_1, …)
    months: list[dt.date]
    caps: dict
    scheme: str | None
    dept_names: dict[str, str] = field(default_factory=dict)
    periods: dict = field(default_factory=dict)        # (year, months, hospital) -> {dept: aggregated row}


_CACHE: dict[tuple, Mart] = {}
_CACHE_LOCK = threading.Lock()


def mart(wh: Warehouse, cur: duckdb.DuckDBPyConnection, scope: Scope, scheme: str | None = None) -> Mart:
    """Aggregates over the whole of the user's hospitals (not the department: ranking needs peers; the
    department restriction is applied by every function that reads the mart)."""
    key = (wh.uid, wh.version, scope.hospitals, scheme)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
    if found is not None:
        return found
    caps = capabilities(wh, cur)
    scheme = scheme or (default_scheme(cur) if caps["drg"] else None)
    cols = []
    for ind in indicators():
        available = ind.needs is None or caps.get(ind.needs)
        cols.append(ind.numerator["sql"] if available else "null")
        cols.append((ind.denominator or {}).get("sql", "null") if available else "null")
    where, params = scope.where("b", "dept_code", hospital=None, dept=None) if not scope.is_dept_head else \
        _hospital_only(scope)
    sql = (f"select hospital_id, dept_code, month, {', '.join(cols)} from ({base_sql(caps)}) b "
           f"where {where} group by all order by month")
    rows = cur.execute(sql, ([scheme] if caps["drg"] else []) + params).fetchall()
    months = sorted({r[2] for r in rows})
    names = dict(cur.execute("select dept_code, any_value(dept_name) from department group by 1").fetchall())
    m = Mart(rows=rows, months=months, caps=caps, scheme=scheme, dept_names=names)
    with _CACHE_LOCK:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = m
    return m


def _hospital_only(scope: Scope) -> tuple[str, list]:
    """Hospital restriction only (for peer ranking of a dept_head's department; peers stay anonymous)."""
    if scope.hospitals is None:
        return "true", []
    if not scope.hospitals:
        return "false", []
    return f"b.hospital_id in ({', '.join('?' for _ in scope.hospitals)})", list(scope.hospitals)


def _value(ind: Indicator, num, den) -> float | None:
    if num is None:
        return None
    if ind.type == "count":
        return float(num)
    if not den:
        return None
    return round(float(num) / float(den) * ind.scale, 2)


def _sum(rows, col):
    vals = [r[col] for r in rows if r[col] is not None]
    return sum(vals) if vals else None


def period(m: Mart, year: int | None, month: int | None) -> tuple[int, list[int]]:
    if not m.months:
        return (year or dt.date.today().year), []
    year = year or m.months[-1].year
    months = sorted({d.month for d in m.months if d.year == year})
    if month is not None:
        if not 1 <= month <= 12:
            raise bad_request("WEB-PARAM", f"月份应为 1–12，收到 {month}", f"month must be 1–12, got {month}")
        months = [month]
    return year, months


def _aggregate(rows, key) -> dict:
    """Sum numerator/denominator columns of mart rows per key; returns rows of the mart's layout."""
    acc: dict = {}
    for r in rows:
        k = key(r)
        cur = acc.get(k)
        if cur is None:
            acc[k] = list(r[3:])
            continue
        for j, v in enumerate(r[3:]):
            if v is not None:
                cur[j] = v if cur[j] is None else cur[j] + v
    return {k: (None, k, None, *v) for k, v in acc.items()}


def _period(m: Mart, year: int, months: list[int], hospital=None) -> dict:
    """{dept: aggregated row} for a period (cached on the mart: the dashboard asks the same periods again)."""
    key = (year, tuple(months), hospital)
    found = m.periods.get(key)
    if found is None:
        ms = set(months)
        found = _aggregate((r for r in m.rows if r[2].year == year and r[2].month in ms
                            and (hospital is None or r[0] == hospital)), key=lambda r: r[1])
        if len(m.periods) > 256:
            m.periods.clear()
        m.periods[key] = found
    return found


def _select(m: Mart, year: int, months: list[int], *, hospital=None, dept=None) -> list:
    by_dept = _period(m, year, months, hospital)
    if dept is not None:
        return [by_dept[dept]] if dept in by_dept else []
    return list(by_dept.values())


def _status(ind: Indicator, value, target) -> str:
    if value is None:
        return "not_computed"
    if target is None or ind.direction == "neutral":
        return "no_target"
    ok = value >= target if ind.direction == "up" else value <= target
    return "met" if ok else "not_met"


def _yoy(value, prev) -> float | None:
    if value is None or prev in (None, 0):
        return None
    return round((value - prev) / abs(prev) * 100, 1)


def _worse(ind: Indicator, yoy) -> bool:
    if yoy is None or ind.direction == "neutral":
        return False
    return yoy < -10 if ind.direction == "up" else yoy > 10


def target_for(targets: list[dict], ind_id: str, hospital: str | None, dept: str | None, year: int):
    best, best_rank = None, -1
    for t in targets:
        if t["indicator_id"] != ind_id or t["year"] not in (None, year):
            continue
        if t["hospital_id"] not in ("*", hospital) or t["dept_code"] not in ("*", dept):
            continue
        rank = (t["hospital_id"] != "*") + 2 * (t["dept_code"] != "*") + (t["year"] is not None)
        if rank > best_rank:
            best, best_rank = t["value"], rank
    return best


def _card(ind: Indicator, i: int, rows, prev_rows, target, m: Mart) -> dict:
    available = ind.needs is None or m.caps.get(ind.needs)
    num = _sum(rows, 3 + 2 * i)
    den = _sum(rows, 4 + 2 * i) if ind.denominator else None
    value = _value(ind, num, den) if available else None
    pnum = _sum(prev_rows, 3 + 2 * i)
    pden = _sum(prev_rows, 4 + 2 * i) if ind.denominator else None
    prev = _value(ind, pnum, pden) if available else None
    yoy = _yoy(value, prev)
    status = _status(ind, value, target) if available else "not_computed"
    return {"id": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en, "unit": ind.unit,
            "direction": ind.direction, "value": value, "numerator": _num(num), "denominator": _num(den),
            "previous": prev, "yoy_pct": yoy, "target": target, "status": status,
            "worse": _worse(ind, yoy), "computed": bool(available),
            "reason_zh": None if available else _missing_zh(ind.needs),
            "reason_en": None if available else _missing_en(ind.needs)}


def _num(v):
    if v is None:
        return None
    return round(float(v), 2) if not isinstance(v, int) else v


def _missing_zh(needs):
    return {"drg": "尚未计算：仓库中没有 DRG 分组结果（yunying drg group）",
            "qc": "尚未计算：病案质控尚未运行（yunying qc run）"}.get(needs, "尚未计算")


def _missing_en(needs):
    return {"drg": "not computed yet: no DRG grouping results in the warehouse",
            "qc": "not computed yet: record QC has not run"}.get(needs, "not computed yet")


def _alerts(cards: list[dict]) -> list[dict]:
    out = []
    for c in cards:
        if c["status"] == "not_met":
            out.append({"indicator": c["id"], "kind": "target",
                        "zh": f"{c['name_zh']} {c['value']}{c['unit']} 未达目标值 {c['target']}{c['unit']}",
                        "en": f"{c['name_en']} {c['value']} misses its target {c['target']}"})
        if c["worse"]:
            out.append({"indicator": c["id"], "kind": "yoy",
                        "zh": f"{c['name_zh']} 同比变化 {c['yoy_pct']:+}%，方向不利",
                        "en": f"{c['name_en']} changed {c['yoy_pct']:+}% year on year, the wrong way"})
    return out


# ---------------------------------------------------------------------------------------------------------------
# pages' data
# ---------------------------------------------------------------------------------------------------------------

def overview(wh, cur, scope: Scope, targets: list[dict], *, year=None, month=None, hospital=None) -> dict:
    scope.require("overview")
    hospital, _ = scope.resolve(hospital, None)
    m = mart(wh, cur, scope)
    year, months = period(m, year, month)
    rows = _select(m, year, months, hospital=hospital)
    prev = _select(m, year - 1, months, hospital=hospital)
    cards = [_card(ind, i, rows, prev, target_for(targets, ind.id, hospital, None, year), m)
             for i, ind in enumerate(indicators())]
    return {"level": "hospital", "hospital": hospital, "year": year, "months": months,
            "years": sorted({d.year for d in m.months}), "indicators": cards, "alerts": _alerts(cards),
            "source": "basic", "engines": engine_status(), "scheme": m.scheme}


def dept_view(wh, cur, scope: Scope, targets: list[dict], dept: str, *, year=None, month=None,
              hospital=None) -> dict:
    scope.require("dept")
    hospital, dept = scope.resolve(hospital, dept)
    if not dept:
        raise bad_request("WEB-PARAM", "请指定科室", "a department is required")
    m = mart(wh, cur, scope)
    year, months = period(m, year, month)
    rows = _select(m, year, months, hospital=hospital)
    prev = _select(m, year - 1, months, hospital=hospital)
    by_dept = _period(m, year, months, hospital)
    prev_by_dept = _period(m, year - 1, months, hospital)
    depts = sorted(d for d in by_dept if d)
    if dept not in depts and dept not in m.dept_names:
        raise not_found(f"没有科室 {dept}", f"no department {dept}")
    cards = []
    for i, ind in enumerate(indicators()):
        own = _card(ind, i, [by_dept[dept]] if dept in by_dept else [],
                    [prev_by_dept[dept]] if dept in prev_by_dept else [],
                    target_for(targets, ind.id, hospital, dept, year), m)
        whole = _card(ind, i, rows, prev, None, m)
        peer_values = {}
        for d in depts:
            v = _value(ind, by_dept[d][3 + 2 * i], by_dept[d][4 + 2 * i] if ind.denominator else None) \
                if (ind.needs is None or m.caps.get(ind.needs)) else None
            if v is not None:
                peer_values[d] = v
        own["hospital_value"] = whole["value"]
        own["peer_median"] = round(median(peer_values.values()), 2) if peer_values else None
        own["n_peers"] = len(peer_values)
        own["rank"] = _rank(ind, peer_values, dept)
        if not scope.is_dept_head:      # peers by name only for whole-hospital roles
            own["peers"] = _ranked(ind, peer_values, m.dept_names)
        cards.append(own)
    return {"level": "dept", "dept": dept, "dept_name": m.dept_names.get(dept, dept), "hospital": hospital,
            "year": year, "months": months, "years": sorted({d.year for d in m.months}),
            "indicators": cards, "alerts": _alerts(cards), "source": "basic"}


def _ranked(ind: Indicator, values: dict, names: dict) -> list[dict]:
    order = sorted(values.items(), key=lambda kv: kv[1], reverse=(ind.direction != "down"))
    return [{"dept": d, "dept_name": names.get(d, d), "value": v, "rank": n + 1} for n, (d, v) in enumerate(order)]


def _rank(ind: Indicator, values: dict, dept: str) -> int | None:
    if dept not in values:
        return None
    order = sorted(values, key=lambda d: values[d], reverse=(ind.direction != "down"))
    return order.index(dept) + 1


def departments(wh, cur, scope: Scope) -> list[dict]:
    """Departments the user may open (dept_head: only their own)."""
    m = mart(wh, cur, scope)
    codes = sorted({r[1] for r in m.rows if r[1]})
    if scope.is_dept_head:
        codes = [scope.dept]
    return [{"dept": c, "dept_name": m.dept_names.get(c, c)} for c in codes]


def indicator_detail(wh, cur, scope: Scope, targets: list[dict], ind_id: str, *, year=None, month=None,
                     dept=None, hospital=None) -> dict:
    scope.require("indicators")
    hospital, dept = scope.resolve(hospital, dept)
    ind = indicator(ind_id)
    i = indicators().index(ind)
    m = mart(wh, cur, scope)
    year, months = period(m, year, month)
    pick = [r for r in m.rows if (hospital is None or r[0] == hospital) and (dept is None or r[1] == dept)]
    card = _card(ind, i, _select(m, year, months, hospital=hospital, dept=dept),
                 _select(m, year - 1, months, hospital=hospital, dept=dept),
                 target_for(targets, ind.id, hospital, dept, year), m)
    trend = []
    by_month = _aggregate(pick, key=lambda r: r[2])
    for mo in m.months:
        c = _card(ind, i, [by_month[mo]] if mo in by_month else [], [], None, m)
        trend.append({"month": mo.isoformat()[:7], "value": c["value"], "numerator": c["numerator"],
                      "denominator": c["denominator"]})
    breakdown = []
    by_dept = _period(m, year, months, hospital)
    prev_by_dept = _period(m, year - 1, months, hospital)
    depts = sorted(d for d in by_dept if d)
    if scope.is_dept_head:
        depts = [scope.dept]
    for d in depts:
        c = _card(ind, i, [by_dept[d]] if d in by_dept else [], [prev_by_dept[d]] if d in prev_by_dept else [],
                  None, m)
        breakdown.append({"dept": d, "dept_name": m.dept_names.get(d, d), "value": c["value"],
                          "numerator": c["numerator"], "denominator": c["denominator"], "yoy_pct": c["yoy_pct"]})
    breakdown.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0) if ind.direction != "down"
                                  else (r["value"] or 0)))
    return {"indicator": ind.public(), "value": card, "year": year, "months": months, "dept": dept,
            "years": sorted({d.year for d in m.months}),
            "dept_name": m.dept_names.get(dept, dept) if dept else None, "hospital": hospital,
            "trend": trend, "breakdown": breakdown, "scheme": m.scheme}


# ---------------------------------------------------------------------------------------------------------------
# case lists and case detail (case-level: callers audit-log every call)
# ---------------------------------------------------------------------------------------------------------------

CASE_COLUMNS = ["hospital_id", "mrn", "admission_no", "patient_name", "sex", "age_years", "dept_code",
                "admit_time", "discharge_time", "los_days", "fee_total", "drg_status", "drg", "qc_grade",
                "qc_score"]


def cases(wh, cur, scope: Scope, *, indicator_id=None, year=None, month=None, dept=None, hospital=None,
          drg=None, qc_grade=None, limit=50, offset=0, export=False) -> dict:
    scope.require("export" if export else "cases")
    hospital, dept = scope.resolve(hospital, dept)
    m = mart(wh, cur, scope)
    caps = m.caps
    where, params = scope.where("b", "dept_code", hospital=hospital, dept=dept)
    filters = [where]
    ind = indicator(indicator_id) if indicator_id else None
    if ind:
        if ind.needs and not caps.get(ind.needs):
            raise bad_request("WEB-NOT-COMPUTED", _missing_zh(ind.needs), _missing_en(ind.needs))
        filters.append(f"({ind.cases})")
    if year:
        filters.append("year(b.month) = ?")
        params.append(int(year))
        if month:
            filters.append("month(b.month) = ?")
            params.append(int(month))
    if drg:
        filters.append("b.drg = ?")
        params.append(drg)
    if qc_grade:
        filters.append("b.qc_grade = ?")
        params.append(qc_grade)
    limit = EXPORT_LIMIT if export else max(1, min(int(limit), CASE_LIST_LIMIT))
    sql_from = (f"from (select * from ({base_sql(caps)}) b where {' and '.join(filters)}) b "
                f"join discharge d on d.hospital_id = b.hospital_id and d.mrn = b.mrn "
                f"and d.admission_no = b.admission_no")
    pre = [m.scheme] if caps["drg"] else []
    total = cur.execute(f"select count(*) {sql_from}", pre + params).fetchall()[0][0]
    rows = cur.execute(
        f"select b.hospital_id, b.mrn, b.admission_no, d.patient_name, d.sex, d.age_years, b.dept_code, "
        f"d.admit_time, d.discharge_time, b.los_days, b.fee_total, b.drg_status, b.drg, b.qc_grade, b.qc_score "
        f"{sql_from} order by d.discharge_time desc, b.mrn limit {limit} offset {max(0, int(offset))}",
        pre + params).fetchall()
    out = [dict(zip(CASE_COLUMNS, r)) for r in rows]
    for r in out:
        r["dept_name"] = m.dept_names.get(r["dept_code"], r["dept_code"])
    return {"total": total, "offset": offset, "limit": limit, "rows": mask_rows(out, scope.see_pii),
            "masked": not scope.see_pii, "indicator": ind.public() if ind else None,
            "filters": {"indicator": indicator_id, "year": year, "month": month, "dept": dept,
                        "hospital": hospital, "drg": drg, "qc_grade": qc_grade}}


DETAIL_FIELDS = ["hospital_id", "hospital_name", "mrn", "admission_no", "patient_name", "sex", "birth_date",
                 "age_years", "id_number", "phone", "address", "contact_name", "contact_phone", "payment_category",
                 "admission_route", "admit_time", "admit_dept_code", "discharge_time", "discharge_dept_code",
                 "los_days", "discharge_disposition", "attending_physician", "resident_physician", "coder",
                 "fee_total", "fee_self_pay"]

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
        exists = cur.execute("select discharge_dept_code from discharge where hospital_id = ? and mrn = ? "
                             "and admission_no = ?", key).fetchall()
        if exists:
            raise forbidden("WEB-FORBIDDEN-CASE", "无权查看该病例（不在您的医院或科室范围内）",
                            "this case is outside your hospital or department")
        raise not_found(f"没有病例 {hospital}/{mrn}/{admission_no}", f"no case {hospital}/{mrn}/{admission_no}")
    record = dict(zip(DETAIL_FIELDS, found[0]))
    dx = [dict(zip(["dx_type", "seq", "dx_code", "dx_name", "poa"], r)) for r in cur.execute(
        "select dx_type, seq, dx_code, dx_name, poa from discharge_diagnosis where hospital_id = ? and mrn = ? "
        "and admission_no = ? order by dx_type desc, seq", key).fetchall()]
    px = [dict(zip(["seq", "px_code", "px_name", "px_time", "level", "surgeon"], r)) for r in cur.execute(
        "select seq, px_code, px_name, px_time, level, surgeon from discharge_procedure where hospital_id = ? "
        "and mrn = ? and admission_no = ? order by seq", key).fetchall()]
    tables = wh.tables(cur)
    out = {"record": mask_rows([record], scope.see_pii)[0], "masked": not scope.see_pii,
           "pii_columns": sorted(pii_columns()), "diagnoses": dx, "procedures": px,
           "qc": None, "drg": None, "drg_results": []}
    if "qc_record" in tables:
        rec = cur.execute("select score, grade, passed, n_error, n_warning, n_info, run_id from qc_record "
                          "where hospital_id = ? and mrn = ? and admission_no = ?", key).fetchall()
        if rec:
            findings = cur.execute(
                "select rule_id, severity, field, seq, value, expected, message_zh, message_en, points "
                "from qc_finding where hospital_id = ? and mrn = ? and admission_no = ? order by severity, rule_id",
                key).fetchall()
            out["qc"] = {**dict(zip(["score", "grade", "passed", "n_error", "n_warning", "n_info", "run_id"],
                                    rec[0])),
                         "findings": [dict(zip(["rule_id", "severity", "field", "seq", "value", "expected",
                                                "message_zh", "message_en", "points"], f)) for f in findings]}
    if "drg_result" in tables:
        res = cur.execute("select scheme, status, mdc, adrg, drg, grouped_at from drg_result where hospital_id = ? "
                          "and mrn = ? and admission_no = ? order by scheme", key).fetchall()
        out["drg_results"] = [dict(zip(["scheme", "status", "mdc", "adrg", "drg", "grouped_at"], r)) for r in res]
        chosen = scheme or (res[0][0] if res else None)
        if chosen:
            out["drg"] = _explain(cur, chosen, key)
    return out


def _explain(cur, scheme: str, key: list) -> dict:
    try:
        from yunying.drg.explain import explain_case
        from yunying.drg.store import load_registered, warehouse_cases

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
        return {"scheme": scheme, **ex.as_dict(), "summary_zh": ex.summary_zh()}
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
    dept_names = mart(wh, cur, scope).dept_names
    by_dept = []
    for code, n, ok, ngroups, fee, drgs in depts:
        cmi = None
        if weights:
            rws = [weights[x] for x in (drgs or []) if x in weights]
            cmi = round(sum(rws) / len(rws), 3) if rws else None
        by_dept.append({"dept": code, "dept_name": dept_names.get(code, code), "n": n, "grouped": ok,
                        "rate": round(100 * ok / n, 2) if n else None, "groups": ngroups,
                        "avg_fee": float(fee) if fee is not None else None, "cmi": cmi})
    cmi_all = None
    if weights:
        rws = [weights[x] for row in depts for x in (row[5] or []) if x in weights]
        cmi_all = round(sum(rws) / len(rws), 3) if rws else None
    try:
        profit = _profit(cur, tables, scope, scheme, year, hospital, dept, dept_names)
    except duckdb.Error:          # economics tables of another version: show "not computed", keep the page
        profit = None
    return {"computed": True, "scheme": scheme, "schemes": all_schemes, "year": year, "years": years,
            "dept": dept, "total": total, "status": status, "profit": profit,
            "grouping_rate": round(100 * status.get("SUCCESS", 0) / total, 2) if total else None,
            "groups": groups, "by_dept": by_dept, "cmi": cmi_all,
            "cmi_reason_zh": None if weights else "CMI 尚未计算：该方案没有权重（DRG 经济运行模块导入或测算权重后显示）",
            "cmi_reason_en": None if weights else "CMI not computed yet: no weights for this scheme",
            "profit_reason_zh": "盈亏尚未计算：该方案与年度尚无医保支付测算（yunying drg pay）",
            "profit_reason_en": "profit/loss not computed yet: no payment simulation for this scheme and year"}


def _profit(cur, tables, scope: Scope, scheme, year, hospital, dept, dept_names) -> dict | None:
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
    by_dept = [{"dept": r[0], "dept_name": dept_names.get(r[0], r[0]), "n": r[1], "expected_payment": _f(r[2]),
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
    head = cur.execute(f"select count(*), count(*) filter (where passed), round(avg(score), 2), "
                       f"count(*) filter (where excellent) from qc_record q where {cond}", p).fetchall()[0]
    grades = dict(cur.execute(f"select grade, count(*) from qc_record q where {cond} group by 1 order by 1",
                              p).fetchall())
    dept_names = mart(wh, cur, scope).dept_names
    by_dept = [{"dept": r[0], "dept_name": dept_names.get(r[0], r[0]), "n": r[1], "pass_rate": _f(r[2]),
                "avg_score": _f(r[3])} for r in cur.execute(
        f"select q.discharge_dept_code, count(*), round(100.0 * count(*) filter (where passed) / count(*), 2), "
        f"round(avg(score), 2) from qc_record q where {cond} group by 1 order by 3, 1", p).fetchall()]
    top = [dict(zip(["rule_id", "severity", "n_records", "n_findings", "message_zh"], r)) for r in cur.execute(
        f"select f.rule_id, any_value(f.severity), count(distinct (f.mrn, f.admission_no)), count(*), "
        f"any_value(f.message_zh) from qc_finding f join qc_record q on q.hospital_id = f.hospital_id "
        f"and q.mrn = f.mrn and q.admission_no = f.admission_no where {cond} group by 1 order by 3 desc, 1 limit 15",
        p).fetchall()]
    return {"computed": True, "year": year, "years": years, "dept": dept, "n_records": head[0],
            "pass_rate": round(100 * head[1] / head[0], 2) if head[0] else None, "avg_score": _f(head[2]),
            "excellent": head[3], "grades": grades, "by_dept": by_dept, "top_defects": top}


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
    for r in out:
        r["score"] = _f(r["score"])
    return {"rows": mask_rows(out, scope.see_pii), "total": total, "masked": not scope.see_pii}


def _f(v):
    return None if v is None else float(v)


def import_history(cur, limit: int = 20) -> list[dict]:
    cols = ["import_id", "kind", "file_name", "started_at", "finished_at", "status", "rows_read", "inserted",
            "updated", "rejected", "warnings", "message"]
    return [dict(zip(cols, r)) for r in cur.execute(
        f"select {', '.join(cols)} from import_log order by import_id desc limit {int(limit)}").fetchall()]


def import_rejects(cur, import_ids: list[int], limit: int = 200) -> list[dict]:
    if not import_ids:
        return []
    cols = ["import_id", "row_no", "record_key", "field", "value", "code", "reason_zh", "reason_en"]
    return [dict(zip(cols, r)) for r in cur.execute(
        f"select {', '.join(cols)} from import_reject where import_id in ({', '.join('?' for _ in import_ids)}) "
        f"order by import_id, row_no limit {int(limit)}", list(import_ids)).fetchall()]
