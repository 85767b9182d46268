"""docs/cost.md §2–3 stay true: every COST-* code the engine and CLI raise is documented, and the documented plan
example is a valid plan equal to the bundled default's rules."""

from __future__ import annotations

import re

from tests.conftest import REPO
from yunying.cost.plan import load_plan

DOC = REPO / "docs" / "cost.md"


def test_every_error_code_is_documented():
    text = DOC.read_text(encoding="utf-8")
    raised = set()
    for f in [*(REPO / "yunying" / "cost").glob("*.py"), REPO / "yunying" / "cli" / "cost.py"]:
        raised |= set(re.findall(r'"(COST-[A-Z0-9-]+)"', f.read_text(encoding="utf-8")))
    assert raised and sorted(c for c in raised if c not in text) == []


def test_documented_plan_example_is_valid_and_matches_the_default(tmp_path):
    block = DOC.read_text(encoding="utf-8").split("### Plan format", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    f = tmp_path / "doc.yaml"
    f.write_text(block, encoding="utf-8")
    doc, default = load_plan(f), load_plan()
    strip = lambda p: [s.model_dump(exclude={"zh", "en"}) for s in p.steps]   # noqa: E731
    assert strip(doc) == strip(default)
