"""CLI output that is not a terminal is never hard-wrapped: long paths and suggested commands stay copyable."""

from __future__ import annotations

from typer.testing import CliRunner

from yunying.cli.main import app


def test_long_path_in_a_message_is_not_wrapped(tmp_path):
    deep = tmp_path.joinpath(*(["一个很长的文件夹名称-a-very-long-folder-name"] * 4)) / "warehouse.duckdb"
    assert len(str(deep)) > 160                      # wider than rich's default 80 columns, twice
    deep.parent.mkdir(parents=True)
    r = CliRunner().invoke(app, ["stats", "--db", str(deep)])
    assert r.exit_code != 0
    assert str(deep) in r.stderr                     # one unbroken line, as printed
