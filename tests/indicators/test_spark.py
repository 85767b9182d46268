"""DuckDB = Spark: the whole catalogue on the hand-made warehouse, run on Spark in local mode (temp views)."""

from __future__ import annotations

import math
import shutil

import pytest

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark", reason="pyspark 未安装 / pyspark not installed")
if shutil.which("java") is None:
    pytest.skip("Java 不可用 / Java not available for Spark", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    s = (SparkSession.builder.master("local[2]").appName("yunying-indicators-test")
         .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "1").config("spark.default.parallelism", "1")
         .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    yield s
    s.stop()


def _same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@pytest.mark.parametrize("level,grain", [(["hospital", "department"], "quarter")])
def test_duckdb_equals_spark(spark, wh_mod, catalogue, tmp_path, level, grain):
    from yunying.indicators import compute
    from yunying.indicators.spark import create_views, register_tables, spark_query

    register_tables(spark, wh_mod, tmp_path)
    assert {"v_discharge", "v_drg_case"} <= set(create_views(spark))
    # every indicator, the DRG ones over v_drg_case (the economics views instantiated on Spark) included
    def econ(ind):
        ind = catalogue[ind.same_as] if ind.same_as else ind
        return any(m is not None and m.over == "drg_case" for m in (ind.numerator, ind.denominator))
    ids = list(catalogue.indicators)
    duck = compute(wh_mod, catalogue, ids=ids, period="2022", level=level, grain=grain, targets=[])
    assert sum(1 for r in duck if econ(catalogue[r["indicator_id"]]) and r["value"] is not None) > 0
    spk = compute(catalogue=catalogue, ids=ids, period="2022", level=level, grain=grain, targets=[],
                  query=spark_query(spark))
    key = lambda r: (r["level"], r["indicator_id"], r["period"], r["hospital_id"], r["dept_code"])  # noqa: E731
    d, s = {key(r): r for r in duck}, {key(r): r for r in spk}
    assert d.keys() == s.keys()
    assert sum(1 for r in duck if r["value"] is not None) > 100
    for k in d:
        for col in ("numerator", "denominator", "value", "yoy_value", "status", "reason", "status_code", "note"):
            assert _same(d[k][col], s[k][col]), (k, col, d[k][col], s[k][col])


def test_views_transpile():
    from yunying.indicators.spark import view_definitions

    names = [n for n, _ in view_definitions()]
    # the last definition of each view (0070 re-creates v_discharge / v_procedure over the one-row dictionary view,
    # 0071 v_finance), each after the views it reads
    assert names == ["v_visit", "v_staff", "v_ward", "v_drg", "v_px_dict_year", "v_px_dict_loaded", "v_discharge",
                     "v_procedure", "v_finance", "v_qc"]
