"""Identifiers quoted by QC messages (V009 身份证号, V012 姓名 …) are masked in aggregate views and reports."""

from __future__ import annotations

from yunying.model.privacy import mask_finding, mask_text, pii_values
from yunying.qc.report import EXAMPLE_SQL, masked_examples

from .helpers import record, run_records


def test_mask_text_and_finding():
    rec = {"patient_name": "王小明", "id_number": "430102198005100113", "mrn": "B1", "sex": "1"}
    vals = pii_values(rec)
    assert vals == {"王小明": "name", "430102198005100113": "id"}              # mrn and sex are not identifiers
    assert mask_text("【姓名】“王小明”含数字", vals) == "【姓名】“王**”含数字"
    f = {"rule_id": "V009", "field": "id_number", "value": "43010219800510011X",
         "message_zh": "【身份证号】“43010219800510011X”不是有效的18位号码", "message_en": "id 43010219800510011X",
         "expected": None, "points": 1}
    m = mask_finding(f, rec)
    # the finding's own value is masked even where it differs from the stored record (the record was corrected)
    assert m["value"] == "430***********011X" and "43010219800510011X" not in m["message_zh"]
    assert m["message_zh"] == "【身份证号】“430***********011X”不是有效的18位号码" and m["points"] == 1
    # a finding on a non-identifier field keeps its value, but an identifier quoted in its message is masked
    g = mask_finding({"field": "los_days", "value": "5", "message_zh": "王小明 住院5天"}, rec)
    assert g == {"field": "los_days", "value": "5", "message_zh": "王** 住院5天"}


def test_masked_examples_from_a_qc_run():
    bad_id = "430102198005100119"                       # check digit wrong (V009)
    con, _ = run_records([record("P1", SFZH=bad_id, XM="王小明1"), record("P2")])
    rows = con.execute(f"select rule_id, {EXAMPLE_SQL} from qc_finding f where rule_id in ('V009', 'V012') "
                       "group by 1 order by 1").fetchall()
    assert [r[0] for r in rows] == ["V009", "V012"]
    assert bad_id in rows[0][1]["message"] and "王小明1" in rows[1][1]["message"]      # stored as found
    v009, v012 = masked_examples(con, [r[1] for r in rows])
    assert bad_id not in v009 and "430***********0119" in v009
    assert "王小明1" not in v012 and "“王***”" in v012
    assert masked_examples(con, [None]) == [None]
