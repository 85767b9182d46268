"""Relative weights (RW) and benchmarks: import published tables, or calibrate RW from own history (spec §1.3).

Calibration (``calibrate``): cases of one scheme and year grouped SUCCESS, LOS ≤ ``los_max``, charges > 0
→ per-group outlier trimming (IQR fence / mean ± 3 SD / ln mean ± 3 SD / percentile cut) →
``RW_g = C_g(trimmed) / C̄(trimmed, all groups)`` → normalised so the case-weighted mean RW over the calibration
population (cases before trimming) is 1 → quality statistics per group (n, CV) and for the scheme (RIV).
Groups with fewer than ``min_cases`` cases or ``CV ≥ cv_max`` are flagged 非稳定病组 (stable = false).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from yunying.economics.errors import EconomicsError
from yunying.economics.tables import need_columns, num, read_rows
from yunying.economics.views import create_views
from yunying.warehouse.db import transaction

TRIM_METHODS = ("iqr", "sd3", "log_sd3", "percentile", "none")


@dataclass
class CalibrationParams:
    trim: str = "iqr"                 # iqr: Q1−1.5·IQR … Q3+1.5·IQR; sd3: mean ± 3 SD; log_sd3: on ln charges
    percentile_low: float = 0.025     # used by trim = percentile
    percentile_high: float = 0.975
    los_max: int = 60                 # exclusion: LOS > los_max days
    min_cases: int = 5                # fewer cases → 非稳定病组 [threshold unconfirmed, configurable]
    cv_max: float = 1.0               # CV ≥ cv_max → 非稳定病组 (spec §1.3 step 8, commonly quoted)
    hospital_id: str | None = None    # calibrate on one hospital only (default: every hospital in the warehouse)
    pool_years: tuple = ()            # further years pooled with the calibration year (equal weight per case)
    price_index: dict = field(default_factory=dict)   # {year: factor}: charges × factor (older years to current
    #                                                    prices); years not listed keep factor 1


@dataclass
class CalibrationReport:
    scheme: str
    year: int
    cases: int                        # calibration population (after exclusions)
    cases_kept: int                   # after trimming
    excluded: dict = field(default_factory=dict)
    overall_mean: float = 0.0         # C̄ after normalisation (RW_g × overall_mean = C_g)
    raw_overall_mean: float = 0.0     # C̄ of trimmed cases before normalisation
    normaliser: float = 1.0
    riv: float | None = None
    groups: int = 0
    unstable: list = field(default_factory=list)   # [(drg, n, cv, reason)]
    content_hash: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _weights_hash(rows: list[tuple]) -> str:
    canon = json.dumps([[r[0], round(float(r[1]), 10)] + [None if v is None else (round(v, 6) if isinstance(
        v, float) else v) for v in r[2:]] for r in sorted(rows, key=lambda r: r[0])], ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


def _store(con, scheme: str, year: int, source: str, method: dict, overall_mean: float | None,
           rows: list[tuple]) -> str:
    """rows: (drg, rw, avg_cost, avg_los, high_cut, low_cut, n_cases, n_trimmed, cv, stable, note)."""
    h = _weights_hash(rows)
    with transaction(con):
        con.execute("delete from econ_weight where scheme = ? and year = ?", [scheme, year])
        con.execute("delete from econ_weight_set where scheme = ? and year = ?", [scheme, year])
        con.execute("insert into econ_weight_set (scheme, year, source, method_json, overall_mean, content_hash) "
                    "values (?, ?, ?, ?, ?, ?)",
                    [scheme, year, source, json.dumps(method, ensure_ascii=False, sort_keys=True), overall_mean, h])
        con.executemany("insert into econ_weight values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(scheme, year) + tuple(r) for r in rows])
    return h


def _keep_expr(p: CalibrationParams) -> str:
    if p.trim == "iqr":
        return "f between q1 - 1.5 * (q3 - q1) and q3 + 1.5 * (q3 - q1)"
    if p.trim == "sd3":
        return "(sd is null or f between m - 3 * sd and m + 3 * sd)"
    if p.trim == "log_sd3":
        return "(lsd is null or ln(f) between lm - 3 * lsd and lm + 3 * lsd)"
    if p.trim == "percentile":
        return "f between plo and phi"
    return "true"


def calibrate(con: duckdb.DuckDBPyConnection, scheme: str, year: int,
              params: CalibrationParams | None = None, *, store: bool = True) -> tuple[CalibrationReport, list]:
    """Calibrate RW for ``scheme`` from the warehouse's own cases discharged in ``year``."""
    p = params or CalibrationParams()
    if p.trim not in TRIM_METHODS:
        raise EconomicsError(f"ECON-PARAM 修剪方法 {p.trim!r} 无效，可选 {'/'.join(TRIM_METHODS)} / invalid trim "
                             f"method {p.trim!r}")
    create_views(con)
    hosp = "and hospital_id = $hosp" if p.hospital_id else ""
    all_years = sorted({int(year), *(int(y) for y in p.pool_years)})
    years = ", ".join(str(y) for y in all_years)
    price = ("(case year " + " ".join(f"when {int(y)} then {float(f)!r}" for y, f in p.price_index.items())
             + " else 1.0 end)") if p.price_index else "1.0"
    args = {"scheme": scheme, "los_max": p.los_max}
    if p.hospital_id:
        args["hosp"] = p.hospital_id
    counts = con.execute(f"""
        select count(*), count(*) filter (where not grouped), count(*) filter (where grouped and los_days > $los_max),
               count(*) filter (where grouped and (los_days is null or los_days <= $los_max)
                                and (fee_total is null or fee_total <= 0))
        from drg_metric_base where scheme = $scheme and year in ({years}) {hosp}""", args).fetchall()[0]
    total, not_grouped, long_stay, no_fee = counts
    if total == 0:
        raise EconomicsError(f"ECON-NODATA 方案 {scheme!r} 在 {years} 年没有分组结果，请先执行 yunying drg run / "
                             f"no grouped cases for scheme {scheme!r} in {year}")
    args.update(plo=p.percentile_low, phi=p.percentile_high)
    rows = con.execute(f"""
        with c as (
          select drg, fee_total * {price} as f, los_days from drg_metric_base
          where scheme = $scheme and year in ({years}) and grouped and (los_days is null or los_days <= $los_max)
                and fee_total > 0 {hosp}
        ), s as (
          select drg, count(*) as n, avg(f) as m, stddev_samp(f) as sd,
                 quantile_cont(f, 0.25) as q1, quantile_cont(f, 0.75) as q3,
                 quantile_cont(f, $plo) as plo, quantile_cont(f, $phi) as phi,
                 avg(ln(f)) as lm, stddev_samp(ln(f)) as lsd
          from c group by drg
        ), k as (
          select c.drg, c.f, c.los_days, s.n from c join s using (drg) where {_keep_expr(p)}
        ), t as (
          select drg, any_value(n) as n, count(*) as n_trim, avg(f) as c_g, avg(los_days) as l_g,
                 coalesce(stddev_samp(f), 0) / nullif(avg(f), 0) as cv
          from k group by drg
        ), allm as (select avg(f) as cbar, count(*) as kept from k),
        ss as (
          select sum((k.f - t.c_g) * (k.f - t.c_g)) as ss_within,
                 sum((k.f - allm.cbar) * (k.f - allm.cbar)) as ss_total
          from k join t using (drg), allm
        )
        select t.drg, t.n, t.n_trim, t.c_g, t.l_g, t.cv, allm.cbar, allm.kept, ss.ss_within, ss.ss_total
        from t, allm, ss order by t.drg""", args).fetchall()
    if not rows:
        raise EconomicsError(f"ECON-NODATA 方案 {scheme!r} {year} 年没有可用于校准的入组病例 / no usable cases")
    cbar = rows[0][6]
    n_all = sum(r[1] for r in rows)
    raw = {r[0]: r[3] / cbar for r in rows}
    normaliser = sum(raw[r[0]] * r[1] for r in rows) / n_all     # case-weighted mean of raw RW
    ss_w, ss_t = rows[0][8], rows[0][9]
    riv = (1 - ss_w / ss_t) if ss_t else None
    out, unstable = [], []
    for drg, n, n_trim, c_g, l_g, cv, *_ in rows:
        reasons = []
        if n < p.min_cases:
            reasons.append(f"病例数 {n} < {p.min_cases}")
        if cv is not None and cv >= p.cv_max:
            reasons.append(f"CV {cv:.2f} ≥ {p.cv_max}")
        stable = not reasons
        if reasons:
            unstable.append((drg, n, cv, "；".join(reasons)))
        out.append((drg, raw[drg] / normaliser, c_g, l_g, None, None, n, n_trim, cv, stable,
                    "；".join(reasons) or None))
    method = asdict(p) | {"year": year, "years_used": all_years}
    report = CalibrationReport(
        scheme=scheme, year=year, cases=n_all, cases_kept=rows[0][7],
        excluded={"not_grouped": not_grouped, "los_over_max": long_stay, "no_charges": no_fee},
        overall_mean=cbar * normaliser, raw_overall_mean=cbar, normaliser=normaliser, riv=riv,
        groups=len(out), unstable=unstable)
    if store:
        report.content_hash = _store(con, scheme, year, "calibrate", method, cbar * normaliser, out)
    else:
        report.content_hash = _weights_hash(out)
    return report, out


