"""Compile the indicator catalogue to SQL over the semantic views and run it (DuckDB here, Spark via spark.py).

One aggregate query per view scans the period range once and computes every measure the requested indicators use;
values, 同比/环比, growth rates, derived values, availability ("not computable: missing …"), targets and alerts
are assembled from those results. `cases()` lists the records behind a numerator or denominator.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import sqlglot
from sqlglot import exp

from yunying.indicators.catalogue import REF_RE, Catalogue, Fallback, Indicator, Measure
from yunying.indicators.views import SCHEME_VIEWS, VIEWS, need_label
from yunying.indicators.wording import (amount_text, change_phrase, direction_code, money_decimals, number,
                                        verdict_code, word)

COLUMNS = ["indicator_id", "name", "period", "hospital_id", "dept_code", "numerator", "denominator", "value",
           "unit", "yoy_value", "yoy_change", "target", "status"]
EXTRA_COLUMNS = ["mom_value", "mom_change", "yoy_word", "yoy_text", "judgement", "direction", "national_monitor",
                 "family", "doctor_group", "gap", "reason", "name_en", "catalogue_version", "sql_hash", "level",
                 "mom_word", "mom_text", "mom_judgement", "yoy_dir", "mom_dir", "verdict", "mom_verdict",
                 "status_code", "fallback", "note", "remarks"]
GRAINS = ("month", "quarter", "year")
GRAIN_MONTHS = {"month": 1, "quarter": 3, "year": 12}
LEVEL_KEYS = {"hospital": ["hospital_id"], "department": ["hospital_id", "dept_code"],
              "doctor": ["hospital_id", "dept_code", "doctor_group"], "region": ["region_code"]}
NOT_COMPUTABLE = "不可计算"
ERROR = "错误"

Query = Callable[[str], list[tuple]]


# ---------------------------------------------------------------- periods

def _add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)


def parse_period(text: str) -> tuple[date, date]:
    """'2022' / '2022Q3' / '2022-03' → [start, end)."""
    s = str(text).strip()
    if m := re.fullmatch(r"(\d{4})", s):
        y = int(m[1])
        return date(y, 1, 1), date(y + 1, 1, 1)
    if m := re.fullmatch(r"(\d{4})[Qq]([1-4])", s):
        start = date(int(m[1]), 3 * int(m[2]) - 2, 1)
        return start, _add_months(start, 3)
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", s):
        if not 1 <= int(m[2]) <= 12:
            raise ValueError(f"月份无效 / bad month: {text!r}")
        start = date(int(m[1]), int(m[2]), 1)
        return start, _add_months(start, 1)
    raise ValueError(f"期间格式应为 2022 / 2022Q1 / 2022-01，收到 {text!r} / period must look like 2022, 2022Q1 or 2022-01")


def period_grain(text: str) -> str:
    """The grain a period is written at: '2022' → year, '2022Q3' → quarter, '2022-03' → month."""
    s = str(text).strip()
    parse_period(s)
    return "quarter" if "q" in s.lower() else "month" if "-" in s else "year"


def period_label(start: date, grain: str) -> str:
    if grain == "year":
        return f"{start.year}"
    if grain == "quarter":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def _to_date(v) -> date:
    if isinstance(v, date):
        return date(v.year, v.month, v.day)
    return date.fromisoformat(str(v)[:10])


# ---------------------------------------------------------------- backends

def duckdb_query(con) -> Query:
    return lambda sql: con.execute(sql).fetchall()


def _num(v):
    if v is None or isinstance(v, str):        # a remark may state a text (e.g. a reference's source)
        return v
    if isinstance(v, bool):
        return float(v)
    return float(v)


def _q(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


# ---------------------------------------------------------------- compile

@dataclass
class ViewQuery:
    view: str
    levels: list[str]            # levels answered by this query (several = one scan with GROUPING SETS)
    sql: str
    measures: list[str]          # measure SQL in column order (m0, m1 …)
    needs: list[str]             # columns counted for availability in the requested period (a0, a1 …)


@dataclass
class Plan:
    indicators: list[Indicator]          # requested (expanded: parts of groups)
    needed: dict[str, Indicator]         # requested + dependencies (bases, derived refs)
    measures: dict[str, list[str]]       # view → distinct measure SQL
    sql: dict[str, str]                  # view → compiled SQL (for explain and the SQL hash)
    levels: list[str]
    grain: str
    start: date
    end: date
    ext_start: date
    scheme: str | None
    queries: list[ViewQuery]
    hospitals: list[str] | None = None


def _expand(catalogue: Catalogue, ids: Iterable[str]) -> tuple[list[Indicator], dict[str, Indicator]]:
    req: list[Indicator] = []
    seen: set[str] = set()

    def add_req(i: str) -> None:
        if i in seen:
            return
        seen.add(i)
        ind = catalogue[i]
        if ind.type == "group":
            for p in ind.parts:
                add_req(p)
        else:
            req.append(ind)

    for i in ids:
        add_req(i)
    needed: dict[str, Indicator] = {}

    def dep(ind: Indicator) -> None:
        if ind.id in needed:
            return
        needed[ind.id] = ind
        if ind.base:
            dep(catalogue[ind.base])
        if ind.alt_use:
            dep(catalogue[ind.alt_use])
        for r in REF_RE.findall(ind.expr):
            dep(catalogue[r])

    for ind in req:
        dep(ind)
    return req, needed


def _measures_of(ind: Indicator) -> list[Measure]:
    return [m for m in (ind.numerator, ind.denominator) if m is not None]


def _fast_sql(sql: str) -> str:
    """count(*) filter (where c) → count_if(c): same value, noticeably faster in DuckDB (and COUNT_IF in Spark)."""
    tree = sqlglot.parse_one(sql, read="duckdb")

    def rw(n):
        if isinstance(n, exp.Filter) and isinstance(n.this, exp.Count) and isinstance(n.this.this, exp.Star):
            return exp.CountIf(this=n.expression.this.copy())
        return n

    return tree.transform(rw).sql(dialect="duckdb")


def _period_expr(grain: str) -> str:
    if grain == "month":
        return "period_month"
    return f"cast(date_trunc('{grain}', period_month) as date)"


def _level_cols(view: str, level: str) -> list[str] | None:
    if level == "doctor" and not VIEWS[view].has_doctor:
        return None
    return LEVEL_KEYS[level]


# grouping columns per level inside the per-view subquery (region_key = coalesced region code)
_GROUP_COLS = {"hospital": ["hospital_id"], "department": ["hospital_id", "dept_code"],
               "doctor": ["hospital_id", "dept_code", "doctor_group"], "region": ["region_key"]}
_LEVEL_ORDER = ["region", "doctor", "department", "hospital"]
_DISTINCT_COL = {"region": "region_key", "doctor": "doctor_group", "department": "dept_code"}


def _where(view: str, level: str, start: date, end: date, hospitals: list[str] | None,
           scheme: str | None) -> str:
    conds = [f"period_month >= date '{start.isoformat()}'", f"period_month < date '{end.isoformat()}'"]
    lf = VIEWS[view].level_filter.get(level)
    if lf:
        conds.append(lf)
    if hospitals:
        conds.append("hospital_id in (" + ", ".join(_q(h) for h in hospitals) + ")")
    if view in SCHEME_VIEWS and scheme:
        conds.append(f"scheme = {_q(scheme)}")
    return " and ".join(conds)


def _view_sql(view: str, levels: list[str], grain: str, start: date, end: date, ext_start: date,
              hospitals: list[str] | None, scheme: str | None, measures: list[str], needs: list[str]) -> str:
    lf_level = levels[0] if levels[0] != "doctor" else "department"
    sub = (f"select *, {_period_expr(grain)} as period_start, coalesce(region_code, '(未设区域)') as region_key "
           f"from {VIEWS[view].sql_name} where {_where(view, lf_level, ext_start, end, hospitals, scheme)}")
    ordered = [lv for lv in _LEVEL_ORDER if lv in levels]
    if len(ordered) == 1:
        lvl = f"'{ordered[0]}'"
    else:
        lvl = "case " + " ".join(f"when grouping({_DISTINCT_COL[lv]}) = 0 then '{lv}'" for lv in ordered[:-1]) + \
            f" else '{ordered[-1]}' end"
    used = {c for lv in levels for c in _GROUP_COLS[lv]}
    k0 = ("coalesce(" + ", ".join(([ "region_key"] if "region_key" in used else []) +
                                  (["cast(hospital_id as varchar)"] if "hospital_id" in used else []) + ["''"]) + ")")
    k1 = "coalesce(cast(dept_code as varchar), '')" if "dept_code" in used else "''"
    k2 = "coalesce(cast(doctor_group as varchar), '')" if "doctor_group" in used else "''"
    sel = [f"{lvl} as _lvl", f"{k0} as k0", f"{k1} as k1", f"{k2} as k2", "period_start"]
    sel += [f"{_fast_sql(m)} as m{i}" for i, m in enumerate(measures)]
    sel += [f"count({c}) filter (where period_month >= date '{start.isoformat()}') as a{i}"
            for i, c in enumerate(needs)]
    if len(levels) == 1:
        group = "group by " + ", ".join(_GROUP_COLS[levels[0]] + ["period_start"])
    else:
        group = "group by grouping sets (" + ", ".join(
            "(" + ", ".join(_GROUP_COLS[lv] + ["period_start"]) + ")" for lv in ordered) + ")"
    return f"select {', '.join(sel)}\nfrom ({sub}) t\n{group}"


def compile_plan(catalogue: Catalogue, ids: Iterable[str], *, period: str, grain: str = "year",
                 level: str | list[str] = "hospital", hospitals: list[str] | None = None,
                 scheme: str | None = None) -> Plan:
    """Compile the requested indicators (and their dependencies) to one query per view and level filter.

    `level` may be a list: levels sharing a view's rows are answered by one scan with GROUPING SETS."""
    levels = [level] if isinstance(level, str) else list(dict.fromkeys(level))
    if grain not in GRAINS:
        raise ValueError(f"粒度应为 month/quarter/year / grain must be month, quarter or year: {grain!r}")
    for lv in levels:
        if lv not in LEVEL_KEYS:
            raise ValueError(f"层级应为 hospital/department/doctor/region / bad level {lv!r}")
    start, end = parse_period(period)
    span = (end.year - start.year) * 12 + end.month - start.month
    if GRAIN_MONTHS[grain] > span:
        raise ValueError(f"粒度 {grain} 大于期间 {period} / grain {grain} is coarser than period {period}")
    if (start.month - 1) % GRAIN_MONTHS[grain]:
        raise ValueError(f"期间 {period} 与粒度 {grain} 不对齐 / period not aligned to grain")
    req, needed = _expand(catalogue, ids)
    back = 24 if any(i.type == "growth" for i in needed.values()) else 12
    ext_start = _add_months(start, -back)
    measures: dict[str, list[str]] = {}
    for ind in needed.values():
        for m in _measures_of(ind) + [rm.measure for rm in ind.remarks]:
            lst = measures.setdefault(m.over, [])
            if m.sql not in lst:
                lst.append(m.sql)
    for ind in req:                      # conditions of fallback readings (readings.yaml), same scans
        for _, m in fallback_measures(ind, catalogue) + (
                fallback_measures(catalogue[ind.alt_use], catalogue) if ind.alt_use else []):
            lst = measures.setdefault(m.over, [])
            if m.sql not in lst:
                lst.append(m.sql)
    plan_needs: dict[str, list[str]] = {}
    for ind in needed.values():
        for n in _needs(ind):
            v, _, c = n.partition(".")
            if c not in plan_needs.setdefault(v, []):
                plan_needs[v].append(c)
    queries: list[ViewQuery] = []
    for view, msql in measures.items():
        by_filter: dict[str, list[str]] = {}
        for lv in levels:
            if _level_cols(view, lv) is None:
                continue
            by_filter.setdefault(VIEWS[view].level_filter.get(lv if lv != "doctor" else "department", ""),
                                 []).append(lv)
        for lvs in by_filter.values():
            needs = plan_needs.get(view, [])
            queries.append(ViewQuery(view, lvs, _view_sql(view, lvs, grain, start, end, ext_start, hospitals,
                                                         scheme, msql, needs), msql, needs))
    sql = {}
    for q in queries:
        sql[q.view] = (sql[q.view] + ";\n" if q.view in sql else "") + q.sql
    return Plan(req, needed, measures, sql, levels, grain, start, end, ext_start, scheme, queries, hospitals)


