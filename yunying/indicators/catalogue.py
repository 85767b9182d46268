"""Indicator catalogues: YAML files (one per family) loaded, expanded and validated with file:line errors.

A catalogue file:

    family: tertiary-general          # key
    name_zh: 三级综合
    aliases: [三级综合, tertiary-general, g3]
    includes: [G3-04]                 # indicators of other families that also belong to this one (optional)
    indicators:
      - id: G3-04
        type: ratio                   # count | sum | ratio | derived | growth | external | unavailable | group
        numerator: {over: procedure, sql: "count(distinct surgery_session)", label_zh: 出院患者手术台次数}
        denominator: {over: discharge, sql: "count(*)", label_zh: 同期出院患者总人次数}
        unit: "%"
        scale: 100
        direction: up                 # up 逐步提高 / down 逐步降低 / monitor 监测比较 / improve 逐步完善
        ...

SQL fragments are aggregate expressions over ONE view's columns; they are parsed with SQLGlot and checked against
the view's column list (no joins, no subqueries).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from yunying.indicators.views import VIEWS, view_columns

TYPES = {"count", "sum", "ratio", "derived", "growth", "external", "unavailable", "group"}
DIRECTIONS = {"up": "逐步提高", "down": "逐步降低", "monitor": "监测比较", "improve": "逐步完善"}
UNITS = {"%", "‰", "比值", "人次", "人", "例", "天", "元", "元/万元", "元/百人", "人/百床", "床日/人·日",
         "DDDs/100人天", "分钟", "次", "组", "权重", "指数", "级", "分", "项", "1:x", "综合", "定性", "个"}
LEVELS = ("hospital", "department", "doctor", "region")
ENV_EXTRA = "YUNYING_INDICATORS"
READINGS = Path(__file__).with_name("readings.yaml")
ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)+(\.[A-Za-z0-9_]+)?$")       # G3-04, QC-GRADE-A, OP-03.dept
REF_RE = re.compile(r"\{([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+(?:\.[A-Za-z0-9_]+)?)\}")
ENTRY_KEYS = {"id", "number", "name_zh", "name_en", "type", "definition_zh", "numerator", "denominator", "unit",
              "scale", "direction", "national_monitor", "source", "needs", "reading_zh", "missing_zh",
              "missing_en", "levels", "same_as", "base", "offset", "expr", "parts", "parent", "decimals",
              "dimension", "note", "alternative", "base_unit", "remarks"}
REMARK_KEYS = {"code", "over", "sql", "show", "limit", "warn", "zh", "en"}
REMARK_SHOW = {"always", "positive", "below"}


class CatalogueError(ValueError):
    """Raised with every problem found, each as 'file:line: message'."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("指标目录错误 / indicator catalogue errors:\n" + "\n".join(errors))


@dataclass
class Measure:
    over: str
    sql: str
    label_zh: str = ""


@dataclass
class Remark:
    """A fact stated beside an indicator's value (docs/indicators.md §Remarks): one aggregate over a view, shown
    always, when positive, or when below a limit (a number or the name of a setting, e.g. a thin reference)."""

    code: str
    measure: Measure
    show: str = "always"
    limit: float | str | None = None
    warn: bool = False
    zh: str = ""
    en: str = ""


@dataclass
class Indicator:
    id: str
    family: str
    name_zh: str
    name_en: str = ""
    number: str = ""
    type: str = "ratio"
    definition_zh: str = ""
    numerator: Measure | None = None
    denominator: Measure | None = None
    unit: str = "%"
    scale: float = 1.0
    direction: str = "monitor"
    national_monitor: bool = False
    source: str = ""
    needs: list[str] = field(default_factory=list)
    reading_zh: str = ""
    missing_zh: str = ""
    missing_en: str = ""
    levels: tuple[str, ...] = LEVELS
    same_as: str = ""
    base: str = ""
    offset: str = "yoy"
    expr: str = ""
    parts: list[str] = field(default_factory=list)
    parent: str = ""
    decimals: int = 2
    dimension: str = ""
    # alternative: where this indicator's data is missing for a unit, the value of indicator `alt_use` with the note
    alt_use: str = ""
    alt_note_zh: str = ""
    alt_note_en: str = ""
    base_unit: str = ""       # growth: unit of the quantity whose change is measured (default: the base's unit)
    remarks: list[Remark] = field(default_factory=list)
    file: str = ""
    line: int = 0

    @property
    def direction_zh(self) -> str:
        return DIRECTIONS.get(self.direction, self.direction)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Family:
    key: str
    name_zh: str
    name_en: str
    aliases: list[str]
    ids: list[str]            # own indicators and includes, in file order
    file: str


