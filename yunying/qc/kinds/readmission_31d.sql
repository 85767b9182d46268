-- readmission_31d (X002): the same patient (病案号) is admitted again within 31 days of a discharge whose
-- 31天内再住院计划 was 1 (无) — an unplanned-readmission candidate; the later stay is flagged.
-- source_same_mrn: only the stays of patients with two or more stays (the engine provides it).
select {select} from (
  select *, lag(discharge_time) over w as _prev_out, lag(readmit_plan_31d) over w as _prev_plan
  from {source_same_mrn} window w as (partition by hospital_id, mrn order by admit_time)
) s
where ({applies_when}) and _prev_out is not null and _prev_plan = '1'
  and date_diff('day', cast(_prev_out as date), cast(admit_time as date)) between 0 and 31
