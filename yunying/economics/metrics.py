"""DRG evaluation metrics read from the ``drg_metrics`` view (see views.sql and docs/drg-economics.md)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import yaml

from yunying.economics.errors import EconomicsError
from yunying.economics.views import create_views

LEVELS = ("hospital", "department", "doctor_group")
COLUMNS = ("scheme", "level", "hospital_id", "dept_code", "doctor_group", "period_type", "period",
           "cases_reported", "cases_analysed", "cases_grouped", "grouping_rate", "drg_count", "mdc_count",
           "total_weight", "cmi", "grouped_without_weight", "cost_index", "time_index", "cases_with_benchmark",
           "low_risk_cases", "low_risk_deaths", "low_risk_mortality", "midlow_risk_cases", "midlow_risk_deaths",
           "midlow_risk_mortality", "benchmark_source", "weight_source", "ref_groups", "ref_low_risk_groups",
           "ref_cases", "cmi_definition", "cmi_sql_hash",
           "run_id", "definitions")
DEFINITIONS = Path(__file__).with_name("definitions.yaml")


def figure_definitions() -> dict[str, str]:
    """drg metrics figure → indicator-catalogue id that defines it (definitions.yaml)."""
    return {str(k): str(v) for k, v in (yaml.safe_load(DEFINITIONS.read_text(encoding="utf-8")) or {}).items()}


def _definition_columns() -> dict:
    """cmi_definition / cmi_sql_hash and 'figure=id@hash' of every mapped figure (the catalogue's definitions)."""
    from yunying.indicators.catalogue import load_catalogue
    from yunying.indicators.engine import definition_hash

    cat = load_catalogue()
    ids = figure_definitions()
    hashes = {f: definition_hash(cat, cat[i]) for f, i in ids.items()}
    return {"cmi_definition": ids.get("cmi"), "cmi_sql_hash": hashes.get("cmi"),
            "definitions": ", ".join(f"{f}={ids[f]}@{hashes[f]}" for f in ids)}


def _run_ids(con: duckdb.DuckDBPyConnection, scheme: str) -> str:
    """The DRG grouping run(s) whose stored results the figures read (one per scheme after `yunying drg run`)."""
    got = con.execute("select string_agg(distinct run_id, ',' order by run_id) from drg_result where scheme = ?",
                      [scheme]).fetchall()
    return got[0][0] or ""


def metrics(con: duckdb.DuckDBPyConnection, period: str, level: str = "hospital", scheme: str | None = None,
            by_month: bool = False) -> list[dict]:
    """Rows of drg_metrics for a period ('2022' = the year, '2022-03' = a month; ``by_month`` = each month of
    the year) at one level, each with the CMI's definition id and sql_hash and the grouping run it reads."""
    if level not in LEVELS:
        raise EconomicsError(f"ECON-PARAM level 应为 {'/'.join(LEVELS)}，收到 {level!r} / invalid level")
    if not re.fullmatch(r"\d{4}(-\d{2})?", period):
        raise EconomicsError(f"ECON-PARAM 期间应为 2022 或 2022-03，收到 {period!r} / period must be YYYY or YYYY-MM")
    create_views(con)
    scheme = _scheme(con, scheme)
    if len(period) == 7:
        cond, args = "period_type = 'month' and period = ?", [period]
    elif by_month:
        cond, args = "period_type = 'month'", []
    else:
        cond, args = "period_type = 'year'", []
    base = [c for c in COLUMNS if c not in ("cmi_definition", "cmi_sql_hash", "run_id", "definitions")]
    got = con.execute(f"select {', '.join(base)} from drg_metrics_for(?, ?) where level = ? and {cond} "
                      f"order by hospital_id, period, dept_code nulls first, doctor_group nulls first",
                      [scheme, int(period[:4]), level] + args).fetchall()
    extra = {**_definition_columns(), "run_id": _run_ids(con, scheme)}
    return [{**dict(zip(base, r)), **extra} for r in got]


def _scheme(con: duckdb.DuckDBPyConnection, scheme: str | None) -> str:
    if scheme is None:
        schemes = [r[0] for r in con.execute("select distinct scheme from drg_result order by 1").fetchall()]
        if not schemes:
            raise EconomicsError("ECON-NODATA 没有 DRG 分组结果，请先执行 yunying drg run / no DRG results")
        if len(schemes) > 1:
            raise EconomicsError(f"ECON-PARAM 仓库中有多个方案（{'、'.join(schemes)}），请用 --scheme 指定 / several "
                                 f"schemes, pass --scheme")
        scheme = schemes[0]
    return scheme


def figure_cases(con: duckdb.DuckDBPyConnection, figure: str, period: str, *, scheme: str | None = None,
                 hospital: str | None = None, dept: str | None = None, doctor_group: str | None = None,
                 limit: int | None = None):
    """Drill-down of one drg metrics figure: the cases behind it, listed by the indicator engine through the
    figure's catalogue definition (definitions.yaml), with the engine's value for the same unit and period.

    Returns {figure, indicator_id, sql_hash, scheme, run_id, row (engine row or None), result (CaseResult)}."""
    from yunying.indicators.catalogue import load_catalogue
    from yunying.indicators.engine import cases, compute, definition_hash, period_grain

    ids = figure_definitions()
    if figure not in ids:
        raise EconomicsError(f"ECON-PARAM 指标 {figure!r} 没有下钻定义（可选：{'、'.join(ids)}）/ no drill-down for "
                             f"{figure!r} (one of {', '.join(ids)})")
    if not re.fullmatch(r"\d{4}(-\d{2})?", period):
        raise EconomicsError(f"ECON-PARAM 期间应为 2022 或 2022-03，收到 {period!r} / period must be YYYY or YYYY-MM")
    create_views(con)
    scheme = _scheme(con, scheme)
    cat = load_catalogue()
    iid = ids[figure]
    ind = cat[iid]
    level = "doctor" if doctor_group else "department" if dept else "hospital"
    key = {k: v for k, v in (("hospital_id", hospital), ("dept_code", dept), ("doctor_group", doctor_group)) if v}
    res = cases(con, cat, iid, period=period, level=level, key=key, scheme=scheme, limit=limit,
                part="denominator" if ind.denominator is not None else "numerator")
    rows = compute(con, cat, ids=[iid], period=period, grain=period_grain(period), level=level,
                   hospitals=[hospital] if hospital else None, scheme=scheme, targets=[])
    want = (hospital, dept or "", doctor_group or "")
    row = next((r for r in rows if (not hospital or r["hospital_id"] == want[0]) and (r["dept_code"] or "") ==
                (want[1] if level != "hospital" else "") and (r.get("doctor_group") or "") == want[2]), None)
    return {"figure": figure, "indicator_id": iid, "sql_hash": definition_hash(cat, ind), "scheme": scheme,
            "run_id": _run_ids(con, scheme), "row": row, "result": res}


def group_risk(con: duckdb.DuckDBPyConnection, scheme: str, year: int) -> list[dict]:
    """Risk grade per DRG of the benchmark that applies to ``year`` (imported, or the stated fallback)."""
    create_views(con)
    cur = con.execute("""
        select s.drg, s.cases, s.deaths, s.mortality, s.risk_level, s.risk_level_source, c.benchmark_source
        from (select distinct bm_kind, bm_year, benchmark_source from drg_metric_case_for($scheme, $year)) c
        join drg_benchmark_stats_for($scheme, $year) s on s.kind = c.bm_kind and s.year = c.bm_year
        where s.scheme = $scheme order by s.drg""", {"scheme": scheme, "year": year})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]
