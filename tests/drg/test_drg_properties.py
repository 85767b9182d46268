"""Property tests (Hypothesis) on the hand-written packs: for any case built from the packs' codes and odd
values, the batch grouper equals the per-case interpreter, every case gets exactly one known status, results
are consistent (SUCCESS ⇔ codes set, drg starts with adrg, adrg's MDC letter), and grouping is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drgpacks import CASE_HEADER, cases_table, write_csv, write_pack
from yunying.drg.explain import CaseInterpreter
from yunying.drg.grouper import STATUS_NAMES, Grouper
from yunying.drg.pack import load_pack

DX = ["G01", "G02", "T01", "T02", "T03", "M01", "N01", "P01", "PS0", "K01", "K02", "C01", "", "g01", "ZZZ"]
PX = ["X10", "X20", "X21", "X30", "L1", "L2", "L3", "", "XYZ"]

codes = lambda pool, lo: st.lists(st.sampled_from(pool), min_size=lo, max_size=5).map("|".join)  # noqa: E731
case_st = st.fixed_dictionaries({
    "record_id": st.just("r"),
    "sex": st.sampled_from(["1", "2", "", "0", "9", "M"]),
    "age_years": st.sampled_from(["0", "1", "10", "16", "17", "45", "", "x"]),
    "age_days": st.sampled_from(["", "0", "5", "28", "29", "40", "x"]),
    "newborn_weight_g": st.sampled_from(["", "0", "900", "1499", "1500", "3000"]),
    "dept_code": st.sampled_from(["", "ICU", "GS"]),
    "los_days": st.just("3"),
    "discharge_type": st.just("1"),
    "dx": codes(DX, 0),
    "px": codes(PX, 0),
})

PACKS: dict[str, object] = {}


def _packs(root: Path):
    if not PACKS:
        write_pack(root / "mini")
        local = root / "local"
        local.mkdir()
        (local / "pack.yaml").write_text("base: ../mini\n", encoding="utf-8")
        from test_drg_grouper_rules import OVERRIDES

        write_csv(local / "overrides.csv", ["op", "table", "key", "column", "value", "reason_zh"],
                  OVERRIDES + [["set", "qy_rules", "MDCG", "enabled", "1", ""]])
        for name in ("mini", "local"):
            PACKS[name] = load_pack(root / name)
    return PACKS


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    return _packs(tmp_path_factory.mktemp("prop"))


@pytest.mark.parametrize("name", ["mini", "local"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(case_st, min_size=1, max_size=40))
def test_batch_equals_interpreter(packs, name, cases):
    pack = packs[name]
    for i, c in enumerate(cases):
        c["record_id"] = f"r{i}"
    table = cases_table(cases)
    g = Grouper(pack)
    res = g.group_table(table, chunk_size=7)
    got = list(zip(*(res[c].to_pylist() for c in ("status", "mdc", "adrg", "drg"))))
    it = CaseInterpreter(pack)
    for c, (status, mdc, adrg, drg) in zip(cases, got):
        e = it.explain(c)
        assert (e.status, e.mdc, e.adrg, e.drg) == (status, mdc, adrg, drg), (c, e.text())
        assert status in STATUS_NAMES
        if status == "SUCCESS":
            assert drg.startswith(adrg) and mdc == "MDC" + adrg[0]
        elif status == "QY":
            assert adrg == "QY" and drg.endswith("QY")
        else:
            assert (mdc, adrg, drg) == ("0000", "00", "0000")
    assert g.group_table(table).equals(res)  # idempotent, chunking irrelevant
    assert list(CASE_HEADER)  # columns of the canonical record
