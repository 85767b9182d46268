"""Warehouse side of DRG grouping: the scheme registry, grouping imported 首页 data, payer reconciliation.

Tables are created by migration ``0010_drg.sql``; the 首页 tables (discharge, discharge_diagnosis,
discharge_procedure) by the data-model migrations. Case key = (hospital_id, mrn, admission_no).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa

from yunying.drg.explain import interpreter
from yunying.drg.grouper import Grouper
from yunying.drg.pack import TABLES, Pack, PackError, _check_header, validate
from yunying.warehouse.db import transaction

KEY = ("hospital_id", "mrn", "admission_no")


class DrgDataError(ValueError):
    """A user-facing data problem (message is Chinese first, then English)."""


# ------------------------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------------------------


def _to_csv(rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    buf = io.StringIO()
    cols = header or (list(rows[0]) if rows else [])
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
    return buf.getvalue()


def register_pack(con: duckdb.DuckDBPyConnection, pack: Pack, name: str) -> None:
    """Store a validated pack under ``name`` (replacing a pack of the same name)."""
    with transaction(con):
        con.execute("delete from drg_scheme_file where scheme = ?", [name])
        con.execute("delete from drg_scheme where name = ?", [name])
        con.execute(
            "insert into drg_scheme (name, content_hash, base, source, meta_json) values (?, ?, ?, ?, ?)",
            [name, pack.content_hash, pack.base, pack.source, json.dumps(pack.meta, ensure_ascii=False, default=str)],
        )
        files = [(f"{t}.csv", "table", _to_csv(rows, _columns(t, rows))) for t, rows in pack.tables.items()]
        files += [(f"{t}.csv", "extra", _to_csv(rows)) for t, rows in pack.extra.items()]
        con.executemany("insert into drg_scheme_file values (?, ?, ?, ?)", [(name, f, k, c) for f, k, c in files])


def _columns(table: str, rows: list[dict[str, str]]) -> list[str]:
    spec = TABLES[table]
    cols = list(spec.required) + [c for c in spec.optional]
    extra = [c for r in rows[:1] for c in r if c not in cols]
    return cols + extra


def list_schemes(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select s.name, s.content_hash, s.base, s.source, s.imported_at, "
        "(select count(*) from drg_result r where r.scheme = s.name) from drg_scheme s order by s.name"
    ).fetchall()


def load_registered(con: duckdb.DuckDBPyConnection, name: str) -> Pack:
    found = con.execute("select content_hash, base, source, meta_json from drg_scheme where name = ?",
                        [name]).fetchall()
    row = found[0] if found else None
    if row is None:
        known = [r[0] for r in con.execute("select name from drg_scheme order by name").fetchall()]
        raise DrgDataError(f"DRG-SCHEME 方案 {name!r} 未导入（已导入：{'、'.join(known) or '无'}），请先执行 "
                           f"yunying drg scheme import / scheme {name!r} is not registered")
    tables, extra, issues = {}, {}, []
    for fname, kind, content in con.execute(
        "select file_name, kind, content from drg_scheme_file where scheme = ? order by file_name", [name]
    ).fetchall():
        reader = csv.reader(io.StringIO(content, newline=""))
        header = next(reader)
        rows = [dict(zip(header, r)) for r in reader]
        stem = fname[:-4]
        if kind == "table":
            _check_header(TABLES[stem], fname, header, issues)
            tables[stem] = rows
        else:
            extra[stem] = rows
    validate(tables, issues)
    if issues:
        raise PackError(issues)
    pack = Pack(name=name, tables=tables, extra=extra, source=row[2] or "", base=row[1],
                meta=json.loads(row[3] or "{}"))
    if pack.content_hash != row[0]:
        raise DrgDataError(f"DRG-SCHEME 方案 {name!r} 的内容哈希与登记不符，数据可能被改动，请重新导入 / "
                           f"content hash mismatch for {name!r}; re-import the pack")
    return pack


def resolve_scheme(ref: str, con_factory=None) -> Pack:
    """``ref`` is a pack directory, or the name of a registered scheme (needs ``con_factory``)."""
    from yunying.drg.pack import load_pack

    p = Path(ref)
    if p.is_dir():
        return load_pack(p)
    if con_factory is None:
        raise DrgDataError(f"DRG-SCHEME 找不到方案目录 {ref!r} / scheme directory {ref!r} not found")
    con = con_factory()
    try:
        return load_registered(con, ref)
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------------------
# cases from the warehouse
# ------------------------------------------------------------------------------------------------------------

CASES_SQL = """
with dx as (
  select hospital_id, mrn, admission_no,
         case when bool_or(seq = 0) then '' else '|' end
           || string_agg(coalesce(dx_code, ''), '|' order by seq) as dx
  from discharge_diagnosis
  where dx_type = 'W' or dx_type is null
  group by hospital_id, mrn, admission_no
), px as (
  select hospital_id, mrn, admission_no,
         case when bool_or(seq = 1) then '' else '|' end
           || string_agg(coalesce(px_code, ''), '|' order by seq) as px
  from discharge_procedure
  group by hospital_id, mrn, admission_no
)
select d.hospital_id, d.mrn, d.admission_no,
       d.hospital_id || '/' || d.mrn || '/' || cast(d.admission_no as varchar) as record_id,
       d.sex as sex,
       cast(d.age_years as varchar) as age_years,
       cast(d.age_days as varchar) as age_days,
       cast(d.nb_birth_weight_g as varchar) as newborn_weight_g,
       d.discharge_dept_code as dept_code,
       cast(d.los_days as varchar) as los_days,
       d.discharge_disposition as discharge_type,
       coalesce(dx.dx, '') as dx,
       coalesce(px.px, '') as px
