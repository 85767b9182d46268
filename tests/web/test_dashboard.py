"""Dashboard data: values checked against hand-written SQL, 同比, targets and alerts, drill-down consistency,
"not computed" states, the language switch, offline assets, CLI."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from tests.web.conftest import OWN_DEPT, PASSWORD, wh_sql


def test_overview_values_and_yoy(app, clients):
    """全院概览 shows the indicator engine's key indicators; values follow the engine's definitions (semantic view
    v_discharge: 出院科别, discharge time, drug fee = 西药+中成药+中草药), checked against hand-written SQL."""
    ov = clients["admin"].get("/api/overview?year=2022").json()
    assert ov["source"] == "engine" and ov["hospital"] == "H001"
    cards = {c["id"]: c for c in ov["indicators"]}
    from yunying.web.engine_adapter import key_indicators
    assert [c["id"] for c in ov["indicators"]] == key_indicators()["overview"]
    n22 = wh_sql(app, "select count(*) from discharge where year(discharge_time) = 2022")[0][0]
    n21 = wh_sql(app, "select count(*) from discharge where year(discharge_time) = 2021")[0][0]
    assert cards["OP-02"]["value"] == n22 and cards["OP-02"]["yoy_value"] == n21      # 出院人次, 同比 = 2021
    assert cards["OP-02"]["yoy_change"] == n22 - n21
    assert cards["OP-02"]["yoy_word"] == ("增长" if n22 > n21 else "下降" if n22 < n21 else "持平")
    los, n = wh_sql(app, "select sum(los_days), count(*) from discharge where year(discharge_time) = 2022")[0]
    assert cards["OP-08"]["numerator"] == los and cards["OP-08"]["denominator"] == n        # 平均住院日
    assert abs(cards["OP-08"]["value"] - los / n) < 1e-9
    drug, fee = wh_sql(app, "select sum(fee_western_drug + fee_patent_tcm + fee_herbal), sum(fee_total) "
                          "from discharge where year(discharge_time) = 2022")[0]
    assert abs(cards["OP-03.dept"]["value"] - float(drug) / float(fee) * 100) < 1e-6          # 住院药占比（首页）
    deaths = wh_sql(app, "select count(*) from discharge where year(discharge_time) = 2022 "
                       "and discharge_disposition = '5'")[0][0]
    assert abs(cards["OP-28"]["value"] - deaths / n22 * 100) < 1e-9
    # one month: the engine's month period with 同比 against the same month of 2021
    m3 = clients["admin"].get("/api/overview?year=2022&month=3").json()
    n3 = wh_sql(app, "select count(*) from discharge where discharge_time >= '2022-03-01' "
                   "and discharge_time < '2022-04-01'")[0][0]
    assert m3["period"] == "2022-03" and m3["indicators"][0]["value"] == n3
    # DRG results exist (demo scheme) → computed; CMI without weights → the engine's reason, never a 0
    assert cards["DRG-08"]["computed"] and cards["DRG-08"]["value"] > 90
    eng = {r["indicator_id"]: r for r in clients["admin"].get("/api/engine?family=drg&period=2022").json()["rows"]}
    for i in ("DRG-08", "DRG-03"):                  # status and reason exactly as the engine gives them
        assert (cards[i]["status"], cards[i]["reason"]) == (eng[i]["status"], eng[i]["reason"] or "")
    if cards["DRG-03"]["value"] is None:
        assert cards["DRG-03"]["status"] == "不可计算" and cards["DRG-03"]["reason"].startswith("不可计算：缺少")


def test_target_status_and_alert(app, clients):
    """One target store: 系统管理 writes the engine's ind_target; status is the engine's apply_targets."""
    admin = clients["admin"]
    assert admin.post("/api/admin/targets", json={"indicator_id": "OP-08", "value": 1.0}).status_code == 200
    assert wh_sql(app, "select op, value, hospital_id, dept_code from ind_target where indicator_id = 'OP-08'") == \
        [("<=", 1.0, None, None)]                                  # direction 逐步降低 → ≤
    from sqlalchemy import inspect
    assert "web_target" not in inspect(app.state.engine).get_table_names()      # no second target store
    ov = admin.get("/api/overview?year=2022").json()
    alos = next(c for c in ov["indicators"] if c["id"] == "OP-08")
    assert alos["target"] == "<= 1" and alos["status"] == "未达标"        # 7.x days > 1 day
    assert any(a["indicator"] == "OP-08" and a["kind"] == "target" for a in ov["alerts"])
    # the engine page shows the same status for the same value
    eng = admin.get("/api/engine?family=operating&period=2022").json()
    assert next(r for r in eng["rows"] if r["indicator_id"] == "OP-08")["status"] == "未达标"
    # a department-specific target wins over the hospital-wide one
    admin.post("/api/admin/targets", json={"indicator_id": "OP-08", "value": 99.0, "dept_code": OWN_DEPT})
    d = admin.get(f"/api/dept/{OWN_DEPT}?year=2022").json()
    own = next(c for c in d["indicators"] if c["id"] == "OP-08")
    assert own["status"] == "达标" and own["target"] == "<= 99"
    assert {t["dept_code"] for t in admin.get("/api/admin/targets").json()} == {None, OWN_DEPT}
    # monitoring indicators need an explicit operator; unknown ids are 404
    r = admin.post("/api/admin/targets", json={"indicator_id": "OP-02", "value": 1.0})
    assert r.status_code == 400 and r.json()["error"]["code"] == "WEB-TARGET"
    assert admin.post("/api/admin/targets", json={"indicator_id": "NOPE", "value": 1.0}).status_code == 404


def test_dept_view_peers_and_rank(app, clients):
    d = clients["admin"].get(f"/api/dept/{OWN_DEPT}?year=2022").json()
    los = dict(wh_sql(app, "select discharge_dept_code, sum(los_days) / count(*) from discharge "
                         "where year(discharge_time) = 2022 group by 1"))
    card = next(c for c in d["indicators"] if c["id"] == "OP-08")
    assert abs(card["value"] - los[OWN_DEPT]) < 1e-9 and card["n_peers"] == len(los)
    order = sorted(los, key=lambda k: los[k])                      # 逐步降低: shortest stay ranks first
    assert card["rank"] == order.index(OWN_DEPT) + 1
    assert [p["dept"] for p in card["peers"]] == order


def test_drill_down_matches_numerator(app, clients):
    c = clients["admin"]
    det = c.get("/api/indicators/OP-28?year=2022").json()
    deaths = det["value"]["numerator"]
    assert deaths == wh_sql(app, "select count(*) from discharge where year(discharge_time) = 2022 "
                               "and discharge_disposition = '5'")[0][0]
    listed = c.get("/api/engine/cases?indicator=OP-28&period=2022").json()      # the engine's drill-down
    assert len({(r["mrn"], r["admission_no"]) for r in listed["rows"]}) == deaths
    assert len(det["trend"]) == 24 and det["breakdown"]
    assert sum(b["numerator"] or 0 for b in det["breakdown"]) == deaths
    # one case: diagnoses and a DRG explanation in Chinese
    row = listed["rows"][0]
    case = c.get(f"/api/cases/{row['hospital_id']}/{row['mrn']}/{row['admission_no']}").json()
    drg = wh_sql(app, "select drg from drg_result where hospital_id = ? and mrn = ? and admission_no = ?",
               [row["hospital_id"], row["mrn"], row["admission_no"]])[0][0]
    assert case["diagnoses"] and case["drg"]["trace"] and case["drg"]["drg"] == drg
    assert any("主要诊断" in s["zh"] for s in case["drg"]["trace"])
    page = c.get("/indicator/OP-28?year=2022").text
    assert "/engine/cases?indicator=OP-28&period=2022" in page        # a card drills into the engine


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
    pages = {"admin": ["/overview", "/overview?year=2022&month=3", "/dept", f"/dept/{OWN_DEPT}",
                       "/indicator/OP-03.dept", "/indicator/DRG-03", "/cases?year=2022", "/drg", "/qc", "/import",
                       "/admin", "/overview?lang=en", f"/dept/{OWN_DEPT}?lang=en", "/indicator/OP-08?lang=en"],
             "card1": [f"/dept/{OWN_DEPT}", "/indicator/OP-03.dept", "/drg", "/qc"],
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
