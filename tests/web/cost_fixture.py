"""A hand-worked cost run written straight into the engine's output tables of the cost contract (COST-CONTRACT.md
§C), for the cost pages and the annual report's cost section. Not a migration: tables are created only when the
warehouse does not have them yet (once the cost engine's migrations are merged they exist and rows are inserted).

Units (hospital H, one run CR-T1, plan default v1; month 2022-06 as below, 2022-05 = every amount × 0.5):

    unit       class     dept   line        direct (yuan) by cost item
    ADM        admin     ADM    other       100,000  personnel 60,000, other 40,000
    CSSD       support   CSSD   other        60,000  personnel 30,000, material 30,000
    LAB        medtech   LAB    other       200,000  personnel 80,000, material 120,000
    OWN-IP     clinical  OWN    inpatient   400,000  personnel 200,000, drug 200,000
    OWN-OP     clinical  OWN    outpatient  100,000  personnel 100,000
    OTH-IP     clinical  OTHER  inpatient   600,000  personnel 300,000, material 300,000        total 1,460,000

Step 1 ADM by staff (CSSD 10, LAB 20, OWN-IP 30, OWN-OP 10, OTH-IP 30 of 100), each item in proportion:
    personnel 60,000 → 6,000 / 12,000 / 18,000 / 6,000 / 18,000; other 40,000 → 4,000 / 8,000 / 12,000 / 4,000 / 12,000
    in: CSSD 10,000, LAB 20,000, OWN-IP 30,000, OWN-OP 10,000, OTH-IP 30,000
Step 2 CSSD 70,000 (personnel 36,000, material 30,000, other 4,000) by packs (LAB 10, OWN-IP 20, OWN-OP 10,
    OTH-IP 60 of 100): personnel 3,600 / 7,200 / 3,600 / 21,600; material 3,000 / 6,000 / 3,000 / 18,000;
    other 400 / 800 / 400 / 2,400 → in: LAB 7,000, OWN-IP 14,000, OWN-OP 7,000, OTH-IP 42,000
Step 3 LAB 227,000 (personnel 95,600, material 123,000, other 8,400) by ordered revenue (OWN-IP 50, OWN-OP 10,
    OTH-IP 40 of 100): personnel 47,800 / 9,560 / 38,240; material 61,500 / 12,300 / 49,200; other 4,200 / 840 /
    3,360 → in: OWN-IP 113,500, OWN-OP 22,700, OTH-IP 90,800
Full: OWN-IP 557,500 (personnel 273,000, drug 200,000, material 67,500, other 17,000); OWN-OP 139,700;
    OTH-IP 762,800 → department OWN 697,200 (= the spec's 内科 of §4.4), OTHER 762,800; Σ 1,460,000 = Σ direct.
Unit costs (2022-06): OWN-IP bed-days 500 → 1,115.00元; OWN-OP visits 1,000 → 139.70元; OTH-IP bed-days 800 →
    953.50元; hospital bed-day (557,500 + 762,800) / 1,300 = 1,015.62元; 2022-05 has half the cost and half the
    volume, so the same unit costs.

Cases (v_cost_case_margin, 2022-06; both methods per case; margin = payment − cost, charge margin = payment − fee):
    case  dept   DRG   payment fee    item_sum ccr     → margin item_sum / ccr / charges
    o1    OWN    ZZ11  8,000  7,200   6,500   7,000      1,500 / 1,000 /    800
    o2    OWN    ZZ11  8,000  9,000   9,500   8,500     −1,500 /  −500 / −1,000
    x1    OTHER  ZZ11  8,000  7,000   7,600   7,300        400 /   700 /  1,000
    o3    OWN    ZZ13  5,000  4,800   5,600   5,200       −600 /  −200 /    200
    x2    OTHER  ZZ13  5,000  5,100   5,300   4,900       −300 /   100 /   −100
    ZZ11: 3 cases, mean cost 7,866.67 / 7,600.00, Σ margin 400 / 1,200, charges 800
    ZZ13: 2 cases, mean cost 5,450.00 / 5,050.00, Σ margin −900 / −100, charges 100 (gains on charges, loses on cost)
"""

