-- Cost accounting runs (issue 17, docs/cost.md §2–3): `yunying cost run` stores one run per hospital — plan id,
-- version and content hash, measure (cost | revenue), calibre — with the step-down trail hop by hop, every unit's
-- full cost by cost item, and 诊次/床日 unit costs. Input tables (cost_unit, cost_ledger, cost_basis, cost_revenue)
-- belong to the data model (COST-CONTRACT A); these are the engine's outputs (contract C).
create table if not exists cost_run (
  run_id VARCHAR primary key,
  hospital_id VARCHAR not null,
  month_from DATE not null,
  month_to DATE not null,
  plan_id VARCHAR not null,
  plan_version VARCHAR,
  plan_hash VARCHAR not null,
  measure VARCHAR not null,          -- cost | revenue
  created_at TIMESTAMP not null default current_timestamp,
  created_by VARCHAR,
  note VARCHAR,
  calibre VARCHAR,                   -- cost calibre of the ledger rows taken (yunying/cost/calibres.yaml); null for revenue
  plan_path VARCHAR                  -- the plan file (bundled plans: package path)
);

create table if not exists cost_alloc_trail (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  month DATE not null,
  step INTEGER not null,             -- 0 shared costs, 1 一级, 2 二级, 3 三级
  source_unit VARCHAR not null,
  dest_unit VARCHAR not null,
  cost_item VARCHAR not null,        -- cost item (measure cost) or charge category (measure revenue)
  basis_code VARCHAR not null,
  basis_qty DECIMAL(18,4) not null,
  basis_total DECIMAL(22,4) not null,
  amount DECIMAL(16,2) not null,
  basis_provider VARCHAR not null    -- '*' general quantity, or the source unit when the quantity is provider-specific
);

create table if not exists cost_unit_full (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  month DATE not null,
  unit_code VARCHAR not null,
  dept_code VARCHAR,
  cost_class VARCHAR,
  service_line VARCHAR,
  cost_item VARCHAR not null,
  direct DECIMAL(16,2) not null,     -- ledger (calibre rows) of the unit
  step1_in DECIMAL(16,2) not null,
  step2_in DECIMAL(16,2) not null,
  step3_in DECIMAL(16,2) not null,
  allocated_out DECIMAL(16,2) not null,
  "full" DECIMAL(16,2) not null,     -- direct + shared_in + step1..3_in − allocated_out
  shared_in DECIMAL(16,2) not null default 0   -- step 0 (shared costs) received: part of 直接成本 in the reports
);

create table if not exists cost_unit_cost (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  month DATE not null,
  unit_code VARCHAR not null,        -- '*' for a department or hospital row
  dept_code VARCHAR not null,        -- '*' for the hospital row
  measure VARCHAR not null,          -- visit 诊次 | bed_day 床日
  cost DECIMAL(16,2) not null,
  volume DECIMAL(18,4),
  unit_cost DECIMAL(16,2),           -- null when the volume is unknown, zero or incomplete
  volume_source VARCHAR not null,    -- cost_basis | outpatient_visit | ward_month | none | mixed | incomplete
  calibre VARCHAR
);
