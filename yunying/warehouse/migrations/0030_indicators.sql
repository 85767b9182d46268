-- Indicator engine (issue 6): attribute dictionaries, targets, manually entered values, and the fixed semantic
-- views (marts) over which every indicator in yunying/indicators/catalogue/*.yaml is written.
-- Joins are done here once; catalogue entries only aggregate columns of one view.
-- The same view definitions are transpiled to Spark SQL by yunying/indicators/spark.py (keep them portable:
-- no macros, no DuckDB-only table functions).

-- 手术操作属性字典 (国临版 attribute: 手术/介入治疗/治疗性操作/诊断性操作; national grade; 微创 list), by assessment year
create table if not exists ind_px_dict (
  code VARCHAR not null,
  name VARCHAR,
  category VARCHAR,              -- surgery / interventional / therapeutic / diagnostic
  grade INTEGER,                 -- 手术级别 of the national list (1-4); null = not on the list
  minimally_invasive BOOLEAN,    -- on the 国考 微创手术目录
  valid_from_year INTEGER,       -- null = no lower bound
  valid_to_year INTEGER,         -- null = no upper bound
  source VARCHAR
);

-- diagnosis code lists used by indicators, matched by code prefix (手术并发症, 手术部位感染 …)
create table if not exists ind_code_list (
  list_name VARCHAR not null,
  code_prefix VARCHAR not null,
  name_zh VARCHAR,
  source VARCHAR
);

-- targets edited in the web app; merged over the shipped and user YAML target files (this table wins)
create table if not exists ind_target (
  indicator_id VARCHAR not null,
  hospital_id VARCHAR,           -- null = every hospital
  dept_code VARCHAR,             -- null = hospital level (and default for departments)
  op VARCHAR not null,           -- < <= > >= = between
  value DOUBLE not null,
  value_hi DOUBLE,               -- upper bound for between
  note_zh VARCHAR,
  source VARCHAR,
  updated_at TIMESTAMP default current_timestamp
);

-- values entered by hand or imported from national platforms (满意度, 电子病历分级 …): indicators of type external
create table if not exists ind_manual_value (
  indicator_id VARCHAR not null,
  hospital_id VARCHAR not null,
  dept_code VARCHAR,             -- null = hospital level
  period VARCHAR not null,       -- 2022 / 2022Q1 / 2022-01
  value DOUBLE not null,
  source VARCHAR,
  entered_at TIMESTAMP default current_timestamp
);

-- The default diagnosis code lists (手术并发症 surgical_complication, 手术部位感染 ssi) are data:
-- yunying/indicators/code_lists.csv, seeded by migration 0072_code_lists.py (this migration inserted them until
-- issue 14; warehouses migrated before keep those rows, which 0072 replaces by the file's identical ones).

create or replace view v_discharge as
with px as (
  select p.hospital_id, p.mrn, p.admission_no,
         count(*) filter (where coalesce(x.category, case when p.level is not null then 'surgery' end) = 'surgery')
           as surgery_rows,
         count(*) filter (where coalesce(x.category, case when p.level is not null then 'surgery' end) = 'surgery'
                            and p.incision_class = 'I') as incision_i_rows
  from discharge_procedure p
  join discharge d0 on d0.hospital_id = p.hospital_id and d0.mrn = p.mrn and d0.admission_no = p.admission_no
  left join ind_px_dict x on x.code = p.px_code
       and (x.valid_from_year is null or x.valid_from_year <= year(d0.discharge_time))
       and (x.valid_to_year is null or x.valid_to_year >= year(d0.discharge_time))
  group by p.hospital_id, p.mrn, p.admission_no
),
dx as (
  select g.hospital_id, g.mrn, g.admission_no,
         bool_or(c.list_name = 'surgical_complication' and coalesce(g.poa, '') <> '1') as has_complication_dx,
         bool_or(c.list_name = 'ssi') as has_ssi_dx
  from discharge_diagnosis g
  join ind_code_list c on starts_with(g.dx_code, c.code_prefix)
  where g.seq > 0 and g.dx_type = 'W'
  group by g.hospital_id, g.mrn, g.admission_no
),
nx as (
  select hospital_id, mrn, admission_no,
         lead(admit_time) over (partition by hospital_id, mrn order by admit_time, admission_no) as next_admit_time
  from discharge
)
select
  d.hospital_id, d.mrn, d.admission_no, h.region_code,
  cast(date_trunc('month', d.discharge_time) as date) as period_month,
  d.discharge_dept_code as dept_code,
  d.admit_dept_code,
  coalesce(d.doctor_group, d.attending_physician) as doctor_group,
  d.admit_time, d.discharge_time, d.los_days,
  d.payment_category, d.admission_route, d.discharge_disposition as disposition,
  d.discharge_disposition = '5' as is_death,
  d.discharge_disposition = '3' as is_referral_down,
  d.fee_total,
  d.fee_western_drug + d.fee_patent_tcm + d.fee_herbal as drug_fee,
  d.fee_western_drug + d.fee_patent_tcm as drug_fee_ex_herbal,
  d.fee_mat_exam + d.fee_mat_treat + d.fee_mat_surg as material_fee,
  d.fee_antibiotic as antibiotic_fee,
  d.fee_herbal as herbal_fee,
  case when d.fee_tcm is null and d.fee_tcm_diagnosis is null and d.fee_tcm_treatment is null
            and d.fee_tcm_other is null and d.fee_tcm_syndrome is null then null
       else coalesce(d.fee_tcm, 0) + coalesce(d.fee_tcm_diagnosis, 0) + coalesce(d.fee_tcm_treatment, 0)
            + coalesce(d.fee_tcm_other, 0) + coalesce(d.fee_tcm_syndrome, 0)
            + coalesce(d.fee_tcm_syndrome_consult, 0) end as tcm_service_fee,
  case when d.fee_tcm is null and d.fee_tcm_treatment is null and d.tcm_technique_used is null then null
       else coalesce(d.fee_tcm, 0) > 0 or coalesce(d.fee_tcm_treatment, 0) > 0
            or coalesce(d.tcm_technique_used, '') = '1' end as tcm_nondrug,
  d.treatment_category,
  case when d.treatment_category is null then null
       else d.treatment_category in ('1', '1.1', '1.2') end as is_tcm_main,
  coalesce(px.surgery_rows, 0) > 0 as has_surgery,
  coalesce(px.incision_i_rows, 0) > 0 as has_incision_i,
  coalesce(dx.has_complication_dx, false) as has_complication,
  coalesce(dx.has_ssi_dx, false) as has_ssi_dx,
  case d.day_surgery when '1' then true when '2' then false end as day_surgery,
  case d.pathway_entered when '1' then true when '2' then false end as pathway_entered,
  case d.pathway_variance when '1' then true when '2' then false end as pathway_variance,
  case d.pathway_exited when '1' then true when '2' then false end as pathway_exited,
  case d.unplanned_reoperation when '1' then true when '2' then false end as unplanned_reoperation,
  case d.hospital_infection when '1' then true when '2' then false end as hospital_infection,
  d.rescue_count, d.rescue_success_count,
  d.readmit_plan_31d,
  nx.next_admit_time is not null
    and nx.next_admit_time <= d.discharge_time + interval 31 day
    and coalesce(d.readmit_plan_31d, '') <> '2' as readmit_unplanned_31d
from discharge d
left join hospital h on h.hospital_id = d.hospital_id
left join px on px.hospital_id = d.hospital_id and px.mrn = d.mrn and px.admission_no = d.admission_no
left join dx on dx.hospital_id = d.hospital_id and dx.mrn = d.mrn and dx.admission_no = d.admission_no
left join nx on nx.hospital_id = d.hospital_id and nx.mrn = d.mrn and nx.admission_no = d.admission_no;

create or replace view v_procedure as
with base as (
  select p.hospital_id, p.mrn, p.admission_no, p.seq, p.px_code, p.px_name, p.px_time, p.surgeon,
         p.incision_class, p.healing, p.level as ssjb,
         d.discharge_time, d.discharge_dept_code, coalesce(d.doctor_group, d.attending_physician) as doctor_group,
         d.discharge_disposition, d.day_surgery as day_surgery_flag,
         x.code as dict_code, x.category as dict_category, x.grade as dict_grade,
         x.minimally_invasive as dict_mi
  from discharge_procedure p
  join discharge d on d.hospital_id = p.hospital_id and d.mrn = p.mrn and d.admission_no = p.admission_no
  left join ind_px_dict x on x.code = p.px_code
       and (x.valid_from_year is null or x.valid_from_year <= year(d.discharge_time))
       and (x.valid_to_year is null or x.valid_to_year >= year(d.discharge_time))
),
dx as (
  select g.hospital_id, g.mrn, g.admission_no, bool_or(c.list_name = 'ssi') as has_ssi_dx
  from discharge_diagnosis g
  join ind_code_list c on starts_with(g.dx_code, c.code_prefix)
  where g.seq > 0 and g.dx_type = 'W' and c.list_name = 'ssi'
  group by g.hospital_id, g.mrn, g.admission_no
),
c as (
  select b.*, coalesce(b.dict_category, case when b.ssjb is not null then 'surgery' end) as proc_class
  from base b
)
select
  c.hospital_id, c.mrn, c.admission_no, c.seq, h.region_code,
  cast(date_trunc('month', c.discharge_time) as date) as period_month,
  c.discharge_dept_code as dept_code, c.doctor_group,
  c.px_code, c.px_name, c.px_time, c.surgeon,
  c.proc_class,
  coalesce(c.proc_class = 'surgery', false) as is_surgery,
  case when c.dict_code is not null then c.dict_grade else try_cast(c.ssjb as integer) end as grade,
  c.dict_mi as is_minimally_invasive,
  c.incision_class,
  c.healing,
  c.incision_class = 'I' as is_incision_i,
  c.incision_class = 'I' and (coalesce(c.healing, '') = '丙' or coalesce(dx.has_ssi_dx, false)) as is_ssi,
  case when coalesce(c.proc_class = 'surgery', false)
       then c.hospital_id || '|' || c.mrn || '|' || cast(c.admission_no as varchar) || '|'
            || coalesce(cast(c.px_time as varchar), 'seq' || cast(c.seq as varchar)) end as surgery_session,
  case c.day_surgery_flag when '1' then true when '2' then false end as day_surgery,
  c.discharge_disposition = '5' as is_death
from c
left join hospital h on h.hospital_id = c.hospital_id
left join dx on dx.hospital_id = c.hospital_id and dx.mrn = c.mrn and dx.admission_no = c.admission_no;

create or replace view v_visit as
select
  v.hospital_id, v.visit_id, v.patient_id, h.region_code,
  cast(date_trunc('month', v.reg_time) as date) as period_month,
  v.dept_code, v.doctor_id as doctor_group,
  v.visit_type,
  v.visit_type = 'emergency' as is_emergency,
  v.visit_type = 'checkup' as is_checkup,
  v.visit_type = 'special' as is_special,
  v.visit_type not in ('emergency', 'checkup') as is_clinic,
  v.visit_type <> 'checkup' as is_visit,
  v.appointment = '1' as appointment,
  case when v.checkin_time is not null and v.call_time is not null
       then date_diff('second', v.checkin_time, v.call_time) / 60.0 end as wait_minutes,
  v.rx_count,
  v.rx_count > 0 as has_rx,
  v.has_antibacterial = '1' as has_antibacterial,
  v.has_essential_drug = '1' as has_essential_drug,
  v.has_tcm_rx = '1' as has_tcm_rx,
  v.has_herbal = '1' as has_herbal,
  v.tcm_nondrug = '1' as tcm_nondrug,
  v.referral_out = '1' as referral_out,
  v.fee_total,
  coalesce(v.fee_western_drug, 0) + coalesce(v.fee_patent_tcm, 0) + coalesce(v.fee_herbal, 0) as drug_fee,
  v.fund_paid
from outpatient_visit v
left join hospital h on h.hospital_id = v.hospital_id;

-- finance in wide form: one column per finance_item; scope 'hospital' rows are the hospital totals
-- (the '*' rows when present for that item and month, else the sum of the department rows); scope 'dept' rows
-- are the department rows
create or replace view v_finance as
with f as (
  select hospital_id, month, dept_code, item_code, sum(amount) as amount
  from finance_month group by hospital_id, month, dept_code, item_code
),
t as (
  select hospital_id, month, cast(null as varchar) as dept_code, 'hospital' as scope, item_code,
         coalesce(sum(amount) filter (where dept_code = '*'), sum(amount)) as amount
  from f group by hospital_id, month, item_code
  union all
  select hospital_id, month, dept_code, 'dept' as scope, item_code, amount
  from f where dept_code <> '*'
)
select
  t.hospital_id, h.region_code, cast(t.month as date) as period_month, t.dept_code, t.scope,
  sum(amount) filter (where item_code = 'income_total') as income_total,
  sum(amount) filter (where item_code = 'income_medical') as income_medical,
  sum(amount) filter (where item_code = 'income_outpatient') as income_outpatient,
  sum(amount) filter (where item_code = 'income_inpatient') as income_inpatient,
  sum(amount) filter (where item_code = 'income_fiscal') as income_fiscal,
  sum(amount) filter (where item_code = 'income_research') as income_research,
  sum(amount) filter (where item_code = 'income_other') as income_other,
  sum(amount) filter (where item_code = 'income_registration') as income_registration,
  sum(amount) filter (where item_code = 'income_bed') as income_bed,
  sum(amount) filter (where item_code = 'income_consult') as income_consult,
  sum(amount) filter (where item_code = 'income_exam') as income_exam,
  sum(amount) filter (where item_code = 'income_lab') as income_lab,
  sum(amount) filter (where item_code = 'income_treatment') as income_treatment,
  sum(amount) filter (where item_code = 'income_surgery') as income_surgery,
  sum(amount) filter (where item_code = 'income_nursing') as income_nursing,
  sum(amount) filter (where item_code = 'income_material') as income_material,
  sum(amount) filter (where item_code = 'income_drug') as income_drug,
  sum(amount) filter (where item_code = 'income_drug_western') as income_drug_western,
  sum(amount) filter (where item_code = 'income_drug_patent_tcm') as income_drug_patent_tcm,
  sum(amount) filter (where item_code = 'income_drug_herbal') as income_drug_herbal,
  sum(amount) filter (where item_code = 'income_pharmacy_service') as income_pharmacy_service,
  sum(amount) filter (where item_code = 'income_medical_other') as income_medical_other,
  sum(amount) filter (where item_code = 'income_insurance_fund') as income_insurance_fund,
  sum(amount) filter (where item_code = 'income_special_service') as income_special_service,
  sum(amount) filter (where item_code = 'expense_total') as expense_total,
  sum(amount) filter (where item_code = 'expense_medical') as expense_medical,
  sum(amount) filter (where item_code = 'expense_personnel') as expense_personnel,
  sum(amount) filter (where item_code = 'expense_material') as expense_material,
  sum(amount) filter (where item_code = 'expense_drug') as expense_drug,
  sum(amount) filter (where item_code = 'expense_depreciation') as expense_depreciation,
  sum(amount) filter (where item_code = 'expense_amortisation') as expense_amortisation,
  sum(amount) filter (where item_code = 'expense_risk_fund') as expense_risk_fund,
  sum(amount) filter (where item_code = 'expense_energy') as expense_energy,
  sum(amount) filter (where item_code = 'expense_other') as expense_other,
  sum(amount) filter (where item_code = 'asset_total') as asset_total,
  sum(amount) filter (where item_code = 'liability_total') as liability_total
from t
left join hospital h on h.hospital_id = t.hospital_id
group by t.hospital_id, h.region_code, t.month, t.dept_code, t.scope;

-- staff: headcount per month, department, category and title, with the department's specialty
-- (诊疗科目代码 26 麻醉科, 07 儿科, 28 重症医学科, 31 病理科, 50-52 中医; else by department name)
create or replace view v_staff as
select
  s.hospital_id, h.region_code, cast(s.month as date) as period_month, s.dept_code,
  s.staff_category, s.title_level, s.headcount,
  extract(day from last_day(s.month)) as days_in_month,
  s.staff_category in ('physician', 'assistant_physician') as is_doctor,
  s.staff_category = 'nurse' as is_nurse,
  s.staff_category = 'pharmacist' as is_pharmacist,
  s.staff_category in ('physician', 'assistant_physician', 'nurse', 'pharmacist', 'technician', 'other_health')
    as is_health_tech,
  s.title_level in ('senior', 'vice_senior') as is_senior_title,
  case
    when dp.national_dept_code like '26%' or dp.dept_name like '%麻醉%' then 'anaesthesia'
    when dp.national_dept_code like '07%' or dp.dept_name like '%儿科%' or dp.dept_name like '%新生儿%'
      then 'paediatrics'
    when dp.national_dept_code like '28%' or dp.dept_name like '%重症%' then 'icu'
    when dp.national_dept_code like '31%' or dp.dept_name like '%病理%' then 'pathology'
    when dp.national_dept_code like '50%' or dp.national_dept_code like '51%' or dp.national_dept_code like '52%'
         or dp.is_tcm = '1' then 'tcm'
  end as dept_specialty
from staff_count s
left join hospital h on h.hospital_id = s.hospital_id
left join department dp on dp.hospital_id = s.hospital_id and dp.dept_code = s.dept_code;

create or replace view v_ward as
select
  w.hospital_id, h.region_code, cast(w.month as date) as period_month, w.dept_code,
  w.open_beds, w.open_bed_days, w.occupied_bed_days,
  extract(day from last_day(w.month)) as days_in_month
from ward_month w
left join hospital h on h.hospital_id = w.hospital_id;

create or replace view v_drg as
select
  r.hospital_id, r.mrn, r.admission_no, h.region_code,
  cast(date_trunc('month', d.discharge_time) as date) as period_month,
  d.discharge_dept_code as dept_code,
  coalesce(d.doctor_group, d.attending_physician) as doctor_group,
  r.scheme, r.status, r.mdc, r.adrg, r.drg,
  r.status = 'SUCCESS' and r.drg <> '0000' and r.drg not like '%QY%' as is_grouped,
  d.los_days, d.fee_total,
  d.discharge_disposition = '5' as is_death
from drg_result r
join discharge d on d.hospital_id = r.hospital_id and d.mrn = r.mrn and d.admission_no = r.admission_no
left join hospital h on h.hospital_id = r.hospital_id;
