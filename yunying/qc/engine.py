"""QC engine: compile the enabled catalogue entries into a few UNION ALL queries (one per rule kind), run them
set-based on the warehouse, store findings, rule status and per-record scores.

Sources: `_qc_rec` (a view: one row per 首页, `discharge` joined to the narrow temp table `_qc_derived` of child-table
aggregates such as the principal diagnosis, plus scalar derived columns), `_qc_base` (the same records, stored columns
only), and the views `_qc_dx` (diagnosis rows + lookup columns [+ record columns]) and `_qc_px` (procedure rows +
procedure-dictionary attributes + lookup columns + record columns), each with just the columns the enabled rules
read; `_qc_<dx|px>_own` are the same without record columns. Row-local kinds are evaluated
in one scan per source (`row_local_sql`); the other kinds run as one UNION ALL query per kind.
Every kind template returns violating rows; counts, scores and rates are
aggregations of those rows, so a number and its drill-down cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Callable

import duckdb

from yunying.model.catalogue import load_model
from yunying.qc.loader import (DERIVED, DERIVED_CODE_FROM, EXPR_FACTS, KIND_COLUMNS, KIND_PROVIDES, LIST_CODES_FROM,
                               LIST_FACTS,
                               LOOKUP_KINDS, Catalogue, Rule,
                               class_parts, classify_for, dictionary_base, lookup_column,
                               column_zh, kind_template, list_predicate, load_catalogue, rewrite_fragment,
                               source_columns)
from yunying.warehouse.db import transaction

KEY = ("hospital_id", "mrn", "admission_no")
REC_ALWAYS = ["discharge_time", "discharge_dept_code", "attending_physician", "resident_physician"]
SOURCE_TABLE = {"rec": "_qc_rec", "dx": "_qc_dx", "px": "_qc_px"}
Progress = Callable[[str, int, int], None]

# weighted sum of the 17 digits of n (GB 11643 weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2)
QC_ID_SUM = "n // 10000000000000000 % 10 * 7 + n // 1000000000000000 % 10 * 9 + n // 100000000000000 % 10 * 10 + n // 10000000000000 % 10 * 5 + n // 1000000000000 % 10 * 8 + n // 100000000000 % 10 * 4 + n // 10000000000 % 10 * 2 + n // 1000000000 % 10 * 1 + n // 100000000 % 10 * 6 + n // 10000000 % 10 * 3 + n // 1000000 % 10 * 7 + n // 100000 % 10 * 9 + n // 10000 % 10 * 10 + n // 1000 % 10 * 5 + n // 100 % 10 * 8 + n // 10 % 10 * 4 + n // 1 % 10 * 2"
MACROS = [
    # GB 11643 check digit (18 chars) or 15 digits. The first 17 digits are read once as one BIGINT n (bound by a
    # one-element list_transform, evaluated vectorised) and their weighted sum taken with integer arithmetic;
    # length tests before the patterns; try_cast: DuckDB may evaluate the sum on rows the pattern rejects
    "create or replace temp macro qc_id_ok(s) as ((length(s) = 15 and regexp_full_match(s, '\\d{15}')) or "
    "(length(s) = 18 and regexp_full_match(s, '\\d{17}[\\dXx]') and upper(substr(s, 18, 1)) = substr('10X98765432', "
    "cast(1 + list_transform([try_cast(left(s, 17) as bigint)], lambda n: (" + QC_ID_SUM + ") % 11)[1] as bigint), 1)))",
    # a non-null element occurs twice (D112): lists of up to 3 elements compared pairwise, longer ones counted —
    # cheaper than len(list_distinct(l)) on the short diagnosis lists most records have
    "create or replace temp macro qc_has_dup(l) as (case when len(l) < 2 then false "
    "when len(l) = 2 then coalesce(l[1] = l[2], false) "
    "when len(l) = 3 then coalesce(l[1] = l[2], false) or coalesce(l[1] = l[3], false) or coalesce(l[2] = l[3], false) "
    "else list_unique(l) < list_count(l) end)",
]


@dataclass
class RuleStatus:
    rule_key: str
    rule_id: str
    hospital_id: str | None
    status: str                 # passed / failed / not_applicable / disabled / error
    reason: str | None = None
    n_failed: int = 0
    sql_hash: str | None = None


@dataclass
class RunSummary:
    run_id: str
    catalogue_hash: str
    n_records: int = 0
    n_findings: int = 0
    seconds: float = 0.0
    statuses: list[RuleStatus] = field(default_factory=list)
    by_grade: dict[str, int] = field(default_factory=dict)
    avg_score: float | None = None
    sql: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.statuses:
            out[s.status] = out.get(s.status, 0) + 1
        return out


def lit(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _fee_items(model) -> list[str]:
    return [c.name for c in model.tables["discharge"].columns if c.fee_class]


# ---- sources ---------------------------------------------------------------------------------------------------
def _derived_sql(name: str, model) -> str:
    dxa = {"pdx_code", "pdx_name", "pdx_poa", "odx_codes", "all_dx_codes", "n_odx", "tcm_disease_code",
           "tcm_disease_name", "tcm_disease_poa", "n_tcm_syndrome"}
    if name == "odx_codes":           # unordered: rules test membership, counts and duplicates only
        return "coalesce(dxa.odx_codes, []::varchar[])"
    if name == "all_dx_codes":
        return ("(case when dxa.pdx_code is null then coalesce(dxa.odx_codes, []::varchar[]) "
                "else list_prepend(dxa.pdx_code, coalesce(dxa.odx_codes, []::varchar[])) end)")
    if name in ("n_odx", "n_tcm_syndrome"):
        return f"coalesce(dxa.{name}, 0)"
    if name in dxa:
        return f"dxa.{name}"
    if name == "px_codes":
        return "coalesce(pxa.px_codes, []::varchar[])"
    if name in ("n_px", "n_px_anaesthesia", "n_px_surgery"):
        return f"coalesce(pxa.{name}, 0)"
    if name == "px_dup_rows":
        return "coalesce(pxd.px_dup_rows, 0)"
    if name in ("ppx_code", "ppx_name", "ppx_time"):
        return f"pxa.{name}"
    if name == "admit_age_days":
        return "date_diff('day', r.birth_date, cast(r.admit_time as date))"
    if name == "fee_items_sum":
        return "(" + " + ".join(f"coalesce(r.{c}, 0)" for c in _fee_items(model)) + ")"
    if name == "n_birth_weights":
        return ("(cast(r.nb_birth_weight_g is not null as integer) + cast(r.nb_birth_weight2_g is not null as integer)"
                " + cast(r.nb_birth_weight3_g is not null as integer))")
    raise KeyError(name)


# per-record aggregates of discharge_diagnosis (only those the enabled rules need are computed)
DXA_ITEMS = {
    "pdx_code": "max(dx_code) filter (where dx_type = 'W' and seq = 0)",
    "pdx_name": "max(dx_name) filter (where dx_type = 'W' and seq = 0)",
    "pdx_poa": "max(poa) filter (where dx_type = 'W' and seq = 0)",
    "odx_codes": "list(dx_code) filter (where dx_type = 'W' and seq > 0 and dx_code is not null)",
    "n_odx": "count(*) filter (where dx_type = 'W' and seq > 0)",
    "tcm_disease_code": "max(dx_code) filter (where dx_type = 'TD' and seq = 0)",
    "tcm_disease_name": "max(dx_name) filter (where dx_type = 'TD' and seq = 0)",
    "tcm_disease_poa": "max(poa) filter (where dx_type = 'TD' and seq = 0)",
    "n_tcm_syndrome": "count(*) filter (where dx_type = 'TS' and dx_code is not null and poa is not null)",
}
TCM_ITEMS = {"tcm_disease_code", "tcm_disease_name", "tcm_disease_poa", "n_tcm_syndrome"}


def dxa_sql(names: set[str], where: str, tcm_rows: bool, masks: list[tuple[str, str, str]] = ()) -> str:
    """The diagnosis aggregate subquery `dxa` for the needed derived columns. Without any TCM diagnosis rows
    (tcm_rows False) the TCM columns are constants (NULL / 0) — the same values the aggregates would give.
    `masks`: (output column, row filter, mask column of `_qc_facts_dx`) — per-record OR of the per-code fact bits."""
    need = set(names) | ({"pdx_code", "odx_codes"} if "all_dx_codes" in names else set())
    items = [f"{DXA_ITEMS[n]} as {n}" for n in DXA_ITEMS if n in need and (tcm_rows or n not in TCM_ITEMS)]
    items += [f"{'0' if n == 'n_tcm_syndrome' else 'cast(null as varchar)'} as {n}"
              for n in DXA_ITEMS if n in need and n in TCM_ITEMS and not tcm_rows]
    items += [f"bit_or(_f.{m}) filter (where {cond}) as {out}" for out, cond, m in masks]
    join = " left join _qc_facts_dx _f on _f.v = dx_code" if masks else ""
    return (f"(select hospital_id, mrn, admission_no, {', '.join(items)} "
            f"from discharge_diagnosis{join} {where} group by all) dxa")


FACT_BITS = 62          # facts per BIGINT mask


def _list_facts(con, rules: list[Rule]) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Code-list facts the rules read (`_any__<list>__<digest>`, see loader.LIST_FACTS): the per-code bit masks in
    `_qc_facts_dx` (each distinct diagnosis code tested once), the mask aggregates for dxa_sql and, per fact, its
    boolean expression over those aggregates."""
    facts = sorted({c for r in rules if r.source == "rec" for c in r.columns
                    if (class_parts(c) or ("", "", ""))[2] == "any"})
    if not facts:
        return [], {}
    preds = sorted({class_parts(f)[1] for f in facts})
    bit = {d: divmod(i, FACT_BITS) for i, d in enumerate(preds)}
    chunks = sorted({j for j, _ in bit.values()})
    cols = [" + ".join(f"(case when coalesce({LIST_FACTS[d]}, false) then {1 << k} else 0 end)"
                       for d, (jj, k) in bit.items() if jj == j) + f" as m{j}" for j in chunks]
    con.execute(f"create or replace temp table _qc_facts_dx as select c.v, {', '.join(cols)} "
                f"from (select distinct dx_code as v from discharge_diagnosis where dx_code is not null) c")
    masks, exprs = {}, {}
    for f in facts:
        lst, digest, _ = class_parts(f)
        j, k = bit[digest]
        out = f"_fm_{lst}_{j}"
        masks[out] = (out, LIST_CODES_FROM[lst], f"m{j}")
        exprs[f] = f"coalesce((dxa.{out} & {1 << k}) <> 0, false)"
    return sorted(masks.values()), exprs


