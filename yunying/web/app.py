"""FastAPI application factory: `create_app(settings)`."""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from urllib.parse import quote

from yunying.web.appdb import make_engine, session_factory, write_audit
from yunying.web.config import WebSettings
from yunying.web.deps import Context, CurrentUser, client_ip
from yunying.web.engine_adapter import key_indicators, warm
from yunying.web.errors import WebError
from yunying.web.jobs import JobQueue
from yunying.web.warehouse import Warehouse


HTTP_ERRORS = {  # status -> (zh, en, code) of errors raised by the framework itself (no route, wrong method …)
    404: ("页面不存在", "no such page", "WEB-NOT-FOUND"),
    405: ("不支持该请求方法", "method not allowed", "WEB-METHOD"),
    413: ("请求内容过大", "request too large", "WEB-UPLOAD-SIZE"),
}


class BodyLimit:
    """Refuse a request body larger than `limit` bytes before it is spooled to disk: by Content-Length at once,
    and by counting what arrives (a chunked body has none)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = HTTPException(413, "WEB-UPLOAD-SIZE")
        if length is not None and length.isdigit() and int(length) > self.limit:
            async def nothing():
                raise too_big
            return await self.app(scope, nothing, send)
        seen = 0

        async def counted():
            nonlocal seen
            msg = await receive()
            if msg.get("type") == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise too_big
            return msg
        return await self.app(scope, counted, send)


def create_app(settings: WebSettings) -> FastAPI:
    wh = Warehouse(settings.db, memory_limit=settings.memory_limit, threads=settings.threads)
    engine = make_engine(settings.app_db)
    key_indicators()        # the dashboard's engine ids are checked (and the engine catalogue loaded) at start
    sessions = session_factory(engine)
    jobs = JobQueue(wh, on_data=(lambda cur: warm(wh, cur)) if settings.warm_cache else None, sessions=sessions)
    ctx = Context(settings=settings, wh=wh, sessions=sessions, jobs=jobs)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        ctx.jobs.wait_idle(60)     # let a running import finish (each file is atomic anyway)
        ctx.jobs.stop()
        try:
            wh.close()             # checkpoint the warehouse cleanly
        except Exception:
            pass

    # docs_url/redoc_url off: FastAPI's Swagger/ReDoc pages load their assets from a CDN; the OpenAPI document
    # is served at /openapi.json to signed-in users only (route below), never to anonymous callers
    app = FastAPI(title="运营 Yunying", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None,
                  description="院科两级运营与质量决策支持平台 API / hospital- and department-level operations API. "
                              "Sign in with POST /api/auth/login; send the returned csrf_token as X-CSRF-Token "
                              "on every state-changing call.")
    app.state.ctx = ctx
    app.state.engine = engine
    app.mount("/static", StaticFiles(directory=str(resources.files("yunying.web").joinpath("static"))),
              name="static")

    # the largest body: a full upload (every file at its limit) plus form fields
    app.add_middleware(BodyLimit, limit=(settings.upload_max_mb * settings.upload_max_files + 1) << 20)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        resp = await call_next(request)
        resp.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith("/api") or request.url.path.startswith("/case"):
            resp.headers.setdefault("Cache-Control", "no-store")     # patient data never lands in a cache
        return resp

    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError):
        user = getattr(request.state, "user", None)
        if (exc.status == 403 or exc.audit_code) and user is not None:
            def _audit():                   # refused requests are part of the audit trail (off the event loop)
                with ctx.sessions() as db:
                    write_audit(db, username=user.username, role=user.role, action="denied",
                                target=f"{request.method} {request.url.path}"[:300],
                                filters={**dict(request.query_params), "code": exc.audit_code or exc.code},
                                client_ip=client_ip(request))
            await run_in_threadpool(_audit)
        if request.url.path.startswith("/api"):
            return JSONResponse(exc.as_dict(), status_code=exc.status, headers=exc.headers)
        if exc.status == 401:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)
        from yunying.web.pages_common import render
        resp = render(request, "error.html", {"error": exc}, status_code=exc.status)
        resp.headers.update(exc.headers or {})
        return resp

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """Unknown pages and methods answer like every other error: Chinese first, English, a stable code."""
        zh, en, code = HTTP_ERRORS.get(exc.status_code, ("请求无法处理", "the request cannot be handled", "WEB-HTTP"))
        if exc.status_code == 413:
            mb = settings.upload_max_mb
            zh = f"请求内容超过上限（每个文件 {mb} MB，每次最多 {settings.upload_max_files} 个文件），请拆分后上传"
            en = f"request too large (at most {mb} MB per file, {settings.upload_max_files} files per upload); split it"
        elif exc.status_code == 404:
            zh, en = f"页面不存在：{request.url.path}", f"no such page: {request.url.path}"
        return await web_error(request, WebError(exc.status_code, code, zh, en, headers=exc.headers))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        parts = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', []))}: {e.get('msg')}" for e in exc.errors())
        err = WebError(422, "WEB-PARAM", f"请求参数无效：{parts}", f"invalid request parameters: {parts}")
        if request.url.path.startswith("/api"):
            return JSONResponse(err.as_dict(), status_code=422)
        from yunying.web.pages_common import render
        return render(request, "error.html", {"error": err}, status_code=422)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: CurrentUser):
        """The OpenAPI document, for signed-in users only (it lists every route and parameter)."""
        return JSONResponse(app.openapi())

    from yunying.web.routes import admin, api, auth, cost, pages, reports
    app.include_router(auth.router)
    app.include_router(api.router)
    app.include_router(admin.router)
    app.include_router(reports.router)
    app.include_router(cost.router)
    app.include_router(pages.router)
    return app