# ---------------------------------------------------------------- definition hash and lint

@lru_cache(maxsize=4096)
def _compiled_measure(sql: str) -> str:
    return _fast_sql(sql)


def definition_hash(catalogue: Catalogue, ind: Indicator) -> str:
    """sql_hash of one indicator: sha256 (12 hex) of its own definition — id, type, unit, scale, offset, needs,
    levels, each measure's view and compiled SQL, expr, missing-data reading — plus the hashes of the definitions it
    references (growth base, derived refs, group parts). Independent of the batch, period and level it was computed
    with, and of every other indicator; the catalogue as a whole is identified by catalogue_version."""
    return _definition_hash(catalogue, ind.id, ())


def _definition_hash(catalogue: Catalogue, iid: str, stack: tuple[str, ...]) -> str:
    ind = catalogue[iid]
    if iid in stack:                     # a cycle is a catalogue error; never recurse forever
        return "cycle:" + iid
    refs = list(dict.fromkeys(([ind.base] if ind.base else []) + REF_RE.findall(ind.expr) + list(ind.parts)))
    doc = {
        "id": ind.id, "type": ind.type, "unit": ind.unit, "scale": ind.scale, "offset": ind.offset,
        "needs": list(ind.needs), "levels": list(ind.levels), "expr": ind.expr, "missing": ind.missing_en or
        ind.missing_zh,
        "measures": [[part, m.over, VIEWS[m.over].sql_name if m.over in VIEWS else "", _compiled_measure(m.sql)]
                     for part, m in (("numerator", ind.numerator), ("denominator", ind.denominator))
                     if m is not None],
        "refs": {r: _definition_hash(catalogue, r, stack + (iid,)) for r in refs if r in catalogue.indicators},
    }
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def lint_sql(catalogue: Catalogue, con=None) -> list[str]:
    """Compile every measure of the catalogue against the current schema: `con`'s warehouse, else an empty one
    built from the migrations. The database binds each compiled measure (`select … from <view> where false`), so an
    unknown SQL function, a wrong argument type or an unknown column fails here and not at compute time.
    Returns 'file:line: id part: error' lines (empty = clean)."""
    from yunying.warehouse.db import connect

    own = con is None
    if own:
        con = connect(":memory:")
    try:
        _economics_views(con, ["drg_case"])
        errors: list[str] = []
        seen: dict[tuple[str, str], str] = {}
        for ind in catalogue.indicators.values():
            for part, m in (("numerator", ind.numerator), ("denominator", ind.denominator)):
                if m is None or m.over not in VIEWS:
                    continue
                k = (m.over, m.sql)
                if k not in seen:
                    try:
                        con.execute(f"select {_compiled_measure(m.sql)} from {VIEWS[m.over].sql_name} where false"
                                    ).fetchall()
                        seen[k] = ""
                    except Exception as exc:  # noqa: BLE001 — any binder / parser error is the finding
                        seen[k] = str(exc).splitlines()[0][:300]
                if seen[k]:
                    errors.append(f"{ind.where}: {ind.id} {part}: SQL 无法在当前结构上编译 / does not compile "
                                  f"against the current schema ({m.over}: {m.sql}): {seen[k]}")
            if ind.type == "derived" and ind.expr:
                try:                     # the evaluator's own arithmetic (+ - × ÷, numbers, {ID} references)
                    _eval_expr(ind.expr, {r: 1.0 for r in REF_RE.findall(ind.expr)})
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"{ind.where}: {ind.id} expr: 表达式无法计算 / cannot evaluate {ind.expr!r}: {exc}")
        return errors
    finally:
        if own:
            con.close()


