-- Issue 17 (cost-case slice): 医疗服务项目成本, 成本收入比, 病种/DRG 病例成本, 保本点 and the cost-basis 盈亏 view.
-- Written by yunying.cost.items / cases / margin from one step-down run (cost_run, cost_unit_full); docs/cost.md §4–5.
-- A run rewrites its own rows (delete by run_id, then insert); no indexes (same choice as the importer).

-- 医疗服务项目成本 per month, charge item and executing unit; method = how the unit's cost was split over its items
create table if not exists cost_item_unit (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  month DATE not null,
  item_code VARCHAR not null,
  exec_unit VARCHAR not null,
  method VARCHAR not null,          -- abc | ratio_revenue | ratio_time | ratio_workload
  unit_cost DOUBLE,                 -- cost / quantity
  quantity DOUBLE,
  cost DOUBLE,
  charge_category VARCHAR,          -- (added) the item's 收费类别 in force that month
  revenue DOUBLE                    -- (added) item_volume.amount, for the CCR and the summary report
);

-- cost-to-charge ratio per executing unit × charge category over the run period; exec_unit '*' = hospital-wide
-- (drug / separately chargeable material categories: costed at cost by the ledger ratio)
create table if not exists cost_ccr (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  month_or_year VARCHAR not null,   -- the run period: 'YYYY' (a calendar year), 'YYYY-MM', or 'YYYY-MM..YYYY-MM'
  exec_unit VARCHAR not null,
  charge_category VARCHAR not null,
  cost DOUBLE,
  revenue DOUBLE,
  ccr DOUBLE,
  basis VARCHAR                     -- (added) item_cost | revenue_share | ledger_ratio | configured_ratio
);

-- case cost per method (项目叠加法 item_sum, 成本收入比法 ccr)
create table if not exists cost_case (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  method VARCHAR not null,          -- item_sum | ccr
  cost DOUBLE,                      -- = service_cost + drug_cost + material_cost
  drug_cost DOUBLE,
  material_cost DOUBLE,
  service_cost DOUBLE,
  is_primary BOOLEAN,               -- (added) the method preferred for this case (cost/case_methods.yaml)
  revenue DOUBLE,                   -- (added) charges the method costed (item lines, or the 首页 fee block)
  uncosted_amount DOUBLE,           -- (added) charges left uncosted (item with no unit cost in the run)
  fallback VARCHAR,                 -- (added) ';'-separated fallback readings used for this case, null if none
  computed_at TIMESTAMP             -- (added) when the run's case costs were written (latest run per case wins)
);

-- case cost by 成本项目 (cost_item) per method: drugs / chargeable materials are their ledger items; the service
-- part follows the cost-item mix of the item costs (item_sum) or of the CCR cells (ccr). Σ over items = cost_case.cost
create table if not exists cost_case_item (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  method VARCHAR not null,
  cost_item VARCHAR not null,
  cost DOUBLE
);

-- 保本点 per department (inpatient units) and run
create table if not exists cost_breakeven (
  run_id VARCHAR not null,
  hospital_id VARCHAR not null,
  dept_code VARCHAR not null,
  fixed_cost DOUBLE,
  variable_cost DOUBLE,
  cases INTEGER,
  variable_per_case DOUBLE,
  payment_per_case DOUBLE,
  fee_per_case DOUBLE,
  breakeven_cases DOUBLE,           -- F / (payment per case − variable cost per case); null when ≤ 0 contribution
  breakeven_cases_charges DOUBLE,   -- same on charges
  fixed_items VARCHAR               -- the cost items read as fixed (configuration, recorded)
);

-- every method row of the latest cost run that costed the case (by computed_at)
create or replace view v_cost_case_latest as
with pick as (
  select hospital_id, mrn, admission_no, arg_max(run_id, computed_at) as run_id
  from cost_case group by hospital_id, mrn, admission_no
)
select c.* from cost_case c
join pick k on k.run_id = c.run_id and k.hospital_id = c.hospital_id and k.mrn = c.mrn
  and k.admission_no = c.admission_no;

-- one row per case: the primary method's cost (economics hook: econ_case_payment.case_cost / margin_cost)
create or replace view v_cost_case_primary as
select hospital_id, mrn, admission_no, cost as case_cost, method, run_id as cost_run_id
from v_cost_case_latest where is_primary;

-- the latest cost run's case costs (each method) beside the latest DRG payment (v_drg_pay): cost-basis and
-- charge-basis 盈亏 per case
create or replace view v_cost_case_margin as
select
  p.hospital_id, p.mrn, p.admission_no, p.period_month, p.dept_code, p.doctor_group, p.drg,
  c.method, c.cost, p.expected_payment, p.fee_total,
  p.expected_payment - c.cost as margin_cost,      -- 成本口径盈亏
  p.margin_charges,                                -- 费用口径盈亏
  c.is_primary, c.drug_cost, c.material_cost, c.service_cost,
  p.region_code, p.scheme, p.run_id as pay_run_id, c.run_id as cost_run_id, p.case_class, c.fallback
from v_drg_pay p
join v_cost_case_latest c on c.hospital_id = p.hospital_id and c.mrn = p.mrn and c.admission_no = p.admission_no;
