-- expr_equals: the field differs from an expression computed from other columns (both known).
select {select} from {source} s
where ({applies_when}) and {f} is not null and ({expected}) is not null and {f} is distinct from ({expected})
