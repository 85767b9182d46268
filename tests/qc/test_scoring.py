"""Scoring on the 2016 100-point scheme: the spec's worked example, section caps, grades, and properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from yunying.qc.loader import load_catalogue
from yunying.qc.scoring import deductions, score

from .helpers import findings, record, run_records

CAT = load_catalogue(use_env=False)
SC = CAT.scoring


def test_worked_example_from_the_spec():
    # spec §3: "a mis-selected principal diagnosis usually costs 8 points (both name and code wrong)" — here the
    # principal diagnosis is an external-cause code (D101: 出院主要诊断 A 4 + 主要诊断编码 A 4 = 8, 诊疗信息);
    # plus 实际住院天数 written 6 instead of 5 (L002: B 2, 住院过程信息), ABO blood group empty (C006: 血型 D 0.5,
    # 诊疗信息) and a 5-digit postcode (V010: 现住址邮编 D 0.5, 患者基本信息).
    # 100 − 8 − 2 − 0.5 − 0.5 = 89.0 → 乙 (甲 ≥ 90, 乙 70–<90).
    r = record("WORKED1", SJZYTS="6", XX=None, YB1="41000",
               diagnoses=[{"code": "W19.x99", "name": "跌倒", "poa": "1"}])
    con, _ = run_records([r])
    keys = {f[0] for f in findings(con, "WORKED1")}
    assert {"D101", "L002", "C006", "V010"} <= keys
    assert con.execute("select cast(score as double), grade, passed from qc_record").fetchall() == [(89.0, "乙", False)]
    from yunying.qc.report import explain_record
    ex = explain_record(con, CAT, "H9", "WORKED1", 1)
    assert {k: v["deducted"] for k, v in ex["sections"].items()} == {"诊疗信息": 8.5, "住院过程信息": 2.0,
                                                                     "患者基本信息": 0.5}


def test_section_cap_limits_the_deduction():
    # 患者基本信息 total 18: 新生儿入院体重 A4 + 新生儿出生体重 A4 + 病案号 B2 + 性别/出生日期/年龄/付费方式 C 4×1
    # + 11 D items × 0.5 = 5.5 → 8 + 2 + 4 + 5.5 = 19.5 nominal, capped at 18
    items = ["新生儿入院体重", "新生儿出生体重", "病案号", "性别", "出生日期", "年龄", "医疗付费方式",
             "姓名", "出生地", "籍贯", "民族", "身份证号", "职业", "婚姻", "现住址", "现住址电话", "现住址邮编", "户口地址"]
    f = [(it, None, SC.items[it].points) for it in items]
    assert sum(p for _, _, p in f) == 19.5
    assert deductions(f, SC) == {"患者基本信息": 18.0}
    assert score(f, SC) == 82.0


def test_items_deducted_once_and_per_row_items():
    # the same item twice costs once; 其他诊断编码 is 1 per wrong row up to 4; 其他手术及操作编码 0.5 per row up to 2
    assert score([("实际住院天数", None, 2), ("实际住院天数", None, 2)], SC) == 98
    assert score([("其他诊断编码", s, 1) for s in (1, 2, 3)], SC) == 97
    assert score([("其他诊断编码", s, 1) for s in range(1, 9)], SC) == 96
    assert score([("其他手术及操作编码", s, 0.5) for s in range(2, 12)], SC) == 98
    # a two-item rule splits its nominal points between its items (D101: 8 = 4 + 4)
    assert deductions([("出院主要诊断|主要诊断编码", None, 8)], SC) == {"诊疗信息": 8}


def test_grades():
    assert [SC.grade(s) for s in (100, 90, 89.5, 70, 69.5, 0)] == ["甲", "甲", "乙", "乙", "丙", "丙"]


finding = st.tuples(st.sampled_from(sorted(SC.items)), st.one_of(st.none(), st.integers(0, 20)),
                    st.sampled_from([0.5, 1, 2, 4, 8]))


@settings(max_examples=300, deadline=None)
@given(st.lists(finding, max_size=60), finding)
def test_score_properties(fs, extra):
    s = score(fs, SC)
    assert 0 <= s <= 100
    assert score(fs + [extra], SC) <= s                         # adding a defect never raises the score
    for section, d in deductions(fs + [extra], SC).items():
        assert d <= SC.sections[section]                        # no section loses more than its cap
    assert sum(SC.sections.values()) == 100


def test_sql_score_equals_python_score():
    # differential: the engine's SQL scoring and the Python scheme agree on every record of a mixed batch
    recs = [record("S00001", SJZYTS="9", XX=None, RH=None, YB1="1"),
            record("S00002", diagnoses=[{"code": "I69.300", "name": "脑梗死后遗症", "poa": "1"},
                                        {"code": "ZZZ.1", "name": "x", "poa": "1"},
                                        {"code": "ZZZ.2", "name": "y", "poa": "1"}]),
            record("S00003", XM=None, XB=None, CSRQ=None, NL=None, YLFKFS=None, SFZH=None, ZY=None, HY=None,
                   XZZ=None, HKDZ=None, LXRXM=None, GX=None, MZ=None, XSERYTZ="3000", BAH="S3"),
            record("S00004")]
    con, _ = run_records(recs)
    rows = con.execute("select mrn, cast(score as double) from qc_record").fetchall()
    for mrn, sql_score in rows:
        fs = con.execute("select item, seq, cast(points as double) from qc_finding where mrn = ?", [mrn]).fetchall()
        assert sql_score == score(fs, SC), mrn
    assert dict(rows)["S00004"] == 100.0
