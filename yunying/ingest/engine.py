"""Import engine: stage a file, map headers, type and validate every row in SQL, then load atomically.

Contract (issue 2): rows that cannot be stored faithfully (missing key, unparseable date/number, impossible
dates, conflicting duplicates in one file, broken CSV lines) go to quarantine (`import_reject`) and to a reject
file; all other rows of the file load in one transaction; a record with an existing key is replaced, never
duplicated. Everything else (codes outside a domain, empty required fields) is stored and noted as a warning
for record-quality control.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from yunying.ingest import profiles as prof
from yunying.ingest.errors import ROW_REASONS, WARN_REASONS, ImportFailed
from yunying.ingest.readers import Progress, Staged, sha256_of, stage_file
from yunying.model.catalogue import Column, Model, Table, load_model

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
        return {**self.totals(), "kind": self.kind, "reject_file": self.reject_file,
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
    if t == "VARCHAR":
        dom = model.domains.get(col.domain) if col.domain else None
        if dom and dom.normalise:
            cases = " ".join(f"when {lit(a)} then {lit(c)}" for a, c in dom.normalise.items())
            return f"(case {v} {cases} else {v} end)"
        return v
    if t == "INTEGER":
        return f"try_cast(regexp_replace({v}, '\\.0+$', '') as INTEGER)"
    if t == "DECIMAL":
        return f"try_cast(replace(replace({v}, ',', ''), '¥', '') as {col.type})"
    fmts = "[" + ", ".join(lit(f) for f in DATE_FORMATS) + "]"
    ts = f"coalesce(try_cast({v} as TIMESTAMP), try_strptime({v}, {fmts}))"
    return f"cast({ts} as DATE)" if t == "DATE" else ts


def error_code_for(col: Column) -> str:
    return {"DATE": "IMP-DATE", "TIMESTAMP": "IMP-DATE", "INTEGER": "IMP-INTEGER"}.get(col.base_type, "IMP-NUMBER")


class Importer:
    """Imports files of one kind into an open warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, kind: str, *, hospital: str | None = None,
                 profile: str | None = None, profiles_dir: Path | None = None,
                 profile_files: list[Path] | None = None, encoding: str | None = None,
                 progress: Progress | None = None):
        self.con, self.kind, self.hospital = con, kind, hospital
        self.model = load_model()
        if kind not in self.model.kinds:
            raise ImportFailed("IMP-KIND", f"未知的数据类型 {kind}，可选：{', '.join(self.model.kinds)}",
                               f"unknown kind {kind}; choose one of {', '.join(self.model.kinds)}")
        self.table = self.model.main_table(kind)
        self.children = [t for t in self.model.tables_of_kind(kind) if t.parent]
        self.profiles = prof.load_profiles(profiles_dir, profile_files)
        self.profile_name, self.encoding = profile, encoding
        self.progress = progress or (lambda stage, done, total: None)

    # ---- one file -------------------------------------------------------------------------------------------
    def import_file(self, path: Path) -> tuple[FileResult, list[dict], list[dict]]:
        """Returns the result plus reject and warning rows (for the reject/warning files)."""
        path = Path(path)
        res = FileResult(file=str(path), kind=self.kind)
        started = dt.datetime.now()
        digest = size = None
        try:
            digest, size = sha256_of(path), path.stat().st_size
            self.progress("read", 0, 1)
            staged = stage_file(self.con, path, "_stg", encoding=self.encoding, progress=self.progress)
            res.encoding, res.rows_read, res.notes = staged.encoding, staged.rows + len(staged.structural_rejects), staged.notes
            binding = prof.choose(self.kind, staged.headers, self.profiles, self.profile_name)
            res.profile, res.unknown_columns = binding.profile.name, binding.unknown
            self._check_columns(binding, path)
            absent = [c.zh for c in self.table.columns if c.req == "required" and c.name not in binding.columns]
            if absent:
                res.notes.append(f"文件缺少必填列（已导入，待首页质控）：{'、'.join(absent)} / "
                                 f"required columns absent from the file: {len(absent)}")
            if staged.rows == 0 and not staged.structural_rejects:
                res.notes.append("文件只有表头，没有数据行，未导入任何记录 / header only: no data rows")
            self.progress("validate", 0, staged.rows)
            self._build_typed(binding)
            errors = self._row_errors(binding, staged)
            dup_warn = self._duplicates(staged.headers)
            warnings = self._warnings(binding) + dup_warn
            self.progress("load", 0, staged.rows)
            rejects = self._describe(errors, path, reject=True)
            warns = self._describe(warnings, path, reject=False)
            self._load(binding, res, rejects, warns, digest, size, started, path)
            self.progress("load", staged.rows, staged.rows)
            return res, rejects, warns
        except ImportFailed as exc:
            res.status, res.error_code = "failed", exc.code
            res.message = f"{exc.zh} / {exc.en}"
            self._log_failure(res, path, digest, size, started)
            return res, [], []
        except (duckdb.Error, prof.ProfileError, OSError) as exc:
            res.status, res.error_code = "failed", "IMP-INTERNAL"
            res.message = f"导入失败，已回滚，数据库未改变：{exc} / import failed and was rolled back: {exc}"
            self._log_failure(res, path, digest, size, started)
            return res, [], []
        finally:
            for t in ("_stg", "_typed", "_err", "_good", "_keys", "_skip", "_dups"):
                self.con.execute(f"drop table if exists {t}")

    def _check_columns(self, binding: prof.Binding, path: Path) -> None:
        missing = [k for k in self.table.key if k not in binding.columns
                   and not (k == "hospital_id" and self.hospital)]
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

    def _build_typed(self, b: prof.Binding) -> None:
        sel = ["_row_no"]
        for col in self.table.columns:
            src = b.columns.get(col.name)
            if src is not None:
                expr = convert_sql(col, q(src.header), self.model, src.convert)
                if col.name == "hospital_id" and self.hospital:
                    expr = f"coalesce({expr}, {lit(self.hospital)})"
            elif col.name == "hospital_id" and self.hospital:
                expr = lit(self.hospital)
            else:
                continue
            sel.append(f"{expr} as {q(col.name)}")
        for n, child in enumerate(b.children):
            ctable = self.model.tables[child.table]
            for cname, header in child.sources.items():
                sel.append(f"{convert_sql(ctable.column(cname), q(header), self.model)} as {q(f'c{n}__{cname}')}")
        self.con.execute(f"create or replace temp table _typed as select {', '.join(sel)} from _stg")

    def _row_errors(self, b: prof.Binding, staged: Staged) -> str:
        """Create _err(row_no, field, header, value, code, extra) of hard rejects; returns the table name."""
        arms = []
        for k in self.table.key:
            if k in b.columns or k == "hospital_id":
                arms.append(f"select _row_no, {lit(k)} as field, null as header, null as value, 'IMP-KEY' as code, "
                            f"null as extra from _typed where {q(k)} is null")
        typed_cols = [(c, b.columns[c.name].header, q(c.name)) for c in self.table.columns
                      if c.name in b.columns and c.base_type != "VARCHAR"]
        for n, child in enumerate(b.children):
            ctable = self.model.tables[child.table]
            for cname, header in child.sources.items():
                col = ctable.column(cname)
                if col.base_type != "VARCHAR":
                    typed_cols.append((col, header, q(f"c{n}__{cname}")))
        for col, header, typed in typed_cols:
            arms.append(
                f"select s._row_no, {lit(col.name)}, {lit(header)}, s.{q(header)}, {lit(error_code_for(col))}, null "
                f"from _stg s join _typed t using (_row_no) "
                f"where nullif(trim(s.{q(header)}), '') is not null and t.{typed} is null"
            )
        present = set(b.columns) | ({"hospital_id"} if self.hospital else set())
        for chk in self.model.row_checks:
            if chk.table == self.table.name and {chk.field, chk.extra or chk.field} <= present:
                arms.append(
                    f"select _row_no, {lit(chk.field)}, {lit(b.columns[chk.field].header)}, "
                    f"cast({q(chk.field)} as varchar), {lit(chk.code)}, cast({q(chk.extra)} as varchar) "
                    f"from _typed where {chk.when}"
                )
        union = " union all ".join(arms) if arms else \
            "select null::bigint, null, null, null, null, null where false"
        self.con.execute(
            "create or replace temp table _err (row_no bigint, field varchar, header varchar, value varchar,"
            " code varchar, extra varchar)"
        )
        self.con.execute(f"insert into _err {union}")
        if staged.structural_rejects:
            self.con.register("_structural", pa.Table.from_pylist([
                {"row_no": r["row_no"], "field": None, "header": None, "value": r["raw"], "code": r["code"],
                 "extra": r["extra"]} for r in staged.structural_rejects]))
            self.con.execute("insert into _err select * from _structural")
            self.con.unregister("_structural")
        return "_err"

    def _duplicates(self, headers: list[str]) -> list[tuple]:
        """Duplicate keys among otherwise valid rows: identical rows load once; conflicting rows are rejected."""
        key = ", ".join(q(k) for k in self.table.key)
        self.con.execute(f"""
            create or replace temp table _dups as
            with ok as (select * from _typed where _row_no not in (select row_no from _err where row_no is not null)),
                 dk as (select {key} from ok group by all having count(*) > 1)
            select ok._row_no, {', '.join('ok.' + q(k) for k in self.table.key)},
                   md5(cast(list_value({', '.join('s.' + q(h) for h in headers)}) as varchar)) as h
            from ok semi join dk using ({key}) join _stg s using (_row_no)""")
        # rows whose key group has more than one distinct content -> reject all; else keep the first
        self.con.execute(f"""
            insert into _err
            select d._row_no, null, null, null, 'IMP-DUP',
                   (select string_agg(cast(o._row_no as varchar), ',' order by o._row_no) from _dups o
                     where {' and '.join(f'o.{q(k)} = d.{q(k)}' for k in self.table.key)} and o._row_no <> d._row_no)
            from _dups d
            where (select count(distinct h) from _dups o
                    where {' and '.join(f'o.{q(k)} = d.{q(k)}' for k in self.table.key)}) > 1""")
        same = self.con.execute(f"""
            select d._row_no, (select min(o._row_no) from _dups o
                               where {' and '.join(f'o.{q(k)} = d.{q(k)}' for k in self.table.key)})
            from _dups d where d._row_no not in (select row_no from _err where code = 'IMP-DUP')""").fetchall()
        self.con.execute("drop table _dups")
        out = []
        for row_no, first in same:
            if row_no != first:
                out.append((row_no, None, None, None, "IMP-DUP-SAME", str(first)))
        if out:  # identical copies are not loaded twice: exclude them like rejects, reported as warnings
            self.con.register("_same", pa.table({"row_no": [r[0] for r in out]}))
            self.con.execute("create or replace temp table _skip as select row_no from _same")
            self.con.unregister("_same")
        else:
            self.con.execute("create or replace temp table _skip (row_no bigint)")
        return out

    def _warnings(self, b: prof.Binding) -> list[tuple]:
        """Domain and required-field warnings on rows that will be stored."""
        arms = []
        good = "_row_no not in (select row_no from _err where row_no is not null) and _row_no not in (select row_no from _skip)"
        cols = [(c, b.columns[c.name].header, q(c.name)) for c in self.table.columns if c.name in b.columns]
        for n, child in enumerate(b.children):
            ctable = self.model.tables[child.table]
            cols += [(ctable.column(cn), h, q(f"c{n}__{cn}")) for cn, h in child.sources.items()]
        for col, header, typed in cols:
            if col.domain and col.domain in self.model.domains:
                codes = ", ".join(lit(c) for c in self.model.domains[col.domain].codes)
                arms.append(f"select _row_no, {lit(col.name)}, {lit(header)}, cast({typed} as varchar), 'IMP-DOMAIN', "
                            f"{lit(col.domain)} from _typed where {good} and {typed} is not null and {typed} not in ({codes})")
            if col.req == "required" and typed == q(col.name):
                arms.append(f"select _row_no, {lit(col.name)}, {lit(header)}, null, 'IMP-REQUIRED', null "
                            f"from _typed where {good} and {typed} is null")
        if not arms:
            return []
        return self.con.execute(" union all ".join(arms) + " order by 1").fetchall()

    def _describe(self, rows, path: Path, *, reject: bool) -> list[dict]:
        """Bilingual, located messages. rows: table name (_err) or list of tuples."""
        if isinstance(rows, str):
            key = " || '|' || ".join(f"coalesce(cast(t.{q(k)} as varchar), '')" for k in self.table.key)
            rows = self.con.execute(
                f"select e.row_no, e.field, e.header, e.value, e.code, e.extra, {key}, to_json(s) "
                f"from _err e left join _typed t on t._row_no = e.row_no left join _stg s on s._row_no = e.row_no "
                f"order by e.row_no, e.code").fetchall()
        else:
            rows = [(*r, None, None) for r in rows]
        reasons = ROW_REASONS if reject else WARN_REASONS
        out = []
        for row_no, fld, header, value, code, extra, rkey, raw in rows:
            col = self._column(fld)
            label = f"{col.zh} {header}" if col and header and header != col.name else (col.zh if col else (fld or ""))
            zh, en = reasons[code]
            fmt = {"field": label, "value": "" if value is None else value, "extra": extra or ""}
            out.append({"file": path.name, "row_no": row_no, "record_key": rkey, "field": fld or "",
                        "value": value, "code": code, "reason_zh": f"第{row_no}行 " + zh.format(**fmt),
                        "reason_en": f"row {row_no}: " + en.format(**{**fmt, "field": fld or header or ""}),
                        "raw_record": raw})
        return out

    def _column(self, name: str | None) -> Column | None:
        if not name:
            return None
        for t in (self.table, *self.children):
            if name in t.column_names:
                return t.column(name)
        return None

    # ---- atomic load ----------------------------------------------------------------------------------------
    def _load(self, b: prof.Binding, res: FileResult, rejects: list[dict], warns: list[dict], digest: str,
              size: int, started: dt.datetime, path: Path) -> None:
        con, key = self.con, [q(k) for k in self.table.key]
        loaded_cols = [c.name for c in self.table.columns if c.name in b.columns or
                       (c.name == "hospital_id" and self.hospital)]
        con.execute("create or replace temp table _good as select * from _typed where _row_no not in "
                    "(select row_no from _err where row_no is not null) and _row_no not in (select row_no from _skip)")
        con.execute(f"create or replace temp table _keys as select distinct {', '.join(key)} from _good")
        join = " and ".join(f"t.{k} = k.{k}" for k in key)
        con.execute("begin transaction")
        try:
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
            res.rejected = len({r["row_no"] for r in rejects})
            res.warnings = len(warns)
            res.unchanged_duplicates = sum(1 for w in warns if w["code"] == "IMP-DUP-SAME")
            self._insert_issues("import_reject", import_id, rejects, raw=True)
            self._insert_issues("import_warning", import_id, warns, raw=False)
            con.execute(
                "insert into import_log values (?, ?, ?, ?, ?, ?, ?, ?, current_localtimestamp(), 'ok', ?, ?, ?, ?, ?, ?, null, ?)",
                [import_id, self.kind, path.name, digest, size, res.encoding, res.profile, started, res.rows_read,
                 res.inserted, res.updated, res.unchanged_duplicates, res.rejected, res.warnings,
                 "; ".join(res.notes) or None])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise

    def _insert_issues(self, table: str, import_id: int, rows: list[dict], *, raw: bool) -> None:
        if not rows:
            return
        data = {
            "import_id": [import_id] * len(rows), "kind": [self.kind] * len(rows),
            "row_no": [r["row_no"] for r in rows], "record_key": [r["record_key"] for r in rows],
            "field": [r["field"] for r in rows], "value": [None if r["value"] is None else str(r["value"]) for r in rows],
            "code": [r["code"] for r in rows], "reason_zh": [r["reason_zh"] for r in rows],
            "reason_en": [r["reason_en"] for r in rows],
        }
        if raw:
            data["raw_record"] = [r["raw_record"] for r in rows]
        self.con.register("_issues", pa.table(data))
        cast = ", cast(raw_record as json)" if raw else ""
        cols = "import_id, kind, row_no, record_key, field, value, code, reason_zh, reason_en"
        self.con.execute(f"insert into {table} ({cols}{', raw_record' if raw else ''}) select {cols}{cast} from _issues")
        self.con.unregister("_issues")

    def _log_failure(self, res: FileResult, path: Path, digest, size, started) -> None:
        try:
            self.con.execute("rollback")
        except duckdb.Error:
            pass
        try:
            res.import_id = self.con.execute("select nextval('import_id_seq')").fetchall()[0][0]
            self.con.execute(
                "insert into import_log (import_id, kind, file_name, file_sha256, file_bytes, encoding, profile,"
                " started_at, finished_at, status, rows_read, message) values (?, ?, ?, ?, ?, ?, ?, ?,"
                " current_localtimestamp(), 'failed', ?, ?)",
                [res.import_id, self.kind, path.name, digest or "", size, res.encoding, res.profile, started,
                 res.rows_read, f"{res.error_code} {res.message}"])
        except duckdb.Error:
            pass


