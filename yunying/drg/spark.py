"""The batch grouper on PySpark: each partition's Arrow batches go through the same compiled scheme
(``mapInArrow``), so results are identical to the local grouper by construction; Spark only distributes."""

from __future__ import annotations

import pyarrow as pa

from yunying.drg.cases import CASE_COLUMNS
from yunying.drg.grouper import CompiledScheme, Grouper, compile_pack
from yunying.drg.pack import Pack

RESULT_SCHEMA = "record_id string, status string, mdc string, adrg string, drg string"


def group_dataframe(df, scheme: Pack | CompiledScheme):
    """Group a Spark DataFrame with the canonical case columns; returns record_id, status, mdc, adrg, drg.

    Missing optional columns are treated as blank; every column is cast to string first.
    """
    from pyspark.sql import functions as F

    compiled = scheme if isinstance(scheme, CompiledScheme) else compile_pack(scheme)
    bc = df.sparkSession.sparkContext.broadcast(compiled)
    cols = []
    for c in CASE_COLUMNS:
        if c in df.columns:
            cols.append(F.col(c).cast("string").alias(c))
        else:
            cols.append(F.lit(None).cast("string").alias(c))

    selected = df.select(*cols)
    if _has_pandas():
        def run(batches):
            grouper = Grouper(bc.value)
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                out = grouper.group_table(pa.Table.from_batches([batch]), threads=1)
                yield from out.to_batches()

        return selected.mapInArrow(run, RESULT_SCHEMA)

    # without pandas PySpark refuses mapInArrow: ship rows per partition, group them as one Arrow table
    def run_rows(rows, chunk=65_536):
        grouper = Grouper(bc.value)
        buf = []
        for r in rows:
            buf.append(tuple(r))
            if len(buf) >= chunk:
                yield from _group_rows(grouper, buf)
                buf = []
        if buf:
            yield from _group_rows(grouper, buf)

    return df.sparkSession.createDataFrame(selected.rdd.mapPartitions(run_rows), RESULT_SCHEMA)


def _group_rows(grouper: Grouper, rows: list[tuple]):
    cols = list(zip(*rows))
    table = pa.table({c: pa.array(v, type=pa.string()) for c, v in zip(CASE_COLUMNS, cols)})
    out = grouper.group_table(table, threads=1)
    yield from zip(*(out[c].to_pylist() for c in out.column_names))


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True
