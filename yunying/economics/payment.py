"""DRG payment simulation: 费率法 and 点数法, case classes (正常/高倍率/低倍率/未入组/歧义组/排除 …), 特病单议 flags,
expected payment and 盈亏 per case, group, department and doctor group (spec §2.1–2.3).

Unit of account: every case gets ``units`` in RW-equivalents plus ``money`` paid by item; then
``expected_payment = units × M + money`` with ``M = rate × 1`` (费率法) or ``M = point_value × points_per_rw``
(点数法); ``points = units × points_per_rw``. Worked examples of the spec (tests/economics/test_payment.py):

* 费率法: RW 0.80, rate ¥10 000 → Std ¥8 000; charges ¥26 000 → r = 3.25 > 3 → units 0.8 + 0.8 × 0.25 = 1.0 → ¥10 000.
* 点数法: base 80 pts, 差异系数 1.05 → 84 pts; charges ¥30 000, C_g ¥8 000 → r = 3.75 → 84 + 80 × 0.75 = 144 pts;
  charges ¥2 400 → r = 0.30 < 0.4 → 80 × 0.30 = 24 pts.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from yunying.economics.errors import EconomicsError
from yunying.model.catalogue import died_sql
from yunying.economics.params import canonical, load_params, resolve
from yunying.economics.views import create_views
from yunying.warehouse.db import transaction

CASES_SQL = """
select r.hospital_id, r.mrn, r.admission_no, r.status, r.drg,
       d.discharge_dept_code as dept_code,
       coalesce(nullif(d.doctor_group, ''), nullif(d.attending_physician, ''), '(未填)') as doctor_group,
       coalesce(d.payment_category, '') as payment_category,
       coalesce(h.level, '') as hospital_level,
       cast(date_trunc('month', d.discharge_time) as date) as discharge_month,
       cast(d.fee_total as double) as fee_total, d.los_days,
       coalesce({died}, false) as died,
       cast(d.icu_hours as double) as icu_hours
