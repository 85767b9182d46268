"""Each rule kind on the hand-written mini pack (tests/drg/conftest.py). Expected groups are worked out by hand
from the pack README's algorithm, in the comment of each case; both the batch grouper and the explaining
interpreter must give them."""

from __future__ import annotations

import pytest

from drgpacks import case, cases_table, write_csv
from yunying.drg.explain import CaseInterpreter
from yunying.drg.grouper import Grouper
from yunying.drg.pack import load_pack

FAIL = ("FAIL", "0000", "00", "0000")
CHK = ("CHECK_FAILED", "0000", "00", "0000")

MINI_CASES = [
    # X10 is valid OR -> MDCA entered; AA1 lists X10
    (case("a1", "G01", "X10"), ("SUCCESS", "MDCA", "AA1", "AA19")),
    # X20 valid OR enters MDCA, AA1 fails, MDCA is abandoned; MDCG: GB1 needs X21 too, GC1 no labels,
    # GD1 principal valid OR -> GD19
    (case("a2", "G01", "X20"), ("SUCCESS", "MDCG", "GD1", "GD19")),
    # pair list X20 + pair list2 X21 at any positions -> GB1
    (case("g1", "G01", "X20|X21"), ("SUCCESS", "MDCG", "GB1", "GB19")),
    (case("g1b", "G01", "X30|X21|X20"), ("SUCCESS", "MDCG", "GB1", "GB19")),
    # labels {1,2} satisfy 1+2 (L codes are not OR procedures, so no MDCA) -> GC1
    (case("c1", "G01", "L1|L2"), ("SUCCESS", "MDCG", "GC1", "GC19")),
    # label {3} satisfies the alternative "3"
    (case("c2", "G01", "X30|L3"), ("SUCCESS", "MDCG", "GC1", "GC19")),
    # labels {1} only: GC1 fails; GD1 fails (L1 not OR); GZ1 principal G01; no secondary -> GZ15
    (case("c3", "G01", "L1"), ("SUCCESS", "MDCG", "GZ1", "GZ15")),
    # G02 not in GC1's dx list -> GZ1
    (case("c4", "G02", "L1|L2"), ("SUCCESS", "MDCG", "GZ1", "GZ15")),
    # K01 is MCC table 7; principal G01 has exclusion table 7 -> excluded, not downgraded to CC -> GZ15
    (case("x1", "G01|K01"), ("SUCCESS", "MDCG", "GZ1", "GZ15")),
    # K02 MCC table 9 != 7 -> counts -> GZ11
    (case("x2", "G01|K02"), ("SUCCESS", "MDCG", "GZ1", "GZ11")),
    # C01 CC table 7 excluded by G01 -> GZ15; with G02 (no exclusion table) it counts -> GZ13
    (case("x3", "G01|C01"), ("SUCCESS", "MDCG", "GZ1", "GZ15")),
    (case("x4", "G02|C01"), ("SUCCESS", "MDCG", "GZ1", "GZ13")),
    (case("x5", "G02|C01|K01"), ("SUCCESS", "MDCG", "GZ1", "GZ11")),
    # the principal repeated as secondary is just another secondary (G01 is no CC) -> GZ15
    (case("x6", "G01|G01"), ("SUCCESS", "MDCG", "GZ1", "GZ15")),
    # sex decides MDCM / MDCN entry; a female with a male-only principal enters nothing -> FAIL
    (case("s1", "M01", sex="1"), ("SUCCESS", "MDCM", "MS1", "MS19")),
    (case("s2", "M01", sex="2"), FAIL),
    (case("s3", "N01", sex="2"), ("SUCCESS", "MDCN", "NS1", "NS19")),
    # two different trauma regions -> MDCZ; ZZ1 holds without OR procedures
    (case("t1", "T01|T02"), ("SUCCESS", "MDCZ", "ZZ1", "ZZ19")),
    # T01 and T03 are the same region -> MDCZ not entered; T01 is in no other list -> FAIL
    (case("t2", "T01|T03"), FAIL),
    # an OR procedure at any position defeats ZZ1; MDCZ is left -> FAIL
    (case("t3", "T01|T02", "X30|X21"), FAIL),
    # newborn: age 0, 5 days, 1200 g, PS0 at any position -> PS1, no MCC -> PS15
    (case("n1", "P01|PS0", age="0", days="5", weight="1200"), ("SUCCESS", "MDCP", "PS1", "PS15")),
    (case("n2", "PS0|K02", age="0", days="5", weight="1200"), FAIL),  # PS0 not a MDCP principal
    (case("n3", "P01|PS0|K02", age="0", days="5", weight="1200"), ("SUCCESS", "MDCP", "PS1", "PS11")),
    # weight 0 passes the check but fails every weight band -> PV1 (ALWAYS)
    (case("n4", "P01|PS0", age="0", days="5", weight="0"), ("SUCCESS", "MDCP", "PV1", "PV19")),
    # upper bound is strict: 1500 g is not < 1500
    (case("n5", "P01|PS0", age="0", days="5", weight="1500"), ("SUCCESS", "MDCP", "PV1", "PV19")),
    # 40 days: no weight needed, PS1 needs <= 28 days -> PV1
    (case("n6", "P01|PS0", age="0", days="40"), ("SUCCESS", "MDCP", "PV1", "PV19")),
    # 1 year old with a newborn principal: MDCP needs age 0 -> FAIL (days ignored for age >= 1)
    (case("n7", "P01|PS0", age="1", days="5", weight="1200"), FAIL),
    # checks, in order
    (case("k1", "G01", sex=""), CHK),
    (case("k2", "G01", sex="M"), CHK),
    (case("k3", "G01", sex="9"), CHK),
    (case("k4", "G01", age=""), CHK),
    (case("k5", "G01", age="4.5"), CHK),
    (case("k6", "P01", age="0"), CHK),  # age 0 without age_days
    (case("k7", "P01", age="0", days="5"), CHK),  # <= 28 days without weight
    (case("k8", "P01", age="0", days="abc"), CHK),
    # blank dx: only MDCA can group
    (case("b1", "", "X10"), ("SUCCESS", "MDCA", "AA1", "AA19")),
    (case("b2", "", ""), FAIL),
    # codes are exact strings: lower case / trailing space / unknown match nothing
    (case("u1", "g01"), FAIL),
    (case("u2", "G01 "), FAIL),
    (case("u3", "ZZZ.999"), FAIL),
    # empty pieces are kept: principal px is "" -> no OR principal; GZ1 (px none)
    (case("e1", "G02|", "|X10"), ("SUCCESS", "MDCG", "GZ1", "GZ15")),
    # department, LOS and discharge type never matter in this scheme
    (case("d1", "G02|C01", dept="ICU"), ("SUCCESS", "MDCG", "GZ1", "GZ13")),
]


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    from drgpacks import write_pack

    return load_pack(write_pack(tmp_path_factory.mktemp("p") / "mini"))


