"""docs/drg-economics.md stays in step with the code: views/macros, parameter keys, the example parameter file."""

from __future__ import annotations

import re
from pathlib import Path

from yunying.economics.params import DEFAULTS, load_params
from yunying.economics.views import views_sql

DOC = Path(__file__).resolve().parents[2] / "docs" / "drg-economics.md"


def test_every_view_and_macro_documented():
    text = DOC.read_text(encoding="utf-8")
    names = re.findall(r"create or replace (?:view|macro) (\w+)", views_sql())
    assert names and all(n in text for n in names), [n for n in names if n not in text]


def test_parameter_keys_documented_and_example_loads(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    assert all(k in text for k in DEFAULTS), [k for k in DEFAULTS if k not in text]
    block = re.search(r"```yaml\n(name: city-2023-rate.*?)```", text, re.S).group(1)
    path = tmp_path / "p.yaml"
    path.write_text(block, encoding="utf-8")
    p = load_params(path)
    assert p["rate"] == 10000 and p["variants"][0]["high"]["cut"] == 2.0
