-- in_domain: a non-empty value outside the value domain (codes of yunying/model/domains.yaml or `values:`).
select {select} from {source} s
where ({applies_when}) and {f} is not null and trim(cast({f} as varchar)) <> ''
  and cast({f} as varchar) not in ({values})