from drg_result r
join discharge d on d.hospital_id = r.hospital_id and d.mrn = r.mrn and d.admission_no = r.admission_no
left join hospital h on h.hospital_id = r.hospital_id
where r.scheme = $scheme {year_filter}
"""


@dataclass
class PayResult:
    run_id: str
    summary: dict


def _weight_set(con, scheme: str, year: int | None, weight_year: int | None):
    sets = con.execute("select year, content_hash, overall_mean, source from econ_weight_set where scheme = ? "
                       "order by year", [scheme]).fetchall()
    if not sets:
        raise EconomicsError(f"ECON-WEIGHTS 方案 {scheme!r} 没有权重，请先执行 yunying drg weights calibrate 或 "
                             f"weights import / no weights for scheme {scheme!r}")
    if weight_year is not None:
        chosen = [s for s in sets if s[0] == weight_year]
        if not chosen:
            raise EconomicsError(f"ECON-WEIGHTS 方案 {scheme!r} 没有 {weight_year} 年权重（已有：{[s[0] for s in sets]}）"
                                 f" / no weights for {weight_year}")
        return chosen[0]
    if year is not None:
        before = [s for s in sets if s[0] <= year]
        return before[-1] if before else sets[0]
    return sets[-1]


def _lit(text: str) -> str:
    """A SQL string literal (temp views cannot take prepared parameters)."""
    return "'" + str(text).replace("'", "''") + "'"


def _used(args: dict, sql: str) -> dict:
    """Only the named parameters the SQL mentions (DuckDB refuses unused ones)."""
    return {k: v for k, v in args.items() if re.search(rf"\${k}\b", sql)}


def _ladder_cut(ladder: list, base_points: float) -> float:
    for step in ladder:
        mx = step.get("max_points")
        if mx is None or base_points <= mx:
            return float(step["cut"])
    return float(ladder[-1]["cut"])


def simulate(con: duckdb.DuckDBPyConnection, scheme: str, *, method: str | None = None,
             params_file: Path | None = None, params: dict | None = None, year: int | None = None,
             weight_year: int | None = None, overrides: dict | None = None) -> PayResult:
    """Simulate payment of the cases of ``scheme`` discharged in ``year`` (all years when None); store per case."""
    create_views(con)
    ov = dict(overrides or {})
    if method:
        ov["method"] = method
    p = params if params is not None else load_params(params_file, ov)
    if params is not None and ov:
        from yunying.economics.params import _merge, validate
        p = _merge(p, ov)
        validate(p, "params")
    if year is None and p.get("year"):
        year = int(p["year"])
    wyear, whash, wmean, wsource = _weight_set(con, scheme, year, weight_year)
    year_filter = "and year(d.discharge_time) = $year" if year is not None else ""
    # the run's cases as a temp view (no materialisation; DuckDB runs the join inside the insert)
    sql = CASES_SQL.format(year_filter=year_filter, died=died_sql())
    con.execute("create or replace temp view _pay_cases as " + sql.replace(
        "$scheme", _lit(scheme)).replace("$year", str(int(year)) if year is not None else "null"))
    # one scan gives the parameter combinations present, the case count and the fee total (data fingerprint)
    combo_counts = con.execute("select payment_category, hospital_level, count(*), "
                               "sum(cast(fee_total as decimal(18, 2))) from _pay_cases group by all order by 1, 2"
                               ).fetchall()
    n_cases = sum(r[2] for r in combo_counts)
    data_fp = (n_cases, str(sum(r[3] or 0 for r in combo_counts)))     # exact decimal: stable run ids
    if n_cases == 0:
        raise EconomicsError(f"ECON-NODATA 方案 {scheme!r}{f' {year} 年' if year else ''} 没有分组结果，请先执行 "
                             f"yunying drg run / no grouped cases")
    weights = con.execute("select drg, rw, avg_cost, high_cut, low_cut, stable from econ_weight "
                          "where scheme = ? and year = ?", [scheme, wyear]).fetchall()
    combos = [(r[0], r[1]) for r in combo_counts]
    ppr = float(p["points_per_rw"])
    cbar = p.get("overall_mean_cost") or wmean
    # ---- per-combination parameters and per-(combination, DRG) group parameters --------------------------
    combo_rows, gp_rows, resolved = [], [], {}
    for cid, (pc, lvl) in enumerate(sorted(combos)):
        rp = resolve(p, pc, lvl)
        resolved[f"{pc}|{lvl}"] = rp
        ex, sr = rp["exclude"], rp["special_review"]
        combo_rows.append({
            "cid": cid, "payment_category": pc, "hospital_level": lvl,
            "coef": float(rp["coefficient"]),
            "money_given": (float(rp["rate"]) if p["method"] == "rate" else float(rp["point_value"]) * ppr)
            if p["budget"] is None else None,
            "high_rule": rp["high"]["rule"], "low_rule": rp["low"]["rule"],
            "unm_rule": rp["unmatched"]["rule"], "unm_disc": float(rp["unmatched"].get("discount", 1.0)),
            "nw_rule": rp["no_weight"]["rule"], "nw_disc": float(rp["no_weight"].get("discount", 1.0)),
            "unstable_by_item": rp["unstable"]["rule"] == "by_item",
            "excl_min": ex.get("los_days_min"), "excl_max": ex.get("los_days_max"),
            "excl_disc": float(ex.get("discount", 1.0)),
            "sr_los": sr.get("los_days_over"), "sr_ratio": sr.get("ratio_over"), "sr_icu": sr.get("icu_hours_over"),
            "sr_death_days": sr.get("death_within_days"),
        })
        for drg, rw, avg_cost, hc, lc, stable in weights:
            ladder = rp["high"].get("ladder") or []
            high_cut = hc if hc is not None else (_ladder_cut(ladder, rw * ppr) if ladder else rp["high"]["cut"])
            low_cut = lc if lc is not None else rp["low"]["cut"]
            gp_rows.append({"cid": cid, "drg": drg, "rw": float(rw), "avg_cost": avg_cost,
                            "high_cut": float(high_cut), "low_cut": float(low_cut),
                            "stable": True if stable is None else bool(stable)})
    combo_t = pa.Table.from_pylist(combo_rows, schema=pa.schema([
        ("cid", pa.int32()), ("payment_category", pa.string()), ("hospital_level", pa.string()),
        ("coef", pa.float64()), ("money_given", pa.float64()), ("high_rule", pa.string()),
        ("low_rule", pa.string()), ("unm_rule", pa.string()), ("unm_disc", pa.float64()),
        ("nw_rule", pa.string()), ("nw_disc", pa.float64()), ("unstable_by_item", pa.bool_()),
        ("excl_min", pa.float64()), ("excl_max", pa.float64()), ("excl_disc", pa.float64()),
        ("sr_los", pa.float64()), ("sr_ratio", pa.float64()), ("sr_icu", pa.float64()),
        ("sr_death_days", pa.float64())]))
    gp_t = pa.Table.from_pylist(gp_rows, schema=pa.schema([
        ("cid", pa.int32()), ("drg", pa.string()), ("rw", pa.float64()), ("avg_cost", pa.float64()),
        ("high_cut", pa.float64()), ("low_cut", pa.float64()), ("stable", pa.bool_())]))
    con.register("_pay_combo", combo_t)
    con.register("_pay_gp", gp_t)
    try:
        # ---- money per RW ----------------------------------------------------------------------------------
        if p["budget"] is None:
            money = None          # per combination (money_given)
        elif p["method"] == "rate":
            # rate = budget / Σ RW_g × n_g over the run's grouped, weighted cases (spec §2.1)
            tw = con.execute("""select sum(g.rw) from _pay_cases c join _pay_combo k using (payment_category,
                                hospital_level) join _pay_gp g on g.cid = k.cid and g.drg = c.drg
                                where c.status = 'SUCCESS'""").fetchall()[0][0]
            if not tw:
                raise EconomicsError("ECON-NODATA 没有带权重的入组病例，无法由预算推算费率 / no weighted cases")
            money = float(p["budget"]) / tw
        else:
            money = None          # point value: solved after the units are known
        m_expr = "k.money_given" if money is None else "$money"
        ratio_ref = (f"g.rw * {m_expr} * k.coef" if p["method"] == "rate"
                     else "coalesce(g.avg_cost, g.rw * $cbar)")
        if p["method"] == "points" and cbar is None and any(r["avg_cost"] is None for r in gp_rows):
            raise EconomicsError("ECON-PARAM 点数法需要权重表的 avg_cost 或参数 overall_mean_cost（全部病例例均费用）"
                                 " / points method needs avg_cost in the weights or overall_mean_cost")
        sql = f"""
        create or replace temp view _pay_out as
        with j as (
          select c.*, k.*, g.rw, g.high_cut, g.low_cut, g.stable,
                 {ratio_ref if p['method'] == 'points' else f'g.rw * coalesce({m_expr}, 0) * k.coef'} as ref_cost
          from _pay_cases c
          join _pay_combo k using (payment_category, hospital_level)
          left join _pay_gp g on g.cid = k.cid and g.drg = c.drg and c.status = 'SUCCESS'
        ), cls as (
          select *, fee_total / nullif(ref_cost, 0) as ratio,
                 case when (excl_max is not null and los_days > excl_max)
                           or (excl_min is not null and los_days < excl_min) then 'excluded'
                      when status = 'QY' or drg like '%QY' then 'qy'
                      when status <> 'SUCCESS' then 'ungrouped'
                      when rw is null then 'no_weight'
                      when not stable and unstable_by_item then 'unstable'
                      when fee_total / nullif(ref_cost, 0) > high_cut then 'high'
                      when fee_total / nullif(ref_cost, 0) < low_cut then 'low'
                      else 'normal' end as case_class
          from j
        ), amt as (
          select *,
            case case_class
              when 'normal' then rw * coef
              when 'high' then rw * coef + case when high_rule = 'base_plus_excess' then rw * (ratio - high_cut)
                                               else 0 end
              when 'low' then case when low_rule = 'pro_rata' then rw * least(ratio, 1.0) else 0 end
              when 'qy' then case when unm_rule = 'fee_points' then fee_total / $cbar_any * unm_disc else 0 end
              when 'ungrouped' then case when unm_rule = 'fee_points' then fee_total / $cbar_any * unm_disc else 0 end
              when 'no_weight' then case when nw_rule = 'fee_points' then fee_total / $cbar_any * nw_disc else 0 end
              else 0 end as units,
            case case_class
              when 'high' then case when high_rule = 'by_item' then fee_total - high_cut * ref_cost else 0 end
              when 'low' then case when low_rule = 'by_item' then fee_total else 0 end
              when 'qy' then case when unm_rule = 'by_item' then fee_total * unm_disc else 0 end
              when 'ungrouped' then case when unm_rule = 'by_item' then fee_total * unm_disc else 0 end
              when 'no_weight' then case when nw_rule = 'by_item' then fee_total * nw_disc else 0 end
              when 'unstable' then fee_total
              when 'excluded' then fee_total * excl_disc
              else 0 end as money
          from cls
        )
        select * from amt
        """
        for k, v in (("$cbar_any", cbar or 1.0), ("$cbar", cbar), ("$money", money)):
            sql = sql.replace(k, "null" if v is None else f"cast({float(v)!r} as double)")
        con.execute(sql)
        src = "_pay_out"
        if p["budget"] is not None and p["method"] == "points":
            # the classification is needed twice (Σ points, then the rows): compute it once
            con.execute("create or replace temp table _pay_out_m as select * from _pay_out")
            src = "_pay_out_m"
            tu = con.execute("select sum(units) from _pay_out_m").fetchall()[0][0]
            if not tu:
                raise EconomicsError("ECON-NODATA 没有点数，无法由预算推算点值 / no points to derive a point value")
            money = float(p["budget"]) / tu      # = PV × points_per_rw; PV = budget / Σ points
        if p["method"] == "points" and p["budget"] is None and any(r["unm_rule"] == "fee_points" for r in
                                                                    combo_rows) and cbar is None:
            raise EconomicsError("ECON-PARAM fee_points 规则需要 overall_mean_cost / fee_points needs "
                                 "overall_mean_cost")
        # ---- run identity --------------------------------------------------------------------------------
        kind = f"drg_{p['method']}"
        ptext, phash = canonical(p)
        run_id = "pay-" + hashlib.sha256(json.dumps([kind, scheme, year, wyear, whash, phash, list(data_fp)],
                                                    default=str).encode()).hexdigest()[:12]
        # cost accounting (migration 0120): one row per case, the primary method's cost of the latest cost run
        has_cost = bool(con.execute("select count(*) from information_schema.tables where table_name = "
                                    "'v_cost_case_primary'").fetchall()[0][0])
        cost_join = ("left join v_cost_case_primary cc on cc.hospital_id = o.hospital_id and cc.mrn = o.mrn and "
                     "cc.admission_no = o.admission_no") if has_cost else ""
        cost_col = "cast(cc.case_cost as double)" if has_cost else "cast(null as double)"
        pay_expr = f"o.units * {'$money' if money is not None else 'o.money_given'} + o.money"
        with transaction(con):
            con.execute("delete from econ_case_payment where run_id = ?", [run_id])
            con.execute("delete from econ_run where run_id = ?", [run_id])
            ins = f"""
            insert into econ_case_payment
            select $run_id, o.hospital_id, o.mrn, o.admission_no, o.drg, o.status, o.dept_code, o.doctor_group,
                   o.payment_category, o.hospital_level, o.discharge_month, o.fee_total, o.rw, o.ref_cost, o.ratio,
                   case when o.case_class = 'high' then o.high_cut end,
                   case when o.case_class = 'low' then o.low_cut end,
                   o.case_class, o.units * $ppr, {pay_expr}, {pay_expr} - o.fee_total,
                   {cost_col}, {pay_expr} - {cost_col},
                   flags <> '', flags
            from (select *, case when (sr_los is not null and los_days > sr_los)
                                   or (sr_ratio is not null and ratio > sr_ratio)
                                   or (sr_icu is not null and icu_hours > sr_icu)
                                   or (sr_death_days is not null and died and los_days <= sr_death_days)
                  then concat_ws(';',
                     case when sr_los is not null and los_days > sr_los then 'los>' || cast(sr_los as integer) end,
                     case when sr_ratio is not null and ratio > sr_ratio then 'ratio>' || sr_ratio end,
                     case when sr_icu is not null and icu_hours > sr_icu then 'icu_hours>' || sr_icu end,
                     case when sr_death_days is not null and died and los_days <= sr_death_days
                          then 'death_within_' || cast(sr_death_days as integer) || 'd' end) else '' end as flags
                  from {src}) o {cost_join}"""
            a = {"run_id": run_id, "ppr": ppr}
            if money is not None:
                a["money"] = money
            con.execute("set preserve_insertion_order = false")     # parallel write; rows have no order
            try:
                con.execute(ins, a)
            finally:
                con.execute("reset preserve_insertion_order")
            summary = run_summary(con, run_id)
            summary.update({"scheme": scheme, "year": year, "weight_year": wyear, "weights_source": wsource,
                            "method": p["method"], "params_file": p.get("_file"), "params_hash": phash})
            if money is not None:
                summary["money_per_rw"] = money
                if p["method"] == "points":
                    summary["point_value"] = money / ppr
            con.execute("insert into econ_run (run_id, kind, scheme, year, weight_year, weights_hash, params_json, "
                        "params_hash, money_per_rw, point_value, summary_json) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, kind, scheme, year, wyear, whash, ptext, phash, money,
                         (money / ppr) if (money is not None and p["method"] == "points") else
                         (p.get("point_value") if p["method"] == "points" else None),
                         json.dumps(summary, ensure_ascii=False, default=str)])
    finally:
        con.execute("drop table if exists _pay_out_m")
        con.execute("drop view if exists _pay_out")
        con.execute("drop view if exists _pay_cases")
        for t in ("_pay_combo", "_pay_gp"):
            con.unregister(t)
    return PayResult(run_id, summary)


def run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    rows = con.execute("""
        select count(*), sum(fee_total), sum(expected_payment), sum(margin_charges),
               count(*) filter (where special_review), sum(margin_cost), count(case_cost)
        from econ_case_payment where run_id = ?""", [run_id]).fetchall()[0]
    classes = dict(con.execute("select case_class, count(*) from econ_case_payment where run_id = ? group by 1 "
                               "order by 1", [run_id]).fetchall())
    n = rows[0] or 0
    return {"run_id": run_id, "cases": n, "fees": rows[1], "expected_payment": rows[2], "margin": rows[3],
            "by_class": classes, "special_review": rows[4],
            "special_review_share": (rows[4] / n) if n else None,
            "margin_cost": rows[5] if rows[6] else None}


LEVELS = {"group": ("group_code",), "department": ("dept_code",), "doctor_group": ("dept_code", "doctor_group"),
          "hospital": ("hospital_id",)}


def margins(con: duckdb.DuckDBPyConnection, run_id: str, level: str = "group", top: int | None = None,
            worst_first: bool = True) -> list[dict]:
    """盈亏 by DRG group / department / doctor group: cases, fees, payment, margin, mean margin, 高/低倍率 share."""
    if level not in LEVELS:
        raise EconomicsError(f"ECON-PARAM level 应为 {'/'.join(LEVELS)} / level must be one of {list(LEVELS)}")
    keys = ", ".join(LEVELS[level])
    sql = f"""
        select {keys}, count(*) as cases, sum(fee_total) as fees, sum(expected_payment) as payment,
               sum(margin_charges) as margin, avg(margin_charges) as mean_margin,
               avg(base_rw) as mean_rw,
               count(*) filter (where case_class = 'high') / count(*) as high_share,
               count(*) filter (where case_class = 'low') / count(*) as low_share,
               sum(margin_cost) as margin_cost
        from econ_case_payment where run_id = ?
        group by {keys} order by margin {'asc' if worst_first else 'desc'}, {keys}
        {f'limit {int(top)}' if top else ''}"""
    cur = con.execute(sql, [run_id])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


CLASS_ZH = {"normal": "正常病例", "high": "高倍率病例", "low": "低倍率病例", "ungrouped": "未入组病例", "qy": "歧义组病例",
            "no_weight": "无权重病组", "unstable": "非稳定病组", "excluded": "排除病例（按项目）",
            "extreme": "极端异常病例", "unmatched": "空白病组"}


def explain_payment(con: duckdb.DuckDBPyConnection, run_id: str, mrn: str, admission_no: int | None = None,
                    hospital_id: str | None = None) -> list[str]:
    """Chinese lines saying how one case's expected payment was obtained in a run (class, ratio, cut, formula)."""
    run = con.execute("select kind, params_json, money_per_rw, point_value from econ_run where run_id = ?",
                      [run_id]).fetchall()
    if not run:
        raise EconomicsError(f"ECON-RUN 没有运行 {run_id!r} / no run {run_id!r}")
    kind, ptext, money, pv = run[0]
    where = ["run_id = ?", "mrn = ?"]
    args: list = [run_id, mrn]
    if admission_no is not None:
        where.append("admission_no = ?")
        args.append(admission_no)
    if hospital_id is not None:
        where.append("hospital_id = ?")
        args.append(hospital_id)
    rows = con.execute(f"select hospital_id, mrn, admission_no, group_code, status, fee_total, base_rw, ref_cost, "
                       f"ratio, high_cut, low_cut, case_class, points, expected_payment, margin_charges, flags, "
                       f"payment_category, hospital_level from econ_case_payment where {' and '.join(where)}",
                       args).fetchall()
    if not rows:
        raise EconomicsError(f"ECON-RUN 运行 {run_id} 中没有病案 {mrn} / case not in run")
    out = []
    for (h, m, a, g, st, fee, rw, ref, r, hc, lc, cls, pts, pay, margin, flags, pc, lvl) in rows:
        unit = {"dip": "分值", "drg_points": "点数", "drg_rate": "支付 RW 当量"}[kind]
        ppr = json.loads(ptext).get("points_per_rw", 100) if kind == "drg_rate" else 1
        out.append(f"病案 {h}/{m}/{a}：组 {g}（{st}），医保类别 {pc or '-'}，医院等级 {lvl or '-'}，"
                   f"住院总费用 {fee:,.2f} 元")
        ref_name = {"drg_rate": "病组支付标准 Std = RW × 费率 × 系数", "drg_points": "病组例均费用 C_g",
                    "dip": "病种次均费用"}[kind]
        if r is not None:
            out.append(f"  费用比 r = 费用 / {ref_name} = {fee:,.2f} / {ref:,.2f} = {r:.4f}")
        base = "基准分值" if kind == "dip" else "RW"
        rw_txt = "-" if rw is None else f"{rw:.4f}"
        if cls == "high":
            out.append(f"  {CLASS_ZH[cls]}：r > {hc:g}；{unit} = 基准 + {base} × (r − {hc:g})（{base} {rw_txt}）")
        elif cls == "low":
            out.append(f"  {CLASS_ZH[cls]}：r < {lc:g}；按比例 {base} × r（或按项目，视参数）")
        else:
            out.append(f"  {CLASS_ZH.get(cls, cls)}（{base} {rw_txt}）")
        m_txt = (f"，每 RW {money:,.2f} 元" if money and kind != "dip" else "") + (f"，点值 {pv:.4f}" if pv else "")
        out.append(f"  {unit} {(pts or 0) / ppr:,.4f}{m_txt} → 预计支付 {pay:,.2f} 元，盈亏 {margin:+,.2f} 元")
        if flags:
            out.append(f"  特病单议/提示：{flags}")
    out.append(f"  参数：运行 {run_id}（{kind}），参数哈希见 econ_run.params_hash")
    return out
