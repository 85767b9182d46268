-- regex: a non-empty value that does not match the pattern (RE2, whole value).
select {select} from {source} s
where ({applies_when}) and {nonblank} and not regexp_full_match(cast({f} as varchar), {pattern})
