"""`yunying serve` (the web application) and `yunying users add|list|disable` (accounts in the application DB)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from yunying.cli.common import console, fail

users_app = typer.Typer(help="用户管理 / web accounts (application DB)", no_args_is_help=True)

AppDbOpt = Annotated[Optional[str], typer.Option("--app-db", help="应用库 SQLAlchemy URL（默认：仓库旁的 *.app.sqlite）"
                                                                   " / application DB URL (sqlite:///… or postgresql+psycopg://…)")]
DbOption = Annotated[Optional[Path], typer.Option("--db", help="仓库文件 DuckDB warehouse file (or YUNYING_DB)")]

# documented demo accounts (docs/web.md) — for the synthetic demo hospital only, never for real data
DEMO_ACCOUNTS = [
    # username, password, role, dept, hospital, office, description
    ("admin", "yunying-admin", "admin", None, None, None, "系统管理员 administrator"),
    ("leader", "yunying-leader", "leader", None, None, None, "院领导 hospital leader (whole hospital)"),
    ("qc", "yunying-qc", "office", None, None, "qc", "质控办 QC office"),
    ("card1", "yunying-card1", "dept_head", "CARD1", None, None, "科主任 心血管内科一病区 CARD1 (own department only)"),
]


def _app_db_url(app_db: str | None, db: Path | None) -> str:
    from yunying.settings import load_settings
    from yunying.web.config import default_app_db_url

    if app_db:
        return app_db
    return default_app_db_url(load_settings(db=db).db)


def _session(url: str):
    from yunying.web.appdb import make_engine, session_factory

    try:
        engine = make_engine(url)
    except Exception as exc:  # unreachable server, bad URL
        fail(f"无法打开应用库 {url}：{exc}", f"cannot open the application DB {url}: {exc}")
    return session_factory(engine)()


def demo_accounts(app_db_url: str) -> list[tuple[str, str, str]]:
    """Create (or reset) the documented demo accounts; returns (username, password, role description)."""
    from yunying.web.appdb import add_user, make_engine, session_factory

    engine = make_engine(app_db_url)
    out = []
    with session_factory(engine)() as db:
        for username, password, role, dept, hospital, office, desc in DEMO_ACCOUNTS:
            add_user(db, username, password, role, dept=dept, hospital=hospital, office=office, replace=True)
            out.append((username, password, desc))
    engine.dispose()
    return out


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option("--username", help="用户名")],
    password: Annotated[str, typer.Option("--password", help="密码（至少 8 位）/ password (≥ 8 characters)")],
    role: Annotated[str, typer.Option("--role", help="admin | leader | office | dept_head")],
    dept: Annotated[Optional[str], typer.Option("--dept", help="科主任的科室代码 / department code (dept_head)")] = None,
    hospital: Annotated[Optional[str], typer.Option("--hospital", help="医疗机构代码；* = 全区域 / hospital id, * = region")] = None,
    office: Annotated[Optional[str], typer.Option("--office", help="职能科室 qc|ops|medical|records|insurance|finance")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="已存在时重设 / reset an existing account")] = False,
    app_db: AppDbOpt = None,
    db: DbOption = None,
) -> None:
    """新增用户 / add a web account."""
    from yunying.web.appdb import UserError, add_user

    with _session(_app_db_url(app_db, db)) as s:
        try:
            user = add_user(s, username, password, role, dept=dept, hospital=hospital, office=office, replace=replace)
        except UserError as exc:
            fail(exc.zh, exc.en, 2)
        console.print(f"已创建 created {user.username}：{user.describe()}")


@users_app.command("list")
def users_list(app_db: AppDbOpt = None, db: DbOption = None) -> None:
    """列出用户 / list web accounts."""
    from sqlalchemy import select

    from yunying.web.appdb import User

    with _session(_app_db_url(app_db, db)) as s:
        users = s.scalars(select(User).order_by(User.username)).all()
        typer.echo(f"{'username':16s} {'role':10s} {'office':9s} {'dept':8s} {'hospital':9s} active")
        for u in users:
            typer.echo(f"{u.username:16s} {u.role:10s} {u.office or '-':9s} {u.dept_code or '-':8s} "
                       f"{u.hospital_id or '-':9s} {'yes' if u.active else 'no'}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="用户名")], app_db: AppDbOpt = None,
                  db: DbOption = None) -> None:
    """停用用户（并结束其会话）/ disable an account and end its sessions."""
    from yunying.web.auth import disable_user
    from yunying.web.errors import WebError

    with _session(_app_db_url(app_db, db)) as s:
        try:
            disable_user(s, username)
        except WebError as exc:
            fail(exc.zh, exc.en, 2)
    console.print(f"已停用 disabled {username}")


def ensure_port_free(host: str, port: int) -> None:
    """Fail before any work when the port is taken (a second `make demo` or another server)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            fail(f"端口 {port} 已被占用或不可用（{host}，可能另一个 yunying serve 正在运行）。请换一个端口：\n"
                 f"  yunying serve --port {port + 1}    或    make demo PORT={port + 1}",
                 f"port {port} on {host} is in use or unavailable ({exc.strerror}); choose another: "
                 f"yunying serve --port {port + 1}  or  make demo PORT={port + 1}", 2)


def serve_cmd(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="监听地址 / bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口 / port")] = 8000,
    app_db: AppDbOpt = None,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="HTTPS 反向代理之后使用 / behind HTTPS")] = False,
    trusted_proxy: Annotated[Optional[list[str]], typer.Option(
        "--trusted-proxy", help="反向代理地址或网段（可多次）；仅信任其 X-Forwarded-For / reverse proxy address or CIDR "
                                "(repeatable); X-Forwarded-For is believed from these only")] = None,
) -> None:
    """启动网页应用 / serve the web application (dashboard, API under /api, OpenAPI document at /openapi.json)."""
    import uvicorn

    from yunying.settings import load_settings
    from yunying.web.app import create_app
    from yunying.web.appdb import count_users
    from yunying.web.config import WebSettings

    ensure_port_free(host, port)
    settings = load_settings(db=db)
    if not settings.db.exists():
        fail(f"仓库文件不存在：{settings.db}（请先导入数据或运行 yunying demo run）",
             f"warehouse not found: {settings.db} (import data or run yunying demo run first)")
    ws = WebSettings(db=settings.db, app_db_url=app_db, secure_cookies=secure_cookies,
                     memory_limit=settings.memory_limit, threads=settings.threads,
                     trusted_proxies=list(trusted_proxy or []))
    try:
        app = create_app(ws)
    except Exception as exc:  # duckdb lock held by another process, app DB unreachable
        fail(f"无法启动：{exc}", f"cannot start: {exc}")
    with app.state.ctx.sessions() as s:
        if count_users(s) == 0:
            console.print("[yellow]应用库中还没有用户：请用 yunying users add --role admin … 创建管理员[/yellow]\n"
                          "No users yet: create an administrator with yunying users add --role admin …")
    console.print(f"运营 Yunying 网页 → http://{host}:{port}/  （OpenAPI /openapi.json；应用库 app DB {ws.app_db}）")
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1; the app decides itself,
    # from --trusted-proxy only (yunying.web.deps.client_ip)
    uvicorn.run(app, host=host, port=port, workers=1, log_level="warning", proxy_headers=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.add_typer(users_app, name="users")
