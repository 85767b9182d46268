"""Conformance: every case of the reference packs' sample_cases.csv groups exactly as expected (status, mdc,
adrg, drg), with the batch grouper and with the single-case interpreter. Skips when ../shared is absent."""

from __future__ import annotations

import csv

import pyarrow as pa
import pytest

from drgpacks import shared_pack
from yunying.drg.explain import CaseInterpreter
from yunying.drg.grouper import Grouper
from yunying.drg.pack import load_pack

PACKS = ["chs-drg-1.1", "zhejiang-2022"]
RESULT = ("status", "mdc", "adrg", "drg")


@pytest.fixture(scope="module", params=PACKS)
def pack_and_cases(request):
    path = shared_pack(request.param)
    pack = load_pack(path)
    with (path / "sample_cases.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return pack, rows


def test_batch_grouper_reproduces_sample_cases(pack_and_cases):
    pack, rows = pack_and_cases
    table = pa.table({c: pa.array([r[c] for r in rows], type=pa.string()) for c in rows[0]})
    res = Grouper(pack).group_table(table, chunk_size=1000)  # several chunks on purpose
    got = list(zip(*(res[c].to_pylist() for c in RESULT)))
    wrong = [(r["record_id"], tuple(r[c] for c in RESULT), g) for r, g in zip(rows, got)
             if tuple(r[c] for c in RESULT) != g]
    assert not wrong, f"{len(wrong)} of {len(rows)} differ, first: {wrong[:5]}"
    assert res["record_id"].to_pylist() == [r["record_id"] for r in rows]


def test_interpreter_reproduces_sample_cases(pack_and_cases):
    pack, rows = pack_and_cases
    it = CaseInterpreter(pack)
    wrong = []
    for r in rows:
        e = it.explain(r)
        if (e.status, e.mdc, e.adrg, e.drg) != tuple(r[c] for c in RESULT):
            wrong.append((r["record_id"], e.status, e.drg))
    assert not wrong, f"{len(wrong)} differ: {wrong[:5]}"


def test_department_and_los_do_not_change_chs_results(pack_and_cases):
    """CHS-DRG 1.1 and (by its defects) Zhejiang ignore department, LOS and discharge type."""
    pack, rows = pack_and_cases
    table = pa.table({c: pa.array([r[c] for r in rows], type=pa.string()) for c in rows[0]})
    base = Grouper(pack).group_table(table)
    n = len(rows)
    changed = table.set_column(table.column_names.index("dept_code"), "dept_code", pa.array(["ICU"] * n))
    changed = changed.set_column(changed.column_names.index("los_days"), "los_days", pa.array(["99"] * n))
    changed = changed.set_column(changed.column_names.index("discharge_type"), "discharge_type",
                                 pa.array(["5"] * n))
    assert Grouper(pack).group_table(changed).equals(base)
