"""Catalogue lint: every shipped family loads and agrees with the spec's indicators.csv; broken files give file:line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from yunying.indicators.catalogue import DIRECTIONS, CatalogueError, load_catalogue, shipped_files

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "indicators.csv"
FAMILY_KEY = {"三级综合": "tertiary-general", "三级中医": "tertiary-tcm", "二级": "secondary", "DRG": "drg",
              "运营": "operating"}


def spec_rows():
    if not SPEC.is_file():
        pytest.skip(f"规格文件不存在 / spec not found: {SPEC}")
    with open(SPEC, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_shipped_catalogue_loads(catalogue):
    assert len(shipped_files()) == 5
    assert set(catalogue.families) == set(FAMILY_KEY.values())
    for zh, key in FAMILY_KEY.items():
        assert catalogue.family(zh).key == key and catalogue.family(key).key == key
    with pytest.raises(KeyError):
        catalogue.family("四级")


def test_every_spec_indicator_is_in_the_catalogue_with_its_attributes(catalogue):
    rows = spec_rows()
    assert len(rows) == 146
    zh_dir = {v: k for k, v in DIRECTIONS.items()}
    for r in rows:
        ind = catalogue.indicators.get(r["id"])
        assert ind is not None, r["id"]
        assert ind.family == FAMILY_KEY[r["family"]], r["id"]
        assert ind.name_zh == r["name_zh"], r["id"]
        assert ind.direction == zh_dir[r["direction"]], r["id"]
        assert ind.national_monitor == (r["national_monitor"] == "y"), r["id"]
        assert ind.unit == r["unit"], r["id"]
        assert r["id"] in catalogue.family(r["family"]).ids


def test_catalogue_entries_are_complete(catalogue):
    for iid, ind in catalogue.indicators.items():
        assert ind.name_en, iid
        assert ind.source, iid
        if ind.type in ("unavailable", "external"):
            assert ind.missing_zh, iid


BROKEN = """family: broken
name_zh: 坏目录
indicators:
  - id: B-01
    name_zh: 未知列
    type: ratio
    numerator: {over: discharge, sql: "count(*) filter (where no_such_column)"}
    denominator: {over: discharge, sql: "count(*)"}
    unit: "%"
    direction: up
  - id: B-02
    name_zh: 错误导向
    type: count
    numerator: {over: nowhere, sql: "count(*)"}
    unit: 公斤
    direction: sideways
  - id: B-01
    name_zh: 重复编号
    type: count
    numerator: {over: visit, sql: "count(*)"}
    unit: 人次
    direction: up
  - id: B-03
    name_zh: 子查询
    type: count
    numerator: {over: visit, sql: "count(*) + (select 1 from discharge)"}
    unit: 人次
    direction: up
  - id: B-04
    name_zh: 非聚合
    type: sum
    numerator: {over: discharge, sql: "los_days"}
    needs: [discharge.nothing]
    unit: 天
    direction: down
"""


def test_broken_catalogue_reports_file_and_line(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(CatalogueError) as ei:
        load_catalogue(f, use_env=False)
    errs = ei.value.errors
    text = "\n".join(errs)

    def has(line, *words):
        assert any(e.startswith(f"{f}:{line}:") and all(w in e for w in words) for e in errs), (line, words, text)

    has(4, "B-01", "no_such_column")
    has(11, "B-02", "unknown view", "nowhere")
    has(11, "B-02", "bad direction", "sideways")
    has(11, "B-02", "bad unit", "公斤")
    has(17, "duplicate id B-01")
    has(23, "B-03", "no subqueries")
    has(29, "B-04", "needs an aggregate")
    has(29, "B-04", "discharge.nothing")


def test_yaml_syntax_error_has_line(tmp_path):
    f = tmp_path / "syntax.yaml"
    f.write_text("family: x\nindicators:\n  - id: X-01\n    name_zh: a: b\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"syntax.yaml:4"):
        load_catalogue(f, use_env=False)


def test_user_file_cannot_redefine_a_shipped_id(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("family: mine\nindicators:\n  - {id: OP-08, name_zh: 重复, type: count, unit: 天, direction: down,\n"
                 "     numerator: {over: discharge, sql: 'count(*)'}}\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"dup.yaml:3: .*duplicate id OP-08"):
        load_catalogue(f, use_env=False)


def test_env_variable_adds_user_files(tmp_path, monkeypatch):
    f = tmp_path / "env.yaml"
    f.write_text("family: mine\nindicators:\n  - {id: H-09, name_zh: 本院出院, type: count, unit: 人次, direction: up,\n"
                 "     numerator: {over: discharge, sql: 'count(*)'}}\n", encoding="utf-8")
    monkeypatch.setenv("YUNYING_INDICATORS", str(tmp_path))
    assert "H-09" in load_catalogue().indicators


def test_every_measure_runs_on_an_empty_warehouse(catalogue):
    """Second lint phase (MetricFlow's habit): every compiled query runs on the empty schema."""
    from yunying.indicators import compute
    from yunying.warehouse.db import connect

    con = connect(":memory:")
    for level in ("hospital", "department", "doctor", "region"):
        compute(con, catalogue, period="2022", level=level, targets=[])
    con.close()
