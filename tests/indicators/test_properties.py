"""Property tests (Hypothesis): share indicators stay within [0, 100] with numerator ≤ denominator, and the
drill-down lists exactly the counted cases, on random small warehouses."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indfixtures import dis, insert
from yunying.indicators import cases, compute
from yunying.warehouse.db import connect

SHARES = ["OP-12", "OP-18", "OP-28", "OP-31", "G3-08", "Z3-04", "OP-29", "OP-03.dept"]

record = st.fixed_dictionaries({
    "dept": st.sampled_from(["GS", "IM"]),
    "month": st.integers(1, 12),
    "los": st.integers(1, 40),
    "fee": st.integers(100, 50000),
    "drug": st.integers(0, 90),                  # % of the fee; with 中草药 5 元 (fee ≥ 100) parts stay ≤ the total
    "anti": st.booleans(),
    "herbal": st.booleans(),
    "died": st.booleans(),
    "ops": st.lists(st.tuples(st.sampled_from([None, "1", "2", "3", "4"]), st.integers(0, 2)), max_size=3),
    "compl": st.booleans(),
    "poa": st.sampled_from(["1", "4"]),
})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(record, min_size=1, max_size=12))
def test_shares_and_drill_down(catalogue, recs):
    con = connect(":memory:")
    insert(con, "hospital", [dict(hospital_id="H1", hospital_name="x", region_code="R")])
    for i, r in enumerate(recs):
        mrn = f"M{i % 4}"          # some patients come back (readmissions)
        adm = i + 1
        insert(con, "discharge", [dis(mrn, adm, r["dept"], f"2022-{r['month']:02d}-01 08:00",
                                      f"2022-{r['month']:02d}-{min(28, 1 + r['los'] % 27):02d} 10:00", r["los"],
                                      r["fee"], fee_western_drug=r["fee"] * r["drug"] // 100,
                                      fee_antibiotic=10 if r["anti"] else 0, fee_herbal=5 if r["herbal"] else 0,
                                      discharge_disposition="5" if r["died"] else "1")])
        for seq, (level, day) in enumerate(r["ops"], start=1):
            insert(con, "discharge_procedure", [dict(hospital_id="H1", mrn=mrn, admission_no=adm, seq=seq,
                                                     px_code=f"P{seq}", level=level,
                                                     px_time=f"2022-{r['month']:02d}-0{1 + day} 09:00")])
        if r["compl"]:
            insert(con, "discharge_diagnosis", [dict(hospital_id="H1", mrn=mrn, admission_no=adm, dx_type="W",
                                                     seq=1, dx_code="T81.000", poa=r["poa"])])
    for level in ("hospital", "department"):
        for row in compute(con, catalogue, ids=SHARES + ["G3-04", "OP-08"], period="2022", level=level, targets=[]):
            if row["value"] is None:
                continue
            if row["indicator_id"] in SHARES:
                assert 0 <= row["numerator"] <= row["denominator"], row
                assert 0 <= row["value"] <= 100 + 1e-9, row
            key = {"hospital_id": row["hospital_id"], "dept_code": row["dept_code"]}
            res = cases(con, catalogue, row["indicator_id"], period="2022", level=level, key=key)
            if row["indicator_id"] == "G3-04":
                assert len({r[-1] for r in res.rows}) == row["numerator"]       # distinct sessions
            elif row["indicator_id"] == "OP-08":
                assert sum(r[-1] for r in res.rows) == row["numerator"]          # Σ los_days
            elif row["indicator_id"] != "OP-03.dept":
                assert len(res.rows) == row["numerator"], (row["indicator_id"], res.sql)
    con.close()
