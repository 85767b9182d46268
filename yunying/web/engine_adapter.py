"""The indicator engine (yunying.indicators, issue 6) as the web app sees it: national-assessment families
(三级综合 / 三级中医 / 二级 / 运营 / DRG) computed per hospital or department, cached per data version, filtered by
the user's Scope, with drill-down to the contributing records. When the engine is not installed every call
answers "not computed yet"."""

from __future__ import annotations

import threading

from yunying.web.errors import bad_request, forbidden, not_found
from yunying.web.privacy import mask_rows
from yunying.web.scope import Scope

_CACHE: dict[tuple, list[dict]] = {}
_LOCK = threading.Lock()
CASE_LIMIT = 200


def engine():
    try:
        import yunying.indicators as ind
        return ind
    except ImportError:
        return None


_CAT: list = []


def _catalogue():
    """The shipped catalogue, loaded once per process (parsing and validating it takes about a second)."""
    ind = engine()
    if ind is None:
        return None
    if not _CAT:
        _CAT.append(ind.load_catalogue())
    return _CAT[0]


def families() -> list[dict]:
    cat = _catalogue()
    if cat is None:
        return []
    return [{"key": f.key, "name_zh": f.name_zh, "name_en": f.name_en, "n": len(f.ids)} for f in cat.families.values()]


def not_installed() -> dict:
    return {"computed": False, "reason_zh": "尚未计算：指标引擎（yunying.indicators）未安装",
            "reason_en": "not computed yet: the indicator engine is not installed", "rows": []}


def _hospital_default(scope: Scope, hospitals_in_wh: list[str], hospital: str | None) -> str | None:
    if hospital:
        return hospital
    allowed = hospitals_in_wh if scope.hospitals is None else list(scope.hospitals)
    return allowed[0] if len(allowed) == 1 else None


def compute(wh, cur, scope: Scope, hospitals_in_wh: list[str], *, family: str = "tertiary-general",
            period: str | None = None, level: str = "hospital", dept: str | None = None,
            hospital: str | None = None) -> dict:
    ind = engine()
    if ind is None:
        return not_installed()
    if level not in ("hospital", "department"):
        raise bad_request("WEB-PARAM", "level 应为 hospital 或 department", "level must be hospital or department")
    if scope.is_dept_head:
        level = "department"          # a 科主任 sees department values of their own department only
    scope.require("overview" if level == "hospital" else "dept")
    hospital, dept = scope.resolve(hospital, dept)
    cat = _catalogue()
    try:
        fam = cat.family(family)
    except KeyError as exc:
        raise not_found(str(exc).split(" / ")[0].strip("'\""), f"unknown family {family}") from None
    if period is None:
        y = cur.execute("select max(year(discharge_time)) from discharge").fetchall()[0][0]
        period = str(y) if y else "2022"
    if not (period.isdigit() and len(period) == 4):
        raise bad_request("WEB-PARAM", f"期间应为年份（如 2022），收到 {period!r}", f"period must be a year, got {period!r}")
    hs = None if scope.hospitals is None else list(scope.hospitals)
    key = (wh.uid, wh.version, cat.version, fam.key, period, level, tuple(hs) if hs is not None else None)
    with _LOCK:
        rows = _CACHE.get(key)
    if rows is None:
        try:
            rows = ind.compute(cur, cat, ids=fam.ids, period=period, grain="year", level=level, hospitals=hs)
        except Exception as exc:  # an engine problem is shown as such; the rest of the app keeps working
            return {"computed": False, "reason_zh": f"指标引擎计算出错：{exc}",
                    "reason_en": f"the indicator engine failed: {exc}", "rows": []}
        with _LOCK:
            if len(_CACHE) > 32:
                _CACHE.clear()
            _CACHE[key] = rows
    out = [r for r in rows if (hospital is None or r.get("hospital_id") == hospital)
           and (dept is None or (r.get("dept_code") or "") == dept)]
    clean = [{k: r.get(k) for k in ("indicator_id", "name", "name_en", "period", "hospital_id", "dept_code",
                                    "numerator", "denominator", "value", "unit", "yoy_value", "yoy_change",
                                    "yoy_text", "target", "status", "judgement", "direction", "national_monitor",
                                    "reason", "catalogue_version", "sql_hash")} for r in out]
    for r in clean:
        if isinstance(r["value"], float):
            r["value"] = round(r["value"], 4)
    return {"computed": True, "family": {"key": fam.key, "name_zh": fam.name_zh, "name_en": fam.name_en},
            "families": families(), "period": period, "level": level, "dept": dept, "hospital": hospital,
            "rows": clean, "alerts": [r for r in clean if r["status"] == "未达标"],
            "n_computable": sum(1 for r in clean if r["value"] is not None)}


def cases(wh, cur, scope: Scope, hospitals_in_wh: list[str], indicator_id: str, *, period: str,
          dept: str | None = None, hospital: str | None = None, part: str = "numerator") -> dict:
    """Records behind an engine value (numerator or denominator), restricted to the user's scope."""
    ind = engine()
    if ind is None:
        return not_installed()
    scope.require("cases")
    hospital, dept = scope.resolve(hospital, dept)
    hospital = _hospital_default(scope, hospitals_in_wh, hospital)
    if hospital is None:
        raise bad_request("WEB-PARAM", "请指定医院 hospital", "a hospital is required")
    if part not in ("numerator", "denominator"):
        raise bad_request("WEB-PARAM", "part 应为 numerator 或 denominator", "part must be numerator or denominator")
    cat = _catalogue()
    if indicator_id not in cat.indicators:
        raise not_found(f"没有指标 {indicator_id}", f"no indicator {indicator_id}")
    level = "department" if dept else "hospital"
    key = {"hospital_id": hospital, **({"dept_code": dept} if dept else {})}
    try:
        res = ind.cases(cur, cat, indicator_id, period=period, level=level, key=key, part=part, limit=CASE_LIMIT)
    except Exception as exc:  # e.g. an external (manually entered) indicator has no records
        return {"computed": False, "reason_zh": f"该指标没有可下钻的记录：{exc}",
                "reason_en": f"no records to drill into: {exc}", "rows": [], "columns": []}
    rows = [dict(zip(res.columns, r)) for r in res.rows]
    if scope.is_dept_head and rows and "dept_code" in res.columns:
        if any(r.get("dept_code") not in (scope.dept, None) for r in rows):
            raise forbidden("WEB-FORBIDDEN-DEPT", "科主任只能查看本科室的数据", "department heads see their own department only")
    return {"computed": True, "indicator": {"id": indicator_id, "name_zh": cat[indicator_id].name_zh,
                                            "name_en": cat[indicator_id].name_en},
            "period": period, "hospital": hospital, "dept": dept, "part": part, "columns": res.columns,
            "rows": mask_rows(rows, scope.see_pii), "masked": not scope.see_pii, "limit": CASE_LIMIT}
