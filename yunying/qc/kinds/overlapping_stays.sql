-- overlapping_stays (L015): two stays of the same person (same 病案号, or same valid 18-character 身份证号) overlap
-- in time; the later admission is flagged, `expected` names the other stay. Two equi-joins (hash joins), not an OR,
-- over the stays of persons with two or more stays (source_same_mrn / source_same_id, provided by the engine).
select {select} from (
  select a.*, b.mrn || '/' || b.admission_no as _other
  from {source_same_mrn} a join {source_same_mrn} b
    on a.hospital_id = b.hospital_id and a.mrn = b.mrn and a.admission_no <> b.admission_no
  where a.admit_time >= b.admit_time and a.admit_time < b.discharge_time
    and (a.admit_time > b.admit_time or a.admission_no > b.admission_no)
  union all
  select a.*, b.mrn || '/' || b.admission_no as _other
  from (select * from {source_same_id} where regexp_full_match(id_number, '\d{17}[\dXx]')) a
  join (select * from {source_same_id} where regexp_full_match(id_number, '\d{17}[\dXx]')) b
    on a.hospital_id = b.hospital_id and a.id_number = b.id_number and a.mrn <> b.mrn
  where a.admit_time >= b.admit_time and a.admit_time < b.discharge_time
    and (a.admit_time > b.admit_time or a.mrn > b.mrn)
) s
where ({applies_when})
