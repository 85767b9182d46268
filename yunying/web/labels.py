"""Column labels and displayed values of the web pages and exports, from data: a column's Chinese name from the
data model (tables.yaml), its coded values decoded through its value domain (domains.yaml), its number formatted
by unit with the one rule set of yunying.reports.fmt (docs/web.md §Labels and numbers). English (?lang=en): the
column's identifier as words, the code beside its Chinese label."""

from __future__ import annotations

import re
from functools import cache

from yunying.model.catalogue import Column, load_model
from yunying.reports import fmt

# Chinese headers of engine drill-down columns that are not data-model columns (view keys, period); c0, c1 … are
# the values each record contributes to the indicator's aggregates (计入值1, 计入值2 …).
EXTRA_LABELS = {"hospital_id": ("医疗机构", "hospital"), "period_month": ("月份", "month"),
                "seq": ("序号", "seq"), "visit_id": ("就诊流水号", "visit id"), "dept_code": ("科室代码", "department"),
                "scope": ("口径", "scope"), "scheme": ("分组方案", "scheme"),
                "staff_category": ("人员类别", "staff category"), "title_level": ("职称级别", "title level")}
# drill-down columns holding the first day of a month, shown as the month (2022-03)
MONTH_COLUMNS = {"period_month"}
_VALUE_COL = re.compile(r"c(\d+)")
# kinds of column types that print as times
_TIME_TYPES = {"DATE", "TIMESTAMP"}


@cache
def _columns(table: str | None) -> dict[str, Column]:
    """name -> Column: the table's own columns first, then the first column of that name in any table."""
    model = load_model()
    out: dict[str, Column] = {}
    if table and table in model.tables:
        out.update({c.name: c for c in model.tables[table].columns})
    for t in model.tables.values():
        for c in t.columns:
            out.setdefault(c.name, c)
    return out


def column(name: str, table: str | None = None) -> Column | None:
    return _columns(table).get(name)


def label(name: str, lang: str = "zh", table: str | None = None) -> str:
    """病案号 / 'mrn' → Chinese name (zh) or the identifier as words (en)."""
    m = _VALUE_COL.fullmatch(name)
    if m:
        n = int(m.group(1)) + 1
        return f"计入值{n}" if lang != "en" else f"value {n}"
    if name in EXTRA_LABELS:
        zh, en = EXTRA_LABELS[name]
        return zh if lang != "en" else en
    col = column(name, table)
    if lang == "en" or col is None:
        return name.replace("_", " ")
    return col.zh


def export_header(name: str, table: str | None = None) -> str:
    """CSV header: Chinese name and identifier ('病案号 mrn'), so a spreadsheet reads in Chinese and a script by key."""
    zh = label(name, "zh", table)
    return name if zh == name.replace("_", " ") else f"{zh} {name}"


def value(name: str, v, lang: str = "zh", table: str | None = None) -> str:
    """One cell as shown: a domain code decoded (性别 2 → 女; en '2 女'), a number by the column's unit (money
    '12,345.60元', counts '87', never '87.00'), a time to the second. '' for None."""
    if v is None:
        return ""
    col = column(name, table)
    if col is not None and col.domain:
        dom = load_model().domains.get(col.domain)
        text = dom.codes.get(str(v)) if dom else None
        if text is not None:
            return text if lang != "en" else f"{v} {text}"
        return str(v)
    if name in MONTH_COLUMNS and hasattr(v, "strftime"):
        return v.strftime("%Y-%m")
    if col is not None and col.base_type in _TIME_TYPES:
        return fmt.when(v)
    unit = (col.unit or "") if col is not None else ""
    return fmt.display(v, unit, glue=unit in fmt.MONEY_UNITS)


def decode(domain: str, code, lang: str = "zh") -> str:
    """A code through a data-model domain, for values that are not a table column (drg_result.status
    'SUCCESS' -> 入组成功; en 'SUCCESS 入组成功'); the code itself when the domain does not know it."""
    if code is None:
        return ""
    dom = load_model().domains.get(domain)
    text = dom.codes.get(str(code)) if dom else None
    if text is None:
        return str(code)
    return text if lang != "en" else f"{code} {text}"


def contribution_labels(measure, columns: list[str], lang: str = "zh") -> dict[str, str]:
    """Headers of a drill-down's computed columns c0, c1 … (the argument of the measure's i-th aggregate, see
    yunying.indicators.engine.case_sql): the data model's name of the column it reads (住院总费用), else what it
    is counted into: '出院患者手术台次数（计入值）' (several: 计入值1, 计入值2 …)."""
    from sqlglot import exp, parse_one

    from yunying.indicators.engine import _aggs

    computed = [c for c in columns if _VALUE_COL.fullmatch(c)]
    if measure is None or not computed:
        return {}
    try:
        aggs = _aggs(parse_one(measure.sql, read="duckdb"))
    except Exception:  # noqa: BLE001 — a measure sqlglot cannot read keeps the generic label
        aggs = []
    out = {}
    for c in computed:
        i = int(_VALUE_COL.fullmatch(c).group(1))
        arg = aggs[i][0].this if i < len(aggs) else None
        if isinstance(arg, exp.Distinct):
            arg = arg.expressions[0]
        col = column(arg.name) if isinstance(arg, exp.Column) else None
        if col is not None and col.name not in EXTRA_LABELS:
            out[c] = col.zh if lang != "en" else col.name.replace("_", " ")
            continue
        n = "" if len(computed) == 1 else str(computed.index(c) + 1)
        base = measure.label_zh or ""
        out[c] = (f"{base}（计入值{n}）" if base else f"计入值{n or 1}") if lang != "en" else f"value counted {n}".strip()
    return out


def part(text: str | None, lang: str = "zh") -> str:
    """One language of an engine's bilingual text 'Chinese / English' (reasons, notes): the Chinese part on Chinese
    pages, the English part with ?lang=en; a text without ' / ' as it is."""
    if not text:
        return ""
    zh, sep, en = str(text).partition(" / ")
    return (en or zh) if lang == "en" and sep else zh if sep else str(text)


def kind_label(kind: str, lang: str = "zh") -> str:
    """An import kind by its main table's Chinese name (discharge -> 住院病案首页); en: the kind."""
    model = load_model()
    if lang == "en" or kind not in model.kinds:
        return kind
    return model.main_table(kind).zh


domain_label = decode  # the cost pages' name for the same lookup
