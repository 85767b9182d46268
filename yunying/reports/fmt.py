"""Number formatting for report sentences — the one place where units, precision and direction words are decided.

Rules (docs/reports.md §Number formatting):

* A value prints with its item's precision (``decimals``; defaults by unit: 人次/台次/例/组/人/张 0, 天 2, % 2, 元 2,
  指数 / 权重 (RW) 4) and its unit glued on: ``26959人次``, ``8.17天``, ``23.00%``. No thousands separator (the house style of
  hospital work reports: "全年完成门诊510451人次").
* A change against a comparison period is one of three kinds (``change`` of the item, default by unit):
  - ``points`` — rates (unit % or ‰): the difference, in 个百分点 / 个千分点: "较同期下降1.00个百分点";
  - ``relative`` — volumes (人次, 台次, 例 …): the relative change in %: "同比增长3.20%";
  - ``money`` — money (元, 万元): the difference in the money unit as hospitals write it (元 whole), the relative
    change beside: "较同期下降554元（降幅6.16%）";
  - ``absolute`` — everything else (天, 次, 指数 …): the difference in the item's unit: "较同期下降0.46天".
* The direction is a code up / down / flat (words 增长 / 下降 / 持平, yunying.indicators.wording). flat when the
  change is within ``tolerance`` (default: it rounds to zero at the display precision of the change).
* Display cells (``display``: web pages, exports, tables) follow the same units and precision, and add: money
  (元/万元/亿元) with thousands separators and two decimals (``12,345.60元``); counts as integers (``87``, never
  ``87.00``); ratios written as hospitals write them (unit ``1:x``: ``1:1.51``); times to the second, never with
  microseconds (``2022-03-01 08:30:00``); a value of unknown unit prints whole as an integer, else to at most 4
  decimals without trailing zeros. ``display(v, unit, decimals, glue=False)`` gives the bare number for a table
  cell under a header that names the unit.
* With the indicator's direction (up 逐步提高 / down 逐步降低 / monitor 监测比较) the change gets a verdict code
  better / worse / flat (改善 / 退步 / 持平); monitoring indicators get no verdict (''). Logic compares the codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from yunying.indicators import wording

RATE_UNITS = {"%": "个百分点", "‰": "个千分点"}
RELATIVE_UNITS = {"人次", "台次", "例", "人", "张", "组", "项", "次数"}
DEFAULT_DECIMALS = {"人次": 0, "台次": 0, "例": 0, "组": 0, "人": 0, "张": 0, "项": 0, "天": 2, "%": 2, "‰": 2,
                    "元": 2, "万元": 2, "次": 2, "分": 1, "指数": 4, "权重": 4, "": 2}
# units printed without a glued unit string (indexes, ratios)
BARE_UNITS = {"指数", "比值", "权重", "", "1:x", "综合"}



def default_decimals(unit: str) -> int:
    return DEFAULT_DECIMALS.get(unit, 2)


def default_change(unit: str) -> str:
    if unit in RATE_UNITS:
        return "points"
    if unit in RELATIVE_UNITS:
        return "relative"
    if wording.money_decimals(unit) is not None:
        return "money"
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


MONEY_UNITS = {"元", "万元", "亿元"}
COUNT_UNITS = RELATIVE_UNITS | {"个", "岁"}


def grouped(v: float | None, decimals: int = 2) -> str:
    """'12,345.60': `number` with thousands separators (money in tables)."""
    s = number(v, decimals)
    if v is None:
        return s
    sign, s = ("-", s[1:]) if s.startswith("-") else ("", s)
    whole, _, frac = s.partition(".")
    return sign + f"{int(whole):,}" + ("." + frac if frac else "")


def when(v) -> str:
    """A date or time as shown: to the second, no microseconds; a date (or a midnight time from a DATE) as the
    date. Strings pass through with any fractional seconds cut ('2022-03-01 08:30:00.123456' -> '…08:30:00')."""
    import datetime as dt

    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    s = str(v).replace("T", " ")
    return s.split(".")[0] if len(s) > 19 and s[19] == "." else s


def display(v, unit: str = "", decimals: int | None = None, *, glue: bool = True) -> str:
    """One value as displayed on pages, in exports and report tables, by unit (module rules):
    counts '87', money '12,345.60元', rates '23.00%', indexes / weights '1.0234', ratios '1:1.51', times without
    microseconds. glue=False: no unit string (a table cell under a header that names the unit). '' for None."""
    import datetime as dt

    if v is None or v == "":
        return ""
    if isinstance(v, (dt.date, dt.datetime)):
        return when(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not _is_decimal(v):
        return str(v)
    if unit == "1:x":
        return "1:" + number(v, 2 if decimals is None else decimals)
    if unit in MONEY_UNITS:
        s = grouped(v, 2 if decimals is None else decimals)
    elif unit in COUNT_UNITS and decimals is None:
        s = number(v, 0)
    elif decimals is None and not unit:
        # no unit known (a drill-down's contribution): whole numbers as integers (87, not 87.00), fractions to at
        # most 4 decimals (RW 1.2346), trailing zeros dropped (12345.6)
        s = number(v, 4)
        s = s.rstrip("0").rstrip(".") if "." in s else s
    else:
        s = number(v, default_decimals(unit) if decimals is None else decimals)
    return s if not glue or unit in BARE_UNITS else s + unit


def _is_decimal(v) -> bool:
    from decimal import Decimal
    return isinstance(v, Decimal)


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

    kind: str                 # points / relative / money / absolute
    dir: str                  # up / down / flat ('' when not computable)
    amount: float | None      # ≥ 0, in the unit of `amount_text` (百分点, %, or the value's unit)
    amount_text: str          # '0.46天', '1.00个百分点', '3.20%', '554元'
    verdict: str              # better / worse / flat / '' (not judged or not computable)
    reason: str = ""          # why not computable ('缺少同期数据', '同期值为0')
    pct_text: str = ""        # money: the relative change beside the amount ('6.16%')

    @property
    def ok(self) -> bool:
        return bool(self.dir)

    @property
    def word(self) -> str:
        """增长 / 下降 / 持平 (rendering of `dir`)."""
        return wording.word(self.dir)

    @property
    def judgement(self) -> str:
        """改善 / 退步 / 持平 / '' (rendering of `verdict`)."""
        return wording.word(self.verdict)

    def phrase(self, against: str = "同期") -> str:
        """'较同期下降0.46天' / '较同期下降554元（降幅6.16%）' / '与同期持平' / '' (not computable)."""
        if not self.dir:
            return ""
        if self.dir == "flat":
            return f"与{against}持平"
        return f"较{against}{self.word}{self.amount_text}{self._pct()}"

    def short(self, prefix: str = "同比") -> str:
        """'同比增长3.20%' / '同比下降554元（降幅6.16%）' / '同比持平'."""
        if not self.dir:
            return ""
        if self.dir == "flat":
            return f"{prefix}持平"
        return f"{prefix}{self.word}{self.amount_text}{self._pct()}"

    def _pct(self) -> str:
        return f"（{'增幅' if self.dir == 'up' else '降幅'}{self.pct_text}）" if self.pct_text else ""


def direction_word(delta: float | None, decimals: int, tolerance: float | None = None) -> str:
    """增长 / 下降 / 持平 — 持平 when |delta| ≤ tolerance, or (no tolerance) when delta rounds to 0 at `decimals`."""
    return wording.word(wording.direction_code(delta, decimals, tolerance))


def change(cur: float | None, prev: float | None, *, unit: str, kind: str | None = None,
           decimals: int | None = None, tolerance: float | None = None, direction: str | None = None) -> Change:
    """The change of `cur` against `prev` (see module rules). `decimals` is the precision of the change text
    (defaults: the value's precision for points/absolute, 2 for relative %, the money precision for money)."""
    kind = kind or default_change(unit)
    if cur is None or prev is None:
        return Change(kind, "", None, "", "", "缺少比较期数据" if prev is None else "本期数据缺失")
    pct_text = ""
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
    elif kind == "money":
        delta = cur - prev
        md = wording.money_decimals(unit)
        dec = (md if md is not None else default_decimals(unit)) if decimals is None else decimals
        unit_text = "" if unit in BARE_UNITS else unit
        if prev != 0:
            pct_text = number(abs(delta / prev * 100), 2) + "%"
    else:
        delta = cur - prev
        dec = default_decimals(unit) if decimals is None else decimals
        unit_text = "" if unit in BARE_UNITS else unit
    code = wording.direction_code(delta, dec, tolerance)
    amount = abs(delta)
    text = "" if code == "flat" else number(amount, dec) + unit_text
    return Change(kind, code, amount, text, wording.verdict_code(code, direction), "",
                  pct_text if code != "flat" else "")
