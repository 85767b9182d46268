"""系统管理 (administrators): users, indicator targets, DRG schemes (regroup job), audit log."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from yunying.web import auth as auth_logic
from yunying.web import engine_adapter as ea
from yunying.web import targets as tg
from yunying.web.appdb import AuditLog, User, UserError, add_user
from yunying.web.deps import AdminUser, CtxDep, CursorDep, DbDep, audit
from yunying.web.errors import bad_request, not_found
from yunying.web.jobs import regroup_job

router = APIRouter(prefix="/api/admin", tags=["admin"])


def users_list(db) -> list[dict]:
    return [{"username": u.username, "role": u.role, "office": u.office, "dept": u.dept_code,
             "hospital": u.hospital_id, "active": u.active, "description": u.describe(),
             "created_at": u.created_at.isoformat(timespec="seconds")}
            for u in db.scalars(select(User).order_by(User.username)).all()]


class NewUser(BaseModel):
    username: str
    password: str
    role: str
    dept: str | None = None
    hospital: str | None = None
    office: str | None = None


@router.get("/users")
def users(db: DbDep, admin: AdminUser):
    return users_list(db)


def create_user(db, body: NewUser) -> User:
    try:
        return add_user(db, body.username.strip(), body.password, body.role, dept=body.dept or None,
                        hospital=body.hospital or None, office=body.office or None)
    except UserError as exc:
        raise bad_request("WEB-USER", exc.zh, exc.en) from None


@router.post("/users", status_code=201)
def new_user(body: NewUser, request: Request, db: DbDep, admin: AdminUser):
    user = create_user(db, body)
    audit(request, db, admin, "user_add", target=user.username, filters={"role": user.role, "dept": user.dept_code})
    return {"username": user.username, "description": user.describe()}


@router.post("/users/{username}/disable")
def disable(username: str, request: Request, db: DbDep, admin: AdminUser):
    if username == admin.username:
        raise bad_request("WEB-USER", "不能停用自己的账号", "you cannot disable your own account")
    auth_logic.disable_user(db, username)
    request.app.state.ctx.session_cache.clear()
    audit(request, db, admin, "user_disable", target=username)
    return {"username": username, "active": False}


class TargetBody(BaseModel):
    """A target of the indicator engine (table ind_target). hospital_id: omitted / "*" = every hospital;
    dept_code: omitted = hospital level, "*" = every department; op omitted = by the indicator's direction."""
    indicator_id: str
    value: float
    op: str | None = None
    value_hi: float | None = None
    hospital_id: str | None = None
    dept_code: str | None = None
    note_zh: str | None = None


def set_target(ctx, cur, body: TargetBody, by: str) -> dict:
    out = tg.set_target(cur, ea.catalogue(), **body.model_dump(), by=by)
    ctx.targets_cache = None            # pages show the new status at once
    return out


@router.get("/targets")
def targets(cur: CursorDep, admin: AdminUser):
    """Targets of the warehouse table ind_target (merged by the engine over its shipped targets.yaml)."""
    return tg.list_targets(cur)


@router.post("/targets")
def post_target(body: TargetBody, request: Request, ctx: CtxDep, cur: CursorDep, db: DbDep, admin: AdminUser):
    t = set_target(ctx, cur, body, admin.username)
    audit(request, db, admin, "target_set", target=t["indicator_id"], filters=body.model_dump())
    return t


def audit_rows(db, *, username=None, action=None, limit=200, offset=0) -> list[dict]:
    qy = select(AuditLog).order_by(AuditLog.id.desc())
    if username:
        qy = qy.where(AuditLog.username == username)
    if action:
        qy = qy.where(AuditLog.action == action)
    rows = db.scalars(qy.limit(limit).offset(offset)).all()
    return [{"id": a.id, "at": a.at.isoformat(timespec="seconds"), "username": a.username, "role": a.role,
             "action": a.action, "target": a.target, "filters": json.loads(a.filters) if a.filters else None,
             "rows": a.rows, "client_ip": a.client_ip} for a in rows]


@router.get("/audit")
def audit_log(db: DbDep, admin: AdminUser, username: str | None = None, action: str | None = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200, offset: Annotated[int, Query(ge=0)] = 0):
    """审计日志: who saw or exported what, when, with which filter, from where."""
    return audit_rows(db, username=username, action=action, limit=limit, offset=offset)


@router.get("/schemes")
def schemes(cur: CursorDep, admin: AdminUser):
    from yunying.drg.store import list_schemes
    try:
        rows = list_schemes(cur)
    except Exception:
        return []
    return [{"name": r[0], "content_hash": r[1][:16], "base": r[2], "source": r[3], "imported_at": str(r[4]),
             "cases": r[5]} for r in rows]


class RegroupBody(BaseModel):
    scheme: str


@router.post("/regroup", status_code=202)
def regroup(body: RegroupBody, request: Request, ctx: CtxDep, cur: CursorDep, db: DbDep, admin: AdminUser):
    """Re-run DRG grouping with a registered scheme as a background job."""
    if not cur.execute("select 1 from drg_scheme where name = ?", [body.scheme]).fetchall():
        raise not_found(f"没有已登记的分组方案 {body.scheme}", f"no registered scheme {body.scheme}")
    job = ctx.jobs.submit("regroup", admin.username, f"DRG 重新分组 {body.scheme}", {"scheme": body.scheme},
                          regroup_job(body.scheme))
    audit(request, db, admin, "regroup", target=body.scheme)
    return job.public()