from __future__ import annotations

from datetime import date, datetime

RUN = "CR-T1"
JUNE, MAY = date(2022, 6, 1), date(2022, 5, 1)

# (unit, class, dept key, service line, {item: direct})
UNITS = [("ADM", "admin", "ADM", "other", {"personnel": 60000, "other": 40000}),
         ("CSSD", "support", "CSSD", "other", {"personnel": 30000, "material": 30000}),
         ("LAB", "medtech", "LAB", "other", {"personnel": 80000, "material": 120000}),
         ("OWN-IP", "clinical", "OWN", "inpatient", {"personnel": 200000, "drug": 200000}),
         ("OWN-OP", "clinical", "OWN", "outpatient", {"personnel": 100000}),
         ("OTH-IP", "clinical", "OTHER", "inpatient", {"personnel": 300000, "material": 300000})]

# (step, source, item, basis, total, {dest: (qty, amount)}) — the hops worked above
TRAIL = [
    (1, "ADM", "personnel", "staff", 100, {"CSSD": (10, 6000), "LAB": (20, 12000), "OWN-IP": (30, 18000),
                                           "OWN-OP": (10, 6000), "OTH-IP": (30, 18000)}),
    (1, "ADM", "other", "staff", 100, {"CSSD": (10, 4000), "LAB": (20, 8000), "OWN-IP": (30, 12000),
                                       "OWN-OP": (10, 4000), "OTH-IP": (30, 12000)}),
    (2, "CSSD", "personnel", "packs", 100, {"LAB": (10, 3600), "OWN-IP": (20, 7200), "OWN-OP": (10, 3600),
                                            "OTH-IP": (60, 21600)}),
    (2, "CSSD", "material", "packs", 100, {"LAB": (10, 3000), "OWN-IP": (20, 6000), "OWN-OP": (10, 3000),
                                           "OTH-IP": (60, 18000)}),
    (2, "CSSD", "other", "packs", 100, {"LAB": (10, 400), "OWN-IP": (20, 800), "OWN-OP": (10, 400),
                                        "OTH-IP": (60, 2400)}),
    (3, "LAB", "personnel", "ordered_revenue", 100, {"OWN-IP": (50, 47800), "OWN-OP": (10, 9560),
                                                     "OTH-IP": (40, 38240)}),
    (3, "LAB", "material", "ordered_revenue", 100, {"OWN-IP": (50, 61500), "OWN-OP": (10, 12300),
                                                    "OTH-IP": (40, 49200)}),
    (3, "LAB", "other", "ordered_revenue", 100, {"OWN-IP": (50, 4200), "OWN-OP": (10, 840), "OTH-IP": (40, 3360)}),
]
# (unit, measure, volume in June)
VOLUMES = [("OWN-IP", "bed_day", 500), ("OWN-OP", "visit", 1000), ("OTH-IP", "bed_day", 800)]
# (case key, dept key, drg, payment, fee, cost item_sum, cost ccr)
CASES = [("o1", "OWN", "ZZ11", 8000, 7200, 6500, 7000), ("o2", "OWN", "ZZ11", 8000, 9000, 9500, 8500),
         ("x1", "OTHER", "ZZ11", 8000, 7000, 7600, 7300), ("o3", "OWN", "ZZ13", 5000, 4800, 5600, 5200),
         ("x2", "OTHER", "ZZ13", 5000, 5100, 5300, 4900)]

