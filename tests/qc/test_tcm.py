"""TCM 首页 rules (T*, TCM fee rules) on records in the 中医首页 interface layout (profile national-tcm), and
not_applicable on a general hospital (worked by hand per row)."""

from __future__ import annotations

import pytest

from .helpers import BASE, findings, record, run_records

RENAME = {"SJZYTS": "SJZY", "YLFUF": "YLFWF", "SYSZDF": "ZDF", "WLZLF": "ZLF", "MAF": "MZF", "HCYYCLF": "JCYYCLF",
          "YCXYYCLF": "SSYCXCLF", "RYQ_F": "RYQ_FZ", "RYH_F": "RYH_FZ", "SFZZYJH": "ZZYJH", "MZZD": "MZZD_XYZD"}
# BASE in the TCM layout: western fee_tcm (ZYZLF) replaced by 中医诊断/治疗/其他 (0 + 300 + 0) and 西药费 3000 → 2700,
# so the 26 items still sum to 10000.00; 中医主病 中风病 BNG080, 主证 风痰阻络证 ZBFS10 (demo TCM code list).
TCM_BASE = {RENAME.get(k, k): v for k, v in BASE.items() if k not in ("diagnoses", "procedures", "ZYZLF")}
TCM_BASE.update({
    "XYF": "2700.00", "ZYL_ZYZD": "0", "ZYZL": "300.00", "ZYQT": "0", "ZLLB": "1", "SSLCLJ": "3", "ZYYJ": "2",
    "ZYZLSB": "2", "ZYZLJS": "1", "BZSH": "1", "ZYZD_JBBM": "K35.800", "ZYZD": "急性阑尾炎", "XY_RYBQ": "1",
    "JBBM1": None, "ZB_JBBM": "BNG080", "ZB": "中风病", "ZB_RYBQ": "1", "ZZ_JBBM1": "ZBFS10", "ZZ1": "风痰阻络证",
    "ZZ_RYBQ1": "1", "MZD_ZYZD": "中风病", "JBDM": "BNG080", "MZZD_XYZD": "急性阑尾炎", "MZ_XYZD_JBBM": None,
    "BZLZF": "0", "ZYBLZHZF": "0", "ZYWZ": "0", "ZYTSTPJG": "0",
})
TCM_BASE = {k: v for k, v in TCM_BASE.items() if v is not None}

TCM_CASES = {
    "T001": (dict(ZLLB="5"), {}),
    "T001/pathway": (dict(SSLCLJ="7"), {}),
    "T001/yes_no": (dict(ZYYJ="3"), {}),
    "T002": (dict(ZB_JBBM=None), {}),
    "T002/syndrome": (dict(ZZ_JBBM1=None, ZZ1=None, ZZ_RYBQ1=None), {}),
    "T003": (dict(ZB_JBBM="BXX999"), {}),
    "T003/name": (dict(ZB="中风"), {}),
    "T004": (dict(ZB_JBBM="ZBFS10", ZB="风痰阻络证"), {}),
    "T005": (dict(ZYYJ="1"), dict(ZYYJ="1", ZYZJF="50.00", ZCYF="50.00", XYF="2650.00")),
    "T006": (dict(ZYZL="0", ZCYF="300.00"), {}),
    "T007": (dict(ZYZL="0", XYF="3000.00"), {}),
    "T008": (dict(ZYZL="0", ZCYF="300.00"), dict(ZYZLJS="2", ZYZL="0", ZCYF="300.00")),
    "T009": (dict(ZLLB="3", ZYZL="5000.00", XYF="0"), dict(ZLLB="3")),
    "T010": (dict(MZD_ZYZD=None), {}),
    "C018/tcm": (dict(ZYQT=None), {}),
    "F003/syndrome": (dict(BZLZF="600.00"), dict(BZLZF="400.00")),
    "F003/tcm_treatment": (dict(ZYWZ="400.00"), dict(ZYWZ="200.00")),
    "F003/tcm_other": (dict(ZYTSTPJG="10.00"), {}),
}


def tcm_record(bah: str, **changes) -> dict:
    return record(bah, TCM_BASE, **changes)


@pytest.fixture(scope="module")
def tcm_warehouse():
    recs = [tcm_record("TB0000")]
    for i, (fail, ok) in enumerate(TCM_CASES.values()):
        recs += [tcm_record(f"TF{i:04d}", **fail), tcm_record(f"TP{i:04d}", **ok)]
    con, s = run_records(recs, profile="national-tcm")
    yield con
    con.close()


def test_tcm_base_is_clean(tcm_warehouse):
    assert findings(tcm_warehouse, "TB0000") == []


@pytest.mark.parametrize("key", list(TCM_CASES))
def test_tcm_rule(tcm_warehouse, key):
    i = list(TCM_CASES).index(key)
    bad, good = findings(tcm_warehouse, f"TF{i:04d}"), findings(tcm_warehouse, f"TP{i:04d}")
    assert any(f[0] == key for f in bad), f"{key}: {bad}"
    assert not any(f[0] == key for f in good), f"{key}: {good}"


def test_tcm_rules_not_applicable_on_a_general_hospital():
    # a western 首页 only: no 治疗类别 anywhere → every T rule is not_applicable with a reason, none 'passed'
    con, s = run_records([dict(BASE)])
    st = {x.rule_key: x for x in s.statuses}
    for key in ("T001", "T002", "T005", "T006", "T007", "T009", "T010"):
        assert st[key].status == "not_applicable", (key, st[key])
        assert "治疗类别" in st[key].reason
    stored = dict(con.execute("select rule_id, status from qc_rule_status where rule_id = 'T002'").fetchall())
    assert stored == {"T002": "not_applicable"}