# ------------------------------------------------------------------------------------------------------------
# import
# ------------------------------------------------------------------------------------------------------------

WEIGHT_COLUMNS = ("drg", "rw", "avg_cost", "avg_los", "high_cut", "low_cut", "n_cases", "stable", "note")
ALIASES = {"权重": "rw", "相对权重": "rw", "drg编码": "drg", "drg_code": "drg", "病组编码": "drg",
           "例均费用": "avg_cost", "平均费用": "avg_cost", "mean_cost": "avg_cost", "平均住院日": "avg_los",
           "mean_los": "avg_los", "方案": "scheme", "年度": "year", "病例数": "n_cases", "cases": "n_cases"}


def _canon(rows):
    return [(i, {ALIASES.get(k, k): v for k, v in r.items()}) for i, r in rows]


def _year_of(path, i, r, year):
    y = r.get("year", "")
    if year is not None:
        if y and y != str(year):
            raise EconomicsError(f"ECON-VALUE {path} 第{i}行 年度 {y} 与指定的 --year {year} 不一致 / row {i}: "
                                 f"year {y} differs from --year {year}")
        return year
    if not y:
        raise EconomicsError(f"ECON-VALUE {path} 第{i}行 缺少年度（文件加 year 列或用 --year 指定）/ row {i}: "
                             f"no year (add a year column or pass --year)")
    try:
        return int(float(y))
    except ValueError:
        raise EconomicsError(f"ECON-VALUE {path} 第{i}行 字段【year】值 {y!r} 不是年份 / row {i}: bad year") from None


