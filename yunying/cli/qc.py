"""`yunying qc …` — 病案首页质控 record quality control: run, report, rules, explain, pre-submission checks,
code dictionaries. Parse → call yunying.qc → print. Data problems exit non-zero with a Chinese + English message."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.cli.common import DbOpt, JsonOpt, console, fail, open_db, progress_bar

app = typer.Typer(help="病案首页质控 / record quality control: 规则、运行、报表、解释、上报前检查、编码字典.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
dict_app = typer.Typer(help="质控编码字典 / code dictionaries for validity rules (V003/V005/T003).",
                       no_args_is_help=True)
app.add_typer(dict_app, name="dict")

OverridesOpt = Annotated[Optional[Path], typer.Option(
    "--overrides", help="本院覆盖文件 hospital override YAML (or YUNYING_QC_OVERRIDES)")]
DictDx = Annotated[Optional[Path], typer.Option("--dict-dx", help="诊断字典 CSV code,name[,…]")]
DictPx = Annotated[Optional[Path], typer.Option("--dict-px", help="手术操作字典 CSV code,name[,category,level]")]
DictTcm = Annotated[Optional[Path], typer.Option("--dict-tcm", help="中医病证字典 CSV code,name[,kind]")]
SchemeOpt = Annotated[Optional[Path], typer.Option(
    "--scheme", help="DRG 方案包目录（读取 diagnoses.csv / procedures.csv）/ scheme pack dir")]
DemoDict = Annotated[bool, typer.Option("--demo-dict", help="使用演示编码表 / synthetic demo code lists")]
DictDb = Annotated[Optional[Path], typer.Option("--dict-db", help="使用某仓库中已导入的字典 / dictionaries of a warehouse")]


def _catalogue(overrides: Optional[Path]):
    from yunying.qc.loader import CatalogueError, load_catalogue

    try:
        return load_catalogue(overrides)
    except CatalogueError as exc:
        fail(f"QC-CATALOGUE 质控规则目录无效：{exc}", "invalid QC catalogue (see message above)")


def _dicts(dx, px, tcm, scheme, demo, dict_db) -> dict | None:
    d = {k: v for k, v in (("dx", dx), ("px", px), ("tcm", tcm), ("scheme", scheme), ("db", dict_db)) if v}
    if demo:
        d["demo"] = True
    return d or None


def _summary_line(s) -> str:
    grades = "，".join(f"{g} {n}" for g, n in s.by_grade.items())
    c = s.counts()
    avg = f"{s.avg_score:.2f}" if s.avg_score is not None else "—"
    return (f"首页质控：{s.n_records} 份病案，缺陷 {s.n_findings} 条，平均分 {avg}（{grades}）；规则 "
            f"{c.get('failed', 0)} 条有缺陷 / {c.get('passed', 0)} 条通过 / {c.get('not_applicable', 0)} 条不适用 / "
            f"{c.get('disabled', 0)} 条停用 / {c.get('error', 0)} 条出错；用时 {s.seconds:.2f} 秒")


@app.command("run")
def run_cmd(db: DbOpt = None, overrides: OverridesOpt = None,
            hospital: Annotated[Optional[str], typer.Option("--hospital", help="只检查一家机构 / one hospital")] = None,
            sql_only: Annotated[bool, typer.Option("--sql-only", help="只打印编译后的 SQL / print the SQL only")] = False,
            as_json: JsonOpt = False) -> None:
    """对仓库中的首页运行全部启用规则（结果替换上次运行）/ run all enabled rules on the warehouse."""
    from yunying.qc.engine import run_qc

    cat = _catalogue(overrides)
    if sql_only:
        s = run_qc(None, cat, sql_only=True)
        typer.echo("\n\n".join(s.sql))
        return
    with open_db(db) as con, progress_bar(not as_json) as progress:
        s = run_qc(con, cat, hospital=hospital, progress=progress, parameters={"overrides": str(overrides or "")})
    if as_json:
        typer.echo(json.dumps({"run_id": s.run_id, "catalogue_hash": s.catalogue_hash, "records": s.n_records,
                               "findings": s.n_findings, "avg_score": s.avg_score, "grades": s.by_grade,
                               "rules": s.counts(), "seconds": s.seconds,
                               "errors": [vars(x) for x in s.statuses if x.status == "error"]},
                              ensure_ascii=False, default=str))
        return
    typer.echo(_summary_line(s))
    for x in s.statuses:
        if x.status == "error":
            typer.echo(f"  规则 {x.rule_key} 出错 / rule error: {x.reason}")


@app.command("report")
def report_cmd(db: DbOpt = None,
               period: Annotated[str, typer.Option("--period", help="2022 | 2022-03 | 2022Q1 | 2022-01:2022-06")] = "",
               level: Annotated[str, typer.Option("--level", help="hospital | department | doctor")] = "department",
               fmt: Annotated[str, typer.Option("--format", help="csv | xlsx")] = "csv",
               output: Annotated[Optional[Path], typer.Option("--output", help="输出文件 / output file")] = None) -> None:
    """合格率、平均分、主要诊断编码正确率、主要缺陷（按月与合计）/ QC report by month."""
    from yunying.qc.report import report_rows, write_report

    if not period:
        fail("请用 --period 指定期间（如 2022）", "--period is required (e.g. 2022)")
    if fmt not in ("csv", "xlsx"):
        fail(f"--format 必须是 csv 或 xlsx，实际为 {fmt}", f"--format must be csv or xlsx, got {fmt}")
    output = output or Path(f"qc-report-{level}-{period}.{fmt}")
    cat = _catalogue(None)
    with open_db(db, read_only=True) as con:
        try:
            rows = report_rows(con, level, period, [g for g, _ in cat.scoring.grades])
        except ValueError as exc:
            fail(str(exc), str(exc))
    if not rows:
        fail(f"期间 {period} 没有质控结果（请先运行 yunying qc run）", f"no QC results for {period} (run qc run first)")
    write_report(rows, level, fmt, output)
    typer.echo(f"已写出 {len(rows)} 行 → {output} / wrote {len(rows)} rows")


@app.command("report-cases")
def report_cases_cmd(db: DbOpt = None,
                     period: Annotated[str, typer.Option("--period", help="与 qc report 相同 / as in qc report")] = "",
                     hospital: Annotated[Optional[str], typer.Option("--hospital", help="医疗机构代码")] = None,
                     dept: Annotated[Optional[str], typer.Option("--dept", help="科室代码")] = None,
                     doctor: Annotated[Optional[str], typer.Option("--doctor", help="医师")] = None,
                     role: Annotated[Optional[str], typer.Option("--role", help="attending | resident")] = None,
                     month: Annotated[Optional[str], typer.Option("--month", help="报表中的某月 2022-03（默认合计）")] = None,
                     ) -> None:
    """质控报表下钻 / The records behind a qc report row: its 平均分 / 合格率 from exactly these records."""
    from yunying.qc.report import figure_definitions, report_cases

    if not period:
        fail("请用 --period 指定期间（如 2022）", "--period is required (e.g. 2022)")
    cat = _catalogue(None)
    with open_db(db, read_only=True) as con:
        try:
            cols, rows = report_cases(con, period, hospital=hospital, dept=dept, doctor=doctor, role=role,
                                      month=month)
        except ValueError as exc:
            fail(str(exc), str(exc))
    if not rows:
        fail(f"期间 {period} 没有符合条件的质控结果", f"no QC results for {period} and this unit")
    rec = [dict(zip(cols, r)) for r in rows]
    total = sum(float(r["score"]) for r in rec)
    passed = sum(1 for r in rec if r["passed"])
    runs = ",".join(sorted({r["run_id"] for r in rec}))
    defs = figure_definitions([g for g, _ in cat.scoring.grades])
    typer.echo(f"病案 {len(rec)} 份 · 平均分 avg_score = Σ得分 {total:g} ÷ {len(rec)} = {round(total / len(rec), 2)}"
               f"（{defs['avg_score']}）· 合格率 pass_rate = {passed} ÷ {len(rec)} = "
               f"{round(100.0 * passed / len(rec), 2)}%（{defs['pass_rate']}）· 运行 run {runs}")
    typer.echo("\t".join(cols))
    for r in rows:
        typer.echo("\t".join("" if v is None else str(v) for v in r))


@app.command("rules")
def rules_cmd(overrides: OverridesOpt = None, as_json: JsonOpt = False) -> None:
    """列出质控规则及状态（implemented / not_implemented / disabled）/ list the rule catalogue."""
    from yunying.qc.loader import catalogue_summary

    cat = _catalogue(overrides)
    rows = catalogue_summary(cat)
    if as_json:
        typer.echo(json.dumps({"catalogue_hash": cat.hash, "overrides": cat.overrides, "rules": rows},
                              ensure_ascii=False, default=str))
        return
    for r in rows:
        extra = f"  ({r['reason']})" if r.get("reason") else ""
        typer.echo(f"{r['key']:<22} {r['status']:<16} {r.get('severity') or '-':<2} {r.get('kind') or '-':<24} "
                   f"{r.get('title_zh') or r.get('message_zh') or ''}{extra}")


def _parse_record_ref(ref: str) -> tuple[str, str, int]:
    parts = ref.split("|")
    if len(parts) != 3 or not parts[2].strip().isdigit():
        fail(f"--record 格式应为 机构代码|病案号|住院次数，实际为 {ref!r}", "--record must be HOSPITAL|BAH|ZYCS")
    return parts[0].strip(), parts[1].strip(), int(parts[2])


@app.command("explain")
def explain_cmd(db: DbOpt = None,
                record: Annotated[str, typer.Option("--record", help="机构代码|病案号|住院次数 e.g. H001|2201000001|1")] = "",
                overrides: OverridesOpt = None, as_json: JsonOpt = False) -> None:
    """解释一份病案的得分和缺陷 / explain one record's score and findings."""
    from yunying.qc.report import explain_record

    h, mrn, no = _parse_record_ref(record)
    cat = _catalogue(overrides)
    with open_db(db, read_only=True) as con:
        out = explain_record(con, cat, h, mrn, no)
    if not out:
        fail(f"没有 {record} 的质控结果（记录不存在或未运行 qc run）", f"no QC result for {record}")
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, default=str))
        return
    typer.echo(f"病案 {h} {mrn} 第{no}次住院：得分 {out['score']:.1f}，等级 {out['grade']}，"
               f"错误 {out['n_error']} / 警告 {out['n_warning']} / 提示 {out['n_info']}")
    for sname, v in out["sections"].items():
        typer.echo(f"  {sname}：扣 {v['deducted']:g} 分（上限 {v['cap']:g}）")
    for f in out["findings"]:
        pts = f"，扣分项目 {f['item']} {f['points']:g} 分" if f["item"] and f["points"] else ""
        typer.echo(f"  [{f['severity']}] {f['rule_id']} {f['message']}{pts}")
        if f["hint_zh"]:
            typer.echo(f"        提示：{f['hint_zh']}")
    if out["not_applicable"]:
        typer.echo(f"  不适用规则 {len(out['not_applicable'])} 条（如 {out['not_applicable'][0]['rule']}："
                   f"{out['not_applicable'][0]['reason']}）")


