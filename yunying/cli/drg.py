"""`yunying drg …` — DRG grouping: scheme packs, batch grouping, explanation, warehouse runs, payer reconciliation.

Parse → call the engine in yunying.drg → print. Data problems exit non-zero with a Chinese + English message,
never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from yunying.model.safe_cells import csv_dict_writer, csv_writer
from yunying.cli.common import db_path

app = typer.Typer(help="DRG 分组 / DRG grouping: 方案包、分组、解释、对账 (scheme packs, grouping, explain, "
                       "payer reconciliation).", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)
scheme_app = typer.Typer(help="DRG 方案包管理 / scheme packs: import, list, diff.", no_args_is_help=True)
app.add_typer(scheme_app, name="scheme")


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(msg, err=True)
    raise typer.Exit(code)


def _db_path(db: Optional[Path]) -> Path:
    return db_path(db)


def _connect(db: Optional[Path], *, create: bool = False):
    from yunying.cli.common import connect_warehouse

    return connect_warehouse(db, create=create)


def bundled_pack(directory: Path) -> Path:
    """`demo` (when no such folder exists) names the bundled demo scheme (演示方案, not a real 医保 scheme)."""
    if str(directory) == "demo" and not directory.is_dir():
        from importlib import resources

        return Path(str(resources.files("yunying.drg").joinpath("demo_scheme")))
    return directory


def _load_scheme(ref: str, db: Optional[Path]):
    from yunying.drg.pack import PackError
    from yunying.drg.store import DrgDataError, resolve_scheme

    try:
        if Path(ref).is_dir():
            return resolve_scheme(ref)
        path = _db_path(db)
        if not path.exists():
            _fail(f"DRG-SCHEME {ref!r} 不是方案目录，且数据库 {path} 不存在 / {ref!r} is not a pack directory and "
                  f"the database does not exist")
        return resolve_scheme(ref, lambda: _connect(db))
    except PackError as e:
        _fail(str(e))
    except DrgDataError as e:
        _fail(str(e))


# ------------------------------------------------------------------------------------------------------------
# group
# ------------------------------------------------------------------------------------------------------------


def _open_cases(path: Path):
    """Streaming reader over a cases CSV (all columns as text). Returns (header, batch reader)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from yunying.drg.cases import CASE_COLUMNS, REQUIRED_COLUMNS

    if not path.is_file():
        _fail(f"DRG-INPUT 输入文件不存在：{path} / input file not found")
    encoding = "utf8"
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the block end
            encoding = "gb18030"
    text_head = head.decode("utf-8" if encoding == "utf8" else "gb18030", errors="ignore").lstrip("\ufeff")
    header = next(csv.reader([text_head.splitlines()[0] if text_head else ""]), [])
    header = [h.strip() for h in header]
    if not header or header == [""]:
        _fail(f"DRG-INPUT 输入文件为空或缺少表头：{path} / empty input or no header")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        _fail(f"DRG-INPUT 输入文件缺少必需列：{'、'.join(missing)}（需要 record_id, sex, age_years, age_days, "
              f"newborn_weight_g, dept_code, los_days, discharge_type, dx, px）/ missing columns: {', '.join(missing)}")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        _fail(f"DRG-INPUT 表头列名重复：{'、'.join(dup)} / duplicate header columns: {', '.join(dup)}")
    wanted = [c for c in CASE_COLUMNS if c in header]
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(encoding=encoding, column_names=header, skip_rows=1,
                                          block_size=1 << 24),
            convert_options=pcsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                include_columns=wanted,
                                                strings_can_be_null=False, quoted_strings_can_be_null=False),
            parse_options=pcsv.ParseOptions(newlines_in_values=False),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        _fail(f"DRG-INPUT 输入文件格式错误（请检查列数、引号与编码）：{path}：{e} / malformed CSV: {e}")
    return header, reader


def write_plain_csv(table, fh, header: bool) -> None:
    """Append ``table`` to a binary file as CSV, quoted only where a value needs it (like the pack files)."""
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    if header:
        fh.write((",".join(table.column_names) + "\n").encode())
    if table.num_rows == 0:
        return
    risky = any(pc.any(pc.match_substring_regex(table[c], r'[,"\r\n]|^[=+\-@\t]')).as_py()
                for c in table.column_names)
    if not risky:
        pcsv.write_csv(table, fh, write_options=pcsv.WriteOptions(quoting_style="none", include_header=False))
        return
    buf = io.StringIO()
    w = csv_writer(buf, lineterminator="\n")
    w.writerows(zip(*(table[c].to_pylist() for c in table.column_names)))
    fh.write(buf.getvalue().encode("utf-8"))


