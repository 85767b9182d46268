"""`yunying indicators …`: compute, list, explain, alerts, lint and the procedure-attribute dictionary."""

from __future__ import annotations

import io
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.model.safe_cells import csv_writer
from yunying.cli.common import console, fail, open_db

app = typer.Typer(help="绩效指标 / performance indicators (国考 三级综合、三级中医、二级, DRG, 运营)", no_args_is_help=True)

CatOpt = Annotated[Optional[list[Path]], typer.Option(
    "--catalogue", help="用户指标目录 YAML（可多次；亦可用 YUNYING_INDICATORS）/ extra indicator YAML files")]
FormatOpt = Annotated[str, typer.Option("--format", help="csv | json")]


def _catalogue(extra: list[Path] | None):
    from yunying.indicators.catalogue import CatalogueError, load_catalogue

    try:
        return load_catalogue(extra or None)
    except CatalogueError as exc:
        fail("指标目录有错误：\n" + "\n".join(exc.errors), "indicator catalogue errors (see above)", 2)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.8f}".rstrip("0").rstrip(".") if v == v else ""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _write(rows: list[dict], columns: list[str], fmt: str, output: Path | None) -> None:
    if fmt == "json":
        text = json.dumps([{c: r.get(c) for c in columns} for r in rows], ensure_ascii=False, indent=2)
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv_writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_fmt(r.get(c)) for c in columns])
        text = buf.getvalue()
    else:
        fail(f"格式应为 csv 或 json，收到 {fmt!r}", f"format must be csv or json, got {fmt!r}", 2)
    if output:
        output.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        console.print(f"已写入 written {len(rows):,} 行 rows → {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command("compute")
def compute_cmd(
    db: Annotated[Optional[Path], typer.Option("--db", help="仓库文件 / warehouse file")] = None,
    family: Annotated[Optional[str], typer.Option("--family", help="三级综合|三级中医|二级|DRG|运营 或 tertiary-general …")] = None,
    indicator: Annotated[Optional[list[str]], typer.Option("--id", help="只计算这些指标 / only these ids")] = None,
    period: Annotated[str, typer.Option("--period", help="2022 / 2022Q1 / 2022-03")] = "2022",
    grain: Annotated[str, typer.Option("--grain", help="year | quarter | month")] = "year",
    level: Annotated[str, typer.Option("--level", help="hospital | department | doctor | region，可逗号分隔多个")] = "hospital",
    hospital: Annotated[Optional[list[str]], typer.Option("--hospital", help="医疗机构代码（可多次）")] = None,
    scheme: Annotated[Optional[str], typer.Option("--scheme", help="DRG 方案（默认最近分组的方案）")] = None,
    targets: Annotated[Optional[Path], typer.Option("--targets", help="目标值 YAML / targets file")] = None,
    fmt: FormatOpt = "csv",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="输出文件 / output file")] = None,
    catalogue: CatOpt = None,
    lang: Annotated[str, typer.Option("--lang", help="zh | en：文字列（同比、评价、状态、备注）的语言 / words")] = "zh",
) -> None:
    """计算指标 / Compute indicators: one row per indicator × unit × period, with 同比, target and status."""
    from yunying.indicators.engine import COLUMNS, EXTRA_COLUMNS, compute
    from yunying.indicators.targets import TargetError, load_targets

    cat = _catalogue(catalogue)
    ids = None
    if indicator:
        unknown = [i for i in indicator if i not in cat.indicators]
        if unknown:
            fail(f"未知指标 {', '.join(unknown)}", f"unknown indicator(s) {', '.join(unknown)}", 2)
        ids = indicator
    elif family:
        try:
            ids = cat.family(family).ids
        except KeyError as exc:
            fail(str(exc.args[0]), f"unknown family {family!r}", 2)
    if targets is not None and not targets.is_file():
        fail(f"目标值文件不存在：{targets}", f"targets file not found: {targets}", 2)
    with open_db(db, read_only=True) as con:
        from yunying.indicators.engine import duckdb_query
        try:
            tg = load_targets(targets, query=duckdb_query(con))
        except TargetError as exc:
            fail(f"目标值文件有错误：\n{exc}", "targets file errors", 2)
        try:
            levels = [x.strip() for x in level.split(",") if x.strip()]
            rows = compute(con, cat, ids=ids, period=period, grain=grain,
                           level=levels if len(levels) > 1 else levels[0], hospitals=hospital,
                           scheme=scheme, targets=tg, lang="en" if lang == "en" else "zh")
        except ValueError as exc:
            fail(str(exc), str(exc), 2)
    # CSV states the remarks as the `note` text; JSON also gives them structured (`remarks`)
    cols = COLUMNS + EXTRA_COLUMNS
    _write(rows, [c for c in cols if c != "remarks"] if fmt == "csv" else cols, fmt, output)


