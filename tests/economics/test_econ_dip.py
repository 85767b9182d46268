"""DIP (spec §3): catalogue parsing and validation, matching, 辅助目录, 偏差病例, scores and point value."""

from __future__ import annotations

import pytest
from econ_fixtures import write

from yunying.economics.dip import (DEFAULT_DIP, Matcher, demo_catalogue, load_catalogue, parse_rule, score_case,
                                   simulate_dip)
from yunying.economics.errors import EconomicsError

HEADER = "row_kind,dip_code,dip_name,dip_type,diag_code,oprn_codes,oprn_type,score,avg_amount,avg_los,applies_to," \
         "condition,factor\n"
CAT = HEADER + """group,K80.1:A,胆囊结石：腹腔镜胆囊切除,核心,K80.1,51.23,,1100,11000,5,,,
group,K80.1:B,胆囊结石：胆囊切除+胆总管探查,核心,K80.1,51.22+51.51/51.23+51.51,,1800,18000,9,,,
group,K80.1,胆囊结石：保守治疗,核心,K80.1,,,500,5000,4,,,
group,ZH-K-S,K00-K93 综合病种（相关手术）,综合,K00-K93,,相关手术,1500,15000,8,,,
group,ZH-K80-C,K80 综合病种（保守治疗）,综合,K80,,保守治疗,450,4500,4,,,
supplement,,严重程度：死亡,,,,,,,,*,died,1.2
supplement,,严重程度：呼衰,,,,,,,,K80.1:A,dx_any:J96.0/I50,1.1
"""


def test_spec_worked_example():
    # spec §3.5 (K = 1000): 病种 avg ¥11 000, all-case avg ¥10 000 → score 1 100; PV ¥10.5 → ¥11 550.
    # Case ¥25 000: r = 2.27 > 2 → (r − 2 + 1) × 1 100 = 1 400 scores → ¥14 700.
    # Case ¥4 400: r = 0.40 < 0.5 → 0.4 × 1 100 = 440 scores → ¥4 620.
    cat = load_catalogue(write_tmp(CAT))
    g = next(x for x in cat.groups if x.code == "K80.1:A")
    p = DEFAULT_DIP
    cls, r, ref, s = score_case(g, 11000, 1.0, p, 0.1)
    assert (cls, s, s * 10.5) == ("normal", 1100, pytest.approx(11550))
    cls, r, ref, s = score_case(g, 25000, 1.0, p, 0.1)
    assert cls == "high" and r == pytest.approx(25000 / 11000) and s == pytest.approx(1400)
    assert s * 10.5 == pytest.approx(14700)
    cls, r, ref, s = score_case(g, 4400, 1.0, p, 0.1)
    assert cls == "low" and s == pytest.approx(440) and s * 10.5 == pytest.approx(4620)
    # 空白病组: fee × (K / C̄) × 0.7 = 10 000 × 0.1 × 0.7 = 700 scores
    assert score_case(None, 10000, 1.0, p, 0.1) == ("unmatched", None, None, pytest.approx(700))
    # 辅助目录 factor 1.2 scales score and reference: ref 13 200, ¥13 200 → r = 1 → 1 320 scores
    cls, r, ref, s = score_case(g, 13200, 1.2, p, 0.1)
    assert (cls, ref, s) == ("normal", pytest.approx(13200), pytest.approx(1320))


_tmp = {}


def write_tmp(text):
    import tempfile
    from pathlib import Path

    d = _tmp.setdefault("d", Path(tempfile.mkdtemp()))
    return write(d / f"cat{len(text)}.csv", text)


def test_matching_rules():
    m = Matcher(load_catalogue(write_tmp(CAT)))
    # '/' any of, '+' all of; the alternative with most '+' components wins: 51.22 + 51.51 → K80.1:B
    assert m.match("K80.100", [("51.2200", "3"), ("51.5100", "3")], 15000)[0].code == "K80.1:B"
    assert m.match("K80.100", [("51.2300", "3"), ("51.5100", "3")], 15000)[0].code == "K80.1:B"
    assert m.match("K80.100", [("51.2300", "3")], 9000)[0].code == "K80.1:A"
    # no procedure at all → the core row with an empty rule (保守治疗)
    g, kind = m.match("K80.100", [], 4000)
    assert (g.code, kind) == ("K80.1", "core")
    # a procedure that matches no core rule → 综合病种 by treatment type (level 3 → 相关手术), range K00-K93
    g, kind = m.match("K80.100", [("54.1100", "3")], 9000)
    assert (g.code, kind) == ("ZH-K-S", "comprehensive")
    # a category without core rows, no procedure → 综合 K80 保守治疗 (3-char code beats the range)
    assert m.match("K80.500", [], 3000)[0].code == "ZH-K80-C"
    # nothing → unmatched
    assert m.match("A09.000", [("99.1800", None)], 3000) == (None, "unmatched")
    # 辅助目录: highest matching factor (no stacking); applies_to limits the row to one group
    g = m.match("K80.100", [("51.2300", "3")], 9000)[0]
    assert m.aux_factor(g, ["J96.000"], [], True, 70, 5)[0] == pytest.approx(1.2)
    assert m.aux_factor(g, ["J96.000"], [], False, 70, 5)[0] == pytest.approx(1.1)
    other = m.match("K80.100", [], 4000)[0]
    assert m.aux_factor(other, ["J96.000"], [], False, 70, 5)[0] == 1.0


def test_parse_rule():
    assert parse_rule("a1+b1/c1", "x") == [["a1", "b1"], ["c1"]]
    assert parse_rule("", "x") == []
    for bad in ("a1++b1", "a1/", "51.23;drop", "__import__('os')"):
        with pytest.raises(EconomicsError):
            parse_rule(bad, "x")