@app.command("check")
def check_cmd(input: Annotated[Path, typer.Option("--input", help="首页文件 CSV/xlsx/parquet")],
              output: Annotated[Path, typer.Option("--output", help="缺陷清单 CSV / findings CSV")],
              summary: Annotated[Optional[Path], typer.Option("--summary", help="逐份得分 CSV / per-record summary")] = None,
              overrides: OverridesOpt = None, dict_dx: DictDx = None, dict_px: DictPx = None, dict_tcm: DictTcm = None,
              scheme: SchemeOpt = None, demo_dict: DemoDict = False, dict_db: DictDb = None,
              profile: Annotated[Optional[str], typer.Option("--profile", help="表头映射 / header profile")] = None,
              encoding: Annotated[Optional[str], typer.Option("--encoding")] = None,
              hospital: Annotated[Optional[str], typer.Option("--hospital", help="文件无机构代码时使用")] = None,
              as_json: JsonOpt = False) -> None:
    """上报前检查一个首页文件（不入库）/ pre-submission check of a file, nothing stored."""
    from yunying.qc.check import CheckError, check_file
    from yunying.qc.dictionary import DictionaryError

    cat = _catalogue(overrides)
    try:
        with progress_bar(not as_json) as progress:
            res = check_file(input, output, summary, catalogue=cat,
                             dictionaries=_dicts(dict_dx, dict_px, dict_tcm, scheme, demo_dict, dict_db),
                             profile=profile, encoding=encoding, hospital=hospital, progress=progress)
    except CheckError as exc:
        fail(exc.args[0], exc.args[1] if len(exc.args) > 1 else exc.args[0])
    except DictionaryError as exc:
        fail(f"字典无法加载：{exc}", f"dictionary cannot be loaded: {exc}")
    if as_json:
        typer.echo(json.dumps({"records": res.records, "findings": res.findings, "rejected": res.rejected,
                               "output": res.output, "summary": res.summary, "grades": res.by_grade,
                               "avg_score": res.avg_score}, ensure_ascii=False, default=str))
        return
    grades = "，".join(f"{g} {n}" for g, n in res.by_grade.items())
    typer.echo(f"检查 {res.records} 份病案（导入拒收 {res.rejected} 行），缺陷 {res.findings} 条（{grades}）→ {res.output}"
               + (f"；逐份得分 → {res.summary}" if res.summary else ""))


