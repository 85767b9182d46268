-- Record QC results as an indicator view (issue 14): v_qc, one row per checked 首页 of the latest QC run, keyed like
-- the other semantic views (period / department / doctor group / region). The catalogue entries QC-GRADE-A (病案首页
-- 甲级率) and QC-SCORE (平均得分) read only this view; reports take them from the indicator engine (docs/reports.md).
create or replace view v_qc as
select
  q.hospital_id, q.mrn, q.admission_no, h.region_code,
  q.discharge_month as period_month,
  q.discharge_dept_code as dept_code,
  coalesce(d.doctor_group, q.attending_physician) as doctor_group,
  q.score, q.grade, q.passed, q.excellent, q.complete,
  q.n_error, q.n_warning,
  q.pdx_code_checked, q.pdx_code_ok,  -- 主要诊断编码正确率 (scoring.yaml coding_accuracy; NULL: not determinable)
  q.pdx_defect, q.ppx_defect
from qc_record q
left join discharge d on d.hospital_id = q.hospital_id and d.mrn = q.mrn and d.admission_no = q.admission_no
left join hospital h on h.hospital_id = q.hospital_id;

-- top defects per department and month, by the one definition of yunying.qc.report.top_defects: a defect is a
-- catalogue entry (rule key) with findings of severity E or W (scoring.yaml defect_severities), ranked by records
-- affected, ties by key (rank 1 = most frequent)
create or replace view qc_top_defects as
select *, row_number() over (partition by hospital_id, dept_code, month order by n_records desc, rule_key) as rank
from (select r.hospital_id, r.discharge_dept_code as dept_code, r.discharge_month as month,
             coalesce(f.rule_key, f.rule_id) as rule_key, any_value(f.rule_id) as rule_id,
             any_value(f.severity) as severity, count(distinct (f.mrn, f.admission_no)) as n_records,
             count(*) as n_findings
      from qc_finding f join qc_record r using (hospital_id, mrn, admission_no)
      where f.severity in ('E', 'W')
      group by all);

-- data fix: 主要诊断编码正确率 of stored QC results, by the shipped definition (scoring.yaml coding_accuracy: rule
-- V003, docs/qc.md) — a principal diagnosis code without a V003 finding on it; a name differing from the dictionary
-- (V003/name) no longer makes it a coding error. A new yunying qc run recomputes everything.
update qc_record set pdx_code_ok =
    exists (select 1 from discharge_diagnosis x where x.hospital_id = qc_record.hospital_id and x.mrn = qc_record.mrn
            and x.admission_no = qc_record.admission_no and x.seq = 0 and x.dx_type = 'W' and x.dx_code is not null
            and trim(x.dx_code) <> '')
    and not exists (select 1 from qc_finding f where f.run_id = qc_record.run_id and f.hospital_id = qc_record.hospital_id
                    and f.mrn = qc_record.mrn and f.admission_no = qc_record.admission_no and f.rule_key = 'V003'
                    and f.seq = 0)
where pdx_code_checked;
