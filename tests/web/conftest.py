"""Web fixtures: a small synthetic hospital (generated, imported and DRG-grouped once per session), an app per
test module on a private copy of the warehouse, and logged-in clients for every role."""

from __future__ import annotations

import csv
import io
import shutil
import time
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

PASSWORD = "test-password-1"
# username -> (role, dept, hospital, office)
ACCOUNTS = {
    "admin": ("admin", None, None, None),
    "leader_a": ("leader", None, "H001", None),
    "leader_b": ("leader", None, "H999", None),
    "region": ("leader", None, "*", None),
    "qc": ("office", None, "H001", "qc"),
    "insurance": ("office", None, "H001", "insurance"),
    "records": ("office", None, "H001", "records"),
    "ops": ("office", None, "H001", "ops"),
    "card1": ("dept_head", "CARD1", "H001", None),
}
OWN_DEPT, OTHER_DEPT = "CARD1", "ORTHO"


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """Synthetic tertiary hospital, 2 years at scale 0.005, imported and grouped with the demo DRG scheme."""
    from yunying.cli.demo import _drg_stage, import_folder
    from yunying.synth.generator import generate

    out = tmp_path_factory.mktemp("webdemo")
    generate(profile="tertiary-general", years=[2021, 2022], scale=0.005, seed=11, out=out)
    import_folder(out / "template.duckdb", out, quiet=True)
    _drg_stage(out / "template.duckdb")
    return out


def new_app(demo_folder: Path, tmp: Path, app_db_url: str | None = None, prepare=None, **settings):
    from yunying.web.app import create_app
    from yunying.web.appdb import add_user, make_engine, session_factory
    from yunying.web.config import WebSettings

    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "w.duckdb"
    shutil.copy(demo_folder / "template.duckdb", db)
    if prepare is not None:          # e.g. run a capability's demo stage on this copy first
        prepare(db)
    url = app_db_url or f"sqlite:///{tmp / 'app.sqlite'}"
    engine = make_engine(url)
    with session_factory(engine)() as s:
        for username, (role, dept, hospital, office) in ACCOUNTS.items():
            add_user(s, username, PASSWORD, role, dept=dept, hospital=hospital, office=office, replace=True)
    engine.dispose()
    return create_app(WebSettings(db=db, app_db_url=url, **settings))


def close_app(app) -> None:
    """Stop the job worker and close the warehouse (no DuckDB objects left alive at interpreter exit)."""
    app.state.ctx.jobs.wait_idle(30)
    app.state.ctx.jobs.stop()
    app.state.ctx.wh.close()
    app.state.engine.dispose()


def login(app, username: str, password: str = PASSWORD) -> TestClient:
    client = TestClient(app)
    r = client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("webapp"))
    yield a
    close_app(a)


@pytest.fixture(scope="module")
def clients(app) -> dict[str, TestClient]:
    return {name: login(app, name) for name in ACCOUNTS}


def case_of_dept(app, dept: str) -> tuple[str, str, int]:
    cur = app.state.ctx.wh.cursor()
    try:
        return cur.execute("select hospital_id, mrn, admission_no from discharge where discharge_dept_code = ? "
                           "order by mrn limit 1", [dept]).fetchall()[0]
    finally:
        cur.close()


def wh_sql(app, sql: str, params=()) -> list[tuple]:
    """Rows of one query on the app's warehouse (own cursor)."""
    cur = app.state.ctx.wh.cursor()
    try:
        return cur.execute(sql, list(params)).fetchall()
    finally:
        cur.close()


def audit_rows(app, **where) -> list:
    from sqlalchemy import select

    from yunying.web.appdb import AuditLog
    with app.state.ctx.sessions() as s:
        q = select(AuditLog).order_by(AuditLog.id)
        for k, v in where.items():
            q = q.where(getattr(AuditLog, k) == v)
        return list(s.scalars(q).all())


def demo_discharge_rows(demo_folder: Path, n_rows: int) -> tuple[list[str], list[list[str]]]:
    """(header, first n_rows rows) of the demo's national-layout discharge file."""
    with open(demo_folder / "discharge_2022.csv", encoding="gb18030", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [next(reader) for _ in range(n_rows)]


def write_gb18030_csv(out: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write a CSV the way HIS exports do (GB18030, CRLF)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    out.write_bytes(buf.getvalue().encode("gb18030"))
    return out


def discharge_file_with_bad_row(demo_folder: Path, out: Path, n_rows: int = 5, mrn_prefix: str = "NEW") -> Path:
    """A small national-layout discharge file (GB18030 like the HIS export): n_rows new records, the second of
    which has an impossible discharge date (2022-13-01) and must be rejected with IMP-DATE."""
    header, rows = demo_discharge_rows(demo_folder, n_rows)
    i_mrn, i_out = header.index("BAH"), header.index("CYSJ")
    for n, r in enumerate(rows):
        r[i_mrn] = f"{mrn_prefix}{n:05d}"
    rows[1][i_out] = "2022-13-01 10:00:00"
    return write_gb18030_csv(out, header, rows)


def wait_job(client, job_id, timeout=60):
    """Poll /api/jobs/{id} until the background job has finished (done, partial or failed); its last state."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        j = client.get(f"/api/jobs/{job_id}").json()
        if j["status"] in ("done", "partial", "failed"):
            return j
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")
