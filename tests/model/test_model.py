"""The catalogue, the migrated schema, the shipped profiles and docs/data-model.md agree."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from yunying.ingest.profiles import ProfileError, load_profiles
from yunying.model.catalogue import load_model
from yunying.ingest.doc import render
from yunying.warehouse.db import connect, migration_files

REPO = Path(__file__).resolve().parents[2]


def test_migrated_schema_matches_catalogue():
    con = connect(":memory:")
    model = load_model()
    for t in model.tables.values():
        got = {r[0]: r[1] for r in con.execute(f"describe {t.name}").fetchall()}
        want = {c.name: c.type.replace(" ", "") for c in t.columns}
        assert got == want, t.name


def test_migrations_are_idempotent_and_recorded():
    con = connect(":memory:")
    from yunying.warehouse.db import migrate

    assert migrate(con) == []
    names = [r[0] for r in con.execute("select version from schema_migrations order by 1").fetchall()]
    assert names == [n for n, _ in migration_files()]


def test_national_profile_agrees_with_catalogue_codes():
    """Each catalogue column's western national code (first alternative) is mapped to that column."""
    model = load_model()
    national = load_profiles()["national"]
    table = model.tables["discharge"]
    checked = 0
    for c in table.columns:
        if not c.code or " " in c.code:
            continue
        code = c.code.split("/")[0]
        if code.isupper() and code in {s.header for s in national.columns.values()}:
            assert national.columns[code].column == c.name, code
            checked += 1
    assert checked > 100


def test_tcm_profile_maps_jbdm_to_outpatient_tcm_dx_not_principal():
    profiles = load_profiles()
    assert profiles["national"].repeats["discharge_diagnosis"][0]["dx_code"] == "JBDM"
    tcm = profiles["national-tcm"]
    assert tcm.columns["JBDM"].column == "er_tcm_dx_code"
    assert tcm.repeats["discharge_diagnosis"][0]["dx_code"] == "ZYZD_JBBM"
    assert "YLFUF" not in tcm.columns and tcm.columns["YLFWF"].column == "fee_general_service"


def test_broken_profiles_are_refused_with_file_name(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "bad", "kind": "discharge", "columns": {"X": "no_such_column"}}))
    with pytest.raises(ProfileError, match="bad.yaml.*no_such_column"):
        load_profiles(extra_files=[bad])
    bad.write_text(yaml.safe_dump({"name": "bad", "kind": "nonsense"}))
    with pytest.raises(ProfileError, match="未知数据类型"):
        load_profiles(extra_files=[bad])


def test_fee_subsets_point_to_fee_items():
    t = load_model().tables["discharge"]
    for c in t.columns:
        if c.subset_of:
            assert t.column(c.subset_of).fee_class is not None, c.name


def test_data_model_doc_is_current():
    assert (REPO / "docs" / "data-model.md").read_text(encoding="utf-8") == render(), \
        "run: python -m yunying.ingest.doc > docs/data-model.md"