@app.command("list")
def list_cmd(
    db: Annotated[Optional[Path], typer.Option("--db", help="有仓库时显示可计算性 / with a warehouse: computability")] = None,
    family: Annotated[Optional[str], typer.Option("--family")] = None,
    period: Annotated[Optional[str], typer.Option("--period", help="检查可计算性的期间（默认最近一年）")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text | csv | json")] = "text",
    catalogue: CatOpt = None,
) -> None:
    """指标目录 / List the catalogue and, with --db, what is computable with the current data and why not."""
    from yunying.indicators.engine import computability

    cat = _catalogue(catalogue)
    ids = list(cat.indicators)
    if family:
        try:
            fam = cat.family(family)
        except KeyError as exc:
            fail(str(exc.args[0]), f"unknown family {family!r}", 2)
        ids = fam.ids
    status = None
    if db is not None:
        with open_db(db, read_only=True) as con:
            status = computability(con, cat, period=period)
    rows, ok_ids = [], set()
    for i in ids:
        ind = cat[i]
        row = {"id": i, "family": ind.family, "number": ind.number, "name_zh": ind.name_zh, "name_en": ind.name_en,
               "type": ind.type, "unit": ind.unit, "direction": ind.direction_zh,
               "national_monitor": "▲" if ind.national_monitor else "", "parent": ind.parent}
        if status is not None:
            ok, why = status.get(i, (False, ""))
            if ok:
                ok_ids.add(i)
            row["computable"] = "是" if ok else "否"          # rendered word; logic uses ok_ids
            row["reason"] = why
        rows.append(row)
    cols = list(rows[0]) if rows else ["id"]
    if fmt in ("csv", "json"):
        _write(rows, cols, fmt, None)
        return
    for r in rows:
        comp = ""
        if status is not None:
            comp = ("✓ 可计算" if r["id"] in ok_ids else "✗ " + r["reason"][:70])
        console.print(f"{r['id']:18s} {r['national_monitor']:1s} {r['name_zh'][:28]:30s} {r['unit']:10s} "
                      f"{r['direction']:6s} {comp}", highlight=False, soft_wrap=True)
    if status is not None:
        n_ok = len(ok_ids)
        console.print(f"共 {len(rows)} 项，可计算 {n_ok} 项 / {len(rows)} indicators, {n_ok} computable")


@app.command("explain")
def explain_cmd(
    indicator_id: Annotated[str, typer.Argument(help="指标编号 / indicator id, e.g. G3-04")],
    db: Annotated[Optional[Path], typer.Option("--db")] = None,
    period: Annotated[str, typer.Option("--period", help="2022 / 2022Q1 / 2022-03")] = "2022",
    grain: Annotated[Optional[str], typer.Option("--grain", help="year | quarter | month（默认按期间格式）")] = None,
    dept: Annotated[Optional[str], typer.Option("--dept", help="科室代码 / department code")] = None,
    hospital: Annotated[Optional[str], typer.Option("--hospital")] = None,
    limit: Annotated[int, typer.Option("--limit", help="显示病例数 / cases shown")] = 10,
    catalogue: CatOpt = None,
) -> None:
    """解释指标 / Definition, compiled SQL, numerator, denominator and the first cases behind them.

    月、季、年均可：--period 2022-03 按月，2022Q1 按季，2022 按年（--grain 可改）。"""
    from yunying.indicators.engine import cases, compile_plan, compute, definition_hash, period_grain

    cat = _catalogue(catalogue)
    if indicator_id not in cat.indicators:
        fail(f"未知指标 {indicator_id}", f"unknown indicator {indicator_id}", 2)
    ind = cat[indicator_id]
    level = "department" if dept else "hospital"
    out = console.print
    out(f"[bold]{ind.id} {ind.name_zh}[/bold]  {ind.name_en}  {'▲ 国家监测' if ind.national_monitor else ''}",
        highlight=False)
    out(f"族 family: {cat.families[ind.family].name_zh} · 类型 type: {ind.type} · 单位 unit: {ind.unit} · "
        f"导向 direction: {ind.direction_zh} · 来源 source: {ind.source}", highlight=False)
    if ind.definition_zh:
        out(f"定义：{ind.definition_zh}", highlight=False)
    for label, m in (("分子 numerator", ind.numerator), ("分母 denominator", ind.denominator)):
        if m is not None:
            out(f"{label}: {m.label_zh}  [{m.over}] {m.sql}", highlight=False)
    if ind.base:
        out(f"增幅基数 base: {ind.base}（与上年同期比）", highlight=False)
    if ind.expr:
        out(f"表达式 expr: {ind.expr}", highlight=False)
    if ind.parts:
        out(f"分项 parts: {', '.join(ind.parts)}", highlight=False)
    if ind.reading_zh:
        out(f"口径说明 reading: {ind.reading_zh}", highlight=False)
    if ind.missing_zh:
        out(f"缺少数据 missing: {ind.missing_zh}", highlight=False)
    out(f"定义哈希 sql_hash: {definition_hash(cat, ind)} · 目录版本 catalogue_version: {cat.version}",
        highlight=False)
    try:
        grain = grain or period_grain(period)
        plan = compile_plan(cat, [indicator_id], period=period, grain=grain, level=level,
                            hospitals=[hospital] if hospital else None)
    except ValueError as exc:
        fail(str(exc), str(exc), 2)
    views = {m.over for i in plan.needed.values() for m in (i.numerator, i.denominator) if m is not None}
    for v in sorted(views):
        out(f"\n-- 编译后的 SQL / compiled SQL ({v})", highlight=False)
        print(plan.sql.get(v, ""))
    if db is None:
        return
    with open_db(db, read_only=True) as con:
        rows = compute(con, cat, ids=[indicator_id], period=period, grain=grain, level=level,
                       hospitals=[hospital] if hospital else None)
        if dept:
            rows = [r for r in rows if r["dept_code"] in (dept, "*")]
        out("\n结果 result:", highlight=False)
        for r in rows[:20]:
            shown = "" if r["value"] is None else f"{r['value']:,.{ind.decimals}f}{ind.unit}"
            out(f"  {r['indicator_id']} {r['period']} {r['hospital_id']} {r['dept_code'] or ''} 分子 {_fmt(r['numerator'])}"
                f" 分母 {_fmt(r['denominator'])} 值 {shown} {r['yoy_text'] or ''} {r['status'] or ''} "
                f"{r['reason'] or ''}{('  近似口径 note: ' + r['note']) if r.get('note') else ''}", highlight=False)
        for part, m in (("numerator", ind.numerator), ("denominator", ind.denominator)):
            if m is None:
                continue
            key = {}
            if hospital:
                key["hospital_id"] = hospital
            if dept:
                key["dept_code"] = dept
            try:
                res = cases(con, cat, indicator_id, period=period, level=level, key=key, part=part, limit=limit)
            except Exception as exc:  # noqa: BLE001 — view absent in an old warehouse
                out(f"无法列出病例 / cannot list cases: {exc}", highlight=False)
                continue
            out(f"\n{('分子' if part == 'numerator' else '分母')}病例（前 {limit} 条）/ first {part} cases:",
                highlight=False)
            out("  " + " | ".join(res.columns), highlight=False)
            for row in res.rows:
                out("  " + " | ".join(_fmt(v) for v in row), highlight=False)


@app.command("alerts")
def alerts_cmd(
    db: Annotated[Optional[Path], typer.Option("--db")] = None,
    family: Annotated[Optional[str], typer.Option("--family")] = None,
    period: Annotated[str, typer.Option("--period")] = "2022",
    grain: Annotated[str, typer.Option("--grain")] = "year",
    level: Annotated[str, typer.Option("--level")] = "hospital",
    targets: Annotated[Optional[Path], typer.Option("--targets")] = None,
    fmt: FormatOpt = "csv",
    catalogue: CatOpt = None,
) -> None:
    """预警清单 / Values off target, national-monitoring first, then by relative gap."""
    from yunying.indicators.engine import COLUMNS, alerts, compute, duckdb_query
    from yunying.indicators.targets import load_targets

    cat = _catalogue(catalogue)
    ids = cat.family(family).ids if family else None
    with open_db(db, read_only=True) as con:
        rows = compute(con, cat, ids=ids, period=period, grain=grain, level=level,
                       targets=load_targets(targets, query=duckdb_query(con)))
    _write(alerts(rows), COLUMNS + ["gap", "severity", "national_monitor", "direction"], fmt, None)


@app.command("lint")
def lint_cmd(catalogue: CatOpt = None,
             db: Annotated[Optional[Path], typer.Option(
                 "--db", help="按该仓库的结构编译（默认按迁移建立的空仓库）/ compile against this warehouse")] = None,
             ) -> None:
    """检查指标目录 / Validate the catalogue (file:line errors) and compile every indicator against the schema."""
    from yunying.indicators.engine import lint_sql

    cat = _catalogue(catalogue)
    if db is not None:
        with open_db(db, read_only=True) as con:
            errors = lint_sql(cat, con)
    else:
        errors = lint_sql(cat)
    if errors:
        fail("指标 SQL 无法在当前结构上编译：\n" + "\n".join(errors),
             f"{len(errors)} indicator measure(s) do not compile against the current schema (see above)", 2)
    console.print(f"指标目录有效 / catalogue valid: {len(cat.indicators)} 项 indicators, "
                  f"{len(cat.families)} 族 families, version {cat.version}；全部 SQL 已按当前结构编译 / every "
                  f"measure compiles against the current schema")


# the synthetic hospital's own procedure list with its 微创 marking (demo data only)
DEMO_PX_DICT = Path(str(resources.files("yunying.synth").joinpath("codes/px_codes.csv")))


@app.command("load-px-dict")
def load_px_dict_cmd(
    file: Annotated[Optional[Path], typer.Argument(help="CSV: code,name,category,level[,minimally_invasive]")] = None,
    db: Annotated[Optional[Path], typer.Option("--db")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="来源标签 / source label")] = None,
    year_from: Annotated[Optional[int], typer.Option("--from-year")] = None,
    year_to: Annotated[Optional[int], typer.Option("--to-year")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="合成演示医院自己的编码表（仅用于演示数据）/ the synthetic "
                                                      "hospital's own list (demo data only)")] = False,
) -> None:
    """导入手术操作属性字典（手术/介入/操作属性、国家手术级别、微创目录）/ Load the procedure attribute dictionary."""
    from yunying.indicators.engine import px_dict_rows, load_px_dict

    if demo == (file is not None):
        fail("请给出字典文件，或用 --demo（二选一）", "give a dictionary file or --demo (one of them)", 2)
    if demo:
        file, source = DEMO_PX_DICT, source or "synth-demo"
    if not file.is_file():
        fail(f"文件不存在：{file}", f"file not found: {file}", 2)
    try:
        rows = px_dict_rows(file)
    except (KeyError, ValueError) as exc:
        fail(f"字典文件格式错误：{exc}", f"bad dictionary file: {exc}", 2)
    with open_db(db) as con:
        n = load_px_dict(con, rows, source=source or file.name, valid_from_year=year_from, valid_to_year=year_to)
    console.print(f"已导入 loaded {n:,} 条手术操作属性 → ind_px_dict")


