"""Shared CLI plumbing: options, warehouse opening, progress display, bilingual errors without tracebacks."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from yunying.settings import load_settings
from yunying.warehouse.db import connect

DbOpt = Annotated[Optional[Path], typer.Option("--db", help="仓库文件 DuckDB warehouse file (or YUNYING_DB)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]

console = Console(stderr=True, soft_wrap=True)   # never hard-wrap: paths and suggested commands stay copyable

STAGES = {"read": "读取 reading", "transcode": "转码 transcoding", "validate": "校验 validating",
          "load": "写入 loading", "generate": "生成 generating", "group": "分组 grouping"}


def fail(zh: str, en: str, code: int = 1) -> None:
    console.print(f"[red]错误：{zh}[/red]\nError: {en}")
    raise typer.Exit(code)


def db_path(db: Path | None) -> Path:
    return load_settings(db=db).db


@contextmanager
def open_db(db: Path | None, *, read_only: bool = False):
    path = db_path(db)
    if read_only and not path.exists():
        fail(f"仓库文件不存在：{path}（请先用 yunying import 导入数据）",
             f"warehouse not found: {path} (import data first)")
    settings = load_settings(db=db)
    try:
        con = connect(path, read_only=read_only, memory_limit=settings.memory_limit, threads=settings.threads)
    except Exception as exc:  # duckdb raises IOException when another process holds the write lock
        fail(f"无法打开仓库 {path}：{exc}", f"cannot open warehouse {path}: {exc}")
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
