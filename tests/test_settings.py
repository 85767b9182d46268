"""Warehouse path precedence: --db flag > YUNYING_DB > ./yunying.toml > default."""

from __future__ import annotations

from pathlib import Path

from yunying.settings import load_settings


def test_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("YUNYING_DB", raising=False)
    assert load_settings().db == Path("yunying.duckdb")
    (tmp_path / "yunying.toml").write_text('[yunying]\ndb = "from-file.duckdb"\nhospital = "H7"\n', encoding="utf-8")
    assert load_settings().db == Path("from-file.duckdb")
    assert load_settings().hospital == "H7"
    monkeypatch.setenv("YUNYING_DB", "from-env.duckdb")
    assert load_settings().db == Path("from-env.duckdb")
    assert load_settings().hospital == "H7"          # other keys still come from the file
    assert load_settings(db=Path("flag.duckdb")).db == Path("flag.duckdb")


def test_import_uses_env_db_when_no_flag(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from yunying.cli.main import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YUNYING_DB", str(tmp_path / "env.duckdb"))
    (tmp_path / "d.csv").write_text("hospital_id,dept_code,dept_name,dept_class\nH1,0302,呼吸内科,临床\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["import", "department", "d.csv", "--json"])
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "env.duckdb").exists()
    r = CliRunner().invoke(app, ["sql", "select dept_name, dept_class from department"])
    assert r.stdout.splitlines() == ["dept_name,dept_class", "呼吸内科,clinical"]
