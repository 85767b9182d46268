-- Indicator layer over the DRG economics per-case view (issue 6 × issue 4): v_drg_case, one row per (scheme, case)
-- with its relative weight, benchmark-expected cost / LOS, ratios, risk level and death flag, keyed like the other
-- semantic views (period / department / doctor group / region). Formulas for 总权重, CMI, 费用/时间消耗指数,
-- RW≥2 share and 低/中低风险组死亡率 read only this view (docs/indicators.md).
--
-- drg_metric_case is defined by yunying/economics/views.sql (created by yunying.economics.views.create_views, which
-- the indicator engine calls before reading v_drg_case). A warehouse migrated before any economics command has no
-- such view yet, so an empty placeholder with the documented columns is created here only if it is absent;
-- create_views replaces it with the real definition (DuckDB binds views when queried, so v_drg_case follows).
create view if not exists drg_metric_case as
select cast(null as varchar) as scheme, cast(null as varchar) as hospital_id, cast(null as varchar) as mrn,
       cast(null as integer) as admission_no, cast(null as varchar) as status, cast(null as varchar) as mdc,
       cast(null as varchar) as drg, cast(null as varchar) as dept_code, cast(null as varchar) as doctor_group,
       cast(null as varchar) as payment_category, cast(null as integer) as year, cast(null as date) as month,
       cast(null as double) as fee_total, cast(null as integer) as los_days, cast(null as boolean) as died,
       cast(null as boolean) as analysed, cast(null as boolean) as grouped, cast(null as integer) as weight_year,
       cast(null as double) as rw, cast(null as varchar) as weight_source, cast(null as varchar) as bm_kind,
       cast(null as integer) as bm_year, cast(null as varchar) as benchmark_source, cast(null as double) as bm_cost,
       cast(null as double) as bm_los, cast(null as integer) as risk_level, cast(null as double) as cost_ratio,
       cast(null as double) as los_ratio
where false;

create or replace view v_drg_case as
select
  c.hospital_id, c.mrn, c.admission_no, h.region_code,
  c.month as period_month,
  c.dept_code,
  nullif(c.doctor_group, '(未填)') as doctor_group,
  c.scheme, c.mdc, c.drg,
  c.grouped as is_grouped,          -- economics 入组: status SUCCESS (not QY, not 0000)
  c.analysed as is_analysed,        -- 分析病例: LOS ≤ 60 d or unknown
  c.los_days, c.fee_total,
  c.died as is_death,               -- 离院方式 5
  c.rw, c.weight_year, c.weight_source,
  c.bm_kind, c.bm_year, c.benchmark_source, c.bm_cost, c.bm_los,
  c.cost_ratio, c.los_ratio,        -- fee / C_g, LOS / L_g (benchmark of the case's year)
  c.risk_level                      -- 0 无死亡, 1 低风险, 2 中低风险, 3 中高风险, 4 高风险
from drg_metric_case c
left join hospital h on h.hospital_id = c.hospital_id;
