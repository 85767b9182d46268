"""Header-mapping profiles: which source header feeds which canonical column (and child-table rows).

Profiles are YAML files (ingest/profiles/*.yaml, plus a user folder). For every kind, canonical English column
names and the catalogue's Chinese names are accepted without being listed. The profile that matches most of a
file's headers is chosen unless the user names one.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from yunying.model.catalogue import Model, load_model

MAX_REPEAT = 99
FIXED_KEYS = ("dx_type", "seq")   # in repeat templates: literal values, not headers


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Source:
    """One source header feeding one canonical column."""

    header: str
    column: str
    convert: str | None = None


@dataclass
class ChildRow:
    """One child-table row template bound to concrete headers, e.g. diagnosis seq 3 from JBDM3/QTZD3/RYBQ3."""

    table: str
    fixed: dict[str, object]                 # e.g. {"dx_type": "W", "seq": 3}
    sources: dict[str, str]                  # canonical column -> source header (only headers present)


@dataclass
class Profile:
    name: str
    kind: str
    label_zh: str
    columns: dict[str, Source]               # normalised header -> Source
    repeats: dict[str, list[dict]] = field(default_factory=dict)
    path: str = ""
    priority: int = 0

    def bind(self, headers: list[str], model: Model) -> "Binding":
        """Match a file's headers; canonical names and catalogue Chinese names always count."""
        table = model.main_table(self.kind)
        implicit: dict[str, Source] = {}
        for c in table.columns:
            implicit[norm(c.name)] = Source(c.name, c.name)
            implicit[norm(c.zh)] = Source(c.zh, c.name)
        lookup = {**implicit, **self.columns}
        mapped: dict[str, Source] = {}
        used: set[str] = set()
        for h in headers:
            src = lookup.get(norm(h))
            if src and src.column not in mapped:
                mapped[src.column] = Source(h, src.column, src.convert)
                used.add(h)
        children = []
        present = {norm(h): h for h in headers}
        for child_table, templates in self.repeats.items():
            for tpl in templates:
                for row in _expand(tpl, present):
                    fixed = {k: row[k] for k in FIXED_KEYS if k in row}
                    sources = {k: present[norm(v)] for k, v in row.items()
                               if k not in FIXED_KEYS and norm(v) in present}
                    if sources:
                        children.append(ChildRow(child_table, fixed, sources))
                        used.update(sources.values())
        unknown = [h for h in headers if h not in used]
        return Binding(self, mapped, children, unknown)


@dataclass
class Binding:
    profile: Profile
    columns: dict[str, Source]               # canonical column -> Source (header as in file)
    children: list[ChildRow]
    unknown: list[str]

    @property
    def score(self) -> int:
        return len(self.columns) + sum(len(c.sources) for c in self.children)


def norm(header: str) -> str:
    return str(header).strip().lstrip("\ufeff").strip().upper()


def _expand(tpl: dict, present: dict[str, str]) -> list[dict]:
    """Expand a repeat template: "{i}" over the indices whose headers exist; plain templates once."""
    if str(tpl.get("seq")) != "{i}":
        return [{**tpl, "seq": int(tpl["seq"])}]
    rows = []
    for i in range(1, MAX_REPEAT + 1):
        row = {k: (v if k in FIXED_KEYS else str(v).replace("{i}", str(i))) for k, v in tpl.items()}
        if any(norm(v) in present for k, v in row.items() if k not in FIXED_KEYS):
            rows.append({**row, "seq": i})
    return rows