# ---------------------------------------------------------------- run

def _latest_scheme(query: Query) -> str | None:
    """The most recently grouped DRG scheme that has a weight set (econ_weight_set), else the most recently
    grouped one: all DRG indicators of a run read this one scheme (`--scheme` overrides)."""
    try:
        rows = query("select scheme, max(grouped_at) as t from drg_result group by scheme order by t desc")
    except Exception:  # noqa: BLE001 — no DRG table in a foreign warehouse
        return None
    if not rows:
        return None
    try:
        weighted = {r[0] for r in query("select distinct scheme from econ_weight_set")}
    except Exception:  # noqa: BLE001 — warehouse without the economics tables
        weighted = set()
    return next((r[0] for r in rows if r[0] in weighted), rows[0][0])


def _economics_views(con, views: Iterable[str]) -> None:
    """v_drg_case reads the DRG economics view drg_metric_case: (re)create the economics views first (on a
    read-only warehouse the stored ones are used; without any, v_drg_case reads migration 0050's empty
    placeholder and the indicators are reported not computable)."""
    if con is None or "drg_case" not in set(views):
        return
    from yunying.economics.errors import EconomicsError
    from yunying.economics.views import create_views

    try:
        create_views(con)
    except EconomicsError:
        pass


def _hospitals(query: Query, hospitals: list[str] | None) -> list[tuple[str, str]]:
    rows = query("select hospital_id, coalesce(region_code, '(未设区域)') from hospital order by hospital_id")
    if hospitals:
        rows = [r for r in rows if r[0] in hospitals]
    return [(r[0], r[1]) for r in rows]


@dataclass
class _Results:
    values: dict[tuple[str, str], dict[tuple, float | None]]     # (view, sql) → {(key, pstart): v}
    present: dict[str, set[tuple[str, date]]]                    # view → {(unit, pstart)}
    avail: dict[str, dict[str, bool]]                            # 'view.col' → {unit: has data}
    errors: dict[tuple[str, str], str] = field(default_factory=dict)   # (view, sql) → database error


def _split_on_error(plan: Plan, q: ViewQuery, query: Query) -> list[tuple[ViewQuery, list[tuple] | str]]:
    """Run a view's query; when the database rejects it, run each measure alone so that one bad measure (a user
    formula the database cannot evaluate) becomes an error result for its indicators and the rest still runs."""
    try:
        return [(q, query(q.sql))]
    except Exception as exc:  # noqa: BLE001 — any database error
        first = str(exc).splitlines()[0][:300]
    if len(q.measures) <= 1:
        return [(q, first)]
    out = []
    parts = [([], q.needs)] + [([m], []) for m in q.measures]
    for ms, needs in parts:
        sub = ViewQuery(q.view, q.levels, _view_sql(q.view, q.levels, plan.grain, plan.start, plan.end,
                                                     plan.ext_start, plan.hospitals, plan.scheme, ms, needs), ms, needs)
        try:
            out.append((sub, query(sub.sql)))
        except Exception as exc:  # noqa: BLE001
            out.append((sub, str(exc).splitlines()[0][:300]))
    return out


def _run_plan(plan: Plan, query: Query) -> dict[str, _Results]:
    out = {lv: _Results({}, {}, {}) for lv in plan.levels}
    for q0 in plan.queries:
        for q, rows in _split_on_error(plan, q0, query):
            _collect(out, q, rows)
    return out


def _collect(out: dict[str, _Results], q: ViewQuery, rows: list[tuple] | str) -> None:
    if isinstance(rows, str):
        for lv in q.levels:
            for s in q.measures:
                out[lv].errors[(q.view, s)] = rows
        return
    for lv in q.levels:
        res = out[lv]
        res.present.setdefault(q.view, set())
        for s in q.measures:
            res.values[(q.view, s)] = {}
        for c in q.needs:
            res.avail[f"{q.view}.{c}"] = {}
    nm = len(q.measures)
    for r in rows:
        lv = r[0]
        res = out[lv]
        key = tuple(r[1:1 + len(LEVEL_KEYS[lv])])
        p = _to_date(r[4])
        res.present[q.view].add((key[0], p))
        for i, s in enumerate(q.measures):
            res.values[(q.view, s)][(key, p)] = _num(r[5 + i])
        for i, c in enumerate(q.needs):
            if r[5 + nm + i]:
                res.avail[f"{q.view}.{c}"][key[0]] = True


