-- DRG grouping runs (issue 14, traceability): every `yunying drg run` / reconcile regrouping records one run —
-- which scheme, the scheme pack's content hash it grouped with, when and how many cases — and each stored result
-- names its run. `drg explain --key`, the case page and `drg metrics` read the stored result with its run and say
-- so when the registered scheme's hash has changed since.
create table if not exists drg_run (
  run_id VARCHAR primary key,
  scheme VARCHAR not null,
  scheme_hash VARCHAR not null,
  started_at TIMESTAMP not null default current_timestamp,
  cases INTEGER,
  by_status_json VARCHAR
);

alter table drg_result add column run_id VARCHAR;

-- results grouped before runs were recorded: one run per (scheme, scheme hash), named after them
insert into drg_run (run_id, scheme, scheme_hash, started_at, cases)
select 'drg-legacy-' || scheme || '-' || substr(scheme_hash, 1, 8), scheme, scheme_hash, min(grouped_at), count(*)
from drg_result group by scheme, scheme_hash;

update drg_result set run_id = 'drg-legacy-' || scheme || '-' || substr(scheme_hash, 1, 8) where run_id is null;
