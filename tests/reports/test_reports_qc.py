"""Reports read the indicator catalogue only: record QC figures (QC-GRADE-A, QC-SCORE) are catalogue entries computed
by the indicator engine, G3-04 is the catalogue's, and an engine that cannot load leaves figures not computable
(said so) instead of falling back to other formulas."""

from __future__ import annotations

import datetime
import importlib.util
import textwrap
from importlib import resources

import pytest

from yunying.indicators import compute, load_catalogue
from yunying.reports import build_monthly
from yunying.warehouse.db import connect

from reports_fixtures import build_literal

# qc_record rows (mrn, dept, score, grade); literal warehouse records 220–224 (2022-06), 210–213 (2021-06)
QC_2022 = [("220", "A", 100, "甲"), ("221", "A", 95, "甲"), ("222", "A", 85, "乙"), ("223", "B", 92, "甲"),
           ("224", "B", 60, "丙")]
QC_2021 = [("210", "A", 90, "甲"), ("211", "A", 80, "乙"), ("212", "B", 70, "乙"), ("213", "B", 100, "甲")]
# by hand — 2022-06: 甲 3 / 5 = 60.00 %, mean (100 + 95 + 85 + 92 + 60) / 5 = 86.40; dept A: 2 / 3 = 66.67 %,
# (100 + 95 + 85) / 3 = 93.33. 2021-06: 甲 2 / 4 = 50.00 %, mean 340 / 4 = 85.00


@pytest.fixture
def qc_db(tmp_path):
    p = tmp_path / "qc.duckdb"
    build_literal(p)
    con = connect(p)
    for month, rows in ((datetime.date(2022, 6, 1), QC_2022), (datetime.date(2021, 6, 1), QC_2021)):
        for mrn, dept, score, grade in rows:
            con.execute("insert into qc_record (run_id, hospital_id, mrn, admission_no, discharge_month, "
                        "discharge_dept_code, score, grade, passed, excellent, complete, n_error, n_warning, n_info, "
                        "pdx_defect, ppx_defect) values ('r1', 'H1', ?, 1, ?, ?, ?, ?, ?, false, true, 0, 0, 0, "
                        "false, false)",
                        [mrn, month, dept, score, grade, grade == "甲"])
    yield con
    con.close()


def _rows(con, ids, period, level="hospital"):
    return {(r["indicator_id"], r.get("dept_code") or ""): r
            for r in compute(con, load_catalogue(), ids=ids, period=period, grain="month", level=level)}


def test_qc_grade_a_and_score_are_catalogue_indicators(qc_db):
    h = _rows(qc_db, ["QC-GRADE-A", "QC-SCORE"], "2022-06")
    assert h[("QC-GRADE-A", "")]["value"] == pytest.approx(60.0)
    assert (h[("QC-GRADE-A", "")]["numerator"], h[("QC-GRADE-A", "")]["denominator"]) == (3, 5)
    assert h[("QC-SCORE", "")]["value"] == pytest.approx(86.4)
    d = _rows(qc_db, ["QC-GRADE-A", "QC-SCORE"], "2022-06", "department")
    assert d[("QC-GRADE-A", "A")]["value"] == pytest.approx(200 / 3)
    assert d[("QC-SCORE", "A")]["value"] == pytest.approx(280 / 3)


def test_monthly_report_takes_qc_figures_from_the_engine(qc_db):
    r = build_monthly(qc_db, "2022-06")
    vals = {v.indicator_id: v for p in r.provenance for v in p.values if v.indicator_id.startswith("QC-")}
    a, s = vals["QC-GRADE-A"], vals["QC-SCORE"]
    assert a.source == s.source == "indicators"
    assert (a.value, a.yoy_value, a.denominator) == (pytest.approx(60.0), pytest.approx(50.0), 5)
    assert (s.value, s.yoy_value) == (pytest.approx(86.4), pytest.approx(85.0))
    assert "本月质控病案5份" in r.text()


def test_reports_have_no_formulas_of_their_own():
    assert importlib.util.find_spec("yunying.reports.fallback") is None
    import yunying.reports.collect as collect
    assert not hasattr(collect, "fallback") and not hasattr(collect, "qc_values")


def test_g3_04_in_a_report_is_the_catalogue_value(tmp_path):
    p = tmp_path / "g3.duckdb"
    build_literal(p)
    con = connect(p)
    try:
        # a second row of record 223's operation (same time: one 台次) — counting procedure rows would give 3 / 5
        con.execute("insert into discharge_procedure (hospital_id, mrn, admission_no, seq, px_code, px_name, px_time, "
                    "level) values ('H1', '223', 1, 2, '54.2100', '腹腔镜检查', '2022-06-11 09:00:00', '3')")
        spec = resources.files("yunying.reports").joinpath("templates/monthly.yaml").read_text(encoding="utf-8")
        anchor = "      - {key: operations, indicator: OP-13,"
        assert anchor in spec
        tdir = tmp_path / "tpl"
        tdir.mkdir()
        item = "      - {key: g3_04, indicator: G3-04, label: 出院患者手术占比, unit: \"%\"}\n"
        (tdir / "monthly.yaml").write_text(spec.replace(anchor, item + anchor, 1), encoding="utf-8")
        r = build_monthly(con, "2022-06", templates=tdir)
        rep = [v for x in r.provenance for v in x.values if v.indicator_id == "G3-04"]
        rep = rep or [v for s in r.sections for t in s.tables for row in t.rows for v in row
                      if getattr(v, "indicator_id", None) == "G3-04"]
        cat = _rows(con, ["G3-04"], "2022-06")[("G3-04", "")]
    finally:
        con.close()
    assert cat["value"] is not None and cat["value"] != pytest.approx(60.0)       # not procedure rows
    assert rep and all(v.value == pytest.approx(cat["value"]) and v.source == "indicators" for v in rep)


def test_engine_unavailable_figures_not_computable_report_still_builds(tmp_path, monkeypatch, con):
    bad = tmp_path / "broken.yaml"
    bad.write_text(textwrap.dedent("""
        family: broken
        indicators:
          - {id: H-01, name_zh: 坏, type: ratio, numerator: {over: nowhere, sql: "count(*)"}, unit: "%",
             direction: up}
        """), encoding="utf-8")
    monkeypatch.setenv("YUNYING_INDICATORS", str(bad))
    r = build_monthly(con, "2022-06")
    text = r.text()
    assert any("指标引擎不可用" in w for w in r.warnings)
    dis = [v for s in r.sections for t in s.tables for row in t.rows for v in row
           if getattr(v, "indicator_id", None) == "OP-02"]
    assert "出院5人次" not in text and "出院人次无法计算：不可计算：指标引擎不可用" in text
    assert all(v.value is None for v in dis)
