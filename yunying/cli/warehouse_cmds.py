"""`yunying import`, `yunying stats`, `yunying sql`: the warehouse from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import duckdb
import typer

from yunying.model.safe_cells import csv_writer
from yunying.cli.common import DbOpt, JsonOpt, console, db_path, fail, json_failures, open_db, progress_bar
from yunying.ingest.engine import import_files
from yunying.ingest.errors import ImportFailed
from yunying.model.catalogue import load_model
from yunying.settings import load_settings


# `import all`: dictionaries first (cost units and the charge-item dictionary too), then facts
IMPORT_ORDER = ["hospital", "department", "cost_unit", "charge_item", "staff", "finance", "beds", "discharge",
                "outpatient", "cost_ledger", "cost_basis", "cost_revenue", "item_volume", "case_charge"]
DATA_SUFFIXES = (".csv", ".xlsx", ".parquet")


def folder_plan(folder: Path) -> tuple[list[tuple[str, list[Path]]], list[Path]]:
    """(kind, files) in import order for a folder, and the data files no kind claims. A folder written by
    `yunying demo generate` is read from its manifest.json; any other folder by file-name prefix
    (discharge_2022.csv, outpatient-2022.xlsx, departments.csv …)."""
    manifest = folder / "manifest.json"
    if manifest.is_file():
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        plan = [(k, [folder / Path(f).name for f in listed[k]]) for k in IMPORT_ORDER if k in listed]
        return plan, []
    by_kind: dict[str, list[Path]] = {}
    unknown = []
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.suffix.lower() not in DATA_SUFFIXES:
            continue
        kind = next((k for k in IMPORT_ORDER if f.name.lower().startswith(k)), None)
        if kind is None:
            unknown.append(f)
        else:
            by_kind.setdefault(kind, []).append(f)
    return [(k, by_kind[k]) for k in IMPORT_ORDER if k in by_kind], unknown


def import_folder(db: Path | None, folder: Path, *, quiet: bool = False, reject_dir: Path | None = None,
                  hospital: str | None = None) -> dict:
    """Import every data file of a folder, dictionaries first (see folder_plan); stops at the first kind whose
    import fails (each file is atomic: what was stored before stays). Returns {"ok": …, "imports": {kind: summary}}."""
    if not folder.is_dir():
        fail(f"不是文件夹：{folder}", f"not a folder: {folder}", 2)
    plan, unknown = folder_plan(folder)
    if not plan:
        fail(f"{folder} 中没有可导入的文件（文件名应以 {'/'.join(IMPORT_ORDER)} 开头，或含 manifest.json）",
             f"nothing to import in {folder} (file names start with a kind, or a manifest.json)", 2)
    if unknown and not quiet:
        console.print(f"[yellow]未识别数据类型的文件（已跳过）skipped, unknown kind: "
                      f"{', '.join(f.name for f in unknown)}[/yellow]")
    settings = load_settings(db=db, hospital=hospital)
    results: dict[str, dict] = {}
    out_dir = reject_dir or (db_path(db).resolve().parent / "rejects")
    with open_db(db, create=True) as con, progress_bar(not quiet) as progress:
        for kind, paths in plan:
            try:
                summary = import_files(con, kind, paths, reject_dir=out_dir,
                                       hospital=settings.hospital, profiles_dir=settings.profiles_dir,
                                       progress=progress)
            except ImportFailed as exc:
                fail(exc.zh, exc.en, 2, error_code=exc.code)
            results[kind] = summary.as_dict()
            if not quiet:
                t = summary.totals()
                console.print(f"  导入 {kind:11s} +{t['inserted']:,} ~{t['updated']:,} "
                              f"拒收 rejected {t['rejected']:,} 警告 warnings {t['warnings']:,}")
            if not summary.ok:
                if not quiet:
                    _print_summary(summary)
                return {"ok": False, "imports": results}
    return {"ok": True, "imports": results}


def import_cmd(
    kind: Annotated[str, typer.Argument(help="数据类型 kind: discharge|outpatient|department|staff|finance|beds|hospital, "
                                             "成本 cost_unit|cost_ledger|cost_basis|cost_revenue|charge_item|"
                                             "item_volume|case_charge, 或 all（导入一个文件夹 / a whole folder）")],
    files: Annotated[list[Path], typer.Argument(help="CSV (UTF-8/GB18030) / .xlsx / .parquet 文件；all 时为一个文件夹")],
    db: DbOpt = None,
    hospital: Annotated[Optional[str], typer.Option(help="文件中无机构代码时使用的医疗机构代码 hospital_id")] = None,
    profile: Annotated[Optional[str], typer.Option(help="表头映射配置名称或 YAML 文件 / profile name or YAML file")] = None,
    encoding: Annotated[Optional[str], typer.Option(help="强制编码（默认自动识别）/ force encoding")] = None,
    reject_dir: Annotated[Optional[Path], typer.Option(help="拒收与警告文件目录（默认：仓库旁 rejects/）")] = None,
    json_out: JsonOpt = False,
) -> None:
    """导入数据文件（原子、幂等）/ Import files: bad rows quarantined and explained, the rest loaded atomically.

    `yunying import all FOLDER` imports every file of a folder in dictionary-first order (hospital, department,
    cost_unit, charge_item, staff, finance, beds, discharge, outpatient, cost_ledger, cost_basis, cost_revenue,
    item_volume, case_charge), by manifest.json or by file-name prefix."""
    if kind == "all":
        if len(files) != 1:
            fail("import all 需要且只需要一个文件夹", "import all takes exactly one folder", 2)
        if profile or encoding:
            fail("import all 不接受 --profile / --encoding（按文件自动识别）",
                 "import all takes no --profile / --encoding (detected per file)", 2)
        res = import_folder(db, files[0], quiet=json_out, reject_dir=reject_dir, hospital=hospital)
        if json_out:
            print(json.dumps(res, ensure_ascii=False, indent=2, default=str))
        if not res["ok"]:
            raise typer.Exit(1)
        return
    settings = load_settings(db=db, hospital=hospital)
    profile_files = None
    if profile and (profile.endswith((".yaml", ".yml")) or Path(profile).is_file()):
        profile_files, profile = [Path(profile)], _profile_name(Path(profile))
    out_dir = reject_dir or (db_path(db).resolve().parent / "rejects")
    with open_db(db, create=True) as con, progress_bar(not json_out) as progress:
        try:
            summary = import_files(con, kind, files, reject_dir=out_dir, hospital=settings.hospital,
                                   profile=profile, profiles_dir=settings.profiles_dir,
                                   profile_files=profile_files, encoding=encoding, progress=progress)
        except ImportFailed as exc:
            fail(exc.zh, exc.en, 2, error_code=exc.code)
    if json_out:
        print(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        _print_summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _profile_name(path: Path) -> str:
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))["name"]
    except Exception:
        fail(f"无法读取映射配置文件 {path}", f"cannot read profile file {path}", 2, error_code="IMP-PROFILE")


def _print_summary(summary) -> None:
    for f in summary.files:
        name = Path(f.file).name
        if f.status != "ok":
            console.print(f"[red]✗ {name}: {f.message}[/red]")
            continue
        console.print(
            f"[green]✓[/green] {name}: 新增 inserted {f.inserted:,}，更新 updated {f.updated:,}，"
            f"拒收 rejected {f.rejected:,}，警告 warnings {f.warnings:,}"
            f"（编码 {f.encoding or '-'}，映射 {f.profile}）")
        if f.unknown_columns:
            shown = ", ".join(f.unknown_columns[:12]) + (" …" if len(f.unknown_columns) > 12 else "")
            console.print(f"  未识别的列（已忽略）unknown columns ignored: {shown}")
        for note in f.notes:
            console.print(f"  {note}")
    if summary.reject_file:
        console.print(f"拒收明细 reject file: {summary.reject_file}")
    if summary.warning_file:
        console.print(f"警告明细 warning file: {summary.warning_file}")


def stats_cmd(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """各表行数 / Row counts per table."""
    with open_db(db, read_only=True) as con:
        names = list(load_model().tables) + ["import_log", "import_reject", "import_warning"]
        existing = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        counts = {n: con.execute(f"select count(*) from {n}").fetchall()[0][0] for n in names if n in existing}
        counts.update({n: con.execute(f"select count(*) from {n}").fetchall()[0][0]
                       for n in sorted(existing - set(counts) - {"schema_migrations"})})
    if json_out:
        print(json.dumps({"db": str(db_path(db)), "tables": counts}, ensure_ascii=False, indent=2))
        return
    model = load_model()
    for n, c in counts.items():
        zh = model.tables[n].zh if n in model.tables else ""
        print(f"{n:24s} {zh:12s} {c:>12,}")


def sql_cmd(
    query: Annotated[str, typer.Argument(help="只读 SQL / read-only SQL")],
    db: DbOpt = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="写入 CSV 文件（默认标准输出）")] = None,
) -> None:
    """运行只读 SQL 并输出 CSV / Run read-only SQL, print CSV (for analysts)."""
    with open_db(db, read_only=True) as con:
        try:
            cur = con.execute(query)
        except duckdb.Error as exc:
            fail(f"SQL 执行失败（仓库以只读方式打开）：{exc}", f"SQL failed (warehouse opened read-only): {exc}")
        cols = [d[0] for d in cur.description] if cur.description else []
        fh = open(output, "w", encoding="utf-8-sig", newline="") if output else sys.stdout
        try:
            w = csv_writer(fh, lineterminator="\n")
            w.writerow(cols)
            while batch := cur.fetchmany(10000):
                w.writerows(batch)
        finally:
            if output:
                fh.close()


def register(app: typer.Typer) -> None:
    # with --json a failure before any file was read (unknown kind, warehouse, profile) is JSON on stdout too
    app.command("import")(json_failures(import_cmd, inserted=0, updated=0, rejected=0, files=[]))
    app.command("stats")(stats_cmd)
    app.command("sql")(sql_cmd)
