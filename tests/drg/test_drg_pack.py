"""Pack loading, validation messages (file, row, column), overrides, hash identity and diff."""

from __future__ import annotations

import pytest

from drgpacks import MINI, shared_pack, write_csv, write_pack
from yunying.drg.pack import PackError, diff_as_overrides, diff_packs, diff_report, load_pack


def _issues(path):
    with pytest.raises(PackError) as e:
        load_pack(path)
    return e.value.issues, str(e.value)


def test_mini_pack_loads_with_identity(tmp_path):
    p = load_pack(write_pack(tmp_path / "mini"))
    assert p.name == "mini"
    assert len(p.content_hash) == 64
    assert p.identity.startswith("mini@sha256:")
    assert p.options["retry_each_secondary_px_alone"] == "no"


def test_bad_enum_names_file_row_column(tmp_path):
    def edit(h, rows):
        rows[3][h.index("dx_condition")] = "principal"  # 4th data row = ZZ1
        return h, rows

    issues, msg = _issues(write_pack(tmp_path / "p", edit={"adrgs": edit}))
    assert [(i.file, i.row, i.column, i.value) for i in issues] == [("adrgs.csv", 4, "dx_condition", "principal")]
    assert "adrgs.csv" in msg and "第4行" in msg and "dx_condition" in msg


def test_dangling_adrg_reference(tmp_path):
    def edit(h, rows):
        rows.append(["GZ19", "多余", "GX9", "MDCG", 1, "NONE"])
        return h, rows

    issues, _ = _issues(write_pack(tmp_path / "p", edit={"drgs": edit}))
    assert ("drgs.csv", 14, "adrg", "GX9") in [(i.file, i.row, i.column, i.value) for i in issues]


def test_missing_file_and_bad_header(tmp_path):
    issues, _ = _issues(write_pack(tmp_path / "p", drop=("cc",)))
    assert [(i.file, i.row) for i in issues] == [("cc.csv", None)]

    def edit(h, rows):
        h[h.index("split_kind")] = "split"
        return h, rows

    issues, _ = _issues(write_pack(tmp_path / "q", edit={"drgs": edit}))
    cols = {(i.file, i.row, i.column) for i in issues}
    assert ("drgs.csv", 0, "split_kind") in cols  # required column missing
    assert ("drgs.csv", 0, "split") in cols  # unknown column refused


def test_bad_values(tmp_path):
    def edit(h, rows):
        rows[0][h.index("order_in_mdc")] = "x"
        rows[8][h.index("px_combination")] = "1+2"  # GD1 is not labelled_combination
        return h, rows

    issues, _ = _issues(write_pack(tmp_path / "p", edit={"adrgs": edit}))
    got = {(i.row, i.column) for i in issues}
    assert (1, "order_in_mdc") in got and (9, "px_combination") in got


def test_extra_tables_kept_and_hashed(tmp_path):
    d = write_pack(tmp_path / "p")
    a = load_pack(d)
    write_csv(d / "weights.csv", ["drg", "weight"], [["GZ15", "0.8"]])
    b = load_pack(d)
    assert b.extra["weights"] == [{"drg": "GZ15", "weight": "0.8"}]
    assert a.content_hash != b.content_hash


def _local(tmp_path, rows, name="local"):
    write_pack(tmp_path / "mini")
    local = tmp_path / name
    local.mkdir()
    (local / "pack.yaml").write_text("base: ../mini\n", encoding="utf-8")
    write_csv(local / "overrides.csv", ["op", "table", "key", "column", "value", "reason_zh"], rows)
    return local


