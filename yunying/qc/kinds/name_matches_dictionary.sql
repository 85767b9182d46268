-- name_matches_dictionary: the code is in the dictionary but the written name differs from the dictionary name.
-- dict_name: the engine's lookup column (each distinct code looked up once; dict_join empty), or the name from
-- a join with the dictionary.
select {select} from {source} s{dict_join}
where ({applies_when}) and {dict_name} is not null and s.{f} is distinct from {dict_name}
