"""Indicator definitions of issue 14: surgery with and without the procedure dictionary (fallback note), one
dictionary row per code, 门诊次均费用 over one set of visits, 门诊/住院药占比, code lists and 死亡 as data.

Hand-made warehouse of indfixtures.py (2022: D1 GS P1 grade 3 + P2 grade 4 same time, DX diagnostic; D2 GS P3
grade 4, P4 grade 2; D3 IM DX only, other diagnosis K91.800 not POA; D4 IM nothing), plus what each test adds.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from indfixtures import PX_DICT, build, insert
from yunying.indicators import compute, load_px_dict
from yunying.warehouse.db import connect

NO_DICT = "按手术级别近似，未加载手术操作分类字典"
NOT_IN_DICT = "部分手术操作编码未收录于手术操作分类字典，按手术级别近似"
SURGERY_IDS = ["G3-04", "G3-06", "G3-08", "G3-09"]

# D3 (IM) gets a PCI with 手术级别 3 (an 介入治疗 by the dictionary)
PCI = dict(hospital_id="H1", mrn="M3", admission_no=1, seq=2, px_code="PCI", level="3", px_time="2022-06-02 14:00")
PCI_DICT = ("PCI", "经皮冠状动脉介入治疗", "interventional", 3, True)


def _wh(*, px_dict: bool, pci: bool = True):
    con = connect(":memory:")
    build(con, px_dict=px_dict)
    if pci:
        insert(con, "discharge_procedure", [PCI])
        if px_dict:
            load_px_dict(con, [PCI_DICT], source="extra")
    return con


def _rows(con, catalogue, ids, level="hospital"):
    return {(r["indicator_id"], r["dept_code"] or ""): r
            for r in compute(con, catalogue, ids=ids, period="2022", level=level, targets=[])}


def _nd(r):
    return (r["numerator"], r["denominator"])


# ---------------------------------------------------------------- 1. surgery and the procedure dictionary

def test_interventional_not_surgery_with_the_dictionary(catalogue):
    """Dictionary loaded: the PCI is 介入治疗 → not 手术 (documented reading), no note.
    G3-04 台次 D1 1 + D2 2 = 3 / 4 discharges; G3-06 grade-4 sessions D1, D2-P3 = 2 / 3; G3-08 surgical patients
    D1 D2 (D3 not surgical) → complication D2 only = 1 / 2; G3-09 Ⅰ类 rows D1-P1 D1-P2 D2-P3, SSI D2-P3 = 1 / 3."""
    con = _wh(px_dict=True)
    r = _rows(con, catalogue, SURGERY_IDS)
    assert _nd(r[("G3-04", "")]) == (3, 4) and _nd(r[("G3-06", "")]) == (2, 3)
    assert _nd(r[("G3-08", "")]) == (1, 2) and _nd(r[("G3-09", "")]) == (1, 3)
    assert all(r[(i, "")]["note"] is None and r[(i, "")]["fallback"] is None for i in SURGERY_IDS)


def test_without_the_dictionary_the_fallback_says_so(catalogue):
    """No dictionary: every procedure with a 手术级别 is 手术, the PCI included, and every figure says so.
    G3-04 (1 + 2 + PCI 1) = 4 / 4; G3-06 2 / 4; G3-08 surgical D1 D2 D3, complications D2 (T81) and D3 (K91.800
    not POA) = 2 / 3; G3-09 unchanged 1 / 3 (the PCI has no incision class)."""
    con = _wh(px_dict=False)
    r = _rows(con, catalogue, SURGERY_IDS)
    assert _nd(r[("G3-04", "")]) == (4, 4) and r[("G3-04", "")]["value"] == 100.0
    assert _nd(r[("G3-06", "")]) == (2, 4) and _nd(r[("G3-08", "")]) == (2, 3)
    assert _nd(r[("G3-09", "")]) == (1, 3)
    for i in SURGERY_IDS:
        assert r[(i, "")]["fallback"] == "px_no_dict" and r[(i, "")]["note"].startswith(NO_DICT), r[(i, "")]
    dept = _rows(con, catalogue, ["G3-04"], level="department")
    assert dept[("G3-04", "IM")]["note"].startswith(NO_DICT)           # every level carries it
    assert _rows(con, catalogue, ["OP-02"])[("OP-02", "")]["note"] is None   # figures not reading procedures: none


def test_every_entry_reading_the_columns_carries_the_note(catalogue):
    """The note follows the columns, not a list of ids: G2-01 (二级 出院患者手术占比) and OP-12 (persons with
    surgery, over v_discharge.has_surgery) carry it too."""
    con = _wh(px_dict=False)
    r = _rows(con, catalogue, ["G2-01", "OP-12"])
    assert r[("G2-01", "")]["fallback"] == "px_no_dict" and r[("OP-12", "")]["fallback"] == "px_no_dict"


def test_codes_missing_from_a_loaded_dictionary_are_labelled(catalogue):
    """Dictionary loaded without the PCI code: the PCI counts by its grade (4 / 4) and the note says which reading."""
    con = _wh(px_dict=True, pci=False)
    insert(con, "discharge_procedure", [PCI])
    r = _rows(con, catalogue, ["G3-04"])[("G3-04", "")]
    assert _nd(r) == (4, 4) and r["fallback"] == "px_not_in_dict" and r["note"].startswith(NOT_IN_DICT)


def test_dictionary_for_another_year_is_no_dictionary(catalogue):
    con = _wh(px_dict=False)
    load_px_dict(con, [*PX_DICT, PCI_DICT], source="y2023", valid_from_year=2023)
    r = _rows(con, catalogue, ["G3-04"])[("G3-04", "")]
    assert _nd(r) == (4, 4) and r["fallback"] == "px_no_dict"


def test_two_overlapping_dictionaries_do_not_duplicate_procedures(catalogue):
    """Loading the same codes twice (two sources) used to double every joined procedure row (38/2962 for 19/1481).
    Still G3-09 1 / 3, G3-04 3 / 4; one attribute row per code and year."""
    con = _wh(px_dict=False)
    load_px_dict(con, [*PX_DICT, PCI_DICT], source="national-2022")
    load_px_dict(con, [*PX_DICT, PCI_DICT], source="hospital-copy")
    r = _rows(con, catalogue, SURGERY_IDS)
    assert _nd(r[("G3-09", "")]) == (1, 3) and _nd(r[("G3-04", "")]) == (3, 4)
    assert _nd(r[("G3-06", "")]) == (2, 3) and _nd(r[("G3-08", "")]) == (1, 2)
    assert con.execute("select count(*) from v_procedure").fetchall()[0][0] == 8          # 7 fixture rows + PCI
    assert con.execute("select max(n) from (select count(*) n from v_px_dict_year group by year, code)"
                       ).fetchall()[0][0] == 1


def test_last_load_wins(catalogue):
    """A later load re-classifying P4 as 介入治疗 wins: D2 keeps one 台次 (P3) → G3-04 (1 + 1) / 4."""
    con = _wh(px_dict=False, pci=False)
    load_px_dict(con, PX_DICT, source="a")
    load_px_dict(con, [("P4", "手术4", "interventional", 2, False)], source="b")
    assert _nd(_rows(con, catalogue, ["G3-04"])[("G3-04", "")]) == (2, 4)
    load_px_dict(con, PX_DICT, source="a")                     # reloading a replaces it and is now the latest
    assert _nd(_rows(con, catalogue, ["G3-04"])[("G3-04", "")]) == (3, 4)


def test_an_explicit_version_wins_over_a_later_unversioned_load(catalogue):
    """The 2022 list says P4 is 介入治疗; an unversioned list loaded afterwards says 手术: for 2022 the explicit
    version holds → G3-04 (1 + 1) / 4; a version for 2023 only does not apply to 2022 → (1 + 2) / 4."""
    con = _wh(px_dict=False, pci=False)
    load_px_dict(con, [("P4", "手术4", "interventional", 2, False)], source="v2022", valid_from_year=2022,
                 valid_to_year=2022)
    load_px_dict(con, PX_DICT, source="generic")
    assert _nd(_rows(con, catalogue, ["G3-04"])[("G3-04", "")]) == (2, 4)
    con = _wh(px_dict=False, pci=False)
    load_px_dict(con, [("P4", "手术4", "interventional", 2, False)], source="v2023", valid_from_year=2023)
    load_px_dict(con, PX_DICT, source="generic")
    assert _nd(_rows(con, catalogue, ["G3-04"])[("G3-04", "")]) == (3, 4)


def test_duplicates_loaded_before_migration_0070_count_once(catalogue):
    """Rows inserted without a load stamp (as before 0070), the same codes twice: still 1 / 3."""
    con = _wh(px_dict=True, pci=False)
    con.executemany("insert into ind_px_dict (code, name, category, grade, minimally_invasive) values (?,?,?,?,?)",
                    PX_DICT)
    assert _nd(_rows(con, catalogue, ["G3-09"])[("G3-09", "")]) == (1, 3)


def test_px_dict_file_one_row_per_code(tmp_path):
    from yunying.indicators.engine import px_dict_rows

    f = tmp_path / "px.csv"
    f.write_text("code,name,category,level,minimally_invasive\nA1,甲,surgery,3,1\nA1,甲,interventional,3,\n"
                 "B2,乙,diagnostic,,\n", encoding="utf-8")
    assert px_dict_rows(f) == [("A1", "甲", "interventional", 3, None), ("B2", "乙", "diagnostic", None, None)]


def test_demo_code_list_carries_its_minimally_invasive_marking():
    """微创 of the demo hospital is data in its code list (no words in the engine)."""
    from importlib import resources

    from yunying.indicators.engine import px_dict_rows

    rows = {r[0]: r for r in px_dict_rows(resources.files("yunying.synth").joinpath("codes/px_codes.csv"))}
    assert rows["47.0100"][4] is True and rows["47.0901"][4] is False     # 腹腔镜阑尾切除术 / 阑尾切除术
    assert all(r[4] is None for r in rows.values() if r[2] in ("diagnostic", "therapeutic"))


# ---------------------------------------------------------------- the note on every surface

runner = CliRunner()


def test_cli_compute_and_explain_show_the_note(tmp_path):
    from yunying.cli.main import app

    db = tmp_path / "d.duckdb"
    con = connect(db)
    build(con, px_dict=False)
    con.close()
    res = runner.invoke(app, ["indicators", "compute", "--db", str(db), "--id", "G3-04", "--format", "json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)[0]
    assert row["fallback"] == "px_no_dict" and row["note"].startswith(NO_DICT)
    res = runner.invoke(app, ["indicators", "explain", "G3-04", "--db", str(db)])
    assert res.exit_code == 0 and NO_DICT in res.output, res.output


def test_report_tables_and_warnings_show_the_note(tmp_path):
    from yunying.reports.build import build_annual

    db = tmp_path / "d.duckdb"
    con = connect(db)
    build(con, px_dict=False)
    rep = build_annual(con, 2022)
    con.close()
    assert any(NO_DICT in w and "G3-08" in w for w in rep.warnings), rep.warnings
    cells = [row for s in rep.sections for t in s.tables for row in t.rows if row[1] == "G3-08"]
    assert cells and NO_DICT in cells[0][-1]


# ---------------------------------------------------------------- 3. 门诊次均费用: the same visits

def test_op_mean_charge_numerator_and_denominator_cover_the_same_visits(catalogue):
    """OP-22 = fees of the 门急诊 visits / those visits: V1..V5, V7 = 2900 / 6 (check-up V6 400 in neither).
    A second check-up with fee 10 000 and more finance 门急诊收入 (which includes 体检) change nothing; the
    department values are the same visits' sums: GS V2 V4 V5 V7 = 2500 / 4, IM V1 V3 = 400 / 2."""
    con = connect(":memory:")
    build(con)
    from indfixtures import visit
    insert(con, "outpatient_visit", [visit("V8", "checkup", "GS", "2022-05-01", 10000)])
    insert(con, "finance_month", [dict(hospital_id="H1", month="2022-05-01", dept_code="*",
                                       item_code="income_outpatient", amount=10000)])
    r = _rows(con, catalogue, ["OP-22"])[("OP-22", "")]
    assert _nd(r) == (2900, 6) and r["value"] == pytest.approx(2900 / 6)
    d = _rows(con, catalogue, ["OP-22"], level="department")
    assert _nd(d[("OP-22", "GS")]) == (2500, 4) and _nd(d[("OP-22", "IM")]) == (400, 2)


