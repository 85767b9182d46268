"""`yunying drg weights|benchmark|pay|margins|metrics|dip` — DRG/DIP economics (issue 4).

Registered on the `yunying drg` group (yunying/cli/drg.py) without editing it. Parse → call yunying.economics →
print. Data and parameter problems exit non-zero with a Chinese + English message, never a traceback.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.model.safe_cells import csv_writer
from yunying.cli.common import DbOpt, console, fail, open_db
from yunying.cli.drg import app as drg_app
from yunying.economics.errors import EconomicsError

weights_app = typer.Typer(help="DRG 权重 / relative weights: calibrate from own history, import published tables.",
                          no_args_is_help=True)
benchmark_app = typer.Typer(help="DRG 标杆 / per-DRG benchmarks (regional or national averages).",
                            no_args_is_help=True)
drg_app.add_typer(weights_app, name="weights")
drg_app.add_typer(benchmark_app, name="benchmark")

SchemeOpt = Annotated[str, typer.Option("--scheme", help="已登记的方案名 registered scheme name")]
FormatOpt = Annotated[str, typer.Option("--format", help="text | csv | json")]

DEMO_RATE = 16000.0   # 演示费率 ¥/RW, see yunying/economics/params/demo-rate.yaml


def _err(e: Exception) -> None:
    text = str(e)
    zh, _, en = text.partition(" / ")
    fail(zh, en or zh, 2)


def _emit(rows: list[dict], fmt: str, columns: list[str] | None = None) -> None:
    cols = columns or (list(rows[0]) if rows else [])
    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv_writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]) for c in cols])
        print(buf.getvalue(), end="")
    else:
        for r in rows:
            print("  ".join(f"{c}={_fmt(r.get(c))}" for c in cols))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def _check_format(fmt: str) -> None:
    if fmt not in ("text", "csv", "json"):
        fail(f"--format 应为 text/csv/json，收到 {fmt!r}", f"--format must be text, csv or json, got {fmt!r}", 2)


# ------------------------------------------------------------------------------------------------------------
# weights / benchmark
# ------------------------------------------------------------------------------------------------------------


@weights_app.command("calibrate")
def weights_calibrate_cmd(
    scheme: SchemeOpt,
    year: Annotated[int, typer.Option("--year", help="校准年度 calibration year")],
    db: DbOpt = None,
    trim: Annotated[str, typer.Option(help="离群值修剪 iqr | sd3 | log_sd3 | percentile | none")] = "iqr",
    los_max: Annotated[int, typer.Option(help="排除住院天数大于此值的病例 / exclude LOS > days")] = 60,
    min_cases: Annotated[int, typer.Option(help="少于此病例数为非稳定病组 / fewer cases → unstable")] = 5,
    hospital: Annotated[Optional[str], typer.Option(help="只用一家医院的数据 / one hospital only")] = None,
    pool_years: Annotated[str, typer.Option(help="合并的其他年度 further years pooled, e.g. 2019,2020")] = "",
    price_index: Annotated[str, typer.Option(help="价格指数 charges × factor per year, e.g. 2020=1.05,2021=1.02")
                           ] = "",
    out: Annotated[Optional[Path], typer.Option("--out", help="另存权重表 CSV / also write the weights CSV")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """按本院/本地区历史数据校准 RW（修剪离群值、例均费用/总例均费用、归一化）/ Calibrate RW from own history."""
    from yunying.economics.weights import CalibrationParams, calibrate

    try:
        pool = tuple(int(y) for y in pool_years.split(",") if y.strip())
        prices = {int(k): float(v) for k, v in (kv.split("=") for kv in price_index.split(",") if kv.strip())}
    except ValueError:
        fail(f"--pool-years / --price-index 格式错误：{pool_years!r} {price_index!r}（例：2020,2021 与 2020=1.05）",
             "bad --pool-years / --price-index (e.g. 2020,2021 and 2020=1.05)", 2)
    with open_db(db) as con:
        try:
            rep, rows = calibrate(con, scheme, year, CalibrationParams(
                trim=trim, los_max=los_max, min_cases=min_cases, hospital_id=hospital, pool_years=pool,
                price_index=prices))
        except EconomicsError as e:
            _err(e)
    if out:
        with out.open("w", encoding="utf-8", newline="") as f:
            w = csv_writer(f, lineterminator="\n")
            w.writerow(["scheme", "year", "drg", "rw", "avg_cost", "avg_los", "n_cases", "n_trimmed", "cv", "stable",
                        "note"])
            for drg, rw, c, l_, _h, _l, n, nt, cv, st, note in rows:
                w.writerow([scheme, year, drg, f"{rw:.6f}", f"{c:.2f}", "" if l_ is None else f"{l_:.2f}", n, nt,
                            "" if cv is None else f"{cv:.4f}", "1" if st else "0", note or ""])
    if json_out:
        print(json.dumps(rep.as_dict(), ensure_ascii=False, indent=1, default=str))
        return
    console.print(f"权重校准 calibrated {scheme} {year}: {rep.groups} 组 groups, {rep.cases:,} 例 cases "
                  f"(修剪后 kept {rep.cases_kept:,}); 排除 excluded {rep.excluded}")
    riv = "-" if rep.riv is None else f"{rep.riv:.1%}"
    console.print(f"  C̄ (归一化后) {rep.overall_mean:,.2f} 元; 归一化系数 normaliser {rep.normaliser:.4f}; RIV {riv}")
    console.print(f"  非稳定病组 unstable groups (病例过少或 CV≥1): {len(rep.unstable)}")
    for drg, n, cv, why in rep.unstable[:20]:
        console.print(f"    {drg}  n={n}  CV={'-' if cv is None else f'{cv:.2f}'}  {why}")
    if len(rep.unstable) > 20:
        console.print(f"    … {len(rep.unstable) - 20} more (use --json or --out)")
    console.print(f"  权重哈希 weights hash {rep.content_hash[:16]}" + (f"; 已写出 written {out}" if out else ""))


@weights_app.command("import")
def weights_import_cmd(
    scheme: SchemeOpt,
    file: Annotated[Optional[Path], typer.Argument(help="权重表 CSV/xlsx（省略则用方案包中的 weights.csv）")] = None,
    db: DbOpt = None,
    year: Annotated[Optional[int], typer.Option(help="年度（文件无 year 列时必填）")] = None,
    overall_mean: Annotated[Optional[float], typer.Option(help="全部病例例均费用 C̄（点数法需要时）")] = None,
) -> None:
    """导入已公布的 DRG 权重表 / Import a published weight table (format: docs/drg-economics.md)."""
    from yunying.economics.weights import import_pack_weights, import_weights

    with open_db(db) as con:
        try:
            res = (import_weights(con, scheme, file, year, overall_mean) if file
                   else import_pack_weights(con, scheme, year))
        except EconomicsError as e:
            _err(e)
    for y, s in res.items():
        console.print(f"已导入权重 imported weights {scheme} {y}: {s['groups']} 组 groups, hash "
                      f"{s['content_hash'][:16]}")


@weights_app.command("list")
def weights_list_cmd(db: DbOpt = None) -> None:
    """列出已有权重集 / List weight sets."""
    with open_db(db) as con:
        rows = con.execute("select s.scheme, s.year, s.source, count(w.drg), s.overall_mean, s.content_hash, "
                           "s.created_at from econ_weight_set s left join econ_weight w using (scheme, year) "
                           "group by all order by 1, 2").fetchall()
    for sc, y, src, n, om, h, at in rows:
        print(f"{sc}\t{y}\t{src}\t{n} groups\tC̄={'-' if om is None else f'{om:,.2f}'}\t{h[:16]}\t{at}")


@benchmark_app.command("import")
def benchmark_import_cmd(
    scheme: SchemeOpt,
    file: Annotated[Path, typer.Argument(help="标杆表 CSV/xlsx")],
    db: DbOpt = None,
    year: Annotated[Optional[int], typer.Option(help="年度（文件无 year 列时必填）")] = None,
    region: Annotated[str, typer.Option(help="标杆来源地区 region label, e.g. 浙江省2022")] = "",
) -> None:
    """导入每个 DRG 的标杆（例均费用、平均住院日、死亡率/风险等级）/ Import per-DRG benchmarks."""
    from yunying.economics.weights import import_benchmark

    with open_db(db) as con:
        try:
            res = import_benchmark(con, scheme, file, year, region)
        except EconomicsError as e:
            _err(e)
    for y, n in res.items():
        console.print(f"已导入标杆 imported benchmark {scheme} {y}: {n} DRGs")


# ------------------------------------------------------------------------------------------------------------
# payment
# ------------------------------------------------------------------------------------------------------------


@drg_app.command("pay")
def pay_cmd(
    scheme: SchemeOpt,
    db: DbOpt = None,
    method: Annotated[Optional[str], typer.Option(help="rate 费率法 | points 点数法（默认取参数文件）")] = None,
    params: Annotated[Optional[Path], typer.Option("--params", help="支付参数 YAML，或内置参数名 demo-rate / "
                      "zhejiang-style-points / payment parameter file or a bundled set's name")] = None,
    year: Annotated[Optional[int], typer.Option(help="出院年度 discharge year")] = None,
    weight_year: Annotated[Optional[int], typer.Option(help="使用哪年的权重（默认：不晚于出院年度的最近一年）")] = None,
    rate: Annotated[Optional[float], typer.Option(help="费率 ¥/RW（覆盖参数文件）")] = None,
    point_value: Annotated[Optional[float], typer.Option(help="点值 ¥/点（覆盖参数文件）")] = None,
    budget: Annotated[Optional[float], typer.Option(help="预算总额：由此推算费率或点值")] = None,
    top: Annotated[int, typer.Option("--top", help="列出亏损最多的 N 个病组 / worst N groups")] = 10,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """付费模拟与盈亏 / simulate DRG payment (费率法/点数法) and 盈亏.

    高/低倍率、未入组/歧义组、特病单议标记；逐例结果写入 econ_case_payment，参数与哈希记入 econ_run。
    """
    from yunying.economics.params import params_path
    from yunying.economics.payment import margins, simulate

    if method not in (None, "rate", "points"):
        fail(f"--method 应为 rate 或 points，收到 {method!r}", "--method must be rate or points", 2)
    ov = {}
    if rate is not None:
        ov["rate"] = rate
    if point_value is not None:
        ov["point_value"] = point_value
    if budget is not None:
        ov["budget"] = budget
    with open_db(db) as con:
        try:
            res = simulate(con, scheme, method=method, params_file=params_path(params), year=year,
                           weight_year=weight_year, overrides=ov)
            worst = margins(con, res.run_id, "group", top)
            depts = margins(con, res.run_id, "department", 5)
        except EconomicsError as e:
            _err(e)
    s = res.summary
    if json_out:
        print(json.dumps({"summary": s, "worst_groups": worst, "worst_departments": depts}, ensure_ascii=False,
                         indent=1, default=str))
        return
    m = "费率法 rate" if s["method"] == "rate" else "点数法 points"
    console.print(f"DRG 付费模拟 {m} — run {s['run_id']}，方案 {s['scheme']}，年度 {s['year'] or '全部'}，"
                  f"权重 {s['weight_year']}（{s['weights_source']}），参数哈希 {s['params_hash'][:12]}")
    if s.get("money_per_rw"):
        extra = f"，点值 {s['point_value']:.4f}" if s.get("point_value") else ""
        console.print(f"  由预算推算 from budget: ¥{s['money_per_rw']:,.2f} / RW{extra}")
    console.print(f"  病例 {s['cases']:,}  费用 ¥{s['fees']:,.0f}  预计支付 ¥{s['expected_payment']:,.0f}  "
                  f"盈亏 margin ¥{s['margin']:,.0f}")
    console.print("  分类 classes: " + "，".join(f"{k} {v:,}" for k, v in s["by_class"].items())
                  + f"；特病单议候选 special review {s['special_review']:,} ({(s['special_review_share'] or 0):.1%})")
    if worst:
        console.print(f"  亏损最多的病组 worst {len(worst)} groups:")
        for r in worst:
            console.print(f"    {r['group_code']:<8} 例数 {r['cases']:>5,}  费用 ¥{r['fees']:>12,.0f}  支付 "
                          f"¥{r['payment']:>12,.0f}  盈亏 ¥{r['margin']:>11,.0f}  高倍率 {r['high_share']:.0%}")
    print(s["run_id"])


@drg_app.command("margins")
def margins_cmd(
    run: Annotated[str, typer.Option("--run", help="run id printed by yunying drg pay / dip")],
    db: DbOpt = None,
    level: Annotated[str, typer.Option(help="group | department | doctor_group | hospital")] = "group",
    top: Annotated[Optional[int], typer.Option("--top")] = None,
    fmt: FormatOpt = "csv",
) -> None:
    """按病组/科室/医疗组汇总盈亏（亏损最多在前）/ 盈亏 by group, department or doctor group (worst first)."""
    from yunying.economics.payment import margins

    _check_format(fmt)
    with open_db(db) as con:
        try:
            if not con.execute("select count(*) from econ_run where run_id = ?", [run]).fetchall()[0][0]:
                raise EconomicsError(f"ECON-RUN 没有运行 {run!r} / no run {run!r}")
            rows = margins(con, run, level, top)
        except EconomicsError as e:
            _err(e)
    _emit(rows, fmt)


@drg_app.command("pay-explain")
def pay_explain_cmd(
    run: Annotated[str, typer.Option("--run", help="run id printed by yunying drg pay / dip")],
    mrn: Annotated[str, typer.Option("--mrn", help="病案号")],
    db: DbOpt = None,
    admission_no: Annotated[Optional[int], typer.Option(help="住院次数")] = None,
    hospital: Annotated[Optional[str], typer.Option(help="医疗机构代码")] = None,
) -> None:
    """解释单个病案的预计支付 / explain one case's expected payment (class, ratio, cut, formula)."""
    from yunying.economics.payment import explain_payment

    with open_db(db) as con:
        try:
            lines = explain_payment(con, run, mrn, admission_no, hospital)
        except EconomicsError as e:
            _err(e)
    print("\n".join(lines))


