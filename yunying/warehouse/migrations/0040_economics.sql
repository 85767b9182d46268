-- DRG / DIP economics (issue 4): weights, benchmarks, payment runs, per-case expected payment, DIP catalogues.
-- Views (drg_metric_case, drg_metrics, drg_group_risk …) are (re)created by yunying.economics.views.create_views.

-- one row per weight set (imported or calibrated), keyed by scheme and year
create table if not exists econ_weight_set (
  scheme VARCHAR not null,
  year INTEGER not null,
  source VARCHAR not null,          -- 'import:<file>' or 'calibrate'
  method_json VARCHAR,              -- calibration parameters (trim method, exclusions …) or import details
  overall_mean DOUBLE,              -- C̄: mean charge per case of the (trimmed) calibration population, if known
  content_hash VARCHAR not null,    -- sha256 of the weight rows (reproducibility)
  created_at TIMESTAMP not null default current_timestamp,
  primary key (scheme, year)
);

-- relative weight (RW) per DRG, scheme and year, with optional reference figures and group quality statistics
create table if not exists econ_weight (
  scheme VARCHAR not null,
  year INTEGER not null,
  drg VARCHAR not null,
  rw DOUBLE not null,
  avg_cost DOUBLE,                  -- C_g (trimmed mean charges) — reference for 点数法 cost ratio
  avg_los DOUBLE,                   -- L_g
  high_cut DOUBLE,                  -- group-specific 高倍率 cut-off (overrides the parameter file)
  low_cut DOUBLE,                   -- group-specific 低倍率 cut-off
  n_cases INTEGER,                  -- cases used (after exclusions, before trimming)
  n_trimmed INTEGER,                -- cases kept after trimming
  cv DOUBLE,                        -- within-group coefficient of variation of charges (trimmed)
  stable BOOLEAN,                   -- false = 非稳定病组 (too few cases or CV ≥ limit)
  note VARCHAR,
  primary key (scheme, year, drg)
);

-- benchmark (reference population) per DRG: regional / national averages used by CEI / TEI / risk grading
create table if not exists econ_benchmark (
  scheme VARCHAR not null,
  year INTEGER not null,
  drg VARCHAR not null,
  region VARCHAR not null default '',
  mean_cost DOUBLE,                 -- C_g
  mean_los DOUBLE,                  -- L_g
  cases INTEGER,
  deaths INTEGER,
  mortality DOUBLE,                 -- m_g
  risk_level INTEGER,               -- 0 无死亡, 1 低风险, 2 中低风险, 3 中高风险, 4 高风险 (loaded or computed)
  rw DOUBLE,
  source VARCHAR,                   -- file name it was imported from
  imported_at TIMESTAMP not null default current_timestamp,
  primary key (scheme, year, drg)
);

-- one row per payment simulation run (DRG 费率法 / 点数法, DIP); parameters stored verbatim with their hash
create table if not exists econ_run (
  run_id VARCHAR primary key,       -- 'pay-' / 'dip-' + first 12 hex of the hash of (inputs, parameters)
  kind VARCHAR not null,            -- 'drg_rate' | 'drg_points' | 'dip'
  scheme VARCHAR not null,          -- DRG scheme name, or DIP catalogue name
  year INTEGER,
  weight_year INTEGER,
  weights_hash VARCHAR,             -- econ_weight_set.content_hash, or DIP catalogue hash
  params_json VARCHAR not null,     -- resolved parameters (canonical JSON)
  params_hash VARCHAR not null,     -- sha256 of params_json
  money_per_rw DOUBLE,              -- rate (费率) or point value × points_per_rw, after budget resolution
  point_value DOUBLE,
  summary_json VARCHAR,
  created_at TIMESTAMP not null default current_timestamp
);

-- expected payment per case and run
create table if not exists econ_case_payment (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  group_code VARCHAR not null,      -- DRG (or '0000', QY code) / DIP code (or 'KBBZ' 空白病组)
  status VARCHAR,                   -- grouper status (DRG) or match kind (DIP: core / comprehensive / basic / unmatched)
  dept_code VARCHAR,
  doctor_group VARCHAR,             -- coalesce(doctor_group, attending_physician)
  payment_category VARCHAR,
  hospital_level VARCHAR,
  discharge_month DATE,
  fee_total DOUBLE,
  base_rw DOUBLE,                   -- RW_g (DRG) or the base 病种分值 after 辅助目录 factor (DIP)
  ref_cost DOUBLE,                  -- the denominator of the ratio r (Std_g, C_g, or DIP avg_amount)
  ratio DOUBLE,                     -- r = fee_total / ref_cost
  high_cut DOUBLE,
  low_cut DOUBLE,
  case_class VARCHAR not null,      -- normal | high | low | ungrouped | qy | no_weight | unstable | excluded …
  points DOUBLE,                    -- 点数 (DRG) or 分值 (DIP) settled for the case
  expected_payment DOUBLE,
  margin_charges DOUBLE,            -- expected_payment − fee_total  (费用口径盈亏)
  case_cost DOUBLE,                 -- from cost accounting when table cost_case exists (hook), else null
  margin_cost DOUBLE,               -- expected_payment − case_cost (成本口径盈亏)
  special_review BOOLEAN,           -- 特病单议 candidate
  flags VARCHAR                     -- ';'-separated reasons
);
-- key (run_id, hospital_id, mrn, admission_no) is kept by the engine (a run deletes its rows before writing);
-- no index, which would slow million-row writes (same choice as the importer, docs/architecture.md)

-- DIP catalogues (按病种分值付费目录), one row per catalogue row, as imported
create table if not exists econ_dip_catalogue (
  catalogue VARCHAR not null,
  content_hash VARCHAR not null,
  line INTEGER not null,
  row_kind VARCHAR not null,        -- 'group' | 'supplement'
  dip_code VARCHAR,
  dip_name VARCHAR,
  dip_type VARCHAR,
  diag_code VARCHAR,
  oprn_codes VARCHAR,
  oprn_type VARCHAR,
  score DOUBLE,
  avg_amount DOUBLE,
  avg_los DOUBLE,
  applies_to VARCHAR,
  condition VARCHAR,
  factor DOUBLE,
  source VARCHAR,
  imported_at TIMESTAMP not null default current_timestamp,
  primary key (catalogue, line)
);
