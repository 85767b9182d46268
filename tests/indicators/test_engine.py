"""Engine behaviour on the hand-made warehouse: 同比/环比 wording, levels, grains, not computable, targets, alerts,
drill-down. Expected numbers are derived from the literal rows of conftest.py."""

from __future__ import annotations

import pytest

from yunying.indicators import alerts, cases, compute, computability
from yunying.indicators.catalogue import load_catalogue
from yunying.indicators.engine import change_text, direction_word, judgement, parse_period
from yunying.indicators.targets import apply_targets
from yunying.warehouse.db import connect

from indfixtures import build, insert


def by(rows, **kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


# ---------------------------------------------------------------- wording

def test_direction_words():
    assert direction_word(0.46) == "增长" and direction_word(-0.46) == "下降"
    assert direction_word(0.004) == "持平"            # rounds to 0.00 at 2 decimals
    assert direction_word(None) == ""
    # judgement takes the change's code (up/down/flat), not its word; monitoring indicators are not judged
    assert judgement("down", "逐步降低") == "改善" and judgement("up", "逐步降低") == "退步"
    assert judgement("up", "逐步提高") == "改善" and judgement("down", "up") == "退步"
    assert judgement("up", "监测比较") == "" and judgement("flat", "逐步提高") == "持平"


def test_change_text(catalogue):
    assert change_text(-0.46, catalogue["OP-08"]) == "较同期下降0.46天"
    assert change_text(1.2, catalogue["OP-03"]) == "较同期增长1.20个百分点"
    assert change_text(0.0, catalogue["OP-08"]) == "与同期持平"
    assert change_text(-120, catalogue["OP-02"]) == "较同期下降120人次"


def test_yoy_on_hospital_and_department(wh_mod, catalogue):
    hosp = compute(wh_mod, catalogue, ids=["OP-08"], period="2022", targets=[])
    # 2022 (5+10+3+6)/4 = 6.0; 2021 (8+4)/2 = 6.0 → 持平
    assert [(r["value"], r["yoy_value"], r["yoy_word"], r["yoy_text"]) for r in hosp] == [(6.0, 6.0, "持平", "与同期持平")]
    dept = compute(wh_mod, catalogue, ids=["OP-08"], period="2022", level="department", targets=[])
    gs, im = by(dept, dept_code="GS")[0], by(dept, dept_code="IM")[0]
    # GS (5+10)/2 = 7.5 vs 8 → 下降 0.5, ALOS direction down → 改善; IM (3+6)/2 = 4.5 vs 4 → 增长 → 退步
    assert (gs["value"], gs["yoy_value"], gs["yoy_change"], gs["yoy_word"], gs["judgement"]) == (7.5, 8.0, -0.5, "下降", "改善")
    assert gs["yoy_text"] == "较同期下降0.50天"
    assert (im["value"], im["yoy_value"], im["yoy_word"], im["judgement"]) == (4.5, 4.0, "增长", "退步")


def test_growth_uses_prior_year_and_reports_missing_base(wh_mod, catalogue):
    rows = {r["indicator_id"]: r for r in compute(wh_mod, catalogue, ids=["OP-24.ip", "G3-37"], period="2022", targets=[])}
    assert rows["OP-24.ip"]["value"] == pytest.approx(62.5)           # (9750 − 6000) / 6000
    assert rows["OP-24.ip"]["yoy_value"] is None                      # 2020 has no data
    # 2021: no 2020 base → not computable with the reason
    r21 = compute(wh_mod, catalogue, ids=["OP-24.ip"], period="2021", targets=[])[0]
    assert r21["value"] is None and "缺少上年同期数据" in r21["reason"]


# ---------------------------------------------------------------- grains

def test_month_and_quarter_grains(wh_mod, catalogue):
    month = compute(wh_mod, catalogue, ids=["OP-02"], period="2022", grain="month", targets=[])
    got = {r["period"]: r["value"] for r in month if r["value"] is not None}
    assert got == {"2022-03": 2.0, "2022-06": 2.0}                   # D1 D2 in March, D3 D4 in June
    june = by(month, period="2022-06")[0]
    assert june["yoy_value"] is None and june["mom_value"] is None     # no discharge in June 2021 or May 2022
    quarter = compute(wh_mod, catalogue, ids=["OP-02", "OP-08"], period="2022", grain="quarter", targets=[])
    q = {(r["indicator_id"], r["period"]): r["value"] for r in quarter}
    assert q[("OP-02", "2022Q1")] == 2 and q[("OP-02", "2022Q2")] == 2
    assert q[("OP-08", "2022Q1")] == 7.5 and q[("OP-08", "2022Q2")] == 4.5
    q2 = by(quarter, indicator_id="OP-08", period="2022Q2")[0]
    assert q2["mom_value"] == 7.5 and q2["mom_change"] == -3.0       # 环比: Q2 vs Q1
    # 2021: July discharge (E2) is in Q3; ALOS Q3 2021 = 4 → no 2022 Q3 row
    assert compute(wh_mod, catalogue, ids=["OP-02"], period="2022Q2", grain="quarter", targets=[])[0]["value"] == 2
    single = compute(wh_mod, catalogue, ids=["OP-02"], period="2022-03", grain="month", targets=[])
    assert [(r["period"], r["value"]) for r in single] == [("2022-03", 2.0)]


def test_bad_period_and_grain(wh_mod, catalogue):
    with pytest.raises(ValueError):
        parse_period("2022-13")
    with pytest.raises(ValueError):
        compute(wh_mod, catalogue, ids=["OP-02"], period="2022-03", grain="year", targets=[])


# ---------------------------------------------------------------- levels

def test_department_and_doctor_levels(wh_mod, catalogue):
    dept = compute(wh_mod, catalogue, ids=["G3-04", "OP-10"], period="2022", level="department", targets=[])
    g = {(r["indicator_id"], r["dept_code"]): r["value"] for r in dept}
    assert g[("G3-04", "GS")] == 150.0 and g[("G3-04", "IM")] == 0.0   # 3 台次 / 2 ; 0 / 2
    assert g[("OP-10", "GS")] == pytest.approx(0.1)                    # 2 discharges / 20 beds
    assert g[("OP-10", "IM")] == pytest.approx(0.2)                    # 2 / 10
    doc = compute(wh_mod, catalogue, ids=["OP-08"], period="2022", level="doctor", targets=[])
    d = {(r["dept_code"], r["doctor_group"]): r["value"] for r in doc}
    assert d == {("GS", "DrA"): 5.0, ("GS", "DrB"): 10.0, ("IM", "DrC"): 4.5}
    # finance has no doctor dimension → not produced at doctor level
    assert compute(wh_mod, catalogue, ids=["OP-03"], period="2022", level="doctor", targets=[]) == []


def test_region_level_sums_hospitals(catalogue):
    con = connect(":memory:")
    build(con)
    insert(con, "hospital", [dict(hospital_id="H2", hospital_name="二院", region_code="R1")])
    from indfixtures import dis
    insert(con, "discharge", [dis("N1", 1, "GS", "2022-05-01 08:00", "2022-05-03 08:00", 2, 1000, hospital_id="H2")])
    rows = compute(con, catalogue, ids=["OP-02", "OP-08"], period="2022", level="region", targets=[])
    r = {x["indicator_id"]: x for x in rows}
    assert r["OP-02"]["hospital_id"] == "R1" and r["OP-02"]["value"] == 5          # 4 + 1
    assert r["OP-08"]["value"] == pytest.approx((24 + 2) / 5)
    hosp = compute(con, catalogue, ids=["OP-02"], period="2022", targets=[])
    assert {x["hospital_id"]: x["value"] for x in hosp} == {"H1": 4, "H2": 1}
    only = compute(con, catalogue, ids=["OP-02"], period="2022", hospitals=["H2"], targets=[])
    assert [(x["hospital_id"], x["value"]) for x in only] == [("H2", 1)]
    con.close()


# ---------------------------------------------------------------- not computable

def test_not_computable_when_data_missing(catalogue):
    con = connect(":memory:")
    build(con, finance=False, drg=False, px_dict=False, ward=False)
    rows = {r["indicator_id"]: r for r in compute(con, catalogue, period="2022", targets=[])}
    for iid, words in [("OP-03", "药品收入"), ("G3-27", "门急诊收入"), ("DRG-01", "DRG分组结果"),
                       ("DRG-08", "DRG分组结果"), ("G3-05", "微创手术目录"), ("OP-09", "病房动态月报"),
                       ("G3-17", "药事数据"), ("DRG-03", "未导入/校准 DRG 权重")]:
        r = rows[iid]
        assert r["value"] is None and r["numerator"] is None and r["status"] == "不可计算", iid
        assert r["reason"].startswith("不可计算：缺少") and words in r["reason"], (iid, r["reason"])
    # without the dictionary, surgery falls back to 手术级别 → G3-04 still 75 %
    assert rows["G3-04"]["value"] == 75.0
    con.close()


def test_flag_columns_all_empty_are_missing(catalogue):
    con = connect(":memory:")
    build(con)
    con.execute("update discharge set day_surgery = null")
    r = compute(con, catalogue, ids=["OP-14"], period="2022", targets=[])[0]
    assert r["status"] == "不可计算" and "日间手术标志" in r["reason"]
    con.close()


def test_computability_listing(wh_mod, catalogue):
    st = computability(wh_mod, catalogue, period="2022")
    assert st["OP-08"] == (True, "")
    assert st["G3-17"][0] is False and "药事数据" in st["G3-17"][1]
    assert st["G2-21"][0] is True                     # group: parts computable


# ---------------------------------------------------------------- targets and alerts

def test_targets_status_gap_and_alerts(wh_mod, catalogue):
    targets = [
        {"indicator": "OP-08", "op": "<", "value": 7.5, "value_hi": None, "hospital_id": None, "dept_code": None},
        {"indicator": "OP-08", "op": "<", "value": 7.0, "value_hi": None, "hospital_id": None, "dept_code": "GS"},
        {"indicator": "OP-28", "op": "<=", "value": 1.0, "value_hi": None, "hospital_id": "H1", "dept_code": None},
        {"indicator": "G3-04", "op": ">=", "value": 80, "value_hi": None, "hospital_id": None, "dept_code": None},
    ]
    rows = compute(wh_mod, catalogue, ids=["OP-08", "OP-28", "G3-04"], period="2022", targets=targets)
    r = {x["indicator_id"]: x for x in rows}
    assert (r["OP-08"]["target"], r["OP-08"]["status"], r["OP-08"]["gap"]) == ("< 7.5", "达标", -1.5)   # 6.0
    assert (r["OP-28"]["status"], r["OP-28"]["gap"]) == ("未达标", 24.0)                               # 25 % vs ≤ 1
    assert (r["G3-04"]["status"], r["G3-04"]["gap"]) == ("未达标", -5.0)                               # 75 vs ≥ 80
    # alerts: G3-04 is ▲ (national monitor) → first although OP-28 is further off (24/1 vs 5/80)
    assert [a["indicator_id"] for a in alerts(rows)] == ["G3-04", "OP-28"]
    dept = compute(wh_mod, catalogue, ids=["OP-08"], period="2022", level="department", targets=targets)
    d = {x["dept_code"]: x for x in dept}
    assert (d["GS"]["target"], d["GS"]["status"]) == ("< 7", "未达标")     # 7.5 vs the GS target < 7
    assert d["IM"]["target"] is None and d["IM"]["status"] == ""          # hospital targets do not apply to depts


def test_targets_from_table_and_yaml(wh, catalogue, tmp_path):
    from yunying.indicators.engine import duckdb_query
    from yunying.indicators.targets import load_targets

    f = tmp_path / "t.yaml"
    f.write_text("targets:\n  - {indicator: OP-02, op: '>=', value: 10}\n", encoding="utf-8")
    wh.execute("insert into ind_target (indicator_id, op, value) values ('OP-02', 'between', 3)")
    with pytest.raises(ValueError):
        load_targets(f, query=duckdb_query(wh))          # between without value_hi
    wh.execute("update ind_target set value_hi = 5")
    t = load_targets(f, query=duckdb_query(wh))
    rows = compute(wh, catalogue, ids=["OP-02"], period="2022", targets=t)
    assert (rows[0]["target"], rows[0]["status"]) == ("3~5", "达标")     # the table wins over the user file
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - {indicator: OP-02, op: '!!', value: 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.yaml:2"):
        load_targets(bad)


def test_apply_targets_ignores_not_computable():
    rows = [{"indicator_id": "X", "hospital_id": "H", "dept_code": "", "value": None, "status": "不可计算"}]
    apply_targets(rows, [{"indicator": "X", "op": "<", "value": 1, "value_hi": None, "hospital_id": None,
                          "dept_code": None}])
    assert rows[0]["status"] == "不可计算" and "target" not in rows[0]


# ---------------------------------------------------------------- drill-down

@pytest.mark.parametrize("iid,level,key,part,expect", [
    # G3-04 numerator: count(distinct surgery_session) → 3 distinct sessions over 4 surgery rows
    ("G3-04", "hospital", {"hospital_id": "H1"}, "numerator", {"rows": 4, "distinct": 3}),
    ("G3-04", "hospital", {"hospital_id": "H1"}, "denominator", {"rows": 4}),
    ("G3-08", "hospital", {"hospital_id": "H1"}, "numerator", {"rows": 1, "keys": {("H1", "M2", 1)}}),
    ("OP-28", "department", {"hospital_id": "H1", "dept_code": "GS"}, "numerator", {"rows": 1}),
    ("OP-29", "hospital", {}, "numerator", {"rows": 1, "keys": {("H1", "M3", 1)}}),
    ("G3-22", "hospital", {}, "numerator", {"rows": 3}),
    ("OP-08", "department", {"dept_code": "IM"}, "numerator", {"rows": 2, "sum": 9}),
])
def test_drill_down_returns_the_counted_cases(wh_mod, catalogue, iid, level, key, part, expect):
    res = cases(wh_mod, catalogue, iid, period="2022", level=level, key=key, part=part)
    assert len(res.rows) == expect["rows"], res.sql
    if "distinct" in expect:
        i = res.columns.index("c0")
        assert len({r[i] for r in res.rows}) == expect["distinct"]
    if "keys" in expect:
        assert {tuple(r[:3]) for r in res.rows} == expect["keys"]
    if "sum" in expect:
        assert sum(r[res.columns.index("c0")] for r in res.rows) == expect["sum"]


def test_drill_down_matches_numerators_everywhere(wh_mod, catalogue):
    """For count(*) filter measures, the drill-down row count equals the numerator for every department."""
    for iid in ["OP-12", "OP-18", "OP-28", "G3-08", "Z3-04", "OP-19"]:
        for r in compute(wh_mod, catalogue, ids=[iid], period="2022", level="department", targets=[]):
            res = cases(wh_mod, catalogue, iid, period="2022", level="department",
                        key={"hospital_id": r["hospital_id"], "dept_code": r["dept_code"]})
            assert len(res.rows) == r["numerator"], (iid, r["dept_code"])


def test_user_catalogue_adds_indicator(tmp_path, wh_mod):
    f = tmp_path / "mine.yaml"
    f.write_text("""family: mine
name_zh: 本院
aliases: [本院]
indicators:
  - id: H-01
    name_zh: 介入治疗占比（含介入）
    type: ratio
    numerator: {over: procedure, sql: "count(distinct surgery_session) filter (where grade >= 4)"}
    denominator: {over: discharge, sql: "count(*)"}
    unit: "%"
    scale: 100
    direction: up
""", encoding="utf-8")
    cat = load_catalogue(f, use_env=False)
    rows = compute(wh_mod, cat, family="本院", period="2022", targets=[])
    assert [(r["indicator_id"], r["value"]) for r in rows] == [("H-01", 50.0)]     # 2 grade-4 sessions / 4


def test_several_levels_in_one_call_equal_separate_calls(wh_mod, catalogue):
    levels = ["hospital", "department", "doctor", "region"]
    together = compute(wh_mod, catalogue, period="2022", grain="quarter", level=levels, targets=[])
    apart = [r for lv in levels for r in compute(wh_mod, catalogue, period="2022", grain="quarter", level=lv,
                                                  targets=[])]
    key = lambda r: (r["level"], r["indicator_id"], r["period"], r["hospital_id"], r["dept_code"], r["doctor_group"])  # noqa: E731
    assert sorted(map(key, together)) == sorted(map(key, apart))
    a = {key(r): r for r in apart}
    for r in together:
        b = a[key(r)]
        assert (r["numerator"], r["denominator"], r["value"], r["yoy_value"], r["status"]) == \
            (b["numerator"], b["denominator"], b["value"], b["yoy_value"], b["status"])


def test_a_failing_formula_becomes_an_error_result_and_the_run_continues(tmp_path, wh_mod):
    f = tmp_path / "bad_runtime.yaml"
    f.write_text("""family: mine
indicators:
  - id: H-02
    name_zh: 运行时出错
    type: count
    numerator: {over: visit, sql: "sum(visit_type)"}
    unit: 人次
    direction: up
""", encoding="utf-8")
    cat = load_catalogue(f, use_env=False)
    rows = {r["indicator_id"]: r for r in compute(wh_mod, cat, ids=["H-02", "OP-01", "G3-01"], period="2022",
                                                  targets=[])}
    assert rows["H-02"]["status"] == "错误" and rows["H-02"]["value"] is None
    assert "SQL" in rows["H-02"]["reason"] and "sum(visit_type)" in rows["H-02"]["reason"]
    assert rows["OP-01"]["value"] == 6 and rows["G3-01"]["value"] == 1.0     # same view, still computed
