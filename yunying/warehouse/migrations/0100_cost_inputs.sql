-- 0100 cost accounting inputs (issue 17, /work/wt/COST-CONTRACT.md §A): the seven input tables, generated from
-- yunying/model/tables.yaml, and v_cost_unit_month (docs/cost.md "1 Inputs").

-- 成本核算单元; key (hospital_id, unit_code, valid_from)
create table cost_unit (
  hospital_id VARCHAR not null,
  unit_code VARCHAR not null,
  unit_name VARCHAR,
  dept_code VARCHAR,
  cost_class VARCHAR,
  service_line VARCHAR,
  valid_from DATE not null,
  valid_to DATE
);

-- 科室成本台账; key (hospital_id, month, unit_code, cost_item, fund_source)
create table cost_ledger (
  hospital_id VARCHAR not null,
  month DATE not null,
  unit_code VARCHAR not null,
  cost_item VARCHAR not null,
  fund_source VARCHAR not null,
  amount DECIMAL(16,2)
);

-- 分摊参数; key (hospital_id, month, unit_code, basis_code, provider_unit)
create table cost_basis (
  hospital_id VARCHAR not null,
  month DATE not null,
  unit_code VARCHAR not null,
  basis_code VARCHAR not null,
  provider_unit VARCHAR not null,
  quantity DECIMAL(18,4)
);

-- 收入（按收费类别×开单/执行单元）; key (hospital_id, month, charge_category, order_unit, exec_unit)
create table cost_revenue (
  hospital_id VARCHAR not null,
  month DATE not null,
  charge_category VARCHAR not null,
  order_unit VARCHAR not null,
  exec_unit VARCHAR not null,
  amount DECIMAL(16,2)
);

-- 收费项目字典; key (hospital_id, item_code, valid_from)
create table charge_item (
  hospital_id VARCHAR not null,
  item_code VARCHAR not null,
  item_name VARCHAR,
  charge_category VARCHAR,
  unit VARCHAR,
  price DECIMAL(14,2),
  std_minutes DECIMAL(10,2),
  workload_eq DECIMAL(12,4),
  exec_unit VARCHAR,
  valid_from DATE not null,
  valid_to DATE
);

-- 收费项目工作量; key (hospital_id, month, item_code, order_unit, exec_unit)
create table item_volume (
  hospital_id VARCHAR not null,
  month DATE not null,
  item_code VARCHAR not null,
  order_unit VARCHAR not null,
  exec_unit VARCHAR not null,
  quantity DECIMAL(16,4),
  amount DECIMAL(16,2)
);

-- 病例收费明细; key (hospital_id, mrn, admission_no, line_no)
create table case_item_charge (
  hospital_id VARCHAR not null,
  mrn VARCHAR not null,
  admission_no INTEGER not null,
  line_no INTEGER not null,
  item_code VARCHAR,
  exec_unit VARCHAR,
  charge_date DATE,
  quantity DECIMAL(16,4),
  amount DECIMAL(16,2)
);

-- The unit row in force on the first day of each month (contract §A.1): a reorganised unit keeps its history. Months
-- run per hospital from the first valid_from to the last month any cost input or unit period names (never the
-- clock, so the view is reproducible); when two rows of a unit are in force on the same day, the later valid_from
-- wins.
create or replace view v_cost_unit_month as
with bounds as (
  select hospital_id, min(m) as m0, max(m) as m1 from (
    select hospital_id, date_trunc('month', valid_from) as m from cost_unit
    union all select hospital_id, date_trunc('month', valid_to) from cost_unit where valid_to is not null
    union all select hospital_id, month from cost_ledger
    union all select hospital_id, month from cost_basis
    union all select hospital_id, month from cost_revenue
    union all select hospital_id, month from item_volume
  ) group by hospital_id
),
months as (
  select b.hospital_id, cast(g.m as date) as month
  from bounds b, unnest(generate_series(b.m0, b.m1, interval 1 month)) as g(m)
)
select m.hospital_id, m.month, u.unit_code, u.unit_name, u.dept_code, u.cost_class, u.service_line
from months m
join cost_unit u on u.hospital_id = m.hospital_id and u.valid_from <= m.month
                and (u.valid_to is null or u.valid_to >= m.month)
qualify row_number() over (partition by m.hospital_id, m.month, u.unit_code order by u.valid_from desc) = 1;
