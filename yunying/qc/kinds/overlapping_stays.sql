-- overlapping_stays (L015): two stays of the same person (same 身份证号, or same 病案号) overlap in time; the later
-- admission is flagged, `expected` names the other stay.
select {select} from (
  select a.*, b.mrn || '/' || b.admission_no as _other
  from {source} a join {source} b
    on a.hospital_id = b.hospital_id
   and (a.mrn = b.mrn or (a.id_number = b.id_number and regexp_full_match(a.id_number, '\d{17}[\dXx]')))
   and (a.mrn <> b.mrn or a.admission_no <> b.admission_no)
   and a.admit_time >= b.admit_time and a.admit_time < b.discharge_time
   and (a.admit_time > b.admit_time or a.mrn || '/' || a.admission_no > b.mrn || '/' || b.admission_no)
) s
where ({applies_when})
