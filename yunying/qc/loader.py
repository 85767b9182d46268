"""Rule catalogue: YAML entries (spec id, kind, severity, messages, score) validated at load, plus hospital overrides.

A catalogue entry never contains code: its SQL fragments (`when`, `expected`, `value`, `applies_when`) are parsed
with SQLGlot (DuckDB dialect), checked to be expressions (no statements, no subqueries), and every column they name
must exist in the rule's source (warehouse columns + derived QC columns). Errors name the file, line and entry id.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from yunying.model.catalogue import load_model

CATALOGUE_PACKAGE = "yunying.qc.catalogue"
KINDS_PACKAGE = "yunying.qc.kinds"
SEVERITIES = ("E", "W", "I")
SOURCES = ("rec", "dx", "px")
FIELD_KINDS = {"required", "in_domain", "regex", "expr_equals", "code_in_dictionary", "name_matches_dictionary",
               "dept_in_dictionary"}
RULE_KEYS = {"id", "variant", "kind", "severity", "field", "fields", "source", "when", "value", "expected",
             "applies_when", "pattern", "values", "domain", "dictionary", "code_field", "needs", "needs_dictionary",
             "message_zh", "message_en", "hint_zh", "score", "points", "tag", "src", "enabled", "reason_zh",
             "params", "title_zh", "note"}
# columns a template reads besides those named in the entry
KIND_COLUMNS = {
    "overlapping_stays": ["id_number", "admit_time", "discharge_time"],
    "admission_order": ["admit_time"],
    "readmission_31d": ["admit_time", "discharge_time", "readmit_plan_31d"],
    "ward_midnight": ["admit_time", "admit_ward", "admit_dept_code"],
}
# columns a template adds to its rows (usable in value/expected/messages, never materialised)
KIND_PROVIDES = {"name_matches_dictionary": {"_dict_name"}, "overlapping_stays": {"_other"},
                 "admission_order": {"_prev_no"}, "readmission_31d": {"_prev_out", "_prev_plan"}}
KIND_DEFAULT_PARAMS = {"ward_midnight": {"min_records": 20, "share": 0.5}}


class CatalogueError(ValueError):
    """A catalogue or override entry is invalid; the message names file, line and entry id."""


# ---- derived QC columns (computed by the engine from child tables); name -> (source, 中文名, national code) ----
DERIVED = {
    "pdx_code": ("rec", "主要诊断编码", "JBDM"),
    "pdx_name": ("rec", "出院主要诊断", "ZYZD"),
    "pdx_poa": ("rec", "主要诊断入院病情", "RYBQ"),
    "odx_codes": ("rec", "其他诊断编码列表", "JBDMi"),
    "all_dx_codes": ("rec", "全部诊断编码列表", "JBDM*"),
    "n_odx": ("rec", "其他诊断条数", None),
    "ppx_code": ("rec", "主要手术及操作编码", "SSJCZBM1"),
    "ppx_name": ("rec", "主要手术及操作名称", "SSJCZMC1"),
    "ppx_time": ("rec", "主要手术及操作日期", "SSJCZRQ1"),
    "px_codes": ("rec", "手术及操作编码列表", "SSJCZBMi"),
    "n_px": ("rec", "手术及操作条数", None),
    "n_px_anaesthesia": ("rec", "有麻醉方式的手术操作条数", None),
    "n_px_surgery": ("rec", "手术条数(按手术字典属性)", None),
    "px_dup_rows": ("rec", "重复手术操作行数", None),
    "tcm_disease_code": ("rec", "中医主病编码", "ZB_JBBM"),
    "tcm_disease_name": ("rec", "中医主病名称", "ZB"),
    "tcm_disease_poa": ("rec", "主病入院病情", "ZB_RYBQ"),
    "n_tcm_syndrome": ("rec", "主证条数(有编码和入院病情)", None),
    "admit_age_days": ("rec", "入院日龄(天)", None),
    "fee_items_sum": ("rec", "各费用项目合计", None),
    "n_birth_weights": ("rec", "新生儿出生体重个数", None),
    "px_category": ("px", "手术操作属性(字典)", None),
    "px_dict_level": ("px", "字典手术级别", None),
    "dict_category": ("dx", "字典属性", None),
}
DX_ONLY = {"dx_type", "seq", "dx_code", "dx_name", "poa"}
PX_ONLY = {"seq", "px_code", "px_name", "px_time", "level", "surgeon", "assistant1", "assistant2",
           "incision_class", "healing", "anaesthesia", "anaesthetist"}


def lookup_column(kind: str, source: str, field: str | None, code_field: str | None, dictionary: str | None
                  ) -> str | None:
    """The lookup column a dictionary kind reads for one field, or None when the code column is not classifiable
    (the kind then falls back to a dictionary join / anti-join of its own)."""
    if kind == "code_in_dictionary" and field in classify_for(source):
        return class_column(field, dictionary, "dict")
    if kind == "name_matches_dictionary" and code_field in classify_for(source):
        return class_column(code_field, dictionary, "name")
    return None


def classify_for(source: str) -> set[str]:
    """Bare columns whose in_list() tests compile to class columns for rules of this source."""
    if CLASSIFIABLE[source] is None:
        return set(load_model().tables["discharge"].column_names) | set(DERIVED_CODE_FROM) | set(LIST_CODES_FROM)
    return set(CLASSIFIABLE[source])


def source_columns(source: str) -> set[str]:
    model = load_model()
    rec = set(model.tables["discharge"].column_names)
    cols = rec | {k for k, v in DERIVED.items() if v[0] == "rec"}
    if source == "dx":
        cols = cols | set(model.tables["discharge_diagnosis"].column_names) | {"dict_category"}
    elif source == "px":
        cols = cols | set(model.tables["discharge_procedure"].column_names) | {"px_category", "px_dict_level"}
    return cols


def column_zh(name: str) -> str:
    if name in DERIVED:
        return DERIVED[name][1]
    model = load_model()
    for t in ("discharge", "discharge_diagnosis", "discharge_procedure"):
        for c in model.tables[t].columns:
            if c.name == name:
                return c.zh
    return name


# ---- YAML with line numbers ------------------------------------------------------------------------------------
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)     # libyaml when available (5× faster)


class _LineLoader(_BaseLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str, name: str) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{name}: YAML 语法错误 / invalid YAML: {exc}") from None


def _strip_lines(obj):
    if isinstance(obj, dict):
        return {k: _strip_lines(v) for k, v in obj.items() if k != "__line__"}
    if isinstance(obj, list):
        return [_strip_lines(v) for v in obj]
    return obj


# ---- model objects ---------------------------------------------------------------------------------------------
@dataclass
class ScoreItem:
    item: str
    section: str
    cls: str
    points: float
    cap: float
    per_row: float | None = None
    max: float | None = None


@dataclass
class Scoring:
    classes: dict[str, float]
    grades: list[tuple[str, float]]
    pass_grade: str
    excellent_min: float
    sections: dict[str, float]                      # section -> cap
    items: dict[str, ScoreItem]
    field_items: dict[str, str]                     # field pattern (col, col[0], col[*]) -> item

    def item_for(self, field_name: str, seq: int | None = None, source: str = "rec") -> str | None:
        if seq is not None or source != "rec":
            first = 1 if source == "px" else 0
            if seq == first and f"{field_name}[{first}]" in self.field_items:
                return self.field_items[f"{field_name}[{first}]"]
            if f"{field_name}[*]" in self.field_items:
                return self.field_items[f"{field_name}[*]"]
        return self.field_items.get(field_name)

    def grade(self, score: float) -> str:
        for g, lo in self.grades:
            if score >= lo:
                return g
        return self.grades[-1][0]


@dataclass
class Coding:
    """主要诊断编码正确率 (record-quality.md §3 no. 5; scoring.yaml `coding_accuracy`): the rule entry whose finding on
    the principal diagnosis (seq 0) is a coding error, and the dictionary the hospital codes in — the one that rule
    and its variants check codes and names against."""
    rule: str                    # rule key
    dictionary: str              # qc_dictionary kind: dx (国临版 for 国考) or dx_<edition>


DICTIONARY_RE = re.compile(r"(dx|px|tcm)(_[a-z0-9]+)?")


def dictionary_base(name: str | None) -> str | None:
    """dx / px / tcm of a dictionary name (dx_yb → dx); None when the name is not a dictionary name."""
    m = DICTIONARY_RE.fullmatch(name or "")
    return m.group(1) if m else None


@dataclass
class Rule:
    key: str                     # id or id/variant (unique)
    id: str                      # spec id (C001 …) — what findings carry
    kind: str
    severity: str
    source: str = "rec"
    fields: list[str] = field(default_factory=list)
    when: str | None = None
    value: str | None = None
    expected: str | None = None
    applies_when: str | None = None
    pattern: str | None = None
    values: list[str] | None = None
    dictionary: str | None = None
    code_field: str | None = None
    needs: list[str] | None = None
    needs_dictionary: str | None = None
    message_zh: str = ""
    message_en: str = ""
    hint_zh: str = ""
    score: list[str] | None = None            # explicit items; [] = no deduction; None = by field
    points: float | None = None               # per-item override
    tag: str | None = None
    src: str = ""
    enabled: bool = True
    reason_zh: str | None = None
    params: dict = field(default_factory=dict)
    title_zh: str = ""
    file: str = ""
    line: int = 0
    custom: bool = False
    columns: set = field(default_factory=set)   # every source column the rule reads (materialised by the engine)

    def where(self) -> str:
        return f"{self.file}:{self.line} rule {self.key}"


@dataclass
class Catalogue:
    rules: list[Rule]
    not_implemented: list[dict]
    scoring: Scoring
    code_lists: dict[str, list[tuple[str, str]]]
    hash: str
    files: list[str]
    overrides: str | None = None
    code_maps: dict = field(default_factory=dict)     # name -> [(ranges, value)] (code_lists.yaml maps:)
    coding: "Coding | None" = None

    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def by_key(self) -> dict[str, Rule]:
        return {r.key: r for r in self.rules}


# ---- code lists ------------------------------------------------------------------------------------------------
def _parse_code_list(name: str, entries: list, where: str) -> list[tuple[str, str]]:
    out = []
    for e in entries:
        s = str(e).strip().upper()
        m = re.fullmatch(r"([A-Z]\d\d(?:\.\d)?)(?:-([A-Z]\d\d(?:\.\d)?))?", s)
        if not m or (m.group(2) and len(m.group(2)) != len(m.group(1))):
            raise CatalogueError(f"{where}: 编码表 {name} 的条目 {e!r} 无效（应为 A34、B37.3、C51-C58 或 D07.0-D07.3）"
                                 f" / code list {name}: invalid entry {e!r}")
        out.append((m.group(1), m.group(2) or m.group(1)))
    return out


def _expand(lo: str, hi: str) -> list[str] | None:
    """C51-C58 -> [C51 … C58]; D07.0-D07.3 -> [D07.0 … D07.3]; None when the range spans letters."""
    if lo[0] != hi[0]:
        return None
    if len(lo) == 3:
        return [f"{lo[0]}{i:02d}" for i in range(int(lo[1:3]), int(hi[1:3]) + 1)]
    if lo[:3] != hi[:3]:
        return None
    return [f"{lo[:4]}{i}" for i in range(int(lo[4]), int(hi[4]) + 1)]


def list_predicate(code_sql: str, ranges: list[tuple[str, str]]) -> str:
    """Membership of a code in a code list as SQL: one IN-list per prefix length (hash lookup), plus BETWEEN for
    ranges that span letters (V01-Y98)."""
    sets: dict[int, list[str]] = {}
    parts = []
    for lo, hi in ranges:
        vals = _expand(lo, hi)
        if vals is None:
            parts.append(f"upper(left({code_sql}, {len(lo)})) between '{lo}' and '{hi}'")
        else:
            sets.setdefault(len(lo), []).extend(vals)
    for n, vals in sorted(sets.items()):
        parts.insert(0, f"upper(left({code_sql}, {n})) in ({', '.join(repr(v) for v in sorted(set(vals)))})")
    return "(" + " or ".join(parts) + ")" if parts else "false"


def map_case(code_sql: str, entries: list[tuple[list[tuple[str, str]], str]]) -> str:
    """A code map as SQL: the value of the first entry whose ranges hold the code, else ''."""
    whens = " ".join(f"when {list_predicate(code_sql, ranges)} then {_sql_str(value)}" for ranges, value in entries)
    return f"(case {whens} else '' end)" if whens else "''"


def _sql_str(v: str) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _parse_code_maps(raw: dict, where: str) -> dict[str, list[tuple[list[tuple[str, str]], str]]]:
    """`maps:` of code_lists.yaml: name -> {code range(s): value}, in file order."""
    out = {}
    for name, entries in (raw or {}).items():
        if not isinstance(entries, dict):
            raise CatalogueError(f"{where}: 编码映射 {name} 应为 范围: 值 / code map {name}: expected range: value")
        out[name] = [(_parse_code_list(name, str(k).split(","), where), str(v)) for k, v in entries.items()]
    return out


# ---- SQL fragment validation -----------------------------------------------------------------------------------
FORBIDDEN = (exp.Select, exp.Subquery, exp.Insert, exp.Delete, exp.Update, exp.Drop, exp.Create, exp.Command)


CLASS_PREFIX = "_in__"
# Lookup ("class") columns: per-code facts the engine computes once per distinct code and joins into the source,
# instead of testing every row: `_in__<col>__<list>` (in_list(<col>, '<list>') on a bare column),
# `_indict__<col>__<kind>` (the code is in the loaded dictionary <kind>) and `_dictname__<col>__<kind>` (its
# dictionary name), the latter two for the code_in_dictionary / name_matches_dictionary kinds.
CLASS_PREFIXES = {"_in__": "list", "_indict__": "dict", "_dictname__": "name", "_any__": "any", "_fx__": "fx"}
LOOKUP_KINDS = {"code_in_dictionary", "name_matches_dictionary"}
CLASSIFIABLE = {"rec": None, "dx": {"dx_code"}, "px": {"px_code"}}      # None: stored record columns + below
# derived record columns that hold one code, and the child-table column whose values include all of theirs
DERIVED_CODE_FROM = {"pdx_code": ("discharge_diagnosis", "dx_code"), "tcm_disease_code": ("discharge_diagnosis", "dx_code"),
                     "ppx_code": ("discharge_procedure", "px_code")}


# Code-list facts (`_any__<list column>__<digest>`): "some element c of the list satisfies P(c)", where P reads
# only c — `len(list_filter(odx_codes, c -> P(c))) > 0` (or `= 0`, negated) and
# `list_contains(list_transform(odx_codes, c -> F(c)), k)` (P: F(c) = k). The engine tests P once per distinct
# diagnosis code and ORs per-code bit masks while it aggregates the diagnosis rows, instead of a lambda per record.
# digest -> P as SQL over the column `c.v`; filled by rewrite_fragment (content-addressed, so a process-wide dict)
LIST_FACTS: dict[str, str] = {}
# list columns whose elements are diagnosis codes, and the diagnosis rows (dx_type/seq/dx_code) they hold
LIST_CODES_FROM = {"odx_codes": "dx_type = 'W' and seq > 0 and dx_code is not null",
                   "all_dx_codes": "dx_type = 'W' and seq >= 0 and dx_code is not null"}


# Code facts (`_fx__<code column>__<digest>`): a boolean subexpression that reads only one code column (e.g.
# `regexp_full_match(pdx_code, '[Mm]\d{4}.*') or trim(pdx_code) = '-'`), evaluated once per distinct code in the
# column's lookup table. digest -> (SQL over `c.v`, SQL with the column NULL) — the latter gives the value for
# rows whose code is NULL, which the lookup table does not hold.
EXPR_FACTS: dict[str, tuple[str, str]] = {}
# code columns whose one-column predicates become code facts (few distinct values; record source)
EXPR_FACT_COLUMNS = {"pdx_code", "tcm_disease_code", "ppx_code", "ext_cause_code", "er_dx_code"}
_BOOL_NODES = (exp.Predicate, exp.Connector, exp.Not, exp.RegexpFullMatch, exp.RegexpLike, exp.StartsWith,
               exp.Contains, exp.EndsWith)


def class_column(col: str, arg: str, what: str = "list") -> str:
    """Name of the lookup column: col ∈ code list arg (list), col in dictionary arg (dict), its name there (name)."""
    prefix = {v: k for k, v in CLASS_PREFIXES.items()}[what]
    return f"{prefix}{col}__{arg}"


def class_parts(name: str) -> tuple[str, str, str] | None:
    """(column, list or dictionary, what) of a lookup column name, else None."""
    for prefix, what in CLASS_PREFIXES.items():
        if name.startswith(prefix):
            col, _, arg = name[len(prefix):].partition("__")
            return (col, arg, what) if col and arg else None
    return None


def rewrite_fragment(sql: str, code_lists: dict, where: str, allowed: set[str], params: dict,
                     classify: set[str] | None = None, code_maps: dict | None = None) -> tuple[str, set[str]]:
    """Parse a catalogue SQL fragment, expand in_list() and code_map(), check columns; returns (DuckDB SQL, columns
    used). code_map(code, 'map') is the value of the first range of the map (code_lists.yaml `maps:`) the code
    falls in, else ''.

    `classify`: bare columns whose in_list() tests become class columns (`_in__<column>__<list>`) that the engine
    computes once per distinct code; other in_list() calls (expressions, lambda variables) are expanded inline."""
    text = sql
    for k, v in params.items():
        text = text.replace("{" + k + "}", str(v))
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise CatalogueError(f"{where}: SQL 片段无法解析 / SQL fragment does not parse: {sql!r}: "
                             f"{str(exc).splitlines()[0]}") from None
    if tree is None or isinstance(tree, FORBIDDEN) or any(isinstance(n, FORBIDDEN) for n in tree.walk()):
        raise CatalogueError(f"{where}: SQL 片段只能是表达式（不允许语句或子查询）/ only an expression is allowed: {sql!r}")

    lambda_vars0 = {i.name for lam in tree.find_all(exp.Lambda) for i in lam.expressions}

    def expand(node):
        if isinstance(node, exp.Anonymous) and node.name.lower() == "in_list":
            args = node.expressions
            if len(args) != 2 or not isinstance(args[1], exp.Literal) or not args[1].is_string:
                raise CatalogueError(f"{where}: in_list(编码表达式, '表名') 用法错误 / in_list(code, 'list') expected")
            lname = args[1].this
            if lname not in code_lists:
                raise CatalogueError(f"{where}: 未知编码表 {lname!r}（可用：{', '.join(sorted(code_lists))}）"
                                     f" / unknown code list {lname!r}")
            arg = args[0]
            if (classify is not None and isinstance(arg, exp.Column) and not arg.table
                    and arg.name not in lambda_vars0 and arg.name in classify and arg.name in allowed
                    and re.fullmatch(r"[a-z][a-z0-9_]*", lname) and "__" not in lname):
                return exp.column(class_column(arg.name, lname))
            return sqlglot.parse_one(list_predicate(arg.sql(dialect="duckdb"), code_lists[lname]), read="duckdb")
        if isinstance(node, exp.Anonymous) and node.name.lower() == "code_map":
            args = node.expressions
            if len(args) != 2 or not isinstance(args[1], exp.Literal) or not args[1].is_string:
                raise CatalogueError(f"{where}: code_map(编码表达式, '映射名') 用法错误 / code_map(code, 'map') expected")
            mname = args[1].this
            if mname not in (code_maps or {}):
                raise CatalogueError(f"{where}: 未知编码映射 {mname!r}（可用：{', '.join(sorted(code_maps or {}))}）"
                                     f" / unknown code map {mname!r}")
            return sqlglot.parse_one(map_case(args[0].sql(dialect="duckdb"), code_maps[mname]), read="duckdb")
        return node

    tree = tree.transform(expand)

    def list_fact(lst, lam) -> exp.Expression | None:
        """The fact column for `some c in lst: lam(c)`, when lst is a classifiable code list and lam reads only c."""
        if (classify is None or not isinstance(lst, exp.Column) or lst.table or lst.name not in LIST_CODES_FROM
                or lst.name not in classify or lst.name not in allowed or not isinstance(lam, exp.Lambda)
                or len(lam.expressions) != 1):
            return None
        var = lam.expressions[0].name
        body = lam.this.copy()
        # every column or bare identifier in the body must be the lambda variable
        for n in body.walk():
            if isinstance(n, exp.Column) and (n.table or n.name != var):
                return None
            if isinstance(n, exp.Identifier) and not isinstance(n.parent, exp.Column) and n.name != var:
                return None
        if any(isinstance(n, (exp.Lambda, exp.AggFunc, exp.Window)) for n in body.walk()):
            return None

        def to_v(n):
            if isinstance(n, (exp.Column, exp.Identifier)) and n.name == var and not isinstance(n.parent, exp.Column):
                return exp.column("v", table="c")
            return n
        pred = body.transform(to_v).sql(dialect="duckdb")
        digest = hashlib.sha1(pred.encode()).hexdigest()[:10]
        LIST_FACTS[digest] = pred
        return exp.column(class_column(lst.name, digest, "any"), quoted=True)

    def facts(node):
        # len(list_filter(L, c -> P(c))) compared with 0 (or 1) -> fact / not fact
        if isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
            a, b = node.this, node.expression
            flip = {exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE}
            op = type(node)
            if isinstance(a, exp.Literal) and isinstance(b, exp.Length):
                a, b, op = b, a, flip.get(op, op)
            if (isinstance(a, exp.Length) and isinstance(a.this, exp.ArrayFilter) and isinstance(b, exp.Literal)
                    and not b.is_string and b.this in ("0", "1")):
                some = {(exp.GT, "0"): True, (exp.NEQ, "0"): True, (exp.GTE, "1"): True,
                        (exp.EQ, "0"): False, (exp.LT, "1"): False, (exp.LTE, "0"): False}.get((op, b.this))
                fact = None if some is None else list_fact(a.this.this, a.this.expression)
                if fact is not None:
                    return exp.Paren(this=fact) if some else exp.Not(this=exp.Paren(this=fact))
        # list_contains(list_transform(L, c -> F(c)), k) -> some c: F(c) = k
        if (isinstance(node, exp.ArrayContains) and isinstance(node.this, exp.Transform)
                and isinstance(node.expression, exp.Literal)):
            lam = node.this.expression
            if isinstance(lam, exp.Lambda):
                eq = exp.Lambda(this=exp.EQ(this=exp.Paren(this=lam.this.copy()), expression=node.expression.copy()),
                                expressions=[e.copy() for e in lam.expressions])
                fact = list_fact(node.this.this, eq)
                if fact is not None:
                    return exp.Paren(this=fact)
        return node

    tree = tree.transform(facts)

    def is_bool(n) -> bool:
        while isinstance(n, exp.Paren):
            n = n.this
        return isinstance(n, _BOOL_NODES)

    def code_fact(n) -> exp.Expression | None:
        """The code-fact column for a boolean subexpression reading exactly one code column, else None."""
        if classify is None or not is_bool(n) or isinstance(n, exp.Column):
            return None
        if any(isinstance(x, (exp.Lambda, exp.AggFunc, exp.Window, exp.Anonymous, exp.Rand)) and
               not (isinstance(x, exp.Anonymous) and x.name.lower().startswith("qc_")) for x in n.walk()):
            return None
        if not any(isinstance(x, exp.Func) for x in n.walk()):
            return None             # plain comparisons are as cheap as a lookup
        cols = list(n.find_all(exp.Column))
        names = {c.name for c in cols}
        if (len(names) != 1 or any(c.table for c in cols) or any(isinstance(x, exp.Identifier)
                                                                and not isinstance(x.parent, exp.Column)
                                                                for x in n.walk())):
            return None
        col = names.pop()
        if col not in EXPR_FACT_COLUMNS or col not in classify or col not in allowed or col in lambda_vars0:
            return None
        over = lambda repl: n.copy().transform(                                  # noqa: E731
            lambda x: repl.copy() if isinstance(x, exp.Column) and x.name == col else x).sql(dialect="duckdb")
        on_v = over(exp.column("v", table="c"))
        digest = hashlib.sha1(on_v.encode()).hexdigest()[:10]
        EXPR_FACTS[digest] = (on_v, over(exp.Cast(this=exp.Null(), to=exp.DataType.build("varchar"))))
        return exp.column(class_column(col, digest, "fx"), quoted=True)

    def hoist(n):
        fact = code_fact(n)
        if fact is not None:
            return fact
        for k, v in list(n.args.items()):
            if isinstance(v, exp.Expression):
                n.set(k, hoist(v))
            elif isinstance(v, list):
                n.set(k, [hoist(x) if isinstance(x, exp.Expression) else x for x in v])
        return n

    tree = hoist(tree)
    lambda_vars = {i.name for lam in tree.find_all(exp.Lambda) for i in lam.expressions}
    cols = set()
    for col in tree.find_all(exp.Column):
        name = col.name
        if name in lambda_vars and not col.table:
            continue
        if col.table and col.table not in ("s",):
            raise CatalogueError(f"{where}: 列 {col.sql()} 不能带表名 / qualified column not allowed: {col.sql()}")
        parts = class_parts(name)
        if parts and parts[2] == "list" and parts[0] in allowed and parts[1] in code_lists:
            cols |= {name, parts[0]}
            continue
        if parts and parts[2] == "fx" and parts[0] in allowed and parts[1] in EXPR_FACTS:
            cols |= {name, parts[0]}
            continue
        if parts and parts[2] == "any" and parts[0] in allowed and parts[1] in LIST_FACTS:
            cols.add(name)              # computed from the diagnosis rows; the list itself is not needed
            continue
        if name not in allowed:
            raise CatalogueError(f"{where}: 未知列 {name!r}（不在仓库列表或质控派生列中）/ unknown column {name!r} "
                                 f"in {sql!r}")
        cols.add(name)
    return tree.sql(dialect="duckdb"), cols


# ---- loading ---------------------------------------------------------------------------------------------------
def _read_package(name: str) -> str:
    return resources.files(CATALOGUE_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def kind_template(kind: str) -> str:
    return resources.files(KINDS_PACKAGE).joinpath(f"{kind}.sql").read_text(encoding="utf-8")


def known_kinds() -> set[str]:
    return {p.name[:-4] for p in resources.files(KINDS_PACKAGE).iterdir() if p.name.endswith(".sql")}


def _load_scoring(data: dict, model) -> Scoring:
    classes = {k: float(v) for k, v in data["classes"].items()}
    items, fmap, sections = {}, {}, {}
    fee_cols: dict[int, list[str]] = {}
    disc = model.tables["discharge"]
    for c in disc.columns:
        if c.fee_class:
            fee_cols.setdefault(c.fee_class, []).append(c.name)
    for c in disc.columns:
        if c.subset_of:
            parent = disc.column(c.subset_of)
            fee_cols.setdefault(parent.fee_class, []).append(c.name)
    for sec in data["sections"]:
        sections[sec["section"]] = float(sec["cap"])
        for it in sec["items"]:
            si = ScoreItem(it["item"], sec["section"], it["class"], classes[it["class"]], float(sec["cap"]),
                           it.get("per_row"), it.get("max"))
            items[si.item] = si
            fields = list(it.get("fields", []))
            if "fee_class" in it:
                fields += fee_cols.get(int(it["fee_class"]), [])
            for f in fields:
                fmap[f] = si.item
    grades = [(g["grade"], float(g["min"])) for g in data["grades"]]
    return Scoring(classes, grades, data.get("pass_grade", grades[0][0]), float(data.get("excellent_min", 97)),
                   sections, items, fmap)


def _rule_from(entry: dict, file: str, model, scoring: Scoring, code_lists, kinds: set[str], custom=False,
               code_maps: dict | None = None) -> Rule:
    line = entry.get("__line__", 0)
    rid = str(entry.get("id", "")).strip()
    key = rid + (f"/{entry['variant']}" if entry.get("variant") else "")
    where = f"{file}:{line} rule {key or '?'}"
    if not rid:
        raise CatalogueError(f"{where}: 缺少 id / entry without id")
    unknown = set(entry) - RULE_KEYS - {"__line__"}
    if unknown:
        raise CatalogueError(f"{where}: 未知键 {sorted(unknown)} / unknown keys")
    kind = entry.get("kind")
    if kind not in kinds:
        raise CatalogueError(f"{where}: 未知规则类型 kind={kind!r}（可用：{', '.join(sorted(kinds))}）/ unknown kind")
    sev = entry.get("severity")
    if sev not in SEVERITIES:
        raise CatalogueError(f"{where}: severity 必须是 E/W/I，实际为 {sev!r} / severity must be E, W or I")
    source = entry.get("source", "rec")
    if source not in SOURCES:
        raise CatalogueError(f"{where}: source 必须是 {SOURCES} / unknown source {source!r}")
    for req in ("message_zh", "message_en"):
        if not entry.get(req):
            raise CatalogueError(f"{where}: 缺少 {req} / {req} missing")
    fields = entry.get("fields") or ([entry["field"]] if entry.get("field") else [])
    allowed = source_columns(source) | KIND_PROVIDES.get(kind, set())
    for f in fields:
        if f not in allowed:
            raise CatalogueError(f"{where}: 未知字段 {f!r} / unknown field {f!r}")
    if kind in FIELD_KINDS and not fields:
        raise CatalogueError(f"{where}: 规则类型 {kind} 需要 field 或 fields / kind {kind} needs field(s)")
    params = {**KIND_DEFAULT_PARAMS.get(kind, {}), **(entry.get("params") or {})}
    values = entry.get("values")
    if kind == "in_domain":
        if entry.get("domain"):
            dom = model.domains.get(entry["domain"])
            if dom is None:
                raise CatalogueError(f"{where}: 未知值域 {entry['domain']!r} / unknown domain")
            values = list(dom.codes)
        if not values:
            raise CatalogueError(f"{where}: in_domain 需要 domain 或 values / in_domain needs domain or values")
        values = [str(v) for v in values]
    if kind == "regex":
        if not entry.get("pattern"):
            raise CatalogueError(f"{where}: regex 需要 pattern / regex needs pattern")
        try:
            re.compile(entry["pattern"])
        except re.error as exc:
            raise CatalogueError(f"{where}: 正则无效 / invalid pattern: {exc}") from None
    if kind == "expr" and not entry.get("when"):
        raise CatalogueError(f"{where}: expr 需要 when / expr needs when")
    if kind == "expr_equals" and not entry.get("expected"):
        raise CatalogueError(f"{where}: expr_equals 需要 expected / expr_equals needs expected")
    if kind in ("code_in_dictionary", "name_matches_dictionary"):
        if not dictionary_base(entry.get("dictionary")):
            raise CatalogueError(f"{where}: dictionary 必须是 dx/px/tcm（或某版本 dx_<版本>，如 dx_yb）"
                                 f" / dictionary must be dx, px, tcm or an edition such as dx_yb")
    if kind == "name_matches_dictionary" and entry.get("code_field") not in allowed:
        raise CatalogueError(f"{where}: code_field 未知 / unknown code_field")
    used: set[str] = set()
    frags = {}
    for k in ("when", "value", "expected", "applies_when"):
        if entry.get(k) is not None:
            per_field = []
            for f in (fields or [None]):
                text = str(entry[k]).replace("{f}", f) if f else str(entry[k])
                sql, cols = rewrite_fragment(text, code_lists, f"{where} ({k})", allowed, params,
                                             classify_for(source), code_maps)
                per_field.append(sql)
                used |= cols
            frags[k] = str(entry[k])
    score = entry.get("score")
    if score is not None:
        if isinstance(score, str):
            score = [] if score in ("none", "") else [score]
        if isinstance(score, dict):
            score = [score.get("item")]
        for it in score:
            if it not in scoring.items:
                raise CatalogueError(f"{where}: 未知评分项目 {it!r} / unknown score item")
    needs = entry.get("needs")
    if needs is not None:
        for n in needs:
            if n not in allowed:
                raise CatalogueError(f"{where}: needs 中的列 {n!r} 未知 / unknown column in needs")
    nd = entry.get("needs_dictionary") or (entry.get("dictionary") if kind in ("code_in_dictionary",
                                                                              "name_matches_dictionary") else None)
    # lookup columns count as their code column; list facts as nothing (the code lists are never NULL)
    used_plain = {(class_parts(c) or (c,))[0] for c in used if (class_parts(c) or ("", "", ""))[2] != "any"}
    if needs is None:
        if rid.startswith("C"):
            needs = []
        elif kind in ("required", "expr", "expr_equals"):
            needs = sorted(used_plain - set(fields))
        else:
            needs = sorted(used_plain | set(fields))
    used -= KIND_PROVIDES.get(kind, set())
    needs = [n for n in needs if n not in KIND_PROVIDES.get(kind, set())]
    for m in re.findall(r"\{(\w+)\}", entry["message_zh"] + entry["message_en"]):
        if m not in ("value", "expected", "field_zh", "field", "seq") and m not in allowed:
            raise CatalogueError(f"{where}: 消息占位符 {{{m}}} 未知 / unknown message placeholder {{{m}}}")
    placeholders = {m for m in re.findall(r"\{(\w+)\}", entry["message_zh"] + entry["message_en"])
                    if m not in ("value", "expected", "field_zh", "field", "seq")}
    columns = (used | set(fields) | set(needs) | set(KIND_COLUMNS.get(kind, [])) | placeholders
               | ({entry["code_field"]} if entry.get("code_field") else set())) - KIND_PROVIDES.get(kind, set())
    columns |= {c for f in fields if (c := lookup_column(kind, source, f, entry.get("code_field"),
                                                          entry.get("dictionary")))}
    return Rule(
        columns=columns,
        key=key, id=rid, kind=kind, severity=sev, source=source, fields=fields, when=entry.get("when"),
        value=entry.get("value"), expected=entry.get("expected"), applies_when=entry.get("applies_when"),
        pattern=entry.get("pattern"), values=values, dictionary=entry.get("dictionary"),
        code_field=entry.get("code_field"), needs=needs, needs_dictionary=nd,
        message_zh=entry["message_zh"], message_en=entry["message_en"], hint_zh=entry.get("hint_zh", ""),
        score=score, points=entry.get("points"), tag=entry.get("tag"), src=entry.get("src", ""),
        enabled=entry.get("enabled", True), reason_zh=entry.get("reason_zh"), params=params,
        title_zh=entry.get("title_zh", ""), file=file, line=line, custom=custom)


def override_path(path: str | Path | None) -> Path | None:
    if path:
        return Path(path)
    env = os.environ.get("YUNYING_QC_OVERRIDES")
    return Path(env) if env else None


def load_catalogue(overrides: str | Path | None = None, *, use_env: bool = True,
                   extra_files: list[Path] | None = None) -> Catalogue:
    """Load the shipped catalogue (catalogue/*.yaml), scoring and code lists, then apply the override file."""
    model = load_model()
    kinds = known_kinds()
    texts = {}
    root = resources.files(CATALOGUE_PACKAGE)
    for p in sorted(root.iterdir(), key=lambda p: p.name):
        if p.name.endswith(".yaml"):
            texts[p.name] = p.read_text(encoding="utf-8")
    for f in extra_files or []:
        texts[Path(f).name] = Path(f).read_text(encoding="utf-8")
    ov = override_path(overrides) if use_env or overrides else None
    ov_text = None
    if ov is not None:
        if not ov.is_file():
            raise CatalogueError(f"{ov}: 覆盖文件不存在 / override file not found")
        ov_text = ov.read_text(encoding="utf-8")
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode())
    if ov_text is not None:
        digest.update(b"overrides\0" + ov_text.encode())

    ov_data = _load_yaml(ov_text, str(ov)) if ov_text is not None else None
    if isinstance(ov_data, list):
        ov_data = {"rules": ov_data}
    ov_data = ov_data or {}

    scoring_data = _strip_lines(_load_yaml(texts.pop("scoring.yaml"), "scoring.yaml"))
    if ov_data.get("scoring"):
        sc = _strip_lines(ov_data["scoring"])
        for k in ("grades", "pass_grade", "excellent_min", "classes"):
            if k in sc:
                scoring_data[k] = sc[k]
    scoring = _load_scoring(scoring_data, model)

    lists_data = _strip_lines(_load_yaml(texts.pop("code_lists.yaml"), "code_lists.yaml"))
    raw_lists = dict(lists_data["lists"])
    raw_lists.update(_strip_lines(ov_data.get("code_lists") or {}))
    code_lists = {k: _parse_code_list(k, v, "code_lists.yaml") for k, v in raw_lists.items()}
    raw_maps = dict(lists_data.get("maps") or {})
    raw_maps.update(_strip_lines(ov_data.get("code_maps") or {}))
    code_maps = _parse_code_maps(raw_maps, "code_lists.yaml")

    # 主要诊断编码正确率: the coding rule and the dictionary the hospital codes in (override: coding_accuracy:)
    coding_data = {**(scoring_data.get("coding_accuracy") or {}), **_strip_lines(ov_data.get("coding_accuracy") or {})}
    coding = Coding(str(coding_data.get("rule", "")), str(coding_data.get("dictionary", "")))
    if dictionary_base(coding.dictionary) != "dx":
        raise CatalogueError(f"scoring.yaml coding_accuracy: dictionary 必须是诊断字典 dx 或 dx_<版本>，实际为 "
                             f"{coding.dictionary!r} / coding_accuracy.dictionary must be dx or dx_<edition>")
    coding_id = coding.rule.split("/")[0]

    rules: list[Rule] = []
    not_impl: list[dict] = []
    for name, text in texts.items():
        data = _load_yaml(text, name) or {}
        for entry in data.get("rules", []):
            if str(entry.get("id", "")) == coding_id and dictionary_base(entry.get("dictionary")) == "dx":
                entry = {**entry, "dictionary": coding.dictionary}      # the coding rule reads the coding dictionary
            rules.append(_rule_from(entry, name, model, scoring, code_lists, kinds, code_maps=code_maps))
        for entry in data.get("not_implemented", []):
            not_impl.append({k: v for k, v in entry.items() if k != "__line__"} | {"file": name})
    seen: dict[str, Rule] = {}
    for r in rules:
        if r.key in seen:
            raise CatalogueError(f"{r.where()}: 重复的规则 {r.key}（另见 {seen[r.key].where()}）/ duplicate rule key")
        seen[r.key] = r

    ov_name = str(ov) if ov else None
    for entry in ov_data.get("rules") or []:
        line = entry.get("__line__", 0) if isinstance(entry, dict) else 0
        where = f"{ov_name}:{line}"
        if not isinstance(entry, dict) or not entry.get("id"):
            raise CatalogueError(f"{where}: 覆盖条目需要 id / override entry needs an id")
        target = str(entry["id"])
        matches = [r for r in rules if r.key == target or (r.id == target and "/" not in target)]
        if entry.get("kind"):
            if matches and not entry.get("replace"):
                raise CatalogueError(f"{where} rule {target}: 已存在同名规则；自定义规则请用新 id（如 H-001）"
                                     f" / a rule with this id exists; use a new id for a custom rule")
            e = {k: v for k, v in entry.items() if k != "replace"}
            rules.append(_rule_from(e, ov_name, model, scoring, code_lists, kinds, custom=True, code_maps=code_maps))
            continue
        if not matches:
            raise CatalogueError(f"{where}: 覆盖的规则 {target} 不存在 / override names unknown rule {target}")
        for r in matches:
            for k, v in entry.items():
                if k in ("id", "__line__"):
                    continue
                if k == "enabled":
                    r.enabled = bool(v)
                elif k == "severity":
                    if v not in SEVERITIES:
                        raise CatalogueError(f"{where} rule {target}: severity 必须是 E/W/I / must be E, W or I")
                    r.severity = v
                elif k == "points":
                    r.points = float(v)
                elif k == "score":
                    r.score = [] if v in ("none", None) else ([v] if isinstance(v, str) else list(v))
                    for it in r.score:
                        if it not in scoring.items:
                            raise CatalogueError(f"{where} rule {target}: 未知评分项目 {it!r} / unknown score item")
                elif k == "params":
                    r.params.update(v)
                elif k in ("reason_zh", "message_zh", "message_en", "hint_zh"):
                    setattr(r, k, v)
                else:
                    raise CatalogueError(f"{where} rule {target}: 覆盖不支持键 {k!r}（可用 enabled, severity, points,"
                                         f" score, params, reason_zh, message_zh, message_en, hint_zh）/ unsupported")
    crule = {r.key: r for r in rules}.get(coding.rule)
    if crule is None or crule.kind != "code_in_dictionary" or crule.source != "dx":
        raise CatalogueError(f"scoring.yaml coding_accuracy: rule {coding.rule!r} 应为诊断行的 code_in_dictionary 规则"
                             f" / coding_accuracy.rule must name a code_in_dictionary rule on diagnosis rows")
    return Catalogue(rules, not_impl, scoring, code_lists, digest.hexdigest()[:16],
                     sorted(texts), ov_name, code_maps=code_maps, coding=coding)


def catalogue_summary(cat: Catalogue) -> list[dict]:
    """One row per rule entry and per not-implemented spec rule: id, status, severity, kind, title, reason."""
    rows = []
    for r in cat.rules:
        rows.append({"id": r.id, "key": r.key, "status": "implemented" if r.enabled else "disabled",
                     "severity": r.severity, "kind": r.kind, "source": r.source, "fields": r.fields,
                     "title_zh": r.title_zh, "message_zh": r.message_zh, "score": score_items(cat, r),
                     "needs_dictionary": r.needs_dictionary, "src": r.src,
                     "reason": r.reason_zh if not r.enabled else None, "custom": r.custom})
    for n in cat.not_implemented:
        key = n["id"] + (f"/{n['variant']}" if n.get("variant") else "")
        rows.append({"id": n["id"], "key": key, "status": "not_implemented", "severity": n.get("severity"),
                     "kind": None, "title_zh": n.get("title_zh", ""), "reason": n.get("reason_zh"),
                     "reason_en": n.get("reason_en")})
    return rows


def score_items(cat: Catalogue, r: Rule) -> list[str]:
    if r.score is not None:
        return list(r.score)
    out = []
    for f in r.fields:
        for seq in ((0, 1) if r.source == "dx" else (1, 2) if r.source == "px" else (None,)):
            it = cat.scoring.item_for(f, seq, r.source)
            if it and it not in out:
                out.append(it)
    return out


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)
