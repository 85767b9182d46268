"""Report specs (YAML) and sentence templates (Jinja2), shipped under yunying/reports/templates/, overridable by a
user folder holding files of the same names (a user file replaces the shipped one of that name).

Provenance without bookkeeping in templates: every figure a template prints goes through a `TValue`, which emits an
invisible marker with the value's index; after rendering, each output line becomes a paragraph and the markers on
it say which values (indicator ids, periods, numbers) the sentence states.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import yaml
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError

from yunying.reports.model import Paragraph, Value

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
MARK_RE = re.compile(f"{MARK_OPEN}(\\d+){MARK_CLOSE}")


class ReportTemplateError(ValueError):
    """A template or spec file that cannot be read or rendered (message names the file and line)."""


def shipped_dir() -> Path:
    return Path(str(resources.files("yunying.reports").joinpath("templates")))


def search_path(user_dir: Path | None) -> list[Path]:
    dirs = []
    if user_dir:
        user_dir = Path(user_dir)
        if not user_dir.is_dir():
            raise ReportTemplateError(f"模板目录不存在：{user_dir} / template folder not found: {user_dir}")
        dirs.append(user_dir)
    dirs.append(shipped_dir())
    return dirs


def load_spec(name: str, user_dir: Path | None = None) -> dict:
    """'annual.yaml' from the user folder if present there, else the shipped one."""
    for d in search_path(user_dir):
        p = d / name
        if p.is_file():
            try:
                doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ReportTemplateError(f"{p}: YAML 格式错误 / invalid YAML: {exc}") from exc
            doc["__file__"] = str(p)
            return doc
    raise ReportTemplateError(f"找不到报告定义 {name} / report spec {name} not found")


class Recorder:
    def __init__(self) -> None:
        self.values: list[Value] = []
        self.index: dict[int, int] = {}

    def mark(self, v: Value) -> str:
        i = self.index.get(id(v))
        if i is None:
            i = len(self.values)
            self.values.append(v)
            self.index[id(v)] = i
        return f"{MARK_OPEN}{i}{MARK_CLOSE}"


class TValue:
    """A Value as templates see it. Printing any figure records the value for provenance."""

    def __init__(self, v: Value, rec: Recorder):
        self._v, self._rec = v, rec

    def _m(self, s: str) -> str:
        return self._rec.mark(self._v) + s

    def __str__(self) -> str:                     # {{ v.alos }} → 8.17天
        return self._m(self._v.text())

    def __html__(self) -> str:
        return str(self)

    # figures (recorded)
    @property
    def num(self) -> str:                         # 8.17
        return self._m(self._v.number_text())

    @property
    def yoy(self) -> str:                         # 较同期下降0.46天 / 与同期持平
        return self._m(self._v.yoy().phrase("同期"))

    @property
    def yoy_short(self) -> str:                   # 同比增长3.20%
        return self._m(self._v.yoy().short("同比"))

    @property
    def mom(self) -> str:                         # 较上月增长…
        return self._m(self._v.mom().phrase("上月"))

    @property
    def mom_short(self) -> str:                   # 环比增长…
        return self._m(self._v.mom().short("环比"))

    @property
    def magnitude(self) -> str:                   # |value| with unit, after a word giving the sign (亏损2.20万元)
        from yunying.reports import fmt
        v = self._v.value
        return self._m(fmt.with_unit(None if v is None else abs(v), self._v.unit, self._v.dec))

    @property
    def yoy_prev(self) -> str:                    # last year's value with unit
        from yunying.reports import fmt
        return self._m(fmt.with_unit(self._v.yoy_value, self._v.unit, self._v.dec))

    @property
    def ref(self) -> str:                         # prints nothing; records the value for provenance
        return self._m("")

    @property
    def missing(self) -> str:                     # 门急诊数据未导入
        return self._m(self._v.missing_text())

    # facts for conditions (not recorded: they print nothing by themselves)
    @property
    def ok(self) -> bool:
        return self._v.ok

    @property
    def value(self):
        return self._v.value

    @property
    def has_yoy(self) -> bool:
        return self._v.yoy().ok

    @property
    def has_mom(self) -> bool:
        return self._v.mom().ok

    @property
    def note(self) -> str:                        # 风险分级参照：…；参照中低风险组 1 个 (remarks beside the value)
        return self._m(self._v.note) if self._v.note else ""

    @property
    def warn(self) -> bool:
        return self._v.warn

    # codes for conditions (logic compares codes; the words below render them)
    @property
    def yoy_dir(self) -> str:                     # up / down / flat / ''
        return self._v.yoy().dir

    @property
    def mom_dir(self) -> str:
        return self._v.mom().dir

    @property
    def verdict(self) -> str:                     # better / worse / flat / ''
        return self._v.yoy().verdict

    @property
    def mom_verdict(self) -> str:
        return self._v.mom().verdict

    @property
    def status_code(self) -> str:                 # met / not_met / ''
        return self._v.status_code

    @property
    def yoy_word(self) -> str:
        return self._v.yoy().word

    @property
    def mom_word(self) -> str:
        return self._v.mom().word

    @property
    def judgement(self) -> str:
        return self._v.yoy().judgement

    @property
    def mom_judgement(self) -> str:
        return self._v.mom().judgement

    @property
    def label(self) -> str:
        return self._v.label

    @property
    def name(self) -> str:
        return self._v.name

    @property
    def unit(self) -> str:
        return self._v.unit

    @property
    def status(self) -> str:
        return self._v.status

    @property
    def target(self) -> str:
        return self._v.target

    @property
    def reason(self) -> str:
        return self._v.reason

    @property
    def id(self) -> str:
        return self._v.indicator_id


def wrap(obj, rec: Recorder):
    """Wrap Values (also inside dicts and lists) for templates."""
    if isinstance(obj, Value):
        return TValue(obj, rec)
    if isinstance(obj, dict):
        return {k: wrap(x, rec) for k, x in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [wrap(x, rec) for x in obj]
    return obj


def environment(user_dir: Path | None = None) -> Environment:
    env = Environment(loader=ChoiceLoader([FileSystemLoader(str(d)) for d in search_path(user_dir)]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
                      autoescape=False)
    env.filters["join_zh"] = lambda items: "、".join(str(i) for i in items)
    return env


def render_paragraphs(env: Environment, template: str, context: dict) -> list[Paragraph]:
    """Render one section template; each non-empty output line is a paragraph ('- ' bullet, '> ' note)."""
    rec = Recorder()
    ctx = {k: wrap(v, rec) for k, v in context.items()}
    try:
        text = env.get_template(template).render(**ctx)
    except TemplateError as exc:
        where = getattr(exc, "filename", None) or template
        line = getattr(exc, "lineno", None)
        raise ReportTemplateError(f"模板 {where}{f' 第{line}行' if line else ''}：{exc} / template error in "
                                  f"{where}{f' line {line}' if line else ''}: {exc}") from exc
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not MARK_RE.sub("", line):
            continue
        ids = [int(i) for i in MARK_RE.findall(line)]
        clean = MARK_RE.sub("", line)
        style = ""
        if clean.startswith("- "):
            style, clean = "bullet", clean[2:].strip()
        elif clean.startswith("> "):
            style, clean = "note", clean[2:].strip()
        vals = [rec.values[i] for i in dict.fromkeys(ids)]
        out.append(Paragraph(clean, vals, style))
    return out
