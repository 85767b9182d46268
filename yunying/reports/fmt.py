"""Number formatting for report sentences — the one place where units, precision and direction words are decided.

Rules (docs/reports.md §Number formatting):

* A value prints with its item's precision (``decimals``; defaults by unit: 人次/台次/例/组/人/张 0, 天 2, % 2, 元 2,
  指数 4) and its unit glued on: ``26959人次``, ``8.17天``, ``23.00%``. No thousands separator (the house style of
  hospital work reports: "全年完成门诊510451人次").
* A change against a comparison period is one of three kinds (``change`` of the item, default by unit):
  - ``points`` — rates (unit % or ‰): the difference, in 个百分点 / 个千分点: "较同期下降1.00个百分点";
  - ``relative`` — volumes and money (人次, 台次, 例, 元, 万元 …): the relative change in %: "同比增长3.20%";
  - ``absolute`` — everything else (天, 次, 指数 …): the difference in the item's unit: "较同期下降0.46天".
* The direction word is 增长 / 下降 / 持平. 持平 when the change is within ``tolerance`` (default: it rounds to zero
  at the display precision of the change).
* With the indicator's direction (up 逐步提高 / down 逐步降低 / monitor 监测比较) the change is judged
  改善 (improved) / 退步 (worsened) / 持平; monitoring indicators get no judgement ("—").
"""

from __future__ import annotations

from dataclasses import dataclass

RATE_UNITS = {"%": "个百分点", "‰": "个千分点"}
RELATIVE_UNITS = {"人次", "台次", "例", "元", "万元", "亿元", "人", "张", "组", "项", "次数"}
DEFAULT_DECIMALS = {"人次": 0, "台次": 0, "例": 0, "组": 0, "人": 0, "张": 0, "项": 0, "天": 2, "%": 2, "‰": 2,
                    "元": 2, "万元": 2, "次": 2, "指数": 4, "": 2}
# units printed without a glued unit string (indexes, ratios)
BARE_UNITS = {"指数", "比值", "权重", "", "1:x", "综合"}

UP_WORDS = {"up", "逐步提高", "higher"}
DOWN_WORDS = {"down", "逐步降低", "lower"}


def default_decimals(unit: str) -> int:
    return DEFAULT_DECIMALS.get(unit, 2)


def default_change(unit: str) -> str:
    if unit in RATE_UNITS:
        return "points"
    if unit in RELATIVE_UNITS:
        return "relative"
    return "absolute"


def number(v: float | None, decimals: int = 2) -> str:
    """'8.17'; integers without decimals; '—' for None. Rounds half away from zero (report convention)."""
    if v is None:
        return "—"
    from decimal import ROUND_HALF_UP, Decimal

    q = Decimal(1).scaleb(-decimals) if decimals > 0 else Decimal(1)
    d = Decimal(repr(float(v))).quantize(q, rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)          # no '-0.00'
    return f"{d:f}"


def with_unit(v: float | None, unit: str, decimals: int | None = None) -> str:
    """'26959人次', '8.17天', '23.00%'; bare for indexes ('1.0234')."""
    dec = default_decimals(unit) if decimals is None else decimals
    s = number(v, dec)
    if v is None or unit in BARE_UNITS:
        return s
    return s + unit


@dataclass(frozen=True)
class Change:
    """A change of one value against a comparison value, ready for a sentence."""

    kind: str                 # points / relative / absolute
    word: str                 # 增长 / 下降 / 持平 ('' when not computable)
    amount: float | None      # ≥ 0, in the unit of `unit_text` (百分点, %, or the value's unit)
    amount_text: str          # '0.46天', '1.00个百分点', '3.20%'
    judgement: str            # 改善 / 退步 / 持平 / — / ''
    reason: str = ""          # why not computable ('缺少同期数据', '同期值为0')

    @property
    def ok(self) -> bool:
        return bool(self.word)

    def phrase(self, against: str = "同期") -> str:
        """'较同期下降0.46天' / '与同期持平' / '' (not computable)."""
        if not self.word:
            return ""
        if self.word == "持平":
            return f"与{against}持平"
        return f"较{against}{self.word}{self.amount_text}"

    def short(self, prefix: str = "同比") -> str:
        """'同比增长3.20%' / '同比持平'."""
        if not self.word:
            return ""
        if self.word == "持平":
            return f"{prefix}持平"
        return f"{prefix}{self.word}{self.amount_text}"


def direction_word(delta: float | None, decimals: int, tolerance: float | None = None) -> str:
    """增长 / 下降 / 持平 — 持平 when |delta| ≤ tolerance, or (no tolerance) when delta rounds to 0 at `decimals`."""
    if delta is None:
        return ""
    if tolerance is not None:
        if abs(delta) <= tolerance:
            return "持平"
    elif number(abs(delta), decimals) == number(0, decimals):
        return "持平"
    return "增长" if delta > 0 else "下降"


def judge(word: str, direction: str | None) -> str:
    if not word:
        return ""
    if word == "持平":
        return "持平"
    if direction in UP_WORDS:
        return "改善" if word == "增长" else "退步"
    if direction in DOWN_WORDS:
        return "改善" if word == "下降" else "退步"
    return "—"


def change(cur: float | None, prev: float | None, *, unit: str, kind: str | None = None,
           decimals: int | None = None, tolerance: float | None = None, direction: str | None = None) -> Change:
    """The change of `cur` against `prev` (see module rules). `decimals` is the precision of the change text
    (defaults: the value's precision for points/absolute, 2 for relative %)."""
    kind = kind or default_change(unit)
    if cur is None or prev is None:
        return Change(kind, "", None, "", "", "缺少比较期数据" if prev is None else "本期数据缺失")
    if kind == "relative":
        if prev == 0:
            return Change(kind, "", None, "", "", "比较期值为0，无法计算增幅")
        delta = (cur - prev) / abs(prev) * 100
        dec = 2 if decimals is None else decimals
        unit_text = "%"
    elif kind == "points":
        delta = cur - prev
        dec = default_decimals(unit) if decimals is None else decimals
        unit_text = RATE_UNITS.get(unit, "个百分点")
    else:
        delta = cur - prev
        dec = default_decimals(unit) if decimals is None else decimals
        unit_text = "" if unit in BARE_UNITS else unit
    word = direction_word(delta, dec, tolerance)
    amount = abs(delta)
    text = "" if word == "持平" else number(amount, dec) + unit_text
    return Change(kind, word, amount, text, judge(word, direction))
