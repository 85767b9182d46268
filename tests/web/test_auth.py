"""Authentication: password hashing, sessions with idle/absolute expiry, throttling, CSRF, disabled users."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.web.conftest import PASSWORD, audit_rows, close_app, login, new_app
from yunying.web.appdb import LoginAttempt, User, WebSession
from yunying.web.security import hash_password, token_digest, verify_password


def test_password_hash_is_salted_scrypt():
    a, b = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert a.startswith("scrypt$32768$8$1$") and a != b            # fresh salt each time
    assert verify_password("s3cret-pass", a) and verify_password("s3cret-pass", b)
    assert not verify_password("wrong-pass", a)
    assert not verify_password("s3cret-pass", "md5$abc")           # unknown formats never verify
    assert "s3cret" not in a


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("auth"), throttle_user_failures=3, throttle_ip_failures=6)
    yield a
    close_app(a)


def _db(app):
    return app.state.ctx.sessions()


def test_password_stored_hashed(app):
    with _db(app) as s:
        u = s.scalar(select(User).where(User.username == "admin"))
        assert u.password_hash.startswith("scrypt$") and PASSWORD not in u.password_hash


def test_login_ok_and_cookie_flags(app):
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert "yy_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    token = c.cookies.get("yy_session")
    with _db(app) as s:                       # the app DB keeps only the token's digest
        assert s.get(WebSession, token) is None
        assert s.get(WebSession, token_digest(token)) is not None
    assert c.get("/api/auth/me").json()["user"]["role"] == "admin"


def test_wrong_password_is_bilingual_401(app):
    r = TestClient(app).post("/api/auth/login", json={"username": "ops", "password": "nope-nope"})
    assert r.status_code == 401
    err = r.json()["error"]
    assert err["code"] == "WEB-LOGIN" and "密码" in err["zh"] and "password" in err["en"]
    assert r.json()["detail"].index("用户名") < r.json()["detail"].index("wrong")   # Chinese first


def test_unauthenticated_api_and_page(app):
    c = TestClient(app)
    r = c.get("/api/overview")
    assert r.status_code == 401 and r.json()["error"]["code"] == "WEB-AUTH"
    r = c.get("/overview", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/overview")


def test_login_requires_json(app):
    r = TestClient(app).post("/api/auth/login", content='{"username": "admin", "password": "x"}',
                             headers={"content-type": "text/plain"})
    assert r.status_code in (415, 422)


def test_idle_expiry(app):
    c = login(app, "leader_a")
    token = c.cookies.get("yy_session")
    with _db(app) as s:
        s.execute(update(WebSession).where(WebSession.id == token_digest(token))
                  .values(last_seen=dt.datetime.utcnow() - dt.timedelta(minutes=31)))
        s.commit()
    app.state.ctx.session_cache.clear()      # direct DB edits take effect within SESSION_CACHE_SECONDS
    r = c.get("/api/overview")
    assert r.status_code == 401 and r.json()["error"]["code"] == "WEB-SESSION-EXPIRED"
    with _db(app) as s:
        assert s.get(WebSession, token_digest(token)) is None     # expired sessions are deleted


def test_absolute_expiry_even_when_active(app):
    c = login(app, "leader_a")
    token = c.cookies.get("yy_session")
    with _db(app) as s:
        s.execute(update(WebSession).where(WebSession.id == token_digest(token))
                  .values(created_at=dt.datetime.utcnow() - dt.timedelta(hours=11), last_seen=dt.datetime.utcnow()))
        s.commit()
    app.state.ctx.session_cache.clear()
    assert c.get("/api/overview").status_code == 401


def test_session_cache_expires_within_seconds(app, monkeypatch):
    """A session deleted behind the app's back (e.g. by the CLI in another process) stops working within
    SESSION_CACHE_SECONDS; disabling through the app and logging out take effect at once (other tests)."""
    import yunying.web.deps as deps
    c = login(app, "leader_a")
    assert c.get("/api/drg").status_code == 200
    with _db(app) as s:
        s.execute(WebSession.__table__.delete().where(WebSession.id == token_digest(c.cookies.get("yy_session"))))
        s.commit()
    real = deps.time.monotonic
    monkeypatch.setattr(deps.time, "monotonic", lambda: real() + deps.SESSION_CACHE_SECONDS + 1)
    assert c.get("/api/drg").status_code == 401


def test_logout_ends_session(app):
    c = login(app, "leader_a")
    assert c.post("/api/auth/logout").status_code == 200
    assert c.get("/api/overview").status_code == 401


def test_csrf_required_for_state_changes(app):
    c = login(app, "admin")
    good = c.headers.pop("X-CSRF-Token")
    body = {"indicator_id": "OP-08", "value": 8.0}
    r = c.post("/api/admin/targets", json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-CSRF"
    r = c.post("/api/admin/targets", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    other = login(app, "admin").headers["X-CSRF-Token"]          # a token of another session does not work
    assert c.post("/api/admin/targets", json=body, headers={"X-CSRF-Token": other}).status_code == 403
    assert c.post("/api/admin/targets", json=body, headers={"X-CSRF-Token": good}).status_code == 200
    # HTML forms carry it as a field
    r = c.post("/admin/targets", data={"indicator_id": "OP-08", "value": "8"}, follow_redirects=False)
    assert r.status_code == 403
    r = c.post("/admin/targets", data={"indicator_id": "OP-08", "value": "8", "csrf_token": good},
               follow_redirects=False)
    assert r.status_code == 303
    # logout is state-changing too
    assert c.post("/logout", follow_redirects=False).status_code == 403


def test_login_form_needs_prelogin_token(app):
    c = TestClient(app)
    r = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "x"}, follow_redirects=False)
    assert r.status_code == 403
    page = c.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/drg"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/drg"
    c2 = TestClient(app)
    token = c2.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    r = c2.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token,
                                "next": "//evil.example"}, follow_redirects=False)
    assert r.headers["location"] == "/"                             # no open redirect


def _clear_attempts(app):
    with _db(app) as s:
        s.execute(LoginAttempt.__table__.delete())
        s.commit()


def _age_attempts(app, seconds: int):
    """Move every recorded attempt `seconds` into the past (instead of sleeping through a backoff)."""
    with _db(app) as s:
        for a in s.scalars(select(LoginAttempt)).all():
            a.at = a.at - dt.timedelta(seconds=seconds)
        s.commit()


def test_throttle_is_a_backoff_per_user_and_address(app):
    _clear_attempts(app)
    c = TestClient(app, client=("10.1.1.1", 50000))
    for _ in range(3):                                    # throttle_user_failures = 3 are free
        assert c.post("/api/auth/login", json={"username": "records", "password": "bad-bad-bad"}).status_code == 401
    r = c.post("/api/auth/login", json={"username": "records", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "WEB-THROTTLED"
    # first wait = throttle_base_seconds (30): the message and Retry-After say so (29–30 s left)
    assert r.headers["Retry-After"] in ("29", "30") and "秒后再试" in r.json()["error"]["zh"]
    # 31 s later the wait is over: one more failure doubles it to 60 s
    _age_attempts(app, 31)
    assert c.post("/api/auth/login", json={"username": "records", "password": "bad-bad-bad"}).status_code == 401
    r = c.post("/api/auth/login", json={"username": "records", "password": PASSWORD})
    assert r.status_code == 429 and r.headers["Retry-After"] in ("59", "60")
    _age_attempts(app, 61)
    assert c.post("/api/auth/login", json={"username": "records", "password": PASSWORD}).status_code == 200
    # the success clears this address's failures for the user: the next typo is free again
    assert c.post("/api/auth/login", json={"username": "records", "password": "bad-bad-bad"}).status_code == 401
    _clear_attempts(app)


def test_failures_elsewhere_cannot_lock_a_named_user_out(app):
    """An attacker guessing `records`'s password from one address slows only that address: the same user signs in
    from another address at once (before: 5 failures from anywhere locked the account for 15 minutes)."""
    _clear_attempts(app)
    attacker = TestClient(app, client=("10.6.6.6", 50000))
    for _ in range(5):
        attacker.post("/api/auth/login", json={"username": "records", "password": "guess-guess"})
    assert attacker.post("/api/auth/login", json={"username": "records", "password": PASSWORD}).status_code == 429
    user = TestClient(app, client=("10.2.2.2", 50000))
    assert user.post("/api/auth/login", json={"username": "records", "password": PASSWORD}).status_code == 200
    [row] = [a for a in audit_rows(app, action="login_throttled") if a.client_ip == "10.6.6.6"][-1:]
    assert row.username == "records"
    _clear_attempts(app)


def test_throttle_per_ip(app):
    _clear_attempts(app)
    c = TestClient(app, client=("10.3.3.3", 50000))
    for n in range(6):   # different usernames, same client address (throttle_ip_failures = 6)
        assert c.post("/api/auth/login", json={"username": f"ghost{n}", "password": "x-x-x-x-x"}).status_code == 401
    assert c.post("/api/auth/login", json={"username": "ops", "password": PASSWORD}).status_code == 429
    # another address is not slowed by it
    assert TestClient(app, client=("10.4.4.4", 50000)).post(
        "/api/auth/login", json={"username": "ops", "password": PASSWORD}).status_code == 200
    _clear_attempts(app)


@pytest.mark.parametrize("peer, forwarded, counted_as", [
    ("10.9.0.1", "192.0.2.7", "192.0.2.7"),                 # the configured proxy: its header is believed
    ("10.9.0.1", "203.0.113.5, 192.0.2.7", "192.0.2.7"),    # right-most address not a proxy (first is client-made)
    ("10.9.0.1", "192.0.2.7, 10.9.0.2", "192.0.2.7"),       # a chain of trusted proxies is skipped
    ("10.9.0.1", "not-an-ip", "10.9.0.1"),                  # garbage: counted under the proxy
    ("192.0.2.50", "198.51.100.1", "192.0.2.50"),           # anyone else: the header is ignored
])
def test_forwarded_address_trusted_from_configured_proxy_only(demo_folder, tmp_path, peer, forwarded, counted_as):
    a = new_app(demo_folder, tmp_path / "proxy", trusted_proxies=["10.9.0.0/24"])
    try:
        c = TestClient(a, client=(peer, 50000))
        r = c.post("/api/auth/login", json={"username": "ops", "password": "wrong-wrong"},
                   headers={"X-Forwarded-For": forwarded})
        assert r.status_code == 401
        with a.state.ctx.sessions() as s:
            [attempt] = s.scalars(select(LoginAttempt)).all()
        assert attempt.client_ip == counted_as
        assert [x.client_ip for x in audit_rows(a, action="login_failed")] == [counted_as]
    finally:
        close_app(a)


def test_forwarded_header_ignored_without_configured_proxy(app):
    _clear_attempts(app)
    c = TestClient(app, client=("127.0.0.1", 50000))
    c.post("/api/auth/login", json={"username": "ops", "password": "wrong-wrong"},
           headers={"X-Forwarded-For": "198.51.100.9"})
    with _db(app) as s:
        assert [a.client_ip for a in s.scalars(select(LoginAttempt)).all()] == ["127.0.0.1"]
    _clear_attempts(app)


def test_serve_does_not_let_uvicorn_rewrite_the_client_address(monkeypatch, demo_folder, tmp_path):
    """uvicorn's proxy_headers (on by default, trusting 127.0.0.1) would replace the peer with X-Forwarded-For
    before the app sees it; `yunying serve` turns it off and passes --trusted-proxy to the app instead."""
    import shutil

    import uvicorn

    from yunying.cli import web as cli_web
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    monkeypatch.setattr(cli_web, "ensure_port_free", lambda host, port: None)
    db = tmp_path / "w.duckdb"
    shutil.copy(demo_folder / "template.duckdb", db)
    cli_web.serve_cmd(db=db, host="127.0.0.1", port=8999, app_db=f"sqlite:///{tmp_path / 'a.sqlite'}",
                      secure_cookies=False, trusted_proxy=["10.0.0.1"])
    close_app(seen["app"])
    assert seen["proxy_headers"] is False and seen["app"].state.ctx.settings.trusted_proxies == ["10.0.0.1"]


def test_disabled_user(app):
    c = login(app, "insurance")
    admin = login(app, "admin")
    assert admin.post("/api/admin/users/insurance/disable").status_code == 200
    assert c.get("/api/drg").status_code == 401                      # existing session ends at once
    r = TestClient(app).post("/api/auth/login", json={"username": "insurance", "password": PASSWORD})
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-DISABLED"


def test_admin_cannot_disable_self_and_non_admin_cannot_manage(app):
    admin = login(app, "admin")
    assert admin.post("/api/admin/users/admin/disable").status_code == 400
    lead = login(app, "leader_a")
    assert lead.get("/api/admin/users").status_code == 403
    assert lead.post("/api/admin/users", json={"username": "x", "password": "12345678", "role": "admin"}
                     ).status_code == 403
