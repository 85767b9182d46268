"""病例清单 (/cases) and its CSV export: filters validated once for the page and the export, the columns of
catalogue/case_list.yaml labelled and decoded for the page, and the export written from the same cells — so the
CSV holds exactly what the page shows (docs/web.md §病例清单).

Filters (query string): year, month, dept (出院科别 code), drg, qc_grade, from / to (discharge date range,
YYYY-MM-DD, both days included), page (1-based), size (rows per page). A value that cannot be used answers 400
WEB-CASE-FILTER (Chinese first, English), never a 500; a 科主任 asking for another department keeps the scope's 403."""

from __future__ import annotations

import datetime as dt
import io
import threading
from functools import cache
from importlib import resources

import yaml

from yunying.model.safe_cells import csv_writer
from yunying.reports import fmt
from yunying.web import labels
from yunying.web.errors import WebError

PAGE_SIZES = (20, 50, 100, 200)       # offered on the page; any size 1–200 is accepted
DEFAULT_SIZE = 50
CODE = "WEB-CASE-FILTER"


def bad(zh: str, en: str) -> WebError:
    return WebError(400, CODE, zh, en)


@cache
def columns() -> list[dict]:
    doc = yaml.safe_load(resources.files("yunying.web").joinpath("catalogue/case_list.yaml")
                         .read_text(encoding="utf-8"))
    return [dict(c) for c in doc["columns"]]


def _decoder(name: str) -> dict[str, str]:
    if name == "drg_status":
        from yunying.drg.grouper import STATUS_ZH        # the grouper's own status words
        return STATUS_ZH
    raise KeyError(name)


def header(col: dict, lang: str = "zh") -> str:
    if col.get("table"):
        text = labels.label(col["key"], lang, col["table"])
    else:
        text = col["zh"] if lang != "en" else col["en"]
    unit = col.get("unit")
    return f"{text}（{unit}）" if unit and lang != "en" else (f"{text} ({unit})" if unit else text)


def cell(col: dict, v, lang: str = "zh") -> str:
    """The text of one cell as the page shows it: codes decoded, numbers by unit (bare under a header naming the
    unit), times to the second."""
    if v is None or v == "":
        return ""
    return _formatter(col["key"], lang)(v)


@cache
def _formatter(key: str, lang: str):
    """One column's cell function (built once: the page formats hundreds of cells per request)."""
    col = next(c for c in columns() if c["key"] == key)
    if col.get("decode"):
        words = _decoder(col["decode"])
        return (lambda v: words.get(str(v), str(v))) if lang != "en" else str
    if col.get("unit"):
        unit = col["unit"]
        return lambda v: fmt.display(v, unit, glue=False)
    if col.get("table"):
        model_col = labels.column(key, col["table"])
        if model_col is not None and model_col.domain:
            return lambda v: labels.value(key, v, lang, col["table"])
        if model_col is not None and model_col.base_type in ("DATE", "TIMESTAMP"):
            return fmt.when
        # whole numbers print as integers (never 87.00), other values as labels.value prints them
        return lambda v: str(v) if isinstance(v, int) else labels.value(key, v, lang, col["table"])
    return str


@cache
def cell_attrs() -> list:
    """The <td> attributes per column (number columns right-aligned; the page's first column links the case)."""
    from markupsafe import Markup
    return [Markup(' class="num"') if c.get("num") else Markup("") for c in columns()]


def table(rows: list[dict], lang: str = "zh") -> tuple[list[str], list[list[str]]]:
    """(headers, cells) of the page."""
    cols = columns()
    return [header(c, lang) for c in cols], [[cell(c, r.get(c["key"]), lang) for c in cols] for r in rows]


def csv_bytes(rows: list[dict]) -> bytes:
    """The export: the page's columns and cells in Chinese (header 「中文名 key」 like the other exports), numbers
    without thousands separators so a spreadsheet reads them as numbers; formula-like text neutralised
    (yunying.model.safe_cells); UTF-8 with BOM."""
    cols = columns()
    buf = io.StringIO()
    w = csv_writer(buf)
    w.writerow([f"{header(c)} {c['key']}" for c in cols])
    for r in rows:
        w.writerow([cell(c, r.get(c["key"])).replace(",", "") if c.get("unit") else cell(c, r.get(c["key"]))
                    for c in cols])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


# ---- filters ---------------------------------------------------------------------------------------------------

_CHOICES: dict[tuple, dict] = {}
_LOCK = threading.Lock()


