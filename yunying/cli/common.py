"""Shared CLI plumbing: options, warehouse opening, progress display, bilingual errors without tracebacks."""

from __future__ import annotations

import contextvars
import functools
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from yunying.settings import load_settings

DbOpt = Annotated[Optional[Path], typer.Option("--db", help="仓库文件 DuckDB warehouse file (or YUNYING_DB)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]

console = Console(stderr=True, soft_wrap=True)   # never hard-wrap: paths and suggested commands stay copyable

STAGES = {"read": "读取 reading", "transcode": "转码 transcoding", "validate": "校验 validating",
          "load": "写入 loading", "generate": "生成 generating", "group": "分组 grouping"}


_JSON_ERRORS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("json_errors", default=None)


def fail(zh: str, en: str, code: int = 1, *, error_code: str | None = None) -> None:
    """Print a bilingual error on stderr and exit; under `json_errors` also print it as JSON on stdout."""
    extra = _JSON_ERRORS.get()
    if extra is not None:
        print(json.dumps({"ok": False, "error_code": error_code, "message": f"{zh} / {en}", **extra},
                         ensure_ascii=False, indent=2))
    console.print(f"[red]错误：{zh}[/red]\nError: {en}")
    raise typer.Exit(code)


def json_failures(command, **fields):
    """Wrap a Typer command with a `json_out` (--json) parameter: when it is set, `fail` answers in JSON too."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        with json_errors(bool(kwargs.get("json_out")), **fields):
            return command(*args, **kwargs)
    return run


@contextmanager
def json_errors(enabled: bool, **fields):
    """Within the block, `fail` also prints {"ok": false, "error_code", "message", **fields} on stdout, so a
    command run with --json answers in JSON when it fails too."""
    token = _JSON_ERRORS.set(fields if enabled else None)
    try:
        yield
    finally:
        _JSON_ERRORS.reset(token)


def db_path(db: Path | None) -> Path:
    return load_settings(db=db).db


def connect_warehouse(db: Path | None, *, read_only: bool = False, create: bool = False):
    """Open the --db warehouse or exit with a bilingual message: only commands that load data (`create`) make a
    new file; every other command says how to create one. Foreign, newer and locked files are refused clearly."""
    from yunying.warehouse.db import WarehouseError, connect

    path = db_path(db)
    if not path.parent.is_dir():
        fail(f"仓库所在文件夹不存在：{path.parent}（请先创建该文件夹，或用 --db 指定已有位置）",
             f"the folder for the warehouse does not exist: {path.parent} (create it or give another --db)", 2,
             error_code="WH-NO-FOLDER")
    if not path.exists() and (read_only or not create):
        fail(f"仓库文件不存在：{path}。请先导入数据创建它（yunying import discharge FILE --db {path}）"
             f"或运行演示（yunying demo run）",
             f"warehouse not found: {path}. Create it by importing data (yunying import discharge FILE --db "
             f"{path}) or run the demo (yunying demo run)", 2, error_code="WH-MISSING")
    settings = load_settings(db=db)
    try:
        return connect(path, read_only=read_only, memory_limit=settings.memory_limit, threads=settings.threads)
    except WarehouseError as exc:
        fail(f"[{exc.code}] {exc.zh}", f"[{exc.code}] {exc.en}", 2, error_code=exc.code)
    except Exception as exc:  # duckdb raises IOException when another process holds the write lock
        if "lock" in str(exc).lower():
            fail(f"仓库 {path} 正被另一个进程占用（通常是正在运行的 yunying serve 网页服务）。请在网页的「数据导入」页上传，"
                 f"或先停止网页服务再运行本命令",
                 f"warehouse {path} is locked by another process (usually a running yunying serve): upload on the "
                 f"web app's import page, or stop the server first", 2, error_code="WH-LOCKED")
        fail(f"无法打开仓库 {path}：{exc}", f"cannot open warehouse {path}: {exc}", error_code="WH-OPEN")


@contextmanager
def open_db(db: Path | None, *, read_only: bool = False, create: bool = False):
    con = connect_warehouse(db, read_only=read_only, create=create)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def progress_bar(enabled: bool = True):
    """Yields a callback(stage, done, total) drawing a progress bar on stderr (silent when not a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield lambda stage, done, total: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield update
