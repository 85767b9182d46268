-- in_domain: a non-empty value outside the value domain (codes of yunying/model/domains.yaml or `values:`).
select {select} from {source} s
where ({applies_when}) and {nonblank} and cast({f} as varchar) not in ({values})
