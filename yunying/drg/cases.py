"""Case input for the grouper: canonical columns, parsing of numeric fields, the pack's record checks.

Canonical record columns (as in the pack README): record_id, sex, age_years, age_days, newborn_weight_g,
dept_code, los_days, discharge_type, dx, px. dx/px hold codes separated by ``|``, principal first.
Everything is read as text; numbers are parsed here so that a malformed value becomes a check status, never
an exception.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CASE_COLUMNS = ("record_id", "sex", "age_years", "age_days", "newborn_weight_g", "dept_code", "los_days",
                "discharge_type", "dx", "px")
REQUIRED_COLUMNS = ("record_id", "sex", "age_years", "dx", "px")

# check codes (0 = passed); the order is the pack README's order, the first failure is reported
CHECKS = {
    1: ("性别缺失", "sex missing"),
    2: ("性别不是 1（男）或 2（女）", "sex is neither 1 nor 2"),
    3: ("年龄（岁）缺失", "age in years missing"),
    4: ("年龄（岁）不是整数", "age in years is not an integer"),
    5: ("年龄为 0 岁但缺少或无效的年龄（天）", "age 0 years but age in days missing or not an integer"),
    6: ("≤28 天新生儿缺少新生儿体重", "newborn of 28 days or less without a birth weight"),
}

INT_PATTERN = r"^[ \t\n\f\r]*[+-]?[0-9]+[ \t\n\f\r]*$"  # same text in explain.py
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def as_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Any column as a (non-chunked) string array; nulls kept."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        if pa.types.is_floating(col.type):
            # 45.0 read by a float reader is the integer 45; 45.5 stays non-integral text
            arr = col.to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                integral = np.isfinite(arr) & (np.floor(arr) == arr)
            txt = np.where(integral, np.nan_to_num(arr).astype(np.int64).astype(str), arr.astype(str))
            return pa.array(txt, mask=np.asarray(col.is_null()), type=pa.string())
        col = pc.cast(col, pa.string())
    if pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    return col


_DIGITS = np.zeros(256, dtype=bool)
_DIGITS[[ord(ch) for ch in "0123456789-"]] = True


def _only_digits(txt: pa.Array) -> bool:
    """True when every byte of the string values is a digit or '-' (cheap scan of the data buffer)."""
    bufs = txt.buffers()
    if len(txt) == 0 or bufs[2] is None:
        return True
    off = np.frombuffer(bufs[1], dtype=np.int32, count=len(txt) + 1, offset=txt.offset * 4)
    data = np.frombuffer(bufs[2], dtype=np.uint8)[off[0]:off[-1]]
    return bool(_DIGITS[data].all())


def parse_int(col: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value int64, present bool, valid_int bool). present = non-null and non-blank.

    Integers may carry surrounding spaces and a sign (" 7", "+7", "-1"); "45.0", "4.5", "0x10", "1e3" are not
    integers.
    """
    txt = as_text(col)
    if _only_digits(txt):  # fast path: plain digits (the usual case)
        present = np.asarray(pc.fill_null(pc.not_equal(pc.utf8_length(txt), 0), False))
        try:
            nums = pc.cast(pc.if_else(pa.array(present), txt, pa.scalar(None, pa.string())), pa.int64())
            vals = np.asarray(pc.fill_null(nums, 0), dtype=np.int64)
            if not (((vals < INT_MIN) | (vals > INT_MAX)) & present).any():
                return vals, present, present.copy()
        except (pa.ArrowInvalid, OverflowError):
            pass
    stripped = pc.utf8_trim_whitespace(txt)
    present = pc.fill_null(pc.not_equal(pc.utf8_length(stripped), 0), False)
    ok = pc.fill_null(pc.match_substring_regex(txt, INT_PATTERN), False)
    ok_np = np.asarray(ok)
    vals = np.zeros(len(txt), dtype=np.int64)
    if ok_np.any():
        good = pc.filter(stripped, ok)
        nums = pc.cast(good, pa.float64()).to_numpy()  # float first: safe for huge digit strings
        inrange = (nums >= INT_MIN) & (nums <= INT_MAX)
        ints = np.where(inrange, nums, 0).astype(np.int64)
        vals[ok_np] = ints
        ok_np = ok_np.copy()
        ok_np[np.flatnonzero(ok_np)[~inrange]] = False
    return vals, np.asarray(present), ok_np


def column(table: pa.Table, name: str) -> pa.Array:
    if name in table.column_names:
        return as_text(table.column(name))
    return pa.nulls(table.num_rows, pa.string())


def missing_columns(table: pa.Table) -> list[str]:
    return [c for c in REQUIRED_COLUMNS if c not in table.column_names]


class Demographics:
    """Parsed per-case fields and the first failed check (0 = all passed)."""

    def __init__(self, table: pa.Table, sex_match: str = "text"):
        n = table.num_rows
        sex = column(table, "sex")
        sex_present = np.asarray(pc.fill_null(pc.not_equal(pc.utf8_length(pc.utf8_trim_whitespace(sex)), 0),
                                              False))
        if sex_match == "integer":
            v, _p, okint = parse_int(sex)
            self.sex = np.where(okint & ((v == 1) | (v == 2)), v, 0).astype(np.int8)
        else:  # exact text '1' / '2'
            one = np.asarray(pc.fill_null(pc.equal(sex, "1"), False))
            two = np.asarray(pc.fill_null(pc.equal(sex, "2"), False))
            self.sex = (one * 1 + two * 2).astype(np.int8)
        age, age_present, age_ok = parse_int(column(table, "age_years"))
        days, _days_present, days_ok = parse_int(column(table, "age_days"))
        weight, _wp, weight_ok = parse_int(column(table, "newborn_weight_g"))
        self.age_years = age
        self.age_ok = age_ok
        infant = age_ok & (age == 0)
        # age_days counts only for age 0 (README: "age_days given with age_years >= 1 is ignored")
        self.age_days_ok = infant & days_ok
        self.age_days = np.where(self.age_days_ok, days, 0)
        self.weight_ok = weight_ok
        self.weight = np.where(weight_ok, weight, 0)
        check = np.zeros(n, dtype=np.int8)
        conds = [
            ~sex_present,
            self.sex == 0,
            ~age_present,
            ~age_ok,
            infant & ~days_ok,
            infant & days_ok & (days <= 28) & ~weight_ok,
        ]
        for code in range(len(conds), 0, -1):  # first failure wins: assign in reverse order
            check = np.where(conds[code - 1], np.int8(code), check)
        self.check = check
        self.dept = column(table, "dept_code")