def _availability(plan: Plan, level: str, query: Query, hospitals: list[str] | None,
                  folded: dict[str, dict[str, bool]] | None = None) -> dict[str, dict[str, bool]]:
    """need ('view.column') → {unit (hospital or region): has data in the requested period}.

    Needs of views already scanned by the plan come from the main queries (folded); others are queried here."""
    needs_by_view: dict[str, set[str]] = {}
    for ind in plan.needed.values():
        for n in _needs(ind):
            v, _, c = n.partition(".")
            if folded is not None and n in folded:
                continue
            needs_by_view.setdefault(v, set()).add(c)
    unit = "coalesce(region_code, '(未设区域)')" if level == "region" else "hospital_id"
    lvl = "hospital" if level in ("hospital", "region") else "department"
    out: dict[str, dict[str, bool]] = dict(folded or {})
    for v, cs in needs_by_view.items():
        cs = sorted(cs)
        where = _where(v, lvl, plan.start, plan.end, hospitals, plan.scheme)
        sql = (f"select {unit}, " + ", ".join(f"count({c})" for c in cs) +
               f" from {VIEWS[v].sql_name} where {where} group by 1")
        for c in cs:
            out[f"{v}.{c}"] = {}
        try:
            rows = query(sql)
        except Exception:  # noqa: BLE001 — view absent or broken: its data counts as missing
            rows = []
        for r in rows:
            for i, c in enumerate(cs):
                out[f"{v}.{c}"][r[0]] = (r[i + 1] or 0) > 0
    return out


def _needs(ind: Indicator) -> list[str]:
    out = list(ind.needs)
    for m in _measures_of(ind):
        n = f"{m.over}.period_month"
        if n not in out:
            out.append(n)
    return out


class _Evaluator:
    """Values per indicator, key and period start, with reasons for missing values (memoised)."""

    def __init__(self, catalogue: Catalogue, plan: Plan, res: _Results, manual: dict, lang: str = "zh"):
        self.c, self.plan, self.res, self.manual, self.lang = catalogue, plan, res, manual, lang
        self.memo: dict = {}
        self._kidx: dict = {}
        self._limits: dict = {}

    def measure(self, m: Measure | None, key: tuple, p: date) -> float | None:
        if m is None:
            return None
        vals = self.res.values.get((m.over, m.sql))
        if vals is None:
            return None
        if (key, p) in vals:
            v = vals[(key, p)]
            return 0.0 if v is None and _is_count(m.sql) else v
        if (key[0], p) in self.res.present.get(m.over, ()):
            return 0.0 if _is_count(m.sql) else None
        return None

    def keys(self, ind: Indicator, p: date) -> set[tuple]:
        if ind.type == "derived":
            out: set = set()
            for r in REF_RE.findall(ind.expr):
                out |= self.keys(self.c[r], p)
            return out
        if ind.type == "growth" and ind.base:
            return self.keys(self.c[ind.base], p)
        out = set()
        for m in _measures_of(ind):
            out |= self._keys_at(m.over, m.sql).get(p, set())
        return out

    def _keys_at(self, view: str, sql: str) -> dict[date, set]:
        idx = self._kidx.get((view, sql))
        if idx is None:
            idx = {}
            for (k, pp) in self.res.values.get((view, sql), {}):
                idx.setdefault(pp, set()).add(k)
            self._kidx[(view, sql)] = idx
        return idx

    def remarks(self, ind: Indicator, key: tuple, p: date) -> list[dict]:
        """The indicator's remarks that apply to this value: [{code, value, limit, warn, text_zh, text_en}]."""
        return remark_entries(ind.remarks, lambda rm: self.measure(rm.measure, key, p), self._limits)

    def value(self, ind: Indicator, key: tuple, p: date) -> tuple[float | None, float | None, float | None, str]:
        mk = (ind.id, key, p)
        if mk not in self.memo:
            self.memo[mk] = self._value(ind, key, p)
        return self.memo[mk]

    def _base(self, ind: Indicator, key: tuple, p: date) -> float | None:
        if ind.base:
            return self.value(self.c[ind.base], key, p)[2]
        num = self.measure(ind.numerator, key, p)
        if ind.denominator is None:
            return num
        den = self.measure(ind.denominator, key, p)
        if num is None or not den:
            return None
        return num / den

    def _value(self, ind: Indicator, key: tuple, p: date):
        t = ind.type
        if t in ("count", "sum"):
            num = self.measure(ind.numerator, key, p)
            return num, None, None if num is None else num * ind.scale, "" if num is not None else "数据缺失"
        if t == "ratio":
            num = self.measure(ind.numerator, key, p)
            den = self.measure(ind.denominator, key, p)
            if num is None or den is None:
                return num, den, None, "数据缺失 / data missing"
            if den == 0:
                return num, den, None, "分母为0 / denominator is zero"
            return num, den, num / den * ind.scale, ""
        if t == "growth":
            months = 12 if ind.offset == "yoy" else GRAIN_MONTHS[self.plan.grain]
            cur = self._base(ind, key, p)
            prev = self._base(ind, key, _add_months(p, -months))
            if cur is None:
                return None, None, None, "本期数据缺失 / no data for this period"
            if prev is None:
                return None, None, None, "缺少上年同期数据 / no data for the same period last year" \
                    if ind.offset == "yoy" else "缺少上期数据 / no data for the previous period"
            if prev == 0:
                return cur - prev, prev, None, "上期值为0 / base is zero"
            return cur - prev, prev, (cur - prev) / prev * ind.scale, ""
        if t == "derived":
            vals = {}
            for r in REF_RE.findall(ind.expr):
                v = self.value(self.c[r], key, p)[2]
                if v is None:
                    return None, None, None, f"{r} 无值 / {r} has no value"
                vals[r] = v
            v = _eval_expr(ind.expr, vals)
            return v, None, None if v is None else v * ind.scale, ""
        if t == "external":
            v = self.manual.get((ind.id, key[0], key[1] if len(key) > 1 else "", period_label(p, self.plan.grain)))
            return v, None, v, "" if v is not None else "未录入 / not entered"
        return None, None, None, ""


