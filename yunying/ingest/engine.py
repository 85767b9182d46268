"""Import engine: stage a file, map headers, type and validate every row in SQL, then load atomically.

Contract (issue 2): rows that cannot be stored faithfully (missing key, unparseable date/number, impossible
dates, conflicting duplicates in one file, broken CSV lines) go to quarantine (`import_reject`) and to a reject
file; all other rows of the file load in one transaction; a record with an existing key is replaced, never
duplicated. Everything else (codes outside a domain, empty required fields) is stored and noted as a warning
for record-quality control.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from yunying.model.safe_cells import sql_neutralised
from yunying.ingest import profiles as prof
from yunying.ingest.errors import ROW_REASONS, WARN_REASONS, ImportFailed
from yunying.ingest.readers import Progress, Source, open_source, sha256_of
from yunying.ingest.scratch import sweep_scratch
from yunying.model.catalogue import Column, Model, load_model
from yunying.warehouse.db import transaction

DATE_FORMATS = [
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y年%m月%d日",
    "%Y.%m.%d",
]
CONVERTERS = {
    # 2016 规范 不足1周岁年龄: months written as "n d/30" (e.g. "2 15/30" = 2 months 15 days); plain number = months
    "months_fraction_to_days": (
        "case when regexp_full_match({v}, '\\d+(\\.\\d+)?') then cast(round(cast({v} as double) * 30) as integer)"
        " when regexp_full_match({v}, '(\\d+)\\s+(\\d+)/30') then"
        " cast(regexp_extract({v}, '^(\\d+)', 1) as integer) * 30 + cast(regexp_extract({v}, '(\\d+)/30', 1) as integer)"
        " when regexp_full_match({v}, '(\\d+)/30') then cast(regexp_extract({v}, '(\\d+)/30', 1) as integer) end"
    ),
}


@dataclass
class FileResult:
    file: str
    kind: str
    status: str = "ok"                      # ok | failed
    import_id: int | None = None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged_duplicates: int = 0
    rejected: int = 0
    warnings: int = 0
    encoding: str | None = None
    profile: str | None = None
    unknown_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error_code: str | None = None
    message: str | None = None


@dataclass
class ImportSummary:
    kind: str
    files: list[FileResult]
    reject_file: str | None = None
    warning_file: str | None = None

    def totals(self) -> dict:
        keys = ("rows_read", "inserted", "updated", "unchanged_duplicates", "rejected", "warnings")
        return {k: sum(getattr(f, k) for f in self.files) for k in keys}

    @property
    def ok(self) -> bool:
        return all(f.status == "ok" for f in self.files)

    def as_dict(self) -> dict:
        return {"ok": self.ok, **self.totals(), "kind": self.kind, "reject_file": self.reject_file,
                "warning_file": self.warning_file, "failed_files": sum(f.status != "ok" for f in self.files),
                "files": [asdict(f) for f in self.files]}


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def convert_sql(col: Column, src: str, model: Model, convert: str | None = None) -> str:
    """SQL turning a raw VARCHAR source expression into the column's canonical typed value (NULL if unparseable)."""
    v = f"nullif(trim({src}), '')"
    if convert:
        return CONVERTERS[convert].format(v=v)
    t = col.base_type
    n = f"nullif({src}, '')"           # casts to numbers and times tolerate surrounding blanks
    if t == "INTEGER":                 # DuckDB rounds '3.5' to 4 on cast: only whole numbers are integers
        return (f"(case when contains({n}, '.') then case when try_cast({n} as DOUBLE) % 1 = 0 "
                f"then try_cast({n} as INTEGER) end else try_cast({n} as INTEGER) end)")
    if t == "DECIMAL":                 # thousands separators and ¥ only looked at when the plain cast fails
        return f"coalesce(try_cast({n} as {col.type}), try_cast(replace(replace({v}, ',', ''), '¥', '') as {col.type}))"
    if t == "VARCHAR":
        dom = model.domains.get(col.domain) if col.domain else None
        if dom and dom.normalise:
            cases = " ".join(f"when {lit(a)} then {lit(c)}" for a, c in dom.normalise.items())
            return f"(case {v} {cases} else {v} end)"
        return v
    fmts = "[" + ", ".join(lit(f) for f in DATE_FORMATS) + "]"
    ts = f"coalesce(try_cast({n} as TIMESTAMP), try_strptime({v}, {fmts}))"
    return f"cast({ts} as DATE)" if t == "DATE" else ts


