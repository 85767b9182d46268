"""A small synthetic hospital (tertiary-general, 2021–2022, scale 0.01): generated, imported, and a few indicators
checked against values computed independently from the generated CSV files with pyarrow."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from yunying.indicators import compute
from yunying.warehouse.db import connect


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from yunying.ingest.engine import import_files
    from yunying.synth.generator import generate

    out = tmp_path_factory.mktemp("synth")
    generate(profile="tertiary-general", years=[2021, 2022], scale=0.01, seed=3, out=out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    con = connect(out / "w.duckdb")
    for kind in ["hospital", "department", "staff", "finance", "beds", "discharge", "outpatient"]:
        summary = import_files(con, kind, [out / Path(p).name for p in manifest["files"][kind]],
                               reject_dir=out / "rejects")
        assert summary.ok
        assert summary.totals()["rejected"] == 0
    yield out, con
    con.close()


def read(path: Path, encoding: str = "utf-8") -> pa.Table:
    return pcsv.read_csv(path, read_options=pcsv.ReadOptions(encoding=encoding),
                         convert_options=pcsv.ConvertOptions(strings_can_be_null=True,
                                                             column_types={"BAH": pa.string(), "ZYCS": pa.string()}))


def test_indicators_match_the_files(synth, catalogue):
    out, con = synth
    rows = {r["indicator_id"]: r for r in compute(
        con, catalogue, ids=["OP-02", "OP-08", "OP-03", "OP-03.dept", "G3-04", "OP-12", "OP-01", "OP-04"],
        period="2022", targets=[])}

    d = read(out / "discharge_2022.csv", "gb18030")
    d = d.filter(pc.equal(pc.year(pc.strptime(d["CYSJ"].cast(pa.string()), "%Y-%m-%d %H:%M:%S", "s")), 2022))
    n = d.num_rows
    assert rows["OP-02"]["value"] == n
    # 平均住院日 = Σ SJZYTS / n
    assert rows["OP-08"]["value"] == pytest.approx(pc.sum(d["SJZYTS"]).as_py() / n, rel=1e-9)
    # 首页药占比 = Σ(西药 + 中成药 + 中草药) / Σ 总费用
    drug = sum(pc.sum(pc.fill_null(d[c].cast(pa.float64()), 0)).as_py() for c in ("XYF", "ZCYF", "ZCYF1"))
    assert rows["OP-03.dept"]["value"] == pytest.approx(100 * drug / pc.sum(d["ZFY"]).as_py(), rel=1e-9)

    # 手术占比: 台次 = distinct (record, operation time) over procedure slots with a 手术级别 (no dictionary loaded)
    sessions, persons = set(), set()
    cols = d.column_names
    recs = d.select(["BAH", "ZYCS"]).to_pylist()
    for i in range(1, 20):
        if f"SSJB{i}" not in cols:
            break
        levels = d[f"SSJB{i}"].to_pylist()
        times = d[f"SSJCZRQ{i}"].cast(pa.string()).to_pylist()
        for rec, lv, t in zip(recs, levels, times):
            if lv not in (None, ""):
                sessions.add((rec["BAH"], rec["ZYCS"], t))
                persons.add((rec["BAH"], rec["ZYCS"]))
    assert rows["G3-04"]["numerator"] == len(sessions)
    assert rows["G3-04"]["value"] == pytest.approx(100 * len(sessions) / n, rel=1e-9)
    assert rows["OP-12"]["value"] == pytest.approx(100 * len(persons) / n, rel=1e-9)

    # 药占比 / 耗占比 (财务): hospital-total rows ('*') of 2022
    f = read(out / "finance.csv", "utf-8")
    f = f.filter(pc.and_(pc.equal(f["dept_code"], "*"),
                         pc.equal(pc.year(f["month"].cast(pa.timestamp("s"))), 2022)))

    def item(code):
        return pc.sum(f.filter(pc.equal(f["item_code"], code))["amount"]).as_py()

    assert rows["OP-03"]["value"] == pytest.approx(100 * item("income_drug") / item("income_medical"), rel=1e-9)
    assert rows["OP-04"]["value"] == pytest.approx(100 * item("income_material") / item("income_medical"), rel=1e-9)

    # 门急诊人次 = visits of 2022 except health check-ups
    v = read(out / "outpatient_2022.csv", "utf-8")
    v = v.filter(pc.equal(pc.year(v["reg_time"].cast(pa.timestamp("s"))), 2022))
    assert rows["OP-01"]["value"] == v.num_rows - pc.sum(pc.equal(v["visit_type"], "checkup").cast(pa.int64())).as_py()


def test_all_families_run_on_the_synthetic_hospital(synth, catalogue):
    _, con = synth
    for level in ("hospital", "department"):
        rows = compute(con, catalogue, period="2022", grain="month", level=level, targets=[])
        assert rows
        for r in rows:
            # shares never exceed 100 % except ratios of different populations (G3-04 counts operations)
            if r["value"] is not None and r["unit"] == "%" and r["indicator_id"] not in (
                    "G3-04", "G2-01", "G3-37", "G2-20", "G3-38", "G3-39", "G3-40", "G3-41", "OP-24.op", "OP-24.ip",
                    "G2-21.op", "G2-21.ip", "G2-22.op", "G2-22.ip", "DRG-08", "OP-09"):  # OP-09: 加床 > 100 %
                assert -1e-9 <= r["value"] <= 100 + 1e-9, r
            if r["status"] == "不可计算":
                assert r["value"] is None and r["reason"]