def test_op_mean_charge_counts_only_visits_with_a_fee(catalogue):
    """A visit without a fee record is in neither part: still 2900 / 6."""
    con = connect(":memory:")
    build(con)
    from indfixtures import visit
    insert(con, "outpatient_visit", [visit("V9", "general", "IM", "2022-05-02", None)])
    assert _nd(_rows(con, catalogue, ["OP-22"])[("OP-22", "")]) == (2900, 6)


# ---------------------------------------------------------------- 6. 门诊 / 住院药占比

def test_drug_shares_from_finance(catalogue):
    """Finance drug lines: 住院 150 000 / 住院收入 500 000 = 30 %; 门急诊 100 000 / 门急诊收入 300 000 = 33.33 %."""
    con = connect(":memory:")
    build(con)
    insert(con, "finance_month", [dict(hospital_id="H1", month="2022-01-01", dept_code="*", item_code=k, amount=v)
                                  for k, v in {"income_inpatient_drug": 150000,
                                               "income_outpatient_drug": 100000}.items()])
    r = _rows(con, catalogue, ["OP-03.ip", "OP-03.op"])
    assert _nd(r[("OP-03.ip", "")]) == (150000, 500000) and r[("OP-03.ip", "")]["value"] == pytest.approx(30.0)
    assert _nd(r[("OP-03.op", "")]) == (100000, 300000) and r[("OP-03.op", "")]["value"] == pytest.approx(100 / 3)
    assert r[("OP-03.ip", "")]["note"] is None and r[("OP-03.op", "")]["note"] is None


