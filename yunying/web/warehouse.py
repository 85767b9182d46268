"""The DuckDB warehouse as the web process sees it: one connection per process, one cursor per request.

Background jobs (imports, recomputation) write through their own cursor while requests keep reading (DuckDB MVCC
within one process). `version` rises when a job finishes, so cached aggregates are recomputed.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import duckdb

from yunying.warehouse.db import connect


class Warehouse:
    def __init__(self, path: Path | str, *, memory_limit: str | None = None, threads: int | None = None):
        self.path = Path(path)
        self.con = connect(self.path, read_only=False, memory_limit=memory_limit, threads=threads)
        self.version = 0
        self.uid = uuid.uuid4().hex          # cache keys: several apps (tests) may share one process
        self._lock = threading.Lock()
        self._tables: tuple[int, set[str]] | None = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:                 # creating cursors concurrently on one connection is not guaranteed safe
            return self.con.cursor()

    def bump(self) -> None:
        with self._lock:
            self.version += 1

    def tables(self, cur: duckdb.DuckDBPyConnection) -> set[str]:
        """Names of tables and views (cached per data version)."""
        cached = self._tables
        if cached and cached[0] == self.version:
            return cached[1]
        names = {r[0] for r in cur.execute(
            "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        self._tables = (self.version, names)
        return names

    def hospitals(self, cur: duckdb.DuckDBPyConnection) -> list[str]:
        rows = cur.execute("select hospital_id from hospital union select distinct hospital_id from discharge "
                           "order by 1").fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        self.con.close()
