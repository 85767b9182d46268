"""Every implemented catalogue entry has a failing and a passing example: tiny literal records (changes to the clean
BASE record of helpers.py), all imported into one in-memory warehouse and checked in one QC run. Expected: the
failing record has a finding of that entry, the passing record has none (worked out by hand per row)."""

from __future__ import annotations

import pytest

from yunying.qc.loader import load_catalogue

from .helpers import BASE, findings, id_number, record, run_records

P0 = BASE["procedures"][0]
ADULT_ID = BASE["SFZH"]


def dx(*rows):
    """diagnoses list from (code, name[, poa]) tuples; first = principal."""
    return [{"code": r[0], "name": r[1], "poa": r[2] if len(r) > 2 else "1"} for r in rows]


def px(**changes):
    p = dict(P0)
    for k, v in changes.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return [p]


APP = ("K35.800", "急性阑尾炎")
HTN = ("I10.x00", "原发性高血压")
NEWBORN = dict(CSRQ="2022-02-25", NL="0", BZYZS_NL="4", XSERYTZ="3300", XSECSTZ="3300")

# key: (failing changes, passing changes)   — passing {} = BASE itself
CASES = {
    "C001": (dict(XM=None), {}),
    "C002": (dict(SFZH=None), {}),
    "C002/ethnicity": (dict(MZ=None), dict(MZ=None, GJ="美国", SFZH="-")),
    "C003": (dict(JBBM=None), {}),
    "C004": (dict(diagnoses=[{"code": "K35.800", "name": "急性阑尾炎", "poa": "1"},
                             {"code": "I10.x00", "name": "原发性高血压"}]), {}),
    "C005": (dict(ZZYS=None), {}),
    "C006": (dict(XX=None), {}),
    "C007": (dict(YWGM=None), {}),
    "C007/drugs": (dict(YWGM="2"), dict(YWGM="2", GMYW="青霉素")),
    "C008": (dict(SFZZYJH=None), {}),
    "C008/purpose": (dict(SFZZYJH="2"), dict(SFZZYJH="2", MD="返院化疗")),
    "C009": (dict(LYFS="2"), dict(LYFS="2", YZZY_YLJG="某市人民医院")),
    "C009/primary": (dict(LYFS="3"), dict(LYFS="3", WSY_YLJG="某社区卫生服务中心")),
    "C010": (dict(LYFS="5"), dict(LYFS="5", SWHZSJ="2")),
    "C011": (dict(RYQ_T=None), {}),
    "C012": (dict(procedures=px(time=None)), {}),
    "C013": (dict(procedures=px(level=None)), {}),
    "C014": (dict(procedures=px(anaesthesia=None)), {}),
    "C015": (dict(diagnoses=dx(("S72.000", "股骨颈骨折"))),
             dict(diagnoses=dx(("S72.000", "股骨颈骨折")), WBYY="跌倒", H23="W19.x99")),
    "C016": (dict(diagnoses=dx(("C34.900", "肺恶性肿瘤")), BLZDF="500"),
             dict(diagnoses=dx(("C34.900", "肺恶性肿瘤")), BLZDF="500", BLZD="腺癌", JBMM="M8140/3", BLH="BL1")),
    "C016/path_no": (dict(JBMM="M8140/3", BLZD="腺癌"), dict(JBMM="M8140/3", BLZD="腺癌", BLH="BL2")),
    "C017": (dict(NEWBORN, BZYZS_NL=None), dict(NEWBORN)),
    "C018": (dict(XF=None), {}),
    "C019": (dict(RYKB="EMER"), dict(RYKB="EMER", ZKKB="GS")),
    "V001/sex": (dict(XB="5"), {}),
    "V001/marital": (dict(HY="7"), {}),
    "V001/occupation": (dict(ZY="99"), {}),
    "V001/route": (dict(RYTJ="5"), {}),
    "V001/poa": (dict(diagnoses=dx(APP, HTN + ("7",))), {}),
    "V001/disposition": (dict(LYFS="7"), {}),
    "V001/allergy": (dict(YWGM="3"), {}),
    "V001/plan": (dict(SFZZYJH="3"), {}),
    "V001/abo": (dict(XX="9"), {}),
    "V001/rh": (dict(RH="9"), {}),
    "V001/level": (dict(procedures=px(level="5")), {}),
    "V001/record_grade": (dict(BAZL="4"), {}),
    "V001/payment": (dict(YLFKFS="10"), {}),
    "V001/anaesthesia": (dict(procedures=px(anaesthesia="全麻")), {}),
    "V001/ethnicity": (dict(MZ="99"), {}),
    "V001/incision": (dict(procedures=px(incision_class="IV")), {}),
    "V001/healing": (dict(procedures=px(healing="丁")), {}),
    "V002": (dict(RYKB="XX", ZKKB="GS"), {}),
    "V002/discharge": (dict(CYKB="XX", ZKKB="XX"), {}),
    "V003": (dict(diagnoses=dx(APP, ("ZZZ.999", "不存在"))), {}),
    "V003/name": (dict(diagnoses=dx(APP, ("I10.x00", "高血压病"))), {}),
    "V003/er": (dict(JBBM="ZZZ.999"), {}),
    "V003/ext": (dict(diagnoses=dx(("S72.000", "股骨颈骨折")), WBYY="跌倒", H23="Y99.999"),
                 dict(diagnoses=dx(("S72.000", "股骨颈骨折")), WBYY="跌倒", H23="W19.x00")),  # W19.x00: the national code of the demo list
    "V004": (dict(JBMM="8140/3", BLZD="腺癌", BLH="BL3"), dict(JBMM="M8140/3", BLZD="腺癌", BLH="BL3")),
    "V005": (dict(procedures=px(code="99.9999")), {}),
    "V005/name": (dict(procedures=px(name="阑尾切除")), {}),
    "V007": (dict(ZYCS="0"), {}),
    "V007/age": (dict(NL="151"), {}),
    "V007/los": (dict(SJZYTS="0"), {}),
    "V008": (dict(RYQ_XS="24"), {}),
    "V008/minutes": (dict(RYH_F="60"), {}),
    "V008/days": (dict(RYQ_T="-1"), {}),
    "V009": (dict(SFZH=ADULT_ID[:17] + ("0" if ADULT_ID[17] != "0" else "1")), {}),
    "V010": (dict(YB1="4100"), {}),
    "V010/phone": (dict(DH="138-0000-000a"), {}),
    "V011": (dict(XZZ="长沙市芙蓉区解放路1号"), {}),
    "V012": (dict(XM="王小明2"), {}),
    "V013": (dict(ZFJE="-5"), {}),
    "V014": (dict(BAH="B1"), {}),
    "L002": (dict(SJZYTS="6"), {}),
    "L003": (dict(CSRQ="2023-01-01"), {}),
    "L003/future": (dict(CYSJ="2099-01-01 09:00:00"), {}),
    "L004": (dict(NL="40"), {}),
    "L005": (dict(NEWBORN, CSRQ="2022-02-01", BZYZS_NL="5"), dict(NEWBORN, CSRQ="2022-02-01", BZYZS_NL="28")),
    "L006": (dict(SFZH=id_number("430102", "1981-05-10", "011")), {}),
    "L007": (dict(NL="121"), {}),
    "L008": (dict(SJZYTS="400"), {}),
    "L008/long_stay": (dict(SJZYTS="61"), {}),
    "L009": (dict(LYFS="5", SWHZSJ="2", SFZZYJH="2", MD="复查"), dict(LYFS="5", SWHZSJ="2")),
    "L010": (dict(SWHZSJ="1"), dict(LYFS="5", SWHZSJ="1")),
    "L011": (dict(RYKB="EMER", ZKKB="EMER"), dict(RYKB="EMER", ZKKB="EMER,GS")),
    "L012": (dict(HY="2", NL="16"), {}),
    "L012/retired": (dict(ZY="80", NL="35"), dict(ZY="80")),
    "L012/student": (dict(ZY="31", NL="2"), dict(ZY="31", NL="8")),
    "L012/worker": (dict(ZY="13", NL="15"), {}),
    "L013": (dict(GJ="美国"), {}),
    "L014": (dict(ZKRQ="2022-03-01"), {}),
    "L017": (dict(RYTJ="3"), {}),
    "L017/transfer_out": (dict(LYFS="2", YZZY_YLJG="某市人民医院"), {}),
    "D001": (dict(diagnoses=dx(APP, ("N83.200", "卵巢囊肿"))), dict(XB="2", diagnoses=dx(APP, ("N83.200", "卵巢囊肿")))),
    "D002": (dict(XB="2", diagnoses=dx(APP, ("N40.x00", "前列腺增生"))), dict(diagnoses=dx(APP, ("N40.x00", "前列腺增生")))),
    "D003": (dict(XB="2", NL="65", diagnoses=dx(APP, ("O02.100", "稽留流产"))),
             dict(XB="2", diagnoses=dx(APP, ("O02.100", "稽留流产")))),
    "D004": (dict(diagnoses=dx(("P07.300", "早产儿"))), dict(NEWBORN, diagnoses=dx(("P07.300", "早产儿")))),
    "D005": (dict(NEWBORN, diagnoses=dx(APP, ("Z37.000", "单胎活产"))),
             dict(XB="2", XSECSTZ="3200", diagnoses=dx(APP, ("Z37.000", "单胎活产")))),
    "D006": (dict(diagnoses=dx(("Z38.000", "医院内出生的单胎活产婴儿"))),
             dict(NEWBORN, diagnoses=dx(("Z38.000", "医院内出生的单胎活产婴儿")))),
    "D007": (dict(diagnoses=dx(APP, ("P07.300", "早产儿"))), dict(NEWBORN, diagnoses=dx(APP, ("P07.300", "早产儿")))),
    "D008": (dict(diagnoses=dx(APP, ("R54.x00", "老年性衰弱"))),
             dict(CSRQ="1940-05-10", NL="81", diagnoses=dx(APP, ("R54.x00", "老年性衰弱")))),
    "D101": (dict(diagnoses=dx(("W19.x99", "跌倒"))), {}),
    "D103": (dict(diagnoses=dx(("I69.300", "脑梗死后遗症"))), dict(diagnoses=dx(APP, ("I69.300", "脑梗死后遗症")))),
    "D104": (dict(diagnoses=dx(("Z37.000", "单胎活产"))), {}),
    "D105": (dict(diagnoses=dx(("M8140/3", "腺癌"))), {}),
    "D106": (dict(diagnoses=dx(("R10.400", "腹痛"), ("K80.100", "胆囊结石伴慢性胆囊炎"))),
             dict(diagnoses=dx(("R10.400", "腹痛"), HTN))),
    "D107": (dict(diagnoses=dx(("C34.900", "肺恶性肿瘤")), procedures=[], XYF="6000.00", KJYWF="0"),
             dict(diagnoses=dx(("C34.900", "肺恶性肿瘤")), XYF="6000.00", KJYWF="0")),
    "D108": (dict(diagnoses=dx(("Z51.100", "恶性肿瘤化学治疗"), HTN)),
             dict(diagnoses=dx(("Z51.100", "恶性肿瘤化学治疗"), ("C34.900", "肺恶性肿瘤")))),
    "D109": (dict(diagnoses=dx(("R57.000", "心源性休克"), HTN)), dict(diagnoses=dx(("R57.000", "心源性休克"), ("R10.400", "腹痛")))),
    "D110": (dict(XB="2", diagnoses=dx(("O80.000", "单胎顺产"), ("O72.100", "产后出血"), ("Z37.000", "单胎活产")), XSECSTZ="3200"),
             dict(XB="2", diagnoses=dx(("O80.000", "单胎顺产"), ("Z37.000", "单胎活产")), XSECSTZ="3200")),
    "D111": (dict(XB="2", diagnoses=dx(("O80.000", "单胎顺产"))),
             dict(XB="2", diagnoses=dx(("O80.000", "单胎顺产"), ("Z37.000", "单胎活产")), XSECSTZ="3200")),
    "D112": (dict(diagnoses=dx(APP, APP)), {}),
    "D112/other_dup": (dict(diagnoses=dx(APP, HTN, HTN)), {}),
    "D113": (dict(diagnoses=dx(APP + ("4",), HTN)), {}),
    "D115": (dict(diagnoses=dx(("S72.000", "股骨颈骨折")), WBYY="跌倒", H23="K35.800"),
             dict(diagnoses=dx(("S72.000", "股骨颈骨折")), WBYY="跌倒", H23="W19.x99")),
    "D116": (dict(diagnoses=dx(APP, ("T81.000", "手术后出血", "4"))), dict(diagnoses=dx(APP, ("T81.000", "手术后出血", "1")))),
    "D117": (dict(diagnoses=dx(("K35.900", "急性阑尾炎"), ("K35.800", "急性阑尾炎"))), {}),
    "D118": (dict(diagnoses=dx(("T51.900", "酒精中毒")), WBYY="跌倒", H23="W19.x99"),
             dict(diagnoses=dx(("T51.900", "酒精中毒")), WBYY="意外中毒", H23="X40.x99")),
    "D120": (dict(diagnoses=dx(APP, ("S06.000", "脑震荡"))), dict(diagnoses=dx(APP, ("S06.000", "脑震荡")), RYH_F="30")),
    "P001": (dict(procedures=px(time="2022-03-07 10:00:00")), {}),
    "P002": (dict(procedures=px(time="2022-02-27 10:00:00")), {}),
    "P005": (dict(procedures=px(code="81.5100", name="全髋关节置换术", level="3")),
             dict(procedures=px(code="81.5100", name="全髋关节置换术", level="4"))),
    "P007": (dict(procedures=px(healing="丙")), {}),
    "P008": (dict(MAF="0", SSF="1500.00"), {}),
    "P008/operation": (dict(SSF="0", MAF="1500.00"), {}),
    "P009": (dict(procedures=px(surgeon="孙麻醉")), dict(procedures=px(surgeon="孙麻醉", anaesthesia="33"))),
    "P010": (dict(procedures=px() + px()), {}),
    "P012": (dict(day_surgery="1"), dict(day_surgery="2")),
    "F001": (dict(ZFY="0"), {}),
    "F002": (dict(ZFY="10001.00"), {}),
    "F003": (dict(KJYWF="3500.00"), {}),
    "F003/physio": (dict(WLZLF="600.00"), {}),
    "F003/surgical": (dict(SSF="1600.00"), {}),
    "F003/prep": (dict(ZYZJF="100.00"), dict(ZYZJF="0")),
    "F004": (dict(ZFJE="20000.00"), {}),
    "F005": (dict(YLFUF="0"), {}),
    "F006": (dict(HLF="0"), {}),
    "F007": (dict(HCYYCLF="0", YYCLF="0", YCXYYCLF="0"), {}),
    "F008": (dict(XF="100.00", RH="3"), dict(XF="100.00")),
    "F008/abo": (dict(XF="100.00", XX="5"), dict(XF="100.00")),
    "F009": (dict(diagnoses=dx(("C34.900", "肺恶性肿瘤")), BLZDF="100.00"),
             dict(diagnoses=dx(("C34.900", "肺恶性肿瘤")), BLZDF="100.00", BLZD="腺癌", JBMM="M8140/3", BLH="BL4")),
    "F010": (dict(QTF="6000.00"), {}),
    "F012": (dict(QTF="10000.00"), {}),
    "N001": (dict(XB="2", XSECSTZ="50", diagnoses=dx(APP, ("Z37.000", "单胎活产"))),
             dict(XB="2", XSECSTZ="3200", diagnoses=dx(APP, ("Z37.000", "单胎活产")))),
    "N002": (dict(XB="2", XSECSTZ="3255", diagnoses=dx(APP, ("Z37.000", "单胎活产"))), {}),
    "N003": (dict(NEWBORN, XSERYTZ=None), dict(NEWBORN)),
    "N004": (dict(XSERYTZ="3000"), {}),
    "N005": (dict(XB="2", diagnoses=dx(APP, ("Z37.000", "单胎活产"))),
             dict(XB="2", XSECSTZ="3200", diagnoses=dx(APP, ("Z37.000", "单胎活产")))),
    "N006": (dict(XB="2", XSECSTZ="2600", diagnoses=dx(APP, ("Z37.200", "双胎活产"))),
             dict(XB="2", XSECSTZ="2600", XSECSTZ2="2400", diagnoses=dx(APP, ("Z37.200", "双胎活产")))),
    "N007": (dict(NEWBORN, XSECSTZ=None), dict(NEWBORN)),
    "N008": (dict(NEWBORN, XSECSTZ="2000"), dict(NEWBORN, XSECSTZ="2000", diagnoses=dx(("P07.300", "早产儿")))),
    "N009": (dict(XSECSTZ="3200"), dict(XB="2", XSECSTZ="3200", diagnoses=dx(APP, ("Z37.000", "单胎活产")))),
}
# rules tested elsewhere: cross-record (test_cross_record.py), TCM (test_tcm.py), L001 (importer rejects; test below)
ELSEWHERE = {"L001", "L015", "L016", "L018", "X002", "V014/org"}


