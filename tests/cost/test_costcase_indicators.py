"""Cost-based DRG indicators (DRG-C01 病组成本结构, DRG-C02 盈亏病组占比, DRG-C03 成本口径结余率), hand-worked on the
warehouse of test_costcase_margin.py, and 'not computable' without a cost run."""

from __future__ import annotations

import pytest
from tests.cost.test_costcase_margin import priced  # noqa: F401  (fixture)

from tests.economics.econ_fixtures import build, case
from yunying.indicators import compute
from yunying.indicators.catalogue import load_catalogue

IDS = ["DRG-C01.drug", "DRG-C01.material", "DRG-C01.service", "DRG-C02", "DRG-C03"]


def _rows(con, level):
    rows = compute(con, load_catalogue(), ids=IDS, period="2022", level=level, targets=[])
    return {(r["indicator_id"], r["level"], r["dept_code"], r.get("doctor_group") or ""): r for r in rows}


def test_cost_indicators_hand_worked(priced):  # noqa: F811
    con, _ = priced
    # primary figure = ccr for every case (no item charges): costs c1 6 500 (drugs 200), c2 23 400, c3 10 800
    # → Σ 40 700; drugs 200 → 0.4914 %, materials 0, services 40 500 → 99.51 %.
    # DRG-C02 hospital: GZ13 1 500 − 13 400 = −11 900 < 0, AB11 −800 < 0 → 2 / 2 = 100 %.
    #   doctor group T1: GZ13 (c1) +1 500, AB11 (c3) −800 → 1 / 2 = 50 %;  T2: GZ13 −13 400 → 1 / 1.
    # DRG-C03 hospital: (1 500 − 13 400 − 800) / (8 000 + 10 000 + 10 000) = −12 700 / 28 000 = −45.36 %.
    r = _rows(con, ["hospital", "department", "doctor"])
    h = {k[0]: v for k, v in r.items() if k[1] == "hospital"}
    assert (h["DRG-C01.drug"]["numerator"], h["DRG-C01.drug"]["denominator"]) == (pytest.approx(200),
                                                                                   pytest.approx(40700))
    assert h["DRG-C01.drug"]["value"] == pytest.approx(200 / 40700 * 100)
    assert h["DRG-C01.material"]["value"] == pytest.approx(0)
    assert h["DRG-C01.service"]["value"] == pytest.approx(40500 / 40700 * 100)
    assert (h["DRG-C02"]["numerator"], h["DRG-C02"]["denominator"], h["DRG-C02"]["value"]) == (2, 2, 100)
    assert h["DRG-C03"]["value"] == pytest.approx(-12700 / 28000 * 100)
    assert "成本核算 cr1" in h["DRG-C03"]["note"] and "3 例无收费明细" in h["DRG-C03"]["note"]
    docs = {k[3]: v for k, v in r.items() if k[0] == "DRG-C02" and k[1] == "doctor"}
    assert docs["T1"]["value"] == pytest.approx(50) and docs["T2"]["value"] == pytest.approx(100)


def test_not_computable_without_a_cost_run(tmp_path):
    con = build(tmp_path / "w.duckdb", [case("c1", "GZ13", 7200)])
    rows = compute(con, load_catalogue(), ids=IDS, period="2022", level="hospital", targets=[])
    for r in rows:
        assert r["status_code"] == "not_computable" and "yunying cost cases" in r["reason"], r
