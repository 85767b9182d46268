-- Procedure attribute dictionary: one code, one attribute row (issue 14).
-- Loading two overlapping dictionaries used to join a procedure to every matching ind_px_dict row, duplicating it
-- (G3-09 38/2962 instead of 19/1481). Now the views read v_px_dict_year: per discharge year and code one row — a row
-- of an explicit version (loaded with valid years) before an unversioned one, then the latest load (loaded_at, set
-- by `yunying indicators load-px-dict`; rows loaded before this migration are ordered by insertion). v_procedure / v_discharge also say whether a procedure was classified by
-- 手术级别 because no dictionary row matched (px_class_by_grade / surgery_by_grade) and whether any dictionary is
-- loaded for the year (px_dict_loaded): figures over those columns carry the fallback notes of
-- yunying/indicators/readings.yaml (docs/indicators.md §Readings and fallbacks).

alter table ind_px_dict add column loaded_at TIMESTAMP;
update ind_px_dict set loaded_at = timestamp '2000-01-01 00:00:00' + to_microseconds(cast(rowid as bigint));

-- per discharge year and code, one attribute row: explicit version first, then the latest load
create or replace view v_px_dict_year as
with y as (
  select distinct cast(year(discharge_time) as integer) as year from discharge where discharge_time is not null
),
r as (
  select y.year, x.code, x.name, x.category, x.grade, x.minimally_invasive, x.source, x.loaded_at,
         row_number() over (partition by y.year, x.code
                            order by case when x.valid_from_year is not null or x.valid_to_year is not null
                                          then 0 else 1 end,
                                     x.loaded_at desc nulls last, x.source desc nulls last) as rn
  from y
  join ind_px_dict x on (x.valid_from_year is null or x.valid_from_year <= y.year)
                    and (x.valid_to_year is null or x.valid_to_year >= y.year)
)
select year, code, name, category, grade, minimally_invasive, source, loaded_at from r where rn = 1;

-- discharge years for which a procedure dictionary is loaded
create or replace view v_px_dict_loaded as
select year, count(*) > 0 as loaded from v_px_dict_year group by year;

create or replace view v_discharge as
with px as (
  select p.hospital_id, p.mrn, p.admission_no,
         count(*) filter (where coalesce(x.category, case when p.level is not null then 'surgery' end) = 'surgery')
           as surgery_rows,
         count(*) filter (where coalesce(x.category, case when p.level is not null then 'surgery' end) = 'surgery'
                            and p.incision_class = 'I') as incision_i_rows,
         count(*) filter (where x.code is null and p.level is not null) as by_grade_rows
  from discharge_procedure p
  join discharge d0 on d0.hospital_id = p.hospital_id and d0.mrn = p.mrn and d0.admission_no = p.admission_no
  left join v_px_dict_year x on x.code = p.px_code and x.year = year(d0.discharge_time)
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
    and coalesce(d.readmit_plan_31d, '') <> '2' as readmit_unplanned_31d,
  coalesce(px.by_grade_rows, 0) > 0 as surgery_by_grade,
  coalesce(dl.loaded, false) as px_dict_loaded
from discharge d
left join hospital h on h.hospital_id = d.hospital_id
left join px on px.hospital_id = d.hospital_id and px.mrn = d.mrn and px.admission_no = d.admission_no
left join dx on dx.hospital_id = d.hospital_id and dx.mrn = d.mrn and dx.admission_no = d.admission_no
left join v_px_dict_loaded dl on dl.year = year(d.discharge_time)
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
  left join v_px_dict_year x on x.code = p.px_code and x.year = year(d.discharge_time)
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
  c.discharge_disposition = '5' as is_death,
  c.dict_code is null and c.ssjb is not null as px_class_by_grade,
  coalesce(dl.loaded, false) as px_dict_loaded
from c
left join hospital h on h.hospital_id = c.hospital_id
left join dx on dx.hospital_id = c.hospital_id and dx.mrn = c.mrn and dx.admission_no = c.admission_no
left join v_px_dict_loaded dl on dl.year = year(c.discharge_time);
