-- code_in_dictionary: a code that is not in the loaded dictionary (qc_dictionary, kind = dx / px / tcm).
select {select} from {source} s
where ({applies_when}) and {f} is not null and trim({f}) <> ''
  and not exists (select 1 from qc_dictionary d where d.kind = {dictionary} and d.code = s.{f})
