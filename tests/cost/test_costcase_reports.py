"""xlsx: 医疗服务项目成本汇总表, 病种/DRG 成本明细与构成表, 科室保本点 — numbers as numbers, formula-safe text."""

from __future__ import annotations

import pytest
from openpyxl import Workbook, load_workbook
from tests.cost.test_costcase_items import _hospital
from tests.cost.test_costcase_margin import priced  # noqa: F401  (fixture)

from yunying.cost.case_reports import write_case_cost_reports
from yunying.cost.cases import run_case_costing
from yunying.warehouse.db import connect


def _table(ws):
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    i = next(n for n, r in enumerate(rows) if r[0] in ("收费项目编码", "主要诊断编码", "层级", "科室"))
    return rows[:i], rows[i], rows[i + 1:]


def test_drg_and_disease_sheets(priced, tmp_path):  # noqa: F811
    con, _ = priced
    con.execute("insert into discharge_diagnosis (hospital_id, mrn, admission_no, dx_type, seq, dx_code, dx_name) "
                "values ('H1', 'c1', 1, 'W', 0, 'K35.8', '=HYPERLINK(\"x\")'), ('H1', 'c2', 1, 'W', 0, 'K35.8', '=HYPERLINK(\"x\")')")
    path = tmp_path / "out" / "cost.xlsx"
    write_case_cost_reports(con, "cr1", path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["医疗服务项目成本汇总表", "病种成本明细表", "病种成本构成表", "DRG成本明细表",
                             "DRG成本构成表", "科室保本点"]
    head, cols, rows = _table(wb["DRG成本明细表"])
    assert "cr1" in head[0][0] and "成本收入比法 3 例" in head[1][0]
    hosp = {r[3]: r for r in rows if r[0] == "全院"}
    # GZ13: c1 6 500 + c2 23 400 → mean 14 950; payments 8 000 + 10 000 → mean 9 000; cost margin −11 900,
    # charge margin 18 000 − 33 200 = −15 200
    assert hosp["GZ13"][4:10] == [2, pytest.approx(14950), pytest.approx(9000), pytest.approx(16600),
                                  pytest.approx(-11900), pytest.approx(-15200)]
    assert all(isinstance(v, (int, float)) for v in hosp["GZ13"][4:10])      # numbers, not text
    team = {(r[2], r[3]): r for r in rows if r[0] == "医疗组"}
    assert team[("T1", "AB11")][8] == pytest.approx(-800)
    _, _, comp = _table(wb["DRG成本构成表"])
    gz = next(r for r in comp if r[0] == "全院" and r[3] == "GZ13")
    assert gz[6] == pytest.approx(200 / 29900 * 100) and gz[8] == pytest.approx(29700 / 29900 * 100)
    # composition by 成本项目 (pools: WARD personnel 9 000 + OR personnel 12 000; drugs at cost): drug 200,
    # personnel 29 700 → the same split in the cost-item columns
    heads = _table(wb["DRG成本构成表"])[1]
    by_head = dict(zip(heads[9:], gz[9:]))
    assert sum(v for v in by_head.values() if v) == pytest.approx(100)
    assert sorted(v for v in by_head.values() if v) == [pytest.approx(200 / 29900 * 100),
                                                        pytest.approx(29700 / 29900 * 100)]
    assert len(by_head) == 2                    # only the cost items present (drug, personnel), labelled
    _, _, dis = _table(wb["病种成本明细表"])
    k = next(r for r in dis if r[0] == "K35.8")
    assert k[1] == "'=HYPERLINK(\"x\")"                               # text never becomes a formula
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    assert k[2] == 2 and k[3] == pytest.approx(14950)
    _, cols, be = _table(wb["科室保本点"])
    assert be[0][0] == "GS" and be[0][6] == pytest.approx(21000 / (28000 / 3 - 2000 / 3))


def test_item_summary_sheet_into_a_given_workbook(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    _hospital(con)
    run_case_costing(con, "cr1")
    wb = Workbook()
    out = write_case_cost_reports(con, "cr1", wb)
    assert out is wb and wb.sheetnames[0] == "Sheet"                  # the caller's sheets are kept
    head, cols, rows = _table(wb["医疗服务项目成本汇总表"])
    assert cols[:5] == ["收费项目编码", "收费项目名称", "收费类别", "执行核算单元", "核算方法"]
    by = {r[0]: r for r in rows}
    assert by["L1"][4] == "作业成本法" and by["B1"][4] == "成本比例系数法（收入）"
    assert by["L1"][5:9] == [100, 2000, pytest.approx(3800), pytest.approx(38)]
    assert "1.2000" in head[1][0]                                    # the drug cost ratio is stated
