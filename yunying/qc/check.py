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
    """The input cannot be checked at all (file unreadable, no key columns …); message in Chinese / English.
    `code`: a stable code for input problems (QC-INPUT-…), None for the others."""

    def __init__(self, zh: str, en: str | None = None, *, code: str | None = None):
        super().__init__(zh, en if en is not None else zh)
        self.code, self.zh, self.en = code, zh, en if en is not None else zh


# ---- defensive reading of JSON records (CLI check-record, POST /api/qc/check) ---------------------------------
MAX_DIGITS = 30             # a longer JSON integer is no field of a 首页 (an 18-digit 身份证号 sent as a number fits)
_TYPE_ZH = {dict: ("对象", "an object"), list: ("数组", "an array"), str: ("文本", "text"), bool: ("布尔值", "a boolean"),
            int: ("数字", "a number"), float: ("数字", "a number"), type(None): ("null", "null")}


def _type_of(v) -> tuple[str, str]:
    return _TYPE_ZH.get(type(v), (type(v).__name__, type(v).__name__))


def load_json(raw: bytes | str) -> object:
    """Parse JSON from a request body or a file without ever raising anything but CheckError: not UTF-8
    (QC-INPUT-ENCODING), malformed (QC-INPUT-JSON), nested too deeply to parse (QC-INPUT-DEPTH), integers longer than
    MAX_DIGITS digits, NaN/Infinity or overflowing numbers (QC-INPUT-NUMBER)."""
    import json
    import math

    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).removeprefix(b"\xef\xbb\xbf")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckError(f"JSON 不是 UTF-8 编码（第 {exc.start} 字节起无法解码），请以 UTF-8 发送",
                             f"the JSON is not UTF-8 (undecodable bytes at offset {exc.start}); send UTF-8",
                             code="QC-INPUT-ENCODING") from None

    def number_error(text: str) -> CheckError:
        shown = text if len(text) <= 40 else f"{text[:20]}…（共 {len(text)} 位 / {len(text)} digits）"
        return CheckError(f"JSON 中的数值 {shown} 无效或过大（整数最多 {MAX_DIGITS} 位，不接受 NaN/Infinity）；"
                          f"长编码请作为文本（加引号）发送",
                          f"invalid or too large number {shown} (integers up to {MAX_DIGITS} digits, no "
                          f"NaN/Infinity); send long codes as text (quoted)", code="QC-INPUT-NUMBER")

    def parse_int(text: str) -> int:
        if len(text.lstrip("-")) > MAX_DIGITS:
            raise number_error(text)
        return int(text)

    def parse_float(text: str) -> float:
        v = float(text)
        if not math.isfinite(v):
            raise number_error(text)
        return v

    def parse_constant(text: str):
        raise number_error(text)

    try:
        return json.loads(raw, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant)
    except CheckError:
        raise
    except RecursionError:
        raise CheckError("JSON 嵌套层数过多，无法解析；首页应为对象，诊断/手术为对象数组",
                         "the JSON is nested too deeply to parse; a record is an object, diagnoses/procedures "
                         "arrays of objects", code="QC-INPUT-DEPTH") from None
    except json.JSONDecodeError as exc:
        raise CheckError(f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）：{exc.msg}",
                         f"invalid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}",
                         code="QC-INPUT-JSON") from None
    except ValueError as exc:
        raise CheckError(f"JSON 无法解析：{exc}", f"invalid JSON: {exc}", code="QC-INPUT-JSON") from None


def _check_value(v, where_zh: str, where_en: str) -> None:
    if isinstance(v, (dict, list)):
        zh, en = _type_of(v)
        raise CheckError(f"{where_zh}应为文本或数字，收到{zh}", f"{where_en} must be text or a number, got {en}",
                         code="QC-INPUT-TYPE")
    if isinstance(v, str):
        _check_text(v, where_zh, where_en)
    elif isinstance(v, bool) or v is None:
        return
    elif isinstance(v, int) and abs(v) >= 10 ** MAX_DIGITS:
        raise CheckError(f"{where_zh}的数值过大（整数最多 {MAX_DIGITS} 位）", f"{where_en}: number too large "
                         f"(integers up to {MAX_DIGITS} digits)", code="QC-INPUT-NUMBER")
    elif isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        raise CheckError(f"{where_zh}的数值无效（NaN/Infinity）", f"{where_en}: invalid number (NaN/Infinity)",
                         code="QC-INPUT-NUMBER")
    elif not isinstance(v, (int, float)):
        zh, en = _type_of(v)
        raise CheckError(f"{where_zh}应为文本或数字，收到{zh}", f"{where_en} must be text or a number, got {en}",
                         code="QC-INPUT-TYPE")


def _check_text(text: str, where_zh: str, where_en: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:       # a lone surrogate (\ud800 …) cannot be stored or written anywhere
        bad = f"\\u{ord(text[exc.start]):04x}"
        raise CheckError(f"{where_zh}含无效的 Unicode 字符（孤立的代理项 {bad}，第 {exc.start + 1} 个字符），请检查发送方的编码",
                         f"{where_en} holds an invalid Unicode character (lone surrogate {bad} at character "
                         f"{exc.start + 1}); check the sender's encoding", code="QC-INPUT-TEXT") from None


def validate_records(records) -> None:
    """Refuse records the checker cannot take, naming record, field and what was expected (CheckError, code
    QC-INPUT-TYPE/-TEXT/-NUMBER): a record is an object of text/number values; `diagnoses` and `procedures` are
    arrays of such objects."""
    if not isinstance(records, list):
        zh, en = _type_of(records)
        raise CheckError(f"首页应为数组，收到{zh}", f"records must be an array, got {en}", code="QC-INPUT-TYPE")
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            zh, en = _type_of(rec)
            raise CheckError(f"第 {i} 份病案应为一个 JSON 对象，收到{zh}", f"record {i} must be a JSON object, got {en}",
                             code="QC-INPUT-TYPE")
        for key, v in rec.items():
            _check_text(key, f"第 {i} 份病案的字段名 ", f"record {i}: a field name")
            where_zh, where_en = f"第 {i} 份病案的字段 {key} ", f"record {i}: field {key}"
            if key not in ("diagnoses", "procedures"):
                _check_value(v, where_zh, where_en)
                continue
            if v is None:
                continue
            example = '[{"code": "J18.900", "name": "肺炎", "poa": "1"}]' if key == "diagnoses" else \
                '[{"code": "47.0901", "name": "…", "date": "2022-03-02"}]'
            if not isinstance(v, list):
                zh, en = _type_of(v)
                raise CheckError(f"{where_zh}应为对象数组（如 {example}），收到{zh}",
                                 f"{where_en} must be an array of objects (e.g. {example}), got {en}",
                                 code="QC-INPUT-TYPE")
            for j, item in enumerate(v, start=1):
                if not isinstance(item, dict):
                    zh, en = _type_of(item)
                    raise CheckError(f"{where_zh}第 {j} 项应为对象（如 {example}），收到{zh}",
                                     f"{where_en} item {j} must be an object (e.g. {example}), got {en}",
                                     code="QC-INPUT-TYPE")
                for k2, v2 in item.items():
                    _check_text(k2, f"{where_zh}第 {j} 项的键名 ", f"{where_en} item {j}: a key")
                    _check_value(v2, f"{where_zh}第 {j} 项的 {k2} ", f"{where_en} item {j}: {k2}")


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
    validate_records(records)
    rows = []
    for rec in records:
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
