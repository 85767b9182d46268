"""Dependencies: the per-request warehouse cursor, application DB session, current user (with session expiry
and CSRF check on every state-changing call) and the user's `Scope`."""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import ipaddress
import time
from dataclasses import dataclass, field
from typing import Annotated, AsyncIterator, Iterator

import duckdb
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from yunying.web.appdb import User, WebSession, utcnow, write_audit
from yunying.web.config import WebSettings
from yunying.web.errors import WebError
from yunying.web.jobs import JobQueue
from yunying.web.scope import Scope, build_scope
from yunying.web.security import token_digest
from yunying.web.warehouse import Warehouse

SESSION_COOKIE = "yy_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LAST_SEEN_GRANULARITY = dt.timedelta(seconds=30)   # refresh last_seen at most this often (fewer writes)
SESSION_CACHE_SECONDS = 3.0


@dataclass
class Context:
    settings: WebSettings
    wh: Warehouse
    sessions: sessionmaker[Session]
    jobs: JobQueue
    _hosp: tuple[int, list[str]] | None = None
    # a few seconds of memory for sessions and targets: the app DB is read once per user every few seconds, not
    # twice per request; targets (the engine's ind_target) are read once every few seconds. Logout, disabling and
    # target changes made through the app invalidate at once; changes made in the database directly (or by the
    # CLI in another process) take effect within SESSION_CACHE_SECONDS.
    session_cache: dict = field(default_factory=dict)
    targets_cache: tuple[float, list[dict]] | None = None

    def hospitals(self, cur) -> list[str]:
        cached = self._hosp
        if cached and cached[0] == self.wh.version:
            return cached[1]
        hs = self.wh.hospitals(cur)
        self._hosp = (self.wh.version, hs)
        return hs


async def get_ctx(request: Request) -> Context:       # async: no thread-pool hop for a lookup
    return request.app.state.ctx


CtxDep = Annotated[Context, Depends(get_ctx)]


def get_db(ctx: CtxDep) -> Iterator[Session]:
    with ctx.sessions() as db:
        yield db


DbDep = Annotated[Session, Depends(get_db)]


async def get_cursor(ctx: CtxDep) -> AsyncIterator[duckdb.DuckDBPyConnection]:
    cur = ctx.wh.cursor()      # cheap; queries run later in the route's worker thread
    try:
        yield cur
    finally:
        cur.close()


CursorDep = Annotated[duckdb.DuckDBPyConnection, Depends(get_cursor)]


@functools.lru_cache(maxsize=64)
def _networks(proxies: tuple[str, ...]) -> tuple:
    nets = []
    for p in proxies:
        try:
            nets.append(ipaddress.ip_network(p.strip(), strict=False))
        except ValueError:
            nets.append(p.strip())         # a host name as the peer reports it (tests: "testclient")
    return tuple(nets)


