-- admission_order (L016): for one 病案号, 住院次数 must increase with 入院时间.
select {select} from (
  select *, lag(admission_no) over (partition by hospital_id, mrn order by admit_time, admission_no) as _prev_no
  from {source}
) s
where ({applies_when}) and _prev_no is not null and admission_no <= _prev_no
