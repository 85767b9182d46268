"""`yunying drg scheme import` on bad packs (issue 15 item 6): a clear DRG-PACK / DRG-SCHEME message and exit 2, no
traceback. The packs are tiny folders made here; the crash classes need no real scheme tables."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from yunying.cli.main import app

runner = CliRunner()


def folder_named_csv(d):                 # a folder called mdcs.csv (was IsADirectoryError)
    (d / "mdcs.csv").mkdir()


def yaml_not_utf8(d):                    # pack.yaml saved as GB18030 (was UnicodeDecodeError)
    (d / "pack.yaml").write_bytes("name: 测试方案\n".encode("gb18030"))


def unclosed_quote(d):                   # a quote never closed: a 200 KB field (was _csv.Error: field limit)
    (d / "mdcs.csv").write_text('mdc,name\nA,"' + "x" * 200_000 + "\n", encoding="utf-8")


def unregistered_base(d):                # base: a name no scheme is registered under (was DrgDataError)
    (d / "pack.yaml").write_text("base: no-such-scheme\n", encoding="utf-8")


CASES = [
    ("folder named .csv", folder_named_csv, "DRG-PACK mdcs.csv", "无法读取"),
    ("pack.yaml not UTF-8", yaml_not_utf8, "DRG-PACK pack.yaml", "不是 UTF-8"),
    ("unclosed quote", unclosed_quote, "DRG-PACK mdcs.csv", "引号未闭合"),
    ("unregistered base", unregistered_base, "DRG-SCHEME", "未导入"),
]


@pytest.mark.parametrize("label,make,code,words", CASES, ids=[c[0] for c in CASES])
def test_bad_pack_is_refused_with_a_message(tmp_path, label, make, code, words):
    pack = tmp_path / "pack"
    pack.mkdir()
    make(pack)
    r = runner.invoke(app, ["drg", "scheme", "import", str(pack), "--name", "x", "--db", str(tmp_path / "w.duckdb")])
    assert "Traceback" not in r.stdout + r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2 and code in r.stderr and words in r.stderr, r.stderr


def test_a_file_instead_of_a_pack_folder(tmp_path):
    f = tmp_path / "scheme.zip"
    f.write_bytes(b"PK\x03\x04 not unpacked")
    r = runner.invoke(app, ["drg", "scheme", "import", str(f), "--name", "x", "--db", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 2 and "是一个文件" in r.stderr and "unpack" in r.stderr
