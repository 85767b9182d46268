"""The batch grouper on PySpark (local mode) gives exactly the sample cases' expected results."""

from __future__ import annotations

import csv
import shutil

import pytest

from drgpacks import shared_pack
from yunying.drg.pack import load_pack

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark", reason="pyspark 未安装 / pyspark not installed")
if shutil.which("java") is None:
    pytest.skip("Java 不可用 / Java not available for Spark", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv (pyarrow, numpy)
    s = (SparkSession.builder.master("local[2]").appName("yunying-drg-test")
         .config("spark.ui.enabled", "false").config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
         .config("spark.pyspark.python", sys.executable)
         .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    yield s
    s.stop()


@pytest.mark.parametrize("name", ["chs-drg-1.1", "zhejiang-2022"])
def test_spark_matches_sample_cases(spark, name):
    from yunying.drg.spark import group_dataframe

    path = shared_pack(name)
    pack = load_pack(path)
    with (path / "sample_cases.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cols = list(rows[0])
    df = spark.createDataFrame([tuple(r[c] for c in cols) for r in rows], schema=", ".join(f"`{c}` string" for c in cols))
    df = df.repartition(3)  # several partitions on purpose
    got = {r["record_id"]: (r["status"], r["mdc"], r["adrg"], r["drg"]) for r in group_dataframe(df, pack).collect()}
    assert len(got) == len(rows)
    wrong = [r["record_id"] for r in rows if got[r["record_id"]] != (r["status"], r["mdc"], r["adrg"], r["drg"])]
    assert not wrong, wrong[:10]
