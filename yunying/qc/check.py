"""Pre-submission checks (上报前质控): a file or a single record is imported into an in-memory warehouse — nothing is
stored — and checked with the same catalogue and engine as `yunying qc run`."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from yunying.model.safe_cells import sql_neutralised
from yunying.ingest.engine import import_files
from yunying.ingest.scratch import scratch_prefix
from yunying.model.catalogue import load_model
from yunying.qc import dictionary as qdict
from yunying.qc.engine import RunSummary, lit, run_qc
from yunying.qc.loader import DERIVED, Catalogue, load_catalogue
from yunying.warehouse.db import connect

FINDING_HEADER = ["BAH", "ZYCS", "rule_id", "severity", "field", "value", "message", "message_en", "field_name",
                  "field_zh", "seq", "expected", "points", "hint_zh", "ZZJGDM"]
SUMMARY_HEADER = ["BAH", "ZYCS", "score", "grade", "passed", "n_error", "n_warning", "n_info", "ZZJGDM"]
IMPORT_SPEC = {"IMP-DATE": "V006", "IMP-INTEGER": "V007", "IMP-NUMBER": "V013", "IMP-KEY": "C001"}
DX_CODES = {"dx_code": ("JBDM", "JBDM{i}"), "dx_name": ("ZYZD", "QTZD{i}"), "poa": ("RYBQ", "RYBQ{i}")}
PX_CODES = {"px_code": "SSJCZBM{i}", "px_name": "SSJCZMC{i}", "px_time": "SSJCZRQ{i}", "level": "SSJB{i}",
            "surgeon": "SZ{i}", "assistant1": "YZ{i}", "assistant2": "EZ{i}", "incision_class": "QKDJ{i}",
            "healing": "QKYHLB{i}", "anaesthesia": "MZFS{i}", "anaesthetist": "MZYS{i}"}
DX_KEYS = {"code": "dx_code", "dx_code": "dx_code", "name": "dx_name", "dx_name": "dx_name", "poa": "poa",
           "rybq": "poa"}
PX_KEYS = {"code": "px_code", "px_code": "px_code", "name": "px_name", "px_name": "px_name", "time": "px_time",
           "date": "px_time", "px_time": "px_time", **{k: k for k in PX_CODES}}


class CheckError(ValueError):
    """The input cannot be checked at all (file unreadable, no key columns …); message in Chinese / English."""


@dataclass
class Finding:
    rule_id: str
    severity: str
    field: str | None               # national field code (JBDM3, SJZYTS …) where known
    field_name: str | None          # canonical column
    field_zh: str | None
    seq: int | None
    value: str | None
    expected: str | None
    message: str
    message_en: str | None
    hint_zh: str | None = None
    points: float = 0.0
    BAH: str | None = None
    ZYCS: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class CheckResult:
    records: int
    findings: int
    rejected: int
    output: str
    summary: str | None
    by_grade: dict[str, int] = field(default_factory=dict)
    avg_score: float | None = None
    run: RunSummary | None = None


def national_code(name: str) -> str | None:
    if name in DERIVED:
        return DERIVED[name][2]
    for c in load_model().tables["discharge"].columns:
        if c.name == name:
            return c.code.split("/")[0].strip() if c.code else None
    return None


def field_code_sql(field_col: str = "f.field", seq_col: str = "f.seq") -> str:
    """SQL CASE turning (canonical field, seq) into the national upload field code."""
    model = load_model()
    arms = []
    for c in model.tables["discharge"].columns:
        if c.code:
            arms.append(f"when {lit(c.name)} then {lit(c.code.split('/')[0].strip())}")
    for k, v in DERIVED.items():
        if v[2]:
            arms.append(f"when {lit(k)} then {lit(v[2])}")
    for k, (first, other) in DX_CODES.items():
        arms.append(f"when {lit(k)} then case when {seq_col} = 0 then {lit(first)} "
                    f"else replace({lit(other)}, '{{i}}', cast({seq_col} as varchar)) end")
    for k, tmpl in PX_CODES.items():
        if k in DX_CODES:
            continue
        arms.append(f"when {lit(k)} then replace({lit(tmpl)}, '{{i}}', cast({seq_col} as varchar))")
    return f"(case {field_col} " + " ".join(arms) + f" else {field_col} end)"


def _field_zh_sql(field_col: str = "f.field") -> str:
    from yunying.qc.loader import column_zh, source_columns
    names = sorted(source_columns("dx") | source_columns("px"))
    return f"(case {field_col} " + " ".join(f"when {lit(n)} then {lit(column_zh(n))}" for n in names) + " end)"


def load_dictionaries(con: duckdb.DuckDBPyConnection, dictionaries: dict | str | None) -> dict[str, int]:
    """dictionaries: None, 'demo', {'dx': path, 'px': path, 'tcm': path, 'scheme': pack_dir, 'db': warehouse,
    'table': Arrow table of qc_dictionary rows (e.g. read from an open warehouse)}."""
    if not dictionaries:
        return {}
    if dictionaries == "demo":
        return qdict.import_demo_dictionaries(con)
    out = {}
    d = dict(dictionaries)
    if d.get("table") is not None:
        cols = ", ".join(d["table"].column_names)
        con.register("_qc_dict_rows", d["table"])
        try:
            con.execute(f"insert or replace into qc_dictionary ({cols}) select {cols} from _qc_dict_rows")
        finally:
            con.unregister("_qc_dict_rows")
        out.update(qdict.dictionary_counts(con))
    if d.get("demo"):
        out.update(qdict.import_demo_dictionaries(con))
    if d.get("db"):
        con.execute(f"attach {lit(str(d['db']))} as _qc_src (read_only)")
        try:
            con.execute("insert or replace into qc_dictionary select * from _qc_src.qc_dictionary")
        finally:
            con.execute("detach _qc_src")
        out.update(qdict.dictionary_counts(con))
    if d.get("scheme"):
        for k in ("dx", "px"):
            out[k] = qdict.import_dictionary(con, k, Path(d["scheme"]))
    for k in ("dx", "px", "tcm"):
        if d.get(k):
            out[k] = qdict.import_dictionary(con, k, Path(d[k]))
    return out


def _hints(cat: Catalogue) -> str:
    rows = {}
    for r in cat.rules:
        if r.hint_zh:
            rows.setdefault(r.id, r.hint_zh)
    if not rows:
        return "cast(null as varchar)"
    return "(case f.rule_id " + " ".join(f"when {lit(k)} then {lit(v)}" for k, v in rows.items()) + " end)"


def findings_sql(cat: Catalogue, run_id: str | None = None, with_rejects: bool = True) -> str:
    """SELECT of finding rows in the pre-submission layout (BAH, ZYCS, rule_id, severity, field, value, message …)."""
    run = f"where f.run_id = {lit(run_id)}" if run_id else ""
    q = f"""
      select f.mrn as BAH, f.admission_no as ZYCS, f.rule_id, f.severity, {field_code_sql()} as field, f.value,
             f.message_zh as message, f.message_en, f.field as field_name, {_field_zh_sql()} as field_zh, f.seq,
             f.expected, cast(f.points as double) as points, {_hints(cat)} as hint_zh, f.hospital_id as ZZJGDM,
             0 as _row_no
      from qc_finding f {run}"""
    if with_rejects:
        spec = "case i.code " + " ".join(f"when {lit(k)} then {lit(v)}" for k, v in IMPORT_SPEC.items()) + " end"
        q += f"""
      union all
      select split_part(i.record_key, '|', 2) as BAH, try_cast(split_part(i.record_key, '|', 3) as integer) as ZYCS,
             i.code as rule_id, 'E' as severity, {field_code_sql('i.field', 'null')} as field, i.value,
             i.reason_zh as message, i.reason_en as message_en, i.field as field_name,
             {_field_zh_sql('i.field')} as field_zh, cast(null as integer) as seq, {spec} as expected,
             cast(null as double) as points, '导入时拒收，整行未检查其他规则 / rejected at import' as hint_zh,
             split_part(i.record_key, '|', 1) as ZZJGDM, i.row_no as _row_no
      from import_reject i"""
    return q


def _copy_csv(con, sql: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    con.execute(f"copy ({sql_neutralised(con, sql)}) to {lit(str(tmp))} (header, delimiter ',')")
    with open(path, "wb") as dst, open(tmp, "rb") as src:
        dst.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(src, dst, 1 << 20)
    tmp.unlink()


def check_file(path: str | Path, output: str | Path, summary: str | Path | None = None, *,
               catalogue: Catalogue | None = None, overrides: str | Path | None = None,
               dictionaries: dict | str | None = None, profile: str | None = None, encoding: str | None = None,
               hospital: str | None = None, progress=None) -> CheckResult:
    """Check an import-format file of 首页 without storing it; write findings (and a per-record summary) as CSV."""
    path = Path(path)
    if not path.is_file():
        raise CheckError(f"输入文件不存在：{path}", f"input file not found: {path}")
    cat = catalogue or load_catalogue(overrides)
    con = connect(":memory:")
    try:
        load_dictionaries(con, dictionaries)
        with tempfile.TemporaryDirectory(prefix=scratch_prefix() + "qc-") as tmp:
            opts = {k: v for k, v in (("profile", profile), ("encoding", encoding), ("hospital", hospital),
                                      ("progress", progress)) if v}
            res = import_files(con, "discharge", [path], reject_dir=Path(tmp), **opts)
        f = res.files[0]
        if f.status != "ok":
            raise CheckError(f"文件无法检查：{f.error_code} {f.message}", f"file cannot be checked: {f.error_code}")
        run = run_qc(con, cat, progress=progress, parameters={"input": str(path)})
        order = "order by _row_no, BAH, ZYCS, rule_id, field"
        cols = ", ".join(FINDING_HEADER)
        _copy_csv(con, f"select {cols} from ({findings_sql(cat, run.run_id)}) {order}", Path(output))
        if summary:
            _copy_csv(con, "select mrn as BAH, admission_no as ZYCS, cast(score as double) as score, grade, passed, "
                           "n_error, n_warning, n_info, hospital_id as ZZJGDM from qc_record "
                           f"where run_id = {lit(run.run_id)} order by mrn, admission_no", Path(summary))
        n_find = con.execute(f"select count(*) from ({findings_sql(cat, run.run_id)})").fetchall()[0][0]
        return CheckResult(records=run.n_records, findings=n_find, rejected=f.rejected, output=str(output),
                           summary=str(summary) if summary else None, by_grade=run.by_grade,
                           avg_score=run.avg_score, run=run)
    finally:
        con.close()


# ---- single record ---------------------------------------------------------------------------------------------
def _flatten(record: dict) -> dict[str, str]:
    """A record keyed by national codes or canonical names (diagnoses/procedures as lists) -> national columns."""
    model = load_model()
    canon = {c.name: c.code.split("/")[0].strip() for c in model.tables["discharge"].columns if c.code}
    row: dict[str, str] = {}
    for k, v in record.items():
        if k in ("diagnoses", "procedures") or v is None:
            continue
        row[canon.get(k, k)] = "" if v is None else str(v)
    for i, d in enumerate(record.get("diagnoses") or []):
        for key, val in d.items():
            col = DX_KEYS.get(key.lower())
            if col and val is not None:
                first, other = DX_CODES[col]
                row[first if i == 0 else other.format(i=i)] = str(val)
    for i, p in enumerate(record.get("procedures") or [], start=1):
        for key, val in p.items():
            col = PX_KEYS.get(key.lower())
            if col and val is not None:
                row[PX_CODES[col].format(i=i)] = str(val)
    return row


@dataclass
class RecordCheck:
    """The result of one record of a pre-submission check: its score and grade as `qc run` would give them (None
    when the importer rejected the record) and its findings (import rejects included)."""
    BAH: str | None
    ZYCS: int | None
    score: float | None
    grade: str | None
    passed: bool | None
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"BAH": self.BAH, "ZYCS": self.ZYCS, "score": self.score, "grade": self.grade, "passed": self.passed,
                "n_error": sum(f.severity == "E" for f in self.findings),
                "n_warning": sum(f.severity == "W" for f in self.findings),
                "findings": [f.as_dict() for f in self.findings]}


MAX_RECORDS = 1000          # per call of check_records (a day's discharges of a large hospital); more: check_file

_LOCK = threading.Lock()
_CACHE: dict = {}


def _check_connection(dictionaries, dictionary_key):
    """The in-memory warehouse of the record checks, kept per process and per dictionary set. With
    `dictionary_key` (e.g. the web app's warehouse version, dictionaries {'table': …}) a newer key replaces the
    older connection."""
    if dictionary_key is not None:
        key = ("con", "key", dictionary_key)
        for old in [k for k in _CACHE if k[:2] == ("con", "key") and k != key]:
            _CACHE.pop(old).close()
    else:
        key = ("con", repr(sorted(dictionaries.items())) if isinstance(dictionaries, dict) else dictionaries)
    con = _CACHE.get(key)
    if con is None:
        con = connect(":memory:", threads=1)     # few records: no parallel scheduling overhead
        # few rows per table: planning dominates, and DuckDB's optimizer passes over the large rule SQL cost more
        # than they save (a check ≈ 10-20 % faster); results do not depend on them (test: same findings as the
        # file check)
        con.execute("pragma disable_optimizer")
        load_dictionaries(con, dictionaries)
        _CACHE[key] = con
    return con


def check_records(records: list[dict], *, catalogue: Catalogue | None = None, overrides: str | Path | None = None,
                  dictionaries: dict | str | None = None, dictionary_key=None) -> list[RecordCheck]:
    """Check 首页 (JSON-like dicts, see _flatten) before submission, nothing stored: one RecordCheck per record, in
    the order given. The records are imported together (the importer's typing and validation: a rejected record
    gets its IMP-… finding and no score) and checked together, so rules comparing records with each other (same
    patient's stays) see the batch."""
    if not records:
        return []
    if len(records) > MAX_RECORDS:
        raise CheckError(f"一次最多检查 {MAX_RECORDS} 份病案，请分批提交或使用文件检查（yunying qc check）",
                         f"at most {MAX_RECORDS} records per call; split the batch or check a file")
    rows = []
    for rec in records:
        if not isinstance(rec, dict):
            raise CheckError("每份病案应为一个 JSON 对象", "each record must be a JSON object")
        row = _flatten(rec)
        if "ZZJGDM" not in row and "USERNAME" not in row:
            row["ZZJGDM"] = "LOCAL"
        rows.append(row)
    cat = catalogue or _CACHE.get(("cat", str(overrides)))
    if cat is None:
        cat = _CACHE[("cat", str(overrides))] = load_catalogue(overrides)
    header = list(dict.fromkeys(k for row in rows for k in row))
    with _LOCK:
        con = _check_connection(dictionaries, dictionary_key)
        for t in ("discharge", "discharge_diagnosis", "discharge_procedure", "import_reject", "import_warning",
                  "qc_finding", "qc_record", "qc_rule_status"):
            con.execute(f"delete from {t}")
        with tempfile.TemporaryDirectory(prefix=scratch_prefix() + "qc-") as tmp:
            p = Path(tmp) / "records.csv"
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=header)
            w.writeheader()
            w.writerows(rows)
            p.write_text(buf.getvalue(), encoding="utf-8")
            res = import_files(con, "discharge", [p], reject_dir=Path(tmp), profile="national")
            if res.files[0].status != "ok":
                raise CheckError(f"记录无法检查：{res.files[0].error_code} {res.files[0].message}",
                                 f"records cannot be checked: {res.files[0].error_code}")
        run = run_qc(con, cat)
        found = con.execute(f"select BAH, ZYCS, rule_id, severity, field, field_name, field_zh, seq, value, expected, "
                            f"message, message_en, hint_zh, points, ZZJGDM, _row_no "
                            f"from ({findings_sql(cat, run.run_id)}) order by severity, rule_id, field, seq").fetchall()
        scores = {(r[0], r[1], r[2]): r[3:] for r in con.execute(
            f"select hospital_id, mrn, admission_no, cast(score as double), grade, passed from qc_record "
            f"where run_id = {lit(run.run_id)}").fetchall()}
    # records by key (hospital, BAH, ZYCS). A key given twice with different content: the importer rejects both
    # (IMP-DUP); with the same content it stores one and both get its result
    def rec_key(row):
        zycs = row.get("ZYCS")
        try:
            zycs = int(zycs) if zycs not in (None, "") else None
        except ValueError:
            zycs = None
        return row.get("ZZJGDM") or row.get("USERNAME"), row.get("BAH"), zycs
    out = []
    for row in rows:
        h, bah, zycs = rec_key(row)
        sc = scores.get((h, bah, zycs))
        out.append(RecordCheck(BAH=bah, ZYCS=zycs, score=sc[0] if sc else None, grade=sc[1] if sc else None,
                               passed=sc[2] if sc else None))
    index: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        index.setdefault(rec_key(row), []).append(i)
    for r in found:
        # import rejects carry the file line (2 = first record, after the header); stored records their key
        for i in ([r[15] - 2] if r[15] else index.get((r[14], r[0], r[1]), [])):
            if 0 <= i < len(out):
                out[i].findings.append(Finding(rule_id=r[2], severity=r[3], field=r[4], field_name=r[5],
                                               field_zh=r[6], seq=r[7], value=r[8], expected=r[9], message=r[10],
                                               message_en=r[11], hint_zh=r[12], points=float(r[13] or 0),
                                               BAH=r[0], ZYCS=r[1]))
    return out


def check_record(record: dict, *, catalogue: Catalogue | None = None, overrides: str | Path | None = None,
                 dictionaries: dict | str | None = None) -> list[Finding]:
    """Check one 首页 (JSON-like dict) before submission; returns findings (import rejects included)."""
    return check_records([record], catalogue=catalogue, overrides=overrides, dictionaries=dictionaries)[0].findings
