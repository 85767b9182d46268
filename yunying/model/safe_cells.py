"""Exported cells that cannot execute as spreadsheet formulas (CSV/formula injection).

A text cell beginning with = + - @ (or a tab / carriage return, which Excel strips before reading the rest) is
written with a leading apostrophe in CSV — Excel and WPS then show it as text — and as a typed string (never a
formula) in xlsx. Numbers are numbers: a negative amount stays -12.5, and so does the text "-12.5" or a lone "-"
(neither can execute). Every CSV and xlsx the product writes for a
person goes through this module (CLI outputs, web downloads, reports, reject files); internal files do not.
"""

from __future__ import annotations

import csv
import re
from typing import Any, Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_SQL_TRIGGER = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?%?$|^-$"
_plain = re.compile(_PLAIN_NUMBER)


def neutralise(value: Any) -> Any:
    """The value to write: text that a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _plain.match(value):
        return "'" + value
    return value


def neutralise_row(row: Iterable[Any]) -> list[Any]:
    return [neutralise(v) for v in row]


class _Writer:
    def __init__(self, inner):
        self._w = inner

    def writerow(self, row):
        return self._w.writerow(neutralise_row(row))

    def writerows(self, rows):
        for r in rows:
            self.writerow(r)


class _DictWriter(_Writer):
    def writeheader(self):
        return self._w.writeheader()

    def writerow(self, row):
        return self._w.writerow({k: neutralise(v) for k, v in row.items()})


def csv_writer(fh, **kw) -> _Writer:
    """csv.writer whose rows are neutralised."""
    return _Writer(csv.writer(fh, **kw))


def csv_dict_writer(fh, fieldnames, **kw) -> _DictWriter:
    """csv.DictWriter whose values are neutralised."""
    return _DictWriter(csv.DictWriter(fh, fieldnames, **kw))


def xlsx_no_formulas(wb) -> None:
    """Before saving an openpyxl workbook: every cell openpyxl took for a formula (text starting with '=') is stored
    as the string it was. The product never writes formulas."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def sql_neutralised(con, sql: str) -> str:
    """`sql` with each text column wrapped so that DuckDB's COPY … TO writes neutralised cells."""
    cols = con.execute(f"describe ({sql})").fetchall()
    parts = []
    for name, typ, *_ in cols:
        q = '"' + str(name).replace('"', '""') + '"'
        if str(typ).upper().startswith("VARCHAR"):
            parts.append(f"case when regexp_matches({q}, '{_SQL_TRIGGER}') and not regexp_matches({q}, "
                         f"'{_PLAIN_NUMBER}') then '''' || {q} else {q} end as {q}")
        else:
            parts.append(q)
    return f"select {', '.join(parts)} from ({sql})"
