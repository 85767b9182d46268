-- DRG grouping (issue 3): registered scheme packs, grouping results per case and scheme, payer-returned groups.

-- one row per registered scheme pack; identity = name + sha256 of the canonical content
create table if not exists drg_scheme (
  name VARCHAR primary key,
  content_hash VARCHAR not null,
  base VARCHAR,                 -- identity of the base pack when loaded as base + overrides
  source VARCHAR,               -- directory it was imported from
  meta_json VARCHAR,
  imported_at TIMESTAMP not null default current_timestamp
);

-- the pack's tables, one CSV text per file (scheme tables and optional extra tables such as weights)
create table if not exists drg_scheme_file (
  scheme VARCHAR not null,
  file_name VARCHAR not null,
  kind VARCHAR not null,        -- 'table' (scheme table) or 'extra'
  content VARCHAR not null,
  primary key (scheme, file_name)
);

-- grouping result per case and scheme; re-running a scheme replaces its rows
create table if not exists drg_result (
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  scheme VARCHAR not null,
  scheme_hash VARCHAR not null,
  status VARCHAR not null,      -- SUCCESS / FAIL / CHECK_FAILED / ZD_NOT_MAPPING / SS_NOT_MAPPING / QY
  mdc VARCHAR not null,         -- '0000' when not grouped
  adrg VARCHAR not null,        -- '00' when not grouped
  drg VARCHAR not null,         -- '0000' when not grouped
  grouped_at TIMESTAMP not null default current_timestamp,
  primary key (hospital_id, mrn, admission_no, scheme)
);

-- groups returned by the medical-insurance bureau (医保局) for settled cases
create table if not exists drg_payer_result (
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  payer_drg VARCHAR not null,
  payer_file VARCHAR,
  imported_at TIMESTAMP not null default current_timestamp,
  primary key (hospital_id, mrn, admission_no)
);
