"""Allocation plan loader (issue 17 item 2): the bundled plan is valid; each bad plan is refused with its stable
COST-PLAN-* code, the file and the step named, Chinese first then English."""

from __future__ import annotations

import pytest

from yunying.cost.errors import CostError
from yunying.cost.plan import load_plan

HEAD = "plan_id: t\nsteps:\n"
S1 = '  - {step: 1, source: {cost_class: admin}, receivers: [support, medtech, clinical], basis: {"*": staff}}\n'
S2 = '  - {step: 2, source: {cost_class: support}, receivers: [medtech, clinical], basis: {"*": revenue}}\n'


def test_default_plan_is_the_three_level_step_down():
    plan = load_plan()
    assert [(s.step, s.source.cost_class, s.receivers) for s in plan.steps] == [
        (1, "admin", ["support", "medtech", "clinical"]), (2, "support", ["medtech", "clinical"]),
        (3, "medtech", ["clinical"])]
    assert plan.final_classes == ["clinical"]
    assert [o.basis["*"] for o in plan.steps[1].overrides] == ["packs", "op_visits", "discharges"]
    assert plan.steps[2].by_provider and plan.steps[2].basis == {"*": "ordered_revenue"}
    assert len(plan.sha256) == 64


@pytest.mark.parametrize("body,code,step", [
    # admin allocates onto admin
    ('  - {step: 1, source: {cost_class: admin}, receivers: [admin, clinical], basis: {"*": staff}}\n',
     "COST-PLAN-SELF", "第 1 步"),
    # admin → support in step 1, support → admin in step 2: a circle
    (S1 + '  - {step: 2, source: {cost_class: support}, receivers: [admin, clinical], basis: {"*": staff}}\n',
     "COST-PLAN-CYCLE", "admin → support → admin"),
    # support emptied in step 1, then admin allocates onto it in step 2 (no circle, wrong order)
    ('  - {step: 1, source: {cost_class: support}, receivers: [clinical], basis: {"*": staff}}\n'
     '  - {step: 2, source: {cost_class: admin}, receivers: [support, clinical], basis: {"*": staff}}\n',
     "COST-PLAN-ORDER", "第 2 步"),
    ('  - {step: 1, source: {cost_class: admin}, receivers: [clinical], basis: {"*": headcount}}\n',
     "COST-PLAN-BASIS", "headcount"),
    ('  - {step: 1, source: {cost_class: admin}, receivers: [wards], basis: {"*": staff}}\n',
     "COST-PLAN-CLASS", "wards"),
    ('  - {step: 1, source: {cost_class: admin}, receivers: [clinical], basis: {"*": staff, salaries: area}}\n',
     "COST-PLAN-ITEM", "salaries"),
    ('  - {step: 1, source: {cost_class: admin}, receivers: [clinical], basis: {personnel: staff}}\n',
     "COST-PLAN-BASIS", '缺少 "*"'),
    (S2 + S1, "COST-PLAN-STEP", "递增"),
    ('  - {step: 1, source: {cost_class: admin}, receivers: [clinical], basis: {"*": staff}, colour: red}\n',
     "COST-PLAN-YAML", "colour"),
    ('  - {step: 0, source: {cost_class: admin}, receivers: [clinical], basis: {"*": area}}\n',
     "COST-PLAN-STEP", "unit_codes"),
    (S1 + '  - {step: 2, source: {cost_class: support}, receivers: [clinical], basis: {"*": revenue},\n'
          '     overrides: [{when: {provider_basis: boxes}, basis: {"*": packs}}]}\n', "COST-PLAN-BASIS", "boxes"),
])
def test_bad_plans_are_refused_with_code_file_and_step(tmp_path, body, code, step):
    f = tmp_path / "bad.yaml"
    f.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(CostError) as e:
        load_plan(f)
    assert e.value.code == code
    assert str(f) in e.value.zh and str(f) in e.value.en
    assert step in e.value.zh or step in e.value.en


def test_unreadable_and_non_yaml_plan(tmp_path):
    with pytest.raises(CostError) as e:
        load_plan(tmp_path / "missing.yaml")
    assert e.value.code == "COST-PLAN-FILE"
    f = tmp_path / "x.yaml"
    f.write_text("steps: [\n", encoding="utf-8")
    with pytest.raises(CostError) as e:
        load_plan(f)
    assert e.value.code == "COST-PLAN-YAML"
