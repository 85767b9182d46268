"""Benchmark: the annual report (年度工作报告数据篇) of the scale-1 tertiary-general hospital, end to end (issue 8).

    .venv/bin/python bench/report_annual.py [--scale 1] [--year 2022] [--drg] [--no-append]

Generates one year of the synthetic 三级综合 hospital into bench/out/report-s<scale>/ (reused when present), imports
it with yunying.cli.demo.import_folder, optionally groups it with the demo DRG scheme (--drg), then times
build_annual (all figures via the indicator engine, DRG/QC sources) and writing .docx, .xlsx and .pdf.
Prints the machine and the figures and appends them to docs/benchmarks.md under "## Reports (issue 8)".
Target: report end to end (build + docx + xlsx + pdf) under 30 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/machine.py, also when loaded by path
from machine import machine  # noqa: E402
from yunying.reports.writers import soffice  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Reports (issue 8)"



def append_doc(lines: list[str]) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = "\n".join(lines) + "\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        # keep everything of this section, add the new run at its end (before the next '## ')
        nxt = rest.find("\n## ")
        body, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
        text = head + SECTION + body.rstrip("\n") + "\n\n" + block + tail
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n" + block
    path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--year", type=int, default=2022)
    ap.add_argument("--drg", action="store_true", help="group with the demo DRG scheme before the report")
    ap.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = ap.parse_args()

    from yunying.cli.demo import import_folder
    from yunying.reports import build_annual, write
    from yunying.synth.generator import generate
    from yunying.warehouse.db import connect

    info = machine()
    print("machine:", json.dumps(info, ensure_ascii=False))
    work = ROOT / "bench" / "out" / f"report-s{args.scale:g}-{args.year}"
    db = work / "w.duckdb"
    t = time.perf_counter()
    if not (work / "manifest.json").is_file():
        generate(profile="tertiary-general", years=[args.year], scale=args.scale, seed=42, out=work)
        print(f"generated in {time.perf_counter() - t:.1f} s → {work}")
    if not db.exists():
        t = time.perf_counter()
        import_folder(db, work, quiet=True)
        print(f"imported in {time.perf_counter() - t:.1f} s")
    if args.drg:
        from importlib import resources

        from yunying.drg.pack import load_pack
        from yunying.drg.store import register_pack, run_grouping
        con = connect(db)
        try:
            if not con.execute("select count(*) from drg_result").fetchall()[0][0]:
                t = time.perf_counter()
                pack = load_pack(Path(str(resources.files("yunying.drg").joinpath("demo_scheme"))), name="demo")
                register_pack(con, pack, "demo")
                run_grouping(con, pack, "demo")
                print(f"DRG grouped in {time.perf_counter() - t:.1f} s")
        finally:
            con.close()

    con = connect(db)
    try:
        n_dis = con.execute("select count(*) from discharge where year(discharge_time) = ?", [args.year]).fetchall()[0][0]
        n_vis = con.execute("select count(*) from outpatient_visit where year(reg_time) = ?", [args.year]).fetchall()[0][0]
        t0 = time.perf_counter()
        report = build_annual(con, args.year)
        t_build = time.perf_counter() - t0
    finally:
        con.close()
    out = work / "reports"
    t1 = time.perf_counter()
    docx_xlsx = write(report, out, formats=("docx", "xlsx"))
    t_write = time.perf_counter() - t1
    t2 = time.perf_counter()
    pdf = write(report, out, formats=("pdf",))
    t_pdf = time.perf_counter() - t2
    total = t_build + t_write + t_pdf
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"discharges {n_dis:,}, visits {n_vis:,}")
    print(f"build_annual {t_build:.2f} s | charts+docx+xlsx {t_write:.2f} s | pdf {t_pdf:.2f} s | "
          f"total {total:.2f} s (target < 30 s) | peak RSS {rss:.0f} MB")
    for p in docx_xlsx + pdf:
        print(" ", p)
    for w in report.warnings:
        print("  note:", w)
    if not args.no_append:
        append_doc([
            f"`{' '.join(['.venv/bin/python', 'bench/report_annual.py'] + sys.argv[1:])}` — {date.today()}, "
            f"{info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, DuckDB {info['duckdb']}, "
            f"LibreOffice {'yes' if soffice() else 'no'}",
            "",
            "| hospital | discharges | visits | build_annual | charts + docx + xlsx | pdf | total | target | peak RSS |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| tertiary-general scale {args.scale:g}, {args.year}{', DRG grouped' if args.drg else ''} | {n_dis:,} | "
            f"{n_vis:,} | {t_build:.2f} s | {t_write:.2f} s | {t_pdf:.2f} s | **{total:.2f} s** | < 30 s | "
            f"{rss:.0f} MB |",
        ])


if __name__ == "__main__":
    main()