PXA_SQL = """(select x.hospital_id, x.mrn, x.admission_no,
    max(x.px_code) filter (where x.seq = 1) as ppx_code,
    max(x.px_name) filter (where x.seq = 1) as ppx_name,
    max(x.px_time) filter (where x.seq = 1) as ppx_time,
    list(x.px_code) filter (where x.px_code is not null) as px_codes,
    count(*) as n_px, count(x.anaesthesia) as n_px_anaesthesia,
    count(*) filter (where d.category = 'surgery') as n_px_surgery
  from discharge_procedure x
  left join (select code, category from qc_dictionary where kind = 'px') d on d.code = x.px_code
  {where} group by all) pxa"""
# rows repeating the (code, date) of another row of the same record: a group-by over the few repeated pairs is
# cheaper than count(distinct) per record
PXD_SQL = """(select hospital_id, mrn, admission_no, sum(n - 1) as px_dup_rows
  from (select hospital_id, mrn, admission_no, px_code, px_time, count(*) as n from discharge_procedure {where}
        group by all having count(*) > 1)
  group by all) pxd"""


def _needed_columns(rules: list[Rule]) -> dict[str, set[str]]:
    rec_cols = source_columns("rec")
    need = {"rec": set(REC_ALWAYS), "dx": set(), "px": set()}
    for r in rules:
        for c in r.columns:
            if c in rec_cols:
                need["rec"].add(c)
            if r.source in ("dx", "px"):
                need[r.source].add(c)
        if r.source == "dx":
            need["dx"] |= {"dx_type", "seq"}
        if r.source == "px":
            need["px"] |= {"seq"}
    return need


def _class_tables(con, rules: list[Rule], code_lists: dict | None) -> dict[str, dict[str, str]]:
    """Lookup tables for the lookup columns the rules read (`_in__<column>__<list>`, `_indict__<column>__<kind>`,
    `_dictname__<column>__<kind>`; see loader.class_parts): each distinct code is tested against each code list and
    looked up in each dictionary once; sources join the result instead of testing every row.
    Returns {source: {column: table}}."""
    wanted: dict[str, dict[str, set[tuple[str, str]]]] = {"rec": {}, "dx": {}, "px": {}}
    for r in rules:
        for c in r.columns:
            parts = class_parts(c)
            if parts and parts[2] != "any":            # list facts: _list_facts
                wanted[r.source].setdefault(parts[0], set()).add((parts[2], parts[1]))
        if r.source == "dx" and "dict_category" in r.columns:
            # 字典属性 of a diagnosis row: the category in the dictionary of its type (W: dx, TD/TS: tcm)
            wanted["dx"].setdefault("dx_code", set()).update({("cat", "dx"), ("cat", "tcm")})
    if any(w == "list" for cols in wanted.values() for items in cols.values() for w, _ in items) and not code_lists:
        code_lists = load_catalogue(use_env=False).code_lists
    out: dict[str, dict[str, str]] = {}
    for source, cols in wanted.items():
        for col, items in sorted(cols.items()):
            if source == "rec":
                table, vcol = DERIVED_CODE_FROM.get(col, ("discharge", col))
            else:
                table, vcol = ("discharge_diagnosis" if source == "dx" else "discharge_procedure"), col
            name = f"_qc_cls_{source}_{col}"
            sel, joins = ["c.v"], ""
            for what, arg in sorted(items):
                if what == "list":
                    sel.append(f'{list_predicate("c.v", code_lists[arg])} as "{_class_table_col(what, arg)}"')
                elif what == "fx":
                    sel.append(f'{EXPR_FACTS[arg][0]} as "{_class_table_col(what, arg)}"')
                elif f"d_{arg}" not in joins:
                    joins += (f" left join (select code, name, category from qc_dictionary where kind = {lit(arg)}) "
                              f"d_{arg} "
                              f"on d_{arg}.code = c.v")
                if what == "dict":
                    sel.append(f'd_{arg}.code is not null as "{_class_table_col(what, arg)}"')
                elif what == "name":
                    sel.append(f'd_{arg}.name as "{_class_table_col(what, arg)}"')
                elif what == "cat":
                    sel.append(f'd_{arg}.category as "{_class_table_col(what, arg)}"')
            con.execute(f"create or replace temp table {name} as select {', '.join(sel)} "
                        f"from (select distinct {vcol} as v from {table}) c{joins} where c.v is not null")
            out.setdefault(source, {})[col] = name
    return out


