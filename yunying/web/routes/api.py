"""JSON API under /api. Every route takes the user's Scope; restrictions live in the query layer."""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from yunying.model.safe_cells import csv_writer
from yunying.web import engine_adapter as ea
from yunying.web import queries as q
from yunying.ingest.scratch import scratch_prefix, sweep_scratch
from yunying.web import uploads
from yunying.web.appdb import write_audit
from yunying.web.deps import CtxDep, CurrentUser, CursorDep, DbDep, ScopeDep, audit, client_ip, targets_of
from yunying.web.errors import bad_request, forbidden, not_found
from yunying.web.jobs import import_job, qc_job

router = APIRouter(prefix="/api")


def fast_json(data) -> Response:
    """Dashboard payloads are plain dicts of numbers and strings: json.dumps directly (FastAPI's generic encoder
    walks every value and costs more than the query on a cached aggregate)."""
    return Response(json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":")).encode("utf-8"),
                    media_type="application/json")

Year = Annotated[int | None, Query(ge=1990, le=2100, description="年度 year")]
Month = Annotated[int | None, Query(ge=1, le=12, description="月份 month")]
Dept = Annotated[str | None, Query(description="科室代码 department code")]
Hosp = Annotated[str | None, Query(description="医疗机构代码 hospital id")]


@router.get("/meta", tags=["dashboard"])
def meta(ctx: CtxDep, cur: CursorDep, scope: ScopeDep):
    """Key indicators of 全院概览 / 科室视图 (engine ids), departments visible to the user, installed engines."""
    return {"key_indicators": ea.key_indicators(), "departments": q.departments(ctx.wh, cur, scope),
            "engines": q.engine_status(), "modules": sorted(scope.modules), "see_pii": scope.see_pii}


@router.get("/overview", tags=["dashboard"])
def overview(ctx: CtxDep, cur: CursorDep, scope: ScopeDep, year: Year = None, month: Month = None,
             hospital: Hosp = None):
    """全院概览: the key indicators of the indicator engine with 同比, target status and alerts."""
    return fast_json(ea.overview(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), year=year,
                                 month=month, hospital=hospital))


@router.get("/departments", tags=["dashboard"])
def departments(ctx: CtxDep, cur: CursorDep, scope: ScopeDep):
    return q.departments(ctx.wh, cur, scope)


@router.get("/dept/{dept}", tags=["dashboard"])
def dept_view(dept: str, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, year: Year = None, month: Month = None,
              hospital: Hosp = None):
    """科室视图: the department's key indicators (engine) with hospital value, peer median and rank."""
    return fast_json(ea.dept_view(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), dept, year=year,
                                  month=month, hospital=hospital, dept_names=q.dept_names(ctx.wh, cur),
                                  dept_codes=q.dept_codes(ctx.wh, cur)))


@router.get("/indicators/{ind_id}", tags=["dashboard"])
def indicator_detail(ind_id: str, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, year: Year = None,
                     month: Month = None, dept: Dept = None, hospital: Hosp = None):
    """指标详情 of an engine indicator: definition, numerator/denominator, 同比, target status, monthly trend,
    department breakdown."""
    return fast_json(ea.indicator_detail(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), ind_id,
                                         year=year, month=month, dept=dept, hospital=hospital,
                                         dept_names=q.dept_names(ctx.wh, cur)))


def _case_filters(year, month, dept, hospital, drg, qc_grade) -> dict:
    return {"year": year, "month": month, "dept": dept, "hospital": hospital, "drg": drg, "qc_grade": qc_grade}


@router.get("/cases", tags=["cases"])
def cases(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
          year: Year = None, month: Month = None, dept: Dept = None, hospital: Hosp = None, drg: str | None = None,
          qc_grade: str | None = None, limit: Annotated[int, Query(ge=1, le=q.CASE_LIST_LIMIT)] = 50,
          offset: Annotated[int, Query(ge=0)] = 0):
    """病例清单 by period, department, DRG or record grade (an indicator's records: /api/engine/cases).
    Identifiers masked unless the role allows; audit-logged."""
    f = _case_filters(year, month, dept, hospital, drg, qc_grade)
    res = q.cases(ctx.wh, cur, scope, year=year, month=month, dept=dept, hospital=hospital, drg=drg,
                  qc_grade=qc_grade, limit=limit, offset=offset)
    audit(request, db, user, "case_list", target="cases", filters={**f, "offset": offset}, rows=len(res["rows"]))
    return res


