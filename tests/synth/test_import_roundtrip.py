"""The generated folder imports through the public CLI (`yunying import KIND FILE --db PATH --json`) with no
rejected rows and no unknown columns; the warehouse then holds what the files say."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

from yunying.synth.generator import generate

ORDER = ["hospital", "department", "cost_unit", "charge_item", "staff", "finance", "beds", "discharge", "outpatient",
         "cost_ledger", "cost_basis", "cost_revenue", "item_volume", "case_charge"]


@pytest.mark.parametrize("profile", ["secondary-general", "tertiary-tcm"])
def test_generated_files_import_cleanly(tmp_path, profile):
    from yunying.cli.main import app
    out, db = tmp_path / "data", tmp_path / "w.duckdb"
    res = generate(profile=profile, years=[2022], scale=0.015, seed=11, out=out)
    runner = CliRunner()
    for kind in ORDER:
        for path in res.files[kind]:
            r = runner.invoke(app, ["import", kind, str(path), "--db", str(db), "--json"])
            assert r.exit_code == 0, (kind, r.stdout)
            summary = json.loads(r.stdout)
            assert summary["rejected"] == 0, (kind, summary)
            assert summary["files"][0]["unknown_columns"] == [], (kind, summary["files"][0])
    con = duckdb.connect(str(db), read_only=True)
    try:
        n = con.execute("select count(*), sum(los_days) from discharge").fetchone()
        assert n[0] == res.counts["discharge"]
        assert con.execute("select count(*) from outpatient_visit").fetchone()[0] == res.counts["outpatient"]
        assert con.execute("select count(*) from discharge_diagnosis where seq = 0 and dx_type = 'W'").fetchone()[0] == n[0]
        if profile == "tertiary-tcm":
            assert con.execute("select count(*) from discharge_diagnosis where dx_type = 'TD'").fetchone()[0] == n[0]
    finally:
        con.close()