@app.command("group")
def group_cmd(
    scheme: str = typer.Option(..., "--scheme", help="方案包目录或已导入的方案名 / pack directory or registered name"),
    input: Path = typer.Option(..., "--input", help="病案 CSV（sample_cases.csv 的列） / cases CSV"),
    output: Path = typer.Option(..., "--output", help="结果 CSV：record_id,status,mdc,adrg,drg"),
    db: Optional[Path] = typer.Option(None, "--db", help="已导入方案所在的数据库 / warehouse holding registered schemes"),
    batch: int = typer.Option(1_000_000, "--batch", help="每次读入的病案数（控制内存） / cases per read batch"),
    threads: Optional[int] = typer.Option(None, "--threads", help="分组线程数（默认每核一个） / grouping threads"),
):
    """按方案对 CSV 病案分组（流式读写，内存有界） / group the cases of a CSV file (streamed)."""
    import pyarrow as pa

    from yunying.drg.grouper import Grouper

    pack = _load_scheme(scheme, db)
    grouper = Grouper(pack)
    _header, reader = _open_cases(input)
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    done = 0
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _fail(f"DRG-OUTPUT 无法创建输出目录 {output.parent}：{e} / cannot create output directory: {e}")
    tmp = output.with_name(output.name + ".part")

    def flush(batches, fh, first):
        nonlocal done
        table = pa.Table.from_batches(batches)
        res = grouper.group_table(table, threads=threads)
        write_plain_csv(res, fh, header=first)
        for row in pa.compute.value_counts(res["status"]).to_pylist():
            counts[row["values"]] = counts.get(row["values"], 0) + row["counts"]
        done += table.num_rows
        if done >= 200_000:
            typer.echo(f"  已分组 {done:,} 例 / grouped {done:,}", err=True)

    try:
        with tmp.open("wb") as fh:
            pending, size, first = [], 0, True
            while True:
                try:
                    b = reader.read_next_batch()
                except StopIteration:
                    break
                pending.append(b)
                size += b.num_rows
                if size >= batch:
                    flush(pending, fh, first)
                    pending, size, first = [], 0, False
            if pending or first:
                if not pending:
                    pending = [pa.RecordBatch.from_pylist([], schema=reader.schema)]
                flush(pending, fh, first)
        tmp.replace(output)
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        tmp.unlink(missing_ok=True)
        _fail(f"DRG-INPUT 输入文件格式错误（请检查列数、引号与编码，约第 {done + 2:,} 行之后）：{input}：{e} / "
              f"malformed CSV after about row {done + 2:,}: {e}")
    except OSError as e:
        tmp.unlink(missing_ok=True)
        _fail(f"DRG-OUTPUT 无法写出结果文件 {output}：{e} / cannot write output: {e}")
    dt = time.perf_counter() - t0
    summary = "，".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
    typer.echo(f"分组完成 {done:,} 例（{summary}），方案 {pack.identity}，用时 {dt:.2f} 秒 → {output} / "
               f"grouped {done:,} cases in {dt:.2f}s")


# ------------------------------------------------------------------------------------------------------------
# explain
# ------------------------------------------------------------------------------------------------------------


def _parse_case(text: str) -> dict:
    text = text.strip()
    if text.startswith("{"):
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as e:
            _fail(f"DRG-CASE 病案 JSON 格式错误：{e} / malformed case JSON")
        if not isinstance(rec, dict):
            _fail("DRG-CASE 病案 JSON 应为对象 / case JSON must be an object")
        return {k: ("" if v is None else str(v)) for k, v in rec.items()}
    rec = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            _fail(f"DRG-CASE 病案字段应写成 名=值;名=值，无法解析 {part!r} / expected key=value;key=value")
        k, v = part.split("=", 1)
        rec[k.strip()] = v.strip()
    return rec


