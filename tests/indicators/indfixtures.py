"""Test data for tests/indicators (a module with a unique name, imported by the tests and conftest.py).

A tiny hand-made warehouse (literal rows) whose indicator values are worked out by hand in test_formulas.py.

Hospital H1 (region R1), departments GS (普外科) and IM (内科); year 2022 with 2021 for 同比 and growth rates.
Every number used in the expectations is visible here.
"""

from __future__ import annotations




def insert(con, table: str, rows: list[dict]) -> None:
    for r in rows:
        cols = ", ".join(r)
        con.execute(f"insert into {table} ({cols}) values ({', '.join('?' for _ in r)})", list(r.values()))


FEES0 = dict(fee_western_drug=0, fee_patent_tcm=0, fee_herbal=0, fee_mat_exam=0, fee_mat_treat=0, fee_mat_surg=0,
             fee_antibiotic=0, fee_tcm=0)


def dis(mrn, adm, dept, admit, discharge, los, fee, **kw):
    r = dict(hospital_id=kw.pop("hospital_id", "H1"), mrn=mrn, admission_no=adm, discharge_dept_code=dept,
             admit_dept_code=dept, admit_time=admit, discharge_time=discharge, los_days=los, fee_total=fee,
             discharge_disposition="1", readmit_plan_31d="1")
    r.update(FEES0)
    r.update(kw)
    return r


DISCHARGES = [
    # 2022 ----------------------------------------------------------------------------------------------------
    # D1 GS: drug 2000+500+500 = 3000, material 100+200+700 = 1000, antibiotic 300, herbal 500, rescue 2/1
    dis("M1", 1, "GS", "2022-03-01 08:00", "2022-03-06 10:00", 5, 10000, fee_western_drug=2000, fee_patent_tcm=500,
        fee_herbal=500, fee_mat_exam=100, fee_mat_treat=200, fee_mat_surg=700, fee_antibiotic=300,
        rescue_count=2, rescue_success_count=1, treatment_category="1", day_surgery="1", pathway_entered="1",
        pathway_variance="2", pathway_exited="2", unplanned_reoperation="2", attending_physician="DrA"),
    # D2 GS: died; drug 4000, material 2000, 中医治疗费 100, rescue 1/0, unplanned return to theatre
    dis("M2", 1, "GS", "2022-03-10 08:00", "2022-03-20 10:00", 10, 20000, fee_western_drug=4000, fee_mat_surg=2000,
        fee_tcm=100, discharge_disposition="5", rescue_count=1, rescue_success_count=0, treatment_category="2",
        day_surgery="2", pathway_entered="2", unplanned_reoperation="1", attending_physician="DrB"),
    # D3 IM: referred down (LYFS 3); drug 1000+200 = 1200; antibiotic 100; herbal 200; readmitted 16 days later
    dis("M3", 1, "IM", "2022-06-01 08:00", "2022-06-04 10:00", 3, 3000, fee_western_drug=1000, fee_herbal=200,
        fee_antibiotic=100, discharge_disposition="3", treatment_category="1.1", day_surgery="2",
        pathway_entered="1", pathway_variance="2", pathway_exited="1", attending_physician="DrC"),
    # D4 IM: the readmission of M3; drug 1800, material 300
    dis("M3", 2, "IM", "2022-06-20 08:00", "2022-06-26 10:00", 6, 6000, fee_western_drug=1800, fee_mat_treat=300,
        treatment_category="3", day_surgery="2", pathway_entered="2", attending_physician="DrC"),
    # 2021 ----------------------------------------------------------------------------------------------------
    dis("M4", 1, "GS", "2021-05-01 08:00", "2021-05-10 10:00", 8, 8000, fee_western_drug=2000,
        attending_physician="DrA"),
    dis("M5", 1, "IM", "2021-06-27 08:00", "2021-07-01 10:00", 4, 4000, fee_western_drug=1000,
        attending_physician="DrC"),
]


def px(mrn, adm, seq, code, level, t, incision=None, healing=None):
    return dict(hospital_id="H1", mrn=mrn, admission_no=adm, seq=seq, px_code=code, level=level, px_time=t,
                incision_class=incision, healing=healing)


PROCEDURES = [
    # D1: P1 (grade 3) and P2 (grade 4) in one session (same time) = 1 台次; DX is a diagnostic procedure
    px("M1", 1, 1, "P1", "3", "2022-03-02 10:00", "I", "甲"),
    px("M1", 1, 2, "P2", "4", "2022-03-02 10:00", "I", "甲"),
    px("M1", 1, 3, "DX", None, "2022-03-03 09:00"),
    # D2: P3 (grade 4, 微创, Ⅰ类切口 healing 丙 = SSI) and later P4 (grade 2) = 2 台次
    px("M2", 1, 1, "P3", "4", "2022-03-11 10:00", "I", "丙"),
    px("M2", 1, 2, "P4", "2", "2022-03-15 10:00", "II", "甲"),
    px("M3", 1, 1, "DX", None, "2022-06-02 09:00"),
    px("M4", 1, 1, "P1", "3", "2021-05-02 10:00", "I", "甲"),
]

