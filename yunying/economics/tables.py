"""Reading user tables (CSV in UTF-8 / GB18030, or xlsx) as lists of dicts with their line numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from yunying.economics.errors import EconomicsError


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for every non-blank data row; header names stripped and lower-cased."""
    path = Path(path)
    if not path.is_file():
        raise EconomicsError(f"ECON-FILE 文件不存在：{path} / file not found: {path}")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        ws = wb.worksheets[0]
        raw = [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]
        wb.close()
    else:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")
        raw = list(csv.reader(io.StringIO(text, newline="")))
    if not raw:
        raise EconomicsError(f"ECON-FILE 文件为空：{path} / empty file: {path}")
    numbered = [(i, rec) for i, rec in enumerate(raw, start=1)
                if not (rec and str(rec[0]).lstrip().startswith("#"))]    # '#' lines are comments
    if not numbered:
        raise EconomicsError(f"ECON-FILE 文件没有表头：{path} / no header row: {path}")
    header = [h.strip().lower() for h in numbered[0][1]]
    out = []
    for i, rec in numbered[1:]:
        if not rec or all(not str(x).strip() for x in rec):
            continue
        out.append((i, {h: (rec[j].strip() if j < len(rec) else "") for j, h in enumerate(header)}))
    return out


def need_columns(path: Path, rows: list[tuple[int, dict]], columns: list[str], header: list[str] | None = None):
    have = set(rows[0][1]) if rows else set(header or [])
    missing = [c for c in columns if c not in have]
    if missing:
        raise EconomicsError(f"ECON-COLUMNS 文件 {path} 缺少列：{', '.join(missing)} / {path}: missing columns "
                             f"{', '.join(missing)}")


def num(path: Path, line: int, field: str, value: str, *, required: bool = False, positive: bool = False,
        nonneg: bool = False) -> float | None:
    if value is None or value == "":
        if required:
            raise EconomicsError(f"ECON-VALUE {path} 第{line}行 字段【{field}】为空 / {path} row {line}: "
                                 f"{field} is empty")
        return None
    try:
        x = float(value)
    except ValueError:
        raise EconomicsError(f"ECON-VALUE {path} 第{line}行 字段【{field}】值 {value!r} 不是数字 / {path} row "
                             f"{line}: {field} {value!r} is not a number") from None
    if x != x or (positive and x <= 0) or (nonneg and x < 0):
        cond = "必须大于 0 / must be > 0" if positive else "不能为负 / must be ≥ 0"
        raise EconomicsError(f"ECON-VALUE {path} 第{line}行 字段【{field}】值 {value!r} {cond} / {path} row "
                             f"{line}: {field} {value!r} out of range")
    return x
