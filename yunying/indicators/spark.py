"""Run the same catalogue on Spark: warehouse tables as temp views, the semantic views of migration 0030 and every
compiled query transpiled from DuckDB SQL to Spark SQL with SQLGlot.

    spark = SparkSession.builder.master("local[2]").getOrCreate()
    register_tables(spark, duckdb_con, tmpdir)     # or register your own DataFrames under the warehouse names
    create_views(spark)
    rows = compute(catalogue=cat, period="2022", query=spark_query(spark))
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import sqlglot
from sqlglot import exp

BASE_TABLES = ["hospital", "department", "discharge", "discharge_diagnosis", "discharge_procedure",
               "outpatient_visit", "staff_count", "finance_month", "ward_month", "drg_result", "ind_px_dict",
               "ind_code_list", "ind_target", "ind_manual_value"]


def to_spark(sql: str) -> str:
    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]


def view_definitions() -> list[tuple[str, str]]:
    """(view name, Spark SQL of its query) for every `create … view` of migration 0030, in order."""
    text = resources.files("yunying.warehouse.migrations").joinpath("0030_indicators.sql").read_text(encoding="utf-8")
    out = []
    for stmt in sqlglot.parse(text, read="duckdb"):
        if isinstance(stmt, exp.Create) and (stmt.args.get("kind") or "").upper() == "VIEW":
            name = stmt.this.name if isinstance(stmt.this, exp.Table) else stmt.this.this.name
            out.append((name, stmt.expression.sql(dialect="spark")))
    return out


def create_views(spark) -> list[str]:
    names = []
    for name, sql in view_definitions():
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