def remark_entries(remarks: list, value_of: Callable, limits: dict | None = None) -> list[dict]:
    """Remarks that apply, given each remark's value (`value_of(remark)`): shown always, when positive, or when
    below their limit (a number or a setting); [{code, value, limit, warn, text_zh, text_en}]."""
    limits = {} if limits is None else limits
    out = []
    for rm in remarks:
        v = value_of(rm)
        if v is None:
            continue
        if not isinstance(v, str):
            v = float(v)
        if rm.limit not in limits:
            limits[rm.limit] = _remark_limit(rm.limit)
        limit = limits[rm.limit]
        if rm.show == "positive" and not (isinstance(v, float) and v > 0):
            continue
        if rm.show == "below" and not (isinstance(v, float) and limit is not None and v < limit):
            continue
        shown = {"value": _plain(v), "limit": _plain(limit)}
        out.append({"code": rm.code, "value": v, "limit": limit, "warn": rm.warn,
                    "text_zh": rm.zh.format(**shown), "text_en": rm.en.format(**shown)})
    return out


def _plain(v) -> str:
    """A remark's number as people write it: 12, not 12.0."""
    if isinstance(v, float):
        return str(int(v)) if v == int(v) else f"{v:g}"
    return "" if v is None else str(v)


def _remark_limit(limit) -> float | None:
    """A remark's limit: a number, or the name of a setting (yunying.toml / YUNYING_<NAME>, docs/indicators.md)."""
    if limit is None or isinstance(limit, (int, float)):
        return None if limit is None else float(limit)
    from yunying.settings import load_settings

    v = getattr(load_settings(), str(limit), None)
    return None if v is None else float(v)


def _is_count(sql: str) -> bool:
    s = sql.strip().lower()
    return (s.startswith("count(") or s.startswith("coalesce(")) and "/" not in s and " - " not in s


@lru_cache(maxsize=None)
def _parse_expr(expr: str) -> tuple[tuple[str, ...], exp.Expression]:
    refs: list[str] = []

    def sub(m):
        refs.append(m[1])
        return f"r{len(refs) - 1}"

    tree = sqlglot.parse_one(REF_RE.sub(sub, expr), read="duckdb")
    return tuple(refs), tree


def _eval_expr(expr: str, vals: dict[str, float]) -> float | None:
    refs, tree = _parse_expr(expr)
    names = {f"r{i}": vals[r] for i, r in enumerate(refs)}

    def ev(n):
        if isinstance(n, exp.Paren):
            return ev(n.this)
        if isinstance(n, exp.Literal) and not n.is_string:
            return float(n.this)
        if isinstance(n, exp.Column):
            return names[n.name]
        if isinstance(n, exp.Neg):
            v = ev(n.this)
            return None if v is None else -v
        ops = {exp.Add: lambda a, b: a + b, exp.Sub: lambda a, b: a - b, exp.Mul: lambda a, b: a * b,
               exp.Div: lambda a, b: None if b == 0 else a / b}
        for cls, f in ops.items():
            if isinstance(n, cls):
                a, b = ev(n.this), ev(n.expression)
                return None if a is None or b is None else f(a, b)
        raise ValueError(f"不支持的表达式 / unsupported expression: {n.sql()}")

    return ev(tree)


def _manual_values(query: Query) -> dict:
    try:
        rows = query("select indicator_id, hospital_id, coalesce(dept_code, ''), period, value from ind_manual_value")
    except Exception:  # noqa: BLE001
        return {}
    return {(r[0], r[1], r[2], r[3]): float(r[4]) for r in rows}


# ---------------------------------------------------------------- public: compute

def compute(con=None, catalogue: Catalogue | None = None, *, family: str | None = None,
            ids: Iterable[str] | None = None, period: str = "2022", grain: str = "year",
            level: str | list[str] = "hospital", hospitals: list[str] | None = None, scheme: str | None = None,
            targets: list[dict] | None = None, query: Query | None = None, lang: str = "zh") -> list[dict]:
    """Compute indicators; one dict per indicator × level × unit × period (COLUMNS then EXTRA_COLUMNS).

    `level` may be a list (e.g. ["hospital", "department"]): views are then scanned once for all levels.
    Codes (yoy_dir, verdict, status_code …) carry the logic; the words beside them (yoy_word, judgement, status,
    yoy_text, note …) are rendered in `lang` (zh, or en)."""
    from yunying.indicators.catalogue import load_catalogue
    from yunying.indicators.targets import apply_targets, load_targets

    catalogue = catalogue or load_catalogue()
    query = query or duckdb_query(con)
    if ids is None:
        ids = catalogue.family(family).ids if family else list(catalogue.indicators)
    scheme = scheme or _latest_scheme(query)
    plan = compile_plan(catalogue, ids, period=period, grain=grain, level=level, hospitals=hospitals, scheme=scheme)
    _economics_views(con, plan.measures)
    results = _run_plan(plan, query)
    manual = _manual_values(query)
    hosp = _hospitals(query, hospitals)
    out_periods = []
    p = plan.start
    while p < plan.end:
        out_periods.append(p)
        p = _add_months(p, GRAIN_MONTHS[grain])
    rows: list[dict] = []
    for lv in plan.levels:
        rows += _level_rows(catalogue, plan, lv, results[lv], manual, hosp, out_periods, query, hospitals, lang)
    apply_targets(rows, targets if targets is not None else load_targets(query=query), lang)
    return rows


def _level_rows(catalogue: Catalogue, plan: Plan, level: str, res: _Results, manual: dict, hosp: list,
                out_periods: list[date], query: Query, hospitals: list[str] | None, lang: str = "zh") -> list[dict]:
    avail = _availability(plan, level, query, hospitals, res.avail)
    ev = _Evaluator(catalogue, plan, res, manual, lang)
    units = sorted({r for _, r in hosp}) if level == "region" else [h for h, _ in hosp]
    units = sorted(set(units) | {u for a in avail.values() for u in a})
    grain = plan.grain
    rows: list[dict] = []
    for ind in plan.indicators:
        if level not in ind.levels:
            continue
        sql_hash = definition_hash(catalogue, ind)
        base = {"indicator_id": ind.id, "name": ind.name_zh, "unit": ind.unit, "direction": ind.direction_zh,
                "national_monitor": ind.national_monitor, "family": ind.family, "name_en": ind.name_en,
                "catalogue_version": catalogue.version, "sql_hash": sql_hash, "level": level}
        blocked = _blocked(ind, catalogue, avail, units, level)
        err = _measure_error(ind, catalogue, res)
        if err:
            blocked = {u: err for u in units}
        for p in out_periods:
            label = period_label(p, grain)
            pblocked = dict(blocked)
            keys = ev.keys(ind, p)
            if ind.type == "external":
                width = len(LEVEL_KEYS[level])
                keys = {k[:width] for k in ((mk[1], mk[2], "") for mk in manual if mk[0] == ind.id and mk[3] == label)
                        if width == 1 or k[1]}
                for u in units:
                    if not any(k[0] == u for k in keys):
                        pblocked[u] = _external_reason(ind)
            for key in sorted(keys):
                if key[0] in pblocked:
                    continue
                num, den, val, reason = ev.value(ind, key, p)
                row = _row(base, ind, label, key, level, num, den, val, reason, ev, p, grain)
                _note(row, fallbacks_at(ind, catalogue, ev, key, p))
                rows.append(row)
            if ind.alt_use and not err:
                rows += _alternative_rows(catalogue, ind, base, label, level, pblocked, ev, avail, units, p, grain)
            for u in sorted(pblocked):
                rows.append(_blocked_row(base, label, u, level, pblocked[u], lang, "error" if err else ""))
    return rows


