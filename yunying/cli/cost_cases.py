"""`yunying cost cases|margin|breakeven|case-report` — item, 病种/DRG cost and cost-basis 盈亏 (issue 17, cost-case).

Not registered on its own: the `yunying cost` group (yunying/cli/cost.py, cost-alloc) calls `register(app)`.
Parse → call yunying.cost.cases / margin / case_reports → print. Errors exit non-zero, Chinese + English.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.cli.common import DbOpt, console, fail, open_db
from yunying.cost.case_errors import CostCaseError
from yunying.model.safe_cells import csv_writer

RunOpt = Annotated[str, typer.Option("--run", help="成本核算运行编号 cost run id (yunying cost run)")]
FormatOpt = Annotated[str, typer.Option("--format", help="text | csv | json")]


def _err(e: CostCaseError) -> None:
    fail(f"[{e.code}] {e.zh}", f"[{e.code}] {e.en}", 2, error_code=e.code)


def _emit(rows: list[dict], fmt: str) -> None:
    cols = list(rows[0]) if rows else []
    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv_writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r[c] is None else (round(r[c], 4) if isinstance(r[c], float) else r[c]) for c in cols])
        print(buf.getvalue(), end="")
    else:
        for r in rows:
            print("  ".join(f"{c}={'-' if r[c] is None else (f'{r[c]:,.2f}' if isinstance(r[c], float) else r[c])}"
                            for c in cols))


def cases(run: RunOpt, db: DbOpt = None,
          config: Annotated[Optional[Path], typer.Option("--config", help="case_methods.yaml 替代文件")] = None,
          charge_map: Annotated[Optional[Path], typer.Option("--charge-map", help="charge_map.yaml 替代文件")] = None,
          json_out: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False) -> None:
    """项目成本、成本收入比、病例成本（项目叠加法 + 成本收入比法）与保本点 / item, CCR, case cost and break-even."""
    from yunying.cost.cases import run_case_costing

    with open_db(db) as con:
        try:
            res = run_case_costing(con, run, config_path=config, charge_map_path=charge_map)
        except CostCaseError as e:
            _err(e)
    if json_out:
        print(json.dumps(res, ensure_ascii=False, indent=1, default=str))
        return
    r, it = res["ratios"], res["items"]
    print(f"成本核算 {run}（{res['period']}）病例成本 case cost: 项目叠加法 item_sum {res['cases']['item_sum']} 例, "
          f"成本收入比法 ccr {res['cases']['ccr']} 例")
    print(f"项目成本 item costs: {it['items']} 项×月; 方法 methods: "
          + ", ".join(f"{u}={m}" for u, m in sorted(it["units"].items())))
    print(f"药品成本率 drug ratio {r['drug'] if r['drug'] is None else round(r['drug'], 4)} ({r['basis']['drug']}); "
          f"材料成本率 material ratio {r['material'] if r['material'] is None else round(r['material'], 4)} "
          f"({r['basis']['material']}); 单独收费材料占台账 chargeable share {r['phi']:.4f}")
    if it["pool"] - it["assigned_to_items"] > 0.005:
        print(f"未分配到项目的成本 cost not assigned to items (units without item volumes): "
              f"{it['pool'] - it['assigned_to_items']:,.2f}（成本收入比按收入分摊 / CCR uses revenue shares）")
    if it["items_without_dictionary"]:
        print(f"注意 note: {it['items_without_dictionary']} 个收费项目不在收费项目字典中，未计项目成本 / items "
              "missing from charge_item were not costed")


def margin(run: RunOpt, db: DbOpt = None,
           level: Annotated[str, typer.Option("--level", help="case | drg | department | doctor_group | hospital")] = "drg",
           method: Annotated[str, typer.Option("--method", help="primary | item_sum | ccr")] = "primary",
           losing: Annotated[bool, typer.Option("--losing", help="只列成本口径亏损 / only groups losing on cost")] = False,
           top: Annotated[Optional[int], typer.Option("--top")] = None, fmt: FormatOpt = "text") -> None:
    """成本口径与费用口径盈亏 / cost-basis beside charge-basis margin (latest DRG payment run)."""
    from yunying.cost.margin import margins

    with open_db(db, read_only=True) as con:
        try:
            rows = margins(con, run, level, method=method, losing_only=losing, top=top)
        except CostCaseError as e:
            _err(e)
    if not rows:
        console.print("无结果：该运行没有病例成本，或病例没有 DRG 支付测算（yunying drg pay） / no rows: no case "
                      "costs in this run, or no DRG payment run for its cases")
    _emit(rows, fmt)


def group_cost(run: RunOpt, db: DbOpt = None,
               kind: Annotated[str, typer.Option("--kind", help="drg | disease (病种 = 主要诊断)")] = "drg",
               level: Annotated[str, typer.Option("--level", help="hospital | department | doctor_group")] = "hospital",
               method: Annotated[str, typer.Option("--method", help="primary | item_sum | ccr")] = "primary",
               scheme: Annotated[Optional[str], typer.Option("--scheme", help="DRG 方案（默认最近分组）")] = None,
               fmt: FormatOpt = "text") -> None:
    """病种 / DRG 成本：组内病例成本均值与构成 / disease or DRG cost: mean case cost and composition."""
    from yunying.cost.margin import group_costs

    if kind not in ("drg", "disease") or level not in ("hospital", "department", "doctor_group"):
        fail(f"--kind {kind} / --level {level} 无效（drg|disease；hospital|department|doctor_group）",
             f"invalid --kind {kind} / --level {level} (drg|disease; hospital|department|doctor_group)", 2)
    with open_db(db, read_only=True) as con:
        try:
            rows = group_costs(con, run, kind, level, method=method, scheme=scheme)
        except CostCaseError as e:
            _err(e)
    _emit(rows, fmt)


def breakeven(run: RunOpt, db: DbOpt = None, fmt: FormatOpt = "text") -> None:
    """科室保本点 / break-even volume per department: Q* = F / (p − v)."""
    with open_db(db, read_only=True) as con:
        cur = con.execute("select * exclude (run_id) from cost_breakeven where run_id = ? order by dept_code", [run])
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    _emit(rows, fmt)


def case_report(run: RunOpt, out: Annotated[Path, typer.Option("--out", help="xlsx 文件 / output xlsx")],
                db: DbOpt = None) -> None:
    """医疗服务项目成本汇总表、病种/DRG 成本明细与构成表、科室保本点 (xlsx)."""
    from yunying.cost.case_reports import write_case_cost_reports

    with open_db(db, read_only=True) as con:
        try:
            write_case_cost_reports(con, run, out)
        except CostCaseError as e:
            _err(e)
    console.print(f"已写出 written: {out}")


def register(app: typer.Typer) -> None:
    """Add the cost-case commands to the `yunying cost` group."""
    app.command("cases")(cases)
    app.command("margin")(margin)
    app.command("group-cost")(group_cost)
    app.command("breakeven")(breakeven)
    app.command("case-report")(case_report)