@app.command("explain")
def explain_cmd(
    scheme: str = typer.Option(..., "--scheme", help="方案包目录或已导入的方案名"),
    case: Optional[str] = typer.Option(None, "--case",
                                       help='病案：JSON 或 "sex=1;age_years=45;dx=K35.800;px=47.0100"'),
    key: Optional[str] = typer.Option(None, "--key", help="仓库中的病案：医院/病案号/住院次数（需 --db）"),
    db: Optional[Path] = typer.Option(None, "--db"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON / print JSON"),
):
    """对单个病案分组并给出中文解释 / group one case and explain it."""
    from yunying.drg.explain import explain_case

    if (case is None) == (key is None):
        _fail("DRG-CASE 请用 --case 给出病案字段，或用 --key 医院/病案号/住院次数 指定仓库中的病案（二选一） / "
              "give exactly one of --case or --key")
    risk = stored = None
    if key is not None:
        rec = _warehouse_case(key, db)
        risk = _qc_risk(key, db)
        if not Path(scheme).is_dir():
            stored = _stored(key, scheme, db)
    else:
        rec = _parse_case(case)
    unknown = [k for k in rec if k not in ("record_id", "sex", "age_years", "age_days", "newborn_weight_g",
                                           "dept_code", "los_days", "discharge_type", "dx", "px")]
    if unknown:
        _fail(f"DRG-CASE 未知字段：{'、'.join(unknown)} / unknown fields: {', '.join(unknown)}")
    rec.setdefault("record_id", "case")
    pack = _load_scheme(scheme, db)
    ex = explain_case(pack, rec)
    if key is not None and stored is not None:
        _echo_stored(stored, ex, risk, as_json)
        return
    if as_json:
        typer.echo(json.dumps({**ex.as_dict(), "qc_risk": risk} if key is not None else ex.as_dict(),
                              ensure_ascii=False, indent=1, default=str))
    else:
        if key is not None:
            typer.echo(f"该病案在方案 {scheme} 下没有已存储的分组结果，以下为即时分组 / not grouped under {scheme} "
                       f"in the warehouse: live grouping below")
        typer.echo(ex.text())
        if risk is not None:                   # record QC's word on the fields the grouping rests on
            typer.echo(f"质控 QC：{risk['text_zh']}")
            for f in risk["findings"]:
                typer.echo(f"  {f['rule_id']} {f['message_zh']}")


def _stored(key: str, scheme: str, db: Optional[Path]) -> dict | None:
    from yunying.drg.store import stored_result

    h, mrn, adm = key.split("/")
    con = _connect(db)
    try:
        return stored_result(con, scheme, h, mrn, int(adm))
    finally:
        con.close()


def _echo_stored(stored: dict, ex, risk: dict | None, as_json: bool) -> None:
    """`drg explain --key`: the stored result of the case's run first; a fresh regrouping explains it only while the
    scheme and the case are unchanged, else it is shown as a labelled comparison."""
    from yunying.drg.store import stored_reading

    rd = stored_reading(stored, ex)
    if as_json:
        out = {"record_id": ex.record_id, "result_source": "stored", **{k: stored[k] for k in (
            "scheme", "status", "mdc", "adrg", "drg", "run_id", "grouped_at", "scheme_hash", "current_hash",
            "scheme_changed")}, **rd, "trace": ex.trace if rd["trace_explains_stored"] else [],
            "regrouped": None if rd["trace_explains_stored"] else ex.as_dict(), "qc_risk": risk}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1, default=str))
        return
    from yunying.drg.grouper import STATUS_ZH

    typer.echo(f"已存储的分组结果 / stored result：病案 {ex.record_id}：{STATUS_ZH.get(stored['status'], stored['status'])}"
               f"（{stored['status']}）  MDC {stored['mdc']}  ADRG {stored['adrg']}  DRG {stored['drg']}   方案 "
               f"{stored['scheme']}（分组时哈希 {str(stored['scheme_hash'])[:12]}）  运行 run {stored['run_id'] or '-'}  "
               f"分组于 {stored['grouped_at']}")
    if rd["trace_explains_stored"]:
        typer.echo("分组过程（按同一方案重现，与已存储结果一致）/ trace (same scheme, reproduces the stored result)：")
        typer.echo("\n".join(ex.text().splitlines()[1:]))
    else:
        cur = f"，现哈希 {str(stored['current_hash'])[:12]}" if stored["current_hash"] else ""
        typer.echo(f"⚠ {rd['notice_zh']}{cur} / {rd['notice_en']}")
        typer.echo("以下为按当前方案重新分组，仅供对比，不是已存储的结果 / below: a fresh regrouping under the current "
                   "scheme, for comparison only — not the stored result")
        typer.echo(ex.text())
    if risk is not None:
        typer.echo(f"质控 QC：{risk['text_zh']}")
        for f in risk["findings"]:
            typer.echo(f"  {f['rule_id']} {f['message_zh']}")


