"""Benchmark: import N discharge abstracts (GB18030 CSV, national 首页 column codes) into a fresh warehouse.

    .venv/bin/python bench/import_discharges.py --rows 1000000 [--layout compact|full] [--runs 3] [--keep]

The file comes from the synthetic generator (`generate_discharges`, cached under bench/out/): `full` is its whole
national layout (243 columns: 15 other diagnoses, 7 procedures); `compact` (the issue's "about 100 columns") keeps
identity, demographics, episode, the principal and 5 other diagnoses, 2 procedures, clinicians and the fee block,
dropping addresses/contacts, rarely used extensions and the higher repeat slots. Each run imports the file
into a new DuckDB file in a child process (so its peak memory is measured on its own). In the same run, as a
baseline, DuckDB reads the same file (already transcoded to UTF-8) into a table with no mapping or validation:
the ratio shows what validation, typing, child tables and bookkeeping cost on top of a raw load. Also re-imports
the same file into the filled warehouse (the idempotent update path).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/machine.py, also when loaded by path
from machine import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from yunying.warehouse.db import connect
from yunying.ingest.engine import import_files
db, src, reject_dir = sys.argv[1:4]
t = time.perf_counter()
con = connect(db, memory_limit="3GB")
s = import_files(con, "discharge", [Path(src)], reject_dir=Path(reject_dir))
con.close()
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  **s.totals()}))
"""