def error_code_for(col: Column) -> str:
    return {"DATE": "IMP-DATE", "TIMESTAMP": "IMP-DATE", "INTEGER": "IMP-INTEGER"}.get(col.base_type, "IMP-NUMBER")


class Importer:
    """Imports files of one kind into an open warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, kind: str, *, hospital: str | None = None,
                 profile: str | None = None, profiles_dir: Path | None = None,
                 profile_files: list[Path] | None = None, encoding: str | None = None,
                 progress: Progress | None = None, allowed_hospitals: tuple[str, ...] | None = None,
                 user: str | None = None):
        """allowed_hospitals: when given (the web app passes the uploader's scope), a file holding a row of any
        other hospital is refused as a whole (IMP-HOSPITAL-SCOPE); None = any hospital (CLI, administrators).
        user: who started the import (import_log.imported_by)."""
        self.con, self.kind, self.hospital, self.user = con, kind, hospital, user
        self.allowed_hospitals = None if allowed_hospitals is None else tuple(allowed_hospitals)
        self.model = load_model()
        if kind not in self.model.kinds:
            raise ImportFailed("IMP-KIND", f"未知的数据类型 {kind}，可选：{', '.join(self.model.kinds)}",
                               f"unknown kind {kind}; choose one of {', '.join(self.model.kinds)}")
        self.table = self.model.main_table(kind)
        self.children = [t for t in self.model.tables_of_kind(kind) if t.parent]
        self.profiles = prof.load_profiles(profiles_dir, profile_files)
        self.profile_name, self.encoding = profile, encoding
        self.progress = progress or (lambda stage, done, total: None)
        self.issue_files: IssueFiles | None = None      # set by import_files: reject/warning files, written
                                                         # inside each file's transaction

    # ---- one file -------------------------------------------------------------------------------------------
    def import_file(self, path: Path) -> FileResult:
        """Import one file atomically; rejects and warnings are stored under the returned import_id."""
        path = Path(path)
        res = FileResult(file=str(path), kind=self.kind)
        started = dt.datetime.now()
        digest = size = None
        src = None
        try:
            _check_input(path)
            try:
                digest, size = sha256_of(path), path.stat().st_size
            except OSError as exc:
                raise ImportFailed("IMP-FILE-READ", f"无法读取文件：{exc.strerror or exc}。请检查文件权限或是否被其他程序占用",
                                   f"cannot read the file: {exc.strerror or exc}; check its permissions or whether "
                                   f"another program holds it", file=str(path)) from None
            self.progress("read", 0, 1)
            src = open_source(self.con, path, encoding=self.encoding, progress=self.progress)
            res.encoding, res.notes = src.encoding, src.notes
            binding = prof.choose(self.kind, src.headers, self.profiles, self.profile_name)
            res.profile, res.unknown_columns = binding.profile.name, binding.unknown
            self._check_columns(binding, path)
            absent = [c.zh for c in self.table.columns if c.req == "required" and c.name not in binding.columns]
            if absent:
                res.notes.append(f"文件缺少必填列（已导入，待首页质控）：{'、'.join(absent)} / "
                                 f"required columns absent from the file: {len(absent)}")
            self.progress("validate", 0, 1)
            rows = self._build_typed(binding, src)
            res.rows_read = rows + len(src.structural_rejects)
            self._check_hospitals(binding, path)
            if res.rows_read == 0:
                res.notes.append("文件只有表头，没有数据行，未导入任何记录 / header only: no data rows")
            self._row_errors(binding, src)
            self._duplicates(binding)
            self._quarantine_raw(binding, src)
            self._warnings(binding)
            self.progress("load", 0, rows)
            self._load(binding, res, digest, size, started, path)
            self.progress("load", rows, rows)
            return res
        except ImportFailed as exc:
            res.status, res.error_code = "failed", exc.code
            res.message = f"{exc.zh} / {exc.en}"
            self._log_failure(res, path, digest, size, started)
            return res
        except Exception as exc:  # noqa: BLE001 — one file's failure never stops the others, nor shows a traceback
            res.status, res.error_code = "failed", "IMP-INTERNAL"
            detail = str(exc) if isinstance(exc, (duckdb.Error, prof.ProfileError, OSError)) else \
                f"{type(exc).__name__}: {exc}"
            res.message = f"导入失败，已回滚，数据库未改变：{detail} / import failed and was rolled back: {detail}"
            self._log_failure(res, path, digest, size, started)
            return res
        finally:
            if src is not None:
                src.close()
            self.con.execute("drop view if exists _good")
            for t in ("_typed", "_err", "_warn", "_keys", "_skip", "_dups", "_fields", "_rawrej"):
                self.con.execute(f"drop table if exists {t}")

    def _check_columns(self, binding: prof.Binding, path: Path) -> None:
        missing = [k for k in self.table.key if k not in binding.columns
                   and not (k == "hospital_id" and self.hospital) and self.table.column(k).default is None]
        if missing:
            col = self.table.column(missing[0])
            accepted = [h.header for h in binding.profile.columns.values() if h.column == col.name]
            names = ", ".join(dict.fromkeys([*accepted, col.zh, col.name]))
            hint_zh = "，或用 --hospital 指定医疗机构代码" if col.name == "hospital_id" else ""
            hint_en = ", or pass --hospital" if col.name == "hospital_id" else ""
            raise ImportFailed(
                "IMP-MISSING-COLUMN",
                f"缺少必需列【{col.zh}】（可用表头：{names}）{hint_zh}；未导入任何行",
                f"required column {col.name} is missing (accepted headers: {names}){hint_en}; nothing imported",
                file=path.name,
            )

    def _check_hospitals(self, b: prof.Binding, path: Path) -> None:
        """The hospital of every row (the file's column, or --hospital where the file has none) must be one the
        importer may write; otherwise nothing of the file is stored. Checked on the typed rows, i.e. on exactly
        the values that would be loaded, so neither a form field nor a crafted file can bypass it."""
        if self.allowed_hospitals is None:
            return
        allowed = self.allowed_hospitals
        outside = "hospital_id is not null" + (
            f" and hospital_id not in ({', '.join(lit(h) for h in allowed)})" if allowed else "")
        n, rows, hosps = self.con.execute(
            f"select count(*), list(_row_no order by _row_no)[1:5], list_sort(list(distinct hospital_id))[1:5] "
            f"from _typed where {outside}").fetchall()[0]
        if not n:
            return
        col = self.table.column("hospital_id")
        header = b.columns["hospital_id"].header if "hospital_id" in b.columns else None
        where_zh = f"列【{col.zh}{' ' + header if header and header != col.zh else ''}】" if header else "导入时指定的医疗机构"
        where_en = f"column {header or 'hospital_id'} (hospital_id)" if header else "the hospital given for the upload"
        more = "…" if n > len(rows) else ""
        rows_txt, hosps_txt = "、".join(map(str, rows)) + more, "、".join(hosps) + ("…" if len(hosps) == 5 else "")
        mine_zh, mine_en = ("、".join(allowed), ", ".join(allowed)) if allowed else ("（无）", "none")
        raise ImportFailed(
            "IMP-HOSPITAL-SCOPE",
            f"第 {rows_txt} 行（共 {n} 行）的{where_zh}为 {hosps_txt}，不是您的账号可以导入的医疗机构（{mine_zh}）；"
            f"整个文件未导入。请删除其他医疗机构的行后重新上传，或请区域账号/系统管理员导入",
            f"rows {', '.join(map(str, rows))}{more} ({n} in all): {where_en} is {', '.join(hosps)}, not a hospital "
            f"your account may import ({mine_en}); nothing from this file was imported. Remove the other "
            f"hospitals' rows and upload again, or ask a regional account or an administrator",
            file=path.name)

    def _typed_columns(self, b: prof.Binding) -> list[tuple[Column, str, str, str | None]]:
        """(column, source header, alias in _typed, converter) for every mapped main and child column."""
        out = [(c, b.columns[c.name].header, c.name, b.columns[c.name].convert)
               for c in self.table.columns if c.name in b.columns]
        for n, child in enumerate(b.children):
            ctable = self.model.tables[child.table]
            out += [(ctable.column(cn), h, f"c{n}__{cn}", None) for cn, h in child.sources.items()]
        return out

    def _build_typed(self, b: prof.Binding, src: Source) -> int:
        """One pass over the source: typed values plus `_parse_bad` (some non-empty value failed to parse)."""
        inner, outer, bad = [], [], []
        for i, (col, header, alias, convert) in enumerate(self._typed_columns(b)):
            expr = convert_sql(col, q(header), self.model, convert)
            if col.name == "hospital_id" and alias == "hospital_id" and self.hospital:
                expr = f"coalesce({expr}, {lit(self.hospital)})"
            elif col.default is not None and alias == col.name:
                expr = f"coalesce({expr}, {lit(col.default)})"
            inner.append(f"{expr} as {q(alias)}")
            outer.append(q(alias))
            if col.base_type != "VARCHAR" or convert:
                inner.append(f"{q(header)} as _r{i}")
                bad.append(f"({q(alias)} is null and _r{i} is not null and trim(_r{i}) <> '')")
        if "hospital_id" not in b.columns and self.hospital:
            inner.append(f"{lit(self.hospital)} as hospital_id")
            outer.append("hospital_id")
        for c in self._defaulted(b):
            inner.append(f"{lit(c.default)} as {q(c.name)}")
            outer.append(q(c.name))
        parse_bad = " or ".join(bad) or "false"
        self.con.execute("drop table if exists reject_errors; drop table if exists reject_scans")
        self.con.execute(
            f"create or replace temp table _typed as select _row_no, {', '.join(outer)}, ({parse_bad}) as _parse_bad "
            f"from (select {src.first_read_sql()}, {', '.join(inner)} from {src.relation})")
        src.after_first_read()
        return self.con.execute("select count(*) from _typed").fetchall()[0][0]

    def _defaulted(self, b: prof.Binding) -> list[Column]:
        """Columns the file lacks that the catalogue gives a default (cost_basis.provider_unit = '*')."""
        return [c for c in self.table.columns if c.default is not None and c.name not in b.columns]

    def _row_errors(self, b: prof.Binding, src: Source) -> None:
        """_err(row_no, field, header, value, code, extra): keys, row checks, structural rows; parse errors are
        detailed later from the raw rows (see _quarantine_raw)."""
        arms = [f"select _row_no, {lit(k)}, null, null, 'IMP-KEY', null from _typed where {q(k)} is null"
                for k in self.table.key if k in b.columns or k == "hospital_id"]
        present = set(b.columns) | ({"hospital_id"} if self.hospital else set()) | \
            {c.name for c in self._defaulted(b)}
        for col in self.table.columns:          # closed domains: a code outside the list cannot be stored
            if col.closed and col.name in b.columns:
                dom = self.model.domains[col.domain]
                codes = ", ".join(lit(c) for c in dom.codes)
                allowed = f"{col.domain}: " + ", ".join(f"{c} {lab}" for c, lab in dom.codes.items())
                arms.append(f"select _row_no, {lit(col.name)}, {lit(b.columns[col.name].header)}, "
                            f"cast({q(col.name)} as varchar), 'IMP-CODE', {lit(allowed)} from _typed "
                            f"where {q(col.name)} is not null and {q(col.name)} not in ({codes})")
        for chk in self.model.row_checks:
            if chk.table == self.table.name and {chk.field, chk.extra or chk.field} <= present:
                arms.append(
                    f"select _row_no, {lit(chk.field)}, "
                    f"{lit(b.columns[chk.field].header if chk.field in b.columns else chk.field)}, "
                    f"cast({q(chk.field)} as varchar), {lit(chk.code)}, "
                    f"{f'cast({q(chk.extra)} as varchar)' if chk.extra else 'null'} "
                    f"from _typed where {chk.when}")
        self.con.execute(
            "create or replace temp table _err (row_no bigint, field varchar, header varchar, value varchar,"
            " code varchar, extra varchar)")
        if arms:
            self.con.execute("insert into _err " + " union all ".join(arms))
        if src.structural_rejects:
            self.con.register("_structural", pa.Table.from_pylist([
                {"row_no": r["row_no"], "field": None, "header": None, "value": r["raw"], "code": r["code"],
                 "extra": r["extra"]} for r in src.structural_rejects]))
            self.con.execute("insert into _err select * from _structural")
            self.con.unregister("_structural")

    def _duplicates(self, b: prof.Binding) -> None:
        """Duplicate keys among otherwise valid rows: identical rows load once; conflicting rows are rejected."""
        key = ", ".join(q(k) for k in self.table.key)
        content = ", ".join(f"cast({q(alias)} as varchar)" for _, _, alias, _ in self._typed_columns(b))
        self.con.execute(
            "create or replace temp table _warn (row_no bigint, field varchar, header varchar, value varchar,"
            " code varchar, extra varchar)")
        self.con.execute("create or replace temp table _skip (row_no bigint)")
        # fast path: keys repeated anywhere in the file (usually none)
        self.con.execute(f"create or replace temp table _dups as select {key} from _typed group by all having count(*) > 1")
        if not self.con.execute("select count(*) from _dups").fetchall()[0][0]:
            return
        self.con.execute(f"""
            create or replace temp table _dups as
            select t._row_no, {', '.join('t.' + q(k) for k in self.table.key)},
                   md5(cast(list_value({content}) as varchar)) as h
            from _typed t semi join _dups d using ({key})
            where not t._parse_bad and t._row_no not in (select row_no from _err where row_no is not null)""")
        self.con.execute(f"""
            insert into _err
            select d._row_no, null, null, null, 'IMP-DUP',
                   (select string_agg(cast(o._row_no as varchar), ',' order by o._row_no) from _dups o
                     where {' and '.join(f'o.{q(k)} = d.{q(k)}' for k in self.table.key)} and o._row_no <> d._row_no)
            from _dups d
            where (select count(distinct h) from _dups o
                    where {' and '.join(f'o.{q(k)} = d.{q(k)}' for k in self.table.key)}) > 1""")
        self.con.execute(f"""
            insert into _warn
            select d._row_no, null, null, null, 'IMP-DUP-SAME', cast(f.first as varchar)
            from _dups d join (select {key}, min(_row_no) as first from _dups group by all) f using ({key})
            where d._row_no <> f.first and d._row_no not in (select row_no from _err where code = 'IMP-DUP')""")
        # identical copies are not loaded twice: skipped like rejects, reported as warnings
        self.con.execute("insert into _skip select row_no from _warn")
        self.con.execute("drop table _dups")

    def _quarantine_raw(self, b: prof.Binding, src: Source) -> None:
        """Re-read only the rejected rows as they were in the file (for quarantine) and detail parse errors."""
        self.con.execute(
            f"create or replace temp table _rawrej as select * from {src.numbered_sql()} where _row_no in "
            f"(select row_no from _err union select _row_no from _typed where _parse_bad)")
        arms = []
        for col, header, _alias, convert in self._typed_columns(b):
            if col.base_type != "VARCHAR" or convert:
                code = "IMP-INTEGER" if convert else error_code_for(col)
                arms.append(
                    f"select _row_no, {lit(col.name)}, {lit(header)}, {q(header)}, {lit(code)}, null from _rawrej "
                    f"where nullif(trim({q(header)}), '') is not null "
                    f"and {convert_sql(col, q(header), self.model, convert)} is null")
        if arms:
            self.con.execute("insert into _err " + " union all ".join(arms))

    def _warnings(self, b: prof.Binding) -> None:
        """Domain and required-field warnings on rows that will be stored (appended to _warn)."""
        arms = []
        cols = [(c, b.columns[c.name].header, q(c.name)) for c in self.table.columns if c.name in b.columns]
        for n, child in enumerate(b.children):
            ctable = self.model.tables[child.table]
            cols += [(ctable.column(cn), h, q(f"c{n}__{cn}")) for cn, h in child.sources.items()]
        for col, header, typed in cols:
            if col.domain and col.domain in self.model.domains:
                codes = ", ".join(lit(c) for c in self.model.domains[col.domain].codes)
                arms.append(f"select _row_no, {lit(col.name)}, {lit(header)}, cast({typed} as varchar), 'IMP-DOMAIN', "
                            f"{lit(col.domain)} from _good where {typed} is not null and {typed} not in ({codes})")
            if col.req == "required" and typed == q(col.name):
                arms.append(f"select _row_no, {lit(col.name)}, {lit(header)}, null, 'IMP-REQUIRED', null "
                            f"from _good where {typed} is null")
        clean = self.con.execute("select (select count(*) from _err) + (select count(*) from _skip)").fetchall()[0][0] == 0
        self.con.execute("create or replace temp view _good as select * exclude (_parse_bad) from _typed" + (
            "" if clean else " where not _parse_bad and _row_no not in (select row_no from _err where row_no is not null) "
                             "and _row_no not in (select row_no from _skip)"))
        if arms:
            self.con.execute("insert into _warn " + " union all ".join(arms))

    def _issue_sql(self, source: str, import_id: int, reasons: dict[str, tuple[str, str]], *, raw: bool) -> str:
        """SELECT producing import_reject / import_warning rows with bilingual, located messages (all in SQL)."""
        def fmt(template: str) -> str:
            return lit(template.replace("{field}", "{0}").replace("{value}", "{1}").replace("{extra}", "{2}"))

        zh = " ".join(f"when {lit(c)} then format({fmt(t[0])}, label_zh, val, ext)" for c, t in reasons.items())
        en = " ".join(f"when {lit(c)} then format({fmt(t[1])}, label_en, val, ext)" for c, t in reasons.items())
        key = " || '|' || ".join(f"coalesce(cast(t.{q(k)} as varchar), '')" for k in self.table.key)
        return f"""
            select {import_id} as import_id, {lit(self.kind)} as kind, row_no,
                   case when t._row_no is not null then {key} end as record_key, field, value, code,
                   '第' || row_no || '行 ' || case code {zh} end as reason_zh,
                   'row ' || row_no || ': ' || case code {en} end as reason_en
                   {", case when s._row_no is not null then to_json(s) else to_json(e.value) end as raw_record"
                    if raw else ''}
            from (select e.*, coalesce(e.value, '') as val, coalesce(e.extra, '') as ext,
                         coalesce(f.zh || case when e.header is not null and e.header <> e.field
                                               then ' ' || e.header else '' end, e.field, '') as label_zh,
                         coalesce(e.field, e.header, '') as label_en
                  from {source} e left join _fields f on f.field = e.field) e
            left join _typed t on t._row_no = e.row_no
            {'left join _rawrej s on s._row_no = e.row_no' if raw else ''}"""

    # ---- atomic load ----------------------------------------------------------------------------------------
    def _load(self, b: prof.Binding, res: FileResult, digest: str, size: int, started: dt.datetime,
              path: Path) -> None:
        con, key = self.con, [q(k) for k in self.table.key]
        loaded_cols = [c.name for c in self.table.columns if c.name in b.columns or
                       (c.name == "hospital_id" and self.hospital) or c.default is not None]
        con.execute(f"create or replace temp table _keys as select distinct {', '.join(key)} from _good")
        fields = [(c.name, c.zh) for t in (self.table, *self.children) for c in t.columns]
        con.register("_fields_arrow", pa.table({"field": [f for f, _ in fields], "zh": [z for _, z in fields]}))
        con.execute("create or replace temp table _fields as select distinct on (field) * from _fields_arrow")
        con.unregister("_fields_arrow")
        join = " and ".join(f"t.{k} = k.{k}" for k in key)
        with transaction(con):
            res.updated = con.execute(f"select count(*) from {self.table.name} t semi join _keys k on {join}").fetchall()[0][0]
            con.execute(f"delete from {self.table.name} t using _keys k where {join}")
            for child in self.children:
                con.execute(f"delete from {child.name} t using _keys k where {join}")
            cols = ", ".join(q(c) for c in loaded_cols)
            con.execute(f"insert into {self.table.name} ({cols}) select {cols} from _good")
            res.inserted = con.execute("select count(*) from _keys").fetchall()[0][0] - res.updated
            for n, child in enumerate(b.children):
                ctable = self.model.tables[child.table]
                parent_key = [k for k in ctable.key if k in self.table.key]
                names = parent_key + list(child.fixed) + list(child.sources)
                vals = [q(k) for k in parent_key] + [lit(v) for v in child.fixed.values()] + \
                       [q(f"c{n}__{c}") for c in child.sources]
                nonempty = " or ".join(f"{q(f'c{n}__{c}')} is not null" for c in child.sources)
                con.execute(f"insert into {ctable.name} ({', '.join(q(x) for x in names)}) "
                            f"select {', '.join(vals)} from _good where {nonempty}")
            if self.kind != "hospital" and "hospital_id" in loaded_cols:
                name_expr = "max(hospital_name)" if "hospital_name" in loaded_cols and self.kind == "discharge" else "null"
                con.execute(f"insert into hospital (hospital_id, hospital_name) select hospital_id, {name_expr} "
                            f"from _good where hospital_id not in (select hospital_id from hospital) group by hospital_id")
            import_id = con.execute("select nextval('import_id_seq')").fetchall()[0][0]
            res.import_id = import_id
            cols_issue = "import_id, kind, row_no, record_key, field, value, code, reason_zh, reason_en"
            con.execute(f"insert into import_reject ({cols_issue}, raw_record) "
                        f"{self._issue_sql('_err', import_id, ROW_REASONS, raw=True)}")
            con.execute(f"insert into import_warning ({cols_issue}) "
                        f"{self._issue_sql('_warn', import_id, WARN_REASONS, raw=False)}")
            res.rejected = con.execute("select count(distinct row_no) from _err").fetchall()[0][0]
            res.warnings, res.unchanged_duplicates = con.execute(
                "select count(*), count(*) filter (where code = 'IMP-DUP-SAME') from _warn").fetchall()[0]
            files = self.issue_files
            reject_file = str(files.path(import_id, "import_reject")) if files and res.rejected else None
            con.execute(
                "insert into import_log (import_id, kind, file_name, file_sha256, file_bytes, encoding, profile, "
                "started_at, finished_at, status, rows_read, inserted, updated, unchanged_duplicates, rejected, "
                "warnings, reject_file, message, hospitals, imported_by) values (?, ?, ?, ?, ?, ?, ?, ?, "
                "current_localtimestamp(), 'ok', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [import_id, self.kind, path.name, digest, size, res.encoding, res.profile, started, res.rows_read,
                 res.inserted, res.updated, res.unchanged_duplicates, res.rejected, res.warnings, reject_file,
                 "; ".join(res.notes) or None, self._hospitals_of_rows(), self.user])
            if files is not None:                   # written before the commit: a failure rolls the file back
                if res.rejected:
                    files.append(con, "import_reject", import_id)
                if res.warnings:
                    files.append(con, "import_warning", import_id)

    def _hospitals_of_rows(self) -> list[str] | None:
        """The hospitals (组织机构代码) of the file's typed rows, for import_log.hospitals; None when unknown (the
        kind has no hospital, or the file failed before its rows were read)."""
        if "hospital_id" not in self.table.column_names:
            return None
        try:
            if not any(r[0] == "hospital_id" for r in self.con.execute("describe _typed").fetchall()):
                return [self.hospital] if self.hospital else None
            return self.con.execute("select list(distinct hospital_id order by hospital_id) from _typed "
                                    "where hospital_id is not null").fetchall()[0][0] or []
        except duckdb.Error:                # no rows read yet (the failure happened before typing)
            return None

    def _log_failure(self, res: FileResult, path: Path, digest, size, started) -> None:
        # the file's transaction was rolled back: nothing of it is stored, whatever was counted before the failure
        res.inserted = res.updated = res.unchanged_duplicates = res.rejected = res.warnings = 0
        try:
            self.con.execute("rollback")
        except duckdb.Error:
            pass
        try:
            res.import_id = self.con.execute("select nextval('import_id_seq')").fetchall()[0][0]
            self.con.execute(
                "insert into import_log (import_id, kind, file_name, file_sha256, file_bytes, encoding, profile,"
                " started_at, finished_at, status, rows_read, message, hospitals, imported_by) values (?, ?, ?, ?,"
                " ?, ?, ?, ?, current_localtimestamp(), 'failed', ?, ?, ?, ?)",
                [res.import_id, self.kind, path.name, digest or "", size, res.encoding, res.profile, started,
                 res.rows_read, f"{res.error_code} {res.message}", self._hospitals_of_rows(), self.user])
        except duckdb.Error:
            pass


def _check_input(path: Path) -> None:
    """A missing input is the user's mistake (IMP-NOFILE), not an internal error."""
    if path.is_file():
        return
    if path.is_dir():
        raise ImportFailed("IMP-NOFILE", f"{path} 是一个文件夹，不是数据文件；请给出其中的文件（如 {path}/*.csv）",
                           f"{path} is a folder, not a data file; name the files in it (e.g. {path}/*.csv)",
                           file=str(path))
    raise ImportFailed("IMP-NOFILE", f"找不到文件 {path}，请检查路径和文件名（当前目录：{Path.cwd()}）",
                       f"file not found: {path}; check the path and name (current folder: {Path.cwd()})",
                       file=str(path))


class IssueFiles:
    """The reject and warning files of one import command. Each file's rows are appended inside that file's
    transaction, so a reject folder that is read-only, missing or full fails the file before anything is
    committed (IMP-REJECT-FILE) — never rows stored without their reject file."""

    def __init__(self, folder: Path, kind: str):
        self.folder, self.kind = Path(folder), kind
        self.stem: Path | None = None
        self.written: dict[str, Path] = {}

    def path(self, import_id: int, table: str) -> Path:
        if self.stem is None:
            self.stem = self.folder / f"{self.kind}-{dt.datetime.now():%Y%m%d-%H%M%S}-{import_id}"
        return Path(f"{self.stem}.{'rejects' if table == 'import_reject' else 'warnings'}.csv")

    def append(self, con: duckdb.DuckDBPyConnection, table: str, import_id: int) -> str:
        path = self.path(import_id, table)
        part = path.with_name(f"{path.name}.{import_id}.part")
        before = path.stat().st_size if path.exists() else None
        try:
            write_issue_file(con, table, [import_id], part)
            with open(part, "rb") as src, open(path, "ab") as dst:
                if before:                          # BOM + header are in the file already
                    src.readline()
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
        except (OSError, duckdb.Error) as exc:
            try:                                    # leave the file as the earlier files of the command left it
                if before is None:
                    path.unlink(missing_ok=True)
                else:
                    os.truncate(path, before)
            except OSError:
                pass
            why = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:200]
            raise ImportFailed(
                "IMP-REJECT-FILE",
                f"拒收/警告明细文件无法写入 {path}（{why}）。本文件已回滚、未导入任何行；请用 --reject-dir 指定一个可写且有"
                f"足够空间的文件夹后重新导入",
                f"cannot write the reject/warning file {path} ({why}); this file was rolled back and nothing was "
                f"imported. Give a writable folder with free space (--reject-dir) and import again") from None
        finally:
            try:
                part.unlink(missing_ok=True)
            except OSError:
                pass
        self.written[table] = path
        return str(path)


