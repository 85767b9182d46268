"""`yunying cost run|report|explain|import` — 成本核算: step-down (科室全成本), 诊次/床日成本, standard reports.

Parse → call the engine in yunying.cost → print. Refusals exit non-zero with the COST-* code, Chinese then English,
never a traceback; a refused run stores nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.cli.common import DbOpt, JsonOpt, console, fail, json_errors, open_db, progress_bar

app = typer.Typer(help="成本核算 Cost accounting: 分摊 step-down, 诊次/床日成本, 报表 reports, 追溯 explain.",
                  no_args_is_help=True)

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
STAGES = {"validate": "校验 validating", "allocate": "分摊 allocating", "store": "保存 storing"}
RunOpt = Annotated[str, typer.Option("--run", help="核算运行编号 / run id (yunying cost run prints it)")]


def _month_opt(value: str, flag: str) -> str:
    if not MONTH.fullmatch(value):
        fail(f"{flag} 月份格式应为 2025-01，收到 {value!r}", f"{flag} must look like 2025-01, got {value!r}", 2,
             error_code="COST-PERIOD")
    return value


def _cost_fail(exc) -> None:
    fail(f"[{exc.code}] {exc.zh}", f"[{exc.code}] {exc.en}", 2, error_code=exc.code)


@app.command("run")
def run_cmd(
    month_from: Annotated[str, typer.Option("--from", help="起始月 / first month, e.g. 2025-01")],
    month_to: Annotated[str, typer.Option("--to", help="结束月 / last month, e.g. 2025-12")],
    plan: Annotated[Optional[Path], typer.Option("--plan", help="分摊方案 YAML（默认内置三级分摊）/ plan file")] = None,
    measure: Annotated[str, typer.Option("--measure", help="cost 成本 | revenue 收入")] = "cost",
    calibre: Annotated[Optional[str], typer.Option(
        "--calibre", help="成本口径 / calibre: medical_business|medical|medical_full|hospital_full "
                          "(默认 default hospital_full)")] = None,
    hospital: Annotated[Optional[list[str]], typer.Option("--hospital", help="医疗机构代码（默认全部）/ hospital id")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="备注 / note stored with the run")] = None,
    cases: Annotated[bool, typer.Option("--cases/--no-cases", help="同时核算项目/病种/DRG成本（成本运行）/ also cost "
                                        "items, cases and DRGs (cost runs)")] = True,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """科室全成本：按分摊方案阶梯分摊并保存（一次事务）/ step down and store a run (one transaction)."""
    import getpass

    from yunying.cost.errors import CostError
    from yunying.cost.plan import load_plan
    from yunying.cost.stepdown import run_stepdown

    with json_errors(json_out, runs=[]):
        _month_opt(month_from, "--from")
        _month_opt(month_to, "--to")
        try:
            p = load_plan(plan)
            with open_db(db) as con, progress_bar(not json_out) as progress:
                results = run_stepdown(con, month_from, month_to, p, measure=measure, calibre=calibre,
                                       hospitals=hospital, created_by=getpass.getuser(), note=note,
                                       progress=lambda stage, done, total: progress(STAGES[stage], done, total))
                if cases and measure == "cost":
                    from yunying.cost.cases import run_case_costing

                    for r in results:
                        run_case_costing(con, r.run_id)
        except CostError as exc:
            _cost_fail(exc)
    if json_out:
        print(json.dumps({"ok": True, "runs": [r.__dict__ for r in results]}, ensure_ascii=False, indent=2))
        return
    for r in results:
        console.print(f"核算运行 run [bold]{r.run_id}[/bold]  机构 {r.hospital_id}  {r.months} 个月 months  "
                      f"分摊 hops {r.hops:,}  总额 total {r.total:,.2f}（分摊前后相等 conserved）")
        print(r.run_id)


@app.command("report")
def report_cmd(
    run: RunOpt,
    out: Annotated[Path, typer.Option("--out", help="输出 xlsx 文件 / output .xlsx")],
    db: DbOpt = None,
) -> None:
    """规范标准报表 xlsx：科室直接成本表、临床服务类科室全成本表（+构成）、成本分摊汇总表、诊次/床日成本表."""
    from yunying.cost.errors import CostError
    from yunying.cost.report import write_report

    if out.suffix.lower() != ".xlsx":
        fail(f"--out 须为 .xlsx 文件，收到 {out}", f"--out must be an .xlsx file, got {out}", 2)
    try:
        with open_db(db, read_only=True) as con:
            path = write_report(con, run, out)
            _add_case_sheets(con, run, path)
    except CostError as exc:
        _cost_fail(exc)
    except OSError as exc:
        fail(f"写出报表失败：{exc}", f"writing the report failed: {exc}")
    print(path)


def _add_case_sheets(con, run_id: str, path: Path) -> None:
    """Append the item/病种/DRG cost tables when the run has case costs (yunying cost run --cases)."""
    if not con.execute("select count(*) from cost_case where run_id = ?", [run_id]).fetchone()[0]:
        return
    from openpyxl import load_workbook

    from yunying.cost.case_reports import write_case_cost_reports

    wb = load_workbook(path)
    write_case_cost_reports(con, run_id, wb)
    wb.save(path)


@app.command("explain")
def explain_cmd(
    run: RunOpt,
    unit: Annotated[str, typer.Option("--unit", help="核算单元代码 / unit code")],
    month: Annotated[Optional[str], typer.Option("--month", help="月份（默认整个期间）/ month, e.g. 2025-03")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """追溯单元全成本：台账行、每一步分摊（来源、参数、数量、金额）/ a unit's full cost down to ledger rows and hops."""
    from yunying.cost.errors import CostError
    from yunying.cost.explain import explain_unit, render_text

    with json_errors(json_out):
        if month:
            _month_opt(month, "--month")
        try:
            with open_db(db, read_only=True) as con:
                ex = explain_unit(con, run, unit, month)
        except CostError as exc:
            _cost_fail(exc)
    if json_out:
        print(json.dumps(ex, ensure_ascii=False, indent=2, default=str))
    else:
        print(render_text(ex))


