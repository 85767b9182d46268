-- Issue 14: v_drg_case states the size of the risk reference each case was graded against (低风险组死亡率 G3-14 /
-- G2-05 / DRG-06 show it and warn when it is thin, docs/indicators.md §Remarks). The size comes from the DRG economics
-- view drg_reference_size (yunying/economics/views.sql, created by create_views); until that has run, an empty
-- placeholder with its columns is created here only if it is absent (as migration 0050 does for drg_metric_case).
create view if not exists drg_reference_size as
select cast(null as varchar) as kind, cast(null as varchar) as scheme, cast(null as integer) as year,
       cast(null as bigint) as ref_groups, cast(null as bigint) as ref_low_risk_groups, cast(null as hugeint) as ref_cases
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
  c.risk_level,                     -- 0 无死亡, 1 低风险, 2 中低风险, 3 中高风险, 4 高风险
  rs.ref_groups,                    -- the risk reference of the case's year: DRGs graded,
  rs.ref_low_risk_groups,           --   of them low risk (level 1),
  rs.ref_cases                      --   and its cases (null when an imported table gives none)
from drg_metric_case c
left join hospital h on h.hospital_id = c.hospital_id
left join drg_reference_size rs on rs.kind = c.bm_kind and rs.scheme = c.scheme and rs.year = c.bm_year;
