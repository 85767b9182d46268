"""A hand-made second hospital H777 added to a copy of the demo warehouse, small enough to work every expected
answer out by hand (issue 16: 绩效指标 pivot, 病例清单 filters and export).

Departments (code → name; code order ≠ name order, Python sorts the names by code point 儿 < 普 < 眼):
    D1 眼科, D2 儿科, D3 普通外科
Discharges (admission_no 1 each; scheme 'demo'; QC run 'hand'):

    mrn  dept discharge time        LOS  fee        DRG   status   grade  name   sex
    T01  D1   2022-01-10 10:00:00   2    1000.50    ZZ11  SUCCESS  甲     张三丰  1
    T02  D1   2022-02-20 09:00:00   4    23456.78   ZZ22  SUCCESS  乙     李四    2
    T03  D2   2022-02-28 23:59:59   5    800.00     ZZ11  SUCCESS  甲     王五    2
    T04  D2   2022-03-01 00:00:00   6    1200.00    ZZ22  SUCCESS  乙     赵六    1
    T05  D2   2022-06-15 08:00:00   7    5000.00    ZZ11  SUCCESS  丙     钱七    1
    T06  D3   2022-12-31 12:00:00   10   99999.99   ''    FAIL     (none) =1+2   2

Hand-worked engine values for 2022, department level (operating family):
    OP-02 出院人次   D1 2, D2 3, D3 1
    OP-08 平均住院日 D1 (2+4)/2 = 3.00, D2 (5+6+7)/3 = 6.00, D3 10/1 = 10.00
    target OP-08 < 7.5 for every department of H777 (ind_target, dept_code '*'): D1 达标, D2 达标, D3 未达标;
    no other department target → every other computed cell is 未设目标
"""

from __future__ import annotations

import datetime as dt

import duckdb

HOSPITAL = "H777"
DEPTS = {"D1": "眼科", "D2": "儿科", "D3": "普通外科"}
CASES = [  # mrn, dept, discharge time, los, fee, drg, status, grade, name, sex
    ("T01", "D1", dt.datetime(2022, 1, 10, 10), 2, 1000.50, "ZZ11", "SUCCESS", "甲", "张三丰", "1"),
    ("T02", "D1", dt.datetime(2022, 2, 20, 9), 4, 23456.78, "ZZ22", "SUCCESS", "乙", "李四", "2"),
    ("T03", "D2", dt.datetime(2022, 2, 28, 23, 59, 59), 5, 800.00, "ZZ11", "SUCCESS", "甲", "王五", "2"),
    ("T04", "D2", dt.datetime(2022, 3, 1), 6, 1200.00, "ZZ22", "SUCCESS", "乙", "赵六", "1"),
    ("T05", "D2", dt.datetime(2022, 6, 15, 8), 7, 5000.00, "ZZ11", "SUCCESS", "丙", "钱七", "1"),
    ("T06", "D3", dt.datetime(2022, 12, 31, 12), 10, 99999.99, "", "FAIL", None, "=1+2", "2"),
]


def add_h777(db) -> None:
    con = duckdb.connect(str(db))
    try:
        scheme, h = con.execute("select scheme, scheme_hash from drg_result limit 1").fetchall()[0]
        con.execute("insert into hospital (hospital_id, hospital_name, level, hospital_type) values "
                    "(?, '手工测试医院', 'tertiary', 'general')", [HOSPITAL])
        for code, name in DEPTS.items():
            con.execute("insert into department (hospital_id, dept_code, dept_name, dept_class) values "
                        "(?, ?, ?, 'clinical')", [HOSPITAL, code, name])
        for mrn, dept, out, los, fee, drg, status, grade, name, sex in CASES:
            con.execute("insert into discharge (hospital_id, mrn, admission_no, patient_name, sex, age_years, "
                        "admit_time, discharge_time, admit_dept_code, discharge_dept_code, los_days, fee_total) "
                        "values (?, ?, 1, ?, ?, 40, ?, ?, ?, ?, ?, ?)",
                        [HOSPITAL, mrn, name, sex, out - dt.timedelta(days=los), out, dept, dept, los, fee])
            con.execute("insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, "
                        "adrg, drg, grouped_at) values (?, ?, 1, ?, ?, ?, '', '', ?, now())",
                        [HOSPITAL, mrn, scheme, h, status, drg])
            if grade:
                con.execute("insert into qc_record (run_id, hospital_id, mrn, admission_no, discharge_month, "
                            "discharge_dept_code, score, grade, passed, excellent, complete, n_error, n_warning, "
                            "n_info, pdx_defect, ppx_defect) values ('hand', ?, ?, 1, ?, ?, 90, ?, true, false, "
                            "true, 0, 0, 0, false, false)", [HOSPITAL, mrn, out.date().replace(day=1), dept, grade])
        con.execute("insert into ind_target (indicator_id, hospital_id, dept_code, op, value) values "
                    "('OP-08', ?, '*', '<', 7.5)", [HOSPITAL])
        con.execute("checkpoint")
    finally:
        con.close()