from discharge d
left join dx using (hospital_id, mrn, admission_no)
left join px using (hospital_id, mrn, admission_no)
{where}
order by d.hospital_id, d.mrn, d.admission_no
"""


def warehouse_cases(con: duckdb.DuckDBPyConnection, where: str = "", params: list | None = None) -> pa.Table:
    """Canonical case table (plus the key columns) built from the 首页 tables.

    Diagnoses: western (dx_type 'W'), principal = seq 0; procedures: principal = seq 1. A case whose
    principal row is missing gets an empty principal code, so it is never grouped on a secondary code.
    """
    return con.sql(CASES_SQL.format(where=where), params=params or None).to_arrow_table()


def run_grouping(con: duckdb.DuckDBPyConnection, pack: Pack, scheme_name: str, progress=None) -> dict:
    """Group every discharge of the warehouse under ``pack``; replace its rows in drg_result under a new run
    (drg_run: scheme, the pack's content hash, time, case count)."""
    import datetime as dt
    import uuid

    cases = warehouse_cases(con)
    res = Grouper(pack).group_table(cases, progress=progress)
    run_id = f"drg-{dt.datetime.now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    out = pa.table({
        "hospital_id": cases["hospital_id"], "mrn": cases["mrn"], "admission_no": cases["admission_no"],
        "scheme": pa.array([scheme_name] * cases.num_rows, type=pa.string()),
        "scheme_hash": pa.array([pack.content_hash] * cases.num_rows, type=pa.string()),
        "status": res["status"], "mdc": res["mdc"], "adrg": res["adrg"], "drg": res["drg"],
        "run_id": pa.array([run_id] * cases.num_rows, type=pa.string()),
    })
    with transaction(con):
        con.execute("delete from drg_result where scheme = ?", [scheme_name])
        con.register("_drg_out", out)
        con.execute("insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, "
                    "adrg, drg, run_id) select * from _drg_out")
        con.unregister("_drg_out")
        counts = dict(con.execute("select status, count(*) from drg_result where scheme = ? group by status",
                                  [scheme_name]).fetchall())
        con.execute("insert into drg_run (run_id, scheme, scheme_hash, cases, by_status_json) values (?, ?, ?, ?, ?)",
                    [run_id, scheme_name, pack.content_hash, cases.num_rows, json.dumps(counts, sort_keys=True)])
    return {"cases": cases.num_rows, "by_status": counts, "run_id": run_id}


def stored_result(con, scheme: str, hospital_id: str, mrn: str, admission_no: int) -> dict | None:
    """The stored result of one case under ``scheme`` with its run, and whether the registered scheme pack has
    changed since (its content hash differs from the one the run grouped with). None when never grouped."""
    rows = con.execute(
        "select r.status, r.mdc, r.adrg, r.drg, r.scheme_hash, r.grouped_at, r.run_id, s.content_hash "
        "from drg_result r left join drg_scheme s on s.name = r.scheme "
        "where r.scheme = ? and r.hospital_id = ? and r.mrn = ? and r.admission_no = ?",
        [scheme, hospital_id, mrn, int(admission_no)]).fetchall()
    if not rows:
        return None
    status, mdc, adrg, drg, shash, at, run_id, current = rows[0]
    return {"scheme": scheme, "status": status, "mdc": mdc, "adrg": adrg, "drg": drg, "scheme_hash": shash,
            "grouped_at": at, "run_id": run_id, "current_hash": current,
            "scheme_changed": current is not None and current != shash, "scheme_missing": current is None}


SCHEME_CHANGED_ZH = "方案自该次分组后已变更"
SCHEME_CHANGED_EN = "the scheme has changed since this grouping"


