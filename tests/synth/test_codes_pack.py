"""codes=DIR: diagnosis and procedure codes drawn from a scheme pack (../shared/drg/chs-drg-1.1)."""

from __future__ import annotations

import csv

import numpy as np

from yunying.synth.generator import generate

from .conftest import read_csv


def test_codes_from_chs_drg_pack(shared, tmp_path):
    pack = shared / "drg" / "chs-drg-1.1"
    if not (pack / "diagnoses.csv").is_file():
        import pytest
        pytest.skip(f"{pack} has no diagnoses.csv")
    with open(pack / "diagnoses.csv", encoding="utf-8") as f:
        dx = {r["code"]: r["name"] for r in csv.DictReader(f)}
    with open(pack / "procedures.csv", encoding="utf-8") as f:
        px = {r["code"]: r["name"] for r in csv.DictReader(f)}
    generate(profile="tertiary-general", years=[2022], scale=0.01, seed=1, out=tmp_path, codes=pack,
             kinds={"discharge"})
    t = read_csv(tmp_path / "discharge_2022.csv", "gb18030")
    principal = t["JBDM"].to_pylist()
    assert all(c in dx for c in principal)
    assert all(dx[c] == n for c, n in zip(principal, t["ZYZD"].to_pylist()))
    others = [c for i in range(1, 16) for c in t[f"JBDM{i}"].to_pylist() if c]
    assert others and all(c in dx for c in others)
    pxs = [c for i in range(1, 8) for c in t[f"SSJCZBM{i}"].to_pylist() if c]
    assert pxs and all(c in px for c in pxs)
    # the case-mix structure survives: appendicitis-like codes stay in general surgery, deliveries in obstetrics
    dept = np.array(t["CYKB"].to_pylist())
    k35 = np.array([c.startswith("K35") for c in principal])
    assert set(dept[k35]) <= {"GIS", "PED"}
    assert all(c.startswith("O") for c, d in zip(principal, dept) if d == "OBS")
    # more distinct codes than the demo list offers for the same departments
    assert len(set(principal)) > 150
