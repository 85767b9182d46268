"""SQL views over the warehouse for DRG evaluation metrics (入组率, CMI, CEI/TEI, risk grading, 低风险组死亡率).

``create_views(con)`` (re)creates them; it is idempotent and cheap (views only). The indicator engine may call it
and then read ``drg_metrics`` / ``drg_metric_case``; the columns are documented in docs/drg-economics.md.
"""

from __future__ import annotations

import re
from importlib import resources

import duckdb

VIEWS = ("drg_metric_base", "drg_own_group_stats", "drg_benchmark_stats", "drg_benchmark_choice",
         "drg_weight_choice", "drg_metric_case", "drg_metrics", "drg_reference_size")
# (p_scheme, p_year), null = all
MACROS = ("drg_benchmark_stats_for", "drg_metric_case_for", "drg_metrics_for", "drg_reference_size_for")


def views_sql() -> str:
    """views.sql with its data-model placeholders filled: /*died:COLUMN*/ → 离院方式 死亡 from the
    discharge_disposition domain's `death` group (yunying/model/domains.yaml)."""
    from yunying.model.catalogue import died_sql

    text = resources.files("yunying.economics").joinpath("views.sql").read_text(encoding="utf-8")
    return re.sub(r"/\*died:([\w.]+)\*/", lambda m: died_sql(m[1]), text)


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create or replace the economics views (needs migrations 0010 and 0040).

    On a read-only connection the views already stored in the warehouse are used (they are written by every
    economics command run on a writable connection); when there are none, an EconomicsError says so.
    """
    try:
        con.execute(views_sql())
    except duckdb.Error as exc:
        present = con.execute("select count(*) from duckdb_functions() where function_name = 'drg_metrics_for'"
                              ).fetchall()[0][0]
        if not present:
            from yunying.economics.errors import EconomicsError

            raise EconomicsError(f"ECON-VIEWS 仓库中没有 DRG 经济视图且无法创建（{exc}）；请以可写方式运行一次 yunying drg "
                                 f"metrics / economics views absent and cannot be created: {exc}") from None
