-- DRG evaluation views (issue 4). Created (or replaced) by yunying.economics.views.create_views(con).
-- Documented in docs/drg-economics.md §Metrics views. Every metric row states its benchmark and weight sources.

-- one row per grouped case (drg_result × discharge) with the fields every metric needs
create or replace view drg_metric_base as
select r.scheme, r.hospital_id, r.mrn, r.admission_no, r.status, r.mdc, r.drg,
       d.discharge_dept_code as dept_code,
       coalesce(nullif(d.doctor_group, ''), nullif(d.attending_physician, ''), '(未填)') as doctor_group,
       d.payment_category,
       cast(year(d.discharge_time) as integer) as year,
       cast(date_trunc('month', d.discharge_time) as date) as month,
       cast(d.fee_total as double) as fee_total,
       d.los_days,
       coalesce(/*died:d.discharge_disposition*/, false) as died,
       (d.los_days is null or d.los_days <= 60) as analysed,          -- 分析病例: LOS > 60 d excluded
       r.status = 'SUCCESS' as grouped                                 -- 入组: valid DRG (not QY, not 0000)
from drg_result r
join discharge d on d.hospital_id = r.hospital_id and d.mrn = r.mrn and d.admission_no = r.admission_no
where d.discharge_time is not null;

-- reference statistics per DRG with risk grading (spec §1.2): imported benchmarks ('imported') and the warehouse's
-- own data ('own'). p_scheme / p_year (null = all) restrict the own data to that scheme and to years p_year and
-- p_year − 1 (what the metrics of p_year may use as fallback).
create or replace macro drg_benchmark_stats_for(p_scheme, p_year) as table
with own as (
  select scheme, year, drg,
         avg(fee_total) as mean_cost, avg(los_days) as mean_los,
         count(*) as cases, count(*) filter (where died) as deaths
  from drg_metric_base
  where grouped and analysed and (p_scheme is null or scheme = p_scheme)
        and (p_year is null or year in (p_year, p_year - 1))
  group by scheme, year, drg
), raw as (
  select 'imported' as kind, scheme, year, drg, region, mean_cost, mean_los, cases, deaths,
         coalesce(mortality, cast(deaths as double) / nullif(cases, 0)) as mortality, risk_level as given_level
  from econ_benchmark where p_scheme is null or scheme = p_scheme
  union all
  select 'own', scheme, year, drg, '', mean_cost, mean_los, cases, deaths,
         cast(deaths as double) / nullif(cases, 0), null
  from own
), z as (
  select kind, scheme, year, avg(ln(mortality)) as mu, coalesce(stddev_samp(ln(mortality)), 0) as sd
  from raw where mortality > 0 group by kind, scheme, year
)
select raw.kind, raw.scheme, raw.year, raw.drg, raw.region, raw.mean_cost, raw.mean_los, raw.cases, raw.deaths,
       raw.mortality, z.mu as ln_mortality_mean, z.sd as ln_mortality_sd,
       coalesce(raw.given_level,
         case when raw.mortality is null then null
              when raw.mortality = 0 then 0
              when ln(raw.mortality) < z.mu - z.sd then 1
              when ln(raw.mortality) < z.mu then 2
              when ln(raw.mortality) < z.mu + z.sd then 3
              else 4 end) as risk_level,
       case when raw.given_level is not null then 'given'
            when raw.mortality is not null then 'computed' end as risk_level_source
from raw left join z on z.kind = raw.kind and z.scheme = raw.scheme and z.year = raw.year;

create or replace view drg_benchmark_stats as select * from drg_benchmark_stats_for(null, null);

-- the size of each reference population (kind, scheme, year): DRGs with a risk level, of them low-risk (level 1),
-- and its cases (null when an imported table gives no case counts). Stated beside 低风险组死亡率 (which is thin when
-- few DRGs are low risk, docs/drg-economics.md §2) in drg_metrics and v_drg_case.
create or replace macro drg_reference_size_for(p_scheme, p_year) as table
select kind, scheme, year,
       count(*) filter (where risk_level is not null) as ref_groups,
       count(*) filter (where risk_level = 1) as ref_low_risk_groups,
       sum(cases) as ref_cases
from drg_benchmark_stats_for(p_scheme, p_year)
group by kind, scheme, year;

create or replace view drg_reference_size as select * from drg_reference_size_for(null, null);

