"""Bad input to `yunying qc check-record` (issue 15 item 5): wrong field types, deep nesting, huge integers, lone
surrogates, non-UTF-8 files — each a coded message on stderr (exit 1), never a traceback. POST /api/qc/check gets
the same classes in tests/web/test_qc_check_bad_input.py."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.qc.helpers import record
from yunying.cli.main import app

runner = CliRunner()
GOOD = record("BI0001")

# (class, raw JSON bytes, expected code, words of the message)
BAD_JSON = [
    ("diagnoses as a string", json.dumps({**GOOD, "diagnoses": "J18.900"}).encode(), "QC-INPUT-TYPE", "diagnoses"),
    ("diagnoses items as strings", json.dumps({**GOOD, "diagnoses": ["J18.900"]}).encode(), "QC-INPUT-TYPE",
     "第 1 项应为对象"),
    ("procedures as an object", json.dumps({**GOOD, "procedures": {"code": "47.0901"}}).encode(), "QC-INPUT-TYPE",
     "procedures"),
    ("a field as an array", json.dumps({**GOOD, "BAH": ["x"]}).encode(), "QC-INPUT-TYPE", "字段 BAH"),
    ("a diagnosis code as an object", json.dumps({**GOOD, "diagnoses": [{"code": {"x": 1}}]}).encode(),
     "QC-INPUT-TYPE", "code"),
    ("nested 100,000 deep", b'{"BAH": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "QC-INPUT-DEPTH", "嵌套"),
    ("nested 50 deep", b'{"BAH": ' + b"[" * 50 + b"]" * 50 + b"}", "QC-INPUT-TYPE", "字段 BAH"),
    ("a 5,000-digit integer", b'{"BAH": "A", "ZYCS": ' + b"9" * 5000 + b"}", "QC-INPUT-NUMBER", "5000 位"),
    ("a 31-digit integer", b'{"BAH": "A", "ZYCS": ' + b"1" * 31 + b"}", "QC-INPUT-NUMBER", "最多 30 位"),
    ("NaN", b'{"BAH": "A", "ZYCS": NaN}', "QC-INPUT-NUMBER", "NaN"),
    ("1e400", b'{"BAH": "A", "ZFY": 1e400}', "QC-INPUT-NUMBER", "1e400"),
    ("a lone surrogate", b'{"BAH": "A", "ZYCS": 1, "XM": "\\ud800"}', "QC-INPUT-TEXT", "\\ud800"),
    ("a lone surrogate in a key", b'{"BAH": "A", "ZYCS": 1, "\\udfff": "x"}', "QC-INPUT-TEXT", "字段名"),
    ("GB18030 bytes", json.dumps({**GOOD, "XM": "张三"}, ensure_ascii=False).encode("gb18030"), "QC-INPUT-ENCODING",
     "UTF-8"),
    ("malformed", b'{"BAH": "A",', "QC-INPUT-JSON", "第 1 行"),
]


@pytest.mark.parametrize("label,raw,code,words", BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_check_record_cli_refuses_bad_json_with_a_code(tmp_path, label, raw, code, words):
    f = tmp_path / "rec.json"
    f.write_bytes(raw)
    r = runner.invoke(app, ["qc", "check-record", "--file", str(f)])
    out = r.stdout + r.stderr
    assert "Traceback" not in out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 1, out
    assert f"[{code}]" in r.stderr and words in r.stderr, r.stderr
    assert r.stdout == ""


def test_check_record_cli_reads_stdin_bytes():
    r = runner.invoke(app, ["qc", "check-record", "--file", "-"], input=json.dumps(GOOD, ensure_ascii=False))
    assert r.exit_code == 0 and json.loads(r.stdout)["BAH"] == "BI0001"


def test_check_records_api_refuses_wrong_types():
    """The Python API (used by the web app) validates too: the importer never sees a list where text belongs."""
    from yunying.qc.check import CheckError, check_records, load_json

    with pytest.raises(CheckError) as e:
        check_records([{**GOOD, "diagnoses": "J18.900"}])
    assert e.value.code == "QC-INPUT-TYPE" and "diagnoses" in e.value.en
    with pytest.raises(CheckError) as e:
        check_records([{**GOOD, "ZYCS": 10 ** 40}])
    assert e.value.code == "QC-INPUT-NUMBER"
    with pytest.raises(CheckError) as e:
        load_json(b'\xff{"a": 1}')
    assert e.value.code == "QC-INPUT-ENCODING" and "offset 0" in e.value.en
    assert load_json(b'\xef\xbb\xbf{"BAH": "A", "ZYCS": 123456789012345678}') == \
        {"BAH": "A", "ZYCS": 123456789012345678}                     # BOM and an 18-digit number are fine