@app.command("check-record")
def check_record_cmd(json_text: Annotated[Optional[str], typer.Option("--json", help="一份首页的 JSON")] = None,
                     file: Annotated[Optional[Path], typer.Option("--file", help="JSON 文件（- 为标准输入）")] = None,
                     overrides: OverridesOpt = None, dict_dx: DictDx = None, dict_px: DictPx = None,
                     dict_tcm: DictTcm = None, scheme: SchemeOpt = None, demo_dict: DemoDict = False,
                     dict_db: DictDb = None) -> None:
    """检查首页（JSON：一份、数组或 {"records": [...]}；国家字段码或规范列名；diagnoses/procedures 为列表）
    / check record(s) without storing them, print JSON (score, grade, findings)."""
    from yunying.qc.check import CheckError, check_records, load_json

    if json_text is None and file is None:
        fail("请用 --json 或 --file 提供首页", "pass --json or --file")
    try:
        raw = json_text if json_text is not None else (sys.stdin.buffer.read() if str(file) == "-" else
                                                        Path(file).read_bytes())
    except OSError as exc:
        fail(f"[QC-INPUT-FILE] 无法读取 {file}：{exc.strerror or exc}", f"[QC-INPUT-FILE] cannot read {file}: "
             f"{exc.strerror or exc}")
    try:
        data = load_json(raw)
        one = isinstance(data, dict) and "records" not in data
        records = [data] if one else (data.get("records") if isinstance(data, dict) else data)
        if not isinstance(records, list) or not records:
            fail("[QC-INPUT-TYPE] JSON 须为一份首页（对象）、首页数组或 {\"records\": [...]}",
                 "[QC-INPUT-TYPE] the JSON must be one record (an object), a list of records or {\"records\": [...]}")
        res = check_records(records, catalogue=_catalogue(overrides),
                            dictionaries=_dicts(dict_dx, dict_px, dict_tcm, scheme, demo_dict, dict_db))
    except CheckError as exc:
        tag = f"[{exc.code}] " if exc.code else ""
        fail(tag + exc.zh, tag + exc.en)
    out = [r.as_dict() for r in res]
    typer.echo(json.dumps(out[0] if one else {"n_records": len(out), "records": out}, ensure_ascii=False,
                          default=str))


