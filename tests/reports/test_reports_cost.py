"""The annual report's 成本核算 section on the literal warehouse plus the hand-worked cost run of
tests/web/cost_fixture.py (2022-05 and 2022-06; figures worked there): present with the run and calibre, the right
figures in sentences, tables, Word and Excel; a clear note when no cost run covers the year."""

from __future__ import annotations

import pytest

from reports_fixtures import build_literal
from tests.web.cost_fixture import install
from yunying.reports import build_annual, write
from yunying.warehouse.db import connect

CASES = {"o1": ("220", 1), "o2": ("221", 1), "o3": ("222", 1), "x1": ("223", 1), "x2": ("224", 1)}


@pytest.fixture(scope="module")
def cost_db(tmp_path_factory):
    p = tmp_path_factory.mktemp("repcost") / "cost.duckdb"
    build_literal(p)
    con = connect(p)
    try:
        install(con, hospital="H1", own="A", other="B", cases=CASES)
    finally:
        con.close()
    return p


@pytest.fixture(scope="module")
def report(cost_db):
    con = connect(cost_db)
    try:
        return build_annual(con, 2022)
    finally:
        con.close()


def _table(section, prefix):
    return next(t for t in section.tables if t.title.startswith(prefix))


def _plain(row):
    return [c[0] if isinstance(c, tuple) else c for c in row]


def test_cost_section_sentences(report):
    s = report.section("cost")
    assert s.title == "六、成本核算"
    text = "\n".join(p.text for p in s.paragraphs)
    assert "成本核算运行CR-T1（分摊方案default v1，核算期间2022-05至2022-06），口径为医院全成本" in text
    assert "成本核算期间仅覆盖2022年的2个月" in text
    # Σ full = Σ direct = 1,460,000 × 1.5 (May is half of June) = 219.00万元
    assert "临床服务类科室全成本合计219.00万元，与分摊前直接成本合计219.00万元一致。" in text
    # B (OTHER) 762,800 × 1.5 = 1,144,200; A (OWN) 697,200 × 1.5 = 1,045,800
    assert "全成本居前的科室为外科（114.42万元）、内科（104.58万元）。" in text
    # visit 139,700 × 1.5 / 1,500 = 139.70; bed-day 1,320,300 × 1.5 / 1,950 = 1,015.62
    assert "全院诊次成本139.70元，床日成本1015.62元。" in text
    # both methods have 5 case rows → ccr (ties by code); ZZ13 loses 100 on cost and gains 100 on charges
    assert ("按成本收入比法测算，2个有病例成本的DRG组中1个成本口径亏损（占50.00%），合计亏损100.00元，"
            "其中1个组按费用口径并不亏损。") in text
    prov = [v for p in s.paragraphs for v in p.values]
    assert {v.indicator_id for v in prov} >= {"COST-FULL", "COST-DIRECT", "COST-VISIT", "COST-BED-DAY",
                                              "COST-DRG-LOSS"}
    assert all(v.note == "成本核算运行 CR-T1" and v.source == "cost" for v in prov)
    assert "成本核算 cost_run CR-T1" in report.sources["cost"]


def test_cost_section_tables(report):
    s = report.section("cost")
    top = _table(s, "科室全成本")
    assert [r[1] for r in top.rows] == ["B", "A"]
    # B: direct 900,000; steps 45,000 / 63,000 / 136,200; full 1,144,200 = 52.25 % of 2,190,000
    b = _plain(top.rows[0])
    assert b[:7] == ["外科", "B", 900000.0, 45000.0, 63000.0, 136200.0, 1144200.0]
    assert b[7] == pytest.approx(1144200 / 2190000)
    assert "CR-T1" in top.note and "医院全成本" in top.note
    uc = {r[1] or "*": _plain(r) for r in _table(s, "诊次/床日成本").rows}
    assert uc["*"][2:] == [139.7, 1500.0, 1015.62, 1950.0, "分摊参数"]
    assert uc["A"][2:] == [139.7, 1500.0, 1115.0, 750.0, "分摊参数"]
    assert uc["B"][2:] == [None, None, 953.5, 1200.0, "分摊参数"]
    drg = _table(s, "成本口径亏损 DRG 组")
    assert "成本收入比法" in drg.title
    assert [_plain(r) for r in drg.rows] == [["ZZ13", 2, 5050.0, 5000.0, -100.0, 100.0]]


def test_cost_section_in_word_and_excel(report, tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    paths = write(report, tmp_path, formats=("docx", "xlsx"))
    doc = Document(str(next(p for p in paths if p.suffix == ".docx")))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "六、成本核算" in body and "全成本居前的科室为外科（114.42万元）" in body
    assert any(c.text == "1144200.00" for t in doc.tables for row in t.rows for c in row.cells)
    wb = load_workbook(next(p for p in paths if p.suffix == ".xlsx"))
    ws = wb["六、成本核算"]
    cells = {c.value: c for row in ws.iter_rows() for c in row if c.value is not None}
    assert 1144200 in cells and cells[1144200].number_format == "#,##0.00"      # a number, not text
    assert "ZZ13" in cells


def test_no_cost_run_says_so(tmp_path, cost_db):
    p = tmp_path / "plain.duckdb"
    build_literal(p)
    con = connect(p)
    try:
        r = build_annual(con, 2022)
    finally:
        con.close()
    s = r.section("cost")
    assert [p.text for p in s.paragraphs] == ["尚未运行成本核算（yunying cost run），2022年无成本核算结果，本节从略。"]
    assert s.paragraphs[0].style == "note" and not s.tables
    assert "cost" not in r.sources
    con = connect(cost_db)                    # a run exists, but not for 2021
    try:
        r21 = build_annual(con, 2021)
    finally:
        con.close()
    assert "2021年无成本核算结果" in r21.section("cost").paragraphs[0].text