@dataclass
class Fallback:
    """A fallback reading (readings.yaml): figures reading `columns[view]` carry the note where `when[view]` > 0."""
    id: str
    note_zh: str
    note_en: str
    columns: dict[str, set[str]]         # view → columns whose values follow the fallback reading
    when: dict[str, Measure]             # view → condition measure (> 0 = the fallback applies)

    @property
    def note(self) -> str:
        return f"{self.note_zh} / {self.note_en}" if self.note_en else self.note_zh


@dataclass
class Catalogue:
    indicators: dict[str, Indicator]
    families: dict[str, Family]
    version: str              # sha256 of the loaded files
    fallbacks: list[Fallback] = field(default_factory=list)

    def family(self, name: str) -> Family:
        """Family by key, Chinese name or alias (case-insensitive)."""
        low = name.strip().lower()
        for fam in self.families.values():
            if low == fam.key.lower() or low == fam.name_zh.lower() or low in (a.lower() for a in fam.aliases):
                return fam
        known = "、".join(f"{f.name_zh} ({f.key})" for f in self.families.values())
        raise KeyError(f"未知指标族 {name!r}；可选：{known} / unknown family {name!r}")

    def __getitem__(self, key: str) -> Indicator:
        return self.indicators[key]


# ---------------------------------------------------------------- YAML with line numbers

class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__key_lines__"] = {k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def shipped_files() -> list[Path]:
    root = resources.files("yunying.indicators").joinpath("catalogue")
    return sorted(Path(str(root.joinpath(p.name))) for p in root.iterdir() if p.name.endswith(".yaml"))


def extra_files_from_env() -> list[Path]:
    val = os.environ.get(ENV_EXTRA, "")
    out = []
    for part in val.split(os.pathsep):
        if not part:
            continue
        p = Path(part)
        out.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return out