@pytest.fixture(scope="module")
def warehouse():
    recs = []
    for i, (key, (fail, ok)) in enumerate(CASES.items()):
        recs.append(record(fail.get("BAH", f"F{i:05d}"), **{k: v for k, v in fail.items() if k != "BAH"}))
        recs.append(record(ok.get("BAH", f"P{i:05d}"), **{k: v for k, v in ok.items() if k != "BAH"}))
    con, summary = run_records(recs, departments=[("H9", "GS"), ("H9", "EMER")])
    yield con, summary
    con.close()


@pytest.mark.parametrize("key", list(CASES))
def test_rule_fails_and_passes(warehouse, key):
    con, _ = warehouse
    i = list(CASES).index(key)
    fail, ok = CASES[key]
    bad, good = fail.get("BAH", f"F{i:05d}"), ok.get("BAH", f"P{i:05d}")
    assert any(f[0] == key for f in findings(con, bad)), f"{key} should fire on {fail}: {findings(con, bad)}"
    assert not any(f[0] == key for f in findings(con, good)), f"{key} must not fire on {ok}: {findings(con, good)}"


def test_base_record_is_clean(warehouse):
    con, _ = warehouse
    from .helpers import run_records as rr
    c2, s = rr([BASE], departments=[("H9", "GS")])
    assert findings(c2, "B000001") == []
    assert c2.execute("select score, grade from qc_record").fetchall()[0] == (100, "甲")