def import_weights(con: duckdb.DuckDBPyConnection, scheme: str, path: Path, year: int | None = None,
                   overall_mean: float | None = None) -> dict[int, dict]:
    """Import a published weight table (CSV/xlsx; columns in docs/drg-economics.md). Returns {year: summary}."""
    path = Path(path)
    rows = _canon(read_rows(path))
    need_columns(path, rows, ["drg", "rw"])
    by_year: dict[int, dict[str, tuple]] = {}
    for i, r in rows:
        if r.get("scheme") and r["scheme"] != scheme:
            raise EconomicsError(f"ECON-VALUE {path} 第{i}行 方案 {r['scheme']!r} 与 --scheme {scheme!r} 不一致 / "
                                 f"row {i}: scheme differs")
        y = _year_of(path, i, r, year)
        drg = r["drg"]
        if not drg:
            raise EconomicsError(f"ECON-VALUE {path} 第{i}行 字段【drg】为空 / {path} row {i}: drg is empty")
        rw = num(path, i, "rw", r["rw"], required=True, positive=True)
        stable_txt = r.get("stable", "").lower()
        stable = None if not stable_txt else stable_txt in ("1", "true", "yes", "是", "y")
        n_cases = num(path, i, "n_cases", r.get("n_cases", ""), nonneg=True)
        rec = (drg, rw, num(path, i, "avg_cost", r.get("avg_cost", ""), positive=True),
               num(path, i, "avg_los", r.get("avg_los", ""), nonneg=True),
               num(path, i, "high_cut", r.get("high_cut", ""), positive=True),
               num(path, i, "low_cut", r.get("low_cut", ""), nonneg=True),
               None if n_cases is None else int(n_cases), None, None, stable, r.get("note") or None)
        got = by_year.setdefault(y, {})
        if drg in got:
            raise EconomicsError(f"ECON-DUP {path} 第{i}行 DRG {drg} 在 {y} 年重复 / {path} row {i}: duplicate "
                                 f"DRG {drg} for {y}")
        got[drg] = rec
    if not by_year:
        raise EconomicsError(f"ECON-FILE {path} 没有数据行 / no data rows")
    out = {}
    for y, recs in sorted(by_year.items()):
        om = overall_mean
        h = _store(con, scheme, y, f"import:{path.name}", {"file": str(path), "year": y}, om, list(recs.values()))
        out[y] = {"groups": len(recs), "content_hash": h}
    return out