def import_files(con: duckdb.DuckDBPyConnection, kind: str, paths: list[Path], *, reject_dir: Path | None = None,
                 **options) -> ImportSummary:
    """Import files of one kind; each file is atomic on its own. Writes one reject file and one warning file."""
    importer = Importer(con, kind, **options)
    summary = ImportSummary(kind, [])
    all_rejects, all_warns = [], []
    for p in paths:
        res, rejects, warns = importer.import_file(Path(p))
        summary.files.append(res)
        all_rejects += rejects
        all_warns += warns
    first_id = next((f.import_id for f in summary.files if f.import_id), 0)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{first_id}"
    out_dir = Path(reject_dir or ".")
    if all_rejects:
        summary.reject_file = str(_write_issue_file(out_dir / f"{kind}-{stamp}.rejects.csv", all_rejects))
        ids = [f.import_id for f in summary.files if f.rejected]
        con.execute(f"update import_log set reject_file = ? where import_id in ({', '.join(map(str, ids))})",
                    [summary.reject_file]) if ids else None
    if all_warns:
        summary.warning_file = str(_write_issue_file(out_dir / f"{kind}-{stamp}.warnings.csv", all_warns))
    return summary


def _write_issue_file(path: Path, rows: list[dict]) -> Path:
    """UTF-8 with BOM so that Excel on Windows shows the Chinese text correctly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["文件 file", "行号 row", "记录 record_key", "字段 field", "值 value", "错误码 code",
                    "原因", "reason"])
        for r in rows:
            w.writerow([r["file"], r["row_no"], r["record_key"], r["field"], r["value"], r["code"],
                        r["reason_zh"], r["reason_en"]])
    return path