# ------------------------------------------------------------------------------------------------------------
# metrics
# ------------------------------------------------------------------------------------------------------------


@drg_app.command("metrics")
def metrics_cmd(
    period: Annotated[str, typer.Option("--period", help="2022 或 2022-03")],
    db: DbOpt = None,
    level: Annotated[str, typer.Option(help="hospital | department | doctor_group")] = "hospital",
    scheme: Annotated[Optional[str], typer.Option("--scheme")] = None,
    by_month: Annotated[bool, typer.Option("--by-month", help="按月 each month of the year")] = False,
    fmt: FormatOpt = "csv",
) -> None:
    """DRG 评价指标 / DRG metrics: 入组率, DRG组数, CMI, 消耗指数, 低风险组死亡率.

    每行注明标杆来源（导入标杆或本院上年/本期数据）/ every row states its benchmark source.
    """
    from yunying.economics.metrics import COLUMNS, metrics

    _check_format(fmt)
    with open_db(db) as con:
        try:
            rows = metrics(con, period, level, scheme, by_month)
        except EconomicsError as e:
            _err(e)
    if not rows:
        console.print(f"没有 {period} 的数据 / no data for {period}")
    _emit(rows, fmt, list(COLUMNS))


@drg_app.command("metrics-cases")
def metrics_cases_cmd(
    period: Annotated[str, typer.Option("--period", help="2022 或 2022-03")],
    db: DbOpt = None,
    figure: Annotated[str, typer.Option("--figure", help="cmi | total_weight | cost_index | time_index")] = "cmi",
    hospital: Annotated[Optional[str], typer.Option("--hospital", help="医疗机构代码")] = None,
    dept: Annotated[Optional[str], typer.Option("--dept", help="科室代码（科室层级）")] = None,
    doctor_group: Annotated[Optional[str], typer.Option("--doctor-group", help="医疗组（医疗组层级，需 --dept）")] = None,
    scheme: Annotated[Optional[str], typer.Option("--scheme")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="最多列出病例数 / at most this many cases")] = None,
    fmt: FormatOpt = "text",
) -> None:
    """DRG 指标下钻 / The cases behind a drg metrics figure (CMI by default), through its catalogue definition.

    先给出该指标的定义编号、sql_hash、分组运行与分子/分母/值，再列出病例（c0 = 该病例计入的 RW 或比值）。
    """
    from yunying.economics.metrics import figure_cases

    _check_format(fmt)
    if doctor_group and not dept:
        fail("--doctor-group 需要同时给出 --dept", "--doctor-group needs --dept", 2)
    with open_db(db) as con:
        try:
            got = figure_cases(con, figure, period, scheme=scheme, hospital=hospital, dept=dept,
                               doctor_group=doctor_group, limit=limit)
        except EconomicsError as e:
            _err(e)
    res, row = got["result"], got["row"]
    rows = [dict(zip(res.columns, r)) for r in res.rows]
    if fmt == "text":
        console.print(f"{figure} = {got['indicator_id']}（sql_hash {got['sql_hash']}）· 方案 {got['scheme']} · 运行 run "
                      f"{got['run_id'] or '-'} · 期间 {period}"
                      + (f" · 分子 {_fmt(row['numerator'])} 分母 {_fmt(row['denominator'])} 值 {_fmt(row['value'])}"
                         if row else "") + f" · 病例 {len(rows):,} 例 / cases", highlight=False, soft_wrap=True)
    _emit(rows, fmt, list(res.columns))