@router.get("/cases/{hospital}/{mrn}/{admission_no}", tags=["cases"])
def case_detail(hospital: str, mrn: str, admission_no: int, request: Request, ctx: CtxDep, cur: CursorDep,
                scope: ScopeDep, db: DbDep, user: CurrentUser, scheme: str | None = None):
    """病例详情 with QC defects and the DRG explanation. Audit-logged."""
    res = q.case_detail(ctx.wh, cur, scope, hospital, mrn, admission_no, scheme=scheme)
    audit(request, db, user, "case_view", target=f"{hospital}/{mrn}/{admission_no}", filters={"scheme": scheme},
          rows=1)
    return res


def _csv_response(rows: list[dict], columns: list[tuple[str, str]], filename: str) -> Response:
    buf = io.StringIO()
    w = csv_writer(buf)
    w.writerow([label for _, label in columns])
    for r in rows:
        w.writerow(["" if r.get(k) is None else r.get(k) for k, _ in columns])
    data = "\ufeff" + buf.getvalue()      # BOM: Excel on Windows shows Chinese
    return Response(data.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


EXPORT_COLUMNS = [("hospital_id", "医疗机构 hospital"), ("mrn", "病案号 mrn"), ("admission_no", "住院次数 admission_no"),
                  ("patient_name", "姓名 name"), ("sex", "性别 sex"), ("age_years", "年龄 age"),
                  ("dept_code", "科室代码 dept"), ("dept_name", "科室 dept_name"), ("admit_time", "入院时间 admitted"),
                  ("discharge_time", "出院时间 discharged"), ("los_days", "住院天数 los"),
                  ("fee_total", "总费用 charges"), ("drg_status", "分组状态 drg_status"), ("drg", "DRG"),
                  ("qc_grade", "病案等级 qc_grade"), ("qc_score", "质控得分 qc_score")]


@router.get("/export/cases.csv", tags=["export"])
def export_cases(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
                 year: Year = None, month: Month = None, dept: Dept = None, hospital: Hosp = None,
                 drg: str | None = None, qc_grade: str | None = None):
    """导出病例清单 (CSV, UTF-8 with BOM). Masked unless the role allows; audit-logged."""
    f = _case_filters(year, month, dept, hospital, drg, qc_grade)
    res = q.cases(ctx.wh, cur, scope, year=year, month=month, dept=dept, hospital=hospital, drg=drg,
                  qc_grade=qc_grade, export=True)
    audit(request, db, user, "export", target="cases.csv", filters=f, rows=len(res["rows"]))
    return _csv_response(res["rows"], EXPORT_COLUMNS, f"cases-{drg or dept or 'all'}.csv")


@router.get("/export/indicator/{ind_id}.csv", tags=["export"])
def export_indicator(ind_id: str, request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep,
                     user: CurrentUser, year: Year = None, month: Month = None, dept: Dept = None,
                     hospital: Hosp = None):
    """导出指标（引擎）的科室分布 (CSV). Audit-logged."""
    scope.require("export")
    res = ea.indicator_detail(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), ind_id, year=year,
                              month=month, dept=dept, hospital=hospital, dept_names=q.dept_names(ctx.wh, cur))
    audit(request, db, user, "export", target=f"indicator:{ind_id}.csv",
          filters={"year": year, "month": month, "dept": dept, "hospital": hospital}, rows=len(res["breakdown"]))
    cols = [("rank", "排名 rank"), ("dept", "科室代码 dept"), ("dept_name", "科室 dept_name"), ("value", "本期值 value"),
            ("numerator", "分子 numerator"), ("denominator", "分母 denominator"), ("yoy_change", "同比变化 yoy"),
            ("reason", "说明 reason")]
    return _csv_response(_rounded(res["breakdown"], res["indicator"]["decimals"]), cols,
                         f"{ind_id}-{res['period']}.csv")


def _rounded(rows: list[dict], decimals: int) -> list[dict]:
    """Export cells as numbers a spreadsheet can compute with, at the page's precision (yunying.reports.fmt, no
    thousands separator or unit): values and changes to the catalogue's decimals, numerator and denominator whole
    when whole (87, not 87.0), else to at most 4 decimals."""
    from yunying.reports.fmt import display, number

    def cell(v, dec=None):
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return v
        return display(v) if dec is None else number(v, dec)
    return [{**r, "value": cell(r.get("value"), decimals), "yoy_change": cell(r.get("yoy_change"), decimals),
             "numerator": cell(r.get("numerator")), "denominator": cell(r.get("denominator"))} for r in rows]


