"""DRG evaluation metrics read from the ``drg_metrics`` view (see views.sql and docs/drg-economics.md)."""

from __future__ import annotations

import re

import duckdb

from yunying.economics.errors import EconomicsError
from yunying.economics.views import create_views

LEVELS = ("hospital", "department", "doctor_group")
COLUMNS = ("scheme", "level", "hospital_id", "dept_code", "doctor_group", "period_type", "period",
           "cases_reported", "cases_analysed", "cases_grouped", "grouping_rate", "drg_count", "mdc_count",
           "total_weight", "cmi", "grouped_without_weight", "cost_index", "time_index", "cases_with_benchmark",
           "low_risk_cases", "low_risk_deaths", "low_risk_mortality", "midlow_risk_cases", "midlow_risk_deaths",
           "midlow_risk_mortality", "benchmark_source", "weight_source", "ref_groups", "ref_low_risk_groups",
           "ref_cases")


def metrics(con: duckdb.DuckDBPyConnection, period: str, level: str = "hospital", scheme: str | None = None,
            by_month: bool = False) -> list[dict]:
    """Rows of drg_metrics for a period ('2022' = the year, '2022-03' = a month; ``by_month`` = each month of
    the year) at one level."""
    if level not in LEVELS:
        raise EconomicsError(f"ECON-PARAM level 应为 {'/'.join(LEVELS)}，收到 {level!r} / invalid level")
    if not re.fullmatch(r"\d{4}(-\d{2})?", period):
        raise EconomicsError(f"ECON-PARAM 期间应为 2022 或 2022-03，收到 {period!r} / period must be YYYY or YYYY-MM")
    create_views(con)
    if scheme is None:
        schemes = [r[0] for r in con.execute("select distinct scheme from drg_result order by 1").fetchall()]
        if not schemes:
            raise EconomicsError("ECON-NODATA 没有 DRG 分组结果，请先执行 yunying drg run / no DRG results")
        if len(schemes) > 1:
            raise EconomicsError(f"ECON-PARAM 仓库中有多个方案（{'、'.join(schemes)}），请用 --scheme 指定 / several "
                                 f"schemes, pass --scheme")
        scheme = schemes[0]
    if len(period) == 7:
        cond, args = "period_type = 'month' and period = ?", [period]
    elif by_month:
        cond, args = "period_type = 'month'", []
    else:
        cond, args = "period_type = 'year'", []
    cur = con.execute(f"select {', '.join(COLUMNS)} from drg_metrics_for(?, ?) where level = ? and {cond} "
                      f"order by hospital_id, period, dept_code nulls first, doctor_group nulls first",
                      [scheme, int(period[:4]), level] + args)
    return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]


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
