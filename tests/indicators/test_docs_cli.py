"""docs/indicators.md is current and its examples work; the CLI through typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from typer.testing import CliRunner

from yunying.cli.main import app
from yunying.economics.views import create_views
from yunying.indicators.catalogue import load_catalogue
from yunying.indicators.doc import DOC, render
from yunying.warehouse.db import connect

from indfixtures import build

runner = CliRunner()


def test_generated_catalogue_section_is_current():
    text = DOC.read_text(encoding="utf-8")
    assert render() in text, "docs/indicators.md is stale: run python -m yunying.indicators.doc"


def test_documented_user_catalogue_and_targets_examples_load(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    user = next(b for b in blocks if "family: hospital-own" in b)
    f = tmp_path / "own.yaml"
    f.write_text(user, encoding="utf-8")
    assert "H-01" in load_catalogue(f, use_env=False).indicators
    tg = next(b for b in blocks if b.startswith("targets:"))
    t = tmp_path / "t.yaml"
    t.write_text(tg, encoding="utf-8")
    from yunying.indicators.targets import read_targets_file
    assert len(read_targets_file(t)) == 4


@pytest.fixture(scope="module")
def dbfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "w.duckdb"
    con = connect(path)
    build(con)
    create_views(con)     # stored in the file as by every economics command (weights import / calibrate)
    con.close()
    return path


def test_compute_csv_columns_and_family_alias(dbfile):
    res = runner.invoke(app, ["indicators", "compute", "--db", str(dbfile), "--family", "三级综合",
                              "--period", "2022", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert list(rows[0])[:13] == ["indicator_id", "name", "period", "hospital_id", "dept_code", "numerator",
                                  "denominator", "value", "unit", "yoy_value", "yoy_change", "target", "status"]
    g = {r["indicator_id"]: r for r in rows}
    assert g["G3-04"]["value"] == "75" and g["G3-04"]["numerator"] == "3" and g["G3-04"]["denominator"] == "4"
    assert g["G3-17"]["status"] == "不可计算" and g["G3-17"]["value"] == ""
    res2 = runner.invoke(app, ["indicators", "compute", "--db", str(dbfile), "--family", "tertiary-general",
                               "--period", "2022", "--format", "csv"])
    assert res2.stdout == res.stdout


def test_compute_json_department_month_with_targets(dbfile, tmp_path):
    t = tmp_path / "t.yaml"
    t.write_text("targets:\n  - {indicator: OP-08, op: '<', value: 7, dept_code: '*'}\n", encoding="utf-8")
    out = tmp_path / "o.json"
    res = runner.invoke(app, ["indicators", "compute", "--db", str(dbfile), "--family", "运营", "--period", "2022",
                              "--grain", "month", "--level", "department", "--targets", str(t), "--format", "json",
                              "--output", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text(encoding="utf-8"))
    alos = {(r["period"], r["dept_code"]): (r["value"], r["status"]) for r in rows if r["indicator_id"] == "OP-08"}
    assert alos[("2022-03", "GS")] == (7.5, "未达标") and alos[("2022-06", "IM")] == (4.5, "达标")


def test_cli_errors_are_bilingual(dbfile):
    res = runner.invoke(app, ["indicators", "compute", "--db", str(dbfile), "--family", "四级", "--period", "2022"])
    assert res.exit_code == 2 and "未知指标族" in res.output
    res = runner.invoke(app, ["indicators", "compute", "--db", str(dbfile), "--period", "2022-13"])
    assert res.exit_code == 2 and "bad month" in res.output


def test_list_with_db_shows_computability(dbfile):
    res = runner.invoke(app, ["indicators", "list", "--db", str(dbfile), "--family", "DRG", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert rows["DRG-01"]["computable"] == "是"
    assert rows["DRG-03"]["computable"] == "是"          # weights in the warehouse (read-only: stored views)
    # no payment run stored in this warehouse (DRG-10 reads yunying drg pay's results, test_drg_economics.py)
    assert rows["DRG-10"]["computable"] == "否" and "DRG 支付测算结果" in rows["DRG-10"]["reason"]


def test_list_without_weights_says_so(tmp_path):
    path = tmp_path / "w.duckdb"
    con = connect(path)
    build(con, weights=False)
    create_views(con)
    con.close()
    res = runner.invoke(app, ["indicators", "list", "--db", str(path), "--family", "DRG", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert rows["DRG-03"]["computable"] == "否" and "未导入/校准 DRG 权重" in rows["DRG-03"]["reason"]
    assert rows["DRG-04"]["computable"] == "是"          # own-data benchmark fallback (as yunying drg metrics)


def test_explain_prints_sql_and_cases(dbfile):
    res = runner.invoke(app, ["indicators", "explain", "G3-08", "--db", str(dbfile), "--period", "2022",
                              "--dept", "GS"])
    assert res.exit_code == 0, res.output
    assert "from v_discharge" in res.output and "M2" in res.output and "手术患者并发症发生率" in res.output


def test_lint_reports_file_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("family: x\nindicators:\n  - {id: X-01, name_zh: 坏, type: count, unit: 人次, direction: up,\n"
                 "     numerator: {over: visit, sql: 'count(nothing)'}}\n", encoding="utf-8")
    res = runner.invoke(app, ["indicators", "lint", "--catalogue", str(f)])
    assert res.exit_code == 2 and f"{f}:3" in res.output and "nothing" in res.output
    assert runner.invoke(app, ["indicators", "lint"]).exit_code == 0


def test_load_px_dict_and_demo_stage(tmp_path, capsys):
    from yunying.cli.indicators import demo_stage

    db = tmp_path / "d.duckdb"
    con = connect(db)
    build(con, px_dict=False)
    con.close()
    csvf = tmp_path / "px.csv"
    csvf.write_text("code,name,category,level,minimally_invasive\nP3,x,surgery,4,1\n", encoding="utf-8")
    res = runner.invoke(app, ["indicators", "load-px-dict", str(csvf), "--db", str(db)])
    assert res.exit_code == 0, res.output
    demo_stage(db)          # must not fail; prints key lines to the console (stderr)


def test_demo_stage_prints_cmi_when_weights_exist(tmp_path, capsys):
    from yunying.cli.indicators import demo_stage

    db = tmp_path / "d.duckdb"
    con = connect(db)
    build(con)                      # weights of s1 2022 imported (indfixtures.py): CMI 5.8 / 3
    con.close()
    demo_stage(db)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "病例组合指数 CMI 1.9333（方案 s1，weights 2022 (import:test.csv)）" in text, text