# ---------------------------------------------------------------- fallback readings (readings.yaml)

@lru_cache(maxsize=None)
def _columns_of(sql: str) -> frozenset[str]:
    return frozenset(c.name for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column))


def _used_columns(ind: Indicator, catalogue: Catalogue, seen: set | None = None) -> set[tuple[str, str]]:
    """(view, column) pairs read by the indicator's measures and those of its base / derived references."""
    seen = set() if seen is None else seen
    if ind.id in seen:
        return set()
    seen.add(ind.id)
    out = {(m.over, c) for m in _measures_of(ind) for c in _columns_of(m.sql)}
    for r in ([ind.base] if ind.base else []) + REF_RE.findall(ind.expr):
        out |= _used_columns(catalogue[r], catalogue, seen)
    return out


def fallback_measures(ind: Indicator, catalogue: Catalogue) -> list[tuple[Fallback, Measure]]:
    """(fallback, condition measure) for every fallback reading of a column the indicator reads."""
    used = _used_columns(ind, catalogue)
    out = []
    for fb in getattr(catalogue, "fallbacks", []):
        for view, cols in fb.columns.items():
            if any((view, c) in used for c in cols):
                out.append((fb, fb.when[view]))
    return out


def fallbacks_at(ind: Indicator, catalogue: Catalogue, ev: "_Evaluator", key: tuple, p: date) -> list[Fallback]:
    """The fallback readings a value follows (for a growth rate: this period's or the base period's)."""
    periods = [p]
    if ind.type == "growth":
        periods.append(_add_months(p, -(12 if ind.offset == "yoy" else GRAIN_MONTHS[ev.plan.grain])))
    out: list[Fallback] = []
    for fb, m in fallback_measures(ind, catalogue):
        if fb not in out and any(ev.measure(m, key, pp) for pp in periods):
            out.append(fb)
    return out


def _note(row: dict, fbs: list[Fallback]) -> None:
    """Carry the fallback ids and notes on a result row (shown by the CLI, the web app and the reports)."""
    if fbs:          # fallback notes first, then the indicator's own remarks (CMI, low-risk reference …)
        row["fallback"] = ",".join(fb.id for fb in fbs)
        row["note"] = "；".join([fb.note for fb in fbs] + ([row["note"]] if row.get("note") else []))


def _alternative_rows(catalogue: Catalogue, ind: Indicator, base: dict, label: str, level: str, pblocked: dict,
                      ev: "_Evaluator", avail: dict, units: list[str], p: date, grain: str) -> list[dict]:
    """Rows of the units whose data this indicator misses, valued by its catalogue alternative (another source) and
    labelled with the alternative's note; the units are removed from pblocked."""
    alt = catalogue[ind.alt_use]
    alt_blocked = _blocked(alt, catalogue, avail, units, level)
    label_fb = Fallback(f"alternative:{alt.id}", ind.alt_note_zh, ind.alt_note_en, {}, {})
    rows, done = [], set()
    for key in sorted(ev.keys(alt, p)):
        if key[0] not in pblocked or key[0] in alt_blocked:
            continue
        num, den, val, reason = ev.value(alt, key, p)
        row = _row(base, alt, label, key, level, num, den, val, reason, ev, p, grain)
        _note(row, [label_fb] + fallbacks_at(alt, catalogue, ev, key, p))
        rows.append(row)
        done.add(key[0])
    for u in done:
        del pblocked[u]
    return rows


def _measure_error(ind: Indicator, catalogue: Catalogue, res: _Results) -> str:
    """The database error of any measure this indicator (or its base / derived references) uses, else ''."""
    for m in _measures_of(ind):
        if (m.over, m.sql) in res.errors:
            return f"{ERROR}：SQL 执行失败 {res.errors[(m.over, m.sql)]} / SQL error in {m.over}: {m.sql}"
    for r in ([ind.base] if ind.base else []) + REF_RE.findall(ind.expr):
        e = _measure_error(catalogue[r], catalogue, res)
        if e:
            return e
    return ""


def _external_reason(ind: Indicator) -> str:
    return (f"不可计算：缺少 {ind.missing_zh or '外部平台/填报数据'}（未录入 ind_manual_value）"
            f" / not computable: missing {ind.missing_en or 'entered value'}")


def _missing_reason(ind: Indicator) -> str:
    en = f" / not computable: missing {ind.missing_en}" if ind.missing_en else ""
    return f"不可计算：缺少 {ind.missing_zh}{en}"


def _blocked(ind: Indicator, catalogue: Catalogue, avail: dict, units: list[str], level: str) -> dict[str, str]:
    """unit → reason for indicators whose data is missing for that unit."""
    out: dict[str, str] = {}
    if ind.type == "unavailable":
        return {u: _missing_reason(ind) for u in units}
    needs = _all_needs(ind, catalogue)
    for u in units:
        missing = [n for n in needs if not avail.get(n, {}).get(u, False)]
        if missing:
            zh = "、".join(dict.fromkeys(need_label(n) for n in missing))
            out[u] = f"不可计算：缺少 {zh} / not computable: missing {', '.join(missing)}"
    return out


def _all_needs(ind: Indicator, catalogue: Catalogue) -> list[str]:
    out = _needs(ind)
    if ind.base:
        out += _all_needs(catalogue[ind.base], catalogue)
    for r in REF_RE.findall(ind.expr):
        out += _all_needs(catalogue[r], catalogue)
    return list(dict.fromkeys(out))


def _key_cols(key: tuple, level: str) -> tuple[str, str, str]:
    if level in ("hospital", "region"):
        return key[0], "", ""
    if level == "department":
        return key[0], key[1], ""
    return key[0], key[1], key[2]


