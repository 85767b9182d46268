"""Benchmark: DRG payment simulation and evaluation metrics for N grouped cases (issue 4).

    .venv/bin/python bench/drg_economics.py --cases 1000000 [--hospitals 5] [--drgs 600]

The grouped cases are synthesised directly in DuckDB with SQL (not by the synthetic-hospital generator and the
grouper, which have their own benchmarks): N discharges of one year spread over hospitals, 30 departments,
4 doctor groups per department and 12 months, each with a DRG among ``--drgs`` groups (log-normal charges around a group
mean, LOS, ~0.5 % deaths), ~2 % 未入组 (FAIL) and ~0.5 % 歧义组 (QY), payment categories 1–9, two hospital
levels. The same number of cases for the prior year is generated so that metrics use the prior-year fallback
benchmark. Timed steps (wall clock, warm database file on local disk):

1. RW calibration on the prior year (trim IQR, normalisation, CV/RIV);
2. 费率法 payment simulation (demo-rate parameters with variants) writing one econ_case_payment row per case;
3. 点数法 payment simulation with the point value derived from a budget (two passes);
4. 盈亏 by group, department and doctor group;
5. metrics: the drg_metrics view materialised for the year at every level and month (six grouping sets,
   risk grading, benchmark fallback).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yunying.economics.params import shipped  # noqa: E402
from yunying.economics.payment import margins, simulate  # noqa: E402
from yunying.economics.views import create_views  # noqa: E402
from yunying.economics.weights import calibrate  # noqa: E402
from yunying.warehouse.db import connect  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/machine.py, also when loaded by path
from machine import machine  # noqa: E402



def synthesise(con, n: int, hospitals: int, drgs: int) -> None:
    con.execute(f"""
        insert into hospital (hospital_id, hospital_name, level)
        select 'H' || lpad(cast(i as varchar), 3, '0'), '医院' || i, case when i % 3 = 0 then 'secondary'
               else 'tertiary' end from range(1, {hospitals} + 1) t(i)""")
    for year, off in ((2021, 0), (2022, n)):
        con.execute(f"""
        insert into discharge (hospital_id, mrn, admission_no, payment_category, discharge_time,
                               discharge_dept_code, doctor_group, los_days, discharge_disposition, fee_total)
        select 'H' || lpad(cast(1 + i % {hospitals} as varchar), 3, '0'),
               'M' || cast(i as varchar), 1,
               cast(1 + (hash(i, 1) % 9) as varchar),
               make_timestamp({year}, cast(1 + hash(i, 2) % 12 as bigint), cast(1 + hash(i, 3) % 28 as bigint),
                              10, 0, 0),
               'D' || lpad(cast(hash(i, 4) % 30 as varchar), 2, '0'),
               'D' || lpad(cast(hash(i, 4) % 30 as varchar), 2, '0') || '-T' || cast(hash(i, 5) % 4 as varchar),
               cast(1 + floor(-ln(((hash(i, 6) % 100000) + 1) / 100001.0) * 8) as integer),
               case when hash(i, 7) % 1000 < 5 then '5' else '1' end,
               round(exp(ln(3000 + 40 * (hash(i, 8) % {drgs})) + 0.45 * sqrt(-2 * ln(((hash(i, 9) % 100000) + 1)
                     / 100001.0)) * cos(6.283185307 * ((hash(i, 10) % 100000) / 100000.0))), 2)
        from range({off}, {off} + {n}) t(i)""")
        con.execute(f"""
        insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg, drg)
        select 'H' || lpad(cast(1 + i % {hospitals} as varchar), 3, '0'), 'M' || cast(i as varchar), 1, 'bench', 'x',
               case when hash(i, 11) % 1000 < 20 then 'FAIL' when hash(i, 11) % 1000 < 25 then 'QY' else 'SUCCESS' end,
               'MDC' || chr(65 + cast((hash(i, 8) % {drgs}) % 26 as integer)),
               'X' || lpad(cast(hash(i, 8) % {drgs} as varchar), 3, '0'),
               case when hash(i, 11) % 1000 < 20 then '0000' when hash(i, 11) % 1000 < 25 then 'XQY'
                    else 'X' || lpad(cast(hash(i, 8) % {drgs} as varchar), 3, '0') end
        from range({off}, {off} + {n}) t(i)""")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--hospitals", type=int, default=5)
    ap.add_argument("--drgs", type=int, default=600)
    ap.add_argument("--db", type=Path, default=None, help="database file (default: a temporary file)")
    a = ap.parse_args()
    print("machine:", machine())
    print("command:", " ".join([Path(sys.executable).name] + sys.argv))
    tmp = tempfile.TemporaryDirectory()
    db = a.db or Path(tmp.name) / "bench.duckdb"
    con = connect(db)
    t = time.perf_counter()
    synthesise(con, a.cases, a.hospitals, a.drgs)
    con.execute("checkpoint")     # write the synthesised tables to the file now, not inside the first timed step
    print(f"synthesised {a.cases:,} grouped cases per year × 2 years in {time.perf_counter() - t:.1f} s (SQL, "
          f"incl. checkpoint)")
    create_views(con)
    figures = {}

    def step(name, fn):
        t0 = time.perf_counter()
        out = fn()
        figures[name] = time.perf_counter() - t0
        print(f"  {name:<34} {figures[name]:6.2f} s")
        return out

    rep, _ = step("calibrate RW (2021)", lambda: calibrate(con, "bench", 2021))
    r1 = step("pay 费率法 (2022)", lambda: simulate(con, "bench", params_file=shipped("demo-rate.yaml"), year=2022))
    r2 = step("pay 点数法, PV from budget (2022)", lambda: simulate(
        con, "bench", params_file=shipped("zhejiang-style-points.yaml"), year=2022,
        overrides={"budget": 5e9, "point_value": None, "overall_mean_cost": rep.overall_mean}))
    step("盈亏 group/department/doctor group", lambda: [margins(con, r1.run_id, lv, 20)
                                                      for lv in ("group", "department", "doctor_group")])
    rows = step("metrics (all levels × year/months)", lambda: con.execute(
        "select count(*), sum(cases_reported) from drg_metrics_for('bench', 2022)").fetchall())
    pay_metrics = figures["pay 费率法 (2022)"] + figures["metrics (all levels × year/months)"]
    print(f"  metric rows {rows[0][0]:,}; 费率法 summary: cases {r1.summary['cases']:,}, classes "
          f"{r1.summary['by_class']}; 点数法 point value {r2.summary.get('point_value'):.4f}")
    print(f"payment simulation (费率法) + metrics for {a.cases:,} cases: {pay_metrics:.2f} s "
          f"({a.cases / pay_metrics:,.0f} cases/s); all steps {sum(figures.values()):.2f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; load avg after "
          f"{os.getloadavg()[0]:.1f}")
    con.close()


if __name__ == "__main__":
    main()