def stored_reading(stored: dict, ex) -> dict:
    """How a stored result and a fresh regrouping relate: the stored result is the answer; the fresh one is its
    explanation when the scheme is unchanged and it agrees, else only a labelled comparison."""
    same = (ex.status, ex.mdc, ex.adrg, ex.drg) == (stored["status"], stored["mdc"], stored["adrg"], stored["drg"])
    if stored["scheme_changed"] or stored["scheme_missing"]:
        zh = SCHEME_CHANGED_ZH if stored["scheme_changed"] else "方案已不在登记表中"
        en = SCHEME_CHANGED_EN if stored["scheme_changed"] else "the scheme is no longer registered"
        return {"trace_explains_stored": False, "notice_zh": zh, "notice_en": en, "fresh_same": same}
    if not same:
        return {"trace_explains_stored": False, "notice_zh": "病案数据自该次分组后已变更（重新分组结果不同）",
                "notice_en": "the case data changed since this grouping (a regrouping differs)", "fresh_same": False}
    return {"trace_explains_stored": True, "notice_zh": "", "notice_en": "", "fresh_same": True}


# ------------------------------------------------------------------------------------------------------------
# payer reconciliation
# ------------------------------------------------------------------------------------------------------------

PAYER_ALIASES = {
    "hospital_id": ("hospital_id", "医疗机构编码", "机构编码", "yljgdm"),
    "mrn": ("mrn", "病案号", "bah"),
    "admission_no": ("admission_no", "住院次数", "zycs"),
    "record_id": ("record_id",),
    "payer_drg": ("payer_drg", "drg", "drg_code", "drg编码", "DRG编码", "分组编码", "drgbm"),
}


