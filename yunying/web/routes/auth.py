"""Login and logout: JSON (/api/auth/…) and HTML form (/login, /logout)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel

from yunying.web import auth as auth_logic
from yunying.web.deps import SESSION_COOKIE, CtxDep, CurrentUser, DbDep, ScopeDep, client_ip
from yunying.web.errors import WebError
from yunying.web.security import new_token

router = APIRouter()
PRELOGIN_COOKIE = "yy_prelogin"


class LoginBody(BaseModel):
    username: str
    password: str


class PasswordBody(BaseModel):
    current_password: str
    new_password: str


def _forget(request: Request) -> None:
    from yunying.web.security import token_digest
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.ctx.session_cache.pop(token_digest(token), None)


def _set_session_cookie(resp, ctx, token: str) -> None:
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=ctx.settings.secure_cookies,
                    path="/")


def user_public(user, scope=None) -> dict:
    return {"username": user.username, "role": user.role, "office": user.office, "dept": user.dept_code,
            "hospital": user.hospital_id, "description": user.describe(),
            "modules": sorted(scope.modules) if scope else None,
            "see_pii": scope.see_pii if scope else None}


@router.post("/api/auth/login", tags=["auth"])
def api_login(body: LoginBody, request: Request, ctx: CtxDep, db: DbDep):
    """JSON login. Only `application/json` is accepted (a cross-site form cannot send it without CORS)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise WebError(415, "WEB-CONTENT-TYPE", "登录请求须为 JSON", "login requires application/json")
    user, token, csrf = auth_logic.login(db, ctx.settings, body.username, body.password, client_ip(request))
    resp = JSONResponse({"user": user_public(user), "csrf_token": csrf})
    _set_session_cookie(resp, ctx, token)
    return resp


@router.post("/api/auth/logout", tags=["auth"])
def api_logout(request: Request, user: CurrentUser, db: DbDep):
    _forget(request)
    auth_logic.logout(db, request.cookies.get(SESSION_COOKIE), user, client_ip(request))
    resp = JSONResponse({"ok": True})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/api/auth/me", tags=["auth"])
def api_me(request: Request, user: CurrentUser):
    from yunying.web.scope import build_scope
    ctx = request.app.state.ctx
    cur = ctx.wh.cursor()
    try:
        scope = build_scope(user, ctx.hospitals(cur), ctx.settings.pii_roles)
    finally:
        cur.close()
    return {"user": user_public(user, scope), "csrf_token": request.state.csrf}


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, next: str = "/", error: str | None = None):
    from yunying.web.pages_common import render
    token = request.cookies.get(PRELOGIN_COOKIE) or new_token()
    resp = render(request, "login.html", {"prelogin": token, "next": _safe_next(next), "error": error})
    resp.set_cookie(PRELOGIN_COOKIE, token, httponly=True, samesite="strict", path="/")
    return resp


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") else "/"


@router.post("/login", include_in_schema=False)
def login_form(request: Request, ctx: CtxDep, db: DbDep, username: str = Form(""), password: str = Form(""),
               csrf_token: str = Form(""), next: str = Form("/")):
    from yunying.web.pages_common import render
    pre = request.cookies.get(PRELOGIN_COOKIE)
    if not pre or pre != csrf_token:
        raise WebError(403, "WEB-CSRF", "登录表单已失效，请刷新页面后重试", "the login form expired; reload and retry")
    try:
        user, token, _csrf = auth_logic.login(db, ctx.settings, username, password, client_ip(request))
    except WebError as exc:
        resp = render(request, "login.html", {"prelogin": pre, "next": _safe_next(next),
                                              "error": f"{exc.zh} / {exc.en}", "username": username},
                      status_code=exc.status)
        return resp
    resp = RedirectResponse(_safe_next(next), status_code=303)
    _set_session_cookie(resp, ctx, token)
    resp.delete_cookie(PRELOGIN_COOKIE, path="/")
    return resp


@router.post("/logout", include_in_schema=False)
def logout_form(request: Request, user: CurrentUser, db: DbDep):
    _forget(request)
    auth_logic.logout(db, request.cookies.get(SESSION_COOKIE), user, client_ip(request))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


# ---- password change (the user's own) --------------------------------------------------------------------------

def _change_password(request: Request, ctx, db, user, current: str, new: str) -> int:
    """Change the password; end the user's other sessions (database and the in-process session memory), keep
    the one making the change."""
    from yunying.web.security import token_digest
    token = request.cookies.get(SESSION_COOKIE)
    keep = token_digest(token) if token else None
    ended = auth_logic.change_password(db, ctx.settings, user, keep, current, new, client_ip(request))
    for digest, cached in list(ctx.session_cache.items()):
        if digest != keep and cached[1].id == user.id:
            ctx.session_cache.pop(digest, None)
    return ended


@router.post("/api/auth/password", tags=["auth"])
def api_change_password(body: PasswordBody, request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser):
    """修改本人密码: current password required; the new one needs 8+ characters, not the username, not the current
    one. The user's other sessions end; this one stays signed in. Needs X-CSRF-Token."""
    ended = _change_password(request, ctx, db, user, body.current_password, body.new_password)
    return {"ok": True, "sessions_ended": ended}


@router.get("/account/password", response_class=HTMLResponse, include_in_schema=False)
def password_page(request: Request, user: CurrentUser, scope: ScopeDep, changed: int = 0):
    from yunying.web.pages_common import render
    return render(request, "password.html", {"page": "password", "changed": bool(changed), "error": None})


@router.post("/account/password", include_in_schema=False)
def password_form(request: Request, ctx: CtxDep, db: DbDep, user: CurrentUser, scope: ScopeDep,
                  current_password: str = Form(""), new_password: str = Form(""),
                  confirm_password: str = Form("")):
    from yunying.web.pages_common import render
    try:
        if new_password != confirm_password:
            raise WebError(400, "WEB-PASSWORD-CONFIRM", "两次输入的新密码不一致，请重新输入",
                           "the two new passwords differ; type them again")
        _change_password(request, ctx, db, user, current_password, new_password)
    except WebError as exc:
        if exc.status == 401:
            raise
        return render(request, "password.html", {"page": "password", "changed": False, "error": exc},
                      status_code=exc.status)
    return RedirectResponse("/account/password?changed=1", status_code=303)
