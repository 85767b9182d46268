"""Masking of patient identifiers. Which columns are identifiers is read from the data model (`pii:` in
yunying/model/tables.yaml), never hard-coded here. Used by the web app (unless the role may see identifiers), the
reports and every other output that shows case-level text."""

from __future__ import annotations

from functools import cache

from yunying.model.catalogue import load_model
from yunying.model.safe_cells import TRIGGERS


@cache
def pii_columns() -> dict[str, str]:
    """column name -> pii kind (name / id / phone / address / birth_date), over every table of the model."""
    out: dict[str, str] = {}
    for table in load_model().tables.values():
        for c in table.columns:
            if c.pii:
                out[c.name] = c.pii
    return out


def mask_value(kind: str, value):
    """The masked text. A kept first character that a spreadsheet reads as a formula trigger (= + - @) is masked
    too, so a masked value never starts a formula (=*** → ****)."""
    if value is None:
        return None
    s = str(value)
    if not s:
        return s
    out = _mask(kind, s)
    return "*" + out[1:] if out.startswith(TRIGGERS) else out


def _mask(kind: str, s: str) -> str:
    if kind == "name":                       # 张三丰 -> 张**
        return s[0] + "*" * max(len(s) - 1, 1)
    if kind == "id":                         # 330102199001011234 -> 330***********1234
        return s[:3] + "*" * max(len(s) - 7, 3) + s[-4:] if len(s) > 7 else "*" * len(s)
    if kind == "phone":                      # 13199842255 -> 131****2255
        return s[:3] + "****" + s[-4:] if len(s) >= 8 else "*" * len(s)
    if kind == "address":                    # keep the first 6 characters (province/city)
        return s[:6] + "****"
    if kind == "birth_date":                 # 1990-01-02 -> 1990-**-**: the year only (the age is shown anyway);
        # beside a masked ID number (first 3 and last 4 digits) a full date would give 15 of its 18 digits
        return s[:4] + "-**-**" if len(s) >= 4 and s[:4].isdigit() else "*" * len(s)
    return "****"


def mask_row(row: dict, see_pii: bool) -> dict:
    if see_pii:
        return row
    cols = pii_columns()
    return {k: (mask_value(cols[k], v) if k in cols else v) for k, v in row.items()}


def mask_rows(rows: list[dict], see_pii: bool) -> list[dict]:
    return rows if see_pii else [mask_row(r, False) for r in rows]


def pii_values(record: dict) -> dict[str, str]:
    """raw identifier value -> pii kind, for the pii columns of `record` (values shorter than two characters are
    left out: masking a one-character string would garble unrelated text)."""
    cols = pii_columns()
    return {str(v): cols[k] for k, v in record.items() if k in cols and v is not None and len(str(v)) >= 2}


def mask_text(text, values: dict[str, str]):
    """`text` with every raw identifier in `values` (see pii_values) replaced by its mask — for messages that
    quote a value, e.g. a QC finding 【身份证号】“330102…”不是有效的18位号码."""
    if not text or not values:
        return text
    out = str(text)
    for raw in sorted(values, key=len, reverse=True):
        if raw in out:
            out = out.replace(raw, mask_value(values[raw], raw))
    return out


def mask_finding(finding: dict, record: dict) -> dict:
    """A QC finding as someone who may not see identifiers sees it: the value of an identifier field masked, and
    the record's identifiers (and that value) masked wherever the value, expected value or messages quote them."""
    cols = pii_columns()
    field = finding.get("field_name") or finding.get("field")
    values = pii_values(record)
    raw = finding.get("value")
    if field in cols and raw is not None and len(str(raw)) >= 2:
        values[str(raw)] = cols[field]
    out = {k: (mask_text(v, values) if k in ("value", "expected", "message_zh", "message_en", "message") else v)
           for k, v in finding.items()}
    if field in cols and raw is not None:
        out["value"] = mask_value(cols[field], raw)
    return out
