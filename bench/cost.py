"""Benchmark: cost accounting end to end for one hospital-year (issue 17).

    .venv/bin/python bench/cost.py --scale 1 --multiples 1,3,10

Data: the synthetic `tertiary-general` hospital (yunying/synth, two years so that RW calibration has a prior
year; scale 1 ≈ 140,000 discharges a year) with its cost inputs (cost units, ledger, bases, revenue, charge items,
item volumes, case charge lines), imported, grouped with the bundled demo DRG scheme and priced with the demo rate
(the demo pipeline's own stages; not timed). For each multiple k the last year's cases are replicated k times in
SQL (new MRNs; DRG results, payments and case charge lines with them) so that case-level work grows k× while the
ledger stays one hospital's. Timed, per k (wall clock, warm database file on local disk):

1. step-down of the last year (default plan, 12 months, every unit, trail written);
2. 诊次/床日 unit costs are part of step 1 (the engine writes them in the same run);
3. item costs, CCRs and case costs by both methods (项目叠加法 and 成本收入比法) and 保本点;
4. cost-basis 盈亏 by DRG, department and doctor group.
Prints the machine, the figures and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

REPLICATED = ("discharge", "discharge_diagnosis", "discharge_procedure", "drg_result", "econ_case_payment",
              "case_item_charge")


def replicate(con, k: int, year: int) -> None:
    """Copies 2..k of the year's cases with MRN suffix -R{i} in every case-level table."""
    for i in range(2, k + 1):
        for t in REPLICATED:
            cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                [t]).fetchall()]
            if "mrn" not in cols:
                continue
            sel = ", ".join(f"mrn || '-R{i}'" if c == "mrn" else c for c in cols)
            where = ("where year(discharge_time) = ?" if t == "discharge" else
                     "where (hospital_id, mrn, admission_no) in (select hospital_id, mrn, admission_no from discharge "
                     "where year(discharge_time) = ? and mrn not like '%-R%')")
            con.execute(f"insert into {t} ({', '.join(cols)}) select {sel} from {t} {where}"
                        + (" and mrn not like '%-R%'" if t == "discharge" else ""), [year])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--multiples", default="1,3,10")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    from yunying.cli import drg_economics
    from yunying.cli.demo import _drg_stage, import_folder
    from yunying.cost.cases import run_case_costing
    from yunying.cost.margin import margins
    from yunying.cost.plan import load_plan
    from yunying.cost.stepdown import run_stepdown
    from yunying.synth.generator import generate
    from yunying.warehouse.db import connect

    print("machine:", machine())
    print("command:", " ".join([Path(sys.executable).name] + sys.argv))
    tmp = Path(tempfile.mkdtemp(prefix="yunying-bench-cost-"))
    try:
        t = time.perf_counter()
        generate(profile="tertiary-general", years=[2021, 2022], scale=a.scale, seed=a.seed, out=tmp / "data")
        base = tmp / "base.duckdb"
        import_folder(base, tmp / "data", quiet=True)
        _drg_stage(base)
        drg_economics.demo_stage(base)
        print(f"prepared (generate, import, group, pay; not timed) in {time.perf_counter() - t:.0f} s")
        for k in [int(x) for x in a.multiples.split(",")]:
            db = tmp / f"k{k}.duckdb"
            shutil.copy(base, db)
            con = connect(db)
            replicate(con, k, 2022)
            con.execute("checkpoint")
            n = con.execute("select count(*) from discharge where year(discharge_time) = 2022").fetchone()[0]
            units = con.execute("select count(distinct unit_code) from cost_unit").fetchone()[0]
            figs = {}
            t0 = time.perf_counter()
            (run,) = run_stepdown(con, "2022-01", "2022-12", load_plan(), created_by="bench")
            figs["step-down + 诊次/床日"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            run_case_costing(con, run.run_id)
            figs["item/case/DRG cost (both methods)"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            for level in ("drg", "department", "doctor_group"):
                margins(con, run.run_id, level)
            figs["cost-basis 盈亏 (3 levels)"] = time.perf_counter() - t0
            con.close()
            total = sum(figs.values())
            print(f"k={k}: {n:,} discharges, {units} cost units, {run.hops:,} hops")
            for name, s in figs.items():
                print(f"  {name:<36} {s:7.2f} s")
            print(f"  total {total:.2f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB;"
                  f" load avg {os.getloadavg()[0]:.1f}")
            db.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