BASELINE = r"""
import codecs, json, os, resource, sys, time, tempfile
import duckdb
src = sys.argv[1]
t = time.perf_counter()
fd, tmp = tempfile.mkstemp(suffix=".csv")
dec = codecs.getincrementaldecoder("gb18030")()
with open(src, "rb") as s, os.fdopen(fd, "wb") as d:
    while chunk := s.read(8 << 20):
        d.write(dec.decode(chunk).encode("utf-8"))
con = duckdb.connect(sys.argv[2])
con.execute("create table raw as select * from read_csv(?, all_varchar=true, header=true)", [tmp])
n = con.execute("select count(*) from raw").fetchall()[0][0]
con.close(); os.unlink(tmp)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


DROP_COMPACT = (
    {"XZZ", "DH", "YB1", "HKDZ", "YB2", "GZDWJDZ", "DWDH", "YB3", "LXRXM", "GX", "DZ", "DH2", "BZYZS_NL", "XSECSTZ2",
     "XSECSTZ3", "XSERYTZ", "JXYS", "SXYS", "ZKYS", "ZKHS", "ZKRQ", "YZZY_YLJG", "WSY_YLJG", "MD", "RYQ_T", "RYQ_XS",
     "RYQ_F", "RYH_T", "RYH_XS", "RYH_F", "HXJSYSJ", "TJHLTS", "YJHLTS", "EJHLTS", "SJHLTS", "QJCS", "QJCGCS",
     "BZLZF", "ZYBLZHZF", "ZYZJF", "XSECSTZ", "GG", "CSD", "BLH", "JKKH", "GJ", "RYBF", "CYBF", "ZKKB", "WBYY",
     "BLZD", "GMYW", "SWHZSJ", "BAZL", "KZR", "ZRHS", "BMY", "SFZZYJH"}
    | {f"{p}{i}" for p in ("JBDM", "QTZD", "RYBQ") for i in range(6, 16)}
    | {f"{p}{i}" for p in ("SSJCZBM", "SSJCZMC", "SSJCZRQ", "SSJB", "SZ", "YZ", "EZ", "QKDJ", "QKYHLB", "MZFS", "MZYS")
       for i in range(3, 8)}
)


def compact_copy(src: Path, dst: Path) -> None:
    """Project the generated file onto the compact column set (DuckDB on a UTF-8 copy, written back as GB18030)."""
    import codecs
    import tempfile

    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        u8 = Path(tmp) / "u8.csv"
        dec = codecs.getincrementaldecoder("gb18030")()
        with open(src, "rb") as s, open(u8, "wb") as d:
            while chunk := s.read(8 << 20):
                d.write(dec.decode(chunk).encode("utf-8"))
        con = duckdb.connect()
        rel = f"read_csv('{u8}', all_varchar=true, header=true)"
        cols = [r[0] for r in con.execute(f"describe select * from {rel}").fetchall() if r[0] not in DROP_COMPACT]
        out = Path(tmp) / "c.csv"
        con.execute(f"copy (select {', '.join(chr(34) + c + chr(34) for c in cols)} from {rel}) to '{out}' (header)")
        enc = codecs.getincrementalencoder("gb18030")()
        dec = codecs.getincrementaldecoder("utf-8")()
        with open(out, "rb") as s, open(dst, "wb") as d:
            while chunk := s.read(8 << 20):
                d.write(enc.encode(dec.decode(chunk)))



def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--layout", choices=["compact", "full"], default="compact")
    ap.add_argument("--keep", action="store_true", help="keep the generated file for later runs")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from yunying.synth.generator import generate_discharges

    OUT.mkdir(parents=True, exist_ok=True)
    data_dir = OUT / f"discharges-{args.rows}"
    t = time.perf_counter()
    src = next(iter(sorted(data_dir.glob("discharge_*.csv"))), None)
    if src is None:
        src = Path(generate_discharges(n=args.rows, out=data_dir))
        print(f"generated {args.rows:,} abstracts in {time.perf_counter() - t:.1f} s")
    if args.layout == "compact":
        full = src
        src = data_dir / "compact" / full.name
        if not src.exists():
            src.parent.mkdir(exist_ok=True)
            compact_copy(full, src)
    size_mb = src.stat().st_size / 2**20
    with open(src, encoding="gb18030") as fh:
        ncols = len(fh.readline().split(","))
    print(json.dumps({"machine": machine(), "layout": args.layout, "file": str(src.relative_to(ROOT)),
                      "file_mb": round(size_mb, 1),
                      "columns": ncols, "rows": args.rows}, ensure_ascii=False))
    full, base, again = [], [], []
    for run in range(args.runs):
        db = OUT / "bench-import.duckdb"
        for p in (db, Path(str(db) + ".wal")):
            p.unlink(missing_ok=True)
        r = child(CHILD, str(db), str(src), str(OUT / "rejects"))
        full.append(r)
        again.append(child(CHILD, str(db), str(src), str(OUT / "rejects")))
        raw_db = OUT / "bench-raw.duckdb"
        raw_db.unlink(missing_ok=True)
        base.append(child(BASELINE, str(src), str(raw_db)))
        raw_db.unlink(missing_ok=True)
        print(f"run {run + 1}: import {r['seconds']:.1f} s (peak {r['peak_mb']:.0f} MB, inserted {r['inserted']:,}, "
              f"rejected {r['rejected']:,}); re-import {again[-1]['seconds']:.1f} s (updated {again[-1]['updated']:,}); "
              f"raw load {base[-1]['seconds']:.1f} s; ratio {r['seconds'] / base[-1]['seconds']:.2f}")
    med = statistics.median
    summary = {
        "import_s_median": round(med(x["seconds"] for x in full), 1),
        "rows_per_s": round(args.rows / med(x["seconds"] for x in full)),
        "peak_mb_max": round(max(x["peak_mb"] for x in full)),
        "reimport_s_median": round(med(x["seconds"] for x in again), 1),
        "raw_load_s_median": round(med(x["seconds"] for x in base), 1),
        "ratio_import_to_raw_median": round(med(f["seconds"] / b["seconds"] for f, b in zip(full, base)), 2),
        "target": "1,000,000 rows in <= 60 s, peak < 4 GB",
    }
    print(json.dumps(summary))
    if not args.keep:
        for p in OUT.glob("bench-*.duckdb*"):
            p.unlink()


if __name__ == "__main__":
    main()