def import_pack_weights(con: duckdb.DuckDBPyConnection, scheme: str, year: int | None = None) -> dict[int, dict]:
    """Import the optional ``weights.csv`` extra table stored with a registered scheme pack; an optional
    ``thresholds.csv`` extra table (drg, high_cut, low_cut) is merged into it by DRG."""
    import csv
    import io
    import tempfile

    files = dict(con.execute("select file_name, content from drg_scheme_file where scheme = ? and file_name in "
                             "('weights.csv', 'thresholds.csv')", [scheme]).fetchall())
    if "weights.csv" not in files:
        raise EconomicsError(f"ECON-FILE 方案 {scheme!r} 的方案包中没有 weights.csv，请指定权重文件 / scheme pack "
                             f"{scheme!r} has no weights.csv; give a weights file")
    text = files["weights.csv"]
    if "thresholds.csv" in files:
        cuts = {r["drg"]: r for r in csv.DictReader(io.StringIO(files["thresholds.csv"]))}
        rows = list(csv.DictReader(io.StringIO(text)))
        cols = list(rows[0]) if rows else ["drg", "rw"]
        for c in ("high_cut", "low_cut"):
            if c not in cols:
                cols.append(c)
        for r in rows:
            for c in ("high_cut", "low_cut"):
                if cuts.get(r.get("drg"), {}).get(c):
                    r[c] = cuts[r["drg"]][c]
        buf = io.StringIO()
        w = csv.DictWriter(buf, cols, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        text = buf.getvalue()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"{scheme}-weights.csv"
        p.write_text(text, encoding="utf-8")
        return import_weights(con, scheme, p, year)


BENCH_ALIASES = {"avg_cost": "mean_cost", "例均费用": "mean_cost", "avg_los": "mean_los", "平均住院日": "mean_los",
                 "病例数": "cases", "n_cases": "cases", "死亡数": "deaths", "死亡率": "mortality",
                 "风险等级": "risk_level", "drg编码": "drg", "drg_code": "drg", "年度": "year", "地区": "region"}


def import_benchmark(con: duckdb.DuckDBPyConnection, scheme: str, path: Path, year: int | None = None,
                     region: str = "") -> dict[int, int]:
    """Import a per-DRG benchmark table (regional / national averages). Returns {year: rows}."""
    path = Path(path)
    rows = [(i, {BENCH_ALIASES.get(k, k): v for k, v in r.items()}) for i, r in read_rows(path)]
    need_columns(path, rows, ["drg"])
    have = set(rows[0][1]) if rows else set()
    if not have & {"mean_cost", "mean_los", "mortality", "deaths", "risk_level"}:
        raise EconomicsError(f"ECON-COLUMNS {path} 至少需要 mean_cost / mean_los / mortality / deaths / risk_level "
                             f"之一 / needs at least one of mean_cost, mean_los, mortality, deaths, risk_level")
    by_year: dict[int, dict[str, tuple]] = {}
    for i, r in rows:
        y = _year_of(path, i, r, year)
        if not r["drg"]:
            raise EconomicsError(f"ECON-VALUE {path} 第{i}行 字段【drg】为空 / row {i}: drg is empty")
        mort = num(path, i, "mortality", r.get("mortality", ""), nonneg=True)
        if mort is not None and mort > 1:
            raise EconomicsError(f"ECON-VALUE {path} 第{i}行 字段【mortality】值 {mort} 应为 0–1 的比例 / row {i}: "
                                 f"mortality must be a fraction 0–1")
        lvl = num(path, i, "risk_level", r.get("risk_level", ""), nonneg=True)
        if lvl is not None and lvl not in (0, 1, 2, 3, 4):
            raise EconomicsError(f"ECON-VALUE {path} 第{i}行 字段【risk_level】值 {r['risk_level']!r} 应为 0–4 / "
                                 f"row {i}: risk_level must be 0-4")
        cases = num(path, i, "cases", r.get("cases", ""), nonneg=True)
        deaths = num(path, i, "deaths", r.get("deaths", ""), nonneg=True)
        rec = (scheme, y, r["drg"], r.get("region") or region,
               num(path, i, "mean_cost", r.get("mean_cost", ""), positive=True),
               num(path, i, "mean_los", r.get("mean_los", ""), positive=True),
               None if cases is None else int(cases), None if deaths is None else int(deaths), mort,
               None if lvl is None else int(lvl), num(path, i, "rw", r.get("rw", ""), positive=True), path.name)
        got = by_year.setdefault(y, {})
        if r["drg"] in got:
            raise EconomicsError(f"ECON-DUP {path} 第{i}行 DRG {r['drg']} 重复 / row {i}: duplicate DRG")
        got[r["drg"]] = rec
    with transaction(con):
        for y, recs in by_year.items():
            con.execute("delete from econ_benchmark where scheme = ? and year = ?", [scheme, y])
            con.executemany("insert into econ_benchmark (scheme, year, drg, region, mean_cost, mean_los, cases, "
                            "deaths, mortality, risk_level, rw, source) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            list(recs.values()))
    return {y: len(v) for y, v in by_year.items()}
