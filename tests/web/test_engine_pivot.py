"""Issue 16 item 3: 绩效指标 at department level is a pivot (indicator × department) with department names, sort,
status filter and server-side pages; a 科主任 sees their own column only. Values are checked against the hand-made
hospital H777 (tests/web/small_hospital.py: OP-02 2/3/1, OP-08 3.00/6.00/10.00 against a target < 7.5)."""

from __future__ import annotations

import html
import re

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, close_app, new_app
from tests.web.small_hospital import DEPTS, HOSPITAL, add_h777

pytest.importorskip("yunying.indicators", reason="indicator engine not installed")

BASE = f"/engine?level=department&family=operating&period=2022&hospital={HOSPITAL}"


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("pivot"), prepare=add_h777)
    yield a
    close_app(a)


def _pivot(client, url: str) -> dict:
    """{'depts': [header names], 'codes': [...], 'rows': {indicator: [(cell text, status class) …]}, 'order': [ids]}"""
    r = client.get(url)
    assert r.status_code == 200, (url, r.text[:300])
    page = r.text
    table = page.split('id="engine-pivot"', 1)[1].split("</table>", 1)[0]
    head = table.split("</thead>", 1)[0]
    depts = [html.unescape(x) for x in re.findall(r'<th scope="col" class="num" data-dept="[^"]*">(.*?)</th>', head)]
    codes = re.findall(r'data-dept="([^"]*)"', head)
    rows, order = {}, []
    for ind, body in re.findall(r'<tr data-indicator="([^"]+)">(.*?)</tr>', table, flags=re.S):
        cells = re.findall(r'<td([^>]*)>(.*?)</td>', body, flags=re.S)
        rows[ind] = [(html.unescape(re.sub(r"<sup.*?</sup>|<[^>]+>", "", c)).strip(),
                      (re.search(r'class="num ([a-z_]+)"', a) or re.search(r"()", "")).group(1)) for a, c in cells]
        order.append(ind)
    return {"depts": depts, "codes": codes, "rows": rows, "order": order, "page": page}


def test_pivot_values_names_and_statuses(clients):
    p = _pivot(clients["admin"], BASE)
    assert p["depts"] == ["眼科", "儿科", "普通外科"] and p["codes"] == ["D1", "D2", "D3"]   # names, code order
    assert p["rows"]["OP-02"] == [("2", "no_target"), ("3", "no_target"), ("1", "no_target")]
    assert p["rows"]["OP-08"] == [("3.00", "met"), ("6.00", "met"), ("10.00", "not_met")]
    assert p["order"].index("OP-02") < p["order"].index("OP-08")             # catalogue order
    assert "不可计算" in p["rows"]["OP-01"][0][0]           # blocked for every department: one cell with its reason
    assert 'class="pivot-wrap"' in p["page"]
    css = clients["admin"].get("/static/app.css").text                        # sticky headers (row and column)
    assert re.search(r"table\.pivot thead th \{[^}]*position: sticky; top: 0", css)
    assert re.search(r"table\.pivot tbody th \{[^}]*position: sticky; left: 0", css)


def test_pivot_sorting(clients):
    c = clients["admin"]
    assert _pivot(c, BASE + "&sort=name")["depts"] == ["儿科", "普通外科", "眼科"]        # 儿 < 普 < 眼
    assert _pivot(c, BASE + "&sort=OP-08")["depts"] == ["眼科", "儿科", "普通外科"]       # 3 < 6 < 10 (逐步降低)
    assert _pivot(c, BASE + "&sort=OP-08&order=desc")["depts"] == ["普通外科", "儿科", "眼科"]
    assert _pivot(c, BASE + "&sort=OP-02")["depts"] == ["儿科", "眼科", "普通外科"]       # 3 > 2 > 1 (monitor: desc)
    p = _pivot(c, BASE + "&sort=not_met")
    assert p["order"][0] == "OP-08"                                          # the only row with a 未达标 department
    assert p["rows"]["OP-08"] == [("3.00", "met"), ("6.00", "met"), ("10.00", "not_met")]


