"""Cost pages (issue 17 item 5): 科室成本, 分摊流向, 病种/DRG 成本与盈亏 on the hand-worked run of cost_fixture.py
(figures worked there): right numbers, scope (科主任 only their department), roles without `cost` refused."""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.web.conftest import OTHER_DEPT, OWN_DEPT, PASSWORD, audit_rows, close_app, login, new_app, wh_sql
from tests.web.cost_fixture import install


def _cases(con) -> dict:
    """Real discharges of the demo hospital to attach the fixture's case costs to (o* own dept, x* other)."""
    own = con.execute("select mrn, admission_no from discharge where hospital_id = 'H001' and discharge_dept_code = ? "
                      "order by mrn, admission_no limit 3", [OWN_DEPT]).fetchall()
    oth = con.execute("select mrn, admission_no from discharge where hospital_id = 'H001' and discharge_dept_code = ? "
                      "order by mrn, admission_no limit 2", [OTHER_DEPT]).fetchall()
    return {"o1": own[0], "o2": own[1], "o3": own[2], "x1": oth[0], "x2": oth[1]}


def _prepare(db):
    from yunying.warehouse.db import connect
    con = connect(db)
    try:
        install(con, hospital="H001", own=OWN_DEPT, other=OTHER_DEPT, cases=_cases(con))
    finally:
        con.close()


@pytest.fixture(scope="module")
def app(demo_folder, tmp_path_factory):
    a = new_app(demo_folder, tmp_path_factory.mktemp("cost"), prepare=_prepare)
    from yunying.web.appdb import add_user
    with a.state.ctx.sessions() as s:
        add_user(s, "finance", PASSWORD, "office", office="finance", hospital="H001")
        add_user(s, "labhead", PASSWORD, "dept_head", dept="LAB", hospital="H001")      # head of a 医技 department
    yield a
    close_app(a)


@pytest.fixture(scope="module")
def c(app):
    return {n: login(app, n) for n in ("admin", "leader_a", "leader_b", "card1", "qc", "insurance", "records", "ops",
                                       "finance", "labhead")}


def _row(page: str, attr: str, value: str) -> list[str]:
    """Cell texts of the table row carrying data-<attr>="value"."""
    m = re.search(rf'<tr data-{attr}="{re.escape(value)}"[^>]*>(.*?)</tr>', page, re.S)
    assert m, f"no row {attr}={value}"
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", x)).split())
            for x in re.findall(r"<td[^>]*>(.*?)</td>", m.group(1), re.S)]


def _by_id(page: str, id_: str) -> str:
    m = re.search(rf'id="{id_}"[^>]*>(.*?)</(div|p|span|table|h2)>', page, re.S)
    assert m, f"no element #{id_}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())


def test_dept_page_figures(c):
    page = c["leader_a"].get("/cost/dept?month=2022-06").text
    # CARD1 (OWN-IP + OWN-OP): direct 500,000; steps 40,000 / 21,000 / 136,200; full 697,200; bed-day 1,115.00 (IP),
    # visit 139.70 (OP)
    assert _row(page, "dept", OWN_DEPT)[1:] == ["临床", "500,000.00", "40,000.00", "21,000.00", "136,200.00", "0.00",
                                                "697,200.00", "139.70", "1,115.00"]
    orth = _row(page, "dept", OTHER_DEPT)
    assert orth[2] == "600,000.00" and orth[7] == "762,800.00" and orth[9] == "953.50"
    lab = _row(page, "dept", "LAB")          # medtech: received 20,000 + 7,000, allocated 227,000 out, full 0
    assert lab[1] == "医技" and lab[3:8] == ["20,000.00", "7,000.00", "0.00", "227,000.00", "0.00"]
    assert _by_id(page, "cost-total-direct") == "1,460,000.00元"
    assert _by_id(page, "cost-total-full") == "1,460,000.00元"          # conservation, to the cent
    assert "分摊前直接成本合计 = 分摊后临床科室全成本合计" in page
    assert _by_id(page, "cost-hospital-bed-day") == "1,015.62 元"      # (557,500 + 762,800) / 1,300
    assert _by_id(page, "cost-hospital-visit") == "139.70 元"
    # the run, its plan and the calibre are printed
    run = _by_id(page, "cost-run")
    assert "CR-T1" in run and "default" in run and "v1" in run and "2022-05 – 2022-06" in run
    assert "口径：医院全成本" in page


