"""`yunying demo run` end to end on a tiny synthetic hospital (scale 0.005, one year)."""

from __future__ import annotations

import json

import duckdb
from typer.testing import CliRunner

from yunying.cli.main import app

runner = CliRunner()


def test_demo_run_generates_imports_groups_and_summarises(tmp_path):
    out = tmp_path / "demo"
    r = runner.invoke(app, ["demo", "run", "--out", str(out), "--scale", "0.005", "--years", "2022", "--seed", "7"])
    assert r.exit_code == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(out / "demo.duckdb"), read_only=True)
    try:
        counts = dict(con.execute(
            "select kind, sum(inserted) from import_log where status = 'ok' group by kind").fetchall())
        assert counts["discharge"] == manifest["counts"]["discharge"] > 0
        assert counts["outpatient"] == manifest["counts"]["outpatient"] > 0
        assert counts["department"] == manifest["counts"]["department"]
        assert con.execute("select count(*) from import_reject").fetchall() == [(0,)]
        # every imported discharge got a DRG result under the demo scheme
        assert con.execute("select count(*) from drg_result where scheme = 'demo'").fetchall() == \
            [(manifest["counts"]["discharge"],)]
        alos = con.execute("select avg(los_days) from discharge").fetchall()[0][0]
    finally:
        con.close()
    assert 5 < alos < 11
    assert "出院人次" in r.stderr and "2022" in r.stderr
    # running again reuses the files and re-imports idempotently
    r = runner.invoke(app, ["demo", "run", "--out", str(out), "--scale", "0.005", "--years", "2022", "--seed", "7"])
    assert r.exit_code == 0
    con = duckdb.connect(str(out / "demo.duckdb"), read_only=True)
    assert con.execute("select count(*) from discharge").fetchall() == [(manifest["counts"]["discharge"],)]
    con.close()


def test_demo_generate_rejects_bad_arguments(tmp_path):
    r = runner.invoke(app, ["demo", "generate", "--years", "twenty", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "年份" in r.stderr
    r = runner.invoke(app, ["demo", "generate", "--profile", "nonsense", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "无法生成" in r.stderr
