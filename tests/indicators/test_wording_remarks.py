"""Issue 14: codes behind the words (up/down/flat, better/worse, met/not_met), wording of growth indicators and 环比,
money changes in 元, and the remarks beside a value (CMI's excluded cases, the low-risk reference and its size,
DRG-10 from a stored payment run). Hand-worked on the warehouse of indfixtures.py (see test_formulas.py)."""

from __future__ import annotations

import pytest

from yunying.indicators import compute
from yunying.indicators.engine import alerts, change_text, direction_word, judgement
from yunying.indicators.wording import direction_code, verdict_code
from yunying.warehouse.db import connect

from indfixtures import build, insert


def _rows(con, catalogue, ids, **kw):
    kw.setdefault("targets", [])
    return {r["indicator_id"]: r for r in compute(con, catalogue, ids=ids, period=kw.pop("period", "2022"), **kw)}


# ---------------------------------------------------------------- codes and words

def test_codes_and_monitoring_indicators_get_no_verdict():
    assert (direction_code(0.46), direction_code(-0.46), direction_code(0.004), direction_code(None)) == \
        ("up", "down", "flat", "")
    assert verdict_code("down", "down") == "better" and verdict_code("up", "逐步降低") == "worse"
    assert verdict_code("flat", "up") == "flat"
    # 监测比较: no verdict at all — neither 持平 nor —
    assert verdict_code("flat", "monitor") == "" and verdict_code("up", "监测比较") == ""
    assert judgement("flat", "monitor") == "" and judgement("down", "down") == "改善"
    assert judgement("down", "down", "en") == "improved" and direction_word(-1.0, lang="en") == "down"


def test_monitoring_indicator_row_says_nothing_when_flat(wh_mod, catalogue):
    # OP-23 住院次均费用 (监测比较) in department IM: 2022 (3000+6000)/2 = 4500 vs 2021 E2 4000 → up, but no verdict;
    # OP-02 出院人次 (监测比较) hospital: 4 vs 2 → up, no verdict
    r = _rows(wh_mod, catalogue, ["OP-02"])["OP-02"]
    assert (r["yoy_dir"], r["yoy_word"], r["verdict"], r["judgement"]) == ("up", "增长", "", "")
    # OP-08 平均住院日 (逐步降低) hospital: 6.0 vs 6.0 → flat, judged 持平 (it has a direction)
    r = _rows(wh_mod, catalogue, ["OP-08"])["OP-08"]
    assert (r["yoy_dir"], r["verdict"], r["judgement"]) == ("flat", "flat", "持平")


def test_money_change_in_yuan_with_the_rate_beside(catalogue):
    # 住院次均费用 8446 vs 9000: −554 元, 554 / 9000 = 6.16 %
    assert change_text(8446 - 9000, catalogue["OP-23"], prev=9000) == "较同期下降554元（降幅6.16%）"
    assert change_text(8446 - 9000, catalogue["OP-23"], prev=9000, lang="en") == \
        "down 554 元 (−6.16%) on the same period last year"
    assert change_text(0.3, catalogue["OP-23"], prev=9000) == "与同期持平"          # rounds to 0 元


def test_growth_indicator_has_words_and_a_verdict(wh_mod, catalogue):
    rows = _rows(wh_mod, catalogue, ["G3-40", "G3-37", "G3-38"])
    # G3-40 住院次均费用增幅 ▲ (逐步降低): OP-23 9750 vs 6000 → +3750 元, 62.50 % → worse
    g40 = rows["G3-40"]
    assert g40["yoy_text"] == "较同期增长3750元（增幅62.50%）"
    assert (g40["yoy_dir"], g40["verdict"], g40["judgement"]) == ("up", "worse", "退步")
    # G3-38 门诊次均费用增幅 ▲ (逐步降低): OP-22 = fees of the 门急诊 visits ÷ those visits (体检 excluded):
    # 2022 2900/6 = 483.33 vs 2021 (200+400)/2 = 300 → +183 元, 183.33/300 = 61.11 % → worse
    g38 = rows["G3-38"]
    assert g38["yoy_text"] == "较同期增长183元（增幅61.11%）" and g38["judgement"] == "退步"
    # G3-37 医疗收入增幅 (监测比较): 800k vs 640k → +160000 元 (25 %), worded, not judged
    g37 = rows["G3-37"]
    assert g37["yoy_text"] == "较同期增长160000元（增幅25.00%）" and g37["judgement"] == ""


def test_mom_has_words(wh_mod, catalogue):
    quarter = compute(wh_mod, catalogue, ids=["OP-08"], period="2022", grain="quarter", targets=[])
    q2 = next(r for r in quarter if r["period"] == "2022Q2")
    # ALOS Q2 4.5 vs Q1 7.5 → 下降 3.00 天 against the previous period; 逐步降低 → 改善
    assert (q2["mom_dir"], q2["mom_word"], q2["mom_text"], q2["mom_judgement"]) == \
        ("down", "下降", "较上期下降3.00天", "改善")
    month = compute(wh_mod, catalogue, ids=["OP-02"], period="2022", grain="month", targets=[])
    # no discharge in May 2022: June has no 环比 words
    june = next(r for r in month if r["period"] == "2022-06")
    assert (june["mom_dir"], june["mom_text"]) == ("", "")


