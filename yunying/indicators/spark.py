"""Run the same catalogue on Spark: warehouse tables as temp views, the semantic views of migration 0030 and every
compiled query transpiled from DuckDB SQL to Spark SQL with SQLGlot.

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    register_tables(spark, duckdb_con, tmpdir)     # or register your own DataFrames under the warehouse names
    create_views(spark)
    rows = compute(catalogue=cat, period="2022", query=spark_query(spark))
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import sqlglot
from sqlglot import exp

BASE_TABLES = ["hospital", "department", "discharge", "discharge_diagnosis", "discharge_procedure",
               "outpatient_visit", "staff_count", "finance_month", "ward_month", "drg_result", "ind_px_dict",
               "ind_code_list", "ind_target", "ind_manual_value", "econ_weight_set", "econ_weight", "econ_benchmark",
               "qc_record", "econ_run", "econ_case_payment", "cost_case"]


def to_spark(sql: str) -> str:
    def fix(node):
        # DuckDB list_reduce(list, lambda a, b: …) → Spark aggregate(list, 0D, (a, b) -> …) (DRG-C02)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "list_reduce":
            arr, lam = node.expressions
            return exp.Anonymous(this="AGGREGATE", expressions=[arr, exp.cast(exp.Literal.number(0), "double"),
                                                                 lam])
        return node
    return sqlglot.parse_one(sql, read="duckdb").transform(fix).sql(dialect="spark")


# SQL migrations defining the semantic views (0050's v_drg_case: economics_view_definitions)
VIEW_MIGRATIONS = ("0030_indicators.sql", "0070_px_dict_one_row.sql", "0071_finance_drug_split.sql",
                   "0080_qc_indicators.sql")


def view_definitions() -> list[tuple[str, str]]:
    """(view name, Spark SQL of its query) for every `create … view` of the view migrations: a view redefined by
    a later migration takes its last definition and position (after the views it reads)."""
    root = resources.files("yunying.warehouse.migrations")
    out: dict[str, str] = {}
    for name in VIEW_MIGRATIONS:
        text = root.joinpath(name).read_text(encoding="utf-8")
        for stmt in sqlglot.parse(text, read="duckdb"):
            if isinstance(stmt, exp.Create) and (stmt.args.get("kind") or "").upper() == "VIEW":
                view = stmt.this.name if isinstance(stmt.this, exp.Table) else stmt.this.this.name
                if not view.startswith("v_"):          # semantic views are v_*; others (qc_top_defects) are not read
                    continue
                out.pop(view, None)
                out[view] = stmt.expression.sql(dialect="spark")
    return list(out.items())


def _spark_sql(duckdb_sql: str) -> str:
    """One DuckDB query as Spark SQL: `as materialized` CTE hints dropped (Spark has none) and
    `string_agg(distinct x, sep order by x)` as `array_join(array_sort(collect_set(x)), sep)` (the same sorted,
    de-duplicated list; Spark 3.5 has no listagg)."""
    tree = sqlglot.parse_one(re.sub(r"\bas\s+materialized\b", "as", duckdb_sql, flags=re.I), read="duckdb")

    def fix(node):
        if isinstance(node, exp.GroupConcat):
            arg = node.this
            while isinstance(arg, (exp.Order, exp.Distinct)):
                arg = arg.expressions[0] if isinstance(arg, exp.Distinct) else arg.this
            sep = node.args.get("separator") or exp.Literal.string(",")
            return sqlglot.parse_one(f"array_join(array_sort(collect_set({arg.sql(dialect='spark')})), "
                                     f"{sep.sql(dialect='spark')})", read="spark")
        return node
    return tree.transform(fix).sql(dialect="spark")


def economics_view_definitions() -> list[tuple[str, str]]:
    """(view name, Spark SQL) for the DRG economics views the indicator engine reads through `v_drg_case`
    (migration 0050): `drg_metric_base`, `drg_benchmark_stats`, `drg_metric_case` — the DuckDB table macros of
    yunying/economics/views.sql instantiated for every scheme and year (parameters NULL, as the DuckDB views do),
    `drg_reference_size` — and `v_drg_case` (its latest migration) and `v_drg_pay` themselves."""
    from yunying.economics.views import views_sql

    text = views_sql()

    def stmt(pattern: str) -> str:
        m = re.search(pattern, text, re.S | re.I)
        if m is None:
            raise ValueError(f"yunying/economics/views.sql: {pattern!r} not found")
        return m.group(1)

    def macro(name: str) -> str:
        body = stmt(rf"create or replace macro {name}\(p_scheme, p_year\) as table\s*(.*?);\s*\n")
        body = re.sub(r"\bp_scheme\b|\bp_year\b", "null", body)
        return body.replace("drg_benchmark_stats_for(null, null)", "drg_benchmark_stats")

    out = [("drg_metric_base", _spark_sql(stmt(r"create or replace view drg_metric_base as\s*(.*?);\s*\n"))),
           ("drg_benchmark_stats", _spark_sql(macro("drg_benchmark_stats_for"))),
           ("drg_metric_case", _spark_sql(macro("drg_metric_case_for"))),
           ("drg_reference_size", _spark_sql(macro("drg_reference_size_for")))]
    latest: dict[str, str] = {}          # the last migration defining a view wins (0050 → 0075 for v_drg_case)
    for mig in ("0050_indicator_drg.sql", "0075_drg_reference_size.sql", "0076_indicator_drg_pay.sql",
                "0120_cost_case.sql"):
        text = resources.files("yunying.warehouse.migrations").joinpath(mig).read_text(encoding="utf-8")
        for st in sqlglot.parse(text, read="duckdb"):
            if isinstance(st, exp.Create) and (st.args.get("kind") or "").upper() == "VIEW":
                name = st.this.name if isinstance(st.this, exp.Table) else st.this.this.name
                if name in ("v_drg_case", "v_drg_pay", "v_cost_case_latest", "v_cost_case_margin"):
                    latest[name] = _spark_sql(st.expression.sql(dialect="duckdb"))
    return out + list(latest.items())


def create_views(spark) -> list[str]:
    names = []
    for name, sql in view_definitions() + economics_view_definitions():
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {sql}")
        names.append(name)
    return names


def register_tables(spark, con, workdir: Path) -> None:
    """Copy the warehouse tables the views read from a DuckDB connection to Parquet and register them."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for t in BASE_TABLES:
        path = workdir / f"{t}.parquet"
        con.execute(f"copy (select * from {t}) to '{path}' (format parquet)")
        spark.read.parquet(str(path)).createOrReplaceTempView(t)


def spark_query(spark):
    def run(sql: str) -> list[tuple]:
        return [tuple(r) for r in spark.sql(to_spark(sql)).collect()]
    return run
