"""A tiny synthetic hospital end to end: import → group (demo scheme) → calibrate RW on 2021 → pay 2022 →
metrics and DIP; invariants rather than hand-worked values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yunying.economics.dip import demo_catalogue, simulate_dip
from yunying.economics.metrics import metrics
from yunying.economics.params import shipped
from yunying.economics.payment import margins, simulate
from yunying.economics.weights import calibrate
from yunying.warehouse.db import connect

IMPORT_ORDER = ["hospital", "department", "staff", "finance", "beds", "discharge"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from yunying.drg import DEMO_SCHEME
    from yunying.drg.pack import load_pack
    from yunying.drg.store import register_pack, run_grouping
    from yunying.ingest.engine import import_files
    from yunying.synth.generator import generate

    out = tmp_path_factory.mktemp("synth")
    generate(profile="tertiary-general", years=[2021, 2022], scale=0.005, seed=5, out=out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    db = out / "w.duckdb"
    con = connect(db)
    for kind in IMPORT_ORDER:
        if kind in manifest["files"]:
            import_files(con, kind, [out / Path(p).name for p in manifest["files"][kind]], reject_dir=out / "rej")
    pack = load_pack(DEMO_SCHEME, name="demo")
    register_pack(con, pack, "demo")
    run_grouping(con, pack, "demo")
    con.close()
    return db


def test_calibrate_pay_metrics_invariants(warehouse):
    con = connect(warehouse)
    rep, rows = calibrate(con, "demo", 2021)
    assert rep.groups > 50 and 0 < rep.riv <= 1
    # case-weighted mean RW over the calibration population is 1 by construction
    n = {r[0]: r[6] for r in rows}
    assert sum(r[1] * n[r[0]] for r in rows) / sum(n.values()) == pytest.approx(1.0)
    # CMI of the calibration year ≈ 1 (all grouped cases, incl. the few LOS > 60 ones excluded from calibration)
    (h21,) = metrics(con, "2021", "hospital", "demo")
    assert h21["cmi"] == pytest.approx(1.0, abs=0.02)
    assert h21["benchmark_source"].startswith("fallback:same_data")
    assert h21["cost_index"] == pytest.approx(1.0, abs=0.05)
    res = simulate(con, "demo", params_file=shipped("demo-rate.yaml"), year=2022)
    s = res.summary
    fees, n22 = con.execute("select sum(fee_total), count(*) from discharge where year(discharge_time) = 2022"
                            ).fetchall()[0]
    assert s["cases"] == n22 and s["fees"] == pytest.approx(float(fees))
    # Σ group 盈亏 = total payment − total fees, at every level
    for level in ("group", "department", "doctor_group", "hospital"):
        assert sum(r["margin"] for r in margins(con, res.run_id, level)) == pytest.approx(
            s["expected_payment"] - s["fees"])
    assert sum(s["by_class"].values()) == n22
    # every normal case is paid exactly RW × rate × coefficient
    bad = con.execute("""select count(*) from econ_case_payment c
                         where run_id = ? and case_class = 'normal'
                           and abs(expected_payment - base_rw * 16000 *
                                   case when payment_category in ('2', '3') then 0.98 else 1 end) > 1e-6""",
                      [res.run_id]).fetchall()[0][0]
    assert bad == 0
    # metrics at every level carry a benchmark source; department cases add up to the hospital
    (h22,) = metrics(con, "2022", "hospital", "demo")
    depts = metrics(con, "2022", "department", "demo")
    assert sum(d["cases_reported"] for d in depts) == h22["cases_reported"] == n22
    assert sum(d["total_weight"] or 0 for d in depts) == pytest.approx(h22["total_weight"])
    assert all(d["benchmark_source"].startswith("fallback:prior_year 2021") for d in depts)
    assert 0 < h22["grouping_rate"] <= 1 and h22["drg_count"] > 50
    con.close()


def test_dip_on_synthetic_hospital(warehouse):
    con = connect(warehouse)
    run_id, s = simulate_dip(con, demo_catalogue(), year=2022, params={"point_value": 16.0})
    assert s["by_match"].get("unmatched", 0) < 0.05 * s["cases"]     # the demo catalogue covers the demo codes
    assert s["margin"] == pytest.approx(s["expected_payment"] - s["fees"])
    con.close()


def test_demo_stage(warehouse, capsys):
    from yunying.cli.drg_economics import demo_stage

    demo_stage(warehouse)
    err = capsys.readouterr().err
    assert "CMI" in err and "入组率" in err and "总盈亏" in err and "亏损最多病组" in err