def test_logic_works_on_codes_in_english(wh_mod, catalogue):
    targets = [{"indicator": "OP-08", "op": "<", "value": 5, "value_hi": None, "hospital_id": None,
                "dept_code": None}]                                   # 6.0 → not met
    zh = compute(wh_mod, catalogue, ids=["OP-08"], period="2022", targets=targets)
    en = compute(wh_mod, catalogue, ids=["OP-08"], period="2022", targets=targets, lang="en")
    assert (zh[0]["status"], en[0]["status"]) == ("未达标", "not met")
    assert zh[0]["status_code"] == en[0]["status_code"] == "not_met"
    assert [r["indicator_id"] for r in alerts(en)] == [r["indicator_id"] for r in alerts(zh)] == ["OP-08"]
    assert en[0]["yoy_text"] == "flat on the same period last year" and en[0]["judgement"] == "flat"
    blocked = compute(wh_mod, catalogue, ids=["G3-15"], period="2022", targets=[], lang="en")[0]
    assert (blocked["status_code"], blocked["status"]) == ("not_computable", "not computable")


# ---------------------------------------------------------------- remarks

def test_cmi_row_notes_grouped_cases_without_weight(catalogue):
    con = connect(":memory:")
    build(con)
    r = _rows(con, catalogue, ["DRG-03"])["DRG-03"]
    assert r["remarks"] == [] and r["note"] is None           # every grouped case has a weight
    # one more grouped case (D4, ZZ99) without a weight: CMI stays 5.8 / 3, the row says 1 case is left out
    con.execute("delete from drg_result where mrn = 'M3' and admission_no = 2")
    insert(con, "drg_result", [dict(hospital_id="H1", mrn="M3", admission_no=2, scheme="s1", scheme_hash="x",
                                    status="SUCCESS", mdc="X", adrg="X", drg="ZZ99")])
    r = _rows(con, catalogue, ["DRG-03"])["DRG-03"]
    assert r["value"] == pytest.approx(5.8 / 3)
    assert [(m["code"], m["value"]) for m in r["remarks"]] == [("no_weight_excluded", 1.0)]
    assert r["note"] == "不含无权重的入组病例 1 例"
    con.close()


def test_low_risk_row_states_an_imported_reference_and_warns_when_thin(catalogue, monkeypatch):
    con = connect(":memory:")
    build(con)          # imported benchmark R1 2022: GB11 level 1, ES21 level 2 → 2 DRGs graded, 1 low risk
    for iid in ("G3-14", "G2-05", "DRG-06"):
        r = _rows(con, catalogue, [iid])[iid]
        got = {m["code"]: m for m in r["remarks"]}
        assert got["risk_reference"]["value"] == "imported:R1 2022"
        assert got["risk_reference_size"]["value"] == 1.0
        assert got["risk_reference_thin"]["warn"] and got["risk_reference_thin"]["limit"] == 10.0
        assert "参照偏少（低风险组少于 10 个）" in r["note"]
    # the threshold is a setting: at 1 low-risk DRG a reference of 1 is not thin
    monkeypatch.setenv("YUNYING_DRG_REFERENCE_MIN_LOW_RISK_GROUPS", "1")
    r = _rows(con, catalogue, ["G3-14"])["G3-14"]
    assert [m["code"] for m in r["remarks"]] == ["risk_reference", "risk_reference_size"]
    assert r["value"] == 50.0
    con.close()


def test_low_risk_row_without_reference_states_the_fallback(catalogue):
    con = connect(":memory:")
    build(con)
    con.execute("delete from econ_benchmark")
    # no reference, no 2021 cases: graded on the same data. Own mortality GB11 1/2 (D2 died), ES21 0/1 → level 0;
    # one non-zero mortality: μ = ln 0.5, σ = 0 → GB11 level 4. 2 DRGs graded, 0 low risk → denominator 0
    r = _rows(con, catalogue, ["G3-14"])["G3-14"]
    got = {m["code"]: m["value"] for m in r["remarks"]}
    assert got["risk_reference"].startswith("fallback:same_data 2022")
    assert got["risk_reference_size"] == 0.0 and "risk_reference_thin" in got
    assert r["value"] is None and r["denominator"] == 0
    size = con.execute("select ref_groups, ref_low_risk_groups, ref_cases from drg_reference_size "
                       "where scheme = 's1' and kind = 'own' and year = 2022").fetchall()
    assert size == [(2, 0, 3)]                               # D1 D2 (GB11), D3 (ES21)
    con.close()


