"""Warehouse fingerprint for bad-input tests: what a refused input must leave unchanged."""

from __future__ import annotations

from pathlib import Path

import duckdb

# import_log records every attempt (a refused file gets its 'failed' row); everything else must stay as it was
LOG_TABLES = {"import_log", "schema_migrations"}


def fingerprint(db: Path) -> dict[str, tuple[int, int]]:
    """{table: (row count, order-independent content hash)} of every warehouse table but the import log."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' and table_type = 'BASE TABLE' "
            "order by 1").fetchall()]
        return {t: tuple(con.execute(f'select count(*), coalesce(sum(hash(x)), 0) from "{t}" x').fetchall()[0])
                for t in tables if t not in LOG_TABLES}
    finally:
        con.close()


def log_rows(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select import_id, file_name, status, message from import_log order by import_id").fetchall()
    finally:
        con.close()
