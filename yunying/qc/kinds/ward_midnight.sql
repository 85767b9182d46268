-- ward_midnight (L018): in a ward (入院病房, else 入院科别) with at least {min_records} admissions, more than
-- {share} of the admission times are exactly 00:00 — time not captured; the 00:00 records are flagged.
select {select} from (
  select *, count(*) over w as _n, count(*) filter (where strftime(admit_time, '%H:%M') = '00:00') over w as _n0
  from {source} window w as (partition by hospital_id, coalesce(admit_ward, admit_dept_code))
) s
where ({applies_when}) and strftime(admit_time, '%H:%M') = '00:00' and _n >= {min_records} and _n0 > {share} * _n
