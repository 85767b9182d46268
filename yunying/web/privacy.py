"""Masking of patient identifiers. Which columns are identifiers is read from the data model (`pii:` in
yunying/model/tables.yaml), never hard-coded here."""

from __future__ import annotations

from functools import cache

from yunying.model.catalogue import load_model


@cache
def pii_columns() -> dict[str, str]:
    """column name -> pii kind (name / id / phone / address), over every table of the model."""
    out: dict[str, str] = {}
    for table in load_model().tables.values():
        for c in table.columns:
            if c.pii:
                out[c.name] = c.pii
    return out


def mask_value(kind: str, value):
    if value is None:
        return None
    s = str(value)
    if not s:
        return s
    if kind == "name":                       # 张三丰 -> 张**
        return s[0] + "*" * max(len(s) - 1, 1)
    if kind == "id":                         # 330102199001011234 -> 330***********1234
        return s[:3] + "*" * max(len(s) - 7, 3) + s[-4:] if len(s) > 7 else "*" * len(s)
    if kind == "phone":                      # 13199842255 -> 131****2255
        return s[:3] + "****" + s[-4:] if len(s) >= 8 else "*" * len(s)
    if kind == "address":                    # keep the first 6 characters (province/city)
        return s[:6] + "****"
    return "****"


def mask_row(row: dict, see_pii: bool) -> dict:
    if see_pii:
        return row
    cols = pii_columns()
    return {k: (mask_value(cols[k], v) if k in cols else v) for k, v in row.items()}


def mask_rows(rows: list[dict], see_pii: bool) -> list[dict]:
    return rows if see_pii else [mask_row(r, False) for r in rows]