@pytest.mark.parametrize("row, message", [
    ("group,BAD1,x,核心,K80.1,51.23++51.5,,100,1000,,,,", "第4行.*oprn_codes"),
    ("group,BAD1,x,其他,K80.1,,,100,1000,,,,", "第4行.*dip_type"),
    ("group,BAD1,x,核心,K80.1,,,abc,1000,,,,", "第4行.*score"),
    ("group,K80.1:A,x,核心,K80.1,,,100,1000,,,,", "第4行.*重复"),
    ("group,BAD1,x,综合,K00-K93,,其他,100,1000,,,,", "第4行.*oprn_type"),
    ("supplement,,x,,,,,,,,*,eval:1,1.1", "第4行.*condition"),
    ("supplement,,x,,,,,,,,NOPE,died,1.1", "第4行.*applies_to"),
])
def test_broken_catalogue_row_refused(tmp_path, row, message):
    text = HEADER + "group,K80.1:A,a,核心,K80.1,51.23,,1100,11000,5,,,\ngroup,K80.1,b,核心,K80.1,,,500,5000,4,,,\n" + \
        row + "\n"
    path = write(tmp_path / "broken.csv", text)
    with pytest.raises(EconomicsError, match=message) as exc:
        load_catalogue(path)
    assert "broken.csv" in str(exc.value)


def test_demo_catalogue_loads_and_covers_demo_codes():
    cat = load_catalogue(demo_catalogue())
    assert len(cat.groups) > 100 and cat.supplements
    text = demo_catalogue().read_text(encoding="utf-8")
    assert "演示数据" in text.splitlines()[0]
    import csv

    from yunying.synth.generator import __file__ as gen_file
    from pathlib import Path

    codes = {r["code"] for r in csv.DictReader((Path(gen_file).parent / "codes" / "dx_codes.csv").open())}
    core_dx = {g.diag for g in cat.groups if g.type == "core"}
    assert core_dx <= codes                       # written for the demo code list
    assert {g.type for g in cat.groups} == {"core", "comprehensive"}


def test_simulate_dip_on_tiny_warehouse(tiny, tmp_path):
    from econ_fixtures import case

    con = tiny([case("a", "x", 11000), case("b", "x", 25000), case("c", "x", 1000)])
    dx = [("a", "K80.100"), ("b", "K80.100"), ("c", "A09.000")]
    for mrn, code in dx:
        con.execute("insert into discharge_diagnosis (hospital_id, mrn, admission_no, dx_type, seq, dx_code) "
                    "values ('H1', ?, 1, 'W', 0, ?)", [mrn, code])
    for mrn in ("a", "b"):
        con.execute("insert into discharge_procedure (hospital_id, mrn, admission_no, seq, px_code, level) "
                    "values ('H1', ?, 1, 1, '51.2300', '3')", [mrn])
    cat = load_catalogue(write(tmp_path / "c.csv", CAT))
    # a: normal 1 100; b: r = 25 000/11 000 → 1 400; c: unmatched 1 000 × (K/C̄) × 0.7 with K/C̄ = Σscore/Σavg
    #   = (1100+1800+500+1500+450)/(11000+18000+5000+15000+4500) = 5350/53500 = 0.1 → 70.
    # budget 25 700 / Σ scores (1 100 + 1 400 + 70 = 2 570) → point value 10.
    run_id, s = simulate_dip(con, cat, params={"budget": 25700})
    assert s["point_value"] == pytest.approx(10) and s["total_score"] == pytest.approx(2570)
    got = {r[0]: r[1:] for r in con.execute("select mrn, group_code, case_class, points, expected_payment from "
                                            "econ_case_payment where run_id = ?", [run_id]).fetchall()}
    assert got["a"] == ("K80.1:A", "normal", pytest.approx(1100), pytest.approx(11000))
    assert got["b"] == ("K80.1:A", "high", pytest.approx(1400), pytest.approx(14000))
    assert got["c"] == ("KBBZ", "unmatched", pytest.approx(70), pytest.approx(700))
    assert con.execute("select kind, point_value from econ_run where run_id = ?", [run_id]).fetchall() == [
        ("dip", pytest.approx(10))]
    with pytest.raises(EconomicsError, match="point"):
        simulate_dip(con, cat, params={})


def test_basic_groups_use_their_own_factor(tiny, tmp_path):
    from econ_fixtures import case

    con = tiny([case("a", "x", 5000), case("b", "x", 11000)])
    for mrn, code in (("a", "J20.900"), ("b", "K80.100")):
        con.execute("insert into discharge_diagnosis (hospital_id, mrn, admission_no, dx_type, seq, dx_code) "
                    "values ('H1', ?, 1, 'W', 0, ?)", [mrn, code])
    con.execute("insert into discharge_procedure (hospital_id, mrn, admission_no, seq, px_code, level) "
                "values ('H1', 'b', 1, 1, '51.2300', '3')")
    cat = load_catalogue(write(tmp_path / "c.csv", CAT + "group,J20,急性支气管炎,基层,J20,,,500,5000,4,,,\n"))
    # a: 基层 score 500 × PV 10 × basic factor 1.0 = 5 000; b: core 1 100 × 10 × hospital factor 1.2 = 13 200
    run_id, _ = simulate_dip(con, cat, params={"point_value": 10, "hospital_factor": 1.2, "basic_factor": 1.0})
    got = dict(con.execute("select mrn, expected_payment from econ_case_payment where run_id = ?", [run_id]
                           ).fetchall())
    assert got == {"a": pytest.approx(5000), "b": pytest.approx(13200)}
