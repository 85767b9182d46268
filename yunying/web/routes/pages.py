"""HTML pages (Jinja2 + a little vanilla JS + ECharts, all served from /static). Same query layer as the API."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from yunying.model.safe_cells import csv_writer
from yunying.web import engine_adapter as ea
from yunying.web import queries as q
from yunying.web.deps import (AdminUser, CtxDep, CurrentUser, CursorDep, DbDep, ScopeDep, audit, client_ip,
                              targets_of)
from yunying.web.errors import WebError
from yunying.web.pages_common import lang_of, render
from yunying.web.routes import admin as admin_routes
from yunying.web.routes.api import _kinds, check_dictionaries, job_view, record_check, submit_qc_run, submit_upload

router = APIRouter(include_in_schema=False)


def _int(v) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except ValueError:
        raise WebError(422, "WEB-PARAM", f"参数应为整数，收到 {v!r}", f"expected an integer, got {v!r}") from None


@router.get("/")
def home(scope: ScopeDep):
    if "overview" in scope.modules:
        return RedirectResponse("/overview", status_code=303)
    if scope.is_dept_head:
        return RedirectResponse(f"/dept/{scope.dept}", status_code=303)
    for module in ("drg", "qc", "import", "admin"):
        if module in scope.modules:
            return RedirectResponse(f"/{module}", status_code=303)
    return RedirectResponse("/admin", status_code=303)


@router.get("/overview")
def overview(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, year: str | None = None,
             month: str | None = None, hospital: str | None = None):
    data = ea.overview(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), year=_int(year),
                       month=_int(month), hospital=hospital or None)
    trend = []
    if data.get("computed") and data["indicators"]:
        first = data["indicators"][0]        # monthly trend of the first key indicator (出院人次)
        trend = ea.trend(ctx.wh, cur, first["id"], data["hospital"])
        data["trend_indicator"] = {"name_zh": first["name_zh"], "name_en": first["name_en"],
                                   "decimals": first.get("decimals")}
    return render(request, "overview.html", {"data": data, "trend": trend, "page": "overview"})


@router.get("/dept")
def dept_list(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep):
    scope.require("dept")
    if scope.is_dept_head:
        return RedirectResponse(f"/dept/{scope.dept}", status_code=303)
    return render(request, "dept_list.html", {"depts": q.departments(ctx.wh, cur, scope), "page": "dept"})


@router.get("/dept/{dept}")
def dept(dept: str, request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, year: str | None = None,
         month: str | None = None, hospital: str | None = None):
    data = ea.dept_view(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), dept, year=_int(year),
                        month=_int(month), hospital=hospital or None, dept_names=q.dept_names(ctx.wh, cur),
                        dept_codes=q.dept_codes(ctx.wh, cur))
    return render(request, "dept.html", {"data": data, "page": "dept"})


@router.get("/indicator/{ind_id}")
def indicator(ind_id: str, request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, year: str | None = None,
              month: str | None = None, dept: str | None = None, hospital: str | None = None):
    data = ea.indicator_detail(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), ind_id,
                               year=_int(year), month=_int(month), dept=dept or None, hospital=hospital or None,
                               dept_names=q.dept_names(ctx.wh, cur))
    return render(request, "indicator.html", {"data": data, "page": "indicator"})


def _case_list(request: Request, ctx, cur, scope, export: bool = False) -> tuple[dict, dict]:
    """(validated filters, q.cases answer) for the 病例清单 page and its export: one parser, one query."""
    from yunying.web import case_list as cl

    scope.require("export" if export else "cases")
    f = cl.parse(dict(request.query_params), scope, cl.choices(ctx.wh, cur))
    args = {k: f[k] for k in ("year", "month", "dept", "hospital", "drg", "qc_grade", "date_from", "date_to")}
    if export:
        return f, q.cases(ctx.wh, cur, scope, **args, export=True)
    data = q.cases(ctx.wh, cur, scope, **args, limit=f["size"], offset=(f["page"] - 1) * f["size"])
    n_pages = max(1, -(-data["total"] // f["size"]))
    if f["page"] > n_pages:           # past the end (e.g. a bookmarked page after a narrower filter): the last page
        f["page"] = n_pages
        data = q.cases(ctx.wh, cur, scope, **args, limit=f["size"], offset=(n_pages - 1) * f["size"])
    data["n_pages"] = n_pages
    return f, data


@router.get("/cases")
def cases(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser):
    """病例清单: filters (department, DRG, record grade, year/month, discharge date range), server-side pages,
    Chinese headers and decoded cells (yunying.web.case_list); audit-logged."""
    from yunying.web import case_list as cl

    f, data = _case_list(request, ctx, cur, scope)
    audit(request, db, user, "case_list", target="cases", filters=cl.audit_filters(f), rows=len(data["rows"]))
    headers, cells = cl.table(data["rows"], lang_of(request))
    choice = cl.choices(ctx.wh, cur)
    return render(request, "cases.html", {
        "data": data, "page": "cases", "f": f, "headers": headers, "cells": cells, "cl": cl,
        "td": cl.cell_attrs(), "depts": q.departments(ctx.wh, cur, scope), "grades": choice["qc_grade"],
        "sizes": sorted(set(cl.PAGE_SIZES) | {f["size"]}), "query": cl.query_string(f, page=None)})


@router.get("/api/export/case-list.csv", tags=["export"])
def cases_csv(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser):
    """导出病例清单 as the page shows it: the same filters (query string of /cases), columns, Chinese headers and
    decoded cells, every row of the filter (the page shows them page by page), identifiers masked per role,
    formula-safe cells. Audit-logged (`export`, target `case-list.csv`)."""
    from yunying.web import case_list as cl

    f, data = _case_list(request, ctx, cur, scope, export=True)
    filters = cl.audit_filters({k: v for k, v in f.items() if k not in ("page", "size")})
    audit(request, db, user, "export", target="case-list.csv", filters=filters, rows=len(data["rows"]))
    return _csv_response(cl.csv_bytes(data["rows"]), f"cases-{f['drg'] or f['dept'] or 'all'}.csv")


@router.get("/case/{hospital}/{mrn}/{admission_no}")
def case(hospital: str, mrn: str, admission_no: int, request: Request, ctx: CtxDep, cur: CursorDep,
         scope: ScopeDep, db: DbDep, user: CurrentUser, scheme: str | None = None):
    data = q.case_detail(ctx.wh, cur, scope, hospital, mrn, admission_no, scheme=scheme or None)
    audit(request, db, user, "case_view", target=f"{hospital}/{mrn}/{admission_no}", filters={"scheme": scheme},
          rows=1)
    return render(request, "case.html", {"data": data, "page": "case"})


@router.get("/drg")
def drg(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, scheme: str | None = None,
        year: str | None = None, dept: str | None = None):
    data = q.drg_summary(ctx.wh, cur, scope, scheme=scheme or None, year=_int(year), dept=dept or None)
    return render(request, "drg.html", {"data": data, "page": "drg"})


@router.get("/qc")
def qc(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
       year: str | None = None, dept: str | None = None):
    data = q.qc_summary(ctx.wh, cur, scope, year=_int(year), dept=dept or None)
    records = None
    if data.get("computed") and "cases" in scope.modules:
        records = q.qc_records(ctx.wh, cur, scope, year=data.get("year"), dept=dept or None, limit=30)
        audit(request, db, user, "case_list", target="qc_records", filters={"year": data.get("year"), "dept": dept},
              rows=len(records["rows"]))
    # 重新质控: users of the module other than department heads; a choice of hospital when the account has several
    can_run = "qc" in scope.modules and not scope.is_dept_head
    run_hospitals = (list(scope.hospitals) if scope.hospitals is not None else ctx.hospitals(cur)) if can_run else []
    return render(request, "qc.html", {"data": data, "records": records, "page": "qc", "can_run_qc": can_run,
                                       "run_hospitals": run_hospitals, "all_hospitals": scope.hospitals is None})


@router.post("/qc/run")
def qc_run_form(request: Request, ctx: CtxDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
                hospital: Annotated[str | None, Form()] = None):
    """Form behind the 重新质控 button: queue the job and go to its page."""
    job = submit_qc_run(request, ctx, scope, db, user, hospital)
    return RedirectResponse(f"/jobs/{job['id']}", status_code=303)


CHECK_SHOWN = 500          # findings listed on the page; all of them in the CSV


@router.get("/qc/check")
def qc_check_page(request: Request, scope: ScopeDep):
    """首页预检: a file (CSV/xlsx/parquet in any import layout) or JSON record(s), checked without storing."""
    scope.require("qc")
    return render(request, "qc_check.html", {"page": "qc", "result": None, "json_text": ""})


@router.post("/qc/check")
def qc_check_form(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
                  file: Annotated[UploadFile | None, File()] = None,
                  json_text: Annotated[str | None, Form()] = None,
                  fmt: Annotated[str, Form(alias="format")] = "html"):
    scope.require("qc")
    ctxt = {"page": "qc", "result": None, "json_text": json_text or "", "error": None}
    try:
        if file is not None and file.filename:
            return _check_file_form(request, ctx, cur, scope, db, user, file, fmt, ctxt)
        if not (json_text or "").strip():
            raise WebError(400, "WEB-QC-CHECK", "请选择文件或粘贴 JSON 病案", "choose a file or paste JSON records")
        from yunying.qc.check import CheckError, load_json

        try:                                        # the API's parser: depth, huge numbers, lone surrogates
            data = load_json(json_text)
        except CheckError as exc:
            raise WebError(400, exc.code or "WEB-QC-JSON", *exc.args[:2]) from None
        if isinstance(data, dict) and ("records" in data or "record" in data):
            records = data.get("records") or [data.get("record")]
        else:                                       # one record, or a list (non-objects are refused by the check)
            records = data if isinstance(data, list) else [data]
        ctxt["result"] = record_check(request, ctx, cur, scope, db, user, records, "form")
        if fmt == "csv":
            return _findings_csv(ctxt["result"]["records"], "records-findings.csv")
    except WebError as exc:
        ctxt["error"] = exc
        return render(request, "qc_check.html", ctxt, status_code=exc.status)
    return render(request, "qc_check.html", ctxt)


def _check_file_form(request, ctx, cur, scope, db, user, file, fmt, ctxt):
    from yunying.qc.check import CheckError, check_file

    from yunying.web import uploads

    dicts, _ = check_dictionaries(ctx, cur)
    name, fmt_in = uploads.check_name(file.filename)        # a path or '..' is refused, never joined
    with tempfile.TemporaryDirectory(prefix="yunying-check-") as tmp:
        src = uploads.store(file.file, Path(tmp) / name, name, fmt_in, "discharge", None, ctx.settings)
        try:
            res = check_file(src, Path(tmp) / "findings.csv", Path(tmp) / "summary.csv", dictionaries=dicts)
        except CheckError as exc:
            raise WebError(400, "WEB-QC-CHECK", *exc.args[:2]) from None
        audit(request, db, user, "qc_check", target=src.name, rows=res.records + res.rejected)
        if fmt == "csv":
            return _csv_response((Path(tmp) / "findings.csv").read_bytes(), f"{src.stem}-findings.csv")
        with open(Path(tmp) / "findings.csv", encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    ctxt["file_result"] = {"name": src.name, "records": res.records, "rejected": res.rejected,
                           "findings": len(rows), "rows": rows[:CHECK_SHOWN], "by_grade": res.by_grade,
                           "avg_score": res.avg_score, "shown": min(len(rows), CHECK_SHOWN)}
    return render(request, "qc_check.html", ctxt)


def _csv_response(data: bytes, name: str) -> Response:
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


def _findings_csv(records: list[dict], name: str) -> Response:
    """Findings of checked JSON records in the `qc check` CSV layout (UTF-8 with BOM)."""
    from yunying.qc.check import FINDING_HEADER

    buf = io.StringIO()
    w = csv_writer(buf)
    w.writerow(FINDING_HEADER)
    for r in records:
        for f in r["findings"]:
            w.writerow(["" if f.get(k) is None else f[k] for k in FINDING_HEADER])
    return _csv_response(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"), name)


@router.get("/import")
def import_page(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, user: CurrentUser):
    scope.require("import")
    jobs = [j.public() for j in ctx.jobs.list(20) if user.role == "admin" or j.username == user.username]
    return render(request, "import.html", {"kinds": _kinds(), "jobs": jobs, "history": q.import_history(cur, scope, user.username, 15),
                                           "page": "import"})


@router.post("/import")
def import_form(request: Request, ctx: CtxDep, scope: ScopeDep, db: DbDep, user: CurrentUser,
                kind: Annotated[str, Form()], files: Annotated[list[UploadFile], File()],
                hospital: Annotated[str | None, Form()] = None):
    """Form fallback without JavaScript: queue the job and go to its page."""
    job = submit_upload(ctx, scope, user, kind, files, hospital, client_ip(request))
    audit(request, db, user, "import_upload", target=job.label, filters={"kind": kind, "hospital": hospital})
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(job_id: int, request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, user: CurrentUser):
    return render(request, "job.html", {"job": job_view(ctx, cur, user, job_id, scope.see_pii),
                                        "page": "import"})


# ---- 系统管理 -------------------------------------------------------------------------------------------------

@router.get("/admin")
def admin(request: Request, ctx: CtxDep, cur: CursorDep, db: DbDep, admin: AdminUser, scope: ScopeDep,
          audit_user: str | None = None, audit_action: str | None = None):
    from yunying.web.appdb import OFFICE_ZH, ROLE_ZH
    indicators = ea.catalogue_list()
    return render(request, "admin.html", {
        "users": admin_routes.users_list(db), "targets": admin_routes.targets(cur, admin),
        "schemes": admin_routes.schemes(cur, admin), "indicators": indicators,
        "ind_by_id": {i["id"]: i for i in indicators}, "dept_names": q.dept_names(ctx.wh, cur),
        "roles": ROLE_ZH, "offices": OFFICE_ZH,
        "depts": q.departments(ctx.wh, cur, scope),
        "audit": admin_routes.audit_rows(db, username=audit_user or None, action=audit_action or None, limit=200),
        "audit_user": audit_user or "", "audit_action": audit_action or "", "page": "admin",
        "jobs": [j.public() for j in ctx.jobs.list(10)]})


@router.post("/admin/users")
def admin_add_user(request: Request, db: DbDep, admin: AdminUser, username: Annotated[str, Form()],
                   password: Annotated[str, Form()], role: Annotated[str, Form()],
                   dept: Annotated[str | None, Form()] = None, hospital: Annotated[str | None, Form()] = None,
                   office: Annotated[str | None, Form()] = None):
    body = admin_routes.NewUser(username=username, password=password, role=role, dept=dept or None,
                                hospital=hospital or None, office=office or None)
    user = admin_routes.create_user(db, body)
    audit(request, db, admin, "user_add", target=user.username, filters={"role": user.role, "dept": user.dept_code})
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/users/{username}/disable")
def admin_disable(username: str, request: Request, db: DbDep, admin: AdminUser):
    admin_routes.disable(username, request, db, admin)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/targets")
def admin_target(request: Request, ctx: CtxDep, cur: CursorDep, db: DbDep, admin: AdminUser,
                 indicator_id: Annotated[str, Form()], value: Annotated[float, Form()],
                 op: Annotated[str | None, Form()] = None, value_hi: Annotated[str | None, Form()] = None,
                 hospital_id: Annotated[str | None, Form()] = None, dept_code: Annotated[str | None, Form()] = None):
    hi = None
    if value_hi not in (None, ""):
        try:
            hi = float(value_hi)
        except ValueError:
            raise WebError(422, "WEB-PARAM", f"上限应为数值，收到 {value_hi!r}", "value_hi: not a number") from None
    body = admin_routes.TargetBody(indicator_id=indicator_id, value=value, op=op or None, value_hi=hi,
                                   hospital_id=hospital_id or None, dept_code=dept_code or None)
    admin_routes.set_target(ctx, cur, body, admin.username)
    audit(request, db, admin, "target_set", target=indicator_id, filters=body.model_dump())
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/regroup")
def admin_regroup(request: Request, ctx: CtxDep, cur: CursorDep, db: DbDep, admin: AdminUser,
                  scheme: Annotated[str, Form()]):
    job = admin_routes.regroup(admin_routes.RegroupBody(scheme=scheme), request, ctx, cur, db, admin)
    return RedirectResponse(f"/jobs/{job['id']}", status_code=303)


def _pint(name: str, v: str | None, default: int) -> int:
    """A page number / size from the query string: 400 WEB-PARAM for anything but a positive integer."""
    if v in (None, ""):
        return default
    try:
        n = int(v)
    except ValueError:
        n = 0
    if n < 1:
        raise WebError(400, "WEB-PARAM", f"参数 {name} 应为正整数，收到 {v!r}", f"{name} must be a positive integer, got {v!r}")
    return n


@router.get("/engine")
def engine_page(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, family: str = ea.DEFAULT_FAMILY,
                period: str | None = None, level: str = "hospital", dept: str | None = None,
                hospital: str | None = None, status: str | None = None, sort: str = "", order: str = "",
                page: str | None = None, size: str | None = None, dpage: str | None = None,
                dsize: str | None = None):
    """绩效指标: a family's indicators for one hospital (a paged list) or, at department level, the pivot
    indicator × department (engine_adapter.pivot: names, sticky headers, sort, status filter, server-side pages)."""
    if scope.is_dept_head:
        level = "department"
    if level == "department":
        data = ea.pivot(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), family=family,
                        period=period or None, hospital=hospital or None, dept=dept or None, status=status,
                        sort=sort, order=order, page=_pint("page", page, 1),
                        size=_pint("size", size, ea.PIVOT_SIZE), dpage=_pint("dpage", dpage, 1),
                        dsize=_pint("dsize", dsize, ea.PIVOT_DEPT_SIZE), dept_names=q.dept_names(ctx.wh, cur))
    else:
        data = ea.compute(ctx.wh, cur, scope, ctx.hospitals(cur), targets_of(cur, ctx), family=family,
                          period=period or None, level=level, dept=dept or None, hospital=hospital or None)
        data = ea.list_page(data, status, _pint("page", page, 1), _pint("size", size, ea.PIVOT_SIZE))
    depts = q.departments(ctx.wh, cur, scope)

    def link(**override) -> str:          # this view with some parameters changed (sort, filter, page)
        from urllib.parse import urlencode
        params = {"family": (data.get("family") or {}).get("key", family), "period": data.get("period") or period,
                  "level": data.get("level", level), "dept": dept, "hospital": hospital, "status": status,
                  "sort": sort, "order": order, "page": page, "size": size, "dpage": dpage, "dsize": dsize,
                  **override}
        return "/engine?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})

    return render(request, "engine.html", {"data": data, "depts": depts, "page": "indicators", "link": link,
                                           "statuses": list(ea.STATUS_FILTERS)})


@router.get("/engine/cases")
def engine_cases_page(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep,
                      user: CurrentUser, indicator: str, period: str, dept: str | None = None,
                      part: str = "numerator"):
    data = ea.cases(ctx.wh, cur, scope, ctx.hospitals(cur), indicator, period=period, dept=dept or None, part=part)
    audit(request, db, user, "case_list", target=f"engine:{indicator}",
          filters={"period": period, "dept": dept, "part": part}, rows=len(data["rows"]))
    return render(request, "engine_cases.html", {"data": data, "page": "indicators",
                                                 "dept_names": q.dept_names(ctx.wh, cur)})