-- one row per case of (p_scheme, p_year) (null = all) with its weight, benchmark figures, ratios and risk level.
-- Weight set: latest weight year ≤ case year, else the earliest. Benchmark: an imported table (latest year ≤ case
-- year, else the earliest), else the own data of the prior year, else the own data of the same year (≈ 1).
create or replace macro drg_metric_case_for(p_scheme, p_year) as table
with base as materialized (
  select * from drg_metric_base
  where (p_scheme is null or scheme = p_scheme) and (p_year is null or year = p_year)
),
stats as materialized (select * from drg_benchmark_stats_for(p_scheme, p_year)),
cy as (select distinct scheme, year from base),
wc as (
  select cy.scheme, cy.year, coalesce(max(w.year) filter (where w.year <= cy.year), min(w.year)) as weight_year
  from cy join econ_weight_set w on w.scheme = cy.scheme
  group by cy.scheme, cy.year
),
imp as (
  select cy.scheme, cy.year, coalesce(max(b.year) filter (where b.year <= cy.year), min(b.year)) as bm_year
  from cy join (select distinct scheme, year from econ_benchmark) b on b.scheme = cy.scheme
  group by cy.scheme, cy.year
),
imp_label as (select scheme, year,
                     string_agg(distinct coalesce(nullif(region, ''), source, 'benchmark'), ','
                                order by coalesce(nullif(region, ''), source, 'benchmark')) as lbl
              from econ_benchmark group by scheme, year),
own_years as (select distinct scheme, year from stats where kind = 'own'),
bc as (
  select cy.scheme, cy.year,
         case when imp.bm_year is not null then 'imported' else 'own' end as bm_kind,
         coalesce(imp.bm_year, oy.year, cy.year) as bm_year,
         case when imp.bm_year is not null then 'imported:' || imp_label.lbl || ' ' || imp.bm_year
              when oy.year is not null then 'fallback:prior_year ' || oy.year || ' (未导入标杆，用本院上年数据)'
              else 'fallback:same_data ' || cy.year || ' (未导入标杆，用本期自身数据，指数≈1)' end as benchmark_source
  from cy
  left join imp on imp.scheme = cy.scheme and imp.year = cy.year
  left join imp_label on imp_label.scheme = cy.scheme and imp_label.year = imp.bm_year
  left join own_years oy on oy.scheme = cy.scheme and oy.year = cy.year - 1
)
select b.*,
       wc.weight_year, w.rw,
       case when wc.weight_year is null then 'none (未导入或校准权重)'
            else 'weights ' || wc.weight_year || ' (' || ws.source || ')' end as weight_source,
       bc.bm_kind, bc.bm_year, bc.benchmark_source,
       bs.mean_cost as bm_cost, bs.mean_los as bm_los, bs.risk_level,
       b.fee_total / nullif(bs.mean_cost, 0) as cost_ratio,
       b.los_days / nullif(bs.mean_los, 0) as los_ratio
from base b
left join wc on wc.scheme = b.scheme and wc.year = b.year
left join econ_weight_set ws on ws.scheme = b.scheme and ws.year = wc.weight_year
left join econ_weight w on w.scheme = b.scheme and w.year = wc.weight_year and w.drg = b.drg and b.grouped
left join bc on bc.scheme = b.scheme and bc.year = b.year
left join stats bs on bs.kind = bc.bm_kind and bs.scheme = b.scheme and bs.year = bc.bm_year
      and bs.drg = b.drg and b.grouped;

create or replace view drg_metric_case as select * from drg_metric_case_for(null, null);

-- which benchmark / weight set applies to the cases of (scheme, year) — derived from the same definition
create or replace view drg_benchmark_choice as
select distinct scheme, year, bm_kind as kind, bm_year, benchmark_source from drg_metric_case;
create or replace view drg_weight_choice as
select distinct scheme, year, weight_year from drg_metric_case where weight_year is not null;