DDL = {
    "cost_run": """create table cost_run (run_id VARCHAR, hospital_id VARCHAR, month_from DATE, month_to DATE,
        plan_id VARCHAR, plan_version VARCHAR, plan_hash VARCHAR, measure VARCHAR, created_at TIMESTAMP,
        created_by VARCHAR, note VARCHAR)""",
    "cost_alloc_trail": """create table cost_alloc_trail (run_id VARCHAR, hospital_id VARCHAR, month DATE,
        step INTEGER, source_unit VARCHAR, dest_unit VARCHAR, cost_item VARCHAR, basis_code VARCHAR,
        basis_qty DECIMAL(18,4), basis_total DECIMAL(18,4), amount DECIMAL(16,2))""",
    "cost_unit_full": """create table cost_unit_full (run_id VARCHAR, hospital_id VARCHAR, month DATE,
        unit_code VARCHAR, dept_code VARCHAR, cost_class VARCHAR, service_line VARCHAR, cost_item VARCHAR,
        direct DECIMAL(16,2), step1_in DECIMAL(16,2), step2_in DECIMAL(16,2), step3_in DECIMAL(16,2),
        allocated_out DECIMAL(16,2), "full" DECIMAL(16,2))""",
    "cost_unit_cost": """create table cost_unit_cost (run_id VARCHAR, hospital_id VARCHAR, month DATE,
        unit_code VARCHAR, dept_code VARCHAR, measure VARCHAR, cost DECIMAL(16,2), volume DECIMAL(16,4),
        unit_cost DECIMAL(16,4), volume_source VARCHAR)""",
    "cost_unit": """create table cost_unit (hospital_id VARCHAR, unit_code VARCHAR, unit_name VARCHAR,
        dept_code VARCHAR, cost_class VARCHAR, service_line VARCHAR, valid_from DATE, valid_to DATE)""",
}
UNIT_NAMES = {"ADM": "院办", "CSSD": "供应室", "LAB": "检验科", "OWN-IP": "{own}住院", "OWN-OP": "{own}门诊",
              "OTH-IP": "{other}住院"}


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("select table_name from information_schema.tables "
                                      "where table_schema = 'main'").fetchall()}


def full_rows():
    """(unit, item) -> [direct, step1_in, step2_in, step3_in, allocated_out, full] for June, summed from TRAIL."""
    rows = {}
    for unit, cls, _, _, items in UNITS:
        for item, amt in items.items():
            rows[(unit, item)] = [amt, 0, 0, 0, 0, 0]
    for step, src, item, _, _, dests in TRAIL:
        for dest, (_, amt) in dests.items():
            rows.setdefault((dest, item), [0, 0, 0, 0, 0, 0])[step] += amt
            rows.setdefault((src, item), [0, 0, 0, 0, 0, 0])[4] += amt
    cls = {u[0]: u[1] for u in UNITS}
    for (unit, item), r in rows.items():
        r[5] = sum(r[:4]) - r[4] if cls[unit] == "clinical" else 0
        assert cls[unit] == "clinical" or sum(r[:4]) == r[4], (unit, item)    # non-clinical pools fully allocated
    return rows


