"""The embedded warehouse: one DuckDB file, schema migrations applied in order and recorded."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

MIGRATIONS_PACKAGE = "yunying.warehouse.migrations"


def migration_files() -> list[tuple[str, str]]:
    """(name, text) of every migration shipped with the package, in version order: NNNN_name.sql (SQL) or
    NNNN_name.py (a module whose migrate(con) loads data files, e.g. the indicators' default code lists)."""
    root = resources.files(MIGRATIONS_PACKAGE)
    files = sorted(p.name for p in root.iterdir() if p.name[:4].isdigit() and p.name.endswith((".sql", ".py")))
    return [(name, root.joinpath(name).read_text(encoding="utf-8")) for name in files]


def _apply(con: duckdb.DuckDBPyConnection, name: str, text: str) -> None:
    if name.endswith(".py"):
        import importlib

        importlib.import_module(f"{MIGRATIONS_PACKAGE}.{name[:-3]}").migrate(con)
    else:
        con.execute(text)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """Run the block in one transaction: commit at the end, roll back (and re-raise) on any error."""
    con.execute("begin transaction")
    try:
        yield con
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations, each in its own transaction. Returns the names applied."""
    con.execute(
        "create table if not exists schema_migrations ("
        " version varchar primary key, sha256 varchar not null,"
        " applied_at timestamp not null default current_timestamp)"
    )
    done = {row[0] for row in con.execute("select version from schema_migrations").fetchall()}
    applied = []
    for name, sql in migration_files():
        if name in done:
            continue
        with transaction(con):
            _apply(con, name, sql)
            con.execute(
                "insert into schema_migrations (version, sha256) values (?, ?)",
                [name, hashlib.sha256(sql.encode()).hexdigest()],
            )
        applied.append(name)
    return applied


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writable connection is migrated to the current schema first."""
    path = str(path)
    if read_only and path != ":memory:" and not Path(path).exists():
        raise FileNotFoundError(path)
    config: dict = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    con = duckdb.connect(path, read_only=read_only, config=config)
    if not read_only:
        migrate(con)
    return con
