"""Hospital override files (switch off, change severity/points, add a rule) and catalogue validation errors that
name the file, line and entry id."""

from __future__ import annotations

import textwrap

import pytest

from yunying.qc.loader import CatalogueError, load_catalogue

from .helpers import findings, record, run_records


def write(tmp_path, text: str, name: str = "qc-overrides.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_override_disable_points_severity_and_custom_rule(tmp_path):
    ov = write(tmp_path, """
        - {id: V009, enabled: false, reason_zh: "本院身份证号由HIS校验，首页不重复检查"}
        - {id: L002, points: 5, severity: W}
        - id: H-001
          kind: expr
          severity: E
          field: ext_cause_name
          when: "ext_cause_name is not null and length(ext_cause_name) < 2"
          message_zh: "【损伤中毒外部原因】“{value}”过短"
          message_en: "external cause name {value} too short"
          score: [损伤中毒外部原因]
        """)
    cat = load_catalogue(ov, use_env=False)
    rules = cat.by_key()
    assert rules["V009"].enabled is False and rules["H-001"].custom
    bad_id = record("OV0001")["SFZH"][:17] + ("0" if record("OV0001")["SFZH"][17] != "0" else "1")
    r1 = record("OV0001", SFZH=bad_id, SJZYTS="6")                # V009 would fire; L002 fires (6 ≠ 5)
    r2 = record("OV0002", WBYY="跌", H23="W19.x99")                # custom rule fires
    con, s = run_records([r1, r2], catalogue=cat)
    f1 = {f[0] for f in findings(con, "OV0001")}
    assert "V009" not in f1 and "L002" in f1
    assert con.execute("select severity, cast(points as double) from qc_finding where rule_id = 'L002'").fetchall() \
        == [("W", 5.0)]
    # 100 − 5 (实际住院天数 re-pointed to 5) = 95
    assert con.execute("select cast(score as double) from qc_record where mrn = 'OV0001'").fetchall() == [(95.0,)]
    assert ("H-001", "ext_cause_name", None, "跌") in findings(con, "OV0002")
    st = {x.rule_key: x.status for x in s.statuses}
    assert st["V009"] == "disabled" and st["H-001"] == "failed"


def test_override_from_environment(tmp_path, monkeypatch):
    ov = write(tmp_path, "- {id: C019, severity: E}\n")
    monkeypatch.setenv("YUNYING_QC_OVERRIDES", str(ov))
    assert load_catalogue().by_key()["C019"].severity == "E"
    assert load_catalogue(use_env=False).by_key()["C019"].severity == "W"


def test_scoring_bands_in_override(tmp_path):
    ov = write(tmp_path, """
        scoring:
          grades: [{grade: 优, min: 97}, {grade: 良, min: 90}, {grade: 中, min: 75}, {grade: 差, min: 0}]
          pass_grade: 良
        rules: []
        """)
    cat = load_catalogue(ov, use_env=False)
    assert cat.scoring.grade(96) == "良" and cat.scoring.pass_grade == "良"


@pytest.mark.parametrize("entry, expect", [
    ("- {id: H-002, kind: expr, severity: E, field: los_days, when: \"no_such_column > 1\", message_zh: x, message_en: x}",
     "unknown column 'no_such_column'"),
    ("- {id: H-003, kind: nosuchkind, severity: E, field: los_days, message_zh: x, message_en: x}", "unknown kind"),
    ("- {id: H-004, kind: expr, severity: X, field: los_days, when: \"los_days > 1\", message_zh: x, message_en: x}",
     "severity must be E, W or I"),
    ("- {id: H-005, kind: expr, severity: E, field: los_days, when: \"los_days >\", message_zh: x, message_en: x}",
     "does not parse"),
    ("- {id: H-006, kind: expr, severity: E, field: los_days, when: \"los_days in (select 1)\", message_zh: x, message_en: x}",
     "only an expression is allowed"),
    ("- {id: H-007, kind: expr, severity: E, field: los_days, when: \"in_list(pdx_code, 'nolist')\", message_zh: x, message_en: x}",
     "unknown code list"),
    ("- {id: NOPE, enabled: false}", "override names unknown rule NOPE"),
    ("- {id: L002, kind: expr, severity: E, field: los_days, when: \"los_days > 1\", message_zh: x, message_en: x}",
     "a rule with this id exists"),
    ("- {id: H-008, kind: expr, severity: E, field: los_days, when: \"los_days > 1\", message_zh: \"{nocol}\", message_en: x}",
     "unknown message placeholder"),
])
def test_broken_entries_are_refused_with_file_line_and_id(tmp_path, entry, expect):
    ov = write(tmp_path, "# hospital rules\n" + entry + "\n", name="broken.yaml")
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(ov, use_env=False)
    msg = str(exc.value)
    assert expect in msg
    assert "broken.yaml:2" in msg
    rid = entry.split("id: ")[1].split(",")[0]
    assert rid in msg


def test_broken_shipped_style_catalogue_names_the_file(tmp_path):
    extra = write(tmp_path, """
        rules:
        - id: Z999
          kind: expr
          severity: E
          field: los_days
          when: "los_dayz > 1"
          message_zh: x
          message_en: x
        """, name="local-extra.yaml")
    with pytest.raises(CatalogueError, match=r"local-extra.yaml:3 rule Z999.*unknown column 'los_dayz'"):
        load_catalogue(use_env=False, extra_files=[extra])
