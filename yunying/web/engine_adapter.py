"""The indicator engine (yunying.indicators, issue 6) as the web app sees it.

* 全院概览 / 科室视图 show the key indicators listed in catalogue/key_indicators.yaml (engine ids);
* 指标详情 shows one engine indicator (definition, value, monthly trend, department breakdown);
* 绩效指标 shows whole families;
* drill-down lists the records behind a value (`yunying.indicators.cases`).

Values, 同比, status and the not-computable reason are the engine's. Engine results are computed without targets
and cached in-process per (warehouse, data version, catalogue version, indicators, period, grain, levels,
hospitals); the data version rises when an import / regroup job finishes, which invalidates them. Targets (the
engine's: shipped YAML + warehouse table ind_target) are applied per request with the engine's `apply_targets` on
copies of the cached rows, so a target edited on 系统管理 shows at once. Every function takes the user's Scope."""

from __future__ import annotations

import os
import threading
from functools import cache
from importlib import resources
from pathlib import Path
from statistics import median

import yaml

from yunying.web.errors import bad_request, forbidden, not_found
from yunying.model.privacy import mask_rows
from yunying.web.scope import Scope

_CACHE: dict[tuple, list[dict]] = {}
_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple, threading.Lock] = {}
CASE_LIMIT = 200
DEFAULT_FAMILY = "tertiary-general"      # 绩效指标's family when none is asked for
ROW_FIELDS = ("indicator_id", "name", "name_en", "period", "hospital_id", "dept_code", "numerator", "denominator",
              "value", "unit", "yoy_value", "yoy_change", "yoy_word", "yoy_text", "target", "status", "gap",
              "judgement", "direction", "national_monitor", "reason", "catalogue_version", "sql_hash",
              "status_code", "verdict", "yoy_dir", "fallback", "note", "remarks")


def engine():
    try:
        import yunying.indicators as ind
        return ind
    except ImportError:
        return None


_CAT: list = []


def catalogue():
    """The shipped catalogue, loaded once per process (parsing and validating it takes about a second)."""
    ind = engine()
    if ind is None:
        return None
    if not _CAT:
        _CAT.append(ind.load_catalogue())
    return _CAT[0]


def families() -> list[dict]:
    cat = catalogue()
    if cat is None:
        return []
    return [{"key": f.key, "name_zh": f.name_zh, "name_en": f.name_en, "n": len(f.ids)} for f in cat.families.values()]


def not_installed() -> dict:
    return {"computed": False, "reason_zh": "尚未计算：指标引擎（yunying.indicators）未安装",
            "reason_en": "not computed yet: the indicator engine is not installed", "rows": []}


# ---------------------------------------------------------------------------------------------------------------
# key indicators, targets, cached engine results
# ---------------------------------------------------------------------------------------------------------------

