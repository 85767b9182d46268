"""`yunying demo generate` and `yunying demo run`: a synthetic hospital, imported and processed end to end."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.cli.common import console, fail, open_db, progress_bar

app = typer.Typer(help="演示数据 / synthetic demo hospital", no_args_is_help=True)

PROFILES = ["tertiary-general", "tertiary-tcm", "secondary-general"]


def _years(value: str) -> list[int]:
    try:
        years = [int(y) for y in value.split(",") if y.strip()]
    except ValueError:
        fail(f"年份格式应为 2021,2022，收到 {value!r}", f"years must look like 2021,2022, got {value!r}", 2)
    if not years or any(y < 1990 or y > 2100 for y in years):
        fail(f"年份无效：{value!r}", f"invalid years: {value!r}", 2)
    return years


@app.command("generate")
def generate_cmd(
    profile: Annotated[str, typer.Option(help=f"医院画像 profile: {', '.join(PROFILES)}")] = "tertiary-general",
    years: Annotated[str, typer.Option(help="年份，逗号分隔 / years, comma separated")] = "2021,2022",
    scale: Annotated[float, typer.Option(help="规模（1 = 全院一年的真实量级）/ scale (1 = a real year)")] = 0.05,
    seed: Annotated[int, typer.Option(help="随机种子（相同种子生成相同文件）/ seed")] = 42,
    out: Annotated[Path, typer.Option(help="输出目录 / output folder")] = Path("demo-data"),
    codes: Annotated[Optional[Path], typer.Option(help="从 DRG 方案包取诊断/手术编码 / draw codes from a scheme pack")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """生成可直接导入的合成医院数据 / Write import-ready files for a synthetic hospital (deterministic per seed)."""
    from yunying.synth.generator import generate

    if scale <= 0:
        fail("scale 必须大于 0", "scale must be > 0", 2)
    if codes is not None and not (codes / "diagnoses.csv").is_file():
        fail(f"{codes} 不是方案包目录（缺少 diagnoses.csv）", f"{codes} is not a scheme pack (no diagnoses.csv)", 2)
    started = time.perf_counter()
    with progress_bar(not json_out) as progress:
        try:
            result = generate(profile=profile, years=_years(years), scale=scale, seed=seed, out=out,
                              codes=codes, progress=progress)
        except (KeyError, ValueError, FileNotFoundError) as exc:
            fail(f"无法生成演示数据：{exc}", f"cannot generate demo data: {exc}", 2)
    write_sample_records(out)
    summary = {"profile": profile, "out": str(out), "seconds": round(time.perf_counter() - started, 1),
               "counts": dict(result.counts), "files": {k: [str(p) for p in v] for k, v in result.files.items()}}
    if json_out:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        console.print(f"已生成 generated {profile} → {out}（{summary['seconds']} s）")
        for kind, n in result.counts.items():
            console.print(f"  {kind:12s} {n:>10,}")


def write_sample_records(folder: Path, n_clean: int = 2) -> Path:
    """records.json beside the generated files: a few 首页 of the last year as JSON objects keyed by national field
    codes (what a HIS posts to 首页预检), the first ones plus the first record with an injected defect, for
    `yunying qc check-record --file records.json`."""
    import csv

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    discharge = folder / Path(manifest["files"]["discharge"][-1]).name
    defective = set()
    truth = folder / "defects_truth.csv"
    if truth.is_file():
        with truth.open(encoding="utf-8-sig", newline="") as fh:
            defective = {(r["mrn"], r["admission_no"]) for r in csv.DictReader(fh)}
    picked: list[dict] = []
    with discharge.open(encoding=manifest.get("encodings", {}).get("discharge", "gb18030"), newline="") as fh:
        clean = 0
        for row in csv.DictReader(fh):
            bad = (row.get("BAH"), row.get("ZYCS")) in defective
            if (bad and not any(r["_defect"] for r in picked)) or (not bad and clean < n_clean):
                picked.append({**row, "_defect": bad})
                clean += not bad
            if clean >= n_clean and (any(r["_defect"] for r in picked) or not defective):
                break
    out = folder / "records.json"
    records = [{k: v for k, v in r.items() if k != "_defect" and v != ""} for r in picked]
    out.write_text(json.dumps({"records": records}, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def import_folder(db: Path | None, folder: Path, *, quiet: bool = False) -> dict:
    """Import a generated folder (manifest.json), dictionaries first; exits when an import fails."""
    from yunying.cli.warehouse_cmds import import_folder as import_all

    res = import_all(db, folder, quiet=quiet)
    if not res["ok"]:
        kind = list(res["imports"])[-1]
        fail(f"导入 {kind} 失败（见上方明细）", f"import of {kind} failed (details above)")
    return res["imports"]


@app.command("run")
def run_cmd(
    out: Annotated[Path, typer.Option(help="演示数据目录 / demo folder")] = Path("demo-data"),
    db: Annotated[Optional[Path], typer.Option(help="仓库文件（默认 DEMO/demo.duckdb）")] = None,
    profile: Annotated[str, typer.Option(help="医院画像 profile")] = "tertiary-general",
    years: Annotated[str, typer.Option()] = "2021,2022",
    scale: Annotated[float, typer.Option()] = 0.05,
    seed: Annotated[int, typer.Option()] = 42,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="最后启动网页服务 / end by serving the dashboard")] = False,
    port: Annotated[int, typer.Option(help="网页端口 / web port (with --serve)")] = 8000,
) -> None:
    """生成、导入并运行全部流程，打印摘要 / Generate, import, run every pipeline stage, print a summary."""
    db = db or out / "demo.duckdb"
    if serve:                                     # a busy port is reported before minutes of work, not after
        from yunying.cli.web import ensure_port_free

        ensure_port_free("127.0.0.1", port)
    started = time.perf_counter()
    console.print(f"[bold]运营 Yunying 演示[/bold] — {profile}, years {years}, scale {scale}, seed {seed}")
    if not (out / "manifest.json").is_file():
        generate_cmd(profile=profile, years=years, scale=scale, seed=seed, out=out, codes=None, json_out=False)
    import_folder(db, out)
    failed = []
    for name, stage in _later_stages():
        try:
            stage(db)
        except typer.Exit:
            raise
        except Exception as exc:  # one failing stage is reported; the demo goes on with the others
            failed.append(name)
            console.print(f"[red]  阶段 {name} 失败 stage failed: {exc}[/red]")
    _print_overview(db)
    console.print(f"完成 done in {time.perf_counter() - started:.0f} s — 仓库 warehouse: {db}")
    console.print(f"试试 try: yunying stats --db {db}   |   yunying sql --db {db} \"select ...\"")
    if failed:
        fail(f"以下阶段失败：{', '.join(failed)}", f"stages failed: {', '.join(failed)}")
    if serve:
        _serve(db, port)


def _serve(db: Path, port: int) -> None:
    from yunying.cli.web import _app_db_url, demo_accounts, serve_cmd

    url = _app_db_url(None, db)
    console.print("[bold]演示账号 demo accounts[/bold]（仅用于演示数据 demo data only）:")
    for username, password, desc in demo_accounts(url):
        console.print(f"  {username:8s} / {password:16s} {desc}")
    console.print(f"[bold]打开 open http://127.0.0.1:{port}/ [/bold]（Ctrl+C 停止 stop）")
    serve_cmd(db=db, host="127.0.0.1", port=port, app_db=url)


def _later_stages():
    """Pipeline stages after import, in data-flow order: enrich (DRG grouping, record QC) → marts (DRG economics,
    cost, indicators) → reports. Each capability provides its own `demo_stage(db)`."""
    from yunying.cli import cost, drg_economics, indicators, qc, report

    return [("drg", _drg_stage), ("qc", qc.demo_stage), ("economics", drg_economics.demo_stage),
            ("cost", cost.demo_stage), ("indicators", indicators.demo_stage), ("reports", report.demo_stage)]


def _drg_stage(db: Path) -> None:
    """DRG grouping with the bundled demo scheme (演示方案, not a real 医保 scheme)."""
    from importlib import resources

    from yunying.drg.pack import load_pack
    from yunying.drg.store import register_pack, run_grouping

    pack = load_pack(Path(str(resources.files("yunying.drg").joinpath("demo_scheme"))), name="demo")
    with open_db(db) as con:
        register_pack(con, pack, "demo")
        res = run_grouping(con, pack, "demo")
    by = "，".join(f"{k} {v:,}" for k, v in sorted(res["by_status"].items()))
    console.print(f"  DRG 分组 grouped {res['cases']:,} 例（演示方案 demo scheme）：{by}")


def _print_overview(db: Path) -> None:
    with open_db(db, read_only=True) as con:
        from yunying.model.catalogue import died_sql

        rows = con.execute(f"""
            select year(discharge_time) as y, count(*) as n, round(avg(los_days), 2) as alos,
                   round(100 * sum(fee_western_drug + fee_patent_tcm + fee_herbal) / sum(fee_total), 2) as drug,
                   round(100 * sum(fee_mat_exam + fee_mat_treat + fee_mat_surg) / sum(fee_total), 2) as mat,
                   round(1000 * avg(case when {died_sql('discharge_disposition')} then 1 else 0 end), 2) as deaths
            from discharge group by 1 order by 1""").fetchall()
        visits = dict(con.execute("select year(reg_time), count(*) from outpatient_visit group by 1").fetchall())
    console.print("首页直接统计（住院费用口径）/ straight from the abstracts (inpatient charges):")
    console.print("年度   出院人次  平均住院日 住院药占比% 住院耗占比%  死亡率‰   门急诊人次")
    console.print("year discharges     ALOS     drug%      mat.%    deaths‰      visits")
    for y, n, alos, drug, mat, deaths in rows:
        console.print(f"{y} {n:>10,} {alos:>8} {drug:>9} {mat:>10} {deaths:>10} {visits.get(y, 0):>11,}")
