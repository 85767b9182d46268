"""Issue 16 item 3: 病例清单 filters (department, DRG, record grade, discharge date range), server-side pages, bad
values → 400 WEB-CASE-FILTER, and the CSV export of exactly what the page shows. Expected cases are worked by hand
from the H777 fixture (tests/web/small_hospital.py); order is newest discharge first."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, audit_rows, close_app, new_app
from tests.web.small_hospital import HOSPITAL, add_h777

H = f"hospital={HOSPITAL}"


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("caselist"), prepare=add_h777)
    yield a
    close_app(a)


def _table(page: str) -> tuple[list[str], list[list[str]]]:
    """(headers, cell texts) of #case-table as a reader sees them."""
    body = page.split('id="case-table"', 1)[1].split("</table>", 1)[0]
    heads = [html.unescape(x) for x in re.findall(r"<th>(.*?)</th>", body)]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], flags=re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return heads, rows


def _mrns(client, query: str) -> list[str]:
    r = client.get(f"/cases?{H}&{query}")
    assert r.status_code == 200, r.text[:300]
    return [row[0] for row in _table(r.text)[1] if row and row[0].startswith("T")]


@pytest.mark.parametrize("query, expected", [
    ("", ["T06", "T05", "T04", "T03", "T02", "T01"]),
    ("dept=D1", ["T02", "T01"]),
    ("drg=ZZ11", ["T05", "T03", "T01"]),
    ("qc_grade=甲", ["T03", "T01"]),
    # from/to are days, both included: 02-20 09:00 is in, 03-01 00:00 is in (to = 03-01)
    ("from=2022-02-20&to=2022-03-01", ["T04", "T03", "T02"]),
    ("from=2022-02-21&to=2022-02-28", ["T03"]),                 # 23:59:59 of the last day counts
    ("to=2022-01-10", ["T01"]),
    ("from=2022-12-31", ["T06"]),
    ("year=2022&month=2", ["T03", "T02"]),
    ("dept=D2&qc_grade=甲", ["T03"]),
    ("dept=D2&drg=ZZ22&from=2022-03-01", ["T04"]),
    ("dept=D3&qc_grade=乙", []),
])
def test_filters_narrow_to_the_hand_expected_cases(clients, query, expected):
    assert _mrns(clients["admin"], query) == expected


def test_page_labels_and_decoded_values(clients):
    page = clients["admin"].get(f"/cases?{H}&dept=D3").text
    heads, rows = _table(page)
    assert heads[:6] == ["病案号", "住院次数", "姓名", "性别", "年龄(岁)", "出院科室"]
    assert "住院总费用（元）" in heads and "分组状态" in heads and "病案等级" in heads
    t06 = dict(zip(heads, rows[0]))
    # sex 2 → 女, department by name, money grouped without the unit under a header naming it, FAIL → 未入组
    assert t06["性别"] == "女" and t06["出院科室"] == "普通外科" and t06["住院总费用（元）"] == "99,999.99"
    assert t06["分组状态"] == "未入组" and t06["出院时间"] == "2022-12-31 12:00:00" and t06["实际住院天数"] == "10"
    assert 'id="case-total">1<' in page


def test_pages_and_edges(clients):
    c = clients["admin"]
    one = _mrns(c, "size=4")
    two = _mrns(c, "size=4&page=2")
    assert one == ["T06", "T05", "T04", "T03"] and two == ["T02", "T01"]
    assert _mrns(c, "size=4&page=9") == ["T02", "T01"]        # past the end: the last page
    page = c.get(f"/cases?{H}&size=4&page=2").text
    assert 'id="case-page">2<' in page and 'id="case-pages">2<' in page and 'rel="prev"' in page
    assert 'rel="next"' not in page
    assert _mrns(c, "size=200") == ["T06", "T05", "T04", "T03", "T02", "T01"]


