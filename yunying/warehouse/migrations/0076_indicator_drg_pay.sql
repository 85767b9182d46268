-- Issue 14: the indicator view of stored DRG payment simulations (yunying drg pay → econ_run, econ_case_payment), so
-- that DRG-10 DRG（医保）结余/亏损率 is computed once payments are stored (docs/indicators.md, docs/drg-economics.md).
-- One row per case of the latest DRG payment run (费率法 or 点数法, by econ_run.created_at) covering the case's
-- scheme and discharge year; keyed like the other semantic views.
create or replace view v_drg_pay as
with cover as (
  select p.run_id, r.scheme, cast(year(p.discharge_month) as integer) as y, max(r.created_at) as created_at
  from econ_case_payment p join econ_run r on r.run_id = p.run_id
  where r.kind in ('drg_rate', 'drg_points')
  group by p.run_id, r.scheme, cast(year(p.discharge_month) as integer)
), pick as (
  select scheme, y, arg_max(run_id, created_at) as run_id from cover group by scheme, y
)
select
  p.hospital_id, p.mrn, p.admission_no, h.region_code,
  p.discharge_month as period_month,
  p.dept_code,
  nullif(p.doctor_group, '(未填)') as doctor_group,
  k.scheme, p.run_id,
  p.group_code as drg, p.case_class,
  p.fee_total,                      -- 实际费用
  p.expected_payment,               -- DRG 支付标准 (expected payment of the run)
  p.margin_charges                  -- expected_payment − fee_total (费用口径盈亏)
from econ_case_payment p
join pick k on k.run_id = p.run_id and k.y = cast(year(p.discharge_month) as integer)
left join hospital h on h.hospital_id = p.hospital_id;