def test_drug_shares_without_finance_from_the_fees_labelled(catalogue):
    """No finance: 住院 from the 首页 fee block, drug 3000+4000+1200+1800 / fee 10000+20000+3000+6000 = 25.64 %;
    门诊 from the visits' fees, drug 200+200+0+400+0+400 / fee 2900 = 41.38 %; each row names its source.
    Departments: 住院 GS 7000 / 30000, 门诊 IM (V1 200 + V3 0) / (300 + 100) = 50 %."""
    con = connect(":memory:")
    build(con, finance=False)
    r = _rows(con, catalogue, ["OP-03.ip", "OP-03.op"])
    ip, op = r[("OP-03.ip", "")], r[("OP-03.op", "")]
    assert _nd(ip) == (10000, 39000) and ip["value"] == pytest.approx(10000 / 390)
    assert ip["fallback"] == "alternative:OP-03.dept" and ip["note"].startswith("按病案首页费用计算")
    assert ip["name"] == "住院药占比" and ip["indicator_id"] == "OP-03.ip"
    assert _nd(op) == (1200, 2900) and op["value"] == pytest.approx(1200 / 29)
    assert op["fallback"] == "alternative:OP-03.op_visit" and op["note"].startswith("按门急诊就诊记录费用计算")
    d = _rows(con, catalogue, ["OP-03.ip", "OP-03.op"], level="department")
    assert _nd(d[("OP-03.ip", "GS")]) == (7000, 30000) and d[("OP-03.op", "IM")]["value"] == pytest.approx(50.0)
    # the 药占比 of finance itself stays not computable (no silent substitute)
    assert _rows(con, catalogue, ["OP-03"])[("OP-03", "")]["status"] == "不可计算"


