"""Configuration of the cost-case engine: the charge map covers the 首页 fee block; bad files are refused clearly."""

from __future__ import annotations

import pytest

from yunying.cost.case_config import load_charge_map, load_methods
from yunying.cost.case_errors import CostCaseError
from yunying.model.catalogue import load_model


def test_charge_map_covers_every_fee_column_once_per_cost_kind():
    cmap = load_charge_map()
    cols = [c for c in load_model().tables["discharge"].columns
            if c.name.startswith("fee_") and c.fee_class is not None and not c.subset_of]
    assert cols, "no fee columns found in tables.yaml"
    missing = [c.name for c in cols if c.name not in cmap["kind_of_column"]]
    assert missing == []
    # drug-class (fee_class 6, 7) columns are drugs, the 9th class (一次性医用材料) materials
    for c in cols:
        kind = cmap["kind_of_column"][c.name]
        if c.fee_class in (6, 7):
            assert kind == "drug", c.name
        if c.fee_class == 9:
            assert kind == "material", c.name


@pytest.mark.parametrize("text,fragment", [
    ("items: {default: magic}\n", "items.default = magic"),
    ("items: {fallback: abc}\n", "items.fallback = abc"),
    ("itemz: {}\n", "未知配置节 itemz"),
    ("items: {colour: red}\n", "未知参数 colour"),
    ("ratios: {drug: -1}\n", "ratios.drug"),
    ("cases: {method_preference: [magic]}\n", "magic"),
])
def test_bad_methods_file(tmp_path, text, fragment):
    p = tmp_path / "m.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(CostCaseError) as e:
        load_methods(p)
    assert e.value.code == "COST-CASE-CONFIG" and fragment in e.value.zh and str(p) in e.value.zh


@pytest.mark.parametrize("text,fragment", [
    ("categories: {drug: {cost_kind: drug, fee_columns: [fee_antibiotic]}}\nresidual_category: drug\n", "其中"),
    ("categories: {drug: {cost_kind: drug, fee_columns: [fee_nope]}}\nresidual_category: drug\n", "fee_nope"),
    ("categories: {drug: {cost_kind: pill, fee_columns: []}}\nresidual_category: drug\n", "pill"),
    ("categories: {a: {cost_kind: drug, fee_columns: [fee_lab]}, b: {cost_kind: service, fee_columns: [fee_lab]}}\n"
     "residual_category: a\n", "fee_lab"),
    ("categories: {a: {cost_kind: drug, fee_columns: [fee_lab]}}\nresidual_category: z\n", "residual_category"),
])
def test_bad_charge_map(tmp_path, text, fragment):
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(CostCaseError) as e:
        load_charge_map(p)
    assert fragment in e.value.zh
