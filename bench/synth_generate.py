"""Benchmark: synthetic hospital generation.

    .venv/bin/python bench/synth_generate.py [--scale 1.0] [--rows 1000000] [--keep] [--json]

Two cases, each in a child process (peak memory measured on its own):
  1. `generate(profile="tertiary-general", years=[2022], scale=S)` — every file (≈140k discharges and
     ≈3.4M outpatient visits at S = 1);
  2. `generate_discharges(n=ROWS)` — the discharge file only (the import benchmark's input).
Prints machine, seconds, peak RSS, rows and bytes written. Output goes to a temporary folder (deleted unless
--keep).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from yunying.synth.generator import generate, generate_discharges
case, arg, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
t = time.perf_counter()
if case == "hospital":
    r = generate(profile="tertiary-general", years=[2022], scale=float(arg), seed=42, out=out)
    counts = r.counts
else:
    generate_discharges(n=int(arg), out=out, seed=42)
    counts = {"discharge": int(arg)}
secs = time.perf_counter() - t
size = sum(p.stat().st_size for p in out.iterdir())
print(json.dumps({"seconds": round(secs, 1), "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "bytes": size, "counts": counts}))
"""


def run(case: str, arg: str, out: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, case, arg, str(out)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    machine = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
               "system": platform.platform()}
    tmp = Path(tempfile.mkdtemp(prefix="yy-synth-bench-"))
    try:
        results = {"machine": machine,
                   "hospital_year": {"scale": a.scale, **run("hospital", str(a.scale), tmp / "hospital")},
                   "discharges_only": {"rows": a.rows, **run("discharges", str(a.rows), tmp / "discharges")}}
    finally:
        if a.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    print(f"machine: {machine['system']}, {machine['cpus']} CPUs, Python {machine['python']}")
    h, d = results["hospital_year"], results["discharges_only"]
    c = h["counts"]
    print(f"tertiary-general, 1 year, scale {a.scale}: {c.get('discharge', 0):,} discharges + "
          f"{c.get('outpatient', 0):,} visits in {h['seconds']} s, peak {h['peak_mb']} MB, {h['bytes'] / 1e6:,.0f} MB written")
    print(f"discharges only: {a.rows:,} rows in {d['seconds']} s "
          f"({a.rows / max(d['seconds'], 1e-9):,.0f} rows/s), peak {d['peak_mb']} MB, {d['bytes'] / 1e6:,.0f} MB written")


if __name__ == "__main__":
    main()