def test_every_implemented_rule_has_an_example():
    keys = {r.key for r in load_catalogue(use_env=False).rules}
    tcm = {k for k in keys if k.startswith("T") or k in ("F003/syndrome", "F003/tcm_treatment", "F003/tcm_other",
                                                          "C018/tcm")}
    missing = keys - set(CASES) - ELSEWHERE - tcm
    assert not missing, f"rules without a pass/fail example: {sorted(missing)}"
    from .test_tcm import TCM_CASES
    assert tcm <= set(TCM_CASES), sorted(tcm - set(TCM_CASES))


def test_l001_discharge_before_admission():
    # the importer rejects such rows (IMP-DATE-ORDER); a record written by another path is still flagged by L001
    con, _ = run_records([record("L1"), record("L2")],
                         sql=["update discharge set discharge_time = admit_time - interval 1 day where mrn = 'L1'"])
    assert ("L001", "discharge_time") in [f[:2] for f in findings(con, "L1")]
    assert not any(f[0] == "L001" for f in findings(con, "L2"))


def test_malformed_id_numbers_are_findings_not_errors():
    # a letter inside the number or a wrong length: V009 fires and no rule fails with a SQL error (the check-digit
    # arithmetic must not raise on strings the 18-digit pattern rejects)
    con, summary = run_records([record("ID1", SFZH="1101051949123100X2"), record("ID2", SFZH="12345678901234"),
                                record("ID3")])
    assert [s.rule_key for s in summary.statuses if s.status == "error"] == []
    assert any(f[0] == "V009" for f in findings(con, "ID1"))
    assert any(f[0] == "V009" for f in findings(con, "ID2"))
    assert not any(f[0] == "V009" for f in findings(con, "ID3"))