@pytest.mark.parametrize("rec,expected", MINI_CASES, ids=[c[0]["record_id"] for c in MINI_CASES])
def test_interpreter_rule(mini, rec, expected):
    ex = CaseInterpreter(mini).explain(rec)
    assert (ex.status, ex.mdc, ex.adrg, ex.drg) == expected, ex.text()


def test_batch_matches_hand_worked(mini):
    res = Grouper(mini).group_table(cases_table([c for c, _ in MINI_CASES]))
    got = list(zip(*(res[c].to_pylist() for c in ("status", "mdc", "adrg", "drg"))))
    for (rec, exp), g in zip(MINI_CASES, got):
        assert g == exp, rec["record_id"]
    assert res["record_id"].to_pylist() == [c["record_id"] for c, _ in MINI_CASES]


# ---------------------------------------------------------------------------------------------------------
# Zhejiang-style features, expressed as a base pack + overrides (no code change)
# ---------------------------------------------------------------------------------------------------------

OVERRIDES = [
    ["set_option", "scheme_options", "retry_each_secondary_px_alone", "value", "yes", "失败后以单个次要手术重试"],
    ["set", "mdcs", "MDCA", "principal_px_also", "X30", "X30 也可进入 MDCA"],
    ["set", "adrgs", "MS1", "px_condition", "principal_not_valid_or", "内科组不收手术室主手术"],
    ["add_group", "drgs", "GZ10", "", "name=消化内科<17岁;adrg=GZ1;mdc=MDCG;order_in_adrg=0;split_kind=AGE_LT;"
     "split_value=17", "年龄拆分"],
    ["add_group", "adrgs", "GA1", "", "name=仅MCC;mdc=MDCG;order_in_mdc=0;dx_condition=principal_in_list;"
     "px_condition=none;when_no_drg_holds=try_next_adrg", "无 DRG 成立时试下一个 ADRG"],
    ["add_code", "adrg_codes", "GA1|dx", "code", "G02", ""],
    ["add_group", "drgs", "GA11", "", "name=仅MCC;adrg=GA1;mdc=MDCG;order_in_adrg=1;split_kind=MCC", ""],
    ["add_group", "drgs", "GD12", "", "name=ICU;adrg=GD1;mdc=MDCG;order_in_adrg=-1;split_kind=DEPT_EQ;split_value=ICU", ""],
    ["add_group", "drgs", "GD11", "", "name=双手术;adrg=GD1;mdc=MDCG;order_in_adrg=0;split_kind=PX_ALL;"
     "split_value=X20+X21", ""],
    ["remove_code", "adrg_codes", "GB1|px2", "code", "X21", "GB1 不再可达"],
    ["rename", "drgs", "GZ15", "name", "消化内科（本地）", "本地名称"],
]