def test_month_selector(c):
    dflt = c["leader_a"].get("/cost/dept").text                       # default: the run's latest month
    assert _row(dflt, "dept", OWN_DEPT)[7] == "697,200.00"
    may = c["leader_a"].get("/cost/dept?month=2022-05").text            # May: every amount halved
    assert _row(may, "dept", OWN_DEPT)[7] == "348,600.00"
    assert _row(may, "dept", OWN_DEPT)[9] == "1,115.00"                 # half cost, half bed-days
    both = c["leader_a"].get("/cost/dept?month=all").text
    assert _row(both, "dept", OWN_DEPT)[7] == "1,045,800.00"
    assert _by_id(both, "cost-total-full") == "2,190,000.00元"
    r = c["leader_a"].get("/cost/dept?month=2021-01")
    assert r.status_code == 422 and "不在成本核算运行" in r.text
    assert c["leader_a"].get("/cost/dept?run=NOPE").status_code == 404


def test_dept_detail_composition(c):
    page = c["leader_a"].get(f"/cost/dept/{OWN_DEPT}?month=2022-06").text
    # full cost by cost item: personnel 273,000 + 119,160; drug 200,000; material 67,500 + 15,300; other 17,000 + 5,240
    assert _row(page, "item", "personnel")[0] == "人员经费"
    assert _row(page, "item", "personnel")[5:] == ["0.00", "392,160.00", "56.25%"]
    assert _row(page, "item", "drug")[5:] == ["0.00", "200,000.00", "28.69%"]
    assert _row(page, "item", "material")[5:] == ["0.00", "82,800.00", "11.88%"]
    assert _row(page, "item", "other")[5:] == ["0.00", "22,240.00", "3.19%"]
    assert _by_id(page, "cost-full") == "697,200.00元"
    assert _by_id(page, "cost-bed-day") == "1,115.00 元" and _by_id(page, "cost-visit") == "139.70 元"
    assert "557,500.00元 ÷ 500天 · 工作量来源 分摊参数" in page        # cost ÷ volume, and where the volume came from
    assert f"{OWN_DEPT}住院" in page and "检验科" in page and "开单收入" in page     # unit names, basis decoded
    assert "136,200.00" in _by_id(page, "cost-inflow")                           # step 3 from 检验科


def test_flow_sankey_conserves_totals(c):
    page = c["leader_a"].get("/cost/flow?month=2022-06").text
    m = re.search(r"data-sankey='([^']*)'", page)
    sk = json.loads(html.unescape(m.group(1)))
    links = sk["links"]
    inflow, outflow = {}, {}
    for lk in links:
        outflow[lk["source"]] = outflow.get(lk["source"], 0) + lk["value"]
        inflow[lk["target"]] = inflow.get(lk["target"], 0) + lk["value"]
    assert outflow["__direct__"] == pytest.approx(1_460_000, abs=0.005)
    assert inflow["__full__"] == pytest.approx(1_460_000, abs=0.005)
    for node in set(inflow) | set(outflow):               # every unit passes on what it received
        if node not in ("__direct__", "__full__"):
            assert inflow.get(node, 0) == pytest.approx(outflow.get(node, 0), abs=0.005), node
    pairs = {(lk["source"], lk["target"]): lk["value"] for lk in links}
    assert pairs[("ADM", "CSSD")] == 10000 and pairs[("CSSD", "OTH-IP")] == 42000 and pairs[("LAB", "OWN-IP")] == 113500
    assert pairs[("OWN-IP", "__full__")] == 557500 and ("ADM", "__full__") not in pairs
    assert sk["labels"]["__direct__"] == "直接成本" and sk["labels"]["LAB"] == "检验科"
    # the hop table: 31 hops, each explained (source, basis, quantity, amount, destination)
    assert "共 31 条" in page
    assert re.search(r"的人员经费按人员数 30/100（30\.00%）转入\S+住院", page)
    assert page.count("<tr>") >= 31
    both = c["leader_a"].get("/cost/flow?month=all").text
    sk2 = json.loads(html.unescape(re.search(r"data-sankey='([^']*)'", both).group(1)))
    assert sum(lk["value"] for lk in sk2["links"] if lk["target"] == "__full__") == pytest.approx(2_190_000)
    step3 = c["leader_a"].get("/cost/flow?month=2022-06&step=3").text
    assert "共 9 条" in step3