def import_files(con: duckdb.DuckDBPyConnection, kind: str, paths: list[Path], *, reject_dir: Path | None = None,
                 **options) -> ImportSummary:
    """Import files of one kind; each file is atomic on its own (its reject and warning rows are written to the
    command's reject/warning file inside its transaction). Leftover temp files of killed imports are swept first."""
    sweep_scratch()
    importer = Importer(con, kind, **options)
    importer.issue_files = issues = IssueFiles(Path(reject_dir or "."), kind)
    summary = ImportSummary(kind, [importer.import_file(Path(p)) for p in paths])
    rej, warn = issues.written.get("import_reject"), issues.written.get("import_warning")
    summary.reject_file, summary.warning_file = (str(rej) if rej else None), (str(warn) if warn else None)
    return summary


def write_issue_file(con: duckdb.DuckDBPyConnection, table: str, import_ids: list[int], path: Path) -> Path:
    """Reject/warning rows of some imports as CSV, UTF-8 with BOM so that Excel on Windows shows Chinese."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    sql = f"""select l.file_name as "文件 file", i.row_no as "行号 row", i.record_key as "记录 record_key",
                     i.field as "字段 field", i.value as "值 value", i.code as "错误码 code",
                     i.reason_zh as "原因", i.reason_en as "reason"
              from {table} i join import_log l using (import_id)
              where i.import_id in ({', '.join(map(str, import_ids)) or 'null'})
              order by i.import_id, i.row_no, i.code"""
    con.execute(f"copy ({sql_neutralised(con, sql)}) to '{tmp}' (header, delimiter ',')")
    with open(path, "wb") as dst, open(tmp, "rb") as src:
        dst.write(b"\xef\xbb\xbf")
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    tmp.unlink()
    return path