def choices(wh, cur) -> dict:
    """What the filters may take, from the warehouse (cached per data version): departments with discharges,
    DRG codes of the default scheme, record grades QC assigned."""
    from yunying.web import queries as q

    key = (wh.uid, wh.version)
    with _LOCK:
        found = _CHOICES.get(key)
    if found is not None:
        return found
    caps = q.capabilities(wh, cur)
    drgs = [r[0] for r in cur.execute("select distinct drg from drg_result where scheme = ? and drg is not null "
                                      "order by 1", [q.default_scheme(cur)]).fetchall()] if caps["drg"] else []
    grades = [r[0] for r in cur.execute("select distinct grade from qc_record where grade is not null order by 1"
                                        ).fetchall()] if caps["qc"] else []
    found = {"drg": drgs, "qc_grade": grades, "depts": q.dept_codes(wh, cur), "caps": caps}
    with _LOCK:
        if len(_CHOICES) > 8:
            _CHOICES.clear()
        _CHOICES[key] = found
    return found


def _int(name: str, v: str | None, lo: int, hi: int) -> int | None:
    if v in (None, ""):
        return None
    try:
        n = int(v)
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        raise bad(f"参数 {name} 应为 {lo}–{hi} 的整数，收到 {v!r}", f"{name} must be an integer {lo}–{hi}, got {v!r}")
    return n


def _date(name: str, v: str | None) -> dt.date | None:
    if v in (None, ""):
        return None
    try:
        if len(v) == 10:
            return dt.date.fromisoformat(v)
    except ValueError:
        pass
    raise bad(f"参数 {name} 应为日期 YYYY-MM-DD（如 2022-03-01），收到 {v!r}",
              f"{name} must be a date YYYY-MM-DD (e.g. 2022-03-01), got {v!r}")


def parse(raw: dict, scope, choice: dict) -> dict:
    """Validated filters from the query string (strings) — the scope's own checks (403) first."""
    def s(k):
        v = raw.get(k)
        return v.strip() if isinstance(v, str) and v.strip() else None

    dept = s("dept")
    scope.check_dept(dept)
    scope.check_hospital(s("hospital"))
    if dept is not None and dept not in choice["depts"]:
        raise bad(f"没有出院科别为 {dept!r} 的病例（科室代码不存在）", f"no discharges from department {dept!r}")
    f = {"year": _int("year", s("year"), 1990, 2100), "month": _int("month", s("month"), 1, 12), "dept": dept,
         "hospital": s("hospital"), "drg": s("drg"), "qc_grade": s("qc_grade"),
         "date_from": _date("from", s("from")), "date_to": _date("to", s("to"))}
    if f["month"] and not f["year"]:
        raise bad("按月份筛选时请同时指定年度 year", "month needs a year")
    if f["date_from"] and f["date_to"] and f["date_from"] > f["date_to"]:
        raise bad(f"出院日期范围无效：起始 {f['date_from']} 晚于截止 {f['date_to']}",
                  f"date range: from {f['date_from']} is after to {f['date_to']}")
    if f["drg"]:
        if not choice["caps"]["drg"]:
            raise bad("尚未进行 DRG 分组，无法按 DRG 筛选", "no DRG results yet: cannot filter by DRG")
        if f["drg"] not in choice["drg"]:
            raise bad(f"默认分组方案中没有 DRG 组 {f['drg']!r}", f"no DRG {f['drg']!r} in the default scheme's results")
    if f["qc_grade"]:
        if not choice["caps"]["qc"]:
            raise bad("病案质控尚未运行，无法按病案等级筛选", "record QC has not run: cannot filter by grade")
        if f["qc_grade"] not in choice["qc_grade"]:
            raise bad(f"病案等级应为 {' / '.join(choice['qc_grade'])}，收到 {f['qc_grade']!r}",
                      f"qc_grade must be one of {', '.join(choice['qc_grade'])}, got {f['qc_grade']!r}")
    size = _int("size", s("size"), 1, max(PAGE_SIZES)) or DEFAULT_SIZE
    f["page"] = _int("page", s("page"), 1, 10**6) or 1
    f["size"] = size
    return f


def query_string(f: dict, **override) -> str:
    """The filters as a query string (page links, the export link): dates back as YYYY-MM-DD."""
    from urllib.parse import urlencode

    names = {"date_from": "from", "date_to": "to"}
    out = {}
    for k, v in {**f, **override}.items():
        if v in (None, ""):
            continue
        out[names.get(k, k)] = v.isoformat() if isinstance(v, dt.date) else v
    return urlencode(out)


def audit_filters(f: dict) -> dict:
    return {("from" if k == "date_from" else "to" if k == "date_to" else k):
            (v.isoformat() if isinstance(v, dt.date) else v) for k, v in f.items()}