def test_drg_cost_and_margin(c):
    page = c["leader_a"].get("/cost/drg?month=2022-06&method=item_sum").text
    zz11, zz13 = _row(page, "drg", "ZZ11"), _row(page, "drg", "ZZ13")
    # columns: drg, name, cases, mean cost ccr, mean cost item_sum, mean payment, margin ccr, margin item_sum, charges
    assert zz11[2:] == ["3", "7,600.00", "7,866.67", "8,000.00", "1,200.00", "400.00", "800.00"]
    assert zz13[2:] == ["2", "5,050.00", "5,450.00", "5,000.00", "-100.00", "-900.00", "100.00"]
    assert re.search(r'<tr data-drg="ZZ13" class="losing"', page) and not re.search(r'data-drg="ZZ11" class="losing"',
                                                                                       page)
    assert _by_id(page, "cost-margin-total") == "-500.00元"            # 400 − 900
    assert _by_id(page, "cost-losing-groups") == "1组"
    assert "项目叠加法" in page and "成本收入比法" in page
    dflt = c["leader_a"].get("/cost/drg?month=2022-06").text           # 5 cases each: ties → by code, ccr
    assert _by_id(dflt, "cost-margin-total") == "1,100.00元"           # 1,200 − 100
    assert c["leader_a"].get("/cost/drg?month=2022-06&method=abc").status_code == 422


def test_drg_drill_masks_identifiers(c, app):
    (mrn, adm), = wh_sql(app, "select mrn, admission_no from v_cost_case_margin where drg = 'ZZ13' "
                              "and dept_code = ? limit 1", [OWN_DEPT])
    name = wh_sql(app, "select patient_name from discharge where mrn = ? and admission_no = ?", [mrn, adm])[0][0]
    page = c["leader_a"].get("/cost/drg/ZZ13?month=2022-06").text
    assert mrn in page and name not in page and name[0] + "*" in page
    assert "5,600.00" in page and "-600.00" in page                     # o3: item_sum cost and margin
    assert audit_rows(app, username="leader_a", action="case_list", target="cost_drg:ZZ13")
    assert name in c["admin"].get("/cost/drg/ZZ13?month=2022-06").text    # admin may see identifiers
    assert c["leader_a"].get("/cost/drg/NOPE?month=2022-06").status_code == 404


