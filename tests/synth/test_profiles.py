"""Every shipped profile validates; shares sum to 1; every referenced code exists; broken profiles say where."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from yunying.synth.profile import PROFILE_NAMES, PROFILES_DIR, ProfileError, load_profile, load_tables

SYNTH = Path(__file__).resolve().parents[2] / "yunying" / "synth"


def _rows(rel: str) -> list[dict]:
    with open(SYNTH / rel, encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_shipped_profile_loads_and_shares_sum_to_one(name):
    prof = load_profile(name)
    raw = yaml.safe_load((PROFILES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert abs(sum(d["share"] for d in raw["departments"]) - 1) < 1e-9
    assert abs(sum(raw["payment_mix"].values()) - 1) < 1e-9
    assert abs(sum(raw["outpatient"]["visit_type_mix"].values()) - 1) < 1e-9
    assert len(prof.seasonality) == 12
    assert raw["sources"], "every profile names its sources"


def test_profiles_directory_holds_exactly_the_shipped_profiles():
    assert sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")) == sorted(PROFILE_NAMES)


def test_tertiary_general_has_25_to_35_clinical_departments_and_all_classes():
    raw = yaml.safe_load((PROFILES_DIR / "tertiary-general.yaml").read_text(encoding="utf-8"))
    assert 25 <= len(raw["departments"]) <= 35
    assert {d["dept_class"] for d in raw["other_departments"]} == {"clinical", "medtech", "support", "admin"}


def test_case_mix_and_tables_reference_existing_codes():
    dx = {r["code"] for r in _rows("codes/dx_codes.csv")}
    px = {r["code"]: r for r in _rows("codes/px_codes.csv")}
    groups = {r["group"] for r in _rows("tables/groups.csv")}
    assert len(dx) >= 200 and len(px) >= 100
    for r in _rows("tables/case_mix.csv"):
        assert r["group"] in groups
        assert r["dx_code"] in dx, r
        assert not r["px_code"] or r["px_code"] in px, r
        assert 0 <= float(r["p_px"]) <= 1
    for name in ("comorbidities", "complications"):
        for r in _rows(f"tables/{name}.csv"):
            assert r["dx_code"] in dx, (name, r)
    for r in _rows("tables/extra_procedures.csv"):
        assert r["px_code"] in px
    for code, r in px.items():
        assert r["category"] in {"surgery", "interventional", "therapeutic", "diagnostic"}
        if r["category"] in ("surgery", "interventional"):
            assert r["level"] in {"1", "2", "3", "4"}, code
    tcm = _rows("codes/tcm_codes.csv")
    assert {r["kind"] for r in tcm} == {"disease", "syndrome"}
    assert all(set(r["groups"].split(";")) <= groups for r in tcm)


def test_code_lists_have_no_duplicates_and_plausible_shapes():
    import re
    dx = [r["code"] for r in _rows("codes/dx_codes.csv")]
    px = [r["code"] for r in _rows("codes/px_codes.csv")]
    assert len(dx) == len(set(dx)) and len(px) == len(set(px))
    # shapes of the national dictionaries: ICD-10 K80.101 / K35.800x001 / dagger+asterisk E11.201+N08.3*;
    # ICD-9-CM-3 47.0100 / 74.1x01 / 31.1x00x005, and the 中医操作 extension 17.91100 / 17.912A0
    assert all(re.fullmatch(r"[A-Z]\d{2}\.[\dx]\d{2}(x\d{3})?(\+[A-Z]\d{2}\.\d\*)?", c) for c in dx), dx
    assert all(re.fullmatch(r"\d{2}\.\d[\dx]\d{2}(x\d{3})?|\d{2}\.\d{3}[\dA-Z]\d", c) for c in px), px


def test_every_group_of_every_profile_has_case_mix_rows():
    tables = load_tables()
    for name in PROFILE_NAMES:
        for d in load_profile(name).departments:
            assert any(r["group"] == d.group for r in tables.case_mix)


def _broken(tmp_path, edit) -> Path:
    raw = yaml.safe_load((PROFILES_DIR / "tertiary-general.yaml").read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_shares_not_summing_to_one_names_file_and_key(tmp_path):
    path = _broken(tmp_path, lambda r: r["departments"][0].update(share=0.5))
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert str(path) in str(e.value) and "departments[].share" in str(e.value)


def test_unknown_group_names_file_and_key(tmp_path):
    path = _broken(tmp_path, lambda r: r["departments"][3].update(group="NOPE"))
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    assert str(path) in str(e.value) and "departments.3.group" in str(e.value) and "NOPE" in str(e.value)


def test_wrong_type_and_unknown_key_name_the_key(tmp_path):
    path = _broken(tmp_path, lambda r: r["calibration"]["avg_los_days"].update(target="eight"))
    with pytest.raises(ProfileError, match=r"calibration\.avg_los_days\.target"):
        load_profile(path)
    path = _broken(tmp_path, lambda r: r.update(departmnets=[]))
    with pytest.raises(ProfileError, match="departmnets"):
        load_profile(path)


def test_unknown_defect_and_bad_domain_code(tmp_path):
    path = _broken(tmp_path, lambda r: r["defects"].update(X999=0.1))
    with pytest.raises(ProfileError, match="X999"):
        load_profile(path)
    path = _broken(tmp_path, lambda r: r.update(payment_mix={"1": 0.5, "42": 0.5}))
    with pytest.raises(ProfileError, match="payment_mix.*42"):
        load_profile(path)


def test_missing_profile_lists_known_ones():
    with pytest.raises(ProfileError, match="tertiary-general"):
        load_profile("no-such-profile")