def test_pivot_status_and_family_filters(clients):
    c = clients["admin"]
    p = _pivot(c, BASE + "&status=not_met")
    assert p["order"] == ["OP-08"] and p["depts"] == ["普通外科"] and p["rows"]["OP-08"] == [("10.00", "not_met")]
    p = _pivot(c, BASE + "&status=met")
    assert p["order"] == ["OP-08"] and p["depts"] == ["眼科", "儿科"]
    assert re.search(r'class="badge met">达标 2<', p["page"]) and re.search(r'class="badge not_met">未达标 1<', p["page"])
    p = _pivot(c, BASE + "&status=no_target")
    assert "OP-02" in p["order"] and "OP-08" not in p["order"]
    # family: the DRG family has none of the operating family's rows
    p = _pivot(c, f"/engine?level=department&family=drg&period=2022&hospital={HOSPITAL}")
    assert p["order"] and "OP-08" not in p["order"] and "OP-02" not in p["order"]


def test_pivot_pages_and_edges(clients):
    c = clients["admin"]
    assert _pivot(c, BASE + "&dsize=2")["depts"] == ["眼科", "儿科"]
    assert _pivot(c, BASE + "&dsize=2&dpage=2")["depts"] == ["普通外科"]
    assert _pivot(c, BASE + "&dsize=2&dpage=9")["depts"] == ["普通外科"]                # past the end: last page
    whole = _pivot(c, BASE + "&size=100")["order"]
    assert _pivot(c, BASE + "&size=2")["order"] == whole[:2]
    assert _pivot(c, BASE + "&size=2&page=2")["order"] == whole[2:4]
    last = -(-len(whole) // 2)
    p = _pivot(c, BASE + f"&size=2&page={last + 5}")
    assert p["order"] == whole[(last - 1) * 2:] and f"{last} / {last}" in p["page"]
    p = _pivot(c, BASE + "&status=met&size=1&page=2")                          # one row: page 2 is page 1
    assert p["order"] == ["OP-08"] and 'rel="next"' not in p["page"]
    # the default page stays small: at most 20 indicators × 10 departments
    p = _pivot(c, "/engine?level=department&family=tertiary-general&period=2022&hospital=H001")
    assert 0 < len(p["order"]) <= 20 and 0 < len(p["depts"]) <= 10 and 'id="dept-next"' in p["page"]


@pytest.mark.parametrize("query, code", [("page=0", "WEB-PARAM"), ("size=abc", "WEB-PARAM"), ("size=101", "WEB-PARAM"),
                                         ("dpage=-1", "WEB-PARAM"), ("status=good", "WEB-PARAM"),
                                         ("sort=NOPE", "WEB-PARAM"), ("order=up", "WEB-PARAM"),
                                         ("period=20x2", "WEB-PARAM")])
def test_pivot_bad_params_are_400(clients, query, code):
    r = clients["admin"].get(BASE + "&" + query)
    assert r.status_code == 400 and code in r.text


def test_dept_head_sees_only_own_column(app, clients):
    c = clients["card1"]
    for url in ("/engine?period=2022", "/engine?period=2022&level=hospital", "/engine?period=2022&sort=name",
                "/engine?period=2022&family=operating&dsize=100", "/engine?period=2022&status=no_target"):
        p = _pivot(c, url)
        assert p["codes"] == [OWN_DEPT], url
    others = [n for n in DEPTS.values()]
    name = dict(app.state.ctx.wh.cursor().execute(
        "select dept_code, dept_name from department where hospital_id = 'H001'").fetchall())[OTHER_DEPT]
    page = c.get("/engine?period=2022&family=operating").text
    assert name not in page.split('id="engine-pivot"', 1)[1] and not any(n in page for n in others)
    assert c.get(f"/engine?period=2022&dept={OTHER_DEPT}").status_code == 403
    assert c.get(f"/engine?period=2022&level=department&hospital={HOSPITAL}").status_code == 403


def test_leader_pivot_is_own_hospital(clients):
    p = _pivot(clients["leader_a"], "/engine?level=department&family=operating&period=2022&dsize=100")
    assert p["codes"] and not set(p["codes"]) & set(DEPTS)
    assert clients["leader_a"].get(BASE).status_code == 403


def test_fallback_reading_marked_in_the_pivot(clients):
    """G3-04 runs on the 手术级别 fallback in the web warehouse (no procedure dictionary): its pivot row says so."""
    p = _pivot(clients["admin"], "/engine?level=department&family=tertiary-general&period=2022&hospital=H001"
                                 "&size=100&dsize=3")
    row = p["page"].split('data-indicator="G3-04"', 1)[1].split("</th>", 1)[0]
    assert "按手术级别近似，未加载手术操作分类字典" in row