# ------------------------------------------------------------------------------------------------------------
# DIP
# ------------------------------------------------------------------------------------------------------------


@drg_app.command("dip")
def dip_cmd(
    catalogue: Annotated[Path, typer.Option("--catalogue", help="DIP 目录 CSV/xlsx（演示目录：demo）")],
    db: DbOpt = None,
    point_value: Annotated[Optional[float], typer.Option(help="点值 ¥/分")] = None,
    budget: Annotated[Optional[float], typer.Option(help="预算总额（点值 = 预算 / 总分值）")] = None,
    year: Annotated[Optional[int], typer.Option(help="出院年度 discharge year")] = None,
    hospital_factor: Annotated[float, typer.Option(help="医院系数 hospital factor")] = 1.0,
    high_ratio: Annotated[float, typer.Option(help="费用超高 r > x")] = 2.0,
    low_ratio: Annotated[float, typer.Option(help="费用超低 r < x")] = 0.5,
    top: Annotated[int, typer.Option("--top")] = 10,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """DIP 分值付费模拟 / DIP (按病种分值付费) scoring and payment.

    匹配核心/综合病种、辅助目录、偏差病例、分值与点值；--catalogue demo 为演示目录。
    """
    from yunying.economics.dip import demo_catalogue, import_catalogue, simulate_dip
    from yunying.economics.payment import margins

    if point_value is None and budget is None:
        fail("需要 --point-value 或 --budget", "give --point-value or --budget", 2)
    path = demo_catalogue() if str(catalogue) == "demo" else catalogue
    with open_db(db) as con:
        try:
            cat = import_catalogue(con, path)
            run_id, s = simulate_dip(con, cat, year=year, params={
                "point_value": point_value, "budget": budget, "hospital_factor": hospital_factor,
                "high_ratio": high_ratio, "low_ratio": low_ratio})
            worst = margins(con, run_id, "group", top)
        except EconomicsError as e:
            _err(e)
    if json_out:
        print(json.dumps({"summary": s, "worst_groups": worst}, ensure_ascii=False, indent=1, default=str))
        return
    console.print(f"DIP 模拟 — run {run_id}，目录 {s['catalogue']}（{s['catalogue_hash'][:12]}），点值 "
                  f"{s['point_value']:.4f}，总分值 {s['total_score']:,.0f}")
    console.print(f"  病例 {s['cases']:,}  费用 ¥{s['fees']:,.0f}  预计支付 ¥{s['expected_payment']:,.0f}  "
                  f"盈亏 ¥{s['margin']:,.0f}")
    console.print("  入组 match: " + "，".join(f"{k} {v:,}" for k, v in s["by_match"].items())
                  + "；分类 classes: " + "，".join(f"{k} {v:,}" for k, v in s["by_class"].items()))
    for r in worst:
        console.print(f"    {r['group_code']:<20} 例数 {r['cases']:>5,}  盈亏 ¥{r['margin']:>11,.0f}")
    print(run_id)


# ------------------------------------------------------------------------------------------------------------
# demo stage (called by `yunying demo run`)
# ------------------------------------------------------------------------------------------------------------


def demo_stage(db: Path, scheme: str = "demo") -> None:
    """Calibrate RW on the first year, simulate 费率法 for the last year at the demo rate (¥16 000/RW, 演示参数
    yunying/economics/params/demo-rate.yaml), compute metrics; print a few summary lines."""
    from yunying.economics.metrics import metrics
    from yunying.economics.params import shipped
    from yunying.economics.payment import margins, simulate
    from yunying.economics.weights import calibrate

    with open_db(db) as con:
        years = [r[0] for r in con.execute(
            "select distinct year(d.discharge_time) from drg_result r join discharge d using (hospital_id, mrn, "
            "admission_no) where r.scheme = ? and d.discharge_time is not null order by 1", [scheme]).fetchall()]
        if not years:
            console.print(f"  DRG 经济：方案 {scheme} 没有分组结果，跳过 / no grouped cases, skipped")
            return
        try:
            rep, _ = calibrate(con, scheme, years[0])
            res = simulate(con, scheme, params_file=shipped("demo-rate.yaml"), year=years[-1])
            worst = margins(con, res.run_id, "group", 1)
            m = metrics(con, str(years[-1]), "hospital", scheme)
        except EconomicsError as e:
            console.print(f"  DRG 经济 skipped: {e}")
            return
    s = res.summary
    console.print(f"  DRG 权重 weights: {years[0]} 年校准 {rep.groups} 组，非稳定 {len(rep.unstable)} 组，"
                  f"C̄ ¥{rep.overall_mean:,.0f}")
    def f(v, spec):
        return "-" if v is None else format(v, spec)

    for r in m:
        console.print(f"  {years[-1]} {r['hospital_id']}: CMI {f(r['cmi'], '.3f')}，入组率 "
                      f"{f(r['grouping_rate'], '.1%')}，DRG组数 {r['drg_count']}，费用消耗指数 "
                      f"{f(r['cost_index'], '.3f')}，时间消耗指数 {f(r['time_index'], '.3f')}"
                      f"（标杆 {r['benchmark_source']}）")
    console.print(f"  费率法 ¥{DEMO_RATE:,.0f}/RW（演示费率）：支付 ¥{s['expected_payment']:,.0f}，费用 ¥{s['fees']:,.0f}，"
                  f"总盈亏 ¥{s['margin']:,.0f}")
    if worst:
        w = worst[0]
        console.print(f"  亏损最多病组 worst group: {w['group_code']}（{w['cases']} 例，盈亏 ¥{w['margin']:,.0f}）"
                      f" — yunying drg margins --run {res.run_id}")