-- DRG evaluation metrics by hospital / department / doctor group × year / month (spec §1.1).
-- DRG组数 / MDC coverage are counted from a (unit, DRG) grouping rather than count(distinct …) over cases, which
-- is several times slower across six grouping sets.
create or replace macro drg_metrics_for(p_scheme, p_year) as table
with c as materialized (select * from drg_metric_case_for(p_scheme, p_year)),
main as (
  select scheme, hospital_id, year, month, dept_code, doctor_group,
         grouping_id(month, dept_code, doctor_group) as gid,
         count(*) as cases_reported,
         count(*) filter (where analysed) as cases_analysed,
         count(*) filter (where analysed and grouped) as cases_grouped,
         sum(rw) filter (where grouped) as total_weight,
         count(*) filter (where grouped and rw is not null) as cases_weighted,
         count(*) filter (where grouped and rw is null) as grouped_without_weight,
         avg(cost_ratio) filter (where grouped) as cost_index,
         avg(los_ratio) filter (where grouped) as time_index,
         count(*) filter (where grouped and cost_ratio is not null) as cases_with_benchmark,
         count(*) filter (where grouped and risk_level = 1) as low_risk_cases,
         count(*) filter (where grouped and risk_level = 1 and died) as low_risk_deaths,
         count(*) filter (where grouped and risk_level = 2) as midlow_risk_cases,
         count(*) filter (where grouped and risk_level = 2 and died) as midlow_risk_deaths,
         min(benchmark_source) as benchmark_source,      -- one source per (scheme, year): every set holds year
         min(bm_kind) as bm_kind, min(bm_year) as bm_year,
         min(weight_source) as weight_source
  from c
  group by grouping sets (
    (scheme, hospital_id, year),
    (scheme, hospital_id, year, month),
    (scheme, hospital_id, year, dept_code),
    (scheme, hospital_id, year, month, dept_code),
    (scheme, hospital_id, year, dept_code, doctor_group),
    (scheme, hospital_id, year, month, dept_code, doctor_group))
),
per_drg as (
  select scheme, hospital_id, year, month, dept_code, doctor_group,
         grouping_id(month, dept_code, doctor_group) as gid, drg, min(mdc) as mdc
  from c where grouped
  group by grouping sets (
    (scheme, hospital_id, year, drg),
    (scheme, hospital_id, year, month, drg),
    (scheme, hospital_id, year, dept_code, drg),
    (scheme, hospital_id, year, month, dept_code, drg),
    (scheme, hospital_id, year, dept_code, doctor_group, drg),
    (scheme, hospital_id, year, month, dept_code, doctor_group, drg))
),
counts as (
  select scheme, hospital_id, year, month, dept_code, doctor_group, gid,
         count(*) as drg_count, count(distinct mdc) as mdc_count
  from per_drg group by all
)
select m.scheme,
       case when m.gid & 1 = 0 then 'doctor_group' when m.gid & 2 = 0 then 'department' else 'hospital' end as level,
       m.hospital_id, m.dept_code, m.doctor_group,
       case when m.gid & 4 = 0 then 'month' else 'year' end as period_type,
       case when m.gid & 4 = 0 then strftime(m.month, '%Y-%m') else cast(m.year as varchar) end as period,
       m.year,
       m.cases_reported, m.cases_analysed, m.cases_grouped,
       m.cases_grouped / nullif(m.cases_analysed, 0) as grouping_rate,
       coalesce(k.drg_count, 0) as drg_count, coalesce(k.mdc_count, 0) as mdc_count,
       m.total_weight, m.total_weight / nullif(m.cases_weighted, 0) as cmi,
       m.grouped_without_weight, m.cost_index, m.time_index, m.cases_with_benchmark,
       m.low_risk_cases, m.low_risk_deaths, m.low_risk_deaths / nullif(m.low_risk_cases, 0) as low_risk_mortality,
       m.midlow_risk_cases, m.midlow_risk_deaths,
       m.midlow_risk_deaths / nullif(m.midlow_risk_cases, 0) as midlow_risk_mortality,
       m.benchmark_source, m.weight_source,
       rs.ref_groups, rs.ref_low_risk_groups, rs.ref_cases
from main m
left join counts k on k.gid = m.gid and k.scheme = m.scheme and k.hospital_id = m.hospital_id and k.year = m.year
     and k.month is not distinct from m.month and k.dept_code is not distinct from m.dept_code
     and k.doctor_group is not distinct from m.doctor_group
left join drg_reference_size_for(p_scheme, p_year) rs on rs.kind = m.bm_kind and rs.scheme = m.scheme
     and rs.year = m.bm_year;

-- the same for every scheme and year (what the indicator engine reads)
create or replace view drg_metrics as select * from drg_metrics_for(null, null);

-- the warehouse's own per-DRG statistics per scheme and year (grouped, analysed cases)
create or replace view drg_own_group_stats as
select scheme, year, drg, mean_cost, mean_los, cases, deaths from drg_benchmark_stats_for(null, null)
where kind = 'own';