def _is_proxy(addr: str, nets: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr in nets
    return any(not isinstance(n, str) and ip.version == n.version and ip in n for n in nets)


def client_ip(request: Request) -> str:
    """The client's address: the TCP peer, or — only when the peer is one of `trusted_proxies` — the right-most
    X-Forwarded-For address that is not itself a trusted proxy. A forwarded header from anyone else is ignored,
    so a client cannot pick the address its login failures are counted under."""
    peer = request.client.host if request.client else "-"
    proxies = tuple(request.app.state.ctx.settings.trusted_proxies)
    if not proxies:
        return peer
    nets = _networks(proxies)
    if not _is_proxy(peer, nets):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if _is_proxy(hop, nets):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer                    # garbage in the header: count it under the proxy
    return peer


def unauthenticated(expired: bool = False) -> WebError:
    if expired:
        return WebError(401, "WEB-SESSION-EXPIRED", "会话已过期，请重新登录", "your session has expired; sign in again")
    return WebError(401, "WEB-AUTH", "请先登录", "please sign in")


def load_session(request: Request, ctx: Context, db: Session) -> tuple[User, WebSession] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    digest = token_digest(token)
    now = utcnow()
    s = ctx.settings
    cached = ctx.session_cache.get(digest)
    if cached is not None and cached[0] > time.monotonic():
        _, user, ws = cached
        if (now - ws.last_seen <= dt.timedelta(minutes=s.session_idle_minutes)
                and now - ws.created_at <= dt.timedelta(hours=s.session_absolute_hours)):
            return user, ws
    ctx.session_cache.pop(digest, None)
    ws = db.get(WebSession, digest)
    if ws is None:
        raise unauthenticated(expired=True)
    if (now - ws.last_seen > dt.timedelta(minutes=s.session_idle_minutes)
            or now - ws.created_at > dt.timedelta(hours=s.session_absolute_hours)):
        db.delete(ws)
        db.commit()
        raise unauthenticated(expired=True)
    user = db.get(User, ws.user_id)
    if user is None or not user.active:
        db.delete(ws)
        db.commit()
        raise WebError(401, "WEB-DISABLED", "账号已停用，请联系管理员", "this account is disabled")
    if now - ws.last_seen > LAST_SEEN_GRANULARITY:
        ws.last_seen = now
    db.commit()          # ends the read transaction: the pooled connection goes back at once
    if len(ctx.session_cache) > 10_000:
        ctx.session_cache.clear()
    ctx.session_cache[digest] = (time.monotonic() + SESSION_CACHE_SECONDS, user, ws)
    return user, ws


async def csrf_value(request: Request) -> str | None:
    """The CSRF token a state-changing request sent (header X-CSRF-Token, or form field csrf_token)."""
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()       # Starlette caches the parsed form for the route
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def current_user(request: Request, ctx: CtxDep, db: DbDep,
                 sent: Annotated[str | None, Depends(csrf_value)]) -> User:
    """Sync on purpose: it runs in the thread pool, so app-DB I/O never blocks the event loop."""
    found = load_session(request, ctx, db)
    if found is None:
        raise unauthenticated()
    user, ws = found
    if request.method not in SAFE_METHODS:
        if not sent or not hmac.compare_digest(sent, ws.csrf_token):
            raise WebError(403, "WEB-CSRF", "请求缺少有效的CSRF令牌，请刷新页面后重试",
                           "missing or invalid CSRF token; reload the page and try again")
    request.state.user = user
    request.state.csrf = ws.csrf_token
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def scope_for(request: Request, user: CurrentUser, ctx: CtxDep, cur: CursorDep) -> Scope:
    scope = build_scope(user, ctx.hospitals(cur), ctx.settings.pii_roles)
    request.state.scope = scope
    return scope


ScopeDep = Annotated[Scope, Depends(scope_for)]


def audit(request: Request, db: Session, user: User, action: str, target: str | None = None,
          filters: dict | None = None, rows: int | None = None) -> None:
    """Every case-level view and every export is written here: who, what, when, filter, client IP."""
    write_audit(db, username=user.username, role=user.role, action=action, target=target,
                filters={k: v for k, v in (filters or {}).items() if v not in (None, "")}, rows=rows,
                client_ip=client_ip(request))


def require_admin(user: CurrentUser) -> User:
    if user.role != "admin":
        raise WebError(403, "WEB-FORBIDDEN-MODULE", "仅系统管理员可以使用【系统管理】", "administrators only")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


def targets_of(cur: duckdb.DuckDBPyConnection, ctx: Context) -> list[dict]:
    """The indicator engine's targets (shipped targets.yaml + warehouse table ind_target), remembered for
    SESSION_CACHE_SECONDS; edits on 系统管理 invalidate at once."""
    from yunying.web.engine_adapter import load_targets
    cached = ctx.targets_cache
    if cached and cached[0] > time.monotonic():
        return cached[1]
    out = load_targets(cur)
    ctx.targets_cache = (time.monotonic() + SESSION_CACHE_SECONDS, out)
    return out
