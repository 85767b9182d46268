-- 门诊药占比 / 住院药占比 (issue 14): finance items 门急诊药品收入 income_outpatient_drug and 住院药品收入
-- income_inpatient_drug (the drug lines of 门急诊收入 and 住院收入 in the hospital accounts) as columns of v_finance.
-- Without them the indicators fall back to the visit / discharge-abstract fees, labelled (docs/indicators.md).

create or replace view v_finance as
with f as (
  select hospital_id, month, dept_code, item_code, sum(amount) as amount
  from finance_month group by hospital_id, month, dept_code, item_code
),
t as (
  select hospital_id, month, cast(null as varchar) as dept_code, 'hospital' as scope, item_code,
         coalesce(sum(amount) filter (where dept_code = '*'), sum(amount)) as amount
  from f group by hospital_id, month, item_code
  union all
  select hospital_id, month, dept_code, 'dept' as scope, item_code, amount
  from f where dept_code <> '*'
)
select
  t.hospital_id, h.region_code, cast(t.month as date) as period_month, t.dept_code, t.scope,
  sum(amount) filter (where item_code = 'income_total') as income_total,
  sum(amount) filter (where item_code = 'income_medical') as income_medical,
  sum(amount) filter (where item_code = 'income_outpatient') as income_outpatient,
  sum(amount) filter (where item_code = 'income_inpatient') as income_inpatient,
  sum(amount) filter (where item_code = 'income_fiscal') as income_fiscal,
  sum(amount) filter (where item_code = 'income_research') as income_research,
  sum(amount) filter (where item_code = 'income_other') as income_other,
  sum(amount) filter (where item_code = 'income_registration') as income_registration,
  sum(amount) filter (where item_code = 'income_bed') as income_bed,
  sum(amount) filter (where item_code = 'income_consult') as income_consult,
  sum(amount) filter (where item_code = 'income_exam') as income_exam,
  sum(amount) filter (where item_code = 'income_lab') as income_lab,
  sum(amount) filter (where item_code = 'income_treatment') as income_treatment,
  sum(amount) filter (where item_code = 'income_surgery') as income_surgery,
  sum(amount) filter (where item_code = 'income_nursing') as income_nursing,
  sum(amount) filter (where item_code = 'income_material') as income_material,
  sum(amount) filter (where item_code = 'income_drug') as income_drug,
  sum(amount) filter (where item_code = 'income_outpatient_drug') as income_outpatient_drug,
  sum(amount) filter (where item_code = 'income_inpatient_drug') as income_inpatient_drug,
  sum(amount) filter (where item_code = 'income_drug_western') as income_drug_western,
  sum(amount) filter (where item_code = 'income_drug_patent_tcm') as income_drug_patent_tcm,
  sum(amount) filter (where item_code = 'income_drug_herbal') as income_drug_herbal,
  sum(amount) filter (where item_code = 'income_pharmacy_service') as income_pharmacy_service,
  sum(amount) filter (where item_code = 'income_medical_other') as income_medical_other,
  sum(amount) filter (where item_code = 'income_insurance_fund') as income_insurance_fund,
  sum(amount) filter (where item_code = 'income_special_service') as income_special_service,
  sum(amount) filter (where item_code = 'expense_total') as expense_total,
  sum(amount) filter (where item_code = 'expense_medical') as expense_medical,
  sum(amount) filter (where item_code = 'expense_personnel') as expense_personnel,
  sum(amount) filter (where item_code = 'expense_material') as expense_material,
  sum(amount) filter (where item_code = 'expense_drug') as expense_drug,
  sum(amount) filter (where item_code = 'expense_depreciation') as expense_depreciation,
  sum(amount) filter (where item_code = 'expense_amortisation') as expense_amortisation,
  sum(amount) filter (where item_code = 'expense_risk_fund') as expense_risk_fund,
  sum(amount) filter (where item_code = 'expense_energy') as expense_energy,
  sum(amount) filter (where item_code = 'expense_other') as expense_other,
  sum(amount) filter (where item_code = 'asset_total') as asset_total,
  sum(amount) filter (where item_code = 'liability_total') as liability_total
from t
left join hospital h on h.hospital_id = t.hospital_id
group by t.hospital_id, h.region_code, t.month, t.dept_code, t.scope;
