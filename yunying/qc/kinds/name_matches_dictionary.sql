-- name_matches_dictionary: the code is in the dictionary but the written name differs from the dictionary name.
select {select} from {source} s
join (select code as _dict_code, name as _dict_name from qc_dictionary where kind = {dictionary}) d
  on d._dict_code = s.{code_field}
where ({applies_when}) and d._dict_name is not null and s.{f} is distinct from d._dict_name
