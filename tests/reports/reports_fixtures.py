"""A tiny warehouse with known figures (literal rows; expected numbers worked by hand in comments).

Hospital H1, departments A 内科 and B 外科; all records in June of 2021 and 2022 so that the annual report (2022 vs
2021) and the monthly report (2022-06 vs 2021-06) state the same figures.

2022-06 discharges (5): A los 7, 9, 8 (the 8-day one died), B los 6, 6; fee_total 10000 each
    出院 5人次; 平均住院日 36/5 = 7.20天; 死亡率 1/5 = 20.00%; 住院次均费用 10000.00元
2021-06 discharges (4): A los 8, 9; B los 6, 8; fee_total 8000 each
    出院 4人次; 平均住院日 31/4 = 7.75天 → 较同期下降0.55天; 出院同比增长 (5−4)/4 = 25.00%
    死亡率 0.00% → 较同期增长20.00个百分点; 住院次均费用 8000 → 同比增长25.00%
    dept B: 2022 出院2 (los 6, 6 → 6.00天), 2021 出院2 (los 6, 8 → 7.00天) → 同比持平; 较同期下降1.00天
Surgery (one procedure = one 台次, distinct times): 2022 B: level 4 and level 2 → 手术2台次, 三四级占比 1/2 = 50.00%;
    2021 B: one level 3 → 1台次 (100.00%) → 手术台次同比增长100.00%; 三四级占比较同期下降50.00个百分点
Outpatient: 2022-06: 7 general + 2 emergency + 1 checkup → 门急诊 9人次 (健康体检 excluded), 门诊7、急诊2;
    2021-06: 5 general + 1 emergency → 6人次 → 同比增长50.00%
Finance (hospital rows, dept '*'): 2022-06 医疗收入 100000, 药品 23000 (药占比 23.00%), 门急诊收入 30000 (30.00%)
    2021-06 医疗收入 80000, 药品 19200 (24.00%) → 药占比较同期下降1.00个百分点; 门急诊收入 24000 (30.00%) → 持平
No ward_month rows (病床使用率 must say the data is missing), no DRG results, no QC run unless a test adds them.
"""

from __future__ import annotations

from datetime import datetime

from yunying.warehouse.db import connect


def _discharge(con, mrn, dept, discharge, los, fee, died=False):
    admit = datetime.fromisoformat(discharge)
    con.execute("""insert into discharge (hospital_id, mrn, admission_no, discharge_dept_code, admit_dept_code,
                   admit_time, discharge_time, los_days, fee_total, discharge_disposition, sex, age_years)
                   values ('H1', ?, 1, ?, ?, ? - to_days(?), ?, ?, ?, ?, '1', 50)""",
                [mrn, dept, dept, admit, los, admit, los, fee, "5" if died else "1"])


def build_literal(path, *, outpatient=True, finance=True, procedures=True) -> None:
    con = connect(path)
    con.execute("insert into hospital (hospital_id, hospital_name, level, hospital_type) values "
                "('H1', '测试医院', 'tertiary', 'general')")
    con.execute("insert into department (hospital_id, dept_code, dept_name, dept_class) values "
                "('H1', 'A', '内科', 'clinical'), ('H1', 'B', '外科', 'clinical')")
    for i, (dept, los, died) in enumerate([("A", 7, False), ("A", 9, False), ("A", 8, True), ("B", 6, False),
                                           ("B", 6, False)]):
        _discharge(con, f"22{i}", dept, f"2022-06-{10 + i:02d} 10:00:00", los, 10000, died)
    for i, (dept, los) in enumerate([("A", 8), ("A", 9), ("B", 6), ("B", 8)]):
        _discharge(con, f"21{i}", dept, f"2021-06-{10 + i:02d} 10:00:00", los, 8000)
    if procedures:
        con.execute("""insert into discharge_procedure (hospital_id, mrn, admission_no, seq, px_code, px_name,
                       px_time, level) values
                       ('H1', '223', 1, 1, '47.0100', '腹腔镜下阑尾切除术', '2022-06-11 09:00:00', '4'),
                       ('H1', '224', 1, 1, '53.0000', '腹股沟疝修补术', '2022-06-12 09:00:00', '2'),
                       ('H1', '212', 1, 1, '51.2300', '腹腔镜下胆囊切除术', '2021-06-10 09:00:00', '3')""")
    if outpatient:
        rows = [("general", 2022)] * 7 + [("emergency", 2022)] * 2 + [("checkup", 2022)] + \
               [("general", 2021)] * 5 + [("emergency", 2021)]
        for i, (vt, y) in enumerate(rows):
            con.execute("""insert into outpatient_visit (hospital_id, visit_id, patient_id, visit_type, dept_code,
                           reg_time, fee_total) values ('H1', ?, ?, ?, 'A', ?, 100)""",
                        [f"V{i}", f"P{i}", vt, datetime(y, 6, 1 + i % 28, 9)])
    if finance:
        for y, med, drug, op in [(2022, 100000, 23000, 30000), (2021, 80000, 19200, 24000)]:
            for item, amt in [("income_medical", med), ("income_drug", drug), ("income_outpatient", op),
                              ("income_material", med * 0.15), ("income_treatment", med * 0.2),
                              ("income_surgery", med * 0.1)]:
                con.execute("insert into finance_month (hospital_id, month, dept_code, item_code, amount) "
                            "values ('H1', ?, '*', ?, ?)", [datetime(y, 6, 1).date(), item, amt])
    con.close()
