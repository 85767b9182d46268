"""诊次成本 / 床日成本 per unit, department and hospital (docs/cost.md §3), from a stored step-down run.

unit_cost = full cost of the service line's units / volume. Volumes come from cost_basis (op_visits, bed_days) or,
failing that, from the warehouse table named in unit_costs.yaml; each row records its volume source. A department
or hospital row whose units with cost include one without a volume says `incomplete` and has no unit cost (a
partial volume would overstate it)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml


@cache
def measures() -> dict:
    return yaml.safe_load(resources.files("yunying.cost").joinpath("unit_costs.yaml")
                          .read_text(encoding="utf-8"))["measures"]


def _has_table(con, name: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_name = ?",
                            [name]).fetchall()[0][0])


def store_unit_costs(con, run_id: str, calibre: str | None) -> None:
    """Insert the run's cost_unit_cost rows (unit, department '*' unit, hospital '*' '*')."""
    for measure, spec in measures().items():
        fb = spec.get("fallback")
        use_fb = bool(fb) and _has_table(con, fb["source"])
        fb_sql = fb["sql"] if use_fb else ("select null::VARCHAR as hospital_id, null::DATE as month, "
                                           "null::VARCHAR as dept_code, null::DOUBLE as volume where false")
        fb_name = fb["source"] if use_fb else "none"
        con.execute(f"""create or replace temp table _ucu as
            with run as (select * from cost_run where run_id = $run),
            units as (   -- units of the service line in force in the run's months
                select v.hospital_id, v.month, v.unit_code, v.dept_code from v_cost_unit_month v, run
                where v.hospital_id = run.hospital_id and v.month between run.month_from and run.month_to
                  and v.service_line = $line),
            n as (select hospital_id, month, dept_code, count(*) as units from units group by all),
            cost as (select hospital_id, month, unit_code, sum("full") as cost from cost_unit_full
                     where run_id = $run group by all),
            b as (select hospital_id, month, unit_code, sum(quantity) as volume from cost_basis
                  where basis_code = $basis and provider_unit = '*' group by all),
            fb as (select hospital_id, month, dept_code, sum(volume) as volume from ({fb_sql}) group by all)
            select u.hospital_id, u.month, u.unit_code, u.dept_code, coalesce(c.cost, 0) as cost,
                   coalesce(b.volume, case when n.units = 1 then fb.volume end) as volume,
                   case when b.volume is not null then 'cost_basis'
                        when n.units = 1 and fb.volume is not null then $fb_name else 'none' end as volume_source
            from units u join n using (hospital_id, month, dept_code)
            left join cost c using (hospital_id, month, unit_code)
            left join b using (hospital_id, month, unit_code)
            left join fb using (hospital_id, month, dept_code)""",
                    {"run": run_id, "line": spec["service_line"], "basis": spec["basis"], "fb_name": fb_name})
        con.execute("""insert into cost_unit_cost (run_id, hospital_id, month, unit_code, dept_code, measure, cost,
                volume, unit_cost, volume_source, calibre)
            with lv as (
                select hospital_id, month, unit_code, dept_code, cost, volume, volume_source from _ucu
                union all
                select hospital_id, month, '*', dept_code, sum(cost), sum(volume),
                       case when bool_or(volume is null and cost > 0) then 'incomplete'
                            when count(distinct volume_source) filter (where volume is not null) > 1 then 'mixed'
                            else coalesce(any_value(volume_source) filter (where volume is not null), 'none') end
                from _ucu group by hospital_id, month, dept_code
                union all
                select hospital_id, month, '*', '*', sum(cost), sum(volume),
                       case when bool_or(volume is null and cost > 0) then 'incomplete'
                            when count(distinct volume_source) filter (where volume is not null) > 1 then 'mixed'
                            else coalesce(any_value(volume_source) filter (where volume is not null), 'none') end
                from _ucu group by hospital_id, month)
            select $run, hospital_id, month, unit_code, dept_code, $measure, cost, volume,
                   case when volume > 0 and volume_source not in ('incomplete', 'none')
                        then round(cost / volume, 2) end, volume_source, $calibre
            from lv""", {"run": run_id, "measure": measure, "calibre": calibre})