def _qc_risk(key: str, db: Optional[Path]) -> dict | None:
    from yunying.qc.report import drg_risk

    h, mrn, adm = key.split("/")
    con = _connect(db)
    try:
        return drg_risk(con, h, mrn, int(adm))
    finally:
        con.close()


def _warehouse_case(key: str, db: Optional[Path]) -> dict:
    from yunying.drg.cases import CASE_COLUMNS
    from yunying.drg.store import warehouse_cases

    parts = key.split("/")
    if len(parts) != 3 or not parts[2].strip().lstrip("-").isdigit():
        _fail(f"DRG-CASE --key 应为 医院/病案号/住院次数，收到 {key!r} / --key must be hospital/mrn/admission_no")
    path = _db_path(db)
    if not path.exists():
        _fail(f"DRG-DB 数据库不存在：{path} / database not found")
    con = _connect(db)
    try:
        rows = warehouse_cases(con, "where d.hospital_id = ? and d.mrn = ? and d.admission_no = ?",
                               [parts[0], parts[1], int(parts[2])]).to_pylist()
    finally:
        con.close()
    if not rows:
        _fail(f"DRG-CASE 仓库中没有病案 {key} / case {key} not found in the warehouse")
    return {c: rows[0][c] for c in CASE_COLUMNS}


# ------------------------------------------------------------------------------------------------------------
# scheme import / list / diff
# ------------------------------------------------------------------------------------------------------------


@scheme_app.command("import")
def scheme_import(
    directory: Path = typer.Argument(..., help="方案包目录；demo 为内置演示方案 / pack directory, or demo for the "
                                               "bundled demo scheme"),
    name: str = typer.Option(..., "--name", help="登记名，如 chs-drg-1.1 / registered name"),
    db: Optional[Path] = typer.Option(None, "--db", help="数据库文件（默认 YUNYING_DB）"),
):
    """校验并登记方案包 / validate and register a scheme pack."""
    from yunying.drg.pack import PackError, load_pack
    from yunying.drg.store import DrgDataError, register_pack

    directory = bundled_pack(directory)

    con = _connect(db, create=True)
    try:
        def resolver(ref):
            from yunying.drg.store import load_registered

            return load_registered(con, ref)

        try:
            pack = load_pack(directory, name=name, resolver=resolver)
        except (PackError, DrgDataError) as e:      # DrgDataError: pack.yaml names a base scheme not registered
            _fail(str(e))
        register_pack(con, pack, name)
    finally:
        con.close()
    counts = {t: len(pack.tables.get(t, [])) for t in ("mdcs", "adrgs", "drgs")}
    typer.echo(f"已导入方案 {name}（{pack.identity}）：MDC {counts['mdcs']} 个，ADRG {counts['adrgs']} 个，"
               f"DRG {counts['drgs']} 个" + (f"，附加表 {', '.join(pack.extra)}" if pack.extra else "")
               + f" / registered {name}")


@scheme_app.command("list")
def scheme_list(db: Optional[Path] = typer.Option(None, "--db")):
    """列出已导入的方案 / list registered schemes."""
    from yunying.drg.store import list_schemes

    con = _connect(db)
    try:
        rows = list_schemes(con)
    finally:
        con.close()
    if not rows:
        typer.echo("尚未导入任何方案 / no scheme registered")
        return
    typer.echo("name\thash\tbase\tresults\tsource")
    for name, h, base, source, _at, n in rows:
        typer.echo(f"{name}\t{h[:16]}\t{base or ''}\t{n}\t{source or ''}")


@scheme_app.command("diff")
def scheme_diff(
    a: str = typer.Argument(..., help="方案 A：目录或登记名"),
    b: str = typer.Argument(..., help="方案 B：目录或登记名"),
    db: Optional[Path] = typer.Option(None, "--db"),
    limit: int = typer.Option(20, "--limit", help="每类最多显示行数"),
    overrides: Optional[Path] = typer.Option(None, "--as-overrides", help="把差异写成 overrides.csv"),
):
    """比较两个方案 / show what differs between two schemes."""
    from yunying.drg.pack import diff_as_overrides, diff_report

    pa_, pb_ = _load_scheme(a, db), _load_scheme(b, db)
    typer.echo(diff_report(pa_, pb_, limit=limit))
    if overrides is not None:
        rows = diff_as_overrides(pa_, pb_)
        with overrides.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, ["op", "table", "key", "column", "value", "reason_zh"], lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        typer.echo(f"已写出 {len(rows)} 行覆盖项 → {overrides} / wrote {len(rows)} override rows")