def test_computability_counts_the_alternative():
    from yunying.indicators.engine import computability

    con = connect(":memory:")
    build(con, finance=False)
    ok = computability(con, period="2022")
    assert ok["OP-03.ip"][0] and ok["OP-03.op"][0] and not ok["OP-03"][0]


# ---------------------------------------------------------------- 9. domain knowledge as data

def test_complication_codes_are_seeded_from_the_data_file():
    from yunying.warehouse.codelists import DEFAULTS, read_code_lists

    con = connect(":memory:")
    rows = set(con.execute("select list_name, code_prefix, name_zh from ind_code_list").fetchall())
    assert rows == set(read_code_lists(DEFAULTS))
    assert ("surgical_complication", "T81", "操作并发症（出血、休克、伤口裂开、感染等）") in rows
    assert ("ssi", "T81.4", "操作后感染（手术部位感染）") in rows


def test_code_list_seeding_keeps_existing_warehouses_working(tmp_path):
    """A warehouse migrated before 0072 holds 0030's rows (source 'spec §3 default') and maybe a list the user
    loaded: 0072 replaces the former by the file's identical rows and keeps the latter."""
    from yunying.warehouse.codelists import DEFAULTS, LEGACY_SOURCE, read_code_lists

    db = tmp_path / "old.duckdb"
    con = connect(db)
    con.execute("delete from ind_code_list")
    con.executemany("insert into ind_code_list values (?, ?, ?, ?)",
                    [(*r, LEGACY_SOURCE) for r in read_code_lists(DEFAULTS) if r[0] == "surgical_complication"])
    con.execute("insert into ind_code_list values ('ssi', 'T81.3', '官方', 'official-2023')")
    con.execute("delete from schema_migrations where version = '0072_code_lists.py'")
    con.close()
    con = connect(db)
    got = con.execute("select list_name, code_prefix, source from ind_code_list order by 1, 2").fetchall()
    assert ("ssi", "T81.3", "official-2023") in got and ("ssi", "T81.4") not in {g[:2] for g in got}
    comp = [g for g in got if g[0] == "surgical_complication"]
    assert len(comp) == 21 and {g[2] for g in comp} == {"yunying default (spec §3)"}


