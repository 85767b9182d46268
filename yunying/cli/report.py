"""`yunying report monthly|annual` — 质量月报 and 年度工作报告数据篇 as .docx/.xlsx (+ .pdf when LibreOffice is installed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.cli.common import DbOpt, console, fail, open_db

app = typer.Typer(help="报告 Reports: 质量月报 / 年度工作报告数据篇 (docx, xlsx, pdf)", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", help="输出目录 / output folder")]
TplOpt = Annotated[Optional[Path], typer.Option("--templates", help="用户模板目录（同名文件覆盖内置模板）/ user template folder")]
FmtOpt = Annotated[str, typer.Option("--formats", help="输出格式 / formats: docx,xlsx,pdf")]
HospOpt = Annotated[Optional[str], typer.Option("--hospital", help="医疗机构代码（默认第一家）/ hospital id")]


def _formats(text: str) -> tuple[str, ...]:
    from yunying.reports import FORMATS

    fs = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in fs if f not in FORMATS]
    if bad or not fs:
        fail(f"未知格式 {','.join(bad) or text}，可选 docx,xlsx,pdf", f"unknown format {bad}; choose from docx,xlsx,pdf")
    return fs


def _write(report, out: Path, formats: tuple[str, ...]) -> list[Path]:
    from yunying.reports import write

    try:
        paths = write(report, out, formats)
    except (OSError, RuntimeError) as exc:
        fail(f"写出报告失败：{exc}", f"writing the report failed: {exc}")
    for w in report.warnings:
        console.print(f"[yellow]提示 note:[/yellow] {w}")
    for p in paths:
        print(p)
    return paths


def _build(fn, *args, **kw):
    from yunying.reports import ReportTemplateError

    try:
        return fn(*args, **kw)
    except ReportTemplateError as exc:
        fail(str(exc), "report template error (see the message above)")
    except ValueError as exc:
        zh, _, en = str(exc).partition(" / ")
        fail(zh, en or zh)


@app.command("monthly")
def monthly_cmd(
    month: Annotated[str, typer.Option("--month", help="月份 / month, e.g. 2022-06")],
    out: OutOpt = Path("reports"),
    db: DbOpt = None,
    dept: Annotated[Optional[str], typer.Option("--dept", help="科室代码：只出该科室版 / department edition")] = None,
    templates: TplOpt = None,
    formats: FmtOpt = "docx,xlsx,pdf",
    hospital: HospOpt = None,
) -> None:
    """质量月报（亮成绩，晒问题）/ monthly quality report."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        fail(f"月份格式应为 2022-06，收到 {month!r}", f"month must look like 2022-06, got {month!r}")
    from yunying.reports import build_monthly

    fs = _formats(formats)
    with open_db(db) as con:
        report = _build(build_monthly, con, month, dept, templates=templates, hospital_id=hospital)
    _write(report, out, fs)


@app.command("annual")
def annual_cmd(
    year: Annotated[int, typer.Option("--year", help="年度 / year, e.g. 2022")],
    out: OutOpt = Path("reports"),
    db: DbOpt = None,
    templates: TplOpt = None,
    formats: FmtOpt = "docx,xlsx,pdf",
    hospital: HospOpt = None,
) -> None:
    """年度工作报告数据篇 / data sections of the annual work report."""
    from yunying.reports import build_annual

    fs = _formats(formats)
    with open_db(db) as con:
        report = _build(build_annual, con, year, templates=templates, hospital_id=hospital)
    _write(report, out, fs)


def demo_stage(db: Path, formats: tuple[str, ...] = ("docx", "xlsx", "pdf")) -> None:
    """Demo pipeline stage: the annual report of the latest year and the monthly report of its last month, written
    into <db folder>/reports/ (paths printed)."""
    from yunying.reports import build_annual, build_monthly, write

    out = Path(db).parent / "reports"
    with open_db(db) as con:
        row = con.execute("select max(discharge_time) from discharge").fetchall()[0][0]
        if row is None:
            console.print("  报告 reports: 无出院数据，跳过 / no discharges, skipped")
            return
        year, month = row.year, f"{row.year}-{row.month:02d}"
        annual = build_annual(con, year)
        monthly = build_monthly(con, month)
    paths = write(annual, out, formats) + write(monthly, out, formats)
    console.print(f"  报告 reports: {year} 年度报告、{month} 质量月报 → {out}")
    for p in paths:
        console.print(f"    {p}")