def register_import() -> None:
    """`yunying cost import KIND FILE…` is `yunying import KIND FILE…` (cost kinds: cost_unit, cost_ledger …)."""
    from yunying.cli.common import json_failures
    from yunying.cli.warehouse_cmds import import_cmd

    app.command("import", help="导入成本数据（同 yunying import）/ same as yunying import, e.g. "
                               "yunying cost import cost_ledger FILE")(
        json_failures(import_cmd, inserted=0, updated=0, rejected=0, files=[]))


register_import()


def demo_stage(db: Path) -> None:
    """Demo pipeline stage: step down the whole ledger period with the default plan, write the standard tables to
    <db folder>/reports/cost-<from>-<to>.xlsx and print the hospital's 诊次/床日成本. Skipped (with a note) when the
    warehouse holds no cost ledger."""
    from yunying.cost.plan import load_plan
    from yunying.cost.report import write_report
    from yunying.cost.stepdown import run_stepdown
    from yunying.cost.unit_cost import measures

    with open_db(db) as con:
        have = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        span = con.execute("select min(month), max(month) from cost_ledger").fetchall()[0] \
            if "cost_ledger" in have else (None, None)
        if span[0] is None:
            console.print("  成本 cost: 无成本台账，跳过 / no cost ledger, skipped")
            return
        m0, m1 = f"{span[0]:%Y-%m}", f"{span[1]:%Y-%m}"
        out = Path(db).parent / "reports"
        from yunying.cost.cases import run_case_costing

        for r in run_stepdown(con, m0, m1, load_plan(), created_by="demo", note="yunying demo run"):
            run_case_costing(con, r.run_id)
            path = write_report(con, r.run_id, out / f"cost-{r.hospital_id}-{m0}-{m1}.xlsx")
            _add_case_sheets(con, r.run_id, path)
            figs = con.execute("""select measure, case when bool_or(volume_source in ('incomplete', 'none')
                    and cost > 0) then null else sum(cost) / nullif(sum(volume), 0) end,
                    string_agg(distinct volume_source, ',' order by volume_source)
                from cost_unit_cost where run_id = ? and unit_code = '*' and dept_code = '*' group by 1 order by 1""",
                               [r.run_id]).fetchall()
            shown = "  ".join(f"{measures()[m]['zh']} {v:,.2f}（服务量来源 volume from {src}）"
                              for m, v, src in figs if v is not None)
            console.print(f"  成本 cost: {r.hospital_id} {m0}—{m1} 全成本 {r.total:,.2f}  {shown}  run {r.run_id}")
            console.print(f"    {path}")


from yunying.cli import cost_cases  # noqa: E402 — cases|margin|group-cost|breakeven|case-report on the same group

cost_cases.register(app)