def _class_table_col(what: str, arg: str) -> str:
    return arg if what == "list" else f"{what}:{arg}"


def _class_select(table: str, alias: str, col: str, value_sql: str, rules: list[Rule], source: str
                  ) -> tuple[list[str], list[str], str]:
    """(lookup column names, select items, join clause) adding the lookup columns of `col` to a source query."""
    names = sorted({c for r in rules if r.source == source for c in r.columns
                    if (class_parts(c) or ("",))[0] == col})
    items = []
    for n in names:
        _, arg, what = class_parts(n)
        looked = f'{alias}."{_class_table_col(what, arg)}"'
        # code facts hold for NULL codes too (the lookup table has no NULL row): the expression's value on NULL
        items.append(f'(case when {value_sql} is null then ({EXPR_FACTS[arg][1]}) else {looked} end) as "{n}"'
                     if what == "fx" else f'{looked} as "{n}"')
    return names, items, f" left join {table} {alias} on {alias}.v = {value_sql}"


def build_sources(con, rules: list[Rule], hospital: str | None = None, code_lists: dict | None = None,
                  lean: dict | None = None) -> dict[str, set[str]]:
    """Materialise _qc_rec, _qc_dx and _qc_px with just the columns the enabled rules read. `lean` (see
    lean_sources): child sources built without the record columns."""
    model = load_model()
    need = _needed_columns(rules)
    cls = _class_tables(con, rules, code_lists)
    base = set(model.tables["discharge"].column_names)
    where = f"where hospital_id = {lit(hospital)}" if hospital else ""
    sel = [f"r.{k}" for k in KEY] + [f"r.{c}" for c in sorted(need["rec"]) if c in base and c not in KEY]
    derived = sorted(c for c in need["rec"] if c in DERIVED)
    dx_derived = {"pdx_code", "pdx_name", "pdx_poa", "odx_codes", "all_dx_codes", "n_odx", "tcm_disease_code",
                  "tcm_disease_name", "tcm_disease_poa", "n_tcm_syndrome"}
    px_derived = {"px_codes", "n_px", "n_px_anaesthesia", "n_px_surgery", "px_dup_rows", "ppx_code", "ppx_name",
                  "ppx_time"}
    # child-table aggregates are materialised once in a narrow table; the record source itself is a view over
    # `discharge` (no copy of the wide table): _qc_rec = discharge ⋈ _qc_derived + scalar derived expressions
    agg = [c for c in derived if c in dx_derived | px_derived]
    rwhere = where.replace("hospital_id", "r.hospital_id")
    cls_names, cls_items, cls_joins, cls_base = [], [], "", []
    for i, (col, table) in enumerate(sorted(cls.get("rec", {}).items())):
        if col not in DERIVED:
            cls_base.append(col)
        names, items, join = _class_select(table, f"c{i}", col, f"d0.{col}", rules, "rec")
        cls_names += names
        cls_items += items
        cls_joins += join
    masks, facts = _list_facts(con, rules)
    con.execute("drop table if exists _qc_derived")         # a previous run's, on the same connection
    if agg or cls_items or facts:
        joins = ""
        if set(agg) & dx_derived or facts:
            tcm_rows = not set(agg) & TCM_ITEMS or bool(con.execute(
                f"select count(*) from (select 1 from discharge_diagnosis {where} {'and' if where else 'where'} "
                f"dx_type in ('TD', 'TS') limit 1)").fetchall()[0][0])
            joins += f" left join {dxa_sql(set(agg), where, tcm_rows, masks)} using (hospital_id, mrn, admission_no)"
        if set(agg) & (px_derived - {"px_dup_rows"}):
            joins += f" left join {PXA_SQL.format(where=where.replace('hospital_id', 'x.hospital_id'))} " \
                     f"using (hospital_id, mrn, admission_no)"
        if "px_dup_rows" in agg:
            joins += f" left join {PXD_SQL.format(where=where)} using (hospital_id, mrn, admission_no)"
        items = [f"{_derived_sql(c, model)} as {c}" for c in agg] + [f'{e} as "{f}"' for f, e in facts.items()]
        inner = (f"select r._rid, {', '.join(f'r.{k}' for k in KEY + tuple(cls_base))}"
                 f"{''.join(', ' + x for x in items)} "
                 f"from (select rowid as _rid, {', '.join(KEY + tuple(cls_base))} from discharge {where}) r{joins}")
        fact_cols = "".join(f', d0."{f}"' for f in facts)
        # class columns join on the finished derived values (d0), e.g. the principal diagnosis code
        con.execute(f"create or replace temp table _qc_derived as select d0._rid, "
                    f"{', '.join(f'd0.{k}' for k in KEY)}{''.join(', d0.' + c for c in agg)}"
                    f"{fact_cols}"
                    f"{''.join(', ' + x for x in cls_items)} from ({inner}) d0{cls_joins}")
        sel += [f"d.{c}" for c in agg] + [f'd."{n}"' for n in cls_names] + [f'd."{f}"' for f in facts]
    sel += [f"{_derived_sql(c, model)} as {c}" for c in derived if c not in agg]
    # joined on discharge's rowid (one integer instead of the three-column key; run_qc builds and reads the
    # sources in one transaction, so rowids cannot move in between)
    dj = " join _qc_derived d on d._rid = r.rowid" if (agg or cls_items or facts) else ""
    con.execute(f"create or replace temp view _qc_rec as select {', '.join(sel)} from discharge r{dj} {rwhere}")
    # the same records without the derived join: for consumers that read only stored columns
    con.execute(f"create or replace temp view _qc_base as select * from discharge {where}")
    # patients with two or more stays (by 病案号 / by 身份证号): same-patient kinds ({source_same_mrn},
    # {source_same_id} in their templates) read only those stays
    templates = "".join(kind_template(k) for k in {r.kind for r in rules})
    # (keys, and the stored columns those rules read for the stays: most read stored columns only)
    same = [r for r in rules if r.kind in KIND_COLUMNS and "{source_same_" in kind_template(r.kind)]
    stay_cols = ", ".join(sorted(set(KEY) | {c for r in same for c in r.columns if c in base}))
    if "{source_same_mrn}" in templates:
        con.execute("create or replace temp table _qc_multi_mrn as select hospital_id, mrn from _qc_base "
                    "group by all having count(*) > 1")
        con.execute(f"create or replace temp table _qc_multi_mrn_stays as select {stay_cols} from _qc_base "
                    "semi join _qc_multi_mrn using (hospital_id, mrn)")
    if "{source_same_id}" in templates:
        con.execute("create or replace temp table _qc_multi_id as select hospital_id, id_number from _qc_base "
                    "where id_number is not null group by all having count(*) > 1")
        con.execute(f"create or replace temp table _qc_multi_id_stays as select {stay_cols} from _qc_base "
                    "semi join _qc_multi_id using (hospital_id, id_number)")
    base_only = lambda cols: set(cols) <= base                      # noqa: E731
    rec_all = set(need["rec"]) - set(KEY)
    dx_own = set(model.tables["discharge_diagnosis"].column_names) - set(KEY)
    dx_cols = sorted(need["dx"] & dx_own)
    dx_rec = sorted((need["dx"] - dx_own - set(KEY) - {"dict_category"}) & rec_all)
    # lean child sources: without record columns when only row-local rules read them (the scan joins them to its
    # candidate rows, see row_local_sql); otherwise every child row carries them
    lean = {src: bool((lean or {}).get(src)) for src in ("dx", "px")}
    if lean["dx"]:
        dx_rec = []
    dsel = [f"x.{k}" for k in KEY] + [f"x.{c}" for c in dx_cols]
    djoin = ""
    for i, (col, table) in enumerate(sorted(cls.get("dx", {}).items())):
        _, items, join = _class_select(table, f"c{i}", col, f"x.{col}", rules, "dx")
        dsel += items
        djoin += join
        if col == "dx_code" and "dict_category" in need["dx"]:
            # from the same lookup table: the category in the dictionary of the row's type (W: dx, TD/TS: tcm)
            dsel.append(f"""case x.dx_type when 'W' then c{i}."cat:dx" else c{i}."cat:tcm" end as dict_category""")
    xwhere = where.replace("hospital_id", "x.hospital_id")
    # the child sources are views: `_qc_<src>_own` (child rows + dictionary and lookup columns) and `_qc_<src>`
    # (+ the record columns, when not lean). The row-local scan reads them once and applicability counts read the
    # own view — writing 3.3 M diagnosis rows cost more than the scan itself.
    _child_views(con, "dx", f"select {', '.join(dsel)} from discharge_diagnosis x{djoin} {xwhere}", dx_rec,
                 "_qc_base" if base_only(dx_rec) else "_qc_rec")
    px_own = set(model.tables["discharge_procedure"].column_names) - set(KEY)
    px_cols = sorted(need["px"] & px_own)
    px_rec = [] if lean["px"] else sorted((need["px"] - px_own - set(KEY) - {"px_category", "px_dict_level"}) & rec_all)
    psel = [f"x.{k}" for k in KEY] + [f"x.{c}" for c in px_cols]
    pjoin = ""
    if need["px"] & {"px_category", "px_dict_level"}:
        psel += ["d.category as px_category", "d.level as px_dict_level"]
        pjoin = (" left join (select code, category, level from qc_dictionary where kind = 'px') d "
                 "on d.code = x.px_code")
    for i, (col, table) in enumerate(sorted(cls.get("px", {}).items())):
        _, items, join = _class_select(table, f"c{i}", col, f"x.{col}", rules, "px")
        psel += items
        pjoin += join
    _child_views(con, "px", f"select {', '.join(psel)} from discharge_procedure x{pjoin} {xwhere}", px_rec,
                 "_qc_base" if base_only(px_rec) else "_qc_rec")
    return need


