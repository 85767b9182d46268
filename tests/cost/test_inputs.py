"""Cost-accounting inputs (issue 17 item 1, COST-CONTRACT.md §A): the seven tables import like every other kind.

Fixtures are tiny files written here; every expected count and value is read off the literals by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from yunying.cli.main import app

runner = CliRunner()

UNITS = [  # Chinese headers and Chinese class / service-line names: aliases normalise them to codes
    "医疗机构代码,核算单元代码,核算单元名称,所属科室代码,成本核算单元类别,服务类型,生效日期,失效日期",
    "H1,0301-OP,心内科门诊,0301,临床服务类,门诊,2022-01-01,",
    "H1,0301-IP,心内科病区,0301,临床,住院,2022-01-01,",
    "H1,LAB,检验科,LAB,医疗技术类,其他,2022-01-01,",
]
LEDGER = [
    "hospital_id,month,unit_code,cost_item,fund_source,amount",
    "H1,2022-01-01,0301-IP,人员经费,自有,120000.50",
    "H1,2022-01-01,0301-IP,drug,own,80000",
    "H1,2022-01-01,LAB,depreciation,财政,30000",
]
BASIS = [  # no provider_unit column: general quantities, stored with provider_unit '*'
    "hospital_id,month,unit_code,basis_code,quantity",
    "H1,2022-01-01,0301-IP,staff,42",
    "H1,2022-01-01,0301-IP,床日,1250",
    "H1,2022-01-01,0301-OP,op_visits,3100",
]
REVENUE = [
    "hospital_id,month,charge_category,order_unit,exec_unit,amount",
    "H1,2022-01-01,lab,0301-IP,LAB,45000",
    "H1,2022-01-01,诊查费,0301-OP,0301-OP,9000",
]
ITEMS = [
    "医疗机构代码,收费项目代码,收费项目名称,收费类别,计价单位,单价(元),标准操作时间(分钟),成本当量(工作量系数),默认执行单元,生效日期,失效日期",
    "H1,250101001,血常规,化验,次,20.00,5,1.0,LAB,2022-01-01,",
    "H1,110200001,住院诊查费,consult,日,20.00,,,,2022-01-01,",
]
VOLUME = [
    "hospital_id,month,item_code,order_unit,exec_unit,quantity,amount",
    "H1,2022-01-01,250101001,0301-IP,LAB,2250,45000",
]
CASE = [
    "hospital_id,mrn,admission_no,line_no,item_code,exec_unit,charge_date,quantity,amount",
    "H1,A001,1,1,250101001,LAB,2022-01-05,3,60.00",
    "H1,A001,1,2,110200001,0301-IP,2022-01-08,8,160.00",
    "H1,A001,1,3,250101001,LAB,2022-01-06,-1,-20.00",    # a refund line nets within the case: allowed
]


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def imp(db: Path, kind: str, *files: Path) -> tuple[int, dict]:
    res = runner.invoke(app, ["import", kind, *map(str, files), "--db", str(db), "--json"])
    try:
        return res.exit_code, json.loads(res.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON on stdout: {res.stdout!r} {res.stderr!r}")


def q(db: Path, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_each_kind_imports_csv_with_chinese_headers_and_aliases(tmp_path, db):
    cases = [("cost_unit", UNITS, "gb18030", 3), ("cost_ledger", LEDGER, "utf-8", 3),
             ("cost_basis", BASIS, "utf-8-sig", 3), ("cost_revenue", REVENUE, "utf-8", 2),
             ("charge_item", ITEMS, "gb18030", 2), ("item_volume", VOLUME, "utf-8", 1),
             ("case_charge", CASE, "utf-8", 3)]
    for kind, lines, enc, n in cases:
        code, out = imp(db, kind, write(tmp_path / f"{kind}.csv", lines, enc))
        assert code == 0, (kind, out)
        assert (out["inserted"], out["rejected"]) == (n, 0), (kind, out)
    assert q(db, "select unit_code, cost_class, service_line from cost_unit order by 1") == [
        ("0301-IP", "clinical", "inpatient"), ("0301-OP", "clinical", "outpatient"), ("LAB", "medtech", "other")]
    assert q(db, "select cost_item, fund_source, amount::varchar from cost_ledger order by amount") == [
        ("depreciation", "fiscal", "30000.00"), ("drug", "own", "80000.00"), ("personnel", "own", "120000.50")]
    assert q(db, "select basis_code, provider_unit, quantity::double from cost_basis order by quantity") == [
        ("staff", "*", 42.0), ("bed_days", "*", 1250.0), ("op_visits", "*", 3100.0)]
    assert q(db, "select charge_category from cost_revenue order by 1") == [("consult",), ("lab",)]
    assert q(db, "select item_code, charge_category, price::double, std_minutes::double, exec_unit from charge_item "
                 "order by 1") == [("110200001", "consult", 20.0, None, None), ("250101001", "lab", 20.0, 5.0, "LAB")]
    # the case's lines net to 60 + 160 - 20 = 200
    assert q(db, "select sum(amount)::double from case_item_charge where mrn = 'A001'") == [(200.0,)]
    assert q(db, "select count(*) from import_log where kind in ('cost_unit','cost_ledger','cost_basis','cost_revenue',"
                 "'charge_item','item_volume','case_charge') and status = 'ok'") == [(7,)]


def test_xlsx_and_parquet(tmp_path, db):
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    wb = openpyxl.Workbook()
    ws = wb.active
    for line in LEDGER:
        ws.append(line.split(","))
    wb.save(tmp_path / "ledger.xlsx")
    code, out = imp(db, "cost_ledger", tmp_path / "ledger.xlsx")
    assert (code, out["inserted"]) == (0, 3)
    cols = BASIS[0].split(",")
    pq.write_table(pa.table({c: [r.split(",")[i] for r in BASIS[1:]] for i, c in enumerate(cols)}),
                   tmp_path / "basis.parquet")
    code, out = imp(db, "cost_basis", tmp_path / "basis.parquet")
    assert (code, out["inserted"]) == (0, 3)
    assert q(db, "select sum(amount)::double from cost_ledger") == [(230000.5,)]


def test_bad_rows_are_quarantined_with_codes_and_stored_rows_do_not_change(tmp_path, db):
    code, _ = imp(db, "cost_ledger", write(tmp_path / "good.csv", LEDGER))
    assert code == 0
    before = q(db, "select * from cost_ledger order by all")
    bad = write(tmp_path / "bad.csv", [
        LEDGER[0],
        "H1,2022-01-01,0301-IP,personnel,own,-5",          # row 2: negative amount, same key as a stored row
        "H1,2022-01-01,0301-IP,bonus,own,100",             # row 3: bonus is no cost item
        "H1,2022-01-15,0301-IP,drug,own,100",              # row 4: not a first-of-month date
        "H1,2022-01-01,LAB,depreciation,fiscal,",          # row 5: no amount (same key as a stored row)
        "H1,2022-01-01,LAB,other,donor,100",               # row 6: donor is no fund source
        "H1,2022-02-01,LAB,other,own,700",                 # row 7: good
    ])
    code, out = imp(db, "cost_ledger", bad)
    assert code == 0 and (out["inserted"], out["updated"], out["rejected"]) == (1, 0, 5)
    got = q(db, "select row_no, field, value, code from import_reject order by row_no")
    assert got == [(2, "amount", "-5.00", "IMP-NEGATIVE"), (3, "cost_item", "bonus", "IMP-CODE"),
                   (4, "month", "2022-01-15", "IMP-MONTH"), (5, "amount", None, "IMP-VALUE-MISSING"),
                   (6, "fund_source", "donor", "IMP-CODE")]
    zh, en, raw = q(db, "select reason_zh, reason_en, raw_record from import_reject where row_no = 3")[0]
    assert "第3行" in zh and "personnel 人员经费" in zh and "not a valid code" in en and "bonus" in raw
    assert q(db, "select file_name from import_log l join import_reject r using (import_id) limit 1") == [("bad.csv",)]
    # the stored rows are untouched; only the good row 7 was added
    after = q(db, "select * from cost_ledger where month = '2022-01-01' order by all")
    assert after == before
    assert q(db, "select amount::double from cost_ledger where month = '2022-02-01'") == [(700.0,)]


def test_unit_periods_basis_and_dictionary_rejects(tmp_path, db):
    units = write(tmp_path / "u.csv", [
        "hospital_id,unit_code,unit_name,dept_code,cost_class,service_line,valid_from,valid_to",
        "H1,U1,一,D1,clinical,inpatient,2022-06-01,2022-05-31",      # row 2: ends before it starts
        "H1,U2,二,D1,hospital,inpatient,2022-01-01,",                 # row 3: unknown class
        "H1,U3,三,D1,admin,other,2022-01-01,2022-01-01",              # row 4: one day: fine
    ])
    code, out = imp(db, "cost_unit", units)
    assert (out["inserted"], out["rejected"]) == (1, 2)
    assert q(db, "select row_no, code, value from import_reject order by 1") == [
        (2, "IMP-VALID-ORDER", "2022-05-31"), (3, "IMP-CODE", "hospital")]
    basis = write(tmp_path / "b.csv", [
        "hospital_id,month,unit_code,basis_code,provider_unit,quantity",
        "H1,2022-01-01,U1,packs,CSSD,-3",                              # row 2: negative
        "H1,2022-01-01,U1,percent,*,0.3",                              # row 3: percentages are no basis
        "H1,2022-01-01,U1,packs,,12",                                  # row 4: empty provider -> '*'
    ])
    code, out = imp(db, "cost_basis", basis)
    assert (out["inserted"], out["rejected"]) == (1, 2)
    assert q(db, "select provider_unit, quantity::double from cost_basis") == [("*", 12.0)]
    items = write(tmp_path / "i.csv", ["hospital_id,item_code,item_name,charge_category,price,valid_from",
                                       "H1,X1,甲,lab,-1,2022-01-01", "H1,X2,乙,药品,5,2022-01-01"])
    code, out = imp(db, "charge_item", items)
    assert (out["inserted"], out["rejected"]) == (0, 2)
    assert sorted(r[0] for r in q(db, "select code from import_reject where kind = 'charge_item'")) == \
        ["IMP-CODE", "IMP-NEGATIVE"]


def test_reimport_is_idempotent(tmp_path, db):
    f = write(tmp_path / "rev.csv", REVENUE)
    assert imp(db, "cost_revenue", f)[1]["inserted"] == 2
    before = q(db, "select * from cost_revenue order by all")
    code, out = imp(db, "cost_revenue", f)
    assert code == 0 and (out["inserted"], out["updated"], out["rejected"]) == (0, 2, 0)
    assert q(db, "select * from cost_revenue order by all") == before
    # a corrected amount replaces the row by key, never duplicates it
    write(tmp_path / "rev2.csv", [REVENUE[0], REVENUE[1].replace("45000", "45500")])
    imp(db, "cost_revenue", tmp_path / "rev2.csv")
    assert q(db, "select count(*), sum(amount)::double from cost_revenue") == [(2, 54500.0)]


def test_import_all_takes_cost_dictionaries_first(tmp_path, db):
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "cost_ledger_2022.csv", LEDGER)
    write(folder / "charge_item.csv", ITEMS)
    write(folder / "cost_unit.csv", UNITS, "gb18030")
    write(folder / "case_charge_2022.csv", CASE)
    res = runner.invoke(app, ["import", "all", str(folder), "--db", str(db), "--json"])
    assert res.exit_code == 0, res.stdout
    out = json.loads(res.stdout)
    assert list(out["imports"]) == ["cost_unit", "charge_item", "cost_ledger", "case_charge"]
    assert q(db, "select count(*) from cost_ledger") == [(3,)]


def test_reorganised_unit_keeps_its_history_by_month(tmp_path, db):
    """Unit 0405 was a 医疗辅助 unit of dept D4 until 2022-03-31 and becomes a 医疗技术 unit of D5 on 2022-04-01;
    unit 0301-IP is opened on 2022-02-10 (so first in force on 1 March); the ledger runs to May 2022.
    Hand-worked v_cost_unit_month (unit row in force on the first of each month, January to May):
      0405: Jan, Feb, Mar support/D4; Apr, May medtech/D5.   0301-IP: Mar, Apr, May (not in Feb: opened on the 10th).
    """
    write(tmp_path / "u.csv", [
        "hospital_id,unit_code,unit_name,dept_code,cost_class,service_line,valid_from,valid_to",
        "H1,0405,消毒供应室,D4,support,other,2022-01-01,2022-03-31",
        "H1,0405,消毒供应中心,D5,medtech,other,2022-04-01,",
        "H1,0301-IP,心内科病区,0301,clinical,inpatient,2022-02-10,",
    ])
    assert imp(db, "cost_unit", tmp_path / "u.csv")[1]["inserted"] == 3
    write(tmp_path / "l.csv", [LEDGER[0], "H1,2022-05-01,0405,other,own,10"])
    assert imp(db, "cost_ledger", tmp_path / "l.csv")[1]["inserted"] == 1
    got = q(db, "select strftime(month, '%m'), unit_code, unit_name, dept_code, cost_class from v_cost_unit_month "
                "order by unit_code, month")
    assert got == [
        ("03", "0301-IP", "心内科病区", "0301", "clinical"), ("04", "0301-IP", "心内科病区", "0301", "clinical"),
        ("05", "0301-IP", "心内科病区", "0301", "clinical"),
        ("01", "0405", "消毒供应室", "D4", "support"), ("02", "0405", "消毒供应室", "D4", "support"),
        ("03", "0405", "消毒供应室", "D4", "support"), ("04", "0405", "消毒供应中心", "D5", "medtech"),
        ("05", "0405", "消毒供应中心", "D5", "medtech")]


@pytest.mark.parametrize("kind", ["cost_ledger", "cost_basis"])
def test_a_file_without_the_unit_column_is_refused_naming_it(tmp_path, db, kind):
    f = write(tmp_path / "x.csv", ["hospital_id,month,amount,quantity", "H1,2022-01-01,1,1"])
    code, out = imp(db, kind, f)
    assert code == 1 and out["files"][0]["error_code"] == "IMP-MISSING-COLUMN"
    assert "核算单元代码" in out["files"][0]["message"]


def test_usual_export_headers_map_through_the_cost_profiles(tmp_path, db):
    # headers of a finance-system export (yunying/ingest/profiles/cost-ledger.yaml): 2 rows, both stored
    f = write(tmp_path / "export.csv", ["机构代码,月份,核算单元,成本项目,经费来源,本期金额",
                                        "H1,2022-03-01,0301-IP,固定资产折旧,财政,5000",
                                        "H1,2022-03-01,0301-IP,卫生材料费,自有资金,1200.40"], "gb18030")
    code, out = imp(db, "cost_ledger", f)
    assert code == 0 and out["inserted"] == 2 and out["files"][0]["unknown_columns"] == []
    assert out["files"][0]["profile"] == "cost-ledger-headers"
    assert q(db, "select cost_item, fund_source, amount::double from cost_ledger order by 1") == [
        ("depreciation", "fiscal", 5000.0), ("material", "own", 1200.4)]
