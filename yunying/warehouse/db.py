"""The embedded warehouse: one DuckDB file, schema migrations applied in order and recorded."""

from __future__ import annotations

import hashlib
import time
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


def apply_migration(con: duckdb.DuckDBPyConnection, name: str, text: str) -> None:
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


class WarehouseError(Exception):
    """A --db file that is not (or not yet) a Yunying warehouse this version can open. Stable code, zh and en."""

    def __init__(self, code: str, zh: str, en: str):
        super().__init__(f"{code}: {zh} / {en}")
        self.code, self.zh, self.en = code, zh, en


def _sniff(path: Path) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB sees it (DuckDB would try to download an
    extension for a SQLite file, and overwrite nothing but still fail obscurely on others)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) == 0:
        return                                      # an empty file: DuckDB initialises it
    if head.startswith(b"SQLite format 3"):
        raise WarehouseError("WH-NOT-DUCKDB", f"{path} 是 SQLite 数据库，不是运营仓库（DuckDB）文件；"
                             "请用 --db 指向 yunying import 创建的 .duckdb 文件",
                             f"{path} is a SQLite database, not a Yunying (DuckDB) warehouse; point --db at the "
                             ".duckdb file yunying import created")
    if head[8:12] != b"DUCK":
        raise WarehouseError("WH-NOT-DUCKDB", f"{path} 不是 DuckDB 数据库文件，不能作为运营仓库打开；请检查 --db 路径",
                             f"{path} is not a DuckDB database file and cannot be opened as a warehouse; check --db")


def check_identity(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """A Yunying warehouse has schema_migrations; a DuckDB file with other tables and none is someone else's and is
    never migrated into one; a warehouse migrated by a newer Yunying is refused with both versions."""
    tables = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
    if "schema_migrations" not in tables:
        if tables:
            raise WarehouseError("WH-FOREIGN", f"{path} 是 DuckDB 数据库，但不是运营仓库（含 {len(tables)} 张其他表，"
                                 "无 schema_migrations）；为免改动他人数据，不做迁移。请指定运营仓库或一个新文件名",
                                 f"{path} is a DuckDB database but not a Yunying warehouse ({len(tables)} other "
                                 "tables, no schema_migrations); it is left untouched — give a warehouse or a new "
                                 "file name")
        return
    known = [name for name, _ in migration_files()]
    stored = sorted(r[0] for r in con.execute("select version from schema_migrations").fetchall())
    unknown = [v for v in stored if v not in known]
    if unknown and (not known or max(unknown) > known[-1]):
        raise WarehouseError("WH-SCHEMA-NEWER", f"仓库 {path} 的架构版本 {stored[-1]} 比本程序支持的 {known[-1]} 新："
                             "它由更新版本的运营写入。请升级 yunying 后再打开（本程序不会改动它）",
                             f"warehouse {path} has schema version {stored[-1]}, newer than this program's "
                             f"{known[-1]}: upgrade yunying to open it (it was left untouched)")


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
            apply_migration(con, name, sql)
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
    if path != ":memory:":
        if read_only and not Path(path).exists():
            raise FileNotFoundError(path)
        if Path(path).is_file():
            _sniff(Path(path))
    config: dict = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    config.setdefault("autoinstall_known_extensions", False)      # never reach for the internet
    con = duckdb.connect(path, read_only=read_only, config=config)
    try:
        check_identity(con, path)
        if not read_only:
            migrate(con)
            sweep_spill_files(con)
    except BaseException:
        con.close()
        raise
    return con


_LOADED_AT = time.time()      # this process opened no warehouse before this module was imported


def sweep_spill_files(con: duckdb.DuckDBPyConnection) -> list[Path]:
    """Remove DuckDB spill files (`<db>.tmp/duckdb_temp_*`) left by a process that was killed mid-import. A writable
    connection holds the file's exclusive lock, so no other process uses them; files of this process (this or another
    connection to the same database) are newer than this module and are kept. Never raises."""
    removed = []
    try:
        folder = Path(con.execute("select current_setting('temp_directory')").fetchall()[0][0] or "")
        if not folder.name or not folder.is_dir():
            return removed
        for f in folder.glob("duckdb_temp_*"):
            if f.is_file() and f.stat().st_mtime < _LOADED_AT:
                f.unlink(missing_ok=True)
                removed.append(f)
    except (OSError, duckdb.Error):
        pass
    return removed
