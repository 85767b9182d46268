-- required: the field is empty (NULL or blank). One row per violating record (or child row).
select {select} from {source} s
where ({applies_when}) and ({f} is null or trim(cast({f} as varchar)) = '')
