-- ward_midnight (L018): in a ward (入院病房, else 入院科别) with at least {min_records} admissions, more than
-- {share} of the admission times are exactly 00:00 — time not captured; the 00:00 records are flagged.
-- (an aggregate joined back, not a window: one hash aggregation over the records)
select {select} from (
  select s.*, w._n, w._n0 from {source} s
  join (select hospital_id, coalesce(admit_ward, admit_dept_code) as _ward, count(*) as _n,
               count(*) filter (where admit_time = date_trunc('day', admit_time)) as _n0
        from {source} group by all) w
    on w.hospital_id = s.hospital_id and w._ward = coalesce(s.admit_ward, s.admit_dept_code)
) s
where ({applies_when}) and admit_time = date_trunc('day', admit_time) and _n >= {min_records} and _n0 > {share} * _n
