"""Commands the README tour relies on (issue 15 item 2): `import all`, `drg cases`, the bundled demo scheme by name,
bundled payment parameters by name, and records.json written by `demo generate`. Synthetic data (scale 0.005)."""

from __future__ import annotations

import csv
import json
import shutil

import duckdb
import pytest
from typer.testing import CliRunner

from yunying.cli.main import app

runner = CliRunner()


def ok(args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.stderr + r.stdout
    return r


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("tour")
    ok(["demo", "generate", "--years", "2022", "--scale", "0.005", "--seed", "3", "--out", d / "data"])
    ok(["import", "all", d / "data", "--db", d / "w.duckdb"])
    return d


def test_import_all_imports_every_kind_of_the_manifest_once(demo):
    manifest = json.loads((demo / "data" / "manifest.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(demo / "w.duckdb"), read_only=True)
    got = dict(con.execute("select kind, sum(inserted) from import_log where status = 'ok' group by 1").fetchall())
    con.close()
    want = {k: manifest["counts"][k] for k in manifest["files"] if k != "defects_truth"}
    assert {"discharge", "outpatient", "department", "staff", "finance", "beds", "hospital", "cost_unit",
            "cost_ledger", "cost_basis", "cost_revenue", "charge_item", "item_volume", "case_charge"} <= set(want)
    assert got == want


def test_import_all_by_file_names_and_json(demo, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(demo / "data" / "departments.csv", folder / "departments.csv")
    shutil.copy(demo / "data" / "discharge_2022.csv", folder / "discharge_2022.csv")
    (folder / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    r = ok(["import", "all", folder, "--db", tmp_path / "w.duckdb", "--json"])
    res = json.loads(r.stdout)
    assert res["ok"] is True and list(res["imports"]) == ["department", "discharge"]   # dictionaries first
    n = sum(1 for _ in open(folder / "discharge_2022.csv", encoding="gb18030")) - 1
    assert res["imports"]["discharge"]["inserted"] == n
    again = json.loads(ok(["import", "all", folder, "--db", tmp_path / "w.duckdb", "--json"]).stdout)
    assert again["imports"]["discharge"]["inserted"] == 0 and again["imports"]["discharge"]["updated"] == n


def test_import_all_refuses_a_folder_without_data(tmp_path):
    r = runner.invoke(app, ["import", "all", str(tmp_path), "--db", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 2 and "没有可导入的文件" in r.stderr


def test_drg_cases_export_groups_like_drg_run(demo, tmp_path):
    db = demo / "w.duckdb"
    ok(["drg", "scheme", "import", "demo", "--name", "demo", "--db", db])
    ok(["drg", "run", "--db", db, "--scheme", "demo"])
    ok(["drg", "cases", "--db", db, "--year", "2022", "--output", tmp_path / "cases.csv"])
    ok(["drg", "group", "--scheme", "demo", "--db", db, "--input", tmp_path / "cases.csv",
        "--output", tmp_path / "out.csv"])
    with open(tmp_path / "out.csv", encoding="utf-8") as fh:
        grouped = {r["record_id"]: r["drg"] for r in csv.DictReader(fh)}
    con = duckdb.connect(str(db), read_only=True)
    stored = {f"{h}/{m}/{a}": d for h, m, a, d in con.execute(
        "select hospital_id, mrn, admission_no, drg from drg_result where scheme = 'demo'").fetchall()}
    con.close()
    assert grouped == stored and len(grouped) > 0        # record_id = hospital/mrn/admission_no


def test_drg_pay_with_bundled_parameters_by_name(demo):
    db = demo / "w.duckdb"
    ok(["drg", "scheme", "import", "demo", "--name", "demo", "--db", db])
    ok(["drg", "run", "--db", db, "--scheme", "demo"])
    ok(["drg", "weights", "calibrate", "--db", db, "--scheme", "demo", "--year", "2022"])
    r = runner.invoke(app, ["drg", "pay", "--db", str(db), "--scheme", "demo", "--method", "rate", "--year", "2022"])
    assert r.exit_code != 0 and "--params demo-rate" in r.stderr          # says how to fix
    s = json.loads(ok(["drg", "pay", "--db", db, "--scheme", "demo", "--params", "demo-rate", "--year", "2022",
                       "--json"]).stdout)["summary"]
    assert s["method"] == "rate" and s["params_file"].endswith("demo-rate.yaml") and s["cases"] > 0


def test_generate_writes_records_json_with_one_injected_defect(demo):
    records = json.loads((demo / "data" / "records.json").read_text(encoding="utf-8"))["records"]
    with open(demo / "data" / "defects_truth.csv", encoding="utf-8-sig") as fh:
        truth = {(r["mrn"], r["admission_no"]): r["rule_id"] for r in csv.DictReader(fh)}
    defective = [r for r in records if (r["BAH"], r["ZYCS"]) in truth]
    assert len(records) == 3 and len(defective) == 1
    res = json.loads(ok(["qc", "check-record", "--file", demo / "data" / "records.json", "--demo-dict"]).stdout)
    by_mrn = {r["BAH"]: {f["rule_id"] for f in r["findings"]} for r in res["records"]}
    d = defective[0]
    assert truth[(d["BAH"], d["ZYCS"])] in by_mrn[d["BAH"]]