def read_payer_file(path: Path, default_hospital: str | None = None) -> list[tuple[str, str, int, str]]:
    """(hospital_id, mrn, admission_no, payer_drg) rows. Key: record_id 'H/MRN/N' or mrn + admission_no
    (+ hospital_id). Raises DrgDataError naming the row and field."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="gb18030")
    except OSError as e:
        raise DrgDataError(f"DRG-PAYER 无法读取文件 {path}：{e} / cannot read payer file") from e
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DrgDataError(f"DRG-PAYER 文件为空：{path} / empty payer file") from None
    lower = {h.lower(): i for i, h in enumerate(header)}
    col = {}
    for field, names in PAYER_ALIASES.items():
        for n in names:
            if n.lower() in lower:
                col[field] = lower[n.lower()]
                break
    if "payer_drg" not in col:
        raise DrgDataError(f"DRG-PAYER 缺少医保 DRG 编码列（payer_drg / drg / DRG编码）：{path} / "
                           f"missing payer DRG column")
    if "record_id" not in col and not ("mrn" in col and "admission_no" in col):
        raise DrgDataError(f"DRG-PAYER 缺少病案键：需要 record_id，或 mrn（病案号）+ admission_no（住院次数）：{path} "
                           f"/ missing case key columns")
    out = []
    for i, rec in enumerate(reader, start=2):
        if not rec or all(not x.strip() for x in rec):
            continue

        def get(f):
            return rec[col[f]].strip() if f in col and col[f] < len(rec) else ""

        if "record_id" in col and get("record_id"):
            parts = get("record_id").split("/")
            if len(parts) != 3:
                raise DrgDataError(f"DRG-PAYER 第{i}行 字段【record_id】值 {get('record_id')!r} 应为 "
                                   f"医院/病案号/住院次数 / row {i}: record_id must be hospital/mrn/admission_no")
            h, m, a = parts
        else:
            h, m, a = get("hospital_id") or (default_hospital or ""), get("mrn"), get("admission_no")
        try:
            a_int = int(a)
        except ValueError:
            raise DrgDataError(f"DRG-PAYER 第{i}行 字段【住院次数】值 {a!r} 不是整数 / row {i}: admission_no "
                               f"{a!r} is not an integer") from None
        drg = get("payer_drg")
        if not m or not drg:
            raise DrgDataError(f"DRG-PAYER 第{i}行 病案号或医保 DRG 为空 / row {i}: mrn or payer DRG blank")
        out.append((h, m, a_int, drg))
    return out


def reconcile(con: duckdb.DuckDBPyConnection, pack: Pack, scheme_name: str, payer_file: Path,
              default_hospital: str | None = None) -> tuple[list[dict], dict]:
    """Import payer groups and list every case whose payer DRG differs from ours, with our explanation."""
    rows = read_payer_file(payer_file, default_hospital)
    if not rows:
        raise DrgDataError(f"DRG-PAYER 文件中没有数据行：{payer_file} / no data rows")
    hospitals = {r[0] for r in rows}
    if "" in hospitals:
        only = [h for (h,) in con.execute("select distinct hospital_id from discharge").fetchall()]
        if len(only) == 1:
            rows = [(only[0], m, a, d) for h, m, a, d in rows]
        else:
            raise DrgDataError("DRG-PAYER 医保文件未给出医疗机构编码且仓库中有多家医院，请加列 hospital_id 或用 "
                               "--hospital 指定 / hospital_id missing and the warehouse holds several hospitals")
    with transaction(con):
        con.executemany(
            "insert or replace into drg_payer_result (hospital_id, mrn, admission_no, payer_drg, payer_file) "
            "values (?, ?, ?, ?, ?)", [(h, m, a, d, str(payer_file)) for h, m, a, d in rows])
    # group again so that our side reflects the warehouse as it is now (set-based: seconds per 100k cases)
    run_grouping(con, pack, scheme_name)
    keys = pa.table({"hospital_id": [r[0] for r in rows], "mrn": [r[1] for r in rows],
                     "admission_no": pa.array([r[2] for r in rows], type=pa.int32()),
                     "payer_drg": [r[3] for r in rows]})
    con.register("_payer", keys)
    cmp = con.execute(
        """select p.hospital_id, p.mrn, p.admission_no, p.payer_drg, r.status, r.mdc, r.adrg, r.drg,
                  d.mrn is not null as in_warehouse
           from _payer p
           left join drg_result r on r.hospital_id = p.hospital_id and r.mrn = p.mrn
                and r.admission_no = p.admission_no and r.scheme = ?
           left join discharge d on d.hospital_id = p.hospital_id and d.mrn = p.mrn and d.admission_no = p.admission_no
           order by p.hospital_id, p.mrn, p.admission_no""", [scheme_name]).fetchall()
    con.unregister("_payer")
    diffs = [r for r in cmp if r[7] != r[3]]
    # explanations for the differing cases only
    explain_for = {}
    wanted = [r for r in diffs if r[8]]
    if wanted:
        sel = pa.table({"hospital_id": [r[0] for r in wanted], "mrn": [r[1] for r in wanted],
                        "admission_no": pa.array([r[2] for r in wanted], type=pa.int32())})
        con.register("_want", sel)
        cases = warehouse_cases(con, "where (d.hospital_id, d.mrn, d.admission_no) in "
                                     "(select (hospital_id, mrn, admission_no) from _want)")
        con.unregister("_want")
        it = interpreter(pack)
        for rec in cases.to_pylist():
            ex = it.explain(rec)
            explain_for[(rec["hospital_id"], rec["mrn"], rec["admission_no"])] = (ex, rec)
    out = []
    for h, m, a, payer, status, mdc, adrg, drg, in_wh in diffs:
        ex, rec = explain_for.get((h, m, a), (None, None))
        if not in_wh:
            kind, zh = "missing_case", "仓库中没有该病案（请先导入首页数据） / case not in the warehouse"
        elif adrg is not None and payer[:3] == adrg:
            kind, zh = "same_adrg_other_split", "ADRG 相同，细分不同（多为其他诊断 CC/MCC 认定不同）"
        else:
            kind, zh = "different_adrg", "ADRG 不同（多为主要诊断/主要手术选择或编码不同）"
        out.append({
            "hospital_id": h, "mrn": m, "admission_no": a, "payer_drg": payer,
            "our_status": status or "", "our_mdc": mdc or "", "our_adrg": adrg or "", "our_drg": drg or "",
            "difference": kind, "difference_zh": zh,
            "dx": rec["dx"] if rec else "", "px": rec["px"] if rec else "",
            "our_explanation_zh": ex.summary_zh() if ex else "",
            "cc_mcc_zh": "；".join(c["zh"] for c in ex.cc_mcc if c["kind"]) if ex else "",
        })
    summary = {"payer_cases": len(rows), "same": len(cmp) - len(diffs), "different": len(diffs),
               "missing_in_warehouse": sum(1 for r in diffs if not r[8])}
    return out, summary


def ensure_demo_scheme(con: duckdb.DuckDBPyConnection, name: str = "yunying-demo") -> Pack:
    """Register the shipped demo scheme (演示数据) under ``name`` if it is not registered with the same content."""
    from yunying.drg import DEMO_SCHEME
    from yunying.drg.pack import load_pack

    pack = load_pack(DEMO_SCHEME, name=name)
    got = con.execute("select content_hash from drg_scheme where name = ?", [name]).fetchall()
    if not got or got[0][0] != pack.content_hash:
        register_pack(con, pack, name)
    return pack


def demo_run(con: duckdb.DuckDBPyConnection, name: str = "yunying-demo") -> dict:
    """For `make demo`: register the demo scheme and group every discharge of the warehouse under it."""
    pack = ensure_demo_scheme(con, name)
    return run_grouping(con, pack, name)
