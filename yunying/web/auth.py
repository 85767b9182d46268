"""Login with throttling (backoff per user and client address, and per client address), server-side sessions, logout."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yunying.web.appdb import LoginAttempt, User, WebSession, utcnow, write_audit
from yunying.web.config import WebSettings
from yunying.web.errors import WebError
from yunying.web.security import hash_password, new_token, password_problem, token_digest, verify_password

_DUMMY_HASH: str | None = None


def _dummy() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    return _DUMMY_HASH


def _failures(db: Session, since: dt.datetime, **where) -> tuple[int, dt.datetime | None]:
    """(number, time of the last) of failed logins since `since` matching `where` (username and/or client_ip);
    with a username, a successful login of that user from the same address clears the earlier failures."""
    q = select(func.count(), func.max(LoginAttempt.at)).where(LoginAttempt.ok.is_(False), LoginAttempt.at >= since)
    for k, v in where.items():
        q = q.where(getattr(LoginAttempt, k) == v)
    if "username" in where:
        ok = select(func.max(LoginAttempt.at)).where(LoginAttempt.ok.is_(True))
        for k, v in where.items():
            ok = ok.where(getattr(LoginAttempt, k) == v)
        last_ok = db.scalar(ok)
        if last_ok and last_ok > since:
            q = q.where(LoginAttempt.at > last_ok)
    n, last = db.execute(q).one()
    return n or 0, last


def backoff_seconds(failures: int, free: int, settings: WebSettings) -> int:
    """The wait after `failures` failures when `free` are allowed without one: base, then doubling, capped."""
    if failures < free:
        return 0
    return min(settings.throttle_base_seconds * 2 ** min(failures - free, 30), settings.throttle_max_seconds)


def throttle_wait(db: Session, settings: WebSettings, username: str, ip: str) -> int:
    """Seconds this address must still wait before trying `username` again (0 = may try now). Two backoffs,
    never a lock of the account: failures of the user from *this* address, and failures from this address under
    any user name. Failures elsewhere never slow this address, so nobody can lock a named user out."""
    now = utcnow()
    since = now - dt.timedelta(minutes=settings.throttle_window_minutes)
    wait = 0
    for where, free in (({"username": username, "client_ip": ip}, settings.throttle_user_failures),
                        ({"client_ip": ip}, settings.throttle_ip_failures)):
        n, last = _failures(db, since, **where)
        delay = backoff_seconds(n, free, settings)
        if delay and last is not None:
            wait = max(wait, int((last + dt.timedelta(seconds=delay) - now).total_seconds() + 0.999))
    return max(wait, 0)


def throttled(wait: int, zh_what: str = "登录失败次数过多", en_what: str = "too many failed logins") -> WebError:
    return WebError(429, "WEB-THROTTLED",
                    f"{zh_what}，请 {wait} 秒后再试（只限制本地址；从其他地址登录不受影响）",
                    f"{en_what} from this address; try again in {wait} seconds (other addresses are not affected)",
                    headers={"Retry-After": str(wait)})


def login(db: Session, settings: WebSettings, username: str, password: str, ip: str) -> tuple[User, str, str]:
    """Returns (user, session token for the cookie, csrf token) or raises a bilingual WebError."""
    username = (username or "").strip()
    wait = throttle_wait(db, settings, username, ip)
    if wait > 0:
        write_audit(db, username=username or "-", role=None, action="login_throttled", client_ip=ip,
                    filters={"retry_after": wait})
        raise throttled(wait)
    user = db.scalar(select(User).where(User.username == username)) if username else None
    ok = verify_password(password or "", user.password_hash if user else _dummy())
    if not ok or user is None:
        db.add(LoginAttempt(username=username, client_ip=ip, ok=False))
        db.commit()
        write_audit(db, username=username or "-", role=None, action="login_failed", client_ip=ip)
        raise WebError(401, "WEB-LOGIN", "用户名或密码错误", "wrong username or password")
    if not user.active:
        db.add(LoginAttempt(username=username, client_ip=ip, ok=False))
        db.commit()
        raise WebError(403, "WEB-DISABLED", "账号已停用，请联系管理员", "this account is disabled")
    db.add(LoginAttempt(username=username, client_ip=ip, ok=True))
    token, csrf = new_token(), new_token()
    db.add(WebSession(id=token_digest(token), user_id=user.id, csrf_token=csrf, client_ip=ip))
    # housekeeping: drop this user's expired sessions and week-old attempts
    old = utcnow() - dt.timedelta(hours=settings.session_absolute_hours)
    db.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.created_at < old))
    db.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - dt.timedelta(days=7)))
    db.commit()
    write_audit(db, username=user.username, role=user.role, action="login", client_ip=ip)
    return user, token, csrf


def logout(db: Session, token: str | None, user: User | None, ip: str) -> None:
    if token:
        ws = db.get(WebSession, token_digest(token))
        if ws is not None:
            db.delete(ws)
            db.commit()
    if user is not None:
        write_audit(db, username=user.username, role=user.role, action="logout", client_ip=ip)


def disable_user(db: Session, username: str) -> User:
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise WebError(404, "WEB-NOT-FOUND", f"没有用户 {username}", f"no user {username}")
    user.active = False
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    db.commit()
    return user


def change_password(db: Session, settings: WebSettings, user: User, keep_session: str | None, current: str,
                    new: str, ip: str) -> int:
    """A user changes their own password: the current one is required (a wrong one counts as a failed login, so
    the login throttle also limits guessing through this form), the new one follows `password_problem` and differs
    from the current one. Every other session of the user ends; `keep_session` (the digest of the session making
    the change) stays signed in. Returns the number of sessions ended. The audit row never holds a password."""
    wait = throttle_wait(db, settings, user.username, ip)
    if wait > 0:
        write_audit(db, username=user.username, role=user.role, action="password_change_failed",
                    target=user.username, filters={"code": "WEB-THROTTLED"}, client_ip=ip)
        raise throttled(wait, "密码错误次数过多", "too many wrong passwords")
    stored = db.get(User, user.id)
    if stored is None or not stored.active:
        raise WebError(401, "WEB-DISABLED", "账号已停用，请联系管理员", "this account is disabled")
    if not verify_password(current or "", stored.password_hash):
        db.add(LoginAttempt(username=user.username, client_ip=ip, ok=False))
        db.commit()
        write_audit(db, username=user.username, role=user.role, action="password_change_failed",
                    target=user.username, filters={"code": "WEB-PASSWORD-CURRENT"}, client_ip=ip)
        raise WebError(400, "WEB-PASSWORD-CURRENT", "当前密码不正确，密码未修改；请重新输入当前密码",
                       "the current password is wrong; nothing changed — enter your current password again")
    problem = password_problem(new or "", user.username)
    if problem is None and new == current:
        problem = ("新密码不能与当前密码相同", "the new password must differ from the current one")
    if problem is not None:
        raise WebError(400, "WEB-PASSWORD-POLICY", f"新密码不符合要求：{problem[0]}；密码未修改",
                       f"the new password is not accepted: {problem[1]}; nothing changed")
    stored.password_hash = hash_password(new)
    ended = db.execute(delete(WebSession).where(WebSession.user_id == user.id,
                                                WebSession.id != (keep_session or ""))).rowcount or 0
    db.commit()
    write_audit(db, username=user.username, role=user.role, action="password_change", target=user.username,
                filters={"sessions_ended": ended}, client_ip=ip)
    return ended
