"""Cost pages (issue 17): 科室成本, 分摊流向, 病种/DRG 成本与盈亏 — module `cost` of roles.yaml. Queries in
yunying/web/cost_pages.py; every one takes the request's Scope (a 科主任 sees only their own department)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from yunying.web import cost_pages as cp
from yunying.web import queries as q
from yunying.web.deps import CtxDep, CurrentUser, CursorDep, DbDep, ScopeDep, audit
from yunying.web.pages_common import render

router = APIRouter(include_in_schema=False)


def _keep(request: Request, *names: str) -> str:
    """The selector parameters of this request (run, month, hospital …) as a query string for links."""
    params = {k: v for k, v in request.query_params.items() if k in names and v}
    return urlencode(params)


SELECT = ("run", "month", "hospital", "lang")


def _drg_names(cur) -> dict[str, str]:
    try:
        scheme = q.default_scheme(cur)
        pack = q._pack(cur, scheme) if scheme else None
        return pack.names().get("drg", {}) if pack else {}
    except Exception:        # no scheme registered (or a pack of another version): codes only
        return {}


@router.get("/cost")
def cost_home(request: Request, scope: ScopeDep):
    scope.require("cost")
    qs = _keep(request, *SELECT)
    target = f"/cost/dept/{scope.dept}" if scope.is_dept_head else "/cost/dept"
    return RedirectResponse(target + (f"?{qs}" if qs else ""), status_code=303)


@router.get("/cost/dept")
def cost_dept(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, run: str | None = None,
              month: str | None = None, hospital: str | None = None):
    data = cp.dept_cost(ctx.wh, cur, scope, run=run or None, month=month or None, hospital=hospital or None,
                        dept_names=q.dept_names(ctx.wh, cur))
    return render(request, "cost_dept.html", {"data": data, "page": "cost", "tab": "dept",
                                              "keep": _keep(request, *SELECT)})


@router.get("/cost/dept/{dept}")
def cost_dept_detail(dept: str, request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep,
                     run: str | None = None, month: str | None = None, hospital: str | None = None):
    data = cp.dept_detail(ctx.wh, cur, scope, dept, run=run or None, month=month or None,
                          hospital=hospital or None, dept_names=q.dept_names(ctx.wh, cur))
    return render(request, "cost_dept_detail.html", {"data": data, "page": "cost", "tab": "dept",
                                                     "keep": _keep(request, *SELECT)})


@router.get("/cost/flow")
def cost_flow(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, run: str | None = None,
              month: str | None = None, hospital: str | None = None, step: str | None = None,
              source: str | None = None, dest: str | None = None):
    from yunying.web.routes.pages import _int
    data = cp.flow(ctx.wh, cur, scope, run=run or None, month=month or None, hospital=hospital or None,
                   step=_int(step), source=source or None, dest=dest or None, dept_names=q.dept_names(ctx.wh, cur))
    return render(request, "cost_flow.html", {"data": data, "page": "cost", "tab": "flow",
                                              "keep": _keep(request, *SELECT)})


@router.get("/cost/drg")
def cost_drg(request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, run: str | None = None,
             month: str | None = None, hospital: str | None = None, dept: str | None = None,
             method: str | None = None):
    data = cp.drg_cost(ctx.wh, cur, scope, run=run or None, month=month or None, hospital=hospital or None,
                       dept=dept or None, method=method or None, drg_names=_drg_names(cur))
    return render(request, "cost_drg.html", {"data": data, "page": "cost", "tab": "drg",
                                             "keep": _keep(request, *SELECT, "dept", "method")})


@router.get("/cost/drg/{drg}")
def cost_drg_cases(drg: str, request: Request, ctx: CtxDep, cur: CursorDep, scope: ScopeDep, db: DbDep,
                   user: CurrentUser, run: str | None = None, month: str | None = None,
                   hospital: str | None = None, dept: str | None = None):
    data = cp.drg_cases(ctx.wh, cur, scope, drg, run=run or None, month=month or None, hospital=hospital or None,
                        dept=dept or None, dept_names=q.dept_names(ctx.wh, cur))
    if data.get("cases_computed"):       # a case-level list: audit-logged like every other
        audit(request, db, user, "case_list", target=f"cost_drg:{drg}",
              filters={"run": data["run"]["run_id"], "month": data["month"], "dept": dept},
              rows=len(data["rows"]))
    return render(request, "cost_drg_cases.html", {"data": data, "page": "cost", "tab": "drg",
                                                   "name": _drg_names(cur).get(drg, ""),
                                                   "keep": _keep(request, *SELECT, "dept")})
