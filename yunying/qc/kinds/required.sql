-- required: the field is empty — {blank} is `f is null` for typed columns, `f is null or f = ''` for text (the importer
-- stores blank text as NULL).
-- One row per violating record (or child row).
select {select} from {source} s
where ({applies_when}) and ({blank})