def install(con, *, hospital: str, own: str, other: str, cases: dict | None = None, run_id: str = RUN,
            created_at: datetime = datetime(2026, 1, 5, 9, 30)) -> None:
    """Write the run above. `own`/`other`: the warehouse department codes of OWN / OTHER; `cases`: case key ->
    (mrn, admission_no) of discharges to attach the DRG case costs to (None: no case cost)."""
    have = _tables(con)
    for name, ddl in DDL.items():
        if name not in have:
            con.execute(ddl)
    dept = {"OWN": own, "OTHER": other, "ADM": "ADM", "CSSD": "CSSD", "LAB": "LAB"}
    info = {u: (cls, dept[d], line) for u, cls, d, line, _ in UNITS}
    con.execute("insert into cost_run (run_id, hospital_id, month_from, month_to, plan_id, plan_version, plan_hash, "
                "measure, created_at, created_by, note) values (?, ?, ?, ?, 'default', '1', "
                "'0123456789abcdef0123', 'cost', ?, 'test', null)", [run_id, hospital, MAY, JUNE, created_at])
    for month, k in ((JUNE, 1.0), (MAY, 0.5)):
        for step, src, item, basis, total, dests in TRAIL:
            for dest, (qty, amt) in dests.items():
                con.execute("insert into cost_alloc_trail (run_id, hospital_id, month, step, source_unit, dest_unit, "
                            "cost_item, basis_code, basis_qty, basis_total, amount, basis_provider) "
                            "values (?,?,?,?,?,?,?,?,?,?,?,?)",
                            [run_id, hospital, month, step, src, dest, item, basis, qty, total, amt * k,
                             src if basis in ("packs", "ordered_revenue") else "*"])
        for (unit, item), r in full_rows().items():
            cls, d, line = info[unit]
            con.execute("insert into cost_unit_full (run_id, hospital_id, month, unit_code, dept_code, cost_class, "
                        "service_line, cost_item, direct, step1_in, step2_in, step3_in, allocated_out, \"full\") "
                        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        [run_id, hospital, month, unit, d, cls, line, item] + [x * k for x in r])
        full = defaultdict_sum((u, r[5]) for (u, _), r in full_rows().items())
        for unit, measure, vol in VOLUMES:
            cost, v = full[unit] * k, vol * k
            con.execute("insert into cost_unit_cost (run_id, hospital_id, month, unit_code, dept_code, measure, cost, "
                        "volume, unit_cost, volume_source) values (?,?,?,?,?,?,?,?,?, 'cost_basis')",
                        [run_id, hospital, month, unit, info[unit][1], measure, cost, v, cost / v])
    if "v_cost_unit_month" not in have:
        con.execute("""create view v_cost_unit_month as select u.hospital_id, m.month, u.unit_code, u.unit_name,
                       u.dept_code, u.cost_class, u.service_line from cost_unit u,
                       (select distinct month from cost_unit_full) m
                       where u.valid_from <= m.month and (u.valid_to is null or u.valid_to >= m.month)""")
    for u, (cls, d, line) in info.items():
        con.execute("insert into cost_unit (hospital_id, unit_code, unit_name, dept_code, cost_class, service_line, "
                    "valid_from, valid_to) values (?,?,?,?,?,?, '2020-01-01', null)",
                    [hospital, u, UNIT_NAMES[u].format(own=own, other=other), d, cls, line])
    if cases is not None:
        install_cases(con, hospital=hospital, own=own, other=other, cases=cases)


def defaultdict_sum(pairs) -> dict:
    out: dict = {}
    for k, v in pairs:
        out[k] = out.get(k, 0) + v
    return out


def install_cases(con, *, hospital: str, own: str, other: str, cases: dict) -> None:
    """The case costs above as the view v_cost_case_margin (over a private table of this fixture)."""
    dept = {"OWN": own, "OTHER": other}
    con.execute("""create or replace table _test_cost_case_margin (hospital_id VARCHAR, mrn VARCHAR,
                   admission_no INTEGER, period_month DATE, dept_code VARCHAR, doctor_group VARCHAR, drg VARCHAR,
                   method VARCHAR, cost DECIMAL(16,2), expected_payment DECIMAL(16,2), fee_total DECIMAL(16,2),
                   margin_cost DECIMAL(16,2), margin_charges DECIMAL(16,2))""")
    for key, d, drg, pay, fee, c_is, c_ccr in CASES:
        mrn, adm = cases[key]
        for method, cost in (("item_sum", c_is), ("ccr", c_ccr)):
            con.execute("insert into _test_cost_case_margin values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        [hospital, mrn, adm, JUNE, dept[d], f"G-{d}", drg, method, cost, pay, fee, pay - cost,
                         pay - fee])
    if "v_cost_case_margin" in _tables(con):
        kind = con.execute("select table_type from information_schema.tables where table_name = "
                           "'v_cost_case_margin'").fetchall()[0][0]
        con.execute("drop view v_cost_case_margin" if kind == "VIEW" else "drop table v_cost_case_margin")
    con.execute("create view v_cost_case_margin as select * from _test_cost_case_margin")
