"""Number formatting rules (yunying/reports/fmt.py), hand-worked."""

from yunying.reports import fmt


def test_values_with_units_and_precision():
    assert fmt.with_unit(26959, "人次") == "26959人次"          # counts: no decimals, no thousands separator
    assert fmt.with_unit(8.166, "天") == "8.17天"               # 天: 2 decimals, half up
    assert fmt.with_unit(8.165, "天") == "8.17天"               # 8.165 → 8.17 (half away from zero, not banker's)
    assert fmt.with_unit(23.0, "%") == "23.00%"
    assert fmt.with_unit(23.0, "%", 0) == "23%"
    assert fmt.with_unit(1.02345, "指数", 4) == "1.0235"        # indexes print bare
    assert fmt.with_unit(None, "天") == "—"
    assert fmt.number(-0.001, 2) == "0.00"                       # never '-0.00'


def test_rate_difference_in_percentage_points():
    c = fmt.change(23.0, 24.0, unit="%", decimals=0, direction="down")   # 药占比 23% vs 24%
    assert c.phrase() == "较同期下降1个百分点"
    assert c.judgement == "改善"
    assert fmt.change(23.0, 24.0, unit="%").phrase() == "较同期下降1.00个百分点"
    assert fmt.change(2.5, 2.0, unit="‰").phrase() == "较同期增长0.50个千分点"


def test_relative_change_for_volumes():
    c = fmt.change(510451, 494000, unit="人次")                  # (510451 − 494000) / 494000 = 3.330 %
    assert c.kind == "relative"
    assert c.short() == "同比增长3.33%"
    assert fmt.change(5, 4, unit="人次").phrase() == "较同期增长25.00%"
    assert fmt.change(5, 0, unit="人次").ok is False               # no growth rate on a zero base
    assert "为0" in fmt.change(5, 0, unit="人次").reason


def test_absolute_change_and_flat():
    c = fmt.change(8.17, 8.63, unit="天", direction="down")       # 平均住院日 8.17 vs 8.63 → −0.46
    assert c.phrase() == "较同期下降0.46天"
    assert c.judgement == "改善"
    assert fmt.change(8.171, 8.168, unit="天").phrase() == "与同期持平"         # rounds to 0.00
    assert fmt.change(8.2, 8.1, unit="天", tolerance=0.15).word == "持平"       # within tolerance
    assert fmt.change(8.3, 8.1, unit="天", tolerance=0.15).word == "增长"
    assert fmt.change(1.1, 1.0, unit="指数", decimals=4, direction="up").phrase() == "较同期增长0.1000"
    assert fmt.change(1.1, 1.0, unit="次").judgement == ""                     # monitoring: not judged
    # … and says nothing when flat either (issue 14: 监测比较 had 持平)
    flat = fmt.change(1.0, 1.0, unit="次")
    assert (flat.dir, flat.verdict, flat.judgement) == ("flat", "", "")


def test_codes_carry_the_logic():
    c = fmt.change(7.5, 8.0, unit="天", direction="down")
    assert (c.dir, c.verdict) == ("down", "better") and (c.word, c.judgement) == ("下降", "改善")
    c = fmt.change(7.5, 8.0, unit="天", direction="逐步提高")
    assert (c.dir, c.verdict, c.judgement) == ("down", "worse", "退步")


def test_money_change_in_yuan_with_the_rate_beside():
    # 人均住院费用 8446 vs 9000 → −554 元; 554 / 9000 = 6.156 % → 6.16 %
    c = fmt.change(8446.0, 9000.0, unit="元", direction="down")
    assert c.kind == "money" and c.amount_text == "554元" and c.pct_text == "6.16%"
    assert c.phrase() == "较同期下降554元（降幅6.16%）" and c.short("同比") == "同比下降554元（降幅6.16%）"
    assert c.judgement == "改善"
    # whole 元: 0.40 元 is 持平; no rate on a zero base
    assert fmt.change(9000.4, 9000.0, unit="元").phrase() == "与同期持平"
    assert fmt.change(120.0, 0.0, unit="元").phrase() == "较同期增长120元"
    # 万元 keeps 2 decimals
    assert fmt.change(12.5, 10.0, unit="万元").short() == "同比增长2.50万元（增幅25.00%）"


def test_missing_comparison():
    c = fmt.change(8.0, None, unit="天")
    assert not c.ok and c.phrase() == "" and c.reason


def test_display_cells_by_unit():
    """Issue 16: the one rule set for pages and exports (fmt.display), hand-worked."""
    import datetime as dt
    from decimal import Decimal

    assert fmt.display(Decimal("87.00"), "人次") == "87人次"                 # counts whole, never 87.00
    assert fmt.display(35.0, "人次", glue=False) == "35"
    assert fmt.display(12345.6, "元") == "12,345.60元"                       # money: separators, 2 decimals
    assert fmt.display(-1234567.005, "万元") == "-1,234,567.01万元"          # half away from zero
    assert fmt.display(1.2345678901234567, "权重") == "1.2346"               # RW at 4 decimals, not 16
    assert fmt.display(1.5123, "1:x") == "1:1.51"                            # 医护比 as hospitals write it
    assert fmt.display(dt.datetime(2022, 3, 1, 8, 30, 5, 123456)) == "2022-03-01 08:30:05"
    assert fmt.when("2022-03-01 08:30:05.123456") == "2022-03-01 08:30:05"
    assert fmt.display(87.0) == "87" and fmt.display(1.23456789) == "1.2346" and fmt.display(12345.6) == "12345.6"
    assert fmt.display(None, "元") == "" and fmt.display("女") == "女"
