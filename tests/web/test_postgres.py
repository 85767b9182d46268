"""The application DB on a real PostgreSQL server (a throw-away cluster started by scripts/pg-test-cluster.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import OWN_DEPT, PASSWORD, audit_rows, close_app, login, new_app

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg-test-cluster.sh"


@pytest.fixture(scope="module")
def pg_url():
    base = Path(tempfile.mkdtemp(prefix="yunying-pg-", dir="/tmp"))
    os.chmod(base, 0o755)
    cluster = base / "cluster"
    try:
        out = subprocess.run(["sh", str(SCRIPT), "start", str(cluster)], capture_output=True, text=True, timeout=90)
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL test cluster could not start: {exc}")
    if out.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL test cluster could not start (scripts/pg-test-cluster.sh exit {out.returncode}): "
                    f"{out.stderr.strip()[-300:]}")
    yield out.stdout.strip().splitlines()[-1]
    subprocess.run(["sh", str(SCRIPT), "stop", str(cluster)], capture_output=True, timeout=60)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory, pg_url):
    a = new_app(demo_folder, tmp_path_factory.mktemp("pgapp"), app_db_url=pg_url)
    yield a
    close_app(a)


def test_app_db_is_postgres(app, pg_url):
    assert app.state.engine.dialect.name == "postgresql"


def test_login_scope_audit_on_postgres(app):
    c = login(app, "card1")
    assert c.get(f"/api/dept/{OWN_DEPT}").status_code == 200
    assert c.get("/api/dept/ORTHO").status_code == 403
    assert c.get(f"/api/cases?dept={OWN_DEPT}&limit=3").status_code == 200
    assert audit_rows(app, username="card1", action="case_list")
    assert audit_rows(app, username="card1", action="denied")
    assert TestClient(app).post("/api/auth/login", json={"username": "card1", "password": "bad-bad-bad"}
                                ).status_code == 401


def test_admin_writes_on_postgres(app):
    admin = login(app, "admin")
    assert admin.post("/api/admin/users", json={"username": "pg_user", "password": PASSWORD, "role": "office",
                                                 "office": "qc"}).status_code == 201
    assert admin.post("/api/admin/targets", json={"indicator_id": "OP-08", "value": 7.5}).status_code == 200
    ov = admin.get("/api/overview?year=2022").json()
    alos = next(c for c in ov["indicators"] if c["id"] == "OP-08")
    assert alos["target"] == "<= 7.5" and alos["status"] in ("达标", "未达标")
    assert login(app, "pg_user").get("/api/qc").status_code == 200
    assert admin.post("/api/admin/users/pg_user/disable").status_code == 200