def test_drg10_reads_the_latest_stored_payment_run(catalogue):
    con = connect(":memory:")
    build(con)
    r = _rows(con, catalogue, ["DRG-10"])["DRG-10"]
    assert r["status_code"] == "not_computable" and "yunying drg pay" in r["reason"]

    def run(run_id, scheme, at, pays):
        con.execute("insert into econ_run (run_id, kind, scheme, year, params_json, params_hash, created_at) "
                    "values (?, 'drg_rate', ?, 2022, '{}', 'h', ?)", [run_id, scheme, at])
        insert(con, "econ_case_payment", [
            dict(run_id=run_id, hospital_id="H1", mrn=m, admission_no=a, group_code="G", dept_code=d,
                 discharge_month=mon, fee_total=fee, expected_payment=pay, margin_charges=pay - fee,
                 case_class="normal") for m, a, d, mon, fee, pay in pays])

    old = [("M1", 1, "GS", "2022-03-01", 10000, 1), ("M2", 1, "GS", "2022-03-01", 20000, 1)]
    new = [("M1", 1, "GS", "2022-03-01", 10000, 12000), ("M2", 1, "GS", "2022-03-01", 20000, 15000),
           ("M3", 1, "IM", "2022-06-01", 3000, 4000)]
    run("pay-old", "s1", "2023-01-01 08:00:00", old)
    run("pay-new", "s1", "2023-02-01 08:00:00", new)
    run("pay-s2", "s2", "2023-03-01 08:00:00", old)           # another scheme: not read for s1
    rows = compute(con, catalogue, ids=["DRG-10"], period="2022", level=["hospital", "department"], targets=[])
    by = {(r["level"], r["dept_code"]): r for r in rows}
    # latest run of s1: margins 2000 − 5000 + 1000 = −2000 over payments 12000 + 15000 + 4000 = 31000 → −6.45 %
    h = by[("hospital", "")]
    assert (h["numerator"], h["denominator"]) == (-2000, 31000)
    assert h["value"] == pytest.approx(-2000 / 31000 * 100)
    assert h["note"] == "支付测算 pay-new" and h["judgement"] == ""          # 监测比较: not judged
    # GS: (2000 − 5000) / 27000; IM: 1000 / 4000
    assert by[("department", "GS")]["value"] == pytest.approx(-3000 / 27000 * 100)
    assert by[("department", "IM")]["value"] == pytest.approx(25.0)
    con.close()


def test_cli_compute_states_remarks_and_renders_english(tmp_path):
    import csv
    import io

    from typer.testing import CliRunner

    from yunying.cli.main import app

    path = tmp_path / "w.duckdb"
    con = connect(path)
    build(con)
    compute(con, ids=["G3-14"], period="2022", targets=[])     # stores the economics views (read-only CLI uses them)
    con.close()
    res = CliRunner().invoke(app, ["indicators", "compute", "--db", str(path), "--id", "G3-14", "--id", "OP-08",
                                   "--period", "2022", "--format", "csv", "--lang", "en"])
    assert res.exit_code == 0, res.output
    rows = {r["indicator_id"]: r for r in csv.DictReader(io.StringIO(res.stdout[res.stdout.index("indicator_id"):]))}
    assert "remarks" not in rows["G3-14"]
    assert rows["G3-14"]["note"].startswith("risk reference: imported:R1 2022; 1 low-risk DRGs in the reference")
    assert (rows["OP-08"]["yoy_dir"], rows["OP-08"]["yoy_word"]) == ("flat", "flat")


def test_loading_a_reference_in_the_documented_format_changes_the_low_risk_row(tmp_path, catalogue):
    """docs/drg-economics.md §2: a risk table `drg,risk_level,cases,deaths` loaded with `yunying drg benchmark
    import` becomes the reference of G3-14 (source, size), replacing the same-data fallback."""
    from typer.testing import CliRunner

    from yunying.cli.main import app

    path = tmp_path / "w.duckdb"
    con = connect(path)
    build(con)
    con.execute("delete from econ_benchmark")
    con.close()
    ref = tmp_path / "ref.csv"
    # GB11 and ES21 both low risk in the national table; 12 + 1 DRGs listed, 12 of them low risk (≥ 10: not thin)
    lines = ["drg,risk_level,cases,deaths", "GB11,1,52000,12", "ES21,1,31000,4", "XX01,3,800,40"]
    lines += [f"LR{i:02d},1,1000,1" for i in range(10)]
    ref.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["drg", "benchmark", "import", "--db", str(path), "--scheme", "s1", "--year",
                                   "2022", "--region", "全国", str(ref)])
    assert res.exit_code == 0, res.output
    con = connect(path)
    r = _rows(con, catalogue, ["G3-14"])["G3-14"]
    got = {m["code"]: m["value"] for m in r["remarks"]}
    assert got == {"risk_reference": "imported:全国 2022", "risk_reference_size": 12.0}     # no thin warning
    # low risk now: D1 D2 (GB11, D2 died) and D3 (ES21) → 1 / 3
    assert (r["numerator"], r["denominator"]) == (1, 3)
    assert con.execute("select ref_groups, ref_low_risk_groups, ref_cases from drg_reference_size where "
                       "kind = 'imported' and scheme = 's1' and year = 2022").fetchall() == [(13, 12, 93800)]
    con.close()
