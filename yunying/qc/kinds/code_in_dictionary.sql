-- code_in_dictionary: a code that is not in the loaded dictionary (qc_dictionary, kind = dx / px / tcm).
-- in_dictionary: the engine's lookup column (each distinct code looked up once), or an EXISTS sub-query.
select {select} from {source} s
where ({applies_when}) and {f} is not null and trim({f}) <> '' and not {in_dictionary}