def test_dept_head_sees_only_own_department(c):
    h = c["card1"]
    r = h.get("/cost", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cost/dept/{OWN_DEPT}"
    page = h.get("/cost/dept?month=2022-06").text
    assert _row(page, "dept", OWN_DEPT)[7] == "697,200.00"
    assert f'data-dept="{OTHER_DEPT}"' not in page and "762,800.00" not in page and "1,460,000.00" not in page
    other = h.get(f"/cost/dept/{OTHER_DEPT}?month=2022-06")
    assert other.status_code == 403 and "762,800" not in other.text and "WEB-FORBIDDEN-DEPT" in other.text
    assert h.get(f"/cost/dept/{OWN_DEPT}?month=2022-06").status_code == 200
    flow = h.get("/cost/flow?month=2022-06").text
    sk = json.loads(html.unescape(re.search(r"data-sankey='([^']*)'", flow).group(1)))
    assert all("OWN" in lk["source"] or "OWN" in lk["target"] for lk in sk["links"])
    assert "共 16 条" in flow and "OTH-IP" not in flow               # 4 + 6 + 6 hops into CARD1's two units
    drg = h.get("/cost/drg?month=2022-06&method=item_sum").text
    assert _row(drg, "drg", "ZZ11")[2] == "2" and _row(drg, "drg", "ZZ11")[7] == "0.00"     # o1 + o2
    assert _row(drg, "drg", "ZZ13")[7] == "-600.00"
    assert h.get(f"/cost/drg?dept={OTHER_DEPT}").status_code == 403
    cases = h.get("/cost/drg/ZZ13?month=2022-06").text
    assert "5,300.00" not in cases and "5,600.00" in cases            # x2 (other dept) absent, o3 present


def test_medtech_head_sees_what_left_as_one_total(c):
    """检验科 passes its 227,000 on to clinical units: its head sees the total out, not other departments' shares."""
    page = c["labhead"].get("/cost/flow?month=2022-06").text
    sk = json.loads(html.unescape(re.search(r"data-sankey='([^']*)'", page).group(1)))
    pairs = {(lk["source"], lk["target"]): lk["value"] for lk in sk["links"]}
    assert pairs == {("__direct__", "LAB"): 200000, ("ADM", "LAB"): 20000, ("CSSD", "LAB"): 7000,
                     ("LAB", "__out__"): 227000}
    assert sk["labels"]["__out__"] == "分摊转出"
    assert "共 5 条" in page                                          # ADM → LAB 2 items, CSSD → LAB 3 items
    assert "OWN-IP" not in page and "OTH-IP" not in page and "113,500" not in page
    lab = c["labhead"].get("/cost/dept/LAB?month=2022-06").text
    assert _row(lab, "item", "personnel")[5] == "95,600.00" and _row(lab, "item", "material")[5] == "123,000.00"
    assert _row(lab, "item", "other")[5] == "8,400.00" and _by_id(lab, "cost-dept-name") == "检验科 LAB"
    dept = c["labhead"].get("/cost/dept?month=2022-06").text
    assert _row(dept, "dept", "LAB")[6] == "227,000.00" and f'data-dept="{OWN_DEPT}"' not in dept


def test_roles_without_cost_refused(c):
    for who in ("qc", "insurance", "records"):
        for path in ("/cost/dept", f"/cost/dept/{OWN_DEPT}", "/cost/flow", "/cost/drg", "/cost/drg/ZZ11", "/cost"):
            r = c[who].get(path, follow_redirects=False)
            assert r.status_code == 403 and "WEB-FORBIDDEN-MODULE" in r.text, (who, path)
            assert "697,200" not in r.text
        assert 'data-module="cost"' not in c[who].get("/overview").text
    for who in ("finance", "ops", "admin", "leader_a"):
        assert c[who].get("/cost/dept?month=2022-06").status_code == 200, who
        assert 'data-module="cost"' in c[who].get("/cost/dept").text


def test_empty_state_and_english(c, demo_folder, tmp_path):
    page = c["leader_b"].get("/cost/dept").text                         # H999 has no cost run
    assert "尚未运行成本核算：yunying cost run" in page and "697,200" not in page
    assert "尚未运行成本核算" in c["leader_b"].get("/cost/drg").text
    en = c["leader_a"].get(f"/cost/dept/{OWN_DEPT}?month=2022-06&lang=en").text
    assert "Department cost" in en and "personnel 人员经费" in en and "hospital full cost" in en
    bare = new_app(demo_folder, tmp_path / "bare")                       # a warehouse without any cost table
    try:
        page = login(bare, "admin").get("/cost/flow").text
        assert "尚未运行成本核算：yunying cost run" in page
    finally:
        close_app(bare)