def _blocked_row(base: dict, label: str, unit: str, level: str, reason: str, lang: str = "zh",
                 code: str = "") -> dict:
    row = dict.fromkeys(COLUMNS + EXTRA_COLUMNS)
    row.update(base)
    code = code or "not_computable"          # error: the database rejected a measure (reason quotes it)
    row.update({"period": label, "hospital_id": unit, "dept_code": "" if level in ("hospital", "region") else "*",
                "status": word(code, lang), "status_code": code, "reason": reason, "doctor_group": "", "remarks": [],
                "note": ""})
    return row


def _round(v):
    return v


def _row(base, ind, label, key, level, num, den, val, reason, ev: _Evaluator, p: date, grain: str) -> dict:
    h, d, g = _key_cols(key, level)
    yoy = ev.value(ind, key, _add_months(p, -12))[2]
    mom = ev.value(ind, key, _add_months(p, -GRAIN_MONTHS[grain]))[2]
    row = dict.fromkeys(COLUMNS + EXTRA_COLUMNS)
    row.update(base)
    yoy_change = None if val is None or yoy is None else val - yoy
    mom_change = None if val is None or mom is None else val - mom
    lang = ev.lang
    if ind.type == "growth":
        # the value is itself a change (of the base quantity against the same / previous period): its words
        # describe that change — 「住院次均费用较同期下降554元（降幅3.20%）」 — and it is judged by the direction
        yoy_dir, yoy_text = _growth_words(ind, ev.c, num, den, val, lang)
    else:
        yoy_dir = direction_code(yoy_change, ind.decimals)
        yoy_text = change_text(yoy_change, ind, "yoy", lang, prev=yoy)
    mom_dir = direction_code(mom_change, ind.decimals)
    mom_against = "month" if grain == "month" else "mom"
    verdict, mom_verdict = verdict_code(yoy_dir, ind.direction), verdict_code(mom_dir, ind.direction)
    status_code = "" if val is not None else "not_computable"
    row.update({
        "period": label, "hospital_id": h, "dept_code": d, "doctor_group": g,
        "numerator": _round(num), "denominator": _round(den), "value": _round(val),
        "yoy_value": _round(yoy), "yoy_change": _round(yoy_change),
        "mom_value": _round(mom), "mom_change": _round(mom_change),
        "yoy_dir": yoy_dir, "yoy_word": word(yoy_dir, lang), "yoy_text": yoy_text,
        "mom_dir": mom_dir, "mom_word": word(mom_dir, lang),
        "mom_text": change_text(mom_change, ind, mom_against, lang, prev=None if ind.type == "growth" else mom),
        "verdict": verdict, "judgement": word(verdict, lang), "mom_verdict": mom_verdict,
        "mom_judgement": word(mom_verdict, lang), "status_code": status_code, "status": word(status_code, lang),
        "reason": reason,
    })
    row["remarks"] = ev.remarks(ind, key, p)
    row["note"] = ("；" if lang == "zh" else "; ").join(r["text_zh" if lang == "zh" else "text_en"]
                                                       for r in row["remarks"]) or None
    return row


def _base_unit(ind: Indicator, catalogue: Catalogue) -> str:
    if ind.base_unit:
        return ind.base_unit
    return catalogue[ind.base].unit if ind.base and ind.base in catalogue.indicators else ""


def _growth_words(ind: Indicator, catalogue: Catalogue, num, den, val, lang: str = "zh") -> tuple[str, str]:
    """Direction code and text of a growth indicator's own change: in 元 with the rate beside for money bases."""
    if val is None:
        return "", ""
    against = "yoy" if ind.offset == "yoy" else "mom"
    unit = _base_unit(ind, catalogue)
    md = money_decimals(unit)
    rate = number(abs(val), ind.decimals) + ("%" if ind.unit == "%" else "")
    if md is not None and num is not None:
        code = direction_code(num, md)
        return code, change_phrase(code, amount_text(num, unit, md, lang), against, lang, pct=rate)
    code = direction_code(val, ind.decimals)
    return code, change_phrase(code, rate, against, lang)


def direction_word(change: float | None, decimals: int = 2, lang: str = "zh") -> str:
    """增长 / 下降 / 持平 — 持平 when the change rounds to zero at the display precision (the word of
    wording.direction_code)."""
    return word(direction_code(change, decimals), lang)


def judgement(direction_of_change: str, direction: str, lang: str = "zh") -> str:
    """改善 / 退步 / 持平 for a change code (up / down / flat) by the indicator's direction; monitoring indicators
    (监测比较) are not judged ('')."""
    return word(verdict_code(direction_of_change, direction), lang)


def change_text(change: float | None, ind: Indicator, against: str = "yoy", lang: str = "zh",
                prev: float | None = None) -> str:
    """'较同期下降0.46天' / '较同期增长1.20个百分点' / '与同期持平' / money: '较同期下降554元（降幅3.20%）'
    (the rate beside when the comparison value `prev` is known and not 0)."""
    md = money_decimals(ind.unit)
    dec = ind.decimals if md is None else md
    code = direction_code(change, dec)
    if not code:
        return ""
    pct = ""
    if md is not None and prev:
        pct = number(abs(change / prev * 100), 2) + "%"
    return change_phrase(code, amount_text(change, ind.unit, dec, lang), against, lang, pct=pct)


# ---------------------------------------------------------------- computability (list --db)

def computability(con=None, catalogue: Catalogue | None = None, *, period: str | None = None,
                  query: Query | None = None) -> dict[str, tuple[bool, str]]:
    """indicator id → (computable with the current data for at least one hospital, reason when not)."""
    from yunying.indicators.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    query = query or duckdb_query(con)
    if period is None:
        rows = query("select max(y) from (select max(year(discharge_time)) as y from discharge union all "
                     "select max(year(month)) from finance_month union all select max(year(reg_time)) "
                     "from outpatient_visit)")
        period = str(rows[0][0] or date.today().year)
    ids = [i for i, ind in catalogue.indicators.items() if ind.type != "group"]
    scheme = _latest_scheme(query)
    plan = compile_plan(catalogue, ids, period=period, grain="year", level="hospital", scheme=scheme)
    _economics_views(con, plan.measures)
    avail = _availability(plan, "hospital", query, None)
    manual = _manual_values(query)
    units = sorted({u for a in avail.values() for u in a} | {h for h, _ in _hospitals(query, None)})
    out = {}
    for iid, ind in catalogue.indicators.items():
        if ind.type == "group":
            continue                                    # from its parts, below
        if ind.type == "unavailable":
            out[iid] = (False, _missing_reason(ind))
            continue
        if ind.type == "external":
            ok = any(k[0] == iid for k in manual)
            out[iid] = (ok, "" if ok else _external_reason(ind))
            continue
        blocked = _blocked(ind, catalogue, avail, units, "hospital")
        if ind.alt_use:                                  # units the alternative covers are computable
            alt_blocked = _blocked(catalogue[ind.alt_use], catalogue, avail, units, "hospital")
            blocked = {u: r for u, r in blocked.items() if u in alt_blocked}
        ok = bool(units) and len(blocked) < len(units)
        out[iid] = (ok, "" if ok else (next(iter(blocked.values())) if blocked else "无数据 / no data"))
    for iid, ind in catalogue.indicators.items():
        if ind.type == "group":
            parts = [out[p] for p in ind.parts]
            out[iid] = (any(p[0] for p in parts), "；".join(p[1] for p in parts if not p[0]))
    return out