DIAGNOSES = [
    dict(hospital_id="H1", mrn="M1", admission_no=1, dx_type="W", seq=0, dx_code="K80.000", poa="1"),
    dict(hospital_id="H1", mrn="M1", admission_no=1, dx_type="W", seq=1, dx_code="I26.900", poa="1"),   # POA: no
    dict(hospital_id="H1", mrn="M2", admission_no=1, dx_type="W", seq=0, dx_code="K35.800", poa="1"),
    dict(hospital_id="H1", mrn="M2", admission_no=1, dx_type="W", seq=1, dx_code="T81.000", poa="4"),   # counts
    dict(hospital_id="H1", mrn="M3", admission_no=1, dx_type="W", seq=1, dx_code="K91.800", poa="4"),   # no surgery
]

PX_DICT = [("P1", "手术1", "surgery", 3, False), ("P2", "手术2", "surgery", 4, False),
           ("P3", "腹腔镜手术3", "surgery", 4, True), ("P4", "手术4", "surgery", 2, False),
           ("DX", "诊断操作", "diagnostic", None, None)]


def visit(vid, vtype, dept, day, fee, **kw):
    r = dict(hospital_id=kw.pop("hospital_id", "H1"), visit_id=vid, patient_id="p" + vid, visit_type=vtype,
             dept_code=dept, reg_time=f"{day} 08:00", appointment="2", rx_count=0, has_antibacterial="2",
             has_essential_drug="2", has_tcm_rx="2", has_herbal="2", tcm_nondrug="2", referral_out="2",
             fee_total=fee, fee_western_drug=0, fee_patent_tcm=0, fee_herbal=0, fund_paid=0)
    r.update(kw)
    return r


VISITS = [
    visit("V1", "general", "IM", "2022-04-01", 300, appointment="1", checkin_time="2022-04-01 09:00",
          call_time="2022-04-01 09:20", rx_count=2, has_antibacterial="1", has_essential_drug="1", has_tcm_rx="1",
          has_herbal="1", referral_out="1", fee_western_drug=100, fee_patent_tcm=50, fee_herbal=50, fund_paid=150),
    visit("V2", "expert", "GS", "2022-04-02", 500, appointment="1", checkin_time="2022-04-02 10:00",
          call_time="2022-04-02 10:40", rx_count=1, tcm_nondrug="1", fee_western_drug=200, fund_paid=300),
    visit("V3", "general", "IM", "2022-04-03", 100, has_essential_drug="1"),
    visit("V4", "emergency", "GS", "2022-04-04", 1000, rx_count=1, has_antibacterial="1", fee_western_drug=400,
          fund_paid=500),
    visit("V5", "emergency", "GS", "2022-04-05", 200, fund_paid=100),
    visit("V6", "checkup", "IM", "2022-04-06", 400, appointment="1"),
    visit("V7", "special", "GS", "2022-04-07", 800, appointment="1", checkin_time="2022-04-07 08:00",
          call_time="2022-04-07 08:10", rx_count=1, has_essential_drug="1", has_tcm_rx="1",
          fee_western_drug=300, fee_patent_tcm=100, fund_paid=200),
    visit("W1", "general", "IM", "2021-04-01", 200, fee_western_drug=100),
    visit("W2", "emergency", "GS", "2021-04-02", 400, fee_western_drug=100),
]

FIN_2022_01 = dict(income_total=1_000_000, income_medical=800_000, income_outpatient=300_000,
                   income_inpatient=500_000, income_registration=10_000, income_bed=40_000, income_consult=30_000,
                   income_exam=100_000, income_lab=80_000, income_treatment=60_000, income_surgery=70_000,
                   income_nursing=20_000, income_material=120_000, income_drug=250_000,
                   income_drug_western=200_000, income_drug_patent_tcm=30_000, income_drug_herbal=20_000,
                   income_pharmacy_service=0, income_medical_other=20_000, income_insurance_fund=400_000,
                   income_special_service=8_000, expense_total=900_000, expense_medical=700_000,
                   expense_personnel=280_000, expense_material=90_000, expense_energy=15_000,
                   asset_total=5_000_000, liability_total=2_000_000)
FINANCE = ([dict(hospital_id="H1", month="2022-01-01", dept_code="*", item_code=k, amount=v)
            for k, v in FIN_2022_01.items()]
           + [dict(hospital_id="H1", month="2022-02-01", dept_code="*", item_code=k, amount=v)
              for k, v in {"asset_total": 6_000_000, "liability_total": 1_500_000}.items()]
           + [dict(hospital_id="H1", month="2021-01-01", dept_code="*", item_code=k, amount=v)
              for k, v in {"income_medical": 640_000, "income_outpatient": 200_000}.items()])

STAFF = []
for _m in ("2022-01-01", "2022-02-01"):
    for dept, cat, title, n in [("GS", "physician", "senior", 2), ("GS", "physician", "middle", 3),
                                ("GS", "nurse", "junior", 10), ("IM", "assistant_physician", "junior", 1),
                                ("IM", "nurse", "middle", 6), ("ANES", "physician", "vice_senior", 2),
                                ("PED", "physician", "junior", 1), ("TCMD", "physician", "junior", 1),
                                ("PHAR", "pharmacist", "middle", 2), ("ADM", "management", "none", 3)]:
        STAFF.append(dict(hospital_id="H1", month=_m, dept_code=dept, staff_category=cat, title_level=title,
                          headcount=n))

