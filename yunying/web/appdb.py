"""Application database (SQLAlchemy 2): users, sessions, login attempts, audit log (indicator targets live in the
warehouse table ind_target of the indicator engine).

SQLite by default (a file beside the warehouse), PostgreSQL by URL (postgresql+psycopg://…).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (Boolean, DateTime, ForeignKey, Integer, String, Text, create_engine, delete, event,
                        func, select)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from yunying.web.security import hash_password

ROLES = ("admin", "leader", "office", "dept_head")
OFFICES = ("ops", "qc", "medical", "records", "insurance", "finance")
ROLE_ZH = {"admin": "系统管理员", "leader": "院领导", "office": "职能科室", "dept_head": "科主任"}
OFFICE_ZH = {"ops": "运营管理部", "qc": "质控办", "medical": "医务部", "records": "病案统计科",
             "insurance": "医保办", "finance": "财务部"}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "web_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    hospital_id: Mapped[str | None] = mapped_column(String(64), nullable=True)   # '*' = region-wide
    dept_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    office: Mapped[str | None] = mapped_column(String(16), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def describe(self) -> str:
        parts = [ROLE_ZH.get(self.role, self.role)]
        if self.office:
            parts.append(OFFICE_ZH.get(self.office, self.office))
        if self.dept_code:
            parts.append(f"科室 {self.dept_code}")
        if self.hospital_id:
            parts.append("全区域" if self.hospital_id == "*" else f"医院 {self.hospital_id}")
        return " · ".join(parts)


class WebSession(Base):
    __tablename__ = "web_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)        # sha256 of the cookie token
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LoginAttempt(Base):
    __tablename__ = "web_login_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client_ip: Mapped[str] = mapped_column(String(64), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class AuditLog(Base):
    __tablename__ = "web_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)     # case_list / case_view / export / login …
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    filters: Mapped[str | None] = mapped_column(Text, nullable=True)   # JSON
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)


class JobRecord(Base):
    """A background job (import, regroup, QC), kept so that its page and result outlive a restart."""
    __tablename__ = "web_job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(500))
    params: Mapped[str | None] = mapped_column(Text, nullable=True)     # JSON
    status: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)     # JSON
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


def make_engine(url: str) -> Engine:
    # requests hold a pooled connection only briefly (each read ends its transaction); a pool larger than the
    # thread pool's share keeps 20+ concurrent users from ever waiting for one
    kwargs: dict = {"pool_pre_ping": True, "pool_size": 20, "max_overflow": 40, "pool_timeout": 10}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_con, _):  # WAL: readers never wait for the audit writer
            cur = dbapi_con.cursor()
            cur.execute("pragma journal_mode=wal")
            cur.execute("pragma foreign_keys=on")
            cur.close()
    Base.metadata.create_all(engine)
    with engine.begin() as con:     # targets live in the warehouse (ind_target) since the one-target-store change
        con.exec_driver_sql("drop table if exists web_target")
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class UserError(ValueError):
    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def validate_user_fields(role: str, dept: str | None, hospital: str | None, office: str | None) -> None:
    if role not in ROLES:
        raise UserError(f"角色应为 {'/'.join(ROLES)}，收到 {role!r}", f"role must be one of {', '.join(ROLES)}")
    if role == "dept_head" and not dept:
        raise UserError("科主任账号必须指定 --dept 科室代码", "a dept_head account needs --dept CODE")
    if role == "office" and office not in OFFICES:
        raise UserError(f"职能科室账号必须指定 --office（{'/'.join(OFFICES)}）",
                        f"an office account needs --office ({', '.join(OFFICES)})")
    if role != "dept_head" and dept:
        raise UserError("只有科主任账号可以指定科室", "only dept_head accounts have a department")


def add_user(db: Session, username: str, password: str, role: str, *, dept: str | None = None,
             hospital: str | None = None, office: str | None = None, display_name: str | None = None,
             replace: bool = False) -> User:
    from yunying.web.security import password_problem

    validate_user_fields(role, dept, hospital, office)
    if (problem := password_problem(password, username)):
        raise UserError(*problem)
    user = db.scalar(select(User).where(User.username == username))
    if user is not None and not replace:
        raise UserError(f"用户 {username} 已存在", f"user {username} already exists")
    if user is None:
        user = User(username=username)
        db.add(user)
    else:
        # a reset (new password, role or scope) ends the user's sessions: they sign in again under the new account
        db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    user.password_hash = hash_password(password)
    user.role, user.dept_code, user.hospital_id = role, dept, hospital
    user.office = office if role == "office" else None
    user.display_name, user.active = display_name, True
    db.commit()
    return user


def write_audit(db: Session, *, username: str, role: str | None, action: str, target: str | None = None,
                filters: dict | None = None, rows: int | None = None, client_ip: str | None = None) -> None:
    db.add(AuditLog(username=username, role=role, action=action, target=target,
                    filters=json.dumps(filters, ensure_ascii=False, sort_keys=True, default=str) if filters else None,
                    rows=rows, client_ip=client_ip))
    db.commit()


def count_users(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0
