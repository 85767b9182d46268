"""The canonical data model as data: tables.yaml (columns) and domains.yaml (value domains)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field

Req = Literal["key", "required"]
DUCK_TYPES = ("VARCHAR", "INTEGER", "DATE", "TIMESTAMP")


class Column(BaseModel):
    name: str
    type: str
    zh: str
    code: str | None = None
    req: Req | None = None
    domain: str | None = None
    pii: Literal["name", "id", "phone", "address", "birth_date"] | None = None
    fee_class: int | None = None
    subset_of: str | None = None
    unit: str | None = None     # display unit (元 …): how its numbers print (yunying.reports.fmt.display)
    closed: bool = False        # a value outside `domain` is rejected at import (IMP-CODE), not only flagged
    default: str | None = None  # value stored when the file has no such column or the cell is empty

    @property
    def base_type(self) -> str:
        return self.type.split("(")[0]


class Table(BaseModel):
    name: str
    zh: str
    kind: str
    key: list[str]
    parent: str | None = None
    columns: list[Column]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


class Domain(BaseModel):
    codes: dict[str, str]
    aliases: dict[str, str] = Field(default_factory=dict)
    # named sets of codes that logic tests for (discharge_disposition death: ["5"]); engines use in_group_sql
    groups: dict[str, list[str]] = Field(default_factory=dict)

    def in_group_sql(self, column: str, group: str) -> str:
        """SQL predicate `column in (codes of the group)` (null when the column is null)."""
        codes = self.groups[group]
        return f"{column} in (" + ", ".join("'" + c.replace("'", "''") + "'" for c in codes) + ")"

    @property
    def normalise(self) -> dict[str, str]:
        """Spelling -> code: explicit aliases plus each Chinese label that names exactly one code (男 -> 1)."""
        labels: dict[str, list[str]] = {}
        for code, label in self.codes.items():
            labels.setdefault(label, []).append(code)
        from_labels = {lab: codes[0] for lab, codes in labels.items() if len(codes) == 1 and lab not in self.codes}
        return {**from_labels, **self.aliases}


class RowCheck(BaseModel):
    table: str
    code: str
    field: str
    extra: str | None = None
    when: str          # SQL predicate over canonical columns; true = reject


class Model(BaseModel):
    version: int
    tables: dict[str, Table]
    domains: dict[str, Domain]
    row_checks: list[RowCheck] = Field(default_factory=list)

    def tables_of_kind(self, kind: str) -> list[Table]:
        return [t for t in self.tables.values() if t.kind == kind]

    def main_table(self, kind: str) -> Table:
        return next(t for t in self.tables_of_kind(kind) if t.parent is None)

    @property
    def kinds(self) -> list[str]:
        return sorted({t.kind for t in self.tables.values()})


def _read_yaml(name: str) -> dict:
    return yaml.safe_load(resources.files("yunying.model").joinpath(name).read_text(encoding="utf-8"))


@cache
def load_model() -> Model:
    raw = _read_yaml("tables.yaml")
    tables = {name: Table(name=name, **spec) for name, spec in raw["tables"].items()}
    domains = {name: Domain(**spec) for name, spec in _read_yaml("domains.yaml").items()}
    checks = [RowCheck(**c) for c in raw.get("row_checks", [])]
    model = Model(version=raw["version"], tables=tables, domains=domains, row_checks=checks)
    _check(model)
    return model


def domain_predicate(domain: str, group: str, column: str) -> str:
    """SQL predicate: `column` holds a code of the named group of a domain (died: discharge_disposition death)."""
    return load_model().domains[domain].in_group_sql(column, group)


def died_sql(column: str = "d.discharge_disposition") -> str:
    """离院方式 死亡, from the discharge_disposition domain's `death` group."""
    return domain_predicate("discharge_disposition", "death", column)


def _check(model: Model) -> None:
    """Catalogue consistency: keys exist, domains exist, subset parents exist, types known."""
    problems = []
    for name, dom in model.domains.items():
        problems += [f"domain {name}: group {g} has unknown code {c}" for g, cs in dom.groups.items()
                     for c in cs if c not in dom.codes]
    for t in model.tables.values():
        names = set(t.column_names)
        if len(names) != len(t.columns):
            problems.append(f"{t.name}: duplicate column names")
        problems += [f"{t.name}: key column {k} not defined" for k in t.key if k not in names]
        for c in t.columns:
            if c.base_type not in DUCK_TYPES + ("DECIMAL",):
                problems.append(f"{t.name}.{c.name}: unknown type {c.type}")
            if c.domain and c.domain not in model.domains:
                problems.append(f"{t.name}.{c.name}: unknown domain {c.domain}")
            if c.closed and not c.domain:
                problems.append(f"{t.name}.{c.name}: closed without a domain")
            if c.subset_of and c.subset_of not in names:
                problems.append(f"{t.name}.{c.name}: subset_of {c.subset_of} not defined")
            if c.req == "key" and c.name not in t.key:
                problems.append(f"{t.name}.{c.name}: req=key but not in key")
    if problems:
        raise ValueError("tables.yaml / domains.yaml: " + "; ".join(problems))


def create_table_sql(table: Table) -> str:
    cols = ",\n  ".join(
        f"{c.name} {c.type}{' not null' if c.req == 'key' else ''}" for c in table.columns
    )
    # The key is enforced by the importer (delete-then-insert per key in one transaction), not by an index:
    # DuckDB's ART indexes slow bulk loads and add nothing for analytic reads.
    return f"-- {table.zh}; key ({', '.join(table.key)})\ncreate table {table.name} (\n  {cols}\n);"
