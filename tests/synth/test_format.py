"""File format: encodings, headers against the ingest profiles and tables.yaml, value domains, manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import yaml

from yunying.model.catalogue import load_model

from .conftest import YEARS, col, read_csv

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "yunying" / "ingest" / "profiles"
TS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
D = re.compile(r"\d{4}-\d{2}-\d{2}")


def _ingest_profile(name: str) -> tuple[set[str], list[str]]:
    p = yaml.safe_load((PROFILES / f"{name}.yaml").read_text(encoding="utf-8"))
    cols = set(p["columns"])
    if p.get("extends"):
        base, _ = _ingest_profile(p["extends"])
        cols |= base - set(p.get("drop", []))
    pats = [v for grp in p["repeats"].values() for r in grp for k, v in r.items()
            if isinstance(v, str) and k not in ("dx_type",) and not v.isdigit()]
    return cols, pats


def _unmapped(header: list[str], profile: str) -> list[str]:
    cols, pats = _ingest_profile(profile)
    rx = [re.compile(p.replace("{i}", r"\d+")) for p in pats]
    return [h for h in header if h not in cols and not any(r.fullmatch(h) for r in rx)]


def _header(path: Path, encoding: str) -> list[str]:
    with open(path, "rb") as f:
        return f.readline().decode(encoding).strip().split(",")


def test_discharge_is_gb18030_with_national_codes(general):
    path = general / f"discharge_{YEARS[0]}.csv"
    raw = path.read_bytes()
    raw.decode("gb18030")
    try:
        raw.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    assert not utf8, "Chinese text must be GB18030-encoded, not UTF-8"
    header = _header(path, "gb18030")
    assert len(header) >= 100 and len(set(header)) == len(header)
    assert _unmapped(header, "national") == []
    for must in ("ZZJGDM", "BAH", "ZYCS", "JBDM", "JBDM15", "QTZD15", "RYBQ15", "SSJCZBM7", "SSJB7", "QKYHLB7",
                 "MZYS7", "ZFY", "QTF"):
        assert must in header


def test_tcm_discharge_uses_the_tcm_interface_dialect(tcm):
    header = _header(tcm / "discharge_2022.csv", "gb18030")
    assert _unmapped(header, "national-tcm") == []
    for must in ("ZLLB", "ZB", "ZB_JBBM", "ZZ_JBBM1", "ZYZD_JBBM", "XY_RYBQ", "SJZY", "YLFWF", "ZYL_ZYZD", "ZYZL",
                 "ZYQT", "SHJB1", "QKYLB1"):
        assert must in header
    for western_only in ("SJZYTS", "YLFUF", "ZYZLF", "H23", "WBYY"):
        assert western_only not in header


def test_values_respect_domains_and_formats(general_discharges):
    dom = load_model().domains
    t = general_discharges[YEARS[0]]
    checks = {"XB": "sex", "LYFS": "discharge_disposition", "RYTJ": "admission_route", "RYBQ": "poa",
              "YLFKFS": "payment_category", "HY": "marital_status", "ZY": "occupation", "XX": "blood_abo",
              "RH": "blood_rh", "YWGM": "allergy", "SFZZYJH": "has_plan", "BAZL": "record_grade"}
    for c, d in checks.items():
        vals = {v for v in t[c].to_pylist() if v is not None}
        assert vals <= set(dom[d].codes), (c, vals - set(dom[d].codes))
    for i in range(1, 8):
        assert {v for v in t[f"SSJB{i}"].to_pylist() if v} <= set(dom["surgery_level"].codes)
        assert {v for v in t[f"QKDJ{i}"].to_pylist() if v} <= set(dom["incision_class"].codes)
        assert {v for v in t[f"QKYHLB{i}"].to_pylist() if v} <= set(dom["healing"].codes)
        assert all(TS.fullmatch(v) for v in t[f"SSJCZRQ{i}"].to_pylist() if v)
    assert all(TS.fullmatch(v) for v in t["RYSJ"].to_pylist() + t["CYSJ"].to_pylist())
    assert all(D.fullmatch(v) for v in t["CSRQ"].to_pylist())
    assert all(re.fullmatch(r"\d+\.\d{2}", v) for v in t["ZFY"].to_pylist())
    assert set(col(t, "ZZJGDM")) == {"H001"}
    assert all("演示" in v for v in t["JGMC"].to_pylist())


def test_id_numbers_have_valid_check_digit_birth_date_and_sex(general_discharges):
    t = general_discharges[YEARS[0]]
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for sfzh, birth, sex in zip(t["SFZH"].to_pylist(), t["CSRQ"].to_pylist(), t["XB"].to_pylist()):
        assert len(sfzh) == 18
        assert "10X98765432"[sum(int(a) * b for a, b in zip(sfzh[:17], w)) % 11] == sfzh[17]
        assert sfzh[6:14] == birth.replace("-", "")
        assert int(sfzh[16]) % 2 == (1 if sex == "1" else 0)
    assert all(re.fullmatch(r"1\d{10}", p) for p in t["DH"].to_pylist())


def test_other_files_use_canonical_columns(general):
    model = load_model()
    files = {"departments.csv": "department", "hospital.csv": "hospital", "staff.csv": "staff_count",
             "finance.csv": "finance_month", "beds.csv": "ward_month", f"outpatient_{YEARS[0]}.csv": "outpatient_visit"}
    for name, table in files.items():
        raw = (general / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name
        header = _header(general / name, "utf-8-sig")
        assert set(header) <= set(model.tables[table].column_names), (name, set(header) - set(model.tables[table].column_names))
        assert set(model.tables[table].key) <= set(header)
    fin = read_csv(general / "finance.csv", "utf-8-sig")
    assert set(col(fin, "item_code")) <= set(model.domains["finance_item"].codes)
    assert all(D.fullmatch(m) and m.endswith("-01") for m in fin["month"].to_pylist())
    staff = read_csv(general / "staff.csv", "utf-8-sig")
    assert set(col(staff, "staff_category")) <= set(model.domains["staff_category"].codes)
    assert set(col(staff, "title_level")) <= set(model.domains["title_level"].codes)
    deps = read_csv(general / "departments.csv", "utf-8-sig")
    assert set(col(deps, "dept_class")) == {"clinical", "medtech", "support", "admin"}
    assert 25 <= (np.array(deps["beds"].to_pylist(), dtype=int) > 0).sum() <= 35


def test_keys_are_unique(general_discharges, general):
    for t in general_discharges.values():
        k = [f"{a}|{b}" for a, b in zip(t["BAH"].to_pylist(), t["ZYCS"].to_pylist())]
        assert len(set(k)) == len(k)
    o = read_csv(general / f"outpatient_{YEARS[0]}.csv", "utf-8-sig")
    assert len(set(o["visit_id"].to_pylist())) == o.num_rows


def test_manifest_and_defects_truth(general, general_discharges):
    m = json.loads((general / "manifest.json").read_text(encoding="utf-8"))
    assert m["profile"] == "tertiary-general" and m["seed"] == 7 and m["years"] == YEARS
    assert m["generator_version"]
    for kind, names in m["files"].items():
        for n in names:
            assert (general / n).is_file(), n
    assert m["counts"]["discharge"] == sum(t.num_rows for t in general_discharges.values())
    truth = read_csv(general / "defects_truth.csv", "utf-8-sig")
    assert truth.num_rows > 0
    assert set(col(truth, "rule_id")) <= {"L002", "C015", "D001", "F002", "C001"}
    allkeys = {f"{a}|{b}" for t in general_discharges.values()
               for a, b in zip(t["BAH"].to_pylist(), t["ZYCS"].to_pylist())}
    assert all(f"{a}|{b}" in allkeys for a, b in zip(truth["mrn"].to_pylist(), truth["admission_no"].to_pylist()))
    # C001: the injected rows really lack the principal diagnosis 入院病情
    t = general_discharges[YEARS[0]]
    missing = {f"{a}|{b}" for a, b, p in zip(t["BAH"].to_pylist(), t["ZYCS"].to_pylist(), t["RYBQ"].to_pylist())
               if p is None}
    c001 = {f"{a}|{b}" for a, b, r, y in zip(truth["mrn"].to_pylist(), truth["admission_no"].to_pylist(),
                                             truth["rule_id"].to_pylist(), truth["year"].to_pylist())
            if r == "C001" and y == str(YEARS[0])}
    assert missing == c001
