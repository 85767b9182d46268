"""Dashboard data: values checked against hand-written SQL, 同比, targets and alerts, drill-down consistency,
"not computed" states, the language switch, offline assets, CLI."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from tests.web.conftest import OWN_DEPT, PASSWORD


def _sql(app, sql, params=()):
    cur = app.state.ctx.wh.cursor()
    try:
        return cur.execute(sql, list(params)).fetchall()
    finally:
        cur.close()


def test_overview_values_and_yoy(app, clients):
    ov = clients["admin"].get("/api/overview?year=2022").json()
    cards = {c["id"]: c for c in ov["indicators"]}
    n22 = _sql(app, "select count(*) from discharge where year(discharge_time) = 2022")[0][0]
    n21 = _sql(app, "select count(*) from discharge where year(discharge_time) = 2021")[0][0]
    assert cards["BAS-01"]["value"] == n22 and cards["BAS-01"]["previous"] == n21
    assert cards["BAS-01"]["yoy_pct"] == round((n22 - n21) / n21 * 100, 1)
    los, n = _sql(app, "select sum(los_days), count(los_days) from discharge where year(discharge_time) = 2022")[0]
    assert cards["BAS-02"]["numerator"] == los and cards["BAS-02"]["denominator"] == n
    assert cards["BAS-02"]["value"] == round(los / n, 2)
    # DRG results exist (demo scheme) → computed; QC has not run in the fixture → "not computed", never 0
    assert cards["BAS-08"]["computed"] and cards["BAS-08"]["value"] > 90
    if not _sql(app, "select count(*) from information_schema.tables where table_name = 'qc_record'")[0][0] or \
            not _sql(app, "select count(*) from qc_record")[0][0]:
        assert cards["BAS-09"]["value"] is None and cards["BAS-09"]["status"] == "not_computed"
        assert "尚未计算" in cards["BAS-09"]["reason_zh"]


def test_target_status_and_alert(app, clients):
    admin = clients["admin"]
    assert admin.post("/api/admin/targets", json={"indicator_id": "BAS-02", "value": 1.0}).status_code == 200
    ov = admin.get("/api/overview?year=2022").json()
    alos = next(c for c in ov["indicators"] if c["id"] == "BAS-02")
    assert alos["target"] == 1.0 and alos["status"] == "not_met"        # direction down: 7.x days > 1 day
    assert any(a["indicator"] == "BAS-02" and a["kind"] == "target" for a in ov["alerts"])
    # a department-specific target wins over the hospital-wide one
    admin.post("/api/admin/targets", json={"indicator_id": "BAS-02", "value": 99.0, "dept_code": OWN_DEPT})
    d = admin.get(f"/api/dept/{OWN_DEPT}?year=2022").json()
    assert next(c for c in d["indicators"] if c["id"] == "BAS-02")["status"] == "met"


def test_drill_down_matches_numerator(app, clients):
    c = clients["admin"]
    det = c.get("/api/indicators/BAS-06?year=2022").json()
    deaths = det["value"]["numerator"]
    assert deaths == _sql(app, "select count(*) from discharge where year(discharge_time) = 2022 "
                               "and discharge_disposition = '5'")[0][0]
    listed = c.get("/api/cases?indicator=BAS-06&year=2022").json()
    assert listed["total"] == deaths
    assert len(det["trend"]) == 24 and det["breakdown"]
    assert sum(b["numerator"] or 0 for b in det["breakdown"]) == deaths
    # one case: diagnoses and a DRG explanation in Chinese
    row = listed["rows"][0]
    case = c.get(f"/api/cases/{row['hospital_id']}/{row['mrn']}/{row['admission_no']}").json()
    assert case["diagnoses"] and case["drg"]["trace"] and case["drg"]["drg"] == row["drg"]
    assert any("主要诊断" in s["zh"] for s in case["drg"]["trace"])


def test_drg_page_and_not_computed_economics(clients):
    d = clients["admin"].get("/api/drg?year=2022").json()
    assert d["computed"] and d["scheme"] == "demo" and 90 < d["grouping_rate"] <= 100
    assert sum(d["status"].values()) == d["total"] and d["groups"][0]["name"]
    if d["cmi"] is None:
        assert "尚未计算" in d["cmi_reason_zh"]
    page = clients["admin"].get("/drg").text
    assert "入组率" in page and "尚未计算" in page


def test_unknown_indicator_and_bad_params(clients):
    r = clients["admin"].get("/api/indicators/NOPE")
    assert r.status_code == 404 and r.json()["error"]["zh"]
    r = clients["admin"].get("/api/overview?month=13")
    assert r.status_code == 422 and r.json()["error"]["code"] == "WEB-PARAM"


def test_language_switch(clients):
    c = clients["leader_a"]
    zh = c.get("/overview").text
    assert "全院概览" in zh and 'lang="zh-CN"' in zh
    en = c.get("/overview?lang=en").text
    assert "Hospital overview" in en and "Average length of stay" in en
    assert c.cookies.get("lang") == "en"
    assert "Hospital overview" in c.get("/overview").text            # remembered by the cookie
    c.get("/overview?lang=zh")


def test_pages_render_for_each_role(clients):
    pages = {"admin": ["/overview", "/dept", f"/dept/{OWN_DEPT}", "/indicator/BAS-03", "/cases?indicator=BAS-05",
                       "/drg", "/qc", "/import", "/admin"],
             "card1": [f"/dept/{OWN_DEPT}", "/indicator/BAS-03", "/drg", "/qc"],
             "qc": ["/overview", "/qc"]}
    for user, urls in pages.items():
        for url in urls:
            r = clients[user].get(url)
            assert r.status_code == 200, (user, url, r.text[:300])
    nav = clients["card1"].get(f"/dept/{OWN_DEPT}").text
    assert 'data-module="overview"' not in nav and 'data-module="admin"' not in nav


def test_openapi_document(clients):
    doc = clients["admin"].get("/openapi.json").json()
    assert "/api/overview" in doc["paths"] and "/api/cases/{hospital}/{mrn}/{admission_no}" in doc["paths"]


def test_assets_are_local_and_messages_bilingual():
    root = Path(str(resources.files("yunying.web")))
    assert (root / "static/vendor/echarts.min.js").stat().st_size > 500_000
    assert (root / "static/vendor/echarts.LICENSE.txt").is_file()
    for f in list((root / "templates").glob("*.html")) + [root / "static/app.js", root / "static/app.css"]:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", text), f"external asset in {f.name}"
        assert "@import url(http" not in text
    from yunying.web.i18n import catalogue
    used = set()
    for f in (root / "templates").glob("*.html"):
        used |= set(re.findall(r"t\('([a-z_]+)'\)", f.read_text(encoding="utf-8")))
    cat = catalogue()
    missing = {k for k in used if k not in cat and not k.startswith("status_")}
    assert not missing, missing
    assert all(v.get("zh") and v.get("en") for v in cat.values())


def test_cli_users(tmp_path):
    from yunying.cli.main import app as cli
    from yunying.cli.web import demo_accounts

    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    r = CliRunner().invoke(cli, ["users", "add", "--username", "boss", "--password", PASSWORD, "--role", "leader",
                                 "--hospital", "H001", "--app-db", url])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["users", "add", "--username", "x", "--password", PASSWORD, "--role", "dept_head",
                                 "--app-db", url])
    assert r.exit_code == 2 and "--dept" in r.output
    r = CliRunner().invoke(cli, ["users", "add", "--username", "y", "--password", "short", "--role", "admin",
                                 "--app-db", url])
    assert r.exit_code == 2 and "8" in r.output
    r = CliRunner().invoke(cli, ["users", "disable", "boss", "--app-db", url])
    assert r.exit_code == 0
    r = CliRunner().invoke(cli, ["users", "list", "--app-db", url])
    assert "boss" in r.output and " no" in r.output
    first = demo_accounts(url)
    assert [u for u, _, _ in first] == ["admin", "leader", "qc", "card1"] and demo_accounts(url) == first
    r = CliRunner().invoke(cli, ["serve", "--help"])
    assert r.exit_code == 0 and "--app-db" in r.output


def test_default_app_db_beside_warehouse(tmp_path):
    from yunying.web.config import default_app_db_url
    assert default_app_db_url(tmp_path / "demo.duckdb") == f"sqlite:///{tmp_path / 'demo.app.sqlite'}"


def test_security_headers_and_no_cdn_docs(clients):
    r = clients["leader_a"].get("/api/overview")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
    assert clients["leader_a"].get("/docs").status_code == 404        # Swagger UI would load from a CDN
    assert clients["leader_a"].get("/openapi.json").status_code == 200
