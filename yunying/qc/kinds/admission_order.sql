-- admission_order (L016): for one 病案号, 住院次数 must increase with 入院时间.
-- source_same_mrn: only the stays of patients with two or more stays (the engine provides it).
select {select} from (
  select *, lag(admission_no) over (partition by hospital_id, mrn order by admit_time, admission_no) as _prev_no
  from {source_same_mrn}
) s
where ({applies_when}) and _prev_no is not null and admission_no <= _prev_no
