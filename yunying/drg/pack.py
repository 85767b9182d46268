"""DRG scheme packs: load, validate, layer overrides, hash and diff.

A pack is a directory of CSV files in the format of the CHS-DRG 1.1 pack (see docs/drg-scheme-pack.md).
The grouper never reads files itself; it gets a validated :class:`Pack` from here.

Identity of a pack = its ``name`` plus the sha256 of its canonical content (tables sorted by key), so the same
scheme reached by a full pack or by base + overrides has the same hash.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# ---------------------------------------------------------------------------------------------------------
# table catalogue: columns, keys, enums. This is the whole "schema" of a pack.
# ---------------------------------------------------------------------------------------------------------

INT = "int"
CODES = "codes"  # `|`-separated code list


@dataclass(frozen=True)
class TableSpec:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    required_file: bool = True
    strict_columns: bool = True  # unknown columns refused (they could carry rules the engine does not know)
    enums: dict = field(default_factory=dict)  # column -> allowed values ('' = not set allowed when listed)
    ints: tuple[str, ...] = ()
    not_blank: tuple[str, ...] = ()


YES_NO = ("yes", "no")

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in [
        TableSpec(
            "mdcs",
            ("mdc", "name", "priority", "entry_kind", "requires_principal_dx_in_list",
             "requires_principal_px_valid_or", "sex", "age_years", "min_trauma_regions"),
            ("adrg_count", "requires_any_dx_in_list", "principal_px_also"),
            key=("mdc",),
            enums={
                "entry_kind": ("PRINCIPAL_PX_VALID_OR", "PDX", "PDX_SEX", "PDX_AGE_YEARS", "PDX_MULTI_TRAUMA",
                               "ANY_DX"),
                "requires_principal_dx_in_list": YES_NO,
                "requires_principal_px_valid_or": YES_NO,
                "requires_any_dx_in_list": YES_NO + ("",),
                "sex": ("", "1", "2"),
            },
            ints=("priority", "age_years", "min_trauma_regions", "adrg_count"),
            not_blank=("mdc", "priority"),
        ),
        TableSpec("mdc_principal_dx", ("mdc", "code"), key=("mdc", "code"), not_blank=("mdc",)),
        TableSpec("mdcz_trauma_regions", ("code", "region"), key=("code",), required_file=False,
                  not_blank=("region",)),
        TableSpec(
            "adrgs",
            ("adrg", "name", "mdc", "order_in_mdc", "dx_condition", "px_condition"),
            ("rule_kind", "age_days_max", "weight_min_g", "weight_max_g", "px_combination", "drg_count",
             "when_no_drg_holds"),
            key=("adrg",),
            enums={
                "dx_condition": ("none", "principal_in_list", "any_in_list", "principal_not_in_list"),
                "px_condition": ("none", "principal_in_list", "principal_in_valid_or",
                                 "any_in_list_and_any_in_list2", "labelled_combination", "none_in_valid_or",
                                 "principal_not_valid_or"),
                "when_no_drg_holds": ("", "try_next_adrg", "fail"),
            },
            ints=("order_in_mdc", "age_days_max", "weight_min_g", "weight_max_g", "drg_count"),
            not_blank=("adrg", "mdc", "order_in_mdc"),
        ),
        TableSpec("adrg_codes", ("adrg", "list", "code"), ("label",), key=("adrg", "list", "code"),
                  enums={"list": ("dx", "px", "px2")}, ints=("label",), not_blank=("adrg",)),
        TableSpec(
            "drgs",
            ("drg", "name", "adrg", "order_in_adrg", "split_kind"),
            ("mdc", "split_value", "reachable"),
            key=("drg",),
            enums={"split_kind": ("NONE", "MCC", "MCC_OR_CC", "AGE_LT", "DEPT_EQ", "PX_ALL"),
                   "reachable": ("", "yes", "no")},
            ints=("order_in_adrg",),
            not_blank=("drg", "adrg", "order_in_adrg"),
        ),
        TableSpec("cc", ("code", "exclusion_table"), key=("code",), not_blank=("exclusion_table",)),
        TableSpec("mcc", ("code", "exclusion_table"), key=("code",), not_blank=("exclusion_table",)),
        TableSpec("principal_dx_exclusion", ("code", "exclusion_table"), key=("code",),
                  not_blank=("exclusion_table",)),
        TableSpec("valid_or_procedures", ("code",), ("name",), key=("code",), strict_columns=False),
        TableSpec("qy_rules", ("mdc", "qy_code", "enabled", "after_adrg_order", "condition"), key=("mdc",),
                  required_file=False, enums={"enabled": ("0", "1"), "condition": ("any_px_in_valid_or",)},
                  ints=("after_adrg_order",)),
        TableSpec("scheme_options", ("option", "value"), key=("option",), required_file=False),
        TableSpec("diagnoses", ("code", "name"), key=("code",), required_file=False, strict_columns=False),
        TableSpec("procedures", ("code", "name"), key=("code",), required_file=False, strict_columns=False),
        TableSpec("dx_code_map", ("source_code", "target_code"), key=("source_code",), required_file=False),
        TableSpec("px_code_map", ("source_code", "target_code"), key=("source_code",), required_file=False),
    ]
}

# scheme options: name -> (allowed values, default)
OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "retry_each_secondary_px_alone": (("yes", "no"), "no"),
    "mapping_mode": (("off", "on"), "off"),
    "sex_match": (("text", "integer"), "text"),
}

# files in a pack directory that are not scheme tables
IGNORED_FILES = re.compile(r"^(sample_cases.*|overrides)\.csv$")

COMBINATION_RE = re.compile(r"^\d+(\+\d+)*(\|\d+(\+\d+)*)*$")


# ---------------------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------------------


@dataclass
class PackIssue:
    file: str
    row: int | None  # 1-based data row (header = row 0); None = whole file
    column: str | None
    value: str | None
    zh: str
    en: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" 第{self.row}行 / row {self.row}"
        if self.column:
            where += f" 列【{self.column}】"
        val = f" 值 {self.value!r}" if self.value is not None else ""
        return f"DRG-PACK {where}{val}：{self.zh} / {self.en}"


class PackError(ValueError):
    """A pack was refused. ``issues`` lists every problem found (file, row, column, value)."""

    def __init__(self, issues: list[PackIssue]):
        self.issues = issues
        head = "\n".join(str(i) for i in issues[:20])
        more = f"\n… 另有 {len(issues) - 20} 处 / {len(issues) - 20} more" if len(issues) > 20 else ""
        super().__init__(f"方案包校验失败，共 {len(issues)} 处问题 / scheme pack refused ({len(issues)} issues):\n"
                         f"{head}{more}")


# ---------------------------------------------------------------------------------------------------------
# the pack
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Pack:
    name: str
    tables: dict[str, list[dict[str, str]]]  # scheme tables, rows as dicts of strings
    extra: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # weights, rates … kept verbatim
    source: str = ""
    base: str | None = None
    meta: dict = field(default_factory=dict)
    _hash: str | None = None

    @property
    def options(self) -> dict[str, str]:
        opts = {k: default for k, (_, default) in OPTIONS.items()}
        for row in self.tables.get("scheme_options", []):
            opts[row["option"]] = row["value"]
        return opts

    @property
    def content_hash(self) -> str:
        if self._hash is None:
            self._hash = _content_hash(self.tables, self.extra)
        return self._hash

    @property
    def identity(self) -> str:
        return f"{self.name}@sha256:{self.content_hash[:16]}"

    def rows(self, table: str) -> list[dict[str, str]]:
        return self.tables.get(table, [])

    def names(self) -> dict[str, dict[str, str]]:
        """Display names: {'dx': {code: name}, 'px': {...}, 'mdc': …, 'adrg': …, 'drg': …}."""
        out = {
            "dx": {r["code"]: r.get("name", "") for r in self.rows("diagnoses")},
            "px": {r["code"]: r.get("name", "") for r in self.rows("procedures")},
            "mdc": {r["mdc"]: r["name"] for r in self.rows("mdcs")},
            "adrg": {r["adrg"]: r["name"] for r in self.rows("adrgs")},
            "drg": {r["drg"]: r["name"] for r in self.rows("drgs")},
        }
        for r in self.rows("valid_or_procedures"):
            if r.get("name") and r["code"] not in out["px"]:
                out["px"][r["code"]] = r["name"]
        return out


def _canonical(rows: list[dict[str, str]]) -> list[tuple]:
    cols = sorted({c for r in rows for c in r})
    return sorted(tuple(r.get(c, "") for c in cols) for r in rows), cols


def _content_hash(tables: dict, extra: dict) -> str:
    h = hashlib.sha256()
    for kind, group in (("t", tables), ("x", extra)):
        for name in sorted(group):
            rows = group[name]
            body, cols = _canonical(rows)
            h.update(f"{kind}:{name}:{','.join(cols)}\n".encode())
            for r in body:
                h.update(("\x1f".join(r) + "\n").encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------


def _read_csv(path: Path, issues: list[PackIssue]) -> tuple[list[str], list[dict[str, str]]] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        issues.append(PackIssue(path.name, None, None, None, f"不是 UTF-8 编码（{e}）", f"not UTF-8 ({e})"))
        return None
    except OSError as e:                    # a folder named *.csv, no permission …
        issues.append(PackIssue(path.name, None, None, None, f"无法读取：{e.strerror or e}",
                                f"cannot be read: {e.strerror or e}"))
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        issues.append(PackIssue(path.name, None, None, None, "文件为空，缺少表头", "empty file, no header"))
        return None
    rows = []
    records = enumerate(reader, start=1)
    while True:
        try:
            i, rec = next(records)
        except StopIteration:
            break
        except csv.Error as e:              # a field over the csv module's limit (an unclosed quote swallowing
            issues.append(PackIssue(path.name, reader.line_num - 1, None, None,   # the rest of the file …)
                                    f"此处无法解析（{e}），常见原因是引号未闭合", f"cannot be parsed here ({e}); "
                                    f"usually an unclosed quote"))
            return None
        if len(rec) != len(header):
            if not rec:  # blank line
                continue
            issues.append(PackIssue(path.name, i, None, ",".join(rec)[:80],
                                    f"列数为 {len(rec)}，表头为 {len(header)} 列",
                                    f"{len(rec)} fields, header has {len(header)}"))
            continue
        rows.append(dict(zip(header, rec)))
    return header, rows


def _check_header(spec: TableSpec, file: str, header: list[str], issues: list[PackIssue]) -> bool:
    ok = True
    seen = set()
    for c in header:
        if c in seen:
            issues.append(PackIssue(file, 0, c, None, "表头列名重复", "duplicate column in header"))
            ok = False
        seen.add(c)
    for c in spec.required:
        if c not in seen:
            issues.append(PackIssue(file, 0, c, None, "表头缺少必需列", "required column missing from header"))
            ok = False
    if spec.strict_columns:
        known = set(spec.required) | set(spec.optional)
        for c in header:
            if c not in known:
                issues.append(PackIssue(file, 0, c, None,
                                        "未知列：引擎不认识此列的含义，拒绝加载以免静默忽略规则",
                                        "unknown column: the engine does not know its meaning"))
                ok = False
    return ok


_INT_RE = re.compile(r"^-?\d+$")


def _check_rows(spec: TableSpec, file: str, rows: list[dict[str, str]], issues: list[PackIssue]) -> None:
    keys: dict[tuple, int] = {}
    for i, r in enumerate(rows, start=1):
        for c, allowed in spec.enums.items():
            v = r.get(c)
            if v is None:
                continue
            if v not in allowed:
                shown = "、".join(a or "(空)" for a in allowed)
                issues.append(PackIssue(file, i, c, v, f"取值不在允许范围：{shown}",
                                        f"value not allowed; expected one of {', '.join(a or '(blank)' for a in allowed)}"))
        for c in spec.ints:
            v = r.get(c)
            if v and not _INT_RE.match(v):
                issues.append(PackIssue(file, i, c, v, "应为整数", "must be an integer"))
        for c in spec.not_blank:
            if r.get(c, "") == "":
                issues.append(PackIssue(file, i, c, "", "不能为空", "must not be blank"))
        if spec.key:
            k = tuple(r.get(c, "") for c in spec.key)
            if k in keys:
                issues.append(PackIssue(file, i, "|".join(spec.key), "|".join(k),
                                        f"键重复（与第{keys[k]}行相同）", f"duplicate key (same as row {keys[k]})"))
            else:
                keys[k] = i


def validate(tables: dict[str, list[dict[str, str]]], issues: list[PackIssue] | None = None,
             file_of=lambda t: f"{t}.csv") -> list[PackIssue]:
    """Row checks, enums and cross-table references. Returns the issues (empty = valid)."""
    issues = [] if issues is None else issues
    for name, spec in TABLES.items():
        if name in tables:
            _check_rows(spec, file_of(name), tables[name], issues)
        elif spec.required_file:
            issues.append(PackIssue(file_of(name), None, None, None, "缺少必需文件", "required file missing"))
    mdcs = {r["mdc"]: r for r in tables.get("mdcs", [])}
    adrgs = {r["adrg"]: r for r in tables.get("adrgs", [])}
    # mdcs
    for i, r in enumerate(tables.get("mdcs", []), start=1):
        if r.get("min_trauma_regions") and "mdcz_trauma_regions" not in tables:
            issues.append(PackIssue(file_of("mdcs"), i, "min_trauma_regions", r["min_trauma_regions"],
                                    "设置了多发创伤部位数，但缺少 mdcz_trauma_regions.csv",
                                    "min_trauma_regions set but mdcz_trauma_regions.csv is missing"))
    prio = {}
    for i, r in enumerate(tables.get("mdcs", []), start=1):
        p = r.get("priority")
        if p in prio:
            issues.append(PackIssue(file_of("mdcs"), i, "priority", p, f"优先级与 {prio[p]} 重复",
                                    f"priority duplicates {prio[p]}"))
        prio[p] = r["mdc"]
    # references to MDCs
    for t in ("mdc_principal_dx", "adrgs", "qy_rules"):
        for i, r in enumerate(tables.get(t, []), start=1):
            if r.get("mdc") and r["mdc"] not in mdcs:
                issues.append(PackIssue(file_of(t), i, "mdc", r["mdc"], "引用了 mdcs.csv 中不存在的 MDC",
                                        "dangling reference: MDC not in mdcs.csv"))
    # adrgs: order unique per MDC, combination formula
    orders: dict[tuple, str] = {}
    for i, r in enumerate(tables.get("adrgs", []), start=1):
        k = (r.get("mdc"), r.get("order_in_mdc"))
        if k in orders:
            issues.append(PackIssue(file_of("adrgs"), i, "order_in_mdc", r.get("order_in_mdc"),
                                    f"同一 MDC 内顺序与 {orders[k]} 重复", f"order duplicates {orders[k]} in its MDC"))
        orders[k] = r["adrg"]
        comb = r.get("px_combination", "")
        if r.get("px_condition") == "labelled_combination":
            if not COMBINATION_RE.match(comb or ""):
                issues.append(PackIssue(file_of("adrgs"), i, "px_combination", comb,
                                        "labelled_combination 需要形如 1+2|1+3 的标签公式",
                                        "labelled_combination needs a label formula like 1+2|1+3"))
        elif comb:
            issues.append(PackIssue(file_of("adrgs"), i, "px_combination", comb,
                                    "仅 labelled_combination 可设置标签公式",
                                    "px_combination only allowed with labelled_combination"))
    # adrg_codes references; labels on every px row of a labelled_combination ADRG
    for i, r in enumerate(tables.get("adrg_codes", []), start=1):
        a = adrgs.get(r.get("adrg"))
        if a is None:
            issues.append(PackIssue(file_of("adrg_codes"), i, "adrg", r.get("adrg"),
                                    "引用了 adrgs.csv 中不存在的 ADRG", "dangling reference: ADRG not in adrgs.csv"))
        elif r.get("list") == "px" and a.get("px_condition") == "labelled_combination" and not r.get("label"):
            issues.append(PackIssue(file_of("adrg_codes"), i, "label", "",
                                    f"{r['adrg']} 为标签组合规则，其手术表每行都需要标签",
                                    "labelled_combination ADRG: every px row needs a label"))
    # drgs
    drg_orders: dict[tuple, str] = {}
    for i, r in enumerate(tables.get("drgs", []), start=1):
        a = r.get("adrg")
        if a not in adrgs:
            issues.append(PackIssue(file_of("drgs"), i, "adrg", a, "引用了 adrgs.csv 中不存在的 ADRG",
                                    "dangling reference: ADRG not in adrgs.csv"))
        elif r.get("mdc") and r["mdc"] != adrgs[a]["mdc"]:
            issues.append(PackIssue(file_of("drgs"), i, "mdc", r["mdc"],
                                    f"与 ADRG {a} 所属 MDC {adrgs[a]['mdc']} 不一致",
                                    f"differs from the MDC of ADRG {a} ({adrgs[a]['mdc']})"))
        k = (a, r.get("order_in_adrg"))
        if k in drg_orders:
            issues.append(PackIssue(file_of("drgs"), i, "order_in_adrg", r.get("order_in_adrg"),
                                    f"同一 ADRG 内顺序与 {drg_orders[k]} 重复",
                                    f"order duplicates {drg_orders[k]} in its ADRG"))
        drg_orders[k] = r["drg"]
        kind, val = r.get("split_kind"), r.get("split_value", "")
        if kind in ("AGE_LT",) and not _INT_RE.match(val or ""):
            issues.append(PackIssue(file_of("drgs"), i, "split_value", val, "AGE_LT 需要整数年龄",
                                    "AGE_LT needs an integer age"))
        if kind in ("DEPT_EQ", "PX_ALL") and not val:
            issues.append(PackIssue(file_of("drgs"), i, "split_value", val, f"{kind} 需要 split_value",
                                    f"{kind} needs split_value"))
        if kind in ("NONE", "MCC", "MCC_OR_CC") and val:
            issues.append(PackIssue(file_of("drgs"), i, "split_value", val, f"{kind} 不应设置 split_value",
                                    f"{kind} takes no split_value"))
    with_drgs = {r.get("adrg") for r in tables.get("drgs", [])}
    for i, r in enumerate(tables.get("adrgs", []), start=1):
        if r["adrg"] not in with_drgs:
            issues.append(PackIssue(file_of("adrgs"), i, "adrg", r["adrg"], "该 ADRG 没有任何 DRG（drgs.csv）",
                                    "ADRG has no DRG in drgs.csv"))
    # qy
    for i, r in enumerate(tables.get("qy_rules", []), start=1):
        if r.get("enabled") == "1" and not any(
            a["mdc"] == r["mdc"] and a["order_in_mdc"] == r["after_adrg_order"] for a in adrgs.values()
        ):
            issues.append(PackIssue(file_of("qy_rules"), i, "after_adrg_order", r.get("after_adrg_order"),
                                    "该 MDC 中没有此顺序号的 ADRG", "no ADRG with this order in the MDC"))
    # options
    for i, r in enumerate(tables.get("scheme_options", []), start=1):
        o = r.get("option")
        if o not in OPTIONS:
            issues.append(PackIssue(file_of("scheme_options"), i, "option", o, "未知的方案选项",
                                    f"unknown option; known: {', '.join(OPTIONS)}"))
        elif r.get("value") not in OPTIONS[o][0]:
            issues.append(PackIssue(file_of("scheme_options"), i, "value", r.get("value"),
                                    f"取值应为 {'/'.join(OPTIONS[o][0])}", f"expected {'/'.join(OPTIONS[o][0])}"))
    return issues


def read_dir(path: Path, issues: list[PackIssue]) -> tuple[dict, dict]:
    """Read every CSV of a pack directory: (scheme tables, extra tables). Header problems go to issues."""
    tables, extra = {}, {}
    for f in sorted(path.glob("*.csv")):
        if IGNORED_FILES.match(f.name):
            continue
        got = _read_csv(f, issues)
        if got is None:
            continue
        header, rows = got
        name = f.stem
        spec = TABLES.get(name)
        if spec is None:
            extra[name] = rows  # optional tables (weights, rates, thresholds …) kept verbatim
            continue
        if _check_header(spec, f.name, header, issues):
            for r in rows:
                for c in spec.optional:
                    r.setdefault(c, "")
            tables[name] = rows
        else:
            tables[name] = []  # present but unusable; do not also report it as missing
    return tables, extra


def load_pack(path: str | Path, name: str | None = None, *, resolver=None) -> Pack:
    """Load and validate a pack directory. Raises PackError naming file, row and column of every problem.

    A directory with ``pack.yaml`` giving ``base:`` (a path relative to it, or a registered name resolved by
    ``resolver``) is loaded as base + this directory's CSV files (replacing whole tables) + ``overrides.csv``.
    """
    path = Path(path)
    if path.is_file():
        raise PackError([PackIssue(str(path), None, None, None, "是一个文件，不是方案包目录（压缩包请先解压，给出解压后的目录）",
                                   "is a file, not a pack directory (unpack an archive and give its folder)")])
    if not path.is_dir():
        raise PackError([PackIssue(str(path), None, None, None, "方案包目录不存在", "pack directory not found")])
    meta: dict = {}
    meta_file = path / "pack.yaml"
    issues: list[PackIssue] = []
    if meta_file.exists():
        try:
            meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise PackError([PackIssue("pack.yaml", None, None, None, f"YAML 格式错误：{e}", f"bad YAML: {e}")])
        except UnicodeDecodeError as e:
            raise PackError([PackIssue("pack.yaml", None, None, None, f"不是 UTF-8 编码（{e}）", f"not UTF-8 ({e})")])
        except OSError as e:
            raise PackError([PackIssue("pack.yaml", None, None, None, f"无法读取：{e.strerror or e}",
                                       f"cannot be read: {e.strerror or e}")])
        if not isinstance(meta, dict):
            raise PackError([PackIssue("pack.yaml", None, None, None, "应为键值映射", "must be a mapping")])
    base_pack = None
    if meta.get("base"):
        base_ref = str(meta["base"])
        candidate = (path / base_ref).resolve()
        if candidate.is_dir():
            base_pack = load_pack(candidate, resolver=resolver)
        elif resolver is not None:
            base_pack = resolver(base_ref)
        else:
            raise PackError([PackIssue("pack.yaml", None, "base", base_ref, "找不到基础方案包",
                                       "base pack not found (neither a directory nor a registered scheme)")])
    tables, extra = read_dir(path, issues)
    if base_pack is not None:
        merged = {k: [dict(r) for r in v] for k, v in base_pack.tables.items()}
        merged.update(tables)
        tables = merged
        extra = {**base_pack.extra, **extra}
    if issues:
        raise PackError(issues)
    if (path / "overrides.csv").exists():
        tables = apply_overrides(tables, path / "overrides.csv")
    validate(tables, issues)
    if issues:
        raise PackError(issues)
    pack_name = name or meta.get("name") or path.name
    return Pack(name=str(pack_name), tables=tables, extra=extra, source=str(path),
                base=base_pack.identity if base_pack else None, meta=meta)


# ---------------------------------------------------------------------------------------------------------
# overrides
# ---------------------------------------------------------------------------------------------------------

OVERRIDE_COLUMNS = ("op", "table", "key", "column", "value", "reason_zh")
OVERRIDE_OPS = ("add_code", "remove_code", "set", "rename", "set_option", "add_group", "remove_group")


def _parse_assignments(value: str) -> dict[str, str]:
    out = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(part)
        k, v = part.split("=", 1)
        out[k.strip()] = v
    return out


def apply_overrides(tables: dict[str, list[dict[str, str]]], file: Path) -> dict[str, list[dict[str, str]]]:
    """Apply overrides.csv (op,table,key,column,value,reason_zh) to a copy of ``tables``.

    Keys are the table's key columns joined by ``|``; for add_code/remove_code the code in ``value`` is the last
    key part (``GD2|px`` + ``47.0903``). See docs/drg-scheme-pack.md.
    """
    issues: list[PackIssue] = []
    got = _read_csv(file, issues)
    if got is None:
        raise PackError(issues)
    header, rows = got
    fname = file.name
    for c in OVERRIDE_COLUMNS[:5]:
        if c not in header:
            issues.append(PackIssue(fname, 0, c, None, "表头缺少必需列", "required column missing from header"))
    if issues:
        raise PackError(issues)
    out = {k: [dict(r) for r in v] for k, v in tables.items()}
    index: dict[str, dict[tuple, dict]] = {}

    def idx(table: str) -> dict[tuple, dict]:
        if table not in index:
            spec = TABLES[table]
            index[table] = {tuple(r.get(c, "") for c in spec.key): r for r in out.setdefault(table, [])}
        return index[table]

    removed_ids: dict[str, set[int]] = {}

    def compact(table: str) -> None:
        gone = removed_ids.pop(table, None)
        if gone:
            out[table] = [r for r in out[table] if id(r) not in gone]

    def remove(table: str, pred) -> int:
        compact(table)
        before = len(out.get(table, []))
        out[table] = [r for r in out.get(table, []) if not pred(r)]
        index.pop(table, None)
        return before - len(out[table])

    for i, r in enumerate(rows, start=1):
        op, table, key, column, value = (r.get(c, "") for c in OVERRIDE_COLUMNS[:5])

        def bad(col, val, zh, en):
            issues.append(PackIssue(fname, i, col, val, zh, en))

        if op not in OVERRIDE_OPS:
            bad("op", op, f"未知操作，可用：{'、'.join(OVERRIDE_OPS)}", f"unknown op; expected {', '.join(OVERRIDE_OPS)}")
            continue
        if op == "set_option":
            table = table or "scheme_options"
        if table not in TABLES:
            bad("table", table, "未知的表名", "unknown table")
            continue
        spec = TABLES[table]
        parts = key.split("|") if key != "" else []
        if op in ("add_code", "remove_code"):
            full = tuple(parts + [value])
            if len(full) != len(spec.key):
                bad("key", key, f"{table} 的键应为 {'|'.join(spec.key[:-1]) or '(空)'} 加 value 中的编码",
                    f"key of {table} is {'|'.join(spec.key)} (last part in value)")
                continue
            ix = idx(table)
            if op == "add_code":
                if full in ix:
                    bad("value", value, "该编码已存在，无法新增", "code already present")
                    continue
                row = {c: "" for c in spec.required + spec.optional}
                row.update(dict(zip(spec.key, full)))
                if column and column not in spec.key:  # add_code may also set one attribute: column=value? no
                    bad("column", column, "add_code 的 column 应为编码列名", "column of add_code names the code column")
                    continue
                out[table].append(row)
                ix[full] = row
            else:
                if full not in ix:
                    bad("value", value, "要删除的编码不存在", "code to remove not present")
                    continue
                removed_ids.setdefault(table, set()).add(id(ix.pop(full)))
        elif op in ("set", "rename", "set_option"):
            if op == "rename":
                column = column or "name"
            if op == "set_option":
                full, column = (key,), "value"
                ix = idx(table)
                if full not in ix:
                    row = {"option": key, "value": value}
                    out[table].append(row)
                    ix[full] = row
                    continue
            else:
                full = tuple(parts)
                ix = idx(table)
            if full not in ix:
                bad("key", key, f"{table} 中找不到该键", f"key not found in {table}")
                continue
            if column in spec.key:
                bad("column", column, "不能修改键列；请先删除再新增", "cannot set a key column; remove and add instead")
                continue
            if column not in spec.required + spec.optional and spec.strict_columns:
                bad("column", column, f"{table} 没有此列", f"{table} has no such column")
                continue
            ix[full][column] = value
        elif op == "add_group":
            if table not in ("mdcs", "adrgs", "drgs"):
                bad("table", table, "add_group 仅用于 mdcs/adrgs/drgs", "add_group applies to mdcs, adrgs, drgs")
                continue
            try:
                values = _parse_assignments(value)
            except ValueError as e:
                bad("value", value, f"应为 列=值;列=值 形式（{e}）", "expected col=value;col=value")
                continue
            ix = idx(table)
            if (key,) in ix:
                bad("key", key, "该分组已存在", "group already exists")
                continue
            unknown = [c for c in values if c not in spec.required + spec.optional]
            if unknown:
                bad("value", ",".join(unknown), "未知列", "unknown column(s)")
                continue
            row = {c: "" for c in spec.required + spec.optional}
            row.update(values)
            row[spec.key[0]] = key
            out[table].append(row)
            ix[(key,)] = row
        elif op == "remove_group":
            if table not in ("adrgs", "drgs"):
                bad("table", table, "remove_group 仅用于 adrgs/drgs", "remove_group applies to adrgs, drgs")
                continue
            if (key,) not in idx(table):
                bad("key", key, "分组不存在", "group not found")
                continue
            remove(table, lambda x: x[spec.key[0]] == key)
            if table == "adrgs":
                remove("drgs", lambda x: x["adrg"] == key)
                remove("adrg_codes", lambda x: x["adrg"] == key)
    for table in list(removed_ids):
        compact(table)
    if issues:
        raise PackError(issues)
    return out


# ---------------------------------------------------------------------------------------------------------
# diff
# ---------------------------------------------------------------------------------------------------------


@dataclass
class TableDiff:
    table: str
    added: list[tuple]
    removed: list[tuple]
    changed: list[tuple[tuple, str, str, str]]  # key, column, old, new


def diff_packs(a: Pack, b: Pack) -> list[TableDiff]:
    out = []
    for name in sorted(set(a.tables) | set(b.tables)):
        spec = TABLES[name]
        ra = {tuple(r.get(c, "") for c in spec.key): r for r in a.tables.get(name, [])}
        rb = {tuple(r.get(c, "") for c in spec.key): r for r in b.tables.get(name, [])}
        added = sorted(set(rb) - set(ra))
        removed = sorted(set(ra) - set(rb))
        changed = []
        for k in sorted(set(ra) & set(rb)):
            for c in sorted(set(ra[k]) | set(rb[k])):
                if c in spec.key:
                    continue
                va, vb = ra[k].get(c, ""), rb[k].get(c, "")
                if va != vb:
                    changed.append((k, c, va, vb))
        if added or removed or changed:
            out.append(TableDiff(name, added, removed, changed))
    return out


def diff_report(a: Pack, b: Pack, limit: int = 20) -> str:
    """Human-readable diff: codes added/removed per list, groups added/removed/renamed, option changes."""
    diffs = diff_packs(a, b)
    lines = [f"方案对比 / scheme diff: {a.identity}  →  {b.identity}"]
    if not diffs:
        lines.append("两个方案内容相同 / identical content")
        return "\n".join(lines)
    for d in diffs:
        lines.append(f"\n## {d.table}: +{len(d.added)} −{len(d.removed)} ~{len(d.changed)}")
        if d.table in ("adrg_codes", "mdc_principal_dx"):
            per: dict[tuple, list[int]] = {}
            for k in d.added:
                per.setdefault(k[:-1], [0, 0])[0] += 1
            for k in d.removed:
                per.setdefault(k[:-1], [0, 0])[1] += 1
            for owner, (n_add, n_rem) in sorted(per.items())[:limit]:
                lines.append(f"  {'|'.join(owner)}: 新增 {n_add} 个编码 / removed {n_rem}")
            if len(per) > limit:
                lines.append(f"  … 另有 {len(per) - limit} 个列表 / {len(per) - limit} more lists")
            continue
        for k in d.added[:limit]:
            lines.append(f"  + {'|'.join(k)}")
        for k in d.removed[:limit]:
            lines.append(f"  - {'|'.join(k)}")
        for k, c, va, vb in d.changed[:limit]:
            label = "改名 / renamed" if c == "name" else c
            lines.append(f"  ~ {'|'.join(k)} {label}: {va!r} → {vb!r}")
        hidden = max(0, len(d.added) - limit) + max(0, len(d.removed) - limit) + max(0, len(d.changed) - limit)
        if hidden:
            lines.append(f"  … 另有 {hidden} 行未显示 / {hidden} more rows not shown")
    return "\n".join(lines)


def diff_as_overrides(a: Pack, b: Pack) -> list[dict[str, str]]:
    """Rows of an overrides.csv that turns pack ``a`` into pack ``b`` (for set-like tables and cell changes)."""
    rows = []
    bt = {name: {tuple(r.get(c, "") for c in TABLES[name].key): r for r in b.tables.get(name, [])}
          for name in b.tables}
    diffs = diff_packs(a, b)
    removed_adrgs = {k[0] for d in diffs if d.table == "adrgs" for k in d.removed}
    a_drg_adrg = {r["drg"]: r["adrg"] for r in a.tables.get("drgs", [])}
    for d in diffs:
        spec = TABLES[d.table]
        for k in d.removed:
            if d.table == "drgs" and a_drg_adrg.get(k[0]) in removed_adrgs:
                continue  # removed together with its ADRG
            if d.table == "adrg_codes" and k[0] in removed_adrgs:
                continue
            if d.table in ("adrgs", "drgs"):
                rows.append({"op": "remove_group", "table": d.table, "key": k[0], "column": "", "value": ""})
            else:
                rows.append({"op": "remove_code", "table": d.table, "key": "|".join(k[:-1]),
                             "column": spec.key[-1], "value": k[-1]})
        for k in d.added:
            row = bt[d.table][k]
            if d.table in ("mdcs", "adrgs", "drgs"):
                vals = ";".join(f"{c}={v}" for c, v in row.items() if c not in spec.key and v != "")
                rows.append({"op": "add_group", "table": d.table, "key": k[0], "column": "", "value": vals})
            else:
                rows.append({"op": "add_code", "table": d.table, "key": "|".join(k[:-1]),
                             "column": spec.key[-1], "value": k[-1]})
                for c, v in row.items():
                    if c not in spec.key and v != "":
                        rows.append({"op": "set", "table": d.table, "key": "|".join(k), "column": c, "value": v})
        for k, c, _va, vb in d.changed:
            op = "set_option" if d.table == "scheme_options" else "set"
            rows.append({"op": op, "table": d.table, "key": "|".join(k), "column": c, "value": vb})
    for r in rows:
        r["reason_zh"] = ""
    return rows
