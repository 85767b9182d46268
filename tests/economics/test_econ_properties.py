"""Property tests (Hypothesis) for the payment engine: one class per case, 盈亏 conservation, continuity at the
高倍率 cut and monotone payment above the 低倍率 cut."""

from __future__ import annotations

import pytest
from econ_fixtures import build, case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yunying.economics.payment import margins, simulate
from yunying.economics.weights import import_weights


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    d = tmp_path_factory.mktemp("prop")
    c = build(d / "p.duckdb", [case("seed", "GZ13", 1000)])
    (d / "w.csv").write_text("drg,rw\nGZ13,0.8\nAB11,1.7\n", encoding="utf-8")
    import_weights(c, "t", d / "w.csv", year=2022)
    yield c
    c.close()


fees = st.lists(st.tuples(st.sampled_from(["GZ13", "AB11", "NEW1", "FAIL"]),
                          st.floats(min_value=1, max_value=200_000, allow_nan=False)), min_size=1, max_size=12)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=fees, rate=st.floats(min_value=1000, max_value=30000))
def test_payment_invariants(con, cases, rate):
    con.execute("delete from discharge")
    con.execute("delete from drg_result")
    for i, (drg, fee) in enumerate(cases):
        status = "FAIL" if drg == "FAIL" else "SUCCESS"
        con.execute("insert into discharge (hospital_id, mrn, admission_no, payment_category, discharge_time, "
                    "discharge_dept_code, los_days, discharge_disposition, fee_total) values ('H1', ?, 1, '1', "
                    "timestamp '2022-05-01 10:00:00', 'GS', 5, '1', ?)", [f"m{i}", round(fee, 2)])
        con.execute("insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg, "
                    "drg) values ('H1', ?, 1, 't', 'h', ?, 'MDCX', 'XX', ?)",
                    [f"m{i}", status, "0000" if status == "FAIL" else drg])
    res = simulate(con, "t", overrides={"rate": rate}, year=2022)
    rows = con.execute("select case_class, base_rw, ratio, expected_payment, fee_total from econ_case_payment "
                       "where run_id = ?", [res.run_id]).fetchall()
    assert len(rows) == len(cases)                                   # exactly one result (one class) per case
    total = res.summary["expected_payment"] - res.summary["fees"]
    assert sum(r["margin"] for r in margins(con, res.run_id, "group")) == pytest.approx(total, abs=1e-4)
    for cls, rw, r, pay, fee in rows:
        if cls == "normal":
            assert pay == pytest.approx(rw * rate) and 0.3 <= r <= 3
        elif cls == "high":                                          # continuous at the cut, grows with charges
            assert pay == pytest.approx(rw * rate * (1 + r - 3)) and pay >= rw * rate
        elif cls == "low":                                           # pro rata: pays the charges, below Std
            assert pay == pytest.approx(fee) and pay < 0.3 * rw * rate + 1e-6
        else:
            assert cls in ("ungrouped", "no_weight") and pay == pytest.approx(fee)