@dict_app.command("import")
def dict_import_cmd(file: Annotated[Optional[Path], typer.Argument(help="CSV code,name[,…] 或方案包目录")] = None,
                    db: DbOpt = None,
                    kind: Annotated[str, typer.Option("--kind", help="dx | px | tcm | dx_<版本>（如 dx_yb）")] = "dx",
                    demo: Annotated[bool, typer.Option("--demo", help="导入全部演示编码表 / all demo lists")] = False) -> None:
    """导入诊断/手术/中医病证字典（替换同类字典）/ load a code dictionary into the warehouse."""
    from yunying.qc.dictionary import DictionaryError, import_demo_dictionaries, import_dictionary

    if not demo and file is None:
        fail("请给出字典文件或方案包目录，或用 --demo", "give a dictionary file / pack dir, or --demo")
    with open_db(db) as con:
        try:
            counts = import_demo_dictionaries(con) if demo else {kind: import_dictionary(con, kind, file)}
        except DictionaryError as exc:
            fail(str(exc), str(exc))
    typer.echo("已导入字典 / dictionaries loaded: " + "，".join(f"{k} {n} 条" for k, n in counts.items()))


@dict_app.command("list")
def dict_list_cmd(db: DbOpt = None) -> None:
    """列出已导入的字典 / list loaded dictionaries."""
    with open_db(db, read_only=True) as con:
        rows = con.execute("select kind, count(*), any_value(source), max(loaded_at) from qc_dictionary "
                           "group by 1 order by 1").fetchall()
    if not rows:
        typer.echo("未导入字典：字典类规则将为不适用 / no dictionary loaded: dictionary rules are not_applicable")
    for k, n, src, at in rows:
        typer.echo(f"{k}: {n} 条，来源 {src}，导入于 {at}")


def demo_stage(db: Path) -> None:
    """For `yunying demo run`: load the demo dictionaries, run QC on the demo warehouse, print one line."""
    from yunying.qc.dictionary import import_demo_dictionaries
    from yunying.qc.engine import run_qc
    from yunying.qc.loader import load_catalogue

    with open_db(db) as con:
        import_demo_dictionaries(con)
        s = run_qc(con, load_catalogue(use_env=False), parameters={"demo": True})
    typer.echo(_summary_line(s))


__all__ = ["app", "demo_stage", "console"]