ZJ_CASES = [
    # AGE_LT comes first in GZ1: 10 years -> GZ10 whatever the CC
    (case("z1", "G01|K02", age="10"), ("SUCCESS", "MDCG", "GZ1", "GZ10")),
    # GA1 (G02 principal) only has an MCC DRG: with K01 (no exclusion for G02) -> GA11
    (case("z2", "G02|K01"), ("SUCCESS", "MDCG", "GA1", "GA11")),
    # without MCC no DRG of GA1 holds -> try next ADRG ... GZ1 -> GZ13 with the CC
    (case("z3", "G02|C01"), ("SUCCESS", "MDCG", "GZ1", "GZ13")),
    # DEPT_EQ ICU first in GD1 (exact, case-sensitive)
    (case("z4", "G01", "X20", dept="ICU"), ("SUCCESS", "MDCG", "GD1", "GD12")),
    (case("z5", "G01", "X20", dept="icu"), ("SUCCESS", "MDCG", "GD1", "GD19")),
    # PX_ALL X20+X21 anywhere (GB1 lost X21, so GD1 takes it) -> GD11
    (case("z6", "G01", "X20|X30|X21"), ("SUCCESS", "MDCG", "GD1", "GD11")),
    # retry: MS1 refuses the OR principal X20; first pass fails; second pass with only X10 -> AA19
    (case("z7", "M01", "X20|X10"), ("SUCCESS", "MDCA", "AA1", "AA19")),
    # retry with X30 alone: MDCA entered via principal_px_also but AA1 fails; MS1 (X30 not OR) -> MS19
    (case("z8", "M01", "X20|X30"), ("SUCCESS", "MDCM", "MS1", "MS19")),
    # the empty piece counts as a position: the retry with [""] has a non-OR principal -> MS1 holds -> MS19
    (case("z9", "M01", "X20||X20"), ("SUCCESS", "MDCM", "MS1", "MS19")),
    # retry with X20 alone again fails -> FAIL
    (case("z9b", "M01", "X20|X20"), FAIL),
    # no retry for a single procedure
    (case("z10", "M01", "X20"), FAIL),
]


@pytest.fixture(scope="module")
def local_pack(tmp_path_factory):
    from drgpacks import write_pack

    root = tmp_path_factory.mktemp("zj")
    write_pack(root / "mini")
    local = root / "local"
    local.mkdir()
    (local / "pack.yaml").write_text("name: mini-local\nbase: ../mini\n", encoding="utf-8")
    write_csv(local / "overrides.csv", ["op", "table", "key", "column", "value", "reason_zh"], OVERRIDES)
    return load_pack(local)


@pytest.mark.parametrize("rec,expected", ZJ_CASES, ids=[c[0]["record_id"] for c in ZJ_CASES])
def test_local_features_interpreter(local_pack, rec, expected):
    ex = CaseInterpreter(local_pack).explain(rec)
    assert (ex.status, ex.mdc, ex.adrg, ex.drg) == expected, ex.text()


def test_local_features_batch(local_pack):
    res = Grouper(local_pack).group_table(cases_table([c for c, _ in ZJ_CASES]))
    got = list(zip(*(res[c].to_pylist() for c in ("status", "mdc", "adrg", "drg"))))
    assert got == [e for _, e in ZJ_CASES]


def test_qy_slot(tmp_path):
    """Enabling a QY slot (data only): after GB1 fails, any valid OR procedure gives GQY."""
    from drgpacks import write_pack

    base = write_pack(tmp_path / "mini")
    local = tmp_path / "qy"
    local.mkdir()
    (local / "pack.yaml").write_text("base: ../mini\n", encoding="utf-8")
    write_csv(local / "overrides.csv", ["op", "table", "key", "column", "value", "reason_zh"],
              [["set", "qy_rules", "MDCG", "enabled", "1", "启用歧义组"]])
    pack = load_pack(local)
    assert base.exists()
    cases = [
        # X30 not OR, L1|L2 -> GC1 (no OR procedure anywhere, no QY)
        (case("q1", "G01", "L1|L2"), ("SUCCESS", "MDCG", "GC1", "GC19")),
        # X20 is OR: MDCA entered, AA1 fails; MDCG: GB1 fails, then the QY slot -> QY
        (case("q2", "G01", "X20"), ("QY", "MDCG", "QY", "GQY")),
        # GB1 holds before the QY slot is reached
        (case("q3", "G01", "X20|X21"), ("SUCCESS", "MDCG", "GB1", "GB19")),
    ]
    res = Grouper(pack).group_table(cases_table([c for c, _ in cases]))
    got = list(zip(*(res[c].to_pylist() for c in ("status", "mdc", "adrg", "drg"))))
    assert got == [e for _, e in cases]
    it = CaseInterpreter(pack)
    assert [tuple(getattr(it.explain(c), k) for k in ("status", "mdc", "adrg", "drg")) for c, _ in cases] == got