def _parse(raw: dict, path: str, model: Model) -> Profile:
    try:
        name, kind = raw["name"], raw["kind"]
    except (KeyError, TypeError) as exc:
        raise ProfileError(f"{path}: 映射配置缺少 name/kind 字段 / profile needs 'name' and 'kind'") from exc
    if kind not in model.kinds:
        raise ProfileError(f"{path}: 未知数据类型 kind={kind!r}，可选 {model.kinds} / unknown kind")
    table = model.main_table(kind)
    columns: dict[str, Source] = {}
    for header, target in (raw.get("columns") or {}).items():
        spec = target if isinstance(target, dict) else {"column": target}
        col = spec.get("column")
        if col not in table.column_names:
            raise ProfileError(
                f"{path}: 表头 {header} 映射到未知字段 {col!r}（{table.name} 无此字段） / "
                f"header {header} maps to unknown column {col!r} of {table.name}"
            )
        columns[norm(header)] = Source(str(header), col, spec.get("convert"))
    repeats = raw.get("repeats") or {}
    for child, templates in repeats.items():
        if child not in model.tables or model.tables[child].parent != table.name:
            raise ProfileError(f"{path}: repeats 中的子表 {child!r} 不属于 {table.name} / unknown child table")
        for tpl in templates:
            bad = [k for k in tpl if k not in model.tables[child].column_names]
            if bad:
                raise ProfileError(f"{path}: 子表 {child} 无字段 {bad} / unknown child columns {bad}")
    return Profile(name, kind, raw.get("label_zh", name), columns, repeats, path, int(raw.get("priority", 0)))


def _builtin_raw() -> list[tuple[str, dict]]:
    # a fresh copy of the parsed built-in profiles (parsed once per process: a single-record pre-submission check
    # would otherwise spend a tenth of its time in the YAML parser)
    return copy.deepcopy(_builtin_parsed())


@functools.cache
def _builtin_parsed() -> list[tuple[str, dict]]:
    root = resources.files("yunying.ingest").joinpath("profiles")
    out = []
    for p in sorted(root.iterdir(), key=lambda p: p.name):
        if p.name.endswith((".yaml", ".yml")):
            out.append((f"yunying/ingest/profiles/{p.name}", yaml.safe_load(p.read_text(encoding="utf-8"))))
    return out


def load_profiles(extra_dir: Path | None = None, extra_files: list[Path] | None = None) -> dict[str, Profile]:
    """All profiles: built-in, then a user folder, then explicit files (later ones override by name)."""
    model = load_model()
    raws = _builtin_raw()
    paths: list[Path] = []
    if extra_dir and Path(extra_dir).is_dir():
        paths += sorted(Path(extra_dir).glob("*.y*ml"))
    paths += [Path(p) for p in (extra_files or [])]
    for p in paths:
        try:
            raws.append((str(p), yaml.safe_load(p.read_text(encoding="utf-8"))))
        except (OSError, yaml.YAMLError) as exc:
            raise ProfileError(f"{p}: 无法读取映射配置 / cannot read profile: {exc}") from exc
    by_name = {}
    for path, raw in raws:
        if isinstance(raw, dict):
            by_name[raw.get("name")] = (path, raw)
    profiles = {}
    for name, (path, raw) in by_name.items():
        profiles[name] = _parse(_resolve_extends(raw, by_name, path), path, model)
    return profiles


def _resolve_extends(raw: dict, by_name: dict, path: str, depth: int = 0) -> dict:
    base_name = raw.get("extends")
    if not base_name:
        return raw
    if base_name not in by_name or depth > 5:
        raise ProfileError(f"{path}: extends 指向未知配置 {base_name!r} / unknown base profile")
    base = _resolve_extends(by_name[base_name][1], by_name, by_name[base_name][0], depth + 1)
    columns = {k: v for k, v in (base.get("columns") or {}).items() if k not in set(raw.get("drop") or [])}
    columns.update(raw.get("columns") or {})
    repeats = dict(base.get("repeats") or {})
    repeats.update(raw.get("repeats") or {})
    return {**base, **raw, "columns": columns, "repeats": repeats}


def generic_profile(kind: str) -> Profile:
    """For kinds without a shipped profile: canonical and Chinese catalogue names only."""
    return Profile(f"{kind}-canonical", kind, "规范字段名", {}, {})


def choose(kind: str, headers: list[str], profiles: dict[str, Profile], name: str | None = None) -> Binding:
    model = load_model()
    if name:
        if name not in profiles:
            raise ProfileError(f"未知映射配置 {name!r}，可选 {sorted(profiles)} / unknown profile {name!r}")
        if profiles[name].kind != kind:
            raise ProfileError(f"映射配置 {name} 用于 {profiles[name].kind}，不是 {kind} / profile is for another kind")
        return profiles[name].bind(headers, model)
    candidates = [p for p in profiles.values() if p.kind == kind] or [generic_profile(kind)]
    bindings = [p.bind(headers, model) for p in candidates]
    return max(bindings, key=lambda b: (b.score, b.profile.priority))