@app.command("load-code-list")
def load_code_list_cmd(
    file: Annotated[Path, typer.Argument(help="CSV: list_name,code_prefix[,name_zh]（或 code_prefix[,name_zh] 加 --list）")],
    db: Annotated[Optional[Path], typer.Option("--db")] = None,
    list_name: Annotated[Optional[str], typer.Option("--list", help="代码表名，如 surgical_complication / ssi")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="来源标签 / source label")] = None,
) -> None:
    """导入诊断代码表（手术并发症、手术部位感染…），整表替换 / Load diagnosis code lists (each list replaced)."""
    from yunying.warehouse.codelists import load_code_lists, read_code_lists

    if not file.is_file():
        fail(f"文件不存在：{file}", f"file not found: {file}", 2)
    try:
        rows = read_code_lists(file, list_name)
    except (KeyError, ValueError) as exc:
        fail(f"代码表文件格式错误：{exc}", f"bad code list file: {exc}", 2)
    with open_db(db) as con:
        n = load_code_lists(con, rows, source=source or file.name)
    for lst, k in n.items():
        console.print(f"已导入 loaded {k:,} 条 → ind_code_list 代码表 {lst}（整表替换 / list replaced）")


def demo_stage(db: Path) -> None:
    """Demo: hospital-level year indicators of 三级综合 for the latest year, with a few key lines."""
    from yunying.indicators.catalogue import load_catalogue
    from yunying.indicators.engine import _latest_scheme, compute, px_dict_rows, duckdb_query, load_px_dict

    cat = load_catalogue()
    with open_db(db) as con:
        if con.execute("select count(*) from ind_px_dict").fetchall()[0][0] == 0:
            load_px_dict(con, px_dict_rows(DEMO_PX_DICT), source="synth-demo")   # as load-px-dict --demo
        year = con.execute("select max(year(discharge_time)) from discharge").fetchall()[0][0]
        if year is None:
            console.print("  指标 indicators: 无出院数据 / no discharges")
            return
        ids = cat.family("tertiary-general").ids + ["OP-02", "OP-08", "OP-03", "OP-04", "DRG-03"]
        rows = compute(con, cat, ids=ids, period=str(year), grain="year", level="hospital")
        scheme = _latest_scheme(duckdb_query(con))
        src = con.execute("select min(weight_source) from v_drg_case where scheme = ? and year(period_month) = ?"
                          " and rw is not null", [scheme, year]).fetchall()[0][0] if scheme else None
    by_id = {}
    for r in rows:
        by_id.setdefault(r["indicator_id"], r)
    main_ids = [i for i in cat.family("tertiary-general").ids if "." not in i]
    with_value = {r["indicator_id"].split(".")[0] for r in rows if r["value"] is not None}
    n_ok = sum(1 for i in main_ids if i in with_value)
    console.print(f"  指标 indicators {year}：三级综合 {len(main_ids)} 项，本数据可计算 {n_ok} 项"
                  f"（yunying indicators list --db {db} 查看原因）")
    for iid, label in (("OP-02", "出院人次"), ("OP-08", "平均住院日"), ("OP-03", "药占比"), ("OP-04", "耗占比"),
                       ("G3-04", "出院患者手术占比")):
        r = by_id.get(iid)
        if r is None or r["value"] is None:
            console.print(f"    {label}: {r['reason'] if r else '—'}", highlight=False)
            continue
        ind = cat[iid]
        v = f"{r['value']:,.0f}" if ind.unit == "人次" else f"{r['value']:.2f}"
        unit = "" if ind.unit == "人次" else ind.unit
        extra = f"，{r['yoy_text']}" if r["yoy_text"] else ""
        judge = f"（{r['judgement']}）" if r["verdict"] else ""
        note = f"［{r['note'].split(' / ')[0]}］" if r.get("note") else ""
        console.print(f"    {label} {v}{unit}{'人次' if ind.unit == '人次' else ''}{extra}{judge}{note}", highlight=False)
    cmi = [r for r in rows if r["indicator_id"] == "DRG-03"]
    if cmi and cmi[0]["value"] is not None:       # computable once weights exist (the demo calibrates them first)
        console.print(f"    病例组合指数 CMI {cmi[0]['value']:.4f}（方案 {scheme}，{src}）", highlight=False)
    elif cmi:
        console.print(f"    病例组合指数 CMI: {cmi[0]['reason']}", highlight=False)
