"""The report model: a Report is sections of paragraphs (rendered sentences with provenance), tables and charts.

Writers (docx/xlsx/pdf) only read this model; data collection and templates only build it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from yunying.reports import fmt


@dataclass
class Value:
    """One figure a sentence may state, with where it comes from (indicator id, part, period, source)."""

    key: str                          # item key in the report spec ('discharges')
    indicator_id: str                 # 'OP-02' (spec id) or a metric id ('DRG-03')
    label: str                        # 出院人次
    period: str                       # '2022' / '2022-06'
    value: float | None = None
    unit: str = ""
    decimals: int | None = None
    change_kind: str | None = None    # points / relative / money / absolute (fmt.default_change by unit)
    tolerance: float | None = None
    direction: str = "monitor"        # up / down / monitor
    part: str = "value"               # value / numerator / denominator of the indicator
    numerator: float | None = None
    denominator: float | None = None
    yoy_value: float | None = None    # same period last year (同期)
    yoy_period: str = ""
    mom_value: float | None = None    # previous period (环比, monthly reports)
    mom_period: str = ""
    target: str = ""
    status: str = ""                  # 达标 / 未达标 / '' (the word of status_code)
    status_code: str = ""             # met / not_met / '' — what logic compares
    reason: str = ""                  # why there is no value
    missing_zh: str = ""              # the sentence the report prints instead ('门急诊数据未导入')
    note: str = ""                    # the engine's fallback-reading note ('按手术级别近似，…'): printed with the value
    source: str = ""                  # 'indicators' (engine) / 'sql' (reports' own SQL) / 'economics' / 'qc'
    note: str = ""                    # remarks stated beside the value (the low-risk reference and its size …)
    warn: bool = False                # a remark is a warning (e.g. a thin reference)
    dept_code: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def dec(self) -> int:
        return fmt.default_decimals(self.unit) if self.decimals is None else self.decimals

    def text(self) -> str:
        return fmt.with_unit(self.value, self.unit, self.dec)

    def number_text(self) -> str:
        return fmt.number(self.value, self.dec)

    @property
    def kind(self) -> str:
        return self.change_kind or fmt.default_change(self.unit)

    @property
    def name(self) -> str:
        """The label without a trailing unit word (门急诊人次 → 门急诊) for sentences like 完成门急诊33330人次."""
        for u in (self.unit, "人次", "台次"):
            if u and self.label.endswith(u) and len(self.label) > len(u):
                return self.label[: -len(u)]
        return self.label

    def __post_init__(self) -> None:
        import math
        for a in ("value", "yoy_value", "mom_value", "numerator", "denominator"):
            x = getattr(self, a)
            if isinstance(x, float) and math.isnan(x):
                setattr(self, a, None)

    def yoy(self) -> fmt.Change:
        return fmt.change(self.value, self.yoy_value, unit=self.unit, kind=self.change_kind,
                          decimals=None if self.kind in ("relative", "money") else self.dec,
                          tolerance=self.tolerance, direction=self.direction)

    def mom(self) -> fmt.Change:
        return fmt.change(self.value, self.mom_value, unit=self.unit, kind=self.change_kind,
                          decimals=None if self.kind in ("relative", "money") else self.dec,
                          tolerance=self.tolerance, direction=self.direction)

    def missing_text(self) -> str:
        return self.missing_zh or (f"{self.label}无法计算：{self.reason}" if self.reason else f"{self.label}无数据")


@dataclass
class Provenance:
    section: str
    sentence: str
    values: list[Value]


@dataclass
class Paragraph:
    text: str
    values: list[Value] = field(default_factory=list)
    style: str = ""                   # '' / 'note' (missing-data notes) / 'summary' / 'bullet'


@dataclass
class Column:
    title: str
    number_format: str = ""           # Excel format ('0', '0.00', '0.00%'…); '' = text


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list]                  # cells: str / float / int / None
    note: str = ""


@dataclass
class Chart:
    title: str
    kind: str                         # bar / barh / line
    categories: list[str]
    series: dict[str, list[float | None]]
    unit: str = ""
    png: bytes | None = None          # rendered by charts.render


@dataclass
class Section:
    key: str
    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Report:
    kind: str                         # monthly / annual
    title: str
    period: str
    hospital_id: str
    hospital_name: str
    dept_code: str | None = None
    dept_name: str | None = None
    sections: list[Section] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))
    sources: dict = field(default_factory=dict)   # which data source answered (indicator engine / own SQL)

    @property
    def provenance(self) -> list[Provenance]:
        out = []
        for s in self.sections:
            for p in s.paragraphs:
                if p.values:
                    out.append(Provenance(s.title, p.text, p.values))
        return out

    def text(self) -> str:
        """The whole report as plain text (tests, CLI preview)."""
        lines = [self.title]
        for s in self.sections:
            lines.append(s.title)
            lines += [p.text for p in s.paragraphs]
        return "\n".join(lines)

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)

    def file_stem(self) -> str:
        dept = f"_{self.dept_code}" if self.dept_code else ""
        if self.kind == "monthly":
            return f"质量月报_{self.period}{dept}"
        return f"年度工作报告数据篇_{self.period}{dept}"