def load_catalogue(extra: list[Path] | Path | None = None, *, shipped: bool = True,
                   use_env: bool = True) -> Catalogue:
    """Load the shipped family files plus user files (argument and YUNYING_INDICATORS), then validate."""
    files = shipped_files() if shipped else []
    if extra is not None:
        files += [extra] if isinstance(extra, (str, Path)) else list(extra)
    if use_env:
        files += extra_files_from_env()
    errors: list[str] = []
    indicators: dict[str, Indicator] = {}
    families: dict[str, Family] = {}
    h = hashlib.sha256()
    for path in files:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            errors.append(f"{path}:0: 无法读取 / cannot read: {exc}")
            continue
        h.update(path.name.encode() + b"\0" + text.encode())
        try:
            doc = yaml.load(text, Loader=_LineLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            errors.append(f"{path}:{mark.line + 1 if mark else 0}: YAML 语法错误 / YAML error: {exc}")
            continue
        _load_file(path, doc, indicators, families, errors)
    _resolve_same_as(indicators, errors)
    _validate(indicators, families, errors)
    fallbacks = _load_fallbacks(READINGS, h, errors)
    if errors:
        raise CatalogueError(errors)
    return Catalogue(indicators, families, h.hexdigest()[:16], fallbacks)


def _load_fallbacks(path: Path, h, errors: list[str]) -> list[Fallback]:
    """The fallback readings of readings.yaml (validated like catalogue measures)."""
    text = path.read_text(encoding="utf-8")
    h.update(path.name.encode() + b"\0" + text.encode())
    doc = yaml.load(text, Loader=_LineLoader) or {}
    cols = view_columns()
    out = []
    for e in doc.get("fallbacks") or []:
        where = f"{path}:{e.get('__line__', 0)}"
        fid = str(e.get("id", ""))
        if not fid or not e.get("note_zh"):
            errors.append(f"{where}: 口径回退需要 id 与 note_zh / a fallback needs id and note_zh")
            continue
        fb = Fallback(fid, str(e["note_zh"]), str(e.get("note_en", "")), {}, {})
        for view, spec in (e.get("views") or {}).items():
            if view in ("__line__", "__key_lines__"):
                continue
            m = Measure(over=view, sql=str((spec or {}).get("when", "")))
            problems = check_measure(m, cols)
            bad = [c for c in (spec or {}).get("columns") or [] if view in cols and c not in cols[view]]
            errors += [f"{where}: {fid} {view}: {msg}" for msg in problems]
            errors += [f"{where}: {fid} 视图 {view} 没有列 / view {view} has no column {c!r}" for c in bad]
            fb.columns[view] = {str(c) for c in (spec or {}).get("columns") or []}
            fb.when[view] = m
        out.append(fb)
    return out


def _load_file(path: Path, doc: Any, indicators: dict, families: dict, errors: list[str]) -> None:
    fname = str(path)
    if not isinstance(doc, dict) or "indicators" not in doc:
        errors.append(f"{fname}:1: 文件应含 family 与 indicators 列表 / file must have `family` and `indicators`")
        return
    fam_key = str(doc.get("family") or path.stem)
    fam = families.get(fam_key)
    if fam is None:
        fam = Family(fam_key, str(doc.get("name_zh", fam_key)), str(doc.get("name_en", "")),
                     [str(a) for a in doc.get("aliases", [])], [], fname)
        families[fam_key] = fam
    for inc in doc.get("includes", []) or []:
        fam.ids.append(str(inc))
    entries = doc.get("indicators") or []
    if not isinstance(entries, list):
        errors.append(f"{fname}:{doc.get('__key_lines__', {}).get('indicators', 1)}: indicators 应为列表 / must be a list")
        return
    for e in entries:
        if not isinstance(e, dict):
            errors.append(f"{fname}:0: 指标条目应为映射 / entry must be a mapping: {e!r}")
            continue
        line = e.get("__line__", 0)
        where = f"{fname}:{line}"
        iid = str(e.get("id", "")).strip()
        if not iid or not ID_RE.match(iid):
            errors.append(f"{where}: 指标编号无效 / invalid id {iid!r}")
            continue
        if iid in indicators:
            errors.append(f"{where}: 指标编号重复 {iid}（首次出现于 {indicators[iid].where}）/ duplicate id {iid}")
            continue
        unknown = set(e) - ENTRY_KEYS - {"__line__", "__key_lines__"}
        for k in sorted(unknown):
            errors.append(f"{fname}:{e['__key_lines__'].get(k, line)}: {iid} 未知字段 / unknown key {k!r}")
        try:
            ind = _make_indicator(e, fam_key, fname, line)
        except (TypeError, ValueError) as exc:
            errors.append(f"{where}: {iid} {exc}")
            continue
        indicators[iid] = ind
        fam.ids.append(iid)


def _measure(m: Any) -> Measure | None:
    if m is None:
        return None
    if not isinstance(m, dict):
        raise ValueError(f"分子/分母应为 {{over, sql}} 映射 / numerator/denominator must be a mapping, got {m!r}")
    return Measure(over=str(m.get("over", "")), sql=str(m.get("sql", "")), label_zh=str(m.get("label_zh", "")))


def _remark(r: Any) -> Remark:
    if not isinstance(r, dict) or not r.get("code") or not r.get("over") or not r.get("sql"):
        raise ValueError(f"remarks 条目需要 code/over/sql / a remark needs code, over and sql: {r!r}")
    unknown = set(r) - REMARK_KEYS - {"__line__", "__key_lines__"}
    if unknown:
        raise ValueError(f"remarks 未知字段 / unknown remark keys {sorted(unknown)}")
    show = str(r.get("show", "always"))
    if show not in REMARK_SHOW:
        raise ValueError(f"remarks.show 应为 {'/'.join(sorted(REMARK_SHOW))} / bad show {show!r}")
    if show == "below" and r.get("limit") is None:
        raise ValueError("remarks.show=below 需要 limit / show: below needs a limit")
    return Remark(str(r["code"]), Measure(str(r["over"]), str(r["sql"])), show, r.get("limit"),
                  bool(r.get("warn", False)), str(r.get("zh", "")), str(r.get("en", "")))


def _make_indicator(e: dict, family: str, fname: str, line: int) -> Indicator:
    levels = e.get("levels")
    alt = e.get("alternative") or {}
    if not isinstance(alt, dict):
        raise ValueError("alternative 应为 {use, note_zh, note_en} / alternative must be a mapping")
    return Indicator(
        id=str(e["id"]), family=family, name_zh=str(e.get("name_zh", "")), name_en=str(e.get("name_en", "")),
        number=str(e.get("number", "") if e.get("number") is not None else ""),
        type=str(e.get("type", "ratio")), definition_zh=str(e.get("definition_zh", "")),
        numerator=_measure(e.get("numerator")), denominator=_measure(e.get("denominator")),
        unit=str(e.get("unit", "%")), scale=float(e.get("scale", 1)),
        direction=str(e.get("direction", "monitor")), national_monitor=bool(e.get("national_monitor", False)),
        source=str(e.get("source", "")), needs=[str(n) for n in e.get("needs", []) or []],
        reading_zh=str(e.get("reading_zh", "")), missing_zh=str(e.get("missing_zh", "")),
        missing_en=str(e.get("missing_en", "")),
        levels=tuple(levels) if levels else (), same_as=str(e.get("same_as", "")),
        base=str(e.get("base", "")), offset=str(e.get("offset", "yoy")), expr=str(e.get("expr", "")),
        parts=[str(p) for p in e.get("parts", []) or []], parent=str(e.get("parent", "")),
        decimals=int(e["decimals"]) if e.get("decimals") is not None else (0 if str(e.get("unit", "")) in ("人次", "人", "例", "组", "项", "个") else 2), dimension=str(e.get("dimension", "")),
        alt_use=str(alt.get("use", "")), alt_note_zh=str(alt.get("note_zh", "")),
        alt_note_en=str(alt.get("note_en", "")),
        base_unit=str(e.get("base_unit", "")), remarks=[_remark(r) for r in e.get("remarks", []) or []],
        file=fname, line=line)


def _resolve_same_as(indicators: dict[str, Indicator], errors: list[str]) -> None:
    """`same_as: G3-31` copies the formula (type, numerator, denominator, needs, base, expr, scale, unit)."""
    for ind in indicators.values():
        if not ind.same_as:
            continue
        seen = {ind.id}
        src = indicators.get(ind.same_as)
        while src is not None and src.same_as and src.id not in seen:
            seen.add(src.id)
            src = indicators.get(src.same_as)
        if src is None or src.id in seen and src.same_as:
            errors.append(f"{ind.where}: {ind.id} same_as 引用无效 / same_as refers to unknown or cyclic {ind.same_as}")
            continue
        ind.type, ind.numerator, ind.denominator = src.type, src.numerator, src.denominator
        ind.needs = ind.needs or list(src.needs)
        ind.base, ind.expr, ind.offset = src.base, src.expr, src.offset
        ind.missing_zh, ind.missing_en = ind.missing_zh or src.missing_zh, ind.missing_en or src.missing_en
        if ind.reading_zh == "":
            ind.reading_zh = src.reading_zh
        ind.scale = src.scale
        ind.levels = ind.levels or src.levels
        ind.remarks = ind.remarks or list(src.remarks)
    for ind in indicators.values():
        ind.levels = ind.levels or LEVELS


def _validate(indicators: dict[str, Indicator], families: dict[str, Family], errors: list[str]) -> None:
    cols = view_columns()
    for ind in indicators.values():
        w = f"{ind.where}: {ind.id}"
        if ind.type not in TYPES:
            errors.append(f"{w} 类型无效 / bad type {ind.type!r} (one of {', '.join(sorted(TYPES))})")
        if ind.direction not in DIRECTIONS:
            errors.append(f"{w} 指标导向无效 / bad direction {ind.direction!r} (up/down/monitor/improve)")
        if ind.unit not in UNITS:
            errors.append(f"{w} 单位无效 / bad unit {ind.unit!r}")
        if not ind.name_zh:
            errors.append(f"{w} 缺少中文名称 / name_zh missing")
        bad_levels = [lv for lv in ind.levels if lv not in LEVELS]
        if bad_levels:
            errors.append(f"{w} 层级无效 / bad levels {bad_levels}")
        if ind.offset not in ("yoy", "prior"):
            errors.append(f"{w} offset 应为 yoy 或 prior / offset must be yoy or prior")
        if ind.alt_use:
            alt = indicators.get(ind.alt_use)
            if alt is None or alt.type in ("unavailable", "external", "group") or alt.alt_use:
                errors.append(f"{w} alternative 应为可计算的其他指标 / alternative must be a computable indicator "
                              f"without its own alternative: {ind.alt_use}")
            if not ind.alt_note_zh:
                errors.append(f"{w} alternative 需要 note_zh 说明口径来源 / alternative needs note_zh")
        if ind.parent and ind.parent not in indicators:
            errors.append(f"{w} parent 未知 / unknown parent {ind.parent}")
        t = ind.type
        if t in ("count", "sum"):
            if ind.numerator is None:
                errors.append(f"{w} {t} 需要 numerator / needs a numerator")
        if t == "ratio" and (ind.numerator is None or ind.denominator is None):
            errors.append(f"{w} ratio 需要 numerator 与 denominator / needs numerator and denominator")
        if t == "growth":
            if not ind.base and ind.numerator is None:
                errors.append(f"{w} growth 需要 base 或 numerator / needs base or numerator")
            if ind.base and ind.base not in indicators:
                errors.append(f"{w} growth base 未知 / unknown base {ind.base}")
        if t == "derived":
            refs = REF_RE.findall(ind.expr)
            if not refs:
                errors.append(f"{w} derived 需要 expr 引用其他指标 {{ID}} / expr must reference {{ID}}")
            for r in refs:
                if r not in indicators:
                    errors.append(f"{w} expr 引用未知指标 / unknown indicator {r}")
            try:
                sqlglot.parse_one(REF_RE.sub("x", ind.expr), read="duckdb")
            except sqlglot.errors.ParseError as exc:
                errors.append(f"{w} expr 无法解析 / cannot parse: {exc}")
        if t == "group":
            if not ind.parts:
                errors.append(f"{w} group 需要 parts / needs parts")
            for p in ind.parts:
                if p not in indicators:
                    errors.append(f"{w} parts 引用未知指标 / unknown part {p}")
        if t == "unavailable" and not ind.missing_zh:
            errors.append(f"{w} unavailable 需要 missing_zh 说明缺少的数据 / needs missing_zh")
        for part, m in (("numerator", ind.numerator), ("denominator", ind.denominator)):
            if m is not None:
                for msg in check_measure(m, cols):
                    errors.append(f"{w} {part}: {msg}")
        for rm in ind.remarks:
            for msg in check_measure(rm.measure, cols):
                errors.append(f"{w} remarks.{rm.code}: {msg}")
        for n in ind.needs:
            view, _, col = n.partition(".")
            if view not in VIEWS or col not in cols[view]:
                errors.append(f"{w} needs 引用未知列 / unknown column in needs: {n!r}")
    for fam in families.values():
        for iid in fam.ids:
            if iid not in indicators:
                errors.append(f"{fam.file}:0: 指标族 {fam.key} 引用未知指标 / family includes unknown id {iid}")


def check_measure(m: Measure, cols: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Problems of one measure: unknown view, unparseable SQL, unknown columns, subqueries, no aggregate."""
    cols = cols or view_columns()
    if m.over not in VIEWS:
        return [f"未知视图 / unknown view {m.over!r} (one of {', '.join(VIEWS)})"]
    try:
        tree = sqlglot.parse_one(m.sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        return [f"SQL 无法解析 / cannot parse {m.sql!r}: {str(exc).splitlines()[0]}"]
    if tree is None:
        return ["SQL 为空 / empty SQL"]
    out = []
    if tree.find(exp.Select, exp.Subquery, exp.Join, exp.Table):
        out.append(f"不允许子查询或连接（连接在视图中完成）/ no subqueries or joins in {m.sql!r}")
    known = set(cols[m.over])
    for c in tree.find_all(exp.Column):
        if c.table:
            out.append(f"列不应带表名 / column must not be qualified: {c.sql()}")
        if c.name not in known:
            out.append(f"视图 {m.over} 没有列 / view {m.over} has no column {c.name!r}")
    if not tree.find(exp.AggFunc):
        out.append(f"需要聚合表达式（count/sum/…）/ needs an aggregate: {m.sql!r}")
    return out