def _child_views(con, src: str, own_sql: str, rec_cols: list[str], rec_table: str) -> None:
    for name in (f"_qc_{src}_own", f"_qc_{src}"):
        # earlier engines materialised these sources as tables (same connection)
        if con.execute("select count(*) from duckdb_tables() where temporary and table_name = ?",
                       [name]).fetchall()[0][0]:
            con.execute(f"drop table {name}")
    con.execute(f"create or replace temp view _qc_{src}_own as {own_sql}")
    con.execute(f"create or replace temp view _qc_{src} as select o.*"
                + "".join(f", r.{c}" for c in rec_cols) + f" from _qc_{src}_own o"
                + (f" join {rec_table} r using (hospital_id, mrn, admission_no)" if rec_cols else ""))


def child_record_columns(rules: list[Rule], source: str) -> list[str] | None:
    """The record columns (stored or derived) the rules of a child source (dx, px) read, when only row-local rules
    read them — the child source is then built without them and the row-local scan joins them to its candidate
    rows only; None when a rule of another kind reads them (they are then materialised on every child row)."""
    model = load_model()
    own = set(model.tables["discharge_diagnosis" if source == "dx" else "discharge_procedure"].column_names)
    own |= {"dict_category"} if source == "dx" else {"px_category", "px_dict_level"}
    rec = source_columns("rec") - set(KEY)
    cols = set()
    for r in rules:
        if r.source != source:
            continue
        mine = {c for c in r.columns if c in rec and c not in own and not class_parts(c)}
        if mine and not is_row_local(r):
            return None
        cols |= mine
    return sorted(cols)


def lean_sources(cat: Catalogue, rules: list[Rule]) -> dict[str, tuple[str, list[str], set[str]] | None]:
    """Per child source, row_local_sql's `rec_join` when the source is built lean: its rules read record columns
    only in row-local rules, and every such rule has a necessary condition on the child's own columns (so the
    join is limited to candidate rows); else None (record columns are materialised on every child row)."""
    out: dict[str, tuple[str, list[str], set[str]] | None] = {}
    base = set(load_model().tables["discharge"].column_names)
    for source in ("dx", "px"):
        rcols = child_record_columns(rules, source)
        out[source] = None
        if not rcols:
            continue
        own = (_needed_columns(rules)[source] - set(rcols)) | set(KEY)
        arms = [a for r in rules if r.source == source and is_row_local(r) for a in compile_arms(cat, r)]
        if all(necessary_condition(a.predicate, own) != "true" for a in arms):
            out[source] = ("_qc_base" if set(rcols) <= base else "_qc_rec"), rcols, own
    return out


def _conjuncts(node) -> list:
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def necessary_condition(predicate: str, cols: set[str] | frozenset[str]) -> str:
    return _necessary_condition(predicate, frozenset(cols))


