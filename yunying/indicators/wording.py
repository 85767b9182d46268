"""Codes for directions, verdicts and statuses, and the words that render them (Chinese or English).

Logic (alerts, colours, report sentences' choices) compares the codes; the words appear only when a row or a
sentence is rendered. docs/indicators.md §Wording.

* direction of a change: ``up`` / ``down`` / ``flat`` ('' = no comparison) — 增长 / 下降 / 持平;
* verdict by the indicator's direction: ``better`` / ``worse`` / ``flat`` — 改善 / 退步 / 持平; monitoring
  indicators (监测比较) and those without a direction get no verdict ('');
* status against a target: ``met`` / ``not_met``; a value that cannot be computed: ``not_computable`` / ``error``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

WORDS: dict[str, tuple[str, str]] = {
    # direction of a change
    "up": ("增长", "up"), "down": ("下降", "down"), "flat": ("持平", "flat"),
    # verdict
    "better": ("改善", "improved"), "worse": ("退步", "worsened"),
    # status
    "met": ("达标", "met"), "not_met": ("未达标", "not met"), "not_computable": ("不可计算", "not computable"),
    "error": ("错误", "error"),
}
# the comparison a change is stated against
AGAINST: dict[str, tuple[str, str]] = {"yoy": ("同期", "the same period last year"),
                                       "mom": ("上期", "the previous period"), "month": ("上月", "the previous month")}
UP_DIRECTIONS = {"up", "逐步提高", "higher"}
DOWN_DIRECTIONS = {"down", "逐步降低", "lower"}
# money: changes are stated in the money unit (「人均住院费用下降554元」) at this precision, the % beside
MONEY_DECIMALS = {"元": 0, "万元": 2, "亿元": 2}
RATE_UNITS = {"%": ("个百分点", "percentage points"), "‰": ("个千分点", "per-mille points")}
BARE_UNITS = {"比值", "指数", "1:x", "综合", "权重", ""}


def word(code: str, lang: str = "zh") -> str:
    """The word for a code ('' for '' or an unknown code)."""
    w = WORDS.get(code or "")
    return "" if w is None else w[0 if lang == "zh" else 1]


def _rounds_to_zero(v: float, decimals: int) -> bool:
    q = Decimal(1).scaleb(-decimals) if decimals > 0 else Decimal(1)
    return Decimal(repr(abs(float(v)))).quantize(q, rounding=ROUND_HALF_UP) == 0


def direction_code(change: float | None, decimals: int = 2, tolerance: float | None = None) -> str:
    """up / down / flat — flat when |change| ≤ tolerance or (no tolerance) it rounds to zero at `decimals`."""
    if change is None:
        return ""
    if tolerance is not None:
        if abs(change) <= tolerance:
            return "flat"
    elif _rounds_to_zero(change, decimals):
        return "flat"
    return "up" if change > 0 else "down"


def verdict_code(direction_of_change: str, indicator_direction: str | None) -> str:
    """better / worse / flat by the indicator's direction (up/down, or 逐步提高/逐步降低); '' when not judged."""
    if not direction_of_change:
        return ""
    if indicator_direction in UP_DIRECTIONS:
        good = "up"
    elif indicator_direction in DOWN_DIRECTIONS:
        good = "down"
    else:
        return ""                    # 监测比较 / 逐步完善: no verdict, not even 持平
    if direction_of_change == "flat":
        return "flat"
    return "better" if direction_of_change == good else "worse"


def money_decimals(unit: str) -> int | None:
    """Precision of a money change (元 0), or None when the unit is not money."""
    return MONEY_DECIMALS.get(unit)


def number(v: float, decimals: int) -> str:
    q = Decimal(1).scaleb(-decimals) if decimals > 0 else Decimal(1)
    d = Decimal(repr(float(v))).quantize(q, rounding=ROUND_HALF_UP)
    return f"{abs(d):f}" if d == 0 else f"{d:f}"


def amount_text(amount: float, unit: str, decimals: int, lang: str = "zh") -> str:
    """'554元', '1.20个百分点', '0.46天', '0.1000' (bare units)."""
    s = number(abs(amount), decimals)
    if unit in RATE_UNITS:
        return s + (RATE_UNITS[unit][0] if lang == "zh" else " " + RATE_UNITS[unit][1])
    if unit in BARE_UNITS:
        return s
    return s + unit if lang == "zh" else f"{s} {unit}"


def change_phrase(code: str, amount: str, against: str = "yoy", lang: str = "zh", pct: str = "") -> str:
    """'较同期下降554元（降幅3.20%）' / '与同期持平' / 'down 554 元 (−3.20%) on the same period last year'."""
    if not code:
        return ""
    zh, en = AGAINST.get(against, (against, against))
    if lang == "zh":
        if code == "flat":
            return f"与{zh}持平"
        extra = f"（{'增幅' if code == 'up' else '降幅'}{pct}）" if pct else ""
        return f"较{zh}{word(code)}{amount}{extra}"
    if code == "flat":
        return f"flat on {en}"
    extra = f" ({'+' if code == 'up' else '−'}{pct})" if pct else ""
    return f"{code} {amount}{extra} on {en}"
