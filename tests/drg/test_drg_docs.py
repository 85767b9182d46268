"""The overrides example of docs/drg-scheme-pack.md applies cleanly to the CHS-DRG 1.1 pack and does what the
page says (documented examples must not drift from behaviour)."""

from __future__ import annotations

import re
from pathlib import Path

from drgpacks import case, cases_table, shared_pack
from yunying.drg.grouper import Grouper
from yunying.drg.pack import diff_packs, load_pack

DOC = Path(__file__).resolve().parents[2] / "docs" / "drg-scheme-pack.md"


def test_overrides_example_applies(tmp_path):
    base = shared_pack("chs-drg-1.1")
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```csv\n(op,table,key,column,value,reason_zh\n.*?)```", text, re.S).group(1)
    local = tmp_path / "example-city-2023"
    local.mkdir()
    (local / "pack.yaml").write_text(f"name: example-city-2023\nbase: {base}\n", encoding="utf-8")
    (local / "overrides.csv").write_text(block, encoding="utf-8")
    chs, city = load_pack(base), load_pack(local)
    assert city.name == "example-city-2023" and city.base == chs.identity
    d = {t.table: t for t in diff_packs(chs, city)}
    assert d["adrg_codes"].added == [("GD2", "px", "47.0999x001")]
    assert d["adrg_codes"].removed == [("GD1", "dx", "C18.100")]
    assert [k for k in d["drgs"].added] == [("GD20",)]
    assert city.options["retry_each_secondary_px_alone"] == "yes"
    # the new child DRG takes patients under 17 in GD2 (AGE_LT comes first in the ADRG)
    res = Grouper(city).group_table(cases_table([case("c1", "K35.800x001", "47.0999x001", age="12"),
                                                 case("c2", "K35.800x001", "47.0999x001", age="40")]))
    drgs = res["drg"].to_pylist()
    assert drgs[0] == "GD20" and drgs[1].startswith("GD2")