def test_mapping_mode(tmp_path):
    """Optional mapping mode: old codes converted; unconvertible -> ZD/SS_NOT_MAPPING; the positional rule."""
    from drgpacks import write_pack

    write_pack(tmp_path / "mini")
    local = tmp_path / "map"
    local.mkdir()
    (local / "pack.yaml").write_text("base: ../mini\n", encoding="utf-8")
    write_csv(local / "overrides.csv", ["op", "table", "key", "column", "value", "reason_zh"],
              [["set_option", "", "mapping_mode", "value", "on", "旧版编码"]])
    write_csv(local / "dx_code_map.csv", ["source_code", "target_code"],
              [["G01", "G01"], ["OLD1", "G02"], ["OLD2", "G02"], ["G02", "G01"], ["C01", "C01"]])
    write_csv(local / "px_code_map.csv", ["source_code", "target_code"],
              [["L1", "L1"], ["L2", "L2"], ["XOLD", "X10"]])
    pack = load_pack(local)
    cases = [
        # OLD1 -> G02 -> GZ1; secondary C01 CC counts (G02 has no exclusion) -> GZ13
        (case("m1", "OLD1|C01"), ("SUCCESS", "MDCG", "GZ1", "GZ13")),
        # G03 is not a source -> ZD_NOT_MAPPING, even though the check would fail too (mapping comes first)
        (case("m2", "G01|G03", sex=""), ("ZD_NOT_MAPPING", "0000", "00", "0000")),
        # px XBAD is not a source -> SS_NOT_MAPPING
        (case("m3", "G01", "XBAD"), ("SS_NOT_MAPPING", "0000", "00", "0000")),
        # XOLD -> X10 -> AA19
        (case("m4", "G01", "XOLD"), ("SUCCESS", "MDCA", "AA1", "AA19")),
        # positional rule: [OLD2, G02] -> pos 1: OLD2->G02 written at 0 -> [G02, G02]; pos 2: G02 -> G01 written
        # at the FIRST position holding G02 -> [G01, G02]. Principal G01 with labels 1+2 -> GC19
        # (an element-wise map would give [G02, G01] -> GZ15)
        (case("m5", "OLD2|G02", "L1|L2"), ("SUCCESS", "MDCG", "GC1", "GC19")),
        # blank dx is the empty code, never a source -> ZD_NOT_MAPPING
        (case("m6", "", "XOLD"), ("ZD_NOT_MAPPING", "0000", "00", "0000")),
    ]
    res = Grouper(pack).group_table(cases_table([c for c, _ in cases]))
    got = list(zip(*(res[c].to_pylist() for c in ("status", "mdc", "adrg", "drg"))))
    assert got == [e for _, e in cases]
    it = CaseInterpreter(pack)
    assert [tuple(getattr(it.explain(c), k) for k in ("status", "mdc", "adrg", "drg")) for c, _ in cases] == got


def test_explanation_names_contradictions_and_exclusions(mini):
    it = CaseInterpreter(mini)
    # female with a male-only principal: FAIL, and the trace says why
    ex = it.explain(case("s2", "M01", sex="2"))
    assert ex.status == "FAIL"
    assert any(t["step"] == "note" and "MDCM" in t["zh"] and "性别不符" in t["zh"] for t in ex.trace)
    assert "性别不符" in ex.summary_zh()
    # CC/MCC judgement per secondary diagnosis: K01 excluded by G01's table 7, K02 counts, C01 excluded
    ex = it.explain(case("x", "G01|K01|K02|C01|ZZZ"))
    assert ex.drg == "GZ11"
    assert [(r["code"], r["kind"], r["counts"]) for r in ex.cc_mcc] == [
        ("K01", "MCC", False), ("K02", "MCC", True), ("C01", "CC", False), ("ZZZ", None, False)]
    assert any(t["step"] == "cc_mcc" and "K01" in t["zh"] and "排除" in t["zh"] for t in ex.trace)
    # which ADRGs were tried and why they failed
    tried = [(t["value"], t["ok"]) for t in ex.trace if t["step"] in ("adrg", "adrg_match")]
    assert tried == [("GB1", False), ("GC1", False), ("GD1", False), ("GZ1", True)]
