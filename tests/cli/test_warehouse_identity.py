"""--db identity checks (issue 15): only data-loading commands create a warehouse; foreign, non-DuckDB and newer
files are refused with a code and left untouched; --version; a busy port is reported before any work."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from yunying.cli.main import app
from yunying.warehouse.db import connect, migration_files

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args", [["stats"], ["sql", "select 1"], ["indicators", "compute", "--period", "2022"], ["report", "monthly", "--month", "2022-06"], ["qc", "run"],
                                  ["drg", "scheme", "list"], ["drg", "metrics", "--period", "2022"]])
def test_commands_that_read_never_create_an_empty_warehouse(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YUNYING_DB", raising=False)
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "仓库文件不存在" in r.stderr and "yunying import" in r.stderr
    assert list(tmp_path.iterdir()) == []           # no ./yunying.duckdb left behind


def test_missing_folder_says_so(tmp_path):
    r = runner.invoke(app, ["stats", "--db", str(tmp_path / "nope" / "w.duckdb")])
    assert r.exit_code == 2 and "文件夹不存在" in r.stderr and str(tmp_path / "nope") in r.stderr


def test_sqlite_and_text_files_are_refused_without_touching_them(tmp_path):
    lite = tmp_path / "app.sqlite"
    c = sqlite3.connect(lite)
    c.execute("create table t (a)")
    c.commit()
    c.close()
    text = tmp_path / "notes.duckdb"
    text.write_text("not a database\n", encoding="utf-8")
    for f in (lite, text):
        before = f.read_bytes()
        r = runner.invoke(app, ["qc", "run", "--db", str(f)])
        assert r.exit_code == 2 and "WH-NOT-DUCKDB" in r.stderr, r.stderr
        assert f.read_bytes() == before
    assert "SQLite" in runner.invoke(app, ["stats", "--db", str(lite)]).stderr


def test_foreign_duckdb_is_never_migrated(tmp_path):
    f = tmp_path / "other.duckdb"
    c = duckdb.connect(str(f))
    c.execute("create table payroll (id int)")
    c.close()
    r = runner.invoke(app, ["import", "department", str(tmp_path / "x.csv"), "--db", str(f)])
    assert r.exit_code == 2 and "WH-FOREIGN" in r.stderr
    c = duckdb.connect(str(f), read_only=True)
    assert [t for (t,) in c.execute("show tables").fetchall()] == ["payroll"]
    c.close()


def test_newer_schema_is_refused_with_both_versions(tmp_path):
    f = tmp_path / "w.duckdb"
    connect(f).close()
    c = duckdb.connect(str(f))
    c.execute("insert into schema_migrations (version, sha256) values ('9990_future.sql', 'x')")
    c.close()
    for read_only in (False, True):
        r = runner.invoke(app, ["stats", "--db", str(f)] if read_only else ["qc", "run", "--db", str(f)])
        assert r.exit_code == 2 and "WH-SCHEMA-NEWER" in r.stderr
        assert "9990_future.sql" in r.stderr and migration_files()[-1][0] in r.stderr


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip().startswith("yunying ") and r.stdout.strip()[8:9].isdigit()


def test_busy_port_is_reported_before_any_work(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        r = runner.invoke(app, ["demo", "run", "--out", str(tmp_path / "d"), "--serve", "--port", str(port)])
    finally:
        s.close()
    assert r.exit_code == 2
    assert f"端口 {port} 已被占用" in r.stderr and f"make demo PORT={port + 1}" in r.stderr
    assert not (tmp_path / "d").exists()            # refused before generating anything


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_demo_passes_port():
    out = subprocess.run(["make", "-n", "-W", "pyproject.toml", "demo", "PORT=8123"], cwd=REPO,
                         capture_output=True, text=True).stdout
    assert "--port 8123" in out


def test_spill_files_of_a_killed_process_are_swept(tmp_path):
    """DuckDB's spill files in <db>.tmp outlive a killed import; the next writable open removes those older than this
    process's first warehouse use, and keeps other files."""
    import os

    f = tmp_path / "w.duckdb"
    connect(f).close()
    spill = tmp_path / "w.duckdb.tmp"
    spill.mkdir()
    old = spill / "duckdb_temp_storage_S32K-0.tmp"
    old.write_bytes(b"x" * 4096)
    os.utime(old, (1_000_000_000, 1_000_000_000))                    # 2001: left by a process long gone
    other = spill / "notes.txt"
    other.write_text("kept", encoding="utf-8")
    os.utime(other, (1_000_000_000, 1_000_000_000))
    connect(f, read_only=True).close()
    assert old.exists()                                             # a reader never deletes
    connect(f).close()
    assert not old.exists() and other.exists()