# ------------------------------------------------------------------------------------------------------------
# run / reconcile on the warehouse
# ------------------------------------------------------------------------------------------------------------


@app.command("run")
def run_cmd(
    db: Path = typer.Option(..., "--db", help="数据仓库文件 / warehouse DuckDB file"),
    scheme: str = typer.Option(..., "--scheme", help="已导入的方案名（或目录） / registered scheme"),
):
    """对仓库中已导入的首页数据分组并保存结果 / group imported discharges and store results."""
    from yunying.drg.store import run_grouping

    if not db.exists():
        _fail(f"DRG-DB 数据库不存在：{db} / database not found")
    pack = _load_scheme(scheme, db)
    name = pack.name if Path(scheme).is_dir() else scheme
    con = _connect(db)
    try:
        t0 = time.perf_counter()
        res = run_grouping(con, pack, name)
    finally:
        con.close()
    by = "，".join(f"{k} {v:,}" for k, v in sorted(res["by_status"].items()))
    typer.echo(f"已分组 {res['cases']:,} 例（{by}），方案 {name}（{pack.identity}），用时 "
               f"{time.perf_counter() - t0:.1f} 秒，结果在 drg_result，运行 {res['run_id']} / grouped "
               f"{res['cases']:,} cases, run {res['run_id']}")


@app.command("reconcile")
def reconcile_cmd(
    db: Path = typer.Option(..., "--db"),
    scheme: str = typer.Option(..., "--scheme"),
    payer: Path = typer.Option(..., "--payer", help="医保局返回的分组结果 CSV（record_id 或 mrn+admission_no，及 drg）"),
    output: Optional[Path] = typer.Option(None, "--output", help="差异清单 CSV（默认 reconcile-<方案>.csv）"),
    hospital: Optional[str] = typer.Option(None, "--hospital", help="医保文件无机构编码时使用"),
):
    """与医保局返回的分组对账，列出每个不一致的病案及本院分组解释 / reconcile with the payer's groups."""
    from yunying.drg.store import DrgDataError, reconcile

    if not db.exists():
        _fail(f"DRG-DB 数据库不存在：{db} / database not found")
    pack = _load_scheme(scheme, db)
    name = pack.name if Path(scheme).is_dir() else scheme
    con = _connect(db)
    try:
        rows, summary = reconcile(con, pack, name, payer, hospital)
    except DrgDataError as e:
        _fail(str(e))
    finally:
        con.close()
    out = output or Path(f"reconcile-{name}.csv")
    cols = ["hospital_id", "mrn", "admission_no", "payer_drg", "our_status", "our_mdc", "our_adrg", "our_drg",
            "difference", "difference_zh", "dx", "px", "our_explanation_zh", "cc_mcc_zh"]
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv_dict_writer(fh, cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    typer.echo(f"对账完成：医保病案 {summary['payer_cases']:,} 例，一致 {summary['same']:,}，不一致 "
               f"{summary['different']:,}（其中仓库缺失 {summary['missing_in_warehouse']:,}）→ {out} / "
               f"{summary['different']:,} differing cases written")


@app.command("cases")
def cases_cmd(
    output: Path = typer.Option(..., "--output", help="病案 CSV（分组器输入格式）/ cases CSV in the grouper's input layout"),
    db: Optional[Path] = typer.Option(None, "--db", help="仓库文件 / warehouse"),
    year: Optional[int] = typer.Option(None, "--year", help="只导出该出院年度 / discharge year only"),
):
    """从仓库导出分组器输入病案（record_id = 医院/病案号/住院次数）/ export the warehouse's discharges in the
    grouper's input layout, e.g. to group them with another scheme (drg group --input)."""
    from yunying.drg.cases import CASE_COLUMNS
    from yunying.drg.store import warehouse_cases

    con = _connect(db)
    try:
        where, params = ("where year(d.discharge_time) = ?", [year]) if year else ("", None)
        table = warehouse_cases(con, where, params).select(list(CASE_COLUMNS))
    finally:
        con.close()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("wb") as fh:
            write_plain_csv(table, fh, header=True)
    except OSError as e:
        _fail(f"DRG-OUTPUT 无法写入 {output}：{e} / cannot write the output file: {e}")
    typer.echo(f"已导出 exported {table.num_rows:,} 例 → {output}", err=True)

if __name__ == "__main__":  # pragma: no cover
    app(sys.argv[1:])
