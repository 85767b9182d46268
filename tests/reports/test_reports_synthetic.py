"""Integration: a small synthetic hospital; the annual report's 出院 and 门急诊 counts equal counts taken
independently from the generated CSV files."""

from __future__ import annotations

import csv
import json

import pytest

from yunying.reports import build_annual
from yunying.warehouse.db import connect


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from yunying.cli.demo import import_folder
    from yunying.synth.generator import generate

    out = tmp_path_factory.mktemp("synth")
    generate(profile="tertiary-general", years=[2021, 2022], scale=0.01, seed=9, out=out)
    db = out / "w.duckdb"
    import_folder(db, out, quiet=True)
    return out, db


def _csv_counts(folder):
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    disch = 0
    for name in manifest["files"]["discharge"]:
        with open(folder / name, encoding=manifest["encodings"]["discharge"], newline="") as fh:
            for row in csv.DictReader(fh):
                if (row.get("CYSJ") or "").startswith("2022"):
                    disch += 1
    visits = 0
    for name in manifest["files"]["outpatient"]:
        with open(folder / name, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                # OP-01 门急诊人次 = all visits except 健康体检
                if row["reg_time"].startswith("2022") and row["visit_type"] not in ("checkup", "健康体检"):
                    visits += 1
    return disch, visits


def test_annual_counts_match_csv(synth):
    folder, db = synth
    disch, visits = _csv_counts(folder)
    assert disch > 1000 and visits > 10000
    con = connect(db)
    try:
        r = build_annual(con, 2022)
    finally:
        con.close()
    first = r.section("workload").paragraphs[0].text
    assert first == f"2022年全年完成门急诊{visits}人次、住院（出院）{disch}人次、手术" + first.split("、手术")[1]
    vals = {v.indicator_id: v for p in r.provenance for v in p.values}
    assert vals["OP-02"].value == disch and vals["OP-01"].value == visits
    # the synthetic warehouse has no procedure dictionary: only the fallback notes of the surgery figures
    assert r.warnings and all("按手术级别近似，未加载手术操作分类字典" in w for w in r.warnings), r.warnings