# ---------------------------------------------------------------- drill-down

@dataclass
class CaseResult:
    sql: str
    columns: list[str]
    rows: list[tuple]


def _aggs(tree: exp.Expression) -> list[tuple[exp.Expression, exp.Expression | None]]:
    """(aggregate, filter condition) pairs of a measure expression."""
    out = []
    for f in tree.find_all(exp.Filter):
        out.append((f.this, f.expression.this))
    filtered = {id(a) for a, _ in out}
    for a in tree.find_all(exp.AggFunc):
        if id(a) not in filtered and not isinstance(a.parent, exp.Filter):
            out.append((a, None))
    return out


def case_sql(catalogue: Catalogue, indicator_id: str, *, period: str, level: str = "hospital",
             key: dict | None = None, part: str = "numerator", scheme: str | None = None,
             limit: int | None = None) -> str:
    """SQL listing the records behind one numerator/denominator: key columns + each aggregate's argument."""
    ind = catalogue[indicator_id]
    m = ind.numerator if part == "numerator" else ind.denominator
    if m is None:
        raise ValueError(f"{indicator_id} 没有{('分子' if part == 'numerator' else '分母')} / has no {part}")
    view = VIEWS[m.over]
    start, end = parse_period(period)
    tree = sqlglot.parse_one(m.sql, read="duckdb")
    aggs = _aggs(tree)
    cols = list(view.keys)
    for extra in ("period_month", "dept_code"):
        if extra not in cols:
            cols.append(extra)
    contrib = []
    conds: list[str] | None = []        # None = every row contributes (an unfiltered count(*))
    for i, (a, cond) in enumerate(aggs):
        arg = a.this
        if isinstance(arg, exp.Distinct):
            arg = arg.expressions[0]
        star = arg is None or isinstance(arg, exp.Star)
        if not star:
            contrib.append(f"{arg.sql(dialect='duckdb')} as c{i}")
        parts = ([] if cond is None else [f"({cond.sql(dialect='duckdb')})"]) + \
            ([] if star else [f"({arg.sql(dialect='duckdb')}) is not null"])
        if not parts:
            conds = None
        elif conds is not None:
            conds.append("(" + " and ".join(parts) + ")")
    where = [_where(m.over, level if level != "doctor" else "department", start, end, None, scheme)]
    if conds:
        where.append("(" + " or ".join(conds) + ")")
    for k, v in (key or {}).items():
        if v is None or v == "":
            continue
        col = "coalesce(region_code, '(未设区域)')" if k == "region_code" else k
        where.append(f"{col} = {_q(v)}")
    sql = (f"select {', '.join(cols + contrib)}\nfrom {view.sql_name}\nwhere " + "\n  and ".join(where) +
           f"\norder by {', '.join(view.keys)}")
    if limit:
        sql += f"\nlimit {int(limit)}"
    return sql


def cases(con=None, catalogue: Catalogue | None = None, indicator_id: str = "", *, period: str,
          level: str = "hospital", key: dict | None = None, part: str = "numerator", limit: int | None = None,
          query: Query | None = None, scheme: str | None = None) -> CaseResult:
    """The records counted in an indicator's numerator (or denominator) for one period and unit.

    key: {"hospital_id": "H001", "dept_code": "GS", "doctor_group": …} (region level: {"region_code": …}).
    scheme: the DRG scheme of DRG views (default: the one compute() reads)."""
    from yunying.indicators.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    ind = catalogue[indicator_id]
    _economics_views(con, [m.over for m in (ind.numerator, ind.denominator) if m is not None])
    sql = case_sql(catalogue, indicator_id, period=period, level=level, key=key, part=part, limit=limit,
                   scheme=scheme or _latest_scheme(query or duckdb_query(con)))
    if query is not None:
        return CaseResult(sql, [], query(sql))
    cur = con.execute(sql)
    return CaseResult(sql, [d[0] for d in cur.description], cur.fetchall())


# ---------------------------------------------------------------- alerts

def alerts(rows: list[dict]) -> list[dict]:
    """Values off target, national-monitoring indicators first, then by how far off (relative gap)."""
    off = [r for r in rows if r.get("status_code") == "not_met"]
    return sorted(off, key=lambda r: (not r.get("national_monitor"), -(r.get("severity") or 0),
                                      r["indicator_id"], r["hospital_id"], r.get("dept_code") or ""))


# ---------------------------------------------------------------- procedure dictionary

def px_dict_rows(path: Path) -> list[tuple]:
    """Rows for ind_px_dict from a code list CSV (code,name,category,level[,minimally_invasive]).

    Within one file the last row of a code wins (one code, one attribute row). 微创 comes only from the file's
    minimally_invasive column (empty = unknown); the synthetic demo hospital's list carries its own marking."""
    out: dict[str, tuple] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            level = (r.get("level") or r.get("grade") or "").strip()
            mi = (r.get("minimally_invasive") or "").strip()
            mi_v = None if not mi else mi in ("1", "true", "True", "是", "y")
            code = r["code"].strip()
            out[code] = (code, r.get("name"), (r.get("category") or "").strip() or None,
                         int(level) if level.isdigit() else None, mi_v)
    return list(out.values())


def load_px_dict(con, rows: list[tuple], *, source: str, replace: bool = True,
                 valid_from_year: int | None = None, valid_to_year: int | None = None) -> int:
    """Load (code, name, category, grade, minimally_invasive) rows into ind_px_dict.

    replace: first delete the rows of the same source. Every load is stamped (loaded_at, later than any row already
    loaded): where two loads list the same code for a year, the views read one row (v_px_dict_year) — an explicit
    version's (valid years given) before an unversioned one, else the latest load's."""
    if replace:
        con.execute("delete from ind_px_dict where source = ?", [source])
    stamp = con.execute("select greatest(cast(current_timestamp as timestamp), "
                        "coalesce(max(loaded_at) + interval 1 microsecond, timestamp '1970-01-01')) "
                        "from ind_px_dict").fetchall()[0][0]
    con.executemany("insert into ind_px_dict (code, name, category, grade, minimally_invasive, valid_from_year, "
                    "valid_to_year, source, loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*r, valid_from_year, valid_to_year, source, stamp) for r in rows])
    return len(rows)