def _engine_case_columns(columns: list[str], computed: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """'病案号 mrn', '出院患者手术台次数（计入值） c0': the data model's Chinese names (yunying.web.labels) beside the
    identifier; computed columns by what they count (labels.contribution_labels, as on the page)."""
    from yunying.web.labels import export_header
    computed = computed or {}
    return [(c, f"{computed[c]} {c}" if c in computed else export_header(c)) for c in columns]


@router.get("/export/engine/cases.csv", tags=["export"])
def export_engine_cases(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep,
                        user: CurrentUser, indicator: str, period: str, dept: Dept = None, hospital: Hosp = None,
                        part: str = "numerator"):
    """导出指标下钻病例 (CSV, UTF-8 with BOM): the records behind an engine value with the filters of the drill-down
    page (/engine/cases) — all of them up to 100,000 (the page shows the first 200), same order, identifiers masked
    exactly as on the page unless the role allows, a 科主任 their own department only. Audit-logged (`export`)."""
    scope.require("export")
    res = ea.cases(ctx.wh, cur, scope, ctx.hospitals(cur), indicator, period=period, dept=dept, hospital=hospital,
                   part=part, limit=q.EXPORT_LIMIT)
    if not res.get("computed"):
        raise not_found(res.get("reason_zh") or "没有可导出的记录", res.get("reason_en") or "no records to export")
    audit(request, db, user, "export", target=f"engine:{indicator}.csv",
          filters={"period": period, "dept": res["dept"], "hospital": res["hospital"], "part": part},
          rows=len(res["rows"]))
    name = re.sub(r"[^\w.\-]+", "_", f"{indicator}-{period}{'-' + res['dept'] if res['dept'] else ''}-{part}.csv",
                  flags=re.ASCII)
    return _csv_response(res["rows"], _engine_case_columns(res["columns"], res["column_labels"]["zh"]), name)


@router.get("/drg", tags=["drg"])
def drg(ctx: CtxDep, cur: CursorDep, scope: ScopeDep, scheme: str | None = None, year: Year = None,
        dept: Dept = None, hospital: Hosp = None):
    """DRG 分析: 入组率, groups, case mix by department; CMI when weights exist."""
    return q.drg_summary(ctx.wh, cur, scope, scheme=scheme, year=year, dept=dept, hospital=hospital)


@router.get("/qc", tags=["qc"])
def qc(ctx: CtxDep, cur: CursorDep, scope: ScopeDep, year: Year = None, dept: Dept = None, hospital: Hosp = None):
    """病案质控: pass rate, average score, grades, top defects."""
    return q.qc_summary(ctx.wh, cur, scope, year=year, dept=dept, hospital=hospital)


class QcRunBody(BaseModel):
    hospital: str | None = None


def submit_qc_run(request: Request, ctx, scope, db, user, hospital: str | None) -> dict:
    """Queue a QC re-run (重新质控). Users of the 病案质控 module, not department heads (their view is one department;
    a run rescores the whole hospital); a hospital-scoped user runs it for their own hospital only."""
    scope.require("qc")
    if scope.is_dept_head:
        raise forbidden("WEB-FORBIDDEN-QC-RUN", "科主任不能重新运行全院病案质控，请联系质控办或病案科",
                        "a department head may not re-run the hospital's record QC; ask the QC or records office")
    hospital = hospital or None
    if hospital is None and scope.hospitals is not None:
        if len(scope.hospitals) != 1:
            raise bad_request("WEB-QC-HOSPITAL", "请选择要重新质控的医院", "choose the hospital to re-run QC for")
        hospital = scope.hospitals[0]
    scope.check_hospital(hospital)
    label = f"病案质控 {hospital or '全部医院'} / record QC {hospital or 'all hospitals'}"
    job = ctx.jobs.submit("qc", user.username, label, {"hospital": hospital}, qc_job(hospital))
    audit(request, db, user, "qc_run", target=hospital or "*", filters={"hospital": hospital, "job": job.id})
    return job.public()


@router.post("/qc/run", tags=["qc"], status_code=202)
def qc_run(body: QcRunBody, request: Request, ctx: CtxDep, scope: ScopeDep, db: DbDep, user: CurrentUser):
    """重新质控: re-run record QC as a background job (poll /api/jobs/{id}); the findings, scores and rates of the
    hospital are replaced when it finishes."""
    return submit_qc_run(request, ctx, scope, db, user, body.hospital)


class QcCheckBody(BaseModel):
    """One 首页 (`record`) or several (`records`, at most 1,000): keyed by national field codes (BAH, ZYCS, XB, JBDM,
    QTZD1 …) or canonical names; diagnoses/procedures as lists or national wide columns."""
    record: dict | None = None
    records: list[dict] | None = None


_CHECK_DICT: dict = {}


def check_dictionaries(ctx, cur) -> tuple[dict | None, tuple]:
    """The warehouse's QC dictionaries (qc_dictionary) for pre-submission checks, read once per data version, and
    the key naming that version (the check connection is rebuilt when it changes)."""
    key = (id(ctx.wh), ctx.wh.version)
    if _CHECK_DICT.get("key") != key:
        table = cur.sql("select * from qc_dictionary").to_arrow_table()
        _CHECK_DICT.clear()
        _CHECK_DICT.update(key=key, table=table if table.num_rows else None)
    table = _CHECK_DICT["table"]
    return ({"table": table} if table is not None else None), key


def record_check(request: Request, ctx, cur, scope, db, user, records: list, target: str) -> dict:
    """首页预检: check records without storing them — same catalogue, engine and scoring as 重新质控, the warehouse's
    dictionaries. Every user of 病案质控 (department heads too: a doctor checks a record before submitting it).
    The answer echoes what the caller sent (identifiers included: nothing is read from the warehouse)."""
    import time

    from yunying.qc.check import CheckError, check_records

    scope.require("qc")
    dicts, key = check_dictionaries(ctx, cur)
    t0 = time.perf_counter()
    try:
        res = check_records(records, dictionaries=dicts, dictionary_key=key)
    except CheckError as exc:
        raise bad_request(exc.code or "WEB-QC-CHECK", *exc.args[:2]) from None
    audit(request, db, user, "qc_check", target=target, rows=len(records))
    out = [r.as_dict() for r in res]
    return {"n_records": len(out), "n_findings": sum(len(r["findings"]) for r in out),
            "n_passed": sum(1 for r in out if r["passed"]), "seconds": round(time.perf_counter() - t0, 3),
            "dictionaries": dicts is not None, "records": out}


async def _check_body(request: Request) -> list:
    """The body of POST /api/qc/check read defensively (yunying.qc.check.load_json): non-UTF-8, malformed, too
    deeply nested, huge numbers and wrongly typed `record`/`records` give 400 with a QC-INPUT-… code, never a 500."""
    from yunying.qc.check import CheckError, load_json

    try:
        body = load_json(await request.body())
    except CheckError as exc:
        raise bad_request(exc.code, exc.zh, exc.en) from None
    if not isinstance(body, dict):
        raise bad_request("QC-INPUT-TYPE", "请求体应为 JSON 对象 {\"record\": {...}} 或 {\"records\": [...]}",
                          "the body must be a JSON object {\"record\": {...}} or {\"records\": [...]}")
    record, records = body.get("record"), body.get("records")
    if record is not None and not isinstance(record, dict):
        raise bad_request("QC-INPUT-TYPE", "record 应为一份首页（JSON 对象）", "record must be one record (a JSON object)")
    if records is not None and not isinstance(records, list):
        raise bad_request("QC-INPUT-TYPE", "records 应为首页数组", "records must be an array of records")
    return ([record] if record is not None else []) + list(records or [])


@router.post("/qc/check", tags=["qc"], openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": QcCheckBody.model_json_schema()}}}})
def qc_check(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
             records: Annotated[list, Depends(_check_body)]):
    """首页预检 (pre-submission check) for the web app and a HIS: JSON records in (body: QcCheckBody), per record
    score, grade and findings (rule_id, severity, field — national code —, value, message, hint) out; nothing is
    stored. A record the importer cannot type gets its IMP-… finding and no score."""
    if not records:
        raise bad_request("WEB-QC-CHECK", "请提供 record 或 records", "send `record` or `records`")
    return record_check(request, ctx, cur, scope, db, user, records, "json")


@router.get("/qc/records", tags=["qc"])
def qc_records(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
               year: Year = None, dept: Dept = None, hospital: Hosp = None, grade: str | None = None,
               limit: Annotated[int, Query(ge=1, le=q.CASE_LIST_LIMIT)] = 50):
    """QC record list (case-level; audit-logged)."""
    res = q.qc_records(ctx.wh, cur, scope, year=year, dept=dept, hospital=hospital, grade=grade, limit=limit)
    audit(request, db, user, "case_list", target="qc_records",
          filters={"year": year, "dept": dept, "hospital": hospital, "grade": grade}, rows=len(res["rows"]))
    return res


# ---- imports (background jobs) ---------------------------------------------------------------------------------

def _kinds() -> list[str]:
    from yunying.model.catalogue import load_model
    return list(load_model().kinds)


def submit_upload(ctx, scope, user, kind: str, files: list[UploadFile], hospital: str | None, ip: str = "-"):
    """Queue an upload. The uploader's hospitals are enforced twice: the form field here (403
    WEB-FORBIDDEN-HOSPITAL) and every row of every file in the job (the engine refuses a file holding another
    hospital's rows: IMP-HOSPITAL-SCOPE, audit action `denied`). Administrators and regional accounts (scope
    without hospitals) may import any hospital; a 科主任 has no import module."""
    scope.require("import")
    if kind not in _kinds():
        raise bad_request("WEB-IMPORT-KIND", f"未知的数据类型 {kind}，可选：{'、'.join(_kinds())}",
                          f"unknown kind {kind}; choose one of {', '.join(_kinds())}")
    hospital = hospital or None
    scope.check_hospital(hospital)
    if scope.hospitals is not None and hospital is None and len(scope.hospitals) == 1:
        hospital = scope.hospitals[0]
    files = [f for f in files if f.filename]
    if not files:
        raise bad_request("WEB-IMPORT-NOFILE", "请选择要上传的文件", "choose at least one file")
    settings = ctx.settings
    folder = settings.uploads
    folder.mkdir(parents=True, exist_ok=True)
    sweep_scratch(folder)                   # uploads left by a killed server process
    paths: list[Path] = []
    names: list[str] = []
    try:
        if len(files) > settings.upload_max_files:
            raise uploads.UploadRefused(400, "WEB-UPLOAD-FILES", f"一次最多上传 {settings.upload_max_files} 个文件",
                                        f"at most {settings.upload_max_files} files per upload",
                                        file=f"{len(files)} 个/files", limit=settings.upload_max_files)
        for f in files:                     # every check before the file is kept (yunying.web.uploads)
            name, fmt = uploads.check_name(f.filename)
            dest = folder / f"{scratch_prefix()}{uuid.uuid4().hex[:12]}__{name}"     # swept if this process dies
            paths.append(uploads.store(f.file, dest, name, fmt, kind, hospital, settings))
            names.append(name)
    except uploads.UploadRefused as exc:
        for p in paths:                     # an upload is accepted whole or not at all
            p.unlink(missing_ok=True)
        with ctx.sessions() as db:
            write_audit(db, username=user.username, role=user.role, action="upload_refused",
                        target=f"import {exc.file}"[:300],
                        filters={"code": exc.code, "kind": kind, "hospital": hospital, **exc.detail}, client_ip=ip)
        raise
    from yunying.web.labels import kind_label
    label = f"{kind_label(kind)}: " + "、".join(names)

    def refused(file: str, result: dict) -> None:      # runs on the job worker: its own app-DB session
        with ctx.sessions() as db:
            write_audit(db, username=user.username, role=user.role, action="denied", target=f"import {file}"[:300],
                        filters={"code": result["error_code"], "kind": kind, "hospital": hospital,
                                 "allowed": list(scope.hospitals or ()), "rows_read": result["rows_read"],
                                 "message": result["message"]},
                        client_ip=ip)

    return ctx.jobs.submit("import", user.username, label,
                           {"kind": kind, "hospital": hospital, "files": names},
                           import_job(kind, paths, hospital, folder / "rejects", allowed_hospitals=scope.hospitals,
                                      on_refused=refused, user=user.username,
                                      qc_after=ctx.settings.qc_after_import,
                                      drg_after=ctx.settings.drg_after_import))


@router.post("/imports", tags=["import"], status_code=202)
def upload(request: Request, ctx: CtxDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
           kind: Annotated[str, Form()], files: Annotated[list[UploadFile], File()],
           hospital: Annotated[str | None, Form()] = None):
    """上传并导入 (a background job; poll /api/jobs/{id}). Needs the X-CSRF-Token header or csrf_token field."""
    job = submit_upload(ctx, scope, user, kind, files, hospital, client_ip(request))
    audit(request, db, user, "import_upload", target=job.label, filters={"kind": kind, "hospital": hospital})
    return job.public()


RAW_LINE_HIDDEN = "〔整行原文含患者标识，已按权限隐藏；请按行号查看源文件 / raw line hidden (patient identifiers); see the source file at this row〕"


def mask_rejects(rejects: list[dict]) -> list[dict]:
    """Reject rows as someone who may not see identifiers sees them. A rejected value of an identifier column
    (ID number, phone, birth date …) is masked, in the value and where the reasons quote it; a row rejected as a
    whole line (IMP-COLS, IMP-ENCODING, IMP-ROW: no field, the value is the raw line with every column of the
    record) shows no raw text at all — its columns cannot be told apart, so nothing of it can be masked safely."""
    from yunying.model.privacy import mask_text, mask_value, pii_columns
    cols = pii_columns()
    out = []
    for r in rejects:
        r = dict(r)
        if r["field"] is None and r["value"] is not None:
            r["value"] = RAW_LINE_HIDDEN
        elif r["field"] in cols and r["value"] is not None:
            raw = str(r["value"])
            for k in ("reason_zh", "reason_en"):
                r[k] = mask_text(r[k], {raw: cols[r["field"]]}) if len(raw) >= 2 else r[k]
            r["value"] = mask_value(cols[r["field"]], raw)
        out.append(r)
    return out


def job_view(ctx, cur, user, job_id: int, see_pii: bool = False) -> dict:
    job = ctx.jobs.get(job_id)
    if job is None or (user.role != "admin" and job.username != user.username):
        raise not_found(f"没有任务 {job_id}", f"no job {job_id}")
    out = job.public()
    if job.status == "done" and job.kind == "import" and job.result:
        rejects = q.import_rejects(cur, job.result.get("import_ids", []))
        out["rejects"] = rejects if see_pii else mask_rejects(rejects)
    return out


def audit_rejects(request: Request, db, user, job: dict, see_pii: bool) -> None:
    """Reject rows are record-level data (keys, values, raw lines): showing them is audit-logged like a case
    list (action `reject_view`, job id, rows shown, masked or not)."""
    if job.get("rejects"):
        audit(request, db, user, "reject_view", target=f"job {job['id']}",
              filters={"masked": not see_pii, "import_ids": (job.get("result") or {}).get("import_ids")},
              rows=len(job["rejects"]))


@router.get("/jobs", tags=["import"])
def jobs(ctx: CtxDep, user: CurrentUser, scope: ScopeDep):
    return [j.public() for j in ctx.jobs.list() if user.role == "admin" or j.username == user.username]


@router.get("/jobs/{job_id}", tags=["import"])
def job(job_id: int, request: Request, ctx: CtxDep, cur: CursorDep, db: DbDep, user: CurrentUser, scope: ScopeDep):
    """Job progress; when an import is done, its result and the reject report rows (identifiers masked unless the
    role allows; showing reject rows is audit-logged)."""
    out = job_view(ctx, cur, user, job_id, scope.see_pii)
    audit_rejects(request, db, user, out, scope.see_pii)
    return out


@router.get("/imports/history", tags=["import"])
def import_history(cur: CursorDep, scope: ScopeDep, user: CurrentUser):
    """Recent imports: a hospital-scoped user sees those of their own hospitals and their own uploads."""
    scope.require("import")
    return q.import_history(cur, scope, user.username)


# ---- indicator engine (yunying.indicators) ------------------------------------------------------------------------

@router.get("/engine", tags=["indicators"])
def engine_values(ctx: CtxDep, cur: CursorDep, scope: ScopeDep, family: str = "tertiary-general",
                  period: str | None = None, level: str = "hospital", dept: Dept = None, hospital: Hosp = None):
    """国考/运营指标 from the indicator engine: value, numerator/denominator, 同比, target, status, or the reason
    it is not computable. A 科主任 gets department values of their own department only."""
    return fast_json(ea.compute(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), family=family,
                                period=period, level=level, dept=dept, hospital=hospital))


@router.get("/engine/cases", tags=["indicators"])
def engine_cases(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
                 indicator: str, period: str, dept: Dept = None, hospital: Hosp = None, part: str = "numerator"):
    """Records behind an engine value (drill-down; audit-logged)."""
    res = ea.cases(ctx.wh, cur, scope, ctx.hospitals(cur), indicator, period=period, dept=dept, hospital=hospital,
                   part=part)
    audit(request, db, user, "case_list", target=f"engine:{indicator}",
          filters={"period": period, "dept": dept, "hospital": hospital, "part": part}, rows=len(res["rows"]))
    return fast_json(res)