@functools.lru_cache(maxsize=4096)
def _necessary_condition(predicate: str, cols: frozenset[str]) -> str:
    """The conjuncts of a predicate that read only `cols` (a condition every violating row meets), as SQL; 'true'
    when there are none or the predicate does not parse."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(predicate, read="duckdb")
    except sqlglot.errors.ParseError:
        return "true"
    keep = []
    for c in _conjuncts(tree):
        lam = {i.name for la in c.find_all(exp.Lambda) for i in la.expressions}
        names = {n.name for n in c.find_all(exp.Column) if n.name not in lam}
        if names <= cols and not isinstance(c, exp.Boolean):
            keep.append(c.sql(dialect="duckdb"))
    return " and ".join(f"({k})" for k in keep) or "true"


# ---- applicability ---------------------------------------------------------------------------------------------
def applicability(con, rules: list[Rule]) -> dict[tuple[str, str], str | None]:
    """(rule_key, hospital_id) -> None when applicable, else the not_applicable reason (Chinese / English)."""
    hospitals = [r[0] for r in con.execute("select distinct hospital_id from _qc_base order by 1").fetchall()]
    dicts = dict(con.execute("select kind, count(*) from qc_dictionary group by kind").fetchall())
    depts = dict(con.execute("select hospital_id, count(*) from department group by 1").fetchall())
    rec_cols = set(r[0] for r in con.execute("select column_name from (describe _qc_rec)").fetchall())
    counts: dict[str, dict[str, int]] = {h: {} for h in hospitals}
    for src, table in SOURCE_TABLE.items():
        cols = sorted({n for r in rules for n in (r.needs or [])
                       if (n in rec_cols if src == "rec" else (n not in rec_cols and r.source == src))})
        # child sources: their own columns (record columns are counted on the record source), without the join
        # to the record columns
        parts = [(f"{table}_own" if src != "rec" else table, cols)]
        if src == "rec":
            # the record view joins _qc_derived: count stored and scalar derived columns on `discharge`, the
            # child-table aggregates on _qc_derived (both hold every record)
            model = load_model()
            stored = set(model.tables["discharge"].column_names)
            materialised = ({r[0] for r in con.execute("select column_name from (describe _qc_derived)").fetchall()}
                            if con.execute("select count(*) from duckdb_tables() where temporary and "
                                           "table_name = '_qc_derived'").fetchall()[0][0] else set())
            in_derived = [c for c in cols if c in materialised and c not in stored]
            parts = [("_qc_base r", [c for c in cols if c not in in_derived]), ("_qc_derived", in_derived)]
        for i, (tbl, tcols) in enumerate(parts):
            if i and not tcols:
                continue
            exprs = [c if src != "rec" or c in stored or tbl == "_qc_derived" else _derived_sql(c, model)
                     for c in tcols]
            agg = ", ".join(["count(*)"] + [f"count({e})" for e in exprs])
            for row in con.execute(f"select hospital_id, {agg} from {tbl} group by 1").fetchall():
                if not i:
                    counts[row[0]][f"_rows_{src}"] = row[1]
                for c, n in zip(tcols, row[2:]):
                    counts[row[0]][c] = n
    out = {}
    for r in rules:
        for h in hospitals:
            reason = None
            if r.needs_dictionary and not dicts.get(r.needs_dictionary):
                name = {"dx": "诊断", "px": "手术操作", "tcm": "中医病证"}[dictionary_base(r.needs_dictionary)]
                name += "" if r.needs_dictionary == dictionary_base(r.needs_dictionary) else f"（{r.needs_dictionary}）"
                reason = (f"未加载{name}字典（yunying qc dict import --kind {r.needs_dictionary}）/ "
                          f"no {r.needs_dictionary} dictionary loaded")
            elif r.kind == "dept_in_dictionary" and not depts.get(h):
                reason = "本院科室字典为空（yunying import department）/ department table is empty"
            elif r.source != "rec" and not counts[h].get(f"_rows_{r.source}"):
                reason = ("无诊断行 / no diagnosis rows" if r.source == "dx" else "无手术操作行 / no procedure rows")
            else:
                missing = [n for n in (r.needs or []) if not counts[h].get(n)]
                if missing:
                    reason = (f"缺少字段（本院数据中全部为空）：{'、'.join(column_zh(m) for m in missing)} / "
                              f"missing columns: {', '.join(missing)}")
            out[(r.key, h)] = reason
    return out


# ---- compilation -----------------------------------------------------------------------------------------------
def _render(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def _message_sql(text: str, field_zh: str, field_name: str, empty: str, refs: dict[str, str] | None = None) -> str:
    """concat() rendering a message template; refs maps value/expected/seq/column placeholders to SQL (default:
    the union-arm column names value, expected, seq, _m_<col>)."""
    refs = refs or {}
    parts, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", text):
        if m.start() > pos:
            parts.append(lit(text[pos:m.start()]))
        name = m.group(1)
        if name == "field_zh":
            parts.append(lit(field_zh))
        elif name == "field":
            parts.append(lit(field_name))
        elif name == "seq":
            parts.append(f"coalesce(cast({refs.get('seq', 'seq')} as varchar), '')")
        elif name in ("value", "expected"):
            parts.append(f"coalesce({refs.get(name, name)}, {lit(empty)})")
        else:
            parts.append(f"coalesce({refs.get(name, '_m_' + name)}, {lit(empty)})")
        pos = m.end()
    if pos < len(text):
        parts.append(lit(text[pos:]))
    return "concat(" + ", ".join(parts or ["''"]) + ")"


_COMPILED: dict = {}
# kinds whose template is a row-local predicate over one source row: evaluated together in one scan per source
ROW_LOCAL = {"required", "in_domain", "regex", "expr", "expr_equals"}
SMALL_RUN = 2000        # up to this many records, only the arms that fire are planned


def is_row_local(r: Rule) -> bool:
    """A predicate over one source row: the row-local kinds, and the dictionary kinds in their lookup form."""
    return r.kind in ROW_LOCAL or (r.kind in LOOKUP_KINDS and all(
        lookup_column(r.kind, r.source, f, r.code_field, r.dictionary) for f in (r.fields or [None])))


@dataclass
class Arm:
    """One rule entry × one field, compiled: its union-arm SELECT (finding columns) and, for row-local kinds, the
    predicate over one source row and the same SELECT reading the violating rows `_qc_viol` instead of the source."""
    rule: Rule
    field: str
    source: str
    sql: str                     # union-arm SELECT (finding columns), for every kind
    predicate: str | None        # row-local kinds: WHERE predicate over the source row
    viol_sql: str | None         # row-local kinds: `sql` reading _qc_viol


def compile_rule(cat: Catalogue, r: Rule, hospitals: list[str] | None = None) -> list[str]:
    """One SELECT per field of the rule, each returning finding rows in qc_finding column order (minus run_id)."""
    return [a.sql for a in compile_arms(cat, r, hospitals)]


def compile_arms(cat: Catalogue, r: Rule, hospitals: list[str] | None = None) -> list[Arm]:
    key = (cat.hash, r.key, r.enabled, r.severity, r.points, tuple(r.score or ()) if r.score is not None else None,
           tuple(sorted(r.params.items())), tuple(hospitals) if hospitals is not None else None)
    if key not in _COMPILED:
        if len(_COMPILED) > 5000:
            _COMPILED.clear()
        _COMPILED[key] = _compile_rule(cat, r, hospitals)
    return _COMPILED[key]


def _is_text(name: str) -> bool:
    """True for VARCHAR columns (blank strings count as empty); typed columns are only ever NULL when empty."""
    if name in DERIVED:
        return name in ("pdx_code", "pdx_name", "pdx_poa", "ppx_code", "ppx_name", "tcm_disease_code",
                        "tcm_disease_name", "tcm_disease_poa", "px_category", "px_dict_level", "dict_category")
    model = load_model()
    for t in ("discharge", "discharge_diagnosis", "discharge_procedure"):
        for c in model.tables[t].columns:
            if c.name == name:
                return c.base_type == "VARCHAR"
    return True


def _points_of(cat: Catalogue, r: Rule, items: list[str]) -> float:
    total = 0.0
    for it in items:
        si = cat.scoring.items[it]
        total += r.points if r.points is not None else (si.per_row if si.per_row else si.points)
    return total


def _items_of(cat: Catalogue, r: Rule, f: str) -> tuple[str | None, str | None]:
    if r.score is not None:
        v = "|".join(r.score) or None
        return v, v
    sc = cat.scoring
    if r.source == "rec":
        it = sc.item_for(f)
        return it, it
    first = 0 if r.source == "dx" else 1
    return sc.item_for(f, first, r.source), sc.item_for(f, first + 1, r.source)


def _compile_rule(cat: Catalogue, r: Rule, hospitals: list[str] | None) -> list[Arm]:
    allowed = source_columns(r.source) | KIND_PROVIDES.get(r.kind, set())
    tmpl = kind_template(r.kind)
    where = f"{r.where()}"
    arms = []
    first = 0 if r.source == "dx" else 1
    for f in (r.fields or [None]):
        def frag(text, default=None):
            if text is None:
                return default
            t = text.replace("{f}", f) if f else text
            return rewrite_fragment(t, cat.code_lists, where, allowed, r.params, classify_for(r.source),
                                    cat.code_maps)[0]

        applies = frag(r.applies_when, "true")
        if hospitals is not None:
            applies = f"({applies}) and hospital_id in ({', '.join(lit(h) for h in hospitals) or 'null'})"
        value = "null" if r.kind == "required" else frag(r.value, f or "null")
        expected = frag(r.expected, "null")
        lookup = lookup_column(r.kind, r.source, f, r.code_field, r.dictionary) if r.kind in LOOKUP_KINDS else None
        if lookup and r.kind == "name_matches_dictionary":
            # the catalogue names the dictionary name `_dict_name`; in the lookup form it is the lookup column
            value, expected = (re.sub(r'(?<![\w"])_dict_name(?![\w"])', f's."{lookup}"', x) for x in (value, expected))
        seq = "seq" if r.source in ("dx", "px") else "cast(null as integer)"
        msg_cols = sorted({m for m in re.findall(r"\{(\w+)\}", r.message_zh + r.message_en)
                           if m not in ("value", "expected", "field_zh", "field", "seq")})
        select = ", ".join([f"s.{k}" for k in KEY] + [f"{seq} as seq", f"cast(({value}) as varchar) as value",
                                                      f"cast(({expected}) as varchar) as expected"]
                           + [f"cast({c} as varchar) as _m_{c}" for c in msg_cols])
        source = SOURCE_TABLE[r.source]
        stays = None        # tables of the stays of persons with two or more stays, when the rule reads stored columns
        if r.kind in KIND_COLUMNS:      # window / self-join kinds: a narrow projection, not the wide record view
            classes = {c for c in r.columns if class_parts(c)}
            cols = ", ".join(sorted((set(KEY) | r.columns) & (source_columns(r.source) | classes)))
            if r.source == "rec" and not set(cols.split(", ")) & (set(DERIVED) | classes):
                source = f"(select {cols} from _qc_base)"     # stored columns only: skip the derived-column join
                stays = (f"(select {cols} from _qc_multi_mrn_stays)", f"(select {cols} from _qc_multi_id_stays)")
            else:
                source = f"(select {cols} from {source})"
        # the stays of patients (病案号 / 身份证号) with two or more stays: the only rows a same-patient comparison
        # can flag (build_sources materialises their keys and the stored columns of their stays)
        same_mrn, same_id = stays or (
            f"(select * from {source} _s semi join _qc_multi_mrn _m using (hospital_id, mrn))",
            f"(select * from {source} _s semi join _qc_multi_id _m using (hospital_id, id_number))")
        vals = {"select": select, "source": source, "source_same_mrn": same_mrn, "source_same_id": same_id,
                "applies_when": applies, "f": f or "",
                "when": frag(r.when, "false"), "expected": expected,
                "values": ", ".join(lit(v) for v in (r.values or [])), "pattern": lit(r.pattern),
                "dictionary": lit(r.dictionary), "code_field": r.code_field or ""}
        if r.kind == "code_in_dictionary":
            vals["in_dictionary"] = (f'coalesce(s."{lookup}", false)' if lookup else
                                     f"exists (select 1 from qc_dictionary d where d.kind = {lit(r.dictionary)} "
                                     f"and d.code = s.{f})")
        if r.kind == "name_matches_dictionary":
            vals["dict_name"] = f's."{lookup}"' if lookup else "d._dict_name"
            vals["dict_join"] = "" if lookup else (
                f"\njoin (select code as _dict_code, name as _dict_name from qc_dictionary where kind = "
                f"{lit(r.dictionary)}) d on d._dict_code = s.{r.code_field}")
        if f:
            text = _is_text(f)
            # the importer stores blank text as NULL (nullif(trim(v), '')); '' is still treated as empty
            vals["blank"] = f"({f} is null or {f} = '')" if text else f"{f} is null"
            vals["nonblank"] = f"({f} is not null and {f} <> '')" if text else f"{f} is not null"
        vals.update({k: str(v) for k, v in r.params.items()})
        inner = _render(tmpl, vals)
        fzh = column_zh(f) if f else ""
        i0, i1 = _items_of(cat, r, f or "")
        p0 = _points_of(cat, r, i0.split("|")) if i0 else 0.0
        p1 = _points_of(cat, r, i1.split("|")) if i1 else 0.0
        if r.source in ("dx", "px"):
            item = f"(case when seq = {first} then {lit(i0)} else {lit(i1)} end)"
            points = f"(case when seq = {first} then {lit(p0)} else {lit(p1)} end)"
        else:
            item, points = lit(i0), lit(p0)
        if r.tag and r.source in ("dx", "px"):
            tag = f"(case when seq = {first} then {lit(r.tag)} end)"
        else:
            tag = lit(r.tag) if r.tag else "cast(null as varchar)"
        head = (f"select hospital_id, mrn, admission_no, {lit(r.id)} as rule_id, {lit(r.severity)} as severity, "
                f"{lit(f)} as field, seq, value, expected, "
                f"{_message_sql(r.message_zh, fzh, f or '', '空')} as message_zh, "
                f"{_message_sql(r.message_en, f or '', f or '', '(empty)')} as message_en, "
                f"cast({points} as decimal(6,2)) as points, cast({item} as varchar) as item, {tag} as tag, "
                f"{lit(r.key)} as rule_key from (\n")
        sql = f"{head}{inner.strip()}\n) _v"
        predicate = viol_sql = None
        if is_row_local(r):
            body = "\n".join(x for x in inner.splitlines() if not x.strip().startswith("--"))
            predicate = body.split("\nwhere ", 1)[1].strip()
            viol_sql = f"{head}{_render(tmpl, vals | {'source': '_qc_viol'}).strip()}\n) _v"
        arms.append(Arm(r, f or "", r.source, sql, predicate, viol_sql))
    return arms


def row_local_sql(arms: list[Arm], source: str, run_id: str, rec_join: tuple[str, list[str], set[str]] | None = None,
                  filter_rows: bool = True) -> tuple[str, str, str]:
    """(violations, hits, findings) SQL for the row-local arms of one source.

    `violations`: one scan evaluates the `or` of every predicate and copies the violating rows (≈ 8 % of records,
    < 1 % of diagnosis rows) into the dense temp table `_qc_viol`; `findings`: every arm's own SELECT over those
    rows only, as one UNION ALL insert. `hits` (arm numbers per violating row) lets a small run (a pre-submission
    check) plan only the arms that fire.

    `rec_join` (record table, record columns, the child source's own columns): for a lean child source — the
    rows meeting some arm's necessary condition on the child's own columns (e.g. the diagnosis code is in the
    female-only list) are joined to the record columns first; only those candidates are tested.

    `filter_rows=False` (small runs, which list the arms that fire anyway): `_qc_viol` holds every row — planning
    the `or` of some 265 predicates costs more than a pre-submission check's few rows."""
    table = SOURCE_TABLE[source]
    where = " or ".join(f"({a.predicate})" for a in arms) if filter_rows else "true"
    if rec_join and rec_join[1]:
        rtable, rcols, own = rec_join
        need = " or ".join(sorted({necessary_condition(a.predicate, own) for a in arms})) if filter_rows else "true"
        viol = (f"create or replace temp table _qc_viol as select * from ("
                f"select x.*, {', '.join('r.' + c for c in rcols)} from (select * from {table} s where {need}) x "
                f"join {rtable} r using (hospital_id, mrn, admission_no)) s where {where}")
    else:
        viol = f"create or replace temp table _qc_viol as select * from {table} s where {where}"
    conds = ", ".join(f"case when {a.predicate} then {i} end" for i, a in enumerate(arms))
    hits = (f"select distinct unnest(list_filter([{conds}], lambda x: x is not null)) as k from _qc_viol s "
            f"order by 1")
    findings = (f"insert into qc_finding (run_id, {FINDING_COLS}) select {lit(run_id)}, * from (\n"
                + "\nunion all\n".join(a.viol_sql for a in arms) + "\n)")
    return viol, hits, findings


FINDING_COLS = ("hospital_id, mrn, admission_no, rule_id, severity, field, seq, value, expected, message_zh, "
                "message_en, points, item, tag, rule_key")


def score_sql(cat: Catalogue, run_id: str) -> str:
    sc = cat.scoring
    grade = "case " + " ".join(f"when score >= {g[1]} then {lit(g[0])}" for g in sc.grades) + \
        f" else {lit(sc.grades[-1][0])} end"
    pass_min = dict(sc.grades)[sc.pass_grade]
    items = " union all ".join(
        f"select {lit(i.item)} as item, {lit(i.section)} as section, {i.cap} as cap, "
        f"{lit(i.per_row)} as per_row, {lit(i.max)} as item_max" for i in sc.items.values())
    return f"""
with items as ({items}),
fi as (select hospital_id, mrn, admission_no, seq, points / len(string_split(item, '|')) as pts,
              unnest(string_split(item, '|')) as item
       from qc_finding where run_id = {lit(run_id)} and item is not null and points > 0),
per_row as (select hospital_id, mrn, admission_no, item, coalesce(seq, -1) as seq, max(pts) as pts
            from fi group by all),
item_ded as (select p.hospital_id, p.mrn, p.admission_no, i.section, any_value(i.cap) as cap,
                    case when any_value(i.per_row) is not null then least(any_value(i.item_max), sum(p.pts))
                         else max(p.pts) end as d
             from per_row p join items i using (item) group by p.hospital_id, p.mrn, p.admission_no, i.section, p.item),
sec_ded as (select hospital_id, mrn, admission_no, section, least(any_value(cap), sum(d)) as d
            from item_ded group by all),
rec_ded as (select hospital_id, mrn, admission_no, sum(d) as d from sec_ded group by all),
cnt as (select hospital_id, mrn, admission_no,
               count(*) filter (where severity = 'E') as n_error,
               count(*) filter (where severity = 'W') as n_warning,
               count(*) filter (where severity = 'I') as n_info,
               bool_or(tag in ('pdx', 'pdx_code')) as pdx_defect,
               bool_or(rule_key = {lit(cat.coding.rule)} and seq = 0) as pdx_code_defect,
               bool_or(tag = 'ppx') as ppx_defect,
               bool_or(rule_id like 'C%') as incomplete
        from qc_finding where run_id = {lit(run_id)} group by all),
pdx as (select distinct hospital_id, mrn, admission_no, true as has_pdx from discharge_diagnosis
        where seq = 0 and dx_type = 'W' and dx_code is not null and trim(dx_code) <> ''),
scored as (select r.hospital_id, r.mrn, r.admission_no,
                  cast(date_trunc('month', r.discharge_time) as date) as discharge_month,
                  r.discharge_dept_code, r.attending_physician, r.resident_physician,
                  cast(greatest(0, 100 - coalesce(d.d, 0)) as decimal(6,2)) as score,
                  coalesce(c.n_error, 0) as n_error, coalesce(c.n_warning, 0) as n_warning,
                  coalesce(c.n_info, 0) as n_info,
                  -- 主要诊断编码正确: a principal code, and no coding_accuracy finding on it
                  coalesce(c.pdx_code_defect, false) or p.has_pdx is null as pdx_code_defect,
                  coalesce(c.pdx_defect, false) as pdx_defect, coalesce(c.ppx_defect, false) as ppx_defect,
                  not coalesce(c.incomplete, false) as complete
           from _qc_base r left join rec_ded d using (hospital_id, mrn, admission_no)
           left join cnt c using (hospital_id, mrn, admission_no)
           left join pdx p using (hospital_id, mrn, admission_no))
select {lit(run_id)}, hospital_id, mrn, admission_no, discharge_month, discharge_dept_code, attending_physician,
       resident_physician, score, {grade} as grade, score >= {pass_min} as passed, score >= {sc.excellent_min},
       complete, n_error, n_warning, n_info,
       hospital_id in (select hospital_id from _qc_pdx_checked) as pdx_code_checked,
       case when hospital_id in (select hospital_id from _qc_pdx_checked) then not pdx_code_defect end,
       pdx_defect, ppx_defect
from scored"""


RECORD_COLS = ("run_id, hospital_id, mrn, admission_no, discharge_month, discharge_dept_code, attending_physician, "
               "resident_physician, score, grade, passed, excellent, complete, n_error, n_warning, n_info, "
               "pdx_code_checked, pdx_code_ok, pdx_defect, ppx_defect")


# ---- run -------------------------------------------------------------------------------------------------------
def run_qc(con: duckdb.DuckDBPyConnection, catalogue: Catalogue | None = None, *, hospital: str | None = None,
           progress: Progress | None = None, sql_only: bool = False, parameters: dict | None = None) -> RunSummary:
    """Run every enabled rule on the warehouse (or one hospital); results replace the previous run's."""
    import time

    t0 = time.perf_counter()
    cat = catalogue or load_catalogue()
    progress = progress or (lambda stage, done, total: None)
    run_id = f"qc-{dt.datetime.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    summary = RunSummary(run_id, cat.hash)
    enabled = cat.enabled()
    by_kind: dict[str, list[Rule]] = {}
    for r in enabled:
        by_kind.setdefault(r.kind, []).append(r)
    lean = lean_sources(cat, enabled)
    if sql_only:
        for kind, rules in by_kind.items():
            arms = [a for r in rules for a in compile_rule(cat, r)]
            summary.sql.append(f"-- kind {kind}: {len(rules)} rules (drill-down form: one SELECT per rule and field)\n"
                               f"insert into qc_finding (run_id, {FINDING_COLS})\n"
                               f"select {lit(run_id)}, * from (\n" + "\nunion all\n".join(arms) + "\n);")
        for src in ("rec", "dx", "px"):
            arms = [a for r in enabled if is_row_local(r) and r.source == src for a in compile_arms(cat, r)]
            if arms:
                viol, _, findings = row_local_sql(arms, src, run_id, lean.get(src))
                summary.sql.append(f"-- row-local kinds on source {src} as executed: {len(arms)} predicates in one "
                                   f"scan copying the violating rows, then every arm over those rows\n"
                                   f"{viol};\n{findings};")
        summary.sql.append(f"-- scoring\ninsert into qc_record ({RECORD_COLS})" + score_sql(cat, run_id) + ";")
        return summary

    for m in MACROS:
        con.execute(m)
    progress("qc-prepare", 0, 1)
    hfilter = f"where hospital_id = {lit(hospital)}" if hospital else ""
    # one transaction from the sources to the scores: every step reads the same snapshot of the warehouse (the
    # record view joins _qc_derived on discharge's rowid, stable within a snapshot)
    with transaction(con):
        started = dt.datetime.now()
        build_sources(con, enabled, hospital, cat.code_lists, lean)
        appl = applicability(con, enabled)
        hospitals = sorted({h for (_, h) in appl})
        for t in ("qc_finding", "qc_record", "qc_rule_status"):
            con.execute(f"delete from {t} {hfilter}")
        con.execute("insert into qc_run (run_id, started_at, catalogue_hash, overrides, parameters, status) "
                    "values (?, ?, ?, ?, ?, 'running')",
                    [run_id, started, cat.hash, cat.overrides,
                     json.dumps({"hospital": hospital, **(parameters or {})}, ensure_ascii=False, default=str)])
        statuses: dict[tuple[str, str | None], RuleStatus] = {}
        for r in cat.rules:
            if not r.enabled:
                statuses[(r.key, None)] = RuleStatus(r.key, r.id, None, "disabled", r.reason_zh)
        groups: dict[str, list[tuple[Rule, list[Arm]]]] = {}
        for r in enabled:
            ok_h = [h for h in hospitals if appl[(r.key, h)] is None]
            for h in hospitals:
                if appl[(r.key, h)] is not None:
                    statuses[(r.key, h)] = RuleStatus(r.key, r.id, h, "not_applicable", appl[(r.key, h)])
            if not ok_h:
                continue
            rarms = compile_arms(cat, r, None if len(ok_h) == len(hospitals) else ok_h)
            digest = hashlib.sha256("\n".join(a.sql for a in rarms).encode()).hexdigest()[:12]
            for hh in ok_h:
                statuses[(r.key, hh)] = RuleStatus(r.key, r.id, hh, "passed", None, 0, digest)
            group = f"row:{r.source}" if is_row_local(r) else f"kind:{r.kind}"
            groups.setdefault(group, []).append((r, rarms))
        done = 0
        small = con.execute("select count(*) from _qc_base").fetchall()[0][0] <= SMALL_RUN
        for group, members in groups.items():
            arms = [a for _, rarms in members for a in rarms]
            try:
                if group.startswith("row:"):
                    viol, hits, findings = row_local_sql(arms, group[4:], run_id, lean.get(group[4:]),
                                                         filter_rows=not small)
                    con.execute(viol)
                    if small:
                        # few records (pre-submission checks): plan only the arms that fire
                        hit = [r[0] for r in con.execute(hits).fetchall()]
                        if hit:
                            con.execute(f"insert into qc_finding (run_id, {FINDING_COLS}) select {lit(run_id)}, * "
                                        "from (" + "\nunion all\n".join(arms[k].viol_sql for k in hit) + ")")
                    else:
                        # findings carry no order; letting DuckDB interleave the union arms runs them in parallel
                        keep = con.execute("select current_setting('preserve_insertion_order')").fetchall()[0][0]
                        con.execute("set preserve_insertion_order = false")
                        try:
                            con.execute(findings)
                        finally:
                            con.execute(f"set preserve_insertion_order = {str(bool(keep)).lower()}")
                else:
                    con.execute(f"insert into qc_finding (run_id, {FINDING_COLS}) select {lit(run_id)}, * from ("
                                + "\nunion all\n".join(a.sql for a in arms) + ")")
            except duckdb.Error:
                # isolate the failing rule(s): run arm by arm (union form); failing rules become error results
                for a in arms:
                    try:
                        con.execute(f"insert into qc_finding (run_id, {FINDING_COLS}) "
                                    f"select {lit(run_id)}, * from ({a.sql})")
                    except duckdb.Error as exc:
                        for (k, hh), st in statuses.items():
                            if k == a.rule.key and st.status == "passed":
                                st.status, st.reason = "error", f"SQL 执行失败 / SQL failed: {exc}"
            done += len(members)
            progress("qc-rules", done, len(enabled))
        for key, h, n in con.execute(
                f"select rule_key, hospital_id, count(*) from qc_finding where run_id = {lit(run_id)} group by all"
        ).fetchall():
            st = statuses.get((key, h))
            if st and st.status == "passed":
                st.status, st.n_failed = "failed", n
        # 主要诊断编码正确率 is determinable where the coding rule (scoring.yaml coding_accuracy) applies
        pdx_ok = [h for h in hospitals
                  if any(appl.get((r.key, h)) is None for r in enabled if r.key == cat.coding.rule)]
        con.execute("create or replace temp table _qc_pdx_checked (hospital_id varchar)")
        if pdx_ok:
            con.execute("insert into _qc_pdx_checked values " + ", ".join(f"({lit(h)})" for h in pdx_ok))
        progress("qc-score", 0, 1)
        con.execute(f"insert into qc_record ({RECORD_COLS}) " + score_sql(cat, run_id))
        rows = [(run_id, s.hospital_id, s.rule_key, s.status, s.reason, s.n_failed, s.sql_hash)
                for s in statuses.values()]
        if rows:
            con.executemany("insert into qc_rule_status (run_id, hospital_id, rule_id, status, reason, n_failed, "
                            "sql_hash) values (?, ?, ?, ?, ?, ?, ?)", rows)
        summary.n_records, avg = con.execute(
            f"select count(*), avg(score) from qc_record where run_id = {lit(run_id)}").fetchall()[0]
        summary.avg_score = float(avg) if avg is not None else None
        summary.n_findings = con.execute(
            f"select count(*) from qc_finding where run_id = {lit(run_id)}").fetchall()[0][0]
        summary.by_grade = dict(con.execute(
            f"select grade, count(*) from qc_record where run_id = {lit(run_id)} group by 1 order by 1").fetchall())
        con.execute("update qc_run set finished_at = ?, n_records = ?, n_findings = ?, status = 'ok' where run_id = ?",
                    [dt.datetime.now(), summary.n_records, summary.n_findings, run_id])
    progress("qc-score", 1, 1)
    summary.statuses = list(statuses.values())
    summary.seconds = round(time.perf_counter() - t0, 3)
    return summary
