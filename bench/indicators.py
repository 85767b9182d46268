"""Benchmark: all indicators of all families on a synthetic tertiary-general hospital (issue 6).

    .venv/bin/python bench/indicators.py [--runs 3] [--skip-demo] [--no-drg] [--write-doc]

Data (generated once into bench/out/, gitignored, then reused):
  * scale 1: `generate(profile="tertiary-general", years=[2022], scale=1.0, seed=3)` — about 140,000 discharges and
    3.4 million outpatient visits — imported into bench/out/ind-tg-2022-s1/w.duckdb;
  * the two-year demo: scale 0.1, years 2021 and 2022, in bench/out/ind-demo-s01/w.duckdb.
Both get the synthetic code list as procedure dictionary (微创 by name, demo only) and the bundled demo DRG scheme
grouping, so the DRG indicators that need only grouping results are computable.

Timed: `compute()` of every indicator of every family (one call per level), month grain, hospital and department
levels, period 2022 (the demo: 2021 and 2022); the median of --runs runs is reported, with the first (cold) run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/machine.py, also when loaded by path
from machine import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
SECTION = "## Indicators (issue 6)"



def prepare(folder: Path, *, years: list[int], scale: float, drg: bool) -> Path:
    """Generate + import once; reuse the warehouse when it already holds the discharges."""
    from yunying.warehouse.db import connect

    db = folder / "w.duckdb"
    if db.exists():
        con = connect(db)
        n = con.execute("select count(*) from discharge").fetchall()[0][0]
        if n == 0:
            con.close()
            db.unlink()
        else:
            _enrich(con, drg)
            con.close()
            return db
    from yunying.ingest.engine import import_files
    from yunying.synth.generator import generate

    t = time.perf_counter()
    if not (folder / "manifest.json").exists():
        generate(profile="tertiary-general", years=years, scale=scale, seed=3, out=folder)
    print(f"  generated {folder.name} in {time.perf_counter() - t:.0f} s", flush=True)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    con = connect(db)
    for kind in ["hospital", "department", "staff", "finance", "beds", "discharge", "outpatient"]:
        import_files(con, kind, [folder / Path(p).name for p in manifest["files"][kind]], reject_dir=folder / "rejects")
    print(f"  imported in {time.perf_counter() - t:.0f} s", flush=True)
    _enrich(con, drg)
    con.close()
    return db


def _enrich(con, drg: bool) -> None:
    from importlib import resources

    from yunying.indicators.engine import px_dict_rows, load_px_dict

    if con.execute("select count(*) from ind_px_dict").fetchall()[0][0] == 0:
        px = Path(str(resources.files("yunying.synth").joinpath("codes/px_codes.csv")))
        load_px_dict(con, px_dict_rows(px), source="synth-demo")
    if drg and con.execute("select count(*) from drg_result").fetchall()[0][0] == 0:
        from yunying.drg.pack import load_pack
        from yunying.drg.store import register_pack, run_grouping

        t = time.perf_counter()
        pack = load_pack(Path(str(resources.files("yunying.drg").joinpath("demo_scheme"))), name="demo")
        register_pack(con, pack, "demo")
        run_grouping(con, pack, "demo")
        print(f"  DRG demo grouping in {time.perf_counter() - t:.0f} s", flush=True)


def timed(db: Path, periods: list[str], runs: int) -> dict:
    from yunying.indicators import compute, load_catalogue
    from yunying.warehouse.db import connect

    cat = load_catalogue(use_env=False)
    ids = list(cat.indicators)
    con = connect(db, read_only=True)
    counts = {}
    for t in ("discharge", "discharge_procedure", "outpatient_visit", "finance_month", "staff_count", "drg_result"):
        counts[t] = con.execute(f"select count(*) from {t}").fetchall()[0][0]
    result = {"counts": counts, "levels": {}}
    for level in ("hospital", "department", ("hospital", "department")):
        times, rows = [], []
        for _ in range(runs):
            t = time.perf_counter()
            rows = []
            for p in periods:
                rows += compute(con, cat, ids=ids, period=p, grain="month",
                                level=level if isinstance(level, str) else list(level))
            times.append(time.perf_counter() - t)
        values = sum(1 for r in rows if r["value"] is not None)
        computable = len({r["indicator_id"] for r in rows if r["value"] is not None})
        name = level if isinstance(level, str) else "+".join(level)
        result["levels"][name] = {"first": times[0], "median": statistics.median(times), "rows": len(rows),
                                   "values": values, "indicators_with_values": computable}
    con.close()
    result["total_median"] = result["levels"]["hospital+department"]["median"]
    result["separate_median"] = result["levels"]["hospital"]["median"] + result["levels"]["department"]["median"]
    return result


def report(name: str, res: dict) -> list[str]:
    c = res["counts"]
    lines = [f"{name}: {c['discharge']:,} discharges, {c['discharge_procedure']:,} procedure rows, "
             f"{c['outpatient_visit']:,} visits, {c['drg_result']:,} DRG results"]
    for level, v in res["levels"].items():
        lines.append(f"  {level:19s} median {v['median']:.2f} s (first run {v['first']:.2f} s), {v['rows']:,} rows, "
                     f"{v['values']:,} values, {v['indicators_with_values']} indicators with values")
    lines.append(f"  hospital + department: {res['total_median']:.2f} s in one call (one scan per view), "
                 f"{res['separate_median']:.2f} s as two calls")
    return lines


def write_doc(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION in doc:
        start = doc.index(SECTION)
        nxt = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start] + text.rstrip() + "\n" + (doc[nxt:] if nxt != -1 else "")
    else:
        doc = doc.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--no-drg", action="store_true", help="do not group with the demo DRG scheme")
    ap.add_argument("--write-doc", action="store_true", help="append/replace the section in docs/benchmarks.md")
    args = ap.parse_args()
    m = machine()
    print("machine:", json.dumps(m, ensure_ascii=False))
    print("preparing data …", flush=True)
    db1 = prepare(OUT / "ind-tg-2022-s1", years=[2022], scale=1.0, drg=not args.no_drg)
    res1 = timed(db1, ["2022"], args.runs)
    lines = report("scale 1, 2022 (all families, month grain)", res1)
    res2 = None
    if not args.skip_demo:
        db2 = prepare(OUT / "ind-demo-s01", years=[2021, 2022], scale=0.1, drg=not args.no_drg)
        res2 = timed(db2, ["2021", "2022"], args.runs)
        lines += report("two-year demo, scale 0.1, periods 2021 and 2022 (all families, month grain)", res2)
    print("\n".join(lines))
    target = "meets" if res1["total_median"] <= 5 else "misses"
    print(f"target ≤ 5 s for scale 1 hospital + department: {target} ({res1['total_median']:.2f} s)")
    if args.write_doc:
        cmd = "`.venv/bin/python bench/indicators.py " + " ".join(sys.argv[1:]) + "`"
        text = "\n".join([
            SECTION, "",
            f"Command: {cmd} (data generated once into bench/out/, seed 3; the demo procedure dictionary and the "
            "bundled demo DRG scheme are loaded so that every indicator whose data exists is computed).",
            "",
            f"Machine: {m['cpus']} × {m['cpu_model']}, {m['memory_gb']} GB, Python {m['python']}, DuckDB {m['duckdb']}; "
            f"load average at the end {m['load_avg_1min']} (the 2 cores are shared with other engineers' runs).",
            "",
            "What is timed: `yunying.indicators.compute()` for all "
            f"{len(__import__('yunying.indicators', fromlist=['load_catalogue']).load_catalogue(use_env=False).indicators)} "
            "catalogue entries of all five families, month grain, hospital and department levels as two calls and as "
            "one call with both levels (availability checks, 同比/环比, growth rates and targets included), median of "
            f"{args.runs} runs. Target: ≤ 5 s for hospital + department at scale 1.",
            "", "```text", *lines, "```", ""])
        write_doc(text)
        print("docs/benchmarks.md updated")


if __name__ == "__main__":
    main()
