-- expr: a boolean SQL predicate over canonical columns; true = defect.
select {select} from {source} s
where ({applies_when}) and ({when})
