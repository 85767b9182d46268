"""The shipped demo scheme (yunying/drg/demo_scheme): validates, covers the synthetic code list, groups the
textbook cases as designed (expected groups read off the demo pack's own tables, worked out in comments)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from drgpacks import case, cases_table
from yunying.drg.explain import explain_case
from yunying.drg.grouper import Grouper
from yunying.drg.pack import load_pack

DEMO = Path(__file__).resolve().parents[2] / "yunying" / "drg" / "demo_scheme"
CODES = Path(__file__).resolve().parents[2] / "yunying" / "synth" / "codes"


@pytest.fixture(scope="module")
def demo():
    return load_pack(DEMO)


def test_demo_is_labelled_demo(demo):
    assert demo.name == "yunying-demo"
    assert "演示" in demo.meta["label_zh"] and "DEMO" in demo.meta["label_en"]
    assert all("演示" in r["name"] for r in demo.rows("mdcs"))


def test_demo_covers_synthetic_code_list(demo):
    """Every principal diagnosis the generator uses for inpatients (case_mix.csv) is in an MDC list, and every
    surgical/interventional code of the code list is in some ADRG's procedure list: the demo run groups all cases."""
    tables = CODES.parent / "tables"
    if not (tables / "case_mix.csv").exists():
        pytest.skip("synthetic case-mix tables absent")
    with (tables / "case_mix.csv").open(encoding="utf-8") as fh:
        dx = sorted({r["dx_code"] for r in csv.DictReader(fh)})
    with (CODES / "px_codes.csv").open(encoding="utf-8") as fh:
        px = [r["code"] for r in csv.DictReader(fh) if r.get("category") in ("surgery", "interventional")]
    principal = {r["code"] for r in demo.rows("mdc_principal_dx")}
    listed_px = {r["code"] for r in demo.rows("adrg_codes") if r["list"] == "px"}
    assert [c for c in dx if c not in principal] == []
    assert [c for c in px if c not in listed_px] == []


DEMO_CASES = [
    # K35.800x001 in MDCG list; 47.0100 in GD1 px list (GD1 before GZ1) ; no secondary -> GD15
    (case("d1", "K35.800x001", "47.0100", age="30"), ("MDCG", "GD1", "GD15")),
    # K80.101 in MDCH; 51.2300 in HC1; E11.900 CC table 9, K80.101 has no exclusion table -> HC13
    (case("d2", "K80.101|E11.900", "51.2300", sex="2", age="50"), ("MDCH", "HC1", "HC13")),
    # O80.000 female, no procedure -> OR1 (PDX); no CC -> OR15
    (case("d3", "O80.000|Z37.000", sex="2", age="28"), ("MDCO", "OR1", "OR15")),
    (case("d4", "O82.000|Z37.000", "74.1x01", sex="2", age="31"), ("MDCO", "OB1", "OB15")),
    # I63.900 -> BR1; I50.900 MCC table 2, I63.900 exclusion table 12 -> counts -> BR11
    (case("d5", "I63.900|I50.900", age="70"), ("MDCB", "BR1", "BR11")),
    # J96.000 MCC table 1 excluded by J44.100's table 1 (not downgraded) -> ET15
    (case("d6", "J44.100|J96.000", age="75"), ("MDCE", "ET1", "ET15")),
    # chemo: Z51.103 principal -> MDCR RE1
    (case("d7", "Z51.103|C16.900", "99.2500", age="60"), ("MDCR", "RE1", "RE15")),
    # two trauma regions (lower limb + head) -> MDCZ, 79.3501 in ZB1 -> ZB15
    (case("d8", "S72.000|S06.500", "79.3501", age="40"), ("MDCZ", "ZB1", "ZB15")),
    # one region -> MDCI IE1
    (case("d9", "S72.000", "79.3501", age="80"), ("MDCI", "IE1", "IE15")),
    # newborn 3 days 1800 g: P59.901 is not in PR1 (order 1); PS1 (order 2) takes P07.300 at any position
    # with weight < 2500 -> PS15 (PU1, order 3, would also hold but comes later)
    (case("d10", "P59.901|P07.300", age="0", days="3", weight="1800"), ("MDCP", "PS1", "PS15")),
    # P22.000 principal: PR1 comes first -> PR15
    (case("d10b", "P22.000|P07.300", age="0", days="3", weight="1800"), ("MDCP", "PR1", "PR15")),
    (case("d11", "H25.900", "13.4100x001", age="72"), ("MDCC", "CD1", "CD19")),
    (case("d12", "I21.900|I10.x09", "36.0700", age="66"), ("MDCF", "FM1", "FM15")),  # I10 CC table 2 = I21's 2
]


def test_demo_cases(demo):
    res = Grouper(demo).group_table(cases_table([c for c, _ in DEMO_CASES]))
    got = list(zip(*(res[c].to_pylist() for c in ("mdc", "adrg", "drg"))))
    assert got == [e for _, e in DEMO_CASES]
    for c, e in DEMO_CASES:
        ex = explain_case(demo, c)
        assert (ex.mdc, ex.adrg, ex.drg) == e
