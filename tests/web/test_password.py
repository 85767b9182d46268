"""A user changes their own password: current password required, the account policy, other sessions end (this one
stays), scrypt hash, audit without the password; API and page."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, audit_rows, close_app, login, new_app

NEW = "another-pass-9"


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("password"))
    yield a
    close_app(a)


def make_user(app, username: str, role: str = "office", office: str | None = "qc", dept: str | None = None) -> None:
    from yunying.web.appdb import add_user
    with app.state.ctx.sessions() as s:
        add_user(s, username, PASSWORD, role, office=office, dept=dept, hospital="H001", replace=True)


def stored_hash(app, username: str) -> str:
    from sqlalchemy import select

    from yunying.web.appdb import User
    with app.state.ctx.sessions() as s:
        return s.scalar(select(User.password_hash).where(User.username == username))


def test_change_ends_other_sessions_and_keeps_this_one(app):
    from yunying.web.security import verify_password
    make_user(app, "pw_a")
    a, b, c = login(app, "pw_a"), login(app, "pw_a"), login(app, "pw_a")
    assert b.get("/api/auth/me").status_code == 200          # b's session is now in the server's session memory
    before = stored_hash(app, "pw_a")
    r = a.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "sessions_ended": 2}
    assert a.get("/api/auth/me").status_code == 200          # the session that made the change stays
    for other in (b, c):                                     # at once, not after the 3-second session memory
        r = other.get("/api/auth/me")
        assert r.status_code == 401 and r.json()["error"]["code"] == "WEB-SESSION-EXPIRED"
    h = stored_hash(app, "pw_a")
    assert h != before and h.startswith("scrypt$32768$8$1$") and verify_password(NEW, h)
    r = TestClient(app).post("/api/auth/login", json={"username": "pw_a", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["error"]["code"] == "WEB-LOGIN"
    assert login(app, "pw_a", NEW).get("/api/auth/me").json()["user"]["username"] == "pw_a"
    [row] = audit_rows(app, username="pw_a", action="password_change")
    assert row.target == "pw_a" and json.loads(row.filters) == {"sessions_ended": 2} and row.client_ip
    for r in audit_rows(app, username="pw_a"):               # no password anywhere in the trail
        assert PASSWORD not in (r.filters or "") + (r.target or "") and NEW not in (r.filters or "") + (r.target or "")


def test_wrong_current_password_changes_nothing(app):
    make_user(app, "pw_b")
    a, b = login(app, "pw_b"), login(app, "pw_b")
    before = stored_hash(app, "pw_b")
    r = a.post("/api/auth/password", json={"current_password": "wrong-password", "new_password": NEW})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "WEB-PASSWORD-CURRENT" and "当前密码不正确" in err["zh"] and "current password" in err["en"]
    assert stored_hash(app, "pw_b") == before
    assert b.get("/api/auth/me").status_code == 200          # no session ended
    assert login(app, "pw_b").get("/api/auth/me").status_code == 200
    [row] = audit_rows(app, username="pw_b", action="password_change_failed")
    assert json.loads(row.filters) == {"code": "WEB-PASSWORD-CURRENT"}
    assert not audit_rows(app, username="pw_b", action="password_change")


def test_guessing_the_current_password_is_throttled(app):
    make_user(app, "pw_c")
    a = login(app, "pw_c")
    for _ in range(5):                                       # throttle_user_failures = 5
        assert a.post("/api/auth/password", json={"current_password": "guess-guess",
                                                  "new_password": NEW}).status_code == 400
    r = a.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 429 and r.json()["error"]["code"] == "WEB-THROTTLED"
    assert verify(app, "pw_c", PASSWORD)                     # even the right password changed nothing


def verify(app, username: str, password: str) -> bool:
    from yunying.web.security import verify_password
    return verify_password(password, stored_hash(app, username))


@pytest.mark.parametrize("new, fragment", [("short7!", "至少 8 位"), ("PW_POLICY", "用户名"),
                                           ("pw_policy", "用户名"), (PASSWORD, "当前密码相同")])
def test_new_password_policy(app, new, fragment):
    make_user(app, "pw_policy")
    a = login(app, "pw_policy")
    r = a.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": new})
    assert r.status_code == 400 and r.json()["error"]["code"] == "WEB-PASSWORD-POLICY"
    assert fragment in r.json()["error"]["zh"]
    assert verify(app, "pw_policy", PASSWORD)


def test_password_change_needs_csrf_and_a_session(app):
    make_user(app, "pw_e")
    a = login(app, "pw_e")
    token = a.headers.pop("X-CSRF-Token")
    r = a.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 403 and r.json()["error"]["code"] == "WEB-CSRF"
    r = a.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW,
                                          "confirm_password": NEW, "csrf_token": "forged"})
    assert r.status_code == 403
    assert verify(app, "pw_e", PASSWORD)
    a.headers["X-CSRF-Token"] = token
    r = TestClient(app).post("/api/auth/password", json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 401


def test_password_page(app):
    make_user(app, "pw_f", role="dept_head", office=None, dept="CARD1")     # every role may change its password
    a = login(app, "pw_f")
    assert 'href="/account/password"' in a.get("/dept/CARD1").text            # linked from the header
    page = a.get("/account/password")
    assert page.status_code == 200 and 'id="password-form"' in page.text and "当前密码" in page.text
    assert a.headers["X-CSRF-Token"] in page.text
    csrf = a.headers.pop("X-CSRF-Token")                                      # the form posts its own field
    form = {"csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW + "x"}
    r = a.post("/account/password", data=form)
    assert r.status_code == 400 and "WEB-PASSWORD-CONFIRM" in r.text and "两次输入的新密码不一致" in r.text
    r = a.post("/account/password", data={**form, "current_password": "nope-nope"})
    assert r.status_code == 400 and "WEB-PASSWORD-CONFIRM" in r.text          # checked before the current one
    r = a.post("/account/password", data={**form, "current_password": "nope-nope", "confirm_password": NEW})
    assert r.status_code == 400 and "WEB-PASSWORD-CURRENT" in r.text
    r = a.post("/account/password", data={**form, "confirm_password": NEW}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/password?changed=1"
    assert "密码已修改" in a.get("/account/password?changed=1").text
    assert "Password changed" in a.get("/account/password?changed=1&lang=en").text     # English via ?lang=en
    assert verify(app, "pw_f", NEW)
    assert audit_rows(app, username="pw_f", action="password_change")


def test_account_policy_is_the_same_for_new_users(app):
    admin = login(app, "admin")
    r = admin.post("/api/admin/users", json={"username": "samename1", "password": "samename1", "role": "leader",
                                             "hospital": "H001"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "WEB-USER" and "用户名" in r.json()["error"]["zh"]
    r = admin.post("/api/admin/users", json={"username": "samename2", "password": "a-good-pass-1", "role": "leader",
                                             "hospital": "H001"})
    assert r.status_code == 201


def test_reset_by_the_administrator_ends_the_users_sessions(app):
    # `yunying users add NAME --replace` (add_user(replace=True)): new password, role or scope — the old sessions
    # end (within the server's few seconds of session memory; cleared here instead of waiting)
    make_user(app, "pw_reset")
    c = login(app, "pw_reset")
    assert c.get("/api/auth/me").status_code == 200
    from yunying.web.appdb import add_user
    with app.state.ctx.sessions() as s:
        add_user(s, "pw_reset", NEW, "office", office="qc", hospital="H001", replace=True)
    app.state.ctx.session_cache.clear()
    r = c.get("/api/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "WEB-SESSION-EXPIRED"
    assert login(app, "pw_reset", NEW).get("/api/auth/me").json()["user"]["username"] == "pw_reset"