DEPARTMENTS = [
    dict(hospital_id="H1", dept_code="GS", dept_name="普外科", dept_class="clinical", national_dept_code="04"),
    dict(hospital_id="H1", dept_code="IM", dept_name="内科", dept_class="clinical", national_dept_code="03"),
    dict(hospital_id="H1", dept_code="ANES", dept_name="麻醉科", dept_class="clinical", national_dept_code="26"),
    dict(hospital_id="H1", dept_code="PED", dept_name="儿科", dept_class="clinical"),
    dict(hospital_id="H1", dept_code="TCMD", dept_name="中医科", dept_class="clinical", national_dept_code="50"),
    dict(hospital_id="H1", dept_code="PHAR", dept_name="药学部", dept_class="medtech"),
    dict(hospital_id="H1", dept_code="ADM", dept_name="院办", dept_class="admin"),
]

WARD = [
    dict(hospital_id="H1", month="2022-01-01", dept_code="GS", open_beds=20, open_bed_days=620, occupied_bed_days=558),
    dict(hospital_id="H1", month="2022-01-01", dept_code="IM", open_beds=10, open_bed_days=310, occupied_bed_days=310),
    dict(hospital_id="H1", month="2022-02-01", dept_code="GS", open_beds=20, open_bed_days=560, occupied_bed_days=504),
    dict(hospital_id="H1", month="2022-02-01", dept_code="IM", open_beds=10, open_bed_days=280, occupied_bed_days=252),
]

DRG = [dict(hospital_id="H1", mrn=m, admission_no=a, scheme="s1", scheme_hash="x", status=st, mdc="X", adrg="X", drg=g)
       for m, a, st, g in [("M1", 1, "SUCCESS", "GB11"), ("M2", 1, "SUCCESS", "GB11"), ("M3", 1, "SUCCESS", "ES21"),
                           ("M3", 2, "FAIL", "0000")]]


# DRG economics for s1 2022 (read by v_drg_case through drg_metric_case): weights GB11 2.5, ES21 0.8; an imported
# benchmark GB11 (cost 10000, LOS 5, risk level 1 低风险) and ES21 (cost 6000, LOS 2, risk level 2 中低风险)
WEIGHT_SETS = [dict(scheme="s1", year=2022, source="import:test.csv", content_hash="h")]
WEIGHTS = [dict(scheme="s1", year=2022, drg="GB11", rw=2.5), dict(scheme="s1", year=2022, drg="ES21", rw=0.8)]
BENCHMARKS = [dict(scheme="s1", year=2022, drg="GB11", region="R1", mean_cost=10000, mean_los=5, risk_level=1),
              dict(scheme="s1", year=2022, drg="ES21", region="R1", mean_cost=6000, mean_los=2, risk_level=2)]


# record QC results (qc_record, read by v_qc): D1 100 甲, D2 85 乙, D3 92 甲, D4 70 乙 (2022)
QC = [dict(run_id="q1", hospital_id="H1", mrn=m, admission_no=a, discharge_month=mo, discharge_dept_code=d, score=sc,
           grade=g, passed=g == "甲", excellent=sc >= 97, complete=True, n_error=0, n_warning=0, n_info=0,
           pdx_defect=False, ppx_defect=False)
      for m, a, mo, d, sc, g in [("M1", 1, "2022-03-01", "GS", 100, "甲"), ("M2", 1, "2022-03-01", "GS", 85, "乙"),
                                 ("M3", 1, "2022-06-01", "IM", 92, "甲"), ("M3", 2, "2022-06-01", "IM", 70, "乙")]]


def build(con, *, finance=True, drg=True, px_dict=True, ward=True, staff=True, weights=True, qc=True) -> None:
    insert(con, "hospital", [dict(hospital_id="H1", hospital_name="一院", region_code="R1")])
    insert(con, "department", DEPARTMENTS)
    insert(con, "discharge", DISCHARGES)
    insert(con, "discharge_procedure", PROCEDURES)
    insert(con, "discharge_diagnosis", DIAGNOSES)
    insert(con, "outpatient_visit", VISITS)
    if finance:
        insert(con, "finance_month", FINANCE)
    if staff:
        insert(con, "staff_count", STAFF)
    if ward:
        insert(con, "ward_month", WARD)
    if qc:
        insert(con, "qc_record", QC)
    if drg:
        insert(con, "drg_result", DRG)
    if drg and weights:
        insert(con, "econ_weight_set", WEIGHT_SETS)
        insert(con, "econ_weight", WEIGHTS)
        insert(con, "econ_benchmark", BENCHMARKS)
    if px_dict:
        con.executemany("insert into ind_px_dict (code, name, category, grade, minimally_invasive) values (?,?,?,?,?)",
                        PX_DICT)
