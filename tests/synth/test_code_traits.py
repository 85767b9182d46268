"""What a code means to the generator is data: `traits` in codes/dx_codes.csv and codes/px_codes.csv, external
causes in tables/external_causes.csv. The engine holds no ICD code, and the generated records follow the traits
(read from the tables here, checked on the files on disk)."""

from __future__ import annotations

import ast
import csv
import re
import shutil

import numpy as np
import pytest

from yunying.synth import profile as synth_profile
from yunying.synth.profile import ProfileError

from .conftest import SYNTH, YEARS, col, num

ICD10 = re.compile(r"[A-Z]\d{2}\.[\dx]\d{2}")       # K80.101, I10.x09
ICD9 = re.compile(r"\d{2}\.\d[\dx]\d{2}")           # 51.2300, 74.1x01


def _rows(rel: str) -> list[dict[str, str]]:
    with open(SYNTH / rel, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _with(trait: str, rel: str) -> set[str]:
    return {r["code"] for r in _rows(rel) if trait in r["traits"].split(";")}


def test_engine_modules_hold_no_icd_codes():
    found = []
    for path in sorted(SYNTH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    (ICD10.search(node.value) or ICD9.fullmatch(node.value)):
                found.append((path.name, node.lineno, node.value))
    assert found == []


def _truth(folder, rule: str) -> set[str]:
    with open(folder / "defects_truth.csv", encoding="utf-8-sig") as f:
        return {r["mrn"] + "|" + r["admission_no"] for r in csv.DictReader(f) if r["rule_id"] == rule}


def test_generated_records_follow_the_dx_traits(general, general_discharges):
    t = general_discharges[YEARS[0]]
    pdx = col(t, "JBDM")
    key = np.array([f"{b}|{z}" for b, z in zip(t["BAH"].to_pylist(), t["ZYCS"].to_pylist())])
    sec = [col(t, f"JBDM{i}") for i in range(1, 16)]
    # injury principal -> an external cause listed for its category (except the injected C015 defects)
    ext = {}
    for r in _rows("tables/external_causes.csv"):
        ext.setdefault(r["dx_prefix"], set()).add(r["code"])
    injury = np.isin(pdx, list(_with("injury", "codes/dx_codes.csv")))
    c015 = np.isin(key, list(_truth(general, "C015")))
    h23 = col(t, "H23")
    assert injury.sum() > 20 and c015.any()
    for p, e, d in zip(pdx[injury], h23[injury], c015[injury]):
        allowed = set().union(*(v for k, v in ext.items() if p.startswith(k)))
        assert (e is None) if d else (e in allowed), (p, e, d)
    # chemo/radiotherapy principal -> a malignancy of the pool as first other diagnosis, of the patient's sex
    needs = np.isin(pdx, list(_with("needs_malignancy", "codes/dx_codes.csv")))
    pool = _with("treated_malignancy", "codes/dx_codes.csv")
    female = {r["code"] for r in _rows("codes/dx_codes.csv") if r["sex"] == "F"}
    assert needs.sum() > 20
    assert all(c in pool for c in sec[0][needs])
    assert not any(c in female for c, s in zip(sec[0][needs], col(t, "XB")[needs]) if s == "1")
    # delivery principal -> birth outcome first; head injury -> coma time; low birth weight -> < 2500 g
    births = _with("birth_single", "codes/dx_codes.csv") | _with("birth_twins", "codes/dx_codes.csv")
    delivery = np.isin(pdx, list(_with("delivery", "codes/dx_codes.csv")))
    assert delivery.sum() > 20 and all(c in births for c in sec[0][delivery])
    head = np.isin(pdx, list(_with("head_injury", "codes/dx_codes.csv")))
    coma = sum(num(t, f"{p}_{u}") for p in ("RYQ", "RYH") for u in ("T", "XS", "F"))
    assert head.sum() > 5 and (coma[head] > 0).all()
    low = np.isin(pdx, list(_with("low_birth_weight", "codes/dx_codes.csv")))
    assert low.sum() > 5 and (num(t, "XSECSTZ")[low] < 2500).all()


def test_generated_records_follow_the_px_traits(general_discharges):
    vent, vent96 = _with("ventilation", "codes/px_codes.csv"), _with("ventilation_96h", "codes/px_codes.csv")
    no_inc = _with("no_incision", "codes/px_codes.csv")
    cat = {r["code"]: r["category"] for r in _rows("codes/px_codes.csv")}
    n_v = n_96 = n_inc = 0
    for t in general_discharges.values():
        px = [col(t, f"SSJCZBM{i}") for i in range(1, 8)]
        hours, los = num(t, "HXJSYSJ"), num(t, "SJZYTS")
        has_v = np.zeros(t.num_rows, bool)
        has_96 = np.zeros(t.num_rows, bool)
        for p in px:
            has_v |= np.isin(p, list(vent))
            has_96 |= np.isin(p, list(vent96))
        assert (hours[~has_v] == 0).all() and (hours[has_v] > 0).all()
        # ≥ 96 h unless the stay is shorter (SJZYTS may be one day off on an injected L002 defect)
        assert (hours[has_96] >= np.minimum(96, 24 * (los[has_96] - 1))).all()
        n_v, n_96 = n_v + has_v.sum(), n_96 + has_96.sum()
        for i, p in enumerate(px, 1):
            for code, q in zip(p, col(t, f"QKDJ{i}")):
                if cat.get(code) == "surgery":
                    assert (q == "0") == (code in no_inc), (code, q)
                    n_inc += code in no_inc
    assert n_v > 20 and n_96 > 0 and n_inc > 20


def _tables_copy(tmp_path, monkeypatch):
    codes, tables = tmp_path / "codes", tmp_path / "tables"
    shutil.copytree(SYNTH / "codes", codes)
    shutil.copytree(SYNTH / "tables", tables)
    monkeypatch.setattr(synth_profile, "CODES_DIR", codes)
    monkeypatch.setattr(synth_profile, "TABLES_DIR", tables)
    return codes, tables


def test_unknown_trait_names_file_row_and_trait(tmp_path, monkeypatch):
    codes, _ = _tables_copy(tmp_path, monkeypatch)
    path = codes / "px_codes.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] += "keyhole"          # row 4 had no traits
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        synth_profile.load_tables.__wrapped__()
    assert str(path) in str(e.value) and "row 4" in str(e.value) and "keyhole" in str(e.value)


def test_external_cause_must_be_an_external_code(tmp_path, monkeypatch):
    _, tables = _tables_copy(tmp_path, monkeypatch)
    path = tables / "external_causes.csv"
    path.write_text(path.read_text(encoding="utf-8") + "S72,J18.900\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"external_causes\.csv: row \d+: code 'J18\.900'"):
        synth_profile.load_tables.__wrapped__()
