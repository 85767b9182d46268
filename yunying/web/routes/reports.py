"""报告下载 / report downloads: 质量月报 and 年度工作报告数据篇 built on demand by yunying.reports.

Scope rules as everywhere: a 科主任 gets only the department edition of the monthly report for their own
department (the annual report is hospital-level: 403); a hospital-bound account only its hospital. Every
download is an export and is audit-logged.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from yunying.web.deps import CtxDep, CurrentUser, CursorDep, DbDep, ScopeDep, audit
from yunying.web.errors import WebError, forbidden
from yunying.web.pages_common import render


router = APIRouter()
MEDIA = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
PERIOD = {"monthly": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"), "annual": re.compile(r"^\d{4}$")}


def _bad(zh: str, en: str) -> WebError:
    return WebError(422, "WEB-PARAM", zh, en)


def report_scope(scope, kind: str, hospital: str | None, dept: str | None, hospitals: list[str]):
    """Effective (hospital, dept) for a report request, or a 403/422."""
    scope.require("export")
    if scope.is_dept_head and kind == "annual":
        raise forbidden("WEB-FORBIDDEN-DEPT", "年度报告为全院报告，科主任只能下载本科室的质量月报",
                        "the annual report is hospital-wide; a department head may download only their "
                        "department's monthly report")
    hospital, dept = scope.resolve(hospital, dept)
    if hospital is None:
        visible = hospitals if scope.hospitals is None else [h for h in hospitals if h in scope.hospitals]
        if len(visible) != 1:
            raise _bad("数据库中有多家医院，请选择医院", "several hospitals: choose one (hospital=…)")
        hospital = visible[0]
    return hospital, dept


@router.get("/api/reports/{kind}.{fmt}", tags=["export"])
def download_report(kind: str, fmt: str, request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep,
                    db: DbDep, user: CurrentUser,
                    period: Annotated[str, Query(description="monthly: 2022-06; annual: 2022")],
                    hospital: str | None = None, dept: str | None = None):
    """下载报告 / download a report (docx or xlsx), built from the current warehouse."""
    from yunying.reports import build_report, write

    if kind not in PERIOD or fmt not in MEDIA:
        raise _bad("报告类型应为 monthly/annual，格式应为 docx/xlsx", "kind must be monthly|annual, format docx|xlsx")
    if not PERIOD[kind].match(period):
        raise _bad(f"期间格式不正确：{period}（月报 2022-06，年报 2022）", f"bad period {period!r}")
    hospital, dept = report_scope(scope, kind, hospital or None, dept or None, ctx.hospitals(cur))
    try:
        report = build_report(cur, kind, period, dept, hospital_id=hospital)
    except ValueError as exc:          # e.g. unknown department code
        raise _bad(f"无法生成报告：{exc}", f"cannot build the report: {exc}") from None
    with tempfile.TemporaryDirectory() as tmp:
        path = write(report, Path(tmp), formats=(fmt,))[0]
        content = path.read_bytes()
        name = path.name
    audit(request, db, user, "export", target=f"report:{kind}:{period}.{fmt}",
          filters={"hospital": hospital, "dept": dept}, rows=None)
    return Response(content, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/reports")
def reports_page(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, user: CurrentUser):
    scope.require("export")
    months = [r[0] for r in cur.execute(
        "select distinct strftime(discharge_time, '%Y-%m') from discharge where discharge_time is not null "
        "order by 1 desc").fetchall()]
    from yunying.web import queries as q
    return render(request, "reports.html", {"months": months, "years": sorted({m[:4] for m in months}, reverse=True),
                                            "dept_names": q.dept_names(ctx.wh, cur),
                                            "page": "reports"})
