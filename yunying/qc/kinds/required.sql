-- required: the field is empty — {blank} is `f is null` for typed columns, `f is null or trim(f) = ''` for text.
-- One row per violating record (or child row).
select {select} from {source} s
where ({applies_when}) and ({blank})