def test_load_code_list_cli_replaces_a_list(tmp_path, catalogue):
    """The list replaced by one holding only I26: D2's T81.000 no longer counts and D1's I26.900 was present on
    admission → G3-08 0 / 2 (was 1 / 2)."""
    from yunying.cli.main import app

    db = tmp_path / "d.duckdb"
    con = connect(db)
    build(con)
    con.close()
    f = tmp_path / "c.csv"
    f.write_text("code_prefix,name_zh\nI26,肺栓塞\n", encoding="utf-8")
    res = runner.invoke(app, ["indicators", "load-code-list", str(f), "--db", str(db), "--list",
                              "surgical_complication"])
    assert res.exit_code == 0, res.output
    con = connect(db)
    assert con.execute("select count(*) from ind_code_list where list_name = 'surgical_complication'"
                       ).fetchall()[0][0] == 1
    assert _nd(_rows(con, catalogue, ["G3-08"])[("G3-08", "")]) == (0, 2)


def test_death_is_a_domain_group():
    from yunying.model.catalogue import died_sql, load_model

    assert load_model().domains["discharge_disposition"].groups["death"] == ["5"]
    assert died_sql("x") == "x in ('5')"
    con = connect(":memory:")
    build(con)          # D2 died (离院方式 5)
    assert con.execute(f"select count(*) filter (where {died_sql()}) from discharge d").fetchall()[0][0] == 1