def test_overrides_and_diff(tmp_path):
    local = _local(tmp_path, [
        ["add_code", "adrg_codes", "GZ1|dx", "code", "G09", "新增编码"],
        ["remove_code", "adrg_codes", "GC1|px", "code", "L3", "移除"],
        ["rename", "drgs", "GZ15", "name", "消化内科（本地）", "本地名称"],
        ["add_code", "cc", "", "code", "C09", ""],
        ["set", "cc", "C09", "exclusion_table", "7", ""],
        ["set_option", "", "retry_each_secondary_px_alone", "value", "yes", ""],
    ])
    base = load_pack(tmp_path / "mini")
    loc = load_pack(local)
    assert loc.name == "local" and loc.base == base.identity
    assert {"adrg": "GZ1", "list": "dx", "code": "G09", "label": ""} in loc.tables["adrg_codes"]
    assert not [r for r in loc.tables["adrg_codes"] if r["code"] == "L3"]
    assert loc.options["retry_each_secondary_px_alone"] == "yes"
    d = {t.table: t for t in diff_packs(base, loc)}
    assert d["adrg_codes"].added == [("GZ1", "dx", "G09")]
    assert d["adrg_codes"].removed == [("GC1", "px", "L3")]
    assert d["drgs"].changed == [(("GZ15",), "name", "消化内科", "消化内科（本地）")]
    assert d["cc"].added == [("C09",)]
    assert d["scheme_options"].added == [("retry_each_secondary_px_alone",)]
    report = diff_report(base, loc)
    assert "GZ1|dx: 新增 1" in report and "改名" in report
    # the diff written back as overrides rebuilds the same content (same hash)
    rebuilt = _local(tmp_path / "r", diff_as_overrides(base, loc) and
                     [[r[c] for c in ("op", "table", "key", "column", "value", "reason_zh")]
                      for r in diff_as_overrides(base, loc)])
    assert load_pack(rebuilt).content_hash == loc.content_hash


def test_override_errors_name_row(tmp_path):
    local = _local(tmp_path, [
        ["rename", "drgs", "GZ15", "name", "ok", ""],
        ["add_code", "adrg_codes", "GZ1|dx", "code", "G01", "已存在"],
        ["explode", "drgs", "GZ15", "", "", ""],
        ["set", "adrgs", "NOPE", "name", "x", ""],
    ])
    issues, msg = _issues(local)
    assert [(i.file, i.row, i.column) for i in issues] == [
        ("overrides.csv", 2, "value"), ("overrides.csv", 3, "op"), ("overrides.csv", 4, "key")]
    assert "overrides.csv" in msg


def test_override_result_validated(tmp_path):
    # a new DRG pointing to a missing ADRG is refused after the overrides are applied
    local = _local(tmp_path, [["add_group", "drgs", "QQ19", "", "name=x;adrg=QQ1;order_in_adrg=1;split_kind=NONE", ""]])
    issues, _ = _issues(local)
    assert any(i.file == "drgs.csv" and i.column == "adrg" and i.value == "QQ1" for i in issues)


def test_same_content_same_hash(tmp_path):
    a = load_pack(write_pack(tmp_path / "a"))
    b = load_pack(write_pack(tmp_path / "b"), name="other")
    assert a.content_hash == b.content_hash and a.identity != b.identity


def test_reference_packs_load_and_diff():
    chs = load_pack(shared_pack("chs-drg-1.1"))
    zj = load_pack(shared_pack("zhejiang-2022"))
    assert len(chs.tables["adrgs"]) == 376 and len(chs.tables["drgs"]) == 628
    assert len(zj.tables["drgs"]) == 1006
    d = {t.table: t for t in diff_packs(chs, zj)}
    # figures from the Zhejiang README's "override layer" table
    assert (len(d["valid_or_procedures"].added), len(d["valid_or_procedures"].removed)) == (9, 38)
    assert (len(d["cc"].added), len(d["cc"].removed)) == (2847, 11497)
    assert "diagnoses" not in d and "dx_code_map" not in d
    assert MINI  # helper import used


def test_zhejiang_is_chs_plus_overrides(tmp_path):
    """The whole Zhejiang scheme written as CHS-DRG 1.1 + an overrides.csv (produced by diff_as_overrides)
    loads to exactly the same content hash: the local scheme differs only by data."""
    import csv

    chs_dir = shared_pack("chs-drg-1.1")
    chs, zj = load_pack(chs_dir), load_pack(shared_pack("zhejiang-2022"))
    rows = diff_as_overrides(chs, zj)
    local = tmp_path / "zj-as-overrides"
    local.mkdir()
    (local / "pack.yaml").write_text(f"name: zj-local\nbase: {chs_dir}\n", encoding="utf-8")
    with (local / "overrides.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["op", "table", "key", "column", "value", "reason_zh"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    rebuilt = load_pack(local)
    assert rebuilt.content_hash == zj.content_hash
    assert not diff_packs(rebuilt, zj)


def test_label_required_for_labelled_combination(tmp_path):
    def edit(h, rows):
        rows[7][h.index("label")] = ""  # GC1,px,L1
        return h, rows

    issues, _ = _issues(write_pack(tmp_path / "p", edit={"adrg_codes": edit}))
    assert [(i.file, i.row, i.column) for i in issues] == [("adrg_codes.csv", 8, "label")]