@cache
def key_indicators() -> dict[str, list[str]]:
    """{"overview": [ids], "dept": [ids]} from catalogue/key_indicators.yaml (or YUNYING_WEB_KEY_INDICATORS),
    checked against the engine catalogue."""
    path = os.environ.get("YUNYING_WEB_KEY_INDICATORS")
    text = Path(path).read_text(encoding="utf-8") if path else \
        resources.files("yunying.web").joinpath("catalogue/key_indicators.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    out = {page: [str(i) for i in doc.get(page) or []] for page in ("overview", "dept")}
    cat = catalogue()
    if cat is not None:
        unknown = [i for ids in out.values() for i in ids if i not in cat.indicators]
        if unknown:
            raise ValueError(f"key_indicators.yaml: 指标引擎中没有 {', '.join(unknown)} / unknown engine ids")
    return out


def load_targets(cur) -> list[dict]:
    """The engine's targets: shipped targets.yaml + the warehouse table ind_target (edited on 系统管理)."""
    from yunying.indicators.targets import load_targets as _load
    return _load(query=lambda sql: cur.execute(sql).fetchall())


def _raw(wh, cur, ids: tuple[str, ...], period: str, grain: str, levels: tuple[str, ...],
         hospitals: tuple[str, ...] | None = None) -> list[dict]:
    """Engine rows without targets, cached per data version. One computation per key at a time (concurrent
    requests for the same key wait for it instead of computing it again)."""
    ind = engine()
    cat = catalogue()
    key = (wh.uid, wh.version, cat.version, ids, period, grain, levels, hospitals)
    with _LOCK:
        rows = _CACHE.get(key)
        if rows is not None:
            return rows
        klock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with klock:
        with _LOCK:
            rows = _CACHE.get(key)
        if rows is None:
            rows = ind.compute(cur, cat, ids=list(ids), period=period, grain=grain, level=list(levels),
                               hospitals=list(hospitals) if hospitals is not None else None, targets=[])
            with _LOCK:
                if len(_CACHE) > 64:
                    _CACHE.clear()
                    _KEY_LOCKS.clear()
                _CACHE[key] = rows
    return rows


LEVELS = ("hospital", "department")


@cache
def all_family_ids() -> tuple[str, ...]:
    """Every indicator of every family, in catalogue order: 绩效指标 computes them at once per year (both levels,
    every hospital) into one cache entry that serves every family, level and user (the scope filters the rows)."""
    return tuple(dict.fromkeys(i for f in catalogue().families.values() for i in f.ids))


def warm(wh, cur) -> None:
    """Compute the key indicators of 全院概览 / 科室视图 for every year of data, year and month grains, then every
    family of 绩效指标 (list and department pivot) per year (the job worker calls this at start and after every
    import / regroup, i.e. for each new data version)."""
    if engine() is None:
        return
    pages = {tuple(ids) for ids in key_indicators().values()}
    years = list(reversed(_years(wh, cur)))
    for y in years:
        for grain in ("year", "month"):
            for ids in pages:
                _raw(wh, cur, ids, str(y), grain, ("hospital", "department"))
    for y in years:    # 绩效指标: every family at both levels (list and department pivot)
        _raw(wh, cur, all_family_ids(), str(y), "year", LEVELS)


def _with_targets(rows: list[dict], targets: list[dict]) -> list[dict]:
    """Copies of engine rows with the engine's target status applied (the cached rows stay untouched)."""
    from yunying.indicators.targets import apply_targets
    out = [{k: r.get(k) for k in ROW_FIELDS} | {"level": r.get("level")} for r in rows]
    apply_targets(out, targets)
    return out


def _years(wh, cur) -> list[int]:
    key = (wh.uid, wh.version)
    found = _YEARS.get(key)
    if found is None:
        found = [r[0] for r in cur.execute("select distinct year(discharge_time) y from discharge "
                                           "where discharge_time is not null order by 1").fetchall()]
        _YEARS.clear()
        _YEARS[key] = found
    return found


_YEARS: dict[tuple, list[int]] = {}


def _period(wh, cur, year: int | None, month: int | None) -> tuple[int, list[int], str, str]:
    """(year, months, engine period label, grain)."""
    years = _years(wh, cur)
    year = year or (years[-1] if years else 2022)
    if month is not None:
        if not 1 <= month <= 12:
            raise bad_request("WEB-PARAM", f"月份应为 1–12，收到 {month}", f"month must be 1–12, got {month}")
        return year, [month], f"{year}-{month:02d}", "month"
    return year, list(range(1, 13)), str(year), "year"


def _rows_for(wh, cur, ids: tuple[str, ...], year: int, label: str, grain: str) -> list[dict]:
    rows = _raw(wh, cur, ids, str(year), grain, ("hospital", "department"))
    return [r for r in rows if r["period"] == label]


def _hospital(scope: Scope, hospitals_in_wh: list[str], hospital: str | None) -> tuple[str | None, list[str]]:
    """The hospital a page shows: the requested one, else the only (or first) hospital the user may see."""
    allowed = sorted(hospitals_in_wh if scope.hospitals is None else
                     [h for h in scope.hospitals if h in hospitals_in_wh])
    if hospital:
        return hospital, allowed
    return (allowed[0] if allowed else None), allowed


def _ind_public(ind) -> dict:
    return {"id": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en or ind.name_zh, "unit": ind.unit,
            "decimals": ind.decimals, "type": ind.type, "direction": ind.direction, "direction_zh": ind.direction_zh,
            "national_monitor": ind.national_monitor, "family": ind.family, "definition_zh": ind.definition_zh,
            "reading_zh": ind.reading_zh, "source": ind.source,
            "numerator": ind.numerator.label_zh if ind.numerator else None,
            "denominator": ind.denominator.label_zh if ind.denominator else None}


def dept_ranks(values: dict[str, float], direction: str, decimals: int = 2) -> tuple[list[str], dict[str, int]]:
    """The one department ranking of the web app (科室视图's 排名, 指标详情's 科室分布, a 科主任's own rank):
    departments with a value, best first by the indicator's direction (down 逐步降低: lowest first; up and
    monitor: highest first); values are compared as displayed (rounded to the catalogue precision), and equal
    values share the best rank (competition ranking 1, 2, 2, 4). Returns (order, {dept: rank})."""
    shown = {d: round(float(v), decimals) for d, v in values.items() if v is not None}
    best_low = direction == "down"
    order = sorted(shown, key=lambda d: (shown[d] if best_low else -shown[d], d))
    ranks: dict[str, int] = {}
    for n, d in enumerate(order):
        prev = order[n - 1] if n else None
        ranks[d] = ranks[prev] if prev is not None and shown[prev] == shown[d] else n + 1
    return order, ranks


def _card(ind, row: dict | None) -> dict:
    """One indicator as the dashboard shows it: the engine row's fields (value, 同比, target, status, reason)."""
    r = row or {}
    value = r.get("value")
    return {"id": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en or ind.name_zh, "unit": ind.unit,
            "decimals": ind.decimals,
            "direction": ind.direction, "national_monitor": ind.national_monitor, "value": value,
            "numerator": r.get("numerator"), "denominator": r.get("denominator"),
            "yoy_value": r.get("yoy_value"), "yoy_change": r.get("yoy_change"), "yoy_word": r.get("yoy_word"),
            "yoy_text": r.get("yoy_text"), "judgement": r.get("judgement"), "target": r.get("target"),
            "status": r.get("status") or "", "gap": r.get("gap"), "reason": r.get("reason") or "",
            "status_code": r.get("status_code") or "", "verdict": r.get("verdict") or "", "note": r.get("note") or "",
            "remarks": r.get("remarks") or [],
            "computed": value is not None, "period": r.get("period"), "sql_hash": r.get("sql_hash"),
            "fallback": r.get("fallback") or ""}


def _alerts(cards: list[dict]) -> list[dict]:
    from yunying.reports import fmt

    out = []
    for c in sorted((c for c in cards if c["status_code"] == "not_met"), key=lambda c: not c["national_monitor"]):
        v = fmt.display(c["value"], c["unit"], c.get("decimals"))
        out.append({"indicator": c["id"], "kind": "target",
                    "zh": f"{c['name_zh']} {v} 未达目标值 {c['target']}",
                    "en": f"{c['name_en']} {v} misses its target {c['target']}"})
    return out


def _pick(rows: list[dict], ind_id: str, hospital: str, dept: str | None) -> dict | None:
    """The engine row of one unit; a department of a hospital where the indicator is blocked gets the
    hospital's not-computable row (dept_code '*')."""
    found = blocked = None
    for r in rows:
        if r["indicator_id"] != ind_id or r["hospital_id"] != hospital:
            continue
        if dept is None:
            if r["level"] == "hospital":
                return r
        elif r["level"] == "department":
            if r["dept_code"] == dept:
                found = r
            elif r["dept_code"] == "*":
                blocked = r
    return found or blocked


# ---------------------------------------------------------------------------------------------------------------
# pages' data
# ---------------------------------------------------------------------------------------------------------------

def overview(wh, cur, scope: Scope, hospitals_in_wh: list[str], targets: list[dict], *, year=None, month=None,
             hospital=None) -> dict:
    scope.require("overview")
    hospital, _ = scope.resolve(hospital, None)
    if engine() is None:
        return {**not_installed(), "indicators": [], "alerts": []}
    hospital, allowed = _hospital(scope, hospitals_in_wh, hospital)
    year, months, label, grain = _period(wh, cur, year, month)
    cat = catalogue()
    ids = tuple(key_indicators()["overview"])
    rows = _with_targets([r for r in _rows_for(wh, cur, ids, year, label, grain)
                          if r["hospital_id"] == hospital and r["level"] == "hospital"], targets)
    cards = [_card(cat[i], _pick(rows, i, hospital, None)) for i in ids]
    return {"computed": True, "level": "hospital", "hospital": hospital, "hospitals": allowed, "year": year,
            "months": months, "period": label, "years": _years(wh, cur), "indicators": cards,
            "alerts": _alerts(cards), "source": "engine", "catalogue_version": cat.version}


def dept_view(wh, cur, scope: Scope, hospitals_in_wh: list[str], targets: list[dict], dept: str, *, year=None,
              month=None, hospital=None, dept_names: dict | None = None, dept_codes: set | None = None) -> dict:
    scope.require("dept")
    hospital, dept = scope.resolve(hospital, dept)
    if not dept:
        raise bad_request("WEB-PARAM", "请指定科室", "a department is required")
    names = dept_names or {}
    if dept not in (dept_codes or set()) and dept not in names:
        raise not_found(f"没有科室 {dept}", f"no department {dept}")
    if engine() is None:
        return {**not_installed(), "dept": dept, "dept_name": names.get(dept, dept), "indicators": [], "alerts": []}
    hospital, allowed = _hospital(scope, hospitals_in_wh, hospital)
    year, months, label, grain = _period(wh, cur, year, month)
    cat = catalogue()
    ids = tuple(key_indicators()["dept"])
    mine = [r for r in _rows_for(wh, cur, ids, year, label, grain) if r["hospital_id"] == hospital]
    own_rows = _with_targets([r for r in mine if r["level"] == "hospital" or r["dept_code"] in (dept, "*")],
                             targets)
    cards = []
    for i in ids:
        ind = cat[i]
        card = _card(ind, _pick(own_rows, i, hospital, dept))
        whole = _pick(own_rows, i, hospital, None)
        peer_values = {r["dept_code"]: r["value"] for r in mine if r["indicator_id"] == i
                       and r["level"] == "department" and r["value"] is not None and r["dept_code"] not in ("", "*")}
        card["hospital_value"] = whole.get("value") if whole else None
        card["peer_median"] = median(peer_values.values()) if peer_values else None
        card["n_peers"] = len(peer_values)
        order, ranks = dept_ranks(peer_values, ind.direction, ind.decimals)
        card["rank"] = ranks.get(dept)
        if not scope.is_dept_head:      # peers by name only for whole-hospital roles
            card["peers"] = [{"dept": d, "dept_name": names.get(d, d), "value": peer_values[d], "rank": ranks[d]}
                             for d in order]
        cards.append(card)
    return {"computed": True, "level": "dept", "dept": dept, "dept_name": names.get(dept, dept),
            "hospital": hospital, "hospitals": allowed, "year": year, "months": months, "period": label,
            "years": _years(wh, cur), "indicators": cards, "alerts": _alerts(cards), "source": "engine",
            "catalogue_version": cat.version}


def trend(wh, cur, ind_id: str, hospital: str | None, dept: str | None = None) -> list[dict]:
    """Monthly values of one engine indicator over every year of data (hospital, or one department); the
    caller has checked the scope."""
    out = []
    for y in _years(wh, cur):
        for r in _raw(wh, cur, (ind_id,), str(y), "month", ("hospital", "department")):
            if r["hospital_id"] == hospital and r["indicator_id"] == ind_id and \
                    ((dept is None and r["level"] == "hospital") or (dept and r["dept_code"] == dept)):
                out.append({"month": r["period"], "value": r["value"], "numerator": r["numerator"],
                            "denominator": r["denominator"]})
    return out


def indicator_detail(wh, cur, scope: Scope, hospitals_in_wh: list[str], targets: list[dict], ind_id: str, *,
                     year=None, month=None, dept=None, hospital=None, dept_names: dict | None = None) -> dict:
    """指标详情 of one engine indicator: definition, value, 同比, target status, monthly trend (every year of
    data), department breakdown; drill-down goes to the engine's records (/engine/cases)."""
    scope.require("indicators")
    hospital, dept = scope.resolve(hospital, dept)
    if engine() is None:
        raise not_found("指标引擎未安装", "the indicator engine is not installed")
    cat = catalogue()
    if ind_id not in cat.indicators:
        raise not_found(f"没有指标 {ind_id}", f"no indicator {ind_id}")
    ind = cat[ind_id]
    hospital, allowed = _hospital(scope, hospitals_in_wh, hospital)
    year, months, label, grain = _period(wh, cur, year, month)
    names = dept_names or {}
    ids = (ind_id,)
    rows = [r for r in _rows_for(wh, cur, ids, year, label, grain) if r["hospital_id"] == hospital]
    value = _card(ind, _pick(_with_targets([r for r in rows if r["level"] == "hospital" or
                                            r["dept_code"] in (dept, "*")], targets), ind_id, hospital, dept))
    series = trend(wh, cur, ind_id, hospital, dept)
    depts = [r for r in rows if r["level"] == "department" and r["dept_code"] not in ("", "*")]
    # the rank among all departments (科室视图's ranking, dept_ranks), also when a 科主任 sees only their own row
    order, ranks = dept_ranks({r["dept_code"]: r["value"] for r in depts}, ind.direction, ind.decimals)
    pos = {d: n for n, d in enumerate(order)}
    breakdown = [{"dept": r["dept_code"], "dept_name": names.get(r["dept_code"], r["dept_code"]),
                  "value": r["value"], "numerator": r["numerator"], "denominator": r["denominator"],
                  "yoy_change": r["yoy_change"], "yoy_text": r["yoy_text"], "judgement": r["judgement"],
                  "verdict": r["verdict"], "rank": ranks.get(r["dept_code"]), "n_ranked": len(ranks),
                  "reason": r["reason"], "note": r.get("note") or ""}
                 for r in depts if not scope.is_dept_head or r["dept_code"] == scope.dept]
    breakdown.sort(key=lambda b: (pos.get(b["dept"], len(pos)), b["dept"]))
    return {"indicator": _ind_public(ind), "value": value, "year": year, "months": months, "period": label,
            "years": _years(wh, cur), "dept": dept, "dept_name": names.get(dept, dept) if dept else None,
            "hospital": hospital, "hospitals": allowed, "trend": series, "breakdown": breakdown}


def catalogue_list() -> list[dict]:
    """Engine indicators that can carry a target (for the 系统管理 target editor)."""
    cat = catalogue()
    if cat is None:
        return []
    return [{"id": i.id, "name_zh": i.name_zh, "name_en": i.name_en or i.name_zh, "direction": i.direction,
             "unit": i.unit, "decimals": i.decimals}
            for i in cat.indicators.values() if i.type not in ("group", "unavailable")]


# ---------------------------------------------------------------------------------------------------------------
# 绩效指标 (families) and drill-down
# ---------------------------------------------------------------------------------------------------------------

def compute(wh, cur, scope: Scope, hospitals_in_wh: list[str], targets: list[dict], *,
            family: str = "tertiary-general", period: str | None = None, level: str = "hospital",
            dept: str | None = None, hospital: str | None = None, keep_blocked: bool = False) -> dict:
    """A family's engine rows for one year at hospital or department level, in the user's scope, with targets.
    keep_blocked: with a department filter, keep the rows that block an indicator for every department
    (dept_code '*', the not-computable reason) — the pivot shows them."""
    ind = engine()
    if ind is None:
        return not_installed()
    if level not in ("hospital", "department"):
        raise bad_request("WEB-PARAM", "level 应为 hospital 或 department", "level must be hospital or department")
    if scope.is_dept_head:
        level = "department"          # a 科主任 sees department values of their own department only
    scope.require("overview" if level == "hospital" else "dept")
    hospital, dept = scope.resolve(hospital, dept)
    cat = catalogue()
    try:
        fam = cat.family(family)
    except KeyError as exc:
        raise not_found(str(exc).split(" / ")[0].strip("'\""), f"unknown family {family}") from None
    if period is None:
        years = _years(wh, cur)
        period = str(years[-1]) if years else "2022"
    if not (period.isdigit() and len(period) == 4):
        raise bad_request("WEB-PARAM", f"期间应为年份（如 2022），收到 {period!r}", f"period must be a year, got {period!r}")
    try:
        family_rows = _family_rows(wh, cur, fam, period, level, targets)
    except Exception as exc:  # an engine problem is shown as such; the rest of the app keeps working
        return {"computed": False, "reason_zh": f"指标引擎计算出错：{exc}",
                "reason_en": f"the indicator engine failed: {exc}", "rows": []}
    clean = [r for r in family_rows if (scope.hospitals is None or r.get("hospital_id") in scope.hospitals)
             and (hospital is None or r.get("hospital_id") == hospital)
             and (dept is None or (r.get("dept_code") or "") == dept or (keep_blocked and r.get("dept_code") == "*"))]
    return {"computed": True, "family": {"key": fam.key, "name_zh": fam.name_zh, "name_en": fam.name_en},
            "families": families(), "period": period, "level": level, "dept": dept, "hospital": hospital,
            "rows": clean, "alerts": [r for r in clean if r["status_code"] == "not_met"],
            "n_computable": sum(1 for r in clean if r["value"] is not None)}


_FAMILY_ROWS: dict[tuple, list[dict]] = {}


def _family_rows(wh, cur, fam, period: str, level: str, targets: list[dict]) -> list[dict]:
    """One family's rows of one level (every hospital) in the family's order, targets applied — cached per data
    version, catalogue version and targets (their content), so a request only filters by scope; shared rows,
    callers do not modify them."""
    cat = catalogue()
    tkey = tuple(sorted(repr(sorted(t.items())) for t in targets))
    key = (wh.uid, wh.version, cat.version, fam.key, period, level, tkey)
    with _LOCK:
        found = _FAMILY_ROWS.get(key)
    if found is not None:
        return found
    rows = _raw(wh, cur, all_family_ids(), period, "year", LEVELS)
    order = {i: n for n, i in enumerate(dict.fromkeys(fam.ids))}
    out = [r for r in rows if r["indicator_id"] in order and r.get("level") == level]
    out.sort(key=lambda r: order[r["indicator_id"]])          # the family's order (stable within an indicator)
    found = _with_targets(out, targets)
    from yunying.reports import fmt
    for r in found:
        r.pop("level", None)
        r.pop("gap", None)
        r.pop("yoy_word", None)
        if isinstance(r["value"], float):
            r["value"] = round(r["value"], 4)
        # the value as shown (yunying.reports.fmt by the indicator's unit and precision), for the page scripts
        r["value_text"] = fmt.display(r["value"], r["unit"] or "", cat[r["indicator_id"]].decimals
                                      if r["indicator_id"] in cat.indicators else None)
    with _LOCK:
        if len(_FAMILY_ROWS) > 32:
            _FAMILY_ROWS.clear()
        _FAMILY_ROWS[key] = found
    return found


# ---------------------------------------------------------------------------------------------------------------
# 绩效指标 at department level: the pivot (indicator × department)
# ---------------------------------------------------------------------------------------------------------------

# status filter code -> engine status codes ('' = computed, no target set)
STATUS_FILTERS = {"met": ("met",), "not_met": ("not_met",), "no_target": ("",),
                  "not_computable": ("not_computable", "error")}
PIVOT_SIZE, PIVOT_DEPT_SIZE, PIVOT_MAX_SIZE = 20, 10, 100


def status_filter(status: str | None) -> str | None:
    if status in (None, ""):
        return None
    if status not in STATUS_FILTERS:
        raise bad_request("WEB-PARAM", f"状态 status 应为 {' / '.join(STATUS_FILTERS)}，收到 {status!r}",
                          f"status must be one of {', '.join(STATUS_FILTERS)}, got {status!r}")
    return status


def _status_of(row: dict) -> str:
    code = row.get("status_code") or ""
    for k, codes in STATUS_FILTERS.items():
        if code in codes:
            return k
    return "not_computable"


def _page(n: int, page: int, size: int) -> tuple[int, int]:
    """(page clamped to 1..last, number of pages)."""
    pages = max(1, -(-n // size))
    return min(max(1, page), pages), pages


def pivot(wh, cur, scope: Scope, hospitals_in_wh: list[str], targets: list[dict], *,
          family: str = "tertiary-general", period: str | None = None, hospital: str | None = None,
          dept: str | None = None, status: str | None = None, sort: str = "", order: str = "", page: int = 1,
          size: int = PIVOT_SIZE, dpage: int = 1, dsize: int = PIVOT_DEPT_SIZE,
          dept_names: dict | None = None) -> dict:
    """绩效指标 at department level as a pivot: one row per indicator of the family (catalogue order), one column
    per department (出院科别, by name), the engine's value and status in each cell. Server-side:
    * status filter (met / not_met / no_target / not_computable): cells of that status; indicators and
      departments without such a cell drop out;
    * sort: '' (indicators in catalogue order, departments by code), 'name' (departments by name), 'not_met'
      (indicators with most 未达标 departments first), or an indicator id of the family (departments by its
      value — best first by the indicator's direction, `order` asc/desc overrides; not computable last);
    * pages of `size` indicators and `dsize` departments (a page past the end shows the last one).
    Scope: compute()'s — a 科主任 gets their own department's column only."""
    status = status_filter(status)
    if order not in ("", "asc", "desc"):
        raise bad_request("WEB-PARAM", f"order 应为 asc 或 desc，收到 {order!r}", f"order must be asc or desc, got {order!r}")
    for name, v in (("size", size), ("dsize", dsize)):
        if not 1 <= v <= PIVOT_MAX_SIZE:
            raise bad_request("WEB-PARAM", f"{name} 应为 1–{PIVOT_MAX_SIZE}，收到 {v}",
                              f"{name} must be 1–{PIVOT_MAX_SIZE}, got {v}")
    scope.check_hospital(hospital)
    hospital, allowed = _hospital(scope, hospitals_in_wh, hospital)
    data = compute(wh, cur, scope, hospitals_in_wh, targets, family=family, period=period, level="department",
                   dept=dept, hospital=hospital, keep_blocked=True)
    if not data.get("computed"):
        return {**data, "level": "department", "pivot": True}
    cat = catalogue()
    fam_ids = cat.family(data["family"]["key"]).ids
    if sort not in ("", "name", "not_met") and sort not in fam_ids:
        raise bad_request("WEB-PARAM", f"排序 sort 应为 name、not_met 或本指标体系的指标编号，收到 {sort!r}",
                          f"sort must be name, not_met or an indicator id of the family, got {sort!r}")
    names = dept_names or {}
    cells: dict[tuple[str, str], dict] = {}
    blocked: dict[str, dict] = {}
    depts: set[str] = set()
    for r in data["rows"]:
        d = r.get("dept_code") or ""
        if d == "*":
            blocked[r["indicator_id"]] = r
        elif d:
            cells[(r["indicator_id"], d)] = r
            depts.add(d)
    with_cells = {k[0] for k in cells}
    ids = [i for i in dict.fromkeys(fam_ids) if i in blocked or i in with_cells]
    counts = {k: 0 for k in STATUS_FILTERS}
    for r in cells.values():
        counts[_status_of(r)] += 1

    def shown(i: str, d: str) -> bool:
        r = cells.get((i, d))
        return r is not None and (status is None or _status_of(r) == status)

    if status is not None:
        keep_d = {d for d in depts if any(shown(i, d) for i in ids)}
        ids = [i for i in ids if any(shown(i, d) for d in depts) or
               (i in blocked and status == "not_computable")]
        depts = keep_d
    dlist = sorted(depts)
    if sort == "name":
        dlist.sort(key=lambda d: (names.get(d, d), d))
    elif sort == "not_met":
        ids.sort(key=lambda i: -sum(1 for d in dlist if (r := cells.get((i, d))) and r.get("status_code") == "not_met"))
    elif sort:
        ind = cat[sort]
        desc = (order or ("asc" if ind.direction == "down" else "desc")) == "desc"
        vals = {d: (cells.get((sort, d)) or {}).get("value") for d in dlist}
        with_v = sorted((d for d in dlist if vals[d] is not None), key=lambda d: (vals[d], d), reverse=desc)
        dlist = with_v + [d for d in dlist if vals[d] is None]
    n_rows, n_depts = len(ids), len(dlist)
    page, pages = _page(n_rows, page, size)
    dpage, dpages = _page(n_depts, dpage, dsize)
    page_ids = ids[(page - 1) * size: page * size]
    page_depts = dlist[(dpage - 1) * dsize: dpage * dsize]
    rows = []
    for i in page_ids:
        ind = cat[i]
        b = blocked.get(i)
        row_cells = []
        for d in page_depts:
            r = cells.get((i, d)) or b
            if r is None or (status is not None and _status_of(r) != status):
                row_cells.append(None)
                continue
            row_cells.append({"value": r.get("value"), "status_code": r.get("status_code") or "",
                              "status": _status_of(r), "target": r.get("target"), "reason": r.get("reason") or "",
                              "numerator": r.get("numerator"), "denominator": r.get("denominator"),
                              "yoy_text": r.get("yoy_text") or "", "fallback": r.get("fallback") or "",
                              "note": r.get("note") or "", "blocked": r is b})
        notes = list(dict.fromkeys(c["note"] for c in row_cells if c and c["fallback"] and c["note"]))
        eff = order or ("asc" if ind.direction == "down" else "desc")      # this indicator's order when sorted by it
        rows.append({"sorted": eff if sort == i else "", "next_order": ("asc" if eff == "desc" else "desc")
                     if sort == i else "", "id": i, "name_zh": ind.name_zh, "name_en": ind.name_en or ind.name_zh, "unit": ind.unit,
                     "decimals": ind.decimals, "direction": ind.direction, "national_monitor": ind.national_monitor,
                     "blocked_reason": (b.get("reason") or "") if b and i not in with_cells else "",
                     "notes": notes, "cells": row_cells})
    return {"computed": True, "pivot": True, "level": "department", "family": data["family"],
            "families": data["families"], "period": data["period"], "hospital": hospital, "hospitals": allowed,
            "dept": data["dept"], "status": status, "sort": sort, "order": order, "counts": counts,
            "depts": [{"code": d, "name": names.get(d, d)} for d in page_depts], "rows": rows,
            "pages": {"page": page, "pages": pages, "size": size, "n_rows": n_rows,
                      "dpage": dpage, "dpages": dpages, "dsize": dsize, "n_depts": n_depts}}


def list_page(data: dict, status: str | None, page: int, size: int) -> dict:
    """绩效指标 at hospital level: compute()'s rows filtered by status and cut into pages of `size` indicators."""
    status = status_filter(status)
    if not 1 <= size <= PIVOT_MAX_SIZE:
        raise bad_request("WEB-PARAM", f"size 应为 1–{PIVOT_MAX_SIZE}，收到 {size}", f"size must be 1–{PIVOT_MAX_SIZE}, got {size}")
    if not data.get("computed"):
        return data
    rows = [r for r in data["rows"] if status is None or _status_of(r) == status]
    page, pages = _page(len(rows), page, size)
    cat = catalogue()
    shown = [{**r, "decimals": cat[r["indicator_id"]].decimals} for r in rows[(page - 1) * size: page * size]]
    return {**data, "status": status, "rows": shown, "n_total": len(data["rows"]),
            "pages": {"page": page, "pages": pages, "size": size, "n_rows": len(rows)}}


def cases(wh, cur, scope: Scope, hospitals_in_wh: list[str], indicator_id: str, *, period: str,
          dept: str | None = None, hospital: str | None = None, part: str = "numerator",
          limit: int = CASE_LIMIT) -> dict:
    """Records behind an engine value (numerator or denominator), restricted to the user's scope; identifiers
    masked unless the role allows. The page shows the first CASE_LIMIT; the CSV export asks for more."""
    ind = engine()
    if ind is None:
        return not_installed()
    scope.require("cases")
    hospital, dept = scope.resolve(hospital, dept)
    if not hospital:
        allowed = hospitals_in_wh if scope.hospitals is None else list(scope.hospitals)
        hospital = allowed[0] if len(allowed) == 1 else None
    if hospital is None:
        raise bad_request("WEB-PARAM", "请指定医院 hospital", "a hospital is required")
    if part not in ("numerator", "denominator"):
        raise bad_request("WEB-PARAM", "part 应为 numerator 或 denominator", "part must be numerator or denominator")
    cat = catalogue()
    if indicator_id not in cat.indicators:
        raise not_found(f"没有指标 {indicator_id}", f"no indicator {indicator_id}")
    level = "department" if dept else "hospital"
    key = {"hospital_id": hospital, **({"dept_code": dept} if dept else {})}
    try:
        res = ind.cases(cur, cat, indicator_id, period=period, level=level, key=key, part=part, limit=limit)
    except Exception as exc:  # e.g. an external (manually entered) indicator has no records
        return {"computed": False, "reason_zh": f"该指标没有可下钻的记录：{exc}",
                "reason_en": f"no records to drill into: {exc}", "rows": [], "columns": []}
    rows = [dict(zip(res.columns, r)) for r in res.rows]
    if scope.is_dept_head and rows and "dept_code" in res.columns:
        if any(r.get("dept_code") not in (scope.dept, None) for r in rows):
            raise forbidden("WEB-FORBIDDEN-DEPT", "科主任只能查看本科室的数据", "department heads see their own department only")
    from yunying.web.labels import contribution_labels
    ind_obj = cat[indicator_id]
    measure = ind_obj.numerator if part == "numerator" else ind_obj.denominator
    return {"computed": True, "indicator": {"id": indicator_id, "name_zh": cat[indicator_id].name_zh,
                                            "name_en": cat[indicator_id].name_en},
            "measure_zh": measure.label_zh if measure else "",
            "column_labels": {lang: contribution_labels(measure, list(res.columns), lang) for lang in ("zh", "en")},
            "period": period, "hospital": hospital, "dept": dept, "part": part, "columns": res.columns,
            "rows": mask_rows(rows, scope.see_pii), "masked": not scope.see_pii, "limit": limit}