def test_csv_is_exactly_the_page(app, clients):
    """Same filter → CSV rows == the page's rows (every page of the filter), same columns, Chinese headers,
    decoded cells; numbers without thousands separators; formula-like text neutralised."""
    from yunying.model.safe_cells import neutralise

    c = clients["admin"]
    q = "drg=&from=2022-01-01&to=2022-12-31&size=4"
    heads, rows = _table(c.get(f"/cases?{H}&{q}").text)
    rows += _table(c.get(f"/cases?{H}&{q}&page=2").text)[1]
    r = c.get(f"/api/export/case-list.csv?{H}&{q}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    got = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [h.rsplit(" ", 1)[0] for h in got[0]] == heads
    assert got[0][0] == "病案号 mrn" and got[0][3] == "性别 sex"
    money = heads.index("住院总费用（元）")
    expect = [[neutralise(v.replace(",", "")) if i == money else neutralise(v) for i, v in enumerate(row)]
              for row in rows]
    assert got[1:] == expect and len(expect) == 6
    t06 = dict(zip(heads, got[1]))
    assert t06["姓名"] == "'=1+2" and t06["住院总费用（元）"] == "99999.99" and t06["分组状态"] == "未入组"
    a = [x for x in audit_rows(app, username="admin", action="export") if x.target == "case-list.csv"][-1]
    assert a.rows == 6 and json.loads(a.filters) == {"hospital": HOSPITAL, "from": "2022-01-01", "to": "2022-12-31"}


def test_identifiers_masked_per_role_on_page_and_csv(clients):
    # the regional leader sees H777 but not identifiers; admin sees them
    q = f"{H}&dept=D1"
    heads, rows = _table(clients["region"].get(f"/cases?{q}").text)
    names = [dict(zip(heads, r))["姓名"] for r in rows]
    assert names == ["李*", "张**"]
    text = clients["region"].get(f"/api/export/case-list.csv?{q}").content.decode("utf-8-sig")
    assert [r["姓名 patient_name"] for r in csv.DictReader(io.StringIO(text))] == ["李*", "张**"]
    text = clients["admin"].get(f"/api/export/case-list.csv?{q}").content.decode("utf-8-sig")
    assert [r["姓名 patient_name"] for r in csv.DictReader(io.StringIO(text))] == ["李四", "张三丰"]


def test_dept_head_scope_on_list_and_csv(app, clients):
    c = clients["card1"]
    name = dict(app.state.ctx.wh.cursor().execute("select dept_code, dept_name from department").fetchall())[OWN_DEPT]
    heads, rows = _table(c.get("/cases?size=200").text)
    assert rows and {dict(zip(heads, r))["出院科室"] for r in rows} == {name}
    text = c.get("/api/export/case-list.csv").content.decode("utf-8-sig")
    assert {r["出院科室 dept_name"] for r in csv.DictReader(io.StringIO(text))} == {name}
    for url in (f"/cases?dept={OTHER_DEPT}", f"/api/export/case-list.csv?dept={OTHER_DEPT}",
                f"/api/export/case-list.csv?{H}"):
        r = c.get(url)
        assert r.status_code == 403, url
    assert c.get(f"/api/export/case-list.csv?dept={OTHER_DEPT}").json()["error"]["code"] == "WEB-FORBIDDEN-DEPT"


@pytest.mark.parametrize("query", ["from=2022-13-01", "from=20220101", "to=2022-2-1",
                                   "from=2022-03-01&to=2022-02-01", "qc_grade=丁", "drg=NOPE", "dept=NOPE",
                                   "size=0", "size=201", "size=abc", "page=0", "page=x", "month=13",
                                   "month=3", "year=22x"])
def test_bad_filter_values_are_400_with_code(clients, query):
    c = clients["admin"]
    r = c.get(f"/cases?{H}&{query}")
    assert r.status_code == 400, (query, r.status_code)
    assert "WEB-CASE-FILTER" in r.text
    r = c.get(f"/api/export/case-list.csv?{H}&{query}")
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "WEB-CASE-FILTER" and re.search(r"[\u4e00-\u9fff]", err["zh"]) and err["en"]
