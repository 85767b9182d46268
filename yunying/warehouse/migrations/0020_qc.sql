-- Record quality control 病案首页质控 (issue 5): runs, findings, per-record scores, rule status, code dictionaries,
-- and the aggregate views used by the indicator engine, the web app and DRG explanations.

-- one row per `yunying qc run` (or pre-submission check); results of the latest run replace earlier ones
create table if not exists qc_run (
  run_id VARCHAR primary key,
  started_at TIMESTAMP not null,
  finished_at TIMESTAMP,
  catalogue_hash VARCHAR not null,    -- sha256 of the shipped catalogue + scoring + code lists + overrides
  overrides VARCHAR,                  -- override file path, if any
  parameters VARCHAR,                 -- JSON: hospital filter, dictionaries, grade bands …
  n_records BIGINT,
  n_findings BIGINT,
  status VARCHAR                      -- ok / error
);

-- one row per defect found (rule × record × field × child row)
create table if not exists qc_finding (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  rule_id VARCHAR not null,
  severity VARCHAR not null,          -- E / W / I
  field VARCHAR,                      -- canonical column (national code in the CSV outputs)
  seq INTEGER,                        -- diagnosis / procedure row for child-table rules
  value VARCHAR,                      -- offending value as stored
  expected VARCHAR,
  message_zh VARCHAR,
  message_en VARCHAR,
  points DECIMAL(6,2),                -- nominal deduction of the rule's score item(s) before caps
  item VARCHAR,                       -- score item(s) of scoring.yaml, '|'-separated; null = no deduction
  tag VARCHAR,                        -- pdx / pdx_code (principal diagnosis) / ppx (principal procedure) / null
  rule_key VARCHAR                    -- catalogue entry (spec id, or id/variant)
);

-- one row per checked record: score on the 2016 100-point scheme (section caps), grade, defect counts
create table if not exists qc_record (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  discharge_month DATE,
  discharge_dept_code VARCHAR,
  attending_physician VARCHAR,
  resident_physician VARCHAR,
  score DECIMAL(6,2) not null,
  grade VARCHAR not null,             -- 甲 / 乙 / 丙 (bands from scoring.yaml)
  passed BOOLEAN not null,            -- 合格 (grade at or above the pass grade)
  excellent BOOLEAN not null,         -- 优秀 (indicator 8; threshold from scoring.yaml)
  complete BOOLEAN not null,          -- no completeness (C) defect: indicator 1a 首页填报完整
  n_error INTEGER not null,
  n_warning INTEGER not null,
  n_info INTEGER not null,
  pdx_code_checked BOOLEAN,           -- principal-diagnosis code could be checked (dictionary loaded)
  pdx_code_ok BOOLEAN,                -- principal-diagnosis code valid (null when not determinable)
  pdx_defect BOOLEAN not null,        -- any principal-diagnosis choice/code defect
  ppx_defect BOOLEAN not null         -- any principal-procedure defect
);                                    -- one row per record by construction (no index: 1 M-row runs stay fast)

-- status of every rule per hospital in a run: passed / failed / not_applicable / disabled / error (with reason)
create table if not exists qc_rule_status (
  run_id VARCHAR not null,
  hospital_id VARCHAR,
  rule_id VARCHAR not null,
  status VARCHAR not null,
  reason VARCHAR,
  n_failed BIGINT,
  sql_hash VARCHAR
);

-- code dictionaries for validity rules (V003/V005/T003): loaded by `yunying qc dict import`
create table if not exists qc_dictionary (
  kind VARCHAR not null,              -- dx / px / tcm
  code VARCHAR not null,
  name VARCHAR,
  category VARCHAR,                   -- px: surgery / interventional / therapeutic / diagnostic; tcm: disease / syndrome
  level VARCHAR,                      -- px: 手术级别
  sex VARCHAR,                        -- dx: F / M when sex-specific
  source VARCHAR,
  loaded_at TIMESTAMP not null default current_timestamp,
  primary key (kind, code)
);

-- 科室 × 月: 合格率, 平均分, 主要诊断编码正确率 (where determinable)
create or replace view qc_dept_month as
select hospital_id, discharge_dept_code as dept_code, discharge_month as month,
       count(*) as n_records,
       count(*) filter (where passed) as n_passed,
       round(100.0 * count(*) filter (where passed) / count(*), 2) as pass_rate,
       round(avg(score), 2) as avg_score,
       count(*) filter (where excellent) as n_excellent,
       count(*) filter (where pdx_code_checked) as n_pdx_checked,
       count(*) filter (where pdx_code_ok) as n_pdx_code_ok,
       round(100.0 * count(*) filter (where pdx_code_ok) / nullif(count(*) filter (where pdx_code_checked), 0), 2)
         as pdx_code_accuracy,
       count(*) filter (where n_error > 0) as n_with_error,
       count(*) filter (where pdx_defect) as n_pdx_defect,
       count(*) filter (where complete) as n_complete
from qc_record group by all;

-- 医生 × 月 (主治医师 and 住院医师 each count the record)
create or replace view qc_doctor_month as
select hospital_id, role, doctor, discharge_month as month,
       count(*) as n_records,
       count(*) filter (where passed) as n_passed,
       round(100.0 * count(*) filter (where passed) / count(*), 2) as pass_rate,
       round(avg(score), 2) as avg_score,
       count(*) filter (where pdx_code_checked) as n_pdx_checked,
       count(*) filter (where pdx_code_ok) as n_pdx_code_ok,
       round(100.0 * count(*) filter (where pdx_code_ok) / nullif(count(*) filter (where pdx_code_checked), 0), 2)
         as pdx_code_accuracy,
       count(*) filter (where n_error > 0) as n_with_error
from (select *, 'attending' as role, attending_physician as doctor from qc_record
      union all
      select *, 'resident' as role, resident_physician as doctor from qc_record)
where doctor is not null
group by all;

-- top defects per department and month (rank 1 = most frequent rule)
create or replace view qc_top_defects as
select *, row_number() over (partition by hospital_id, dept_code, month order by n_records desc, rule_id) as rank
from (select r.hospital_id, r.discharge_dept_code as dept_code, r.discharge_month as month, f.rule_id,
             any_value(f.severity) as severity, count(distinct (f.mrn, f.admission_no)) as n_records,
             count(*) as n_findings
      from qc_finding f join qc_record r using (hospital_id, mrn, admission_no)
      group by all);

-- DRG results whose record has a principal-diagnosis or principal-procedure defect are 'at risk'
create or replace view qc_drg_risk as
select d.hospital_id, d.mrn, d.admission_no, d.scheme, d.status, d.mdc, d.adrg, d.drg,
       coalesce(r.pdx_defect, false) or coalesce(r.ppx_defect, false) as at_risk,
       f.risk_rules, r.score as qc_score, r.grade as qc_grade
from drg_result d
left join qc_record r using (hospital_id, mrn, admission_no)
left join (select hospital_id, mrn, admission_no, string_agg(distinct rule_id, ',' order by rule_id) as risk_rules
           from qc_finding where tag in ('pdx', 'pdx_code', 'ppx') group by all) f using (hospital_id, mrn, admission_no);
