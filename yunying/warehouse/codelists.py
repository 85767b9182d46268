"""Diagnosis code lists of the indicators (ind_code_list: 手术并发症 surgical_complication, 手术部位感染 ssi …).

Lists are data. The shipped defaults (spec performance-indicators.md §3 groups; the manual-year lists are
unconfirmed) are yunying/indicators/code_lists.csv, next to the catalogue; this warehouse-layer module reads it by
path (it imports no capability) and migration 0072 seeds them. `yunying indicators load-code-list FILE` replaces a
list with another (the official list of an assessment year): one load replaces the whole list, the last load wins.
"""

from __future__ import annotations

import csv
from pathlib import Path

DEFAULTS = Path(__file__).resolve().parents[1] / "indicators" / "code_lists.csv"
DEFAULT_SOURCE = "yunying default (spec §3)"
LEGACY_SOURCE = "spec §3 default"          # the rows migration 0030 inserted before the lists became data


def read_code_lists(path: Path, list_name: str | None = None) -> list[tuple[str, str, str | None]]:
    """(list_name, code_prefix, name_zh) rows of a CSV: list_name,code_prefix[,name_zh] — or code_prefix[,name_zh]
    (also `code`) with list_name given. Duplicate (list, prefix) rows are kept once (the last)."""
    out: dict[tuple[str, str], tuple[str, str, str | None]] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for n, r in enumerate(csv.DictReader(fh), start=2):
            lst = (list_name or r.get("list_name") or "").strip()
            prefix = (r.get("code_prefix") or r.get("code") or "").strip()
            if not lst or not prefix:
                raise ValueError(f"{path}:{n}: 缺少 list_name 或 code_prefix / list_name or code_prefix missing")
            out[(lst, prefix)] = (lst, prefix, (r.get("name_zh") or r.get("name") or "").strip() or None)
    return list(out.values())


def load_code_lists(con, rows: list[tuple[str, str, str | None]], *, source: str) -> dict[str, int]:
    """Replace every list named in rows by these rows; list name → rows loaded."""
    lists = sorted({r[0] for r in rows})
    for lst in lists:
        con.execute("delete from ind_code_list where list_name = ?", [lst])
    con.executemany("insert into ind_code_list (list_name, code_prefix, name_zh, source) values (?, ?, ?, ?)",
                    [(*r, source) for r in rows])
    return {lst: sum(1 for r in rows if r[0] == lst) for lst in lists}


def seed_defaults(con) -> dict[str, int]:
    """Seed the shipped default lists where a list is empty or still holds only the rows migration 0030 inserted
    (lists loaded by the user are kept)."""
    rows = read_code_lists(DEFAULTS)
    keep = {r[0] for r in con.execute(
        "select distinct list_name from ind_code_list where coalesce(source, '') <> ?", [LEGACY_SOURCE]).fetchall()}
    todo = [r for r in rows if r[0] not in keep]
    return load_code_lists(con, todo, source=DEFAULT_SOURCE) if todo else {}
