"""Issue 16 (items 1, 2, 4) on the pages other than 绩效指标 / 病例清单 / 病例详情: every page, as each role that may see
it, speaks Chinese (data-model names, decoded codes), prints numbers by the one rule set of yunying.reports.fmt,
and tells the truth about failed imports, DRG statuses and department ranks."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from tests.qc.helpers import record
from tests.web.conftest import close_app, discharge_file_with_bad_row, login, new_app, wait_job, wh_sql

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b(?!\.(?:csv|xlsx?|parquet)\b)")   # a file name (cost_basis.csv) is the user's
TOO_PRECISE = re.compile(r"\d\.\d{5,}")                 # > 4 decimals (RW 4, rates 2 …)
MICROSECONDS = re.compile(r"\d:\d\d:\d\d\.\d")
COUNT_WITH_DECIMALS = re.compile(r"\d\.0+\s*(人次|例|人|组|台次)")     # '35.00 人次'
# codes that have a label: DRG statuses (drg_status domain), job and import states (messages.yaml)
RAW_CODES = re.compile(r"\b(SUCCESS|CHECK_FAILED|FAIL|ZD_NOT_MAPPING|SS_NOT_MAPPING|done|failed|partial|queued|running)\b")


def _model_identifiers() -> set[str]:
    """snake_case identifiers of the data model (tables.yaml tables and columns) and the drill-down keys."""
    from yunying.model.catalogue import load_model
    from yunying.web.labels import EXTRA_LABELS

    model = load_model()
    ids = {t for t in model.tables} | {c.name for t in model.tables.values() for c in t.columns}
    return {i for i in ids | set(EXTRA_LABELS) if "_" in i}


IDS = _model_identifiers()


def _visible(page: str) -> str:
    """What the page says in <main>: tags, scripts, templates, styles and the user's own input (textarea) removed,
    entities decoded."""
    main = page.split("<main", 1)[-1].split("</main>", 1)[0]
    main = re.sub(r"<(script|style|template|textarea)\b.*?</\1>", " ", main, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))


def _clean(text: str) -> None:
    raw = sorted({w for w in SNAKE.findall(text) if w in IDS})
    assert raw == [], f"raw identifiers shown: {raw}"
    assert not TOO_PRECISE.search(text), TOO_PRECISE.search(text).group(0)
    assert not MICROSECONDS.search(text)
    assert not COUNT_WITH_DECIMALS.search(text), COUNT_WITH_DECIMALS.search(text).group(0)
    assert not RAW_CODES.search(text), RAW_CODES.search(text).group(0)


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    """The demo warehouse with record QC run (the 病案质控 pages have data) and a target on 出院人次."""
    a = new_app(demo_folder, tmp_path_factory.mktemp("pageszh"))
    admin = login(a, "admin")
    job = wait_job(admin, admin.post("/api/qc/run", json={"hospital": "H001"}).json()["id"], timeout=300)
    assert job["status"] == "done", job
    yield a
    close_app(a)


@pytest.fixture(scope="module")
def clients(app):
    return {u: login(app, u) for u in ("admin", "card1", "qc", "ops")}


PAGES = {  # page -> roles that may see it (card1 = 科主任 of CARD1)
    "/overview": ("admin",), "/dept": ("admin",), "/dept/CARD1": ("admin", "card1"),
    "/indicator/G3-04?year=2022": ("admin", "card1"), "/indicator/OP-02?year=2022&dept=CARD1": ("admin", "card1"),
    "/engine/cases?indicator=G3-04&period=2022": ("admin", "card1"),
    "/engine/cases?indicator=G3-04&period=2022&part=denominator": ("admin", "card1"),
    "/drg": ("admin", "card1"), "/qc": ("admin", "card1"), "/qc?year=2022&dept=CARD1": ("admin",),
    "/qc/check": ("admin", "card1"), "/import": ("admin",), "/reports": ("admin", "card1"), "/admin": ("admin",),
    "/account/password": ("admin", "card1"),
}


@pytest.mark.parametrize("path,role", [(p, r) for p, roles in PAGES.items() for r in roles])
def test_every_page_speaks_chinese_with_formatted_numbers(clients, path, role):
    r = clients[role].get(path)
    assert r.status_code == 200, r.text[:300]
    _clean(_visible(r.text))


def test_overview_numbers_by_unit_and_catalogue_precision(app, clients):
    """出院人次 a whole count; 平均住院日 with the catalogue's 2 decimals and 天 — in the card, the 同期 value and the
    target alert (the shipped targets.yaml sets OP-08 < 7.5), never '7.7天' or a bare '8.00'."""
    from yunying.reports.fmt import display

    page = clients["admin"].get("/overview?year=2022").text
    text = _visible(page)
    d = clients["admin"].get("/api/overview?year=2022").json()
    op08 = next(c for c in d["indicators"] if c["id"] == "OP-08")
    los = display(op08["value"], "天", 2)                         # '7.70天'
    assert re.fullmatch(r"\d+\.\d\d天", los)
    assert f"平均住院日 {los} 未达目标值" in text
    assert f"去年同期 {display(op08['yoy_value'], '天', 2)}" in text
    n = wh_sql(app, "select count(*) from discharge where hospital_id = 'H001' and year(discharge_time) = 2022")[0][0]
    assert f"去年同期 {wh_sql(app, 'select count(*) from discharge where year(discharge_time) = 2021')[0][0]}人次" in text
    assert re.search(rf">{n} <small>人次</small>", page)


def test_engine_alert_script_uses_codes_and_the_server_formatting(clients):
    """The overview's engine alerts (app.js) filter on the status code and print the server's value_text
    (yunying.reports.fmt), not a Chinese word as a logic key or an ad-hoc rounding."""
    js = (Path(__file__).parents[2] / "yunying/web/static/app.js").read_text(encoding="utf-8")
    assert "未达标" not in js and "Math.round(r.value" not in js and "status_code === \"not_met\"" in js
    rows = clients["admin"].get("/api/engine?period=2022").json()["rows"]
    g = next(r for r in rows if r["indicator_id"] == "G3-04" and r["value"] is not None)
    assert g["value_text"] == f"{g['value']:.2f}%"                       # 49.31%: catalogue precision 2


def test_dept_view_counts_whole_and_values_with_units(app, clients):
    n = wh_sql(app, "select count(*) from discharge where discharge_dept_code = 'CARD1' "
                    "and year(discharge_time) = 2022")[0][0]
    for who in ("admin", "card1"):
        page = clients[who].get("/dept/CARD1?year=2022").text
        row = re.search(r'data-indicator="OP-02".*?</tr>', page, flags=re.S).group(0)
        assert f'<td class="num">{n}人次</td>' in row               # 29人次, never 29.00 人次


def test_department_ranks_hand_worked():
    """One ranking: best first by direction, values compared as shown, equal values share the best rank.
    up:   B 20, C 20.004 (shows 20.00), A 10, D 5  -> B 1, C 1, A 3, D 4
    down: D 5 first, A 10, then B and C tie        -> D 1, A 2, B 3, C 3; None is unranked."""
    from yunying.web.engine_adapter import dept_ranks

    vals = {"A": 10.0, "B": 20.0, "C": 20.004, "D": 5.0, "E": None}
    assert dept_ranks(vals, "up", 2)[1] == {"B": 1, "C": 1, "A": 3, "D": 4}
    assert dept_ranks(vals, "monitor", 2)[1] == {"B": 1, "C": 1, "A": 3, "D": 4}
    order, ranks = dept_ranks(vals, "down", 2)
    assert ranks == {"D": 1, "A": 2, "B": 3, "C": 3} and order == ["D", "A", "B", "C"]


@pytest.mark.parametrize("ind", ["G3-04", "OP-08"])
def test_dept_head_rank_agrees_with_dept_view(clients, ind):
    """A 科主任's rank on 指标详情 (own row only) is 科室视图's rank, and both are worked from all departments'
    values as the administrator sees them: 1 + departments strictly better at the shown precision."""
    admin = clients["admin"].get(f"/indicator/{ind}?year=2022").text
    rows = re.findall(r'<tr><td class="rank">[^<]*</td><td><a href="[^"]*dept=(\w+)">[^<]*</a></td>\s*'
                      r'<td class="num">([\d.,]+)', admin)
    vals = {d: float(v.replace(",", "")) for d, v in rows}
    own = vals["CARD1"]
    better = sum(1 for v in vals.values() if (v < own if ind == "OP-08" else v > own))   # OP-08 逐步降低
    expected = f"{better + 1} / {len(vals)}"
    head = clients["card1"]
    dept = head.get("/dept/CARD1?year=2022").text
    dept_rank = re.search(rf'data-indicator="{ind}".*?<td class="rank">([^<]*)</td>', dept, flags=re.S).group(1)
    detail = head.get(f"/indicator/{ind}?year=2022&dept=CARD1").text
    detail_rank = re.search(r'<td class="rank">([^<]*)</td>', detail.split('id="breakdown-table"')[1]).group(1)
    assert dept_rank == detail_rank == expected


def test_indicator_page_numerator_and_denominator_are_counts(app, clients):
    n = wh_sql(app, "select count(*) from discharge where discharge_dept_code = 'CARD1' "
                    "and year(discharge_time) = 2022")[0][0]
    text = _visible(clients["card1"].get("/indicator/G3-04?year=2022&dept=CARD1").text)
    assert f"同期出院患者人次数：{n} " in text                   # 29, not 29.00
    assert re.search(r"出院患者手术台次数：\d+ ", text)


def test_indicator_export_rounded_to_the_catalogue_precision(clients):
    r = clients["admin"].get("/api/export/indicator/G3-04.csv?year=2022")
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("排名 rank,科室代码 dept")
    for line in lines[1:]:
        rank, dept, name, value, num, den = line.split(",")[:6]
        assert re.fullmatch(r"\d+\.\d\d", value) and re.fullmatch(r"\d+", num) and re.fullmatch(r"\d+", den)


def test_drill_down_title_and_computed_column(clients):
    """分子病例 title; the computed column is named by what it counts (the measure's label), not 计入值1 / c0."""
    page = clients["admin"].get("/engine/cases?indicator=G3-04&period=2022").text
    assert "<h1>分子病例 · 出院患者手术占比" in page
    ths = re.findall(r"<th>(.*?)</th>", page.split('id="engine-case-table"')[1].split("</thead>")[0])
    assert ths[-1] == "出院患者手术台次数（计入值）" and "计入值1" not in ths
    assert "<h1>分母病例" in clients["admin"].get("/engine/cases?indicator=G3-04&period=2022&part=denominator").text
    csv_head = clients["admin"].get("/api/export/engine/cases.csv?indicator=G3-04&period=2022").content
    assert "出院患者手术台次数（计入值） c0" in csv_head.decode("utf-8-sig").splitlines()[0]


def test_drg_statuses_decoded_from_the_domain(app, clients):
    n_ok = wh_sql(app, "select count(*) from drg_result r join discharge d using (hospital_id, mrn, admission_no) "
                       "where r.status = 'SUCCESS' and year(d.discharge_time) = 2022 and r.scheme = 'demo'")[0][0]
    text = _visible(clients["admin"].get("/drg?year=2022").text)
    assert f"入组成功 {n_ok}例" in text and "SUCCESS" not in text
    en = clients["admin"].get("/drg?year=2022&lang=en").text
    assert "SUCCESS 入组成功" in en
    clients["admin"].get("/drg?lang=zh")
    from yunying.drg.grouper import STATUS_ZH
    assert STATUS_ZH["SUCCESS"] == "入组成功" and STATUS_ZH["FAIL"] == "未入组" and STATUS_ZH["CHECK_FAILED"] == "校验失败"


def test_qc_pages_decode_severity_and_departments(clients):
    page = clients["admin"].get("/qc?year=2022&dept=CARD1").text
    defects = page.split('id="qc-top-defects"')[1].split("</table>")[0]
    sev = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", defects)
    assert sev and set(sev) <= {"错误", "警告", "提示"}
    records = page.split('id="qc-records"')[1].split("</table>")[0]
    assert "<th>错误</th><th>警告</th>" in records and "心血管内科一病区" in records and "<td>CARD1</td>" not in records


def test_qc_check_form_decodes_severity_and_fields(clients):
    text = json.dumps({"records": [record("WC00001", SJZYTS="7")]}, ensure_ascii=False)
    c = clients["qc"]
    csrf = c.headers["X-CSRF-Token"]
    page = c.post("/qc/check", data={"csrf_token": csrf, "json_text": text, "format": "html"}).text
    result = page.split('id="check-result"')[1]
    assert "<td>错误</td>" in result and "<td>E</td>" not in result
    _clean(_visible(page))


def test_failed_import_shows_failed_with_reason_and_code(clients):
    """An upload that stores nothing is 失败 with the file's reason and code, its bar at 0 — not 完成 at 100%."""
    ops = clients["ops"]
    r = ops.post("/api/imports", data={"kind": "discharge"}, files={"files": ("空文件.csv", b"", "text/csv")})
    job = wait_job(ops, r.json()["id"])
    assert job["status"] == "failed" and job["percent"] == 0.0
    code = job["result"]["files"][0]["error_code"]
    assert code and job["error_code"] == code and "空文件.csv" in job["error"]
    page = ops.get(f"/jobs/{job['id']}").text
    block = _visible(page)
    assert "失败" in block and "完成" not in block and code in block and job["result"]["files"][0]["message"] in block
    assert 'class="bar failed" style="width: 0.0%"' in page
    assert "住院病案首页: 空文件.csv" in block                     # the kind by its Chinese name


def test_partly_failed_and_all_rejected_uploads(demo_folder, clients, tmp_path):
    """Two files, one stored and one empty: 部分失败 at 50%. A file whose every row is rejected: 失败."""
    ops = clients["ops"]
    good = discharge_file_with_bad_row(demo_folder, tmp_path / "补报.csv", n_rows=3, mrn_prefix="PGA")
    with good.open("rb") as fh:
        r = ops.post("/api/imports", data={"kind": "discharge"},
                     files=[("files", (good.name, fh, "text/csv")), ("files", ("空.csv", b"", "text/csv"))])
    job = wait_job(ops, r.json()["id"])
    assert job["status"] == "partial" and job["percent"] == 50.0 and "空.csv" in job["error"]
    assert "部分失败" in _visible(ops.get(f"/jobs/{job['id']}").text)
    # one row only, and it has an impossible date (2022-13-01): rejected, nothing stored
    bad = discharge_file_with_bad_row(demo_folder, tmp_path / "全拒收.csv", n_rows=2, mrn_prefix="PGB")
    lines = bad.read_bytes().split(b"\r\n")
    bad.write_bytes(b"\r\n".join([lines[0], lines[2], b""]))
    with bad.open("rb") as fh:
        r = ops.post("/api/imports", data={"kind": "discharge"}, files={"files": (bad.name, fh, "text/csv")})
    job = wait_job(ops, r.json()["id"])
    assert job["result"]["rejected"] == 1 and job["result"]["inserted"] == 0
    assert job["status"] == "failed" and job["error_code"] == "IMP-ALL-REJECTED"


def test_import_history_in_chinese(clients):
    text = _visible(clients["admin"].get("/import").text)
    assert "住院病案首页 discharge_2022.csv 成功 728 " in text
    assert " ok " not in text and "kind" not in text


def test_target_editor_aligned_and_labelled(clients):
    admin = clients["admin"]
    csrf = admin.headers["X-CSRF-Token"]
    r = admin.post("/admin/targets", data={"csrf_token": csrf, "indicator_id": "OP-02", "value": "700",
                                          "op": ">=", "dept_code": "CARD1"}, follow_redirects=False)
    assert r.status_code == 303
    page = admin.get("/admin").text
    table = page.split('id="targets-table"')[1].split("</table>")[0]
    n_th = len(re.findall(r"<th\b", table))
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], flags=re.S)
    assert rows and all(len(re.findall(r"<td\b", row)) == n_th for row in rows)       # aligned columns
    row = next(x for x in rows if "OP-02" in x)
    assert "出院人次" in row and "心血管内科一病区" in row and "<td>≥</td>" in row
    assert '<td class="num">700人次</td>' in row                                        # not 700.0
    form = _visible(page.split('id="target-form"')[1].split("</form>")[0])
    assert "比较符" in form and "目标值" in form and "between" not in form
    audit = _visible(page.split('id="audit-table"')[1].split("</table>")[0])
    assert "设置目标" in audit and "登录" in audit


def test_reports_page_names_the_department(clients):
    assert "本科室版： 心血管内科一病区" in _visible(clients["card1"].get("/reports").text)


def test_english_stays_available(clients):
    c = clients["admin"]
    assert "Grouping status" in c.get("/drg?lang=en").text
    assert "<th>File</th>" in c.get("/import?lang=en").text
    c.get("/overview?lang=zh")


def test_charts_carry_the_displayed_precision(clients):
    """Chart series (trend, department breakdown) hold values at the catalogue's precision (G3-04: 2 decimals), so
    a tooltip shows 41.38, not 41.37931034482759."""
    page = clients["admin"].get("/indicator/G3-04?year=2022").text
    for chart in ("trend-chart", "breakdown-chart"):
        attr = re.search(rf'id="{chart}"[^>]*data-series=\'([^\']*)\'', page).group(1)
        values = [r["value"] for r in json.loads(html.unescape(attr)) if r["value"] is not None]
        assert values and all(round(v, 2) == v for v in values), chart
