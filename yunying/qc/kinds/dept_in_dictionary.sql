-- dept_in_dictionary: a department code that is not in the hospital's department table (科室字典).
select {select} from {source} s
where ({applies_when}) and {f} is not null and trim({f}) <> ''
  and not exists (select 1 from department d where d.hospital_id = s.hospital_id and d.dept_code = s.{f})
