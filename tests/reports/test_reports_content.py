"""Report sentences on the literal warehouse of reports_fixtures.py (figures worked by hand there)."""

from __future__ import annotations

import pytest

from yunying.reports import build_annual, build_monthly
from yunying.warehouse.db import connect

from reports_fixtures import build_literal


def _para(report, key, needle):
    for p in report.section(key).paragraphs:
        if needle in p.text:
            return p
    raise AssertionError(f"no paragraph with {needle!r} in {key}:\n" + "\n".join(
        p.text for p in report.section(key).paragraphs))


def test_annual_sentences(con):
    r = build_annual(con, 2022)
    text = r.text()
    # workload: counts with units, relative change in %
    assert "2022年全年完成门急诊9人次、住院（出院）5人次、手术2台次。" in text
    assert "门急诊9人次，同比增长50.00%，其中门诊7人次、急诊2人次。" in text
    assert "出院5人次，同比增长25.00%。" in text
    assert "手术2台次，同比增长100.00%；其中三、四级手术1台次，占50.00%，较同期下降50.00个百分点。" in text
    # efficiency: 天 with absolute change; direction word 下降
    p = _para(r, "efficiency", "平均住院日")
    assert p.text.startswith("平均住院日7.20天，较同期下降0.55天")
    alos = [v for v in p.values if v.indicator_id == "OP-08"][0]
    assert (alos.value, alos.yoy_value, alos.period, alos.yoy_period) == (pytest.approx(7.2), pytest.approx(7.75),
                                                                            "2022", "2021")
    # quality: rate difference in 百分点
    assert "住院患者死亡率为20.00%，较同期增长20.00个百分点" in text
    # revenue: 药占比 23.00% vs 24.00% → 下降1.00个百分点; 门诊收入占比 30% vs 30% → 持平
    assert "药占比为23.00%，较同期下降1.00个百分点" in text
    assert "门诊收入占比为30.00%，与同期持平" in text
    # money: the change in 元 as hospitals write it, the rate beside — 10000 vs 8000 → +2000 元, 25 %
    assert "住院次均费用为10000.00元，较同期增长2000元（增幅25.00%）" in text


def test_annual_missing_sections_say_so(con):
    r = build_annual(con, 2022)
    text = r.text()
    assert "病房动态（床日）数据未导入，病床使用率无法计算" in text        # no ward_month rows
    assert "尚未进行 DRG 分组" in text                                 # no drg_result
    assert "病案首页质控尚未运行" in text                               # no qc_record
    assert "病床使用率为0" not in text and "CMI为0" not in text


def test_missing_outpatient_and_finance(tmp_path):
    p = tmp_path / "bare.duckdb"
    build_literal(p, outpatient=False, finance=False)
    c = connect(p)
    try:
        r = build_annual(c, 2022)
        m = build_monthly(c, "2022-06")
    finally:
        c.close()
    text = r.text()
    assert "门急诊数据未导入，门急诊人次无法统计" in text
    assert "财务数据未导入，药占比无法计算" in text or "财务（收入）数据未导入" in text
    assert "门急诊0人次" not in text and "门急诊人次0" not in text
    assert "完成住院（出院）5人次、手术2台次" in text                      # the rest still stated
    assert "门急诊数据未导入" in m.text()


def test_provenance_keeps_ids_periods_values(con):
    r = build_annual(con, 2022)
    prov = r.provenance
    assert prov, "every sentence with a figure has provenance"
    ids = {v.indicator_id for p in prov for v in p.values}
    assert {"OP-01", "OP-02", "OP-08", "OP-03", "OP-13"} <= ids
    for p in prov:
        for v in p.values:
            assert v.period == "2022" and v.yoy_period == "2021"
    d = [p for p in prov if p.sentence.startswith("出院5人次")][0]
    assert [(v.indicator_id, v.value, v.yoy_value) for v in d.values] == [("OP-02", 5.0, 4.0)]


def test_cmi_without_weights_says_so(tmp_path):
    p = tmp_path / "drg.duckdb"
    build_literal(p)
    c = connect(p)
    try:
        # grouped, but no weights imported: CMI must not print as 0
        c.execute("""insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg,
                     drg) select hospital_id, mrn, admission_no, 'demo', 'x', 'SUCCESS', 'MDCG',
                     case when discharge_dept_code = 'A' then 'ES2' else 'GD2' end,
                     case when discharge_dept_code = 'A' then 'ES21' else 'GD23' end from discharge""")
        r = build_annual(c, 2022)
    finally:
        c.close()
    text = r.text()
    assert "全年入组病例覆盖2个DRG组" in text                              # ES21, GD23
    assert "DRG 权重尚未导入，CMI 无法计算" in text


def test_monthly_hospital_edition(con):
    m = build_monthly(con, "2022-06")
    text = m.text()
    assert "6月全院出院5人次，同比增长25.00%" in text
    assert "平均住院日7.20天，较同期下降0.55天" in text
    assert "药占比23.00%，较同期下降1.00个百分点" in text
    assert [s.key for s in m.sections] == ["indicators", "departments", "qc", "drg", "issues"]
    v = [v for p in m.provenance for v in p.values if v.indicator_id == "OP-02"][0]
    assert (v.period, v.yoy_period, v.mom_period) == ("2022-06", "2021-06", "2022-05")


def test_monthly_department_edition_only_that_department(con):
    m = build_monthly(con, "2022-06", dept="B")
    text = m.text()
    assert m.dept_name == "外科" and "外科" in m.title
    assert "6月外科出院2人次，同比持平" in text                           # B: 2 vs 2
    assert "平均住院日6.00天，较同期下降1.00天" in text                  # (6+6)/2 vs (6+8)/2
    assert "内科" not in text
    assert "departments" not in [s.key for s in m.sections]
    for p in m.provenance:
        for v in p.values:
            assert v.dept_code == "B", (p.sentence, v)


def test_monthly_qc_defects(tmp_path):
    p = tmp_path / "qc.duckdb"
    build_literal(p)
    c = connect(p)
    try:
        # 5 records of 2022-06 checked: grades 甲 甲 甲 乙 丙 → 甲级率 3/5 = 60.00%; C015 on 2 records (40.00%)
        for i, g in enumerate(["甲", "甲", "甲", "乙", "丙"]):
            c.execute("""insert into qc_record (run_id, hospital_id, mrn, admission_no, discharge_month,
                         discharge_dept_code, score, grade, passed, excellent, complete, n_error, n_warning, n_info,
                         pdx_defect, ppx_defect) values ('r1', 'H1', ?, 1, date '2022-06-01', ?, ?, ?, ?, false,
                         true, 0, 0, 0, false, false)""", [f"22{i}", "A" if i < 3 else "B", 95 - 10 * i, g, g != "丙"])
        for mrn in ("220", "223"):
            c.execute("""insert into qc_finding (run_id, hospital_id, mrn, admission_no, rule_id, severity, field,
                         message_zh) values ('r1', 'H1', ?, 1, 'C015', 'E', 'ext_cause_code', '【损伤中毒外因】未填写')""",
                      [mrn])
        m = build_monthly(c, "2022-06")
        mb = build_monthly(c, "2022-06", dept="B")
    finally:
        c.close()
    text = m.text()
    assert "病案首页甲级率为60.00%" in text
    assert "C015【ext_cause_code】：涉及病案2份（占40.00%）" in text
    issues = [p.text for p in m.section("issues").paragraphs]
    assert "病案首页缺陷“C015【ext_cause_code】”涉及病案2份（依据 QC:C015）。" in issues
    # indicators that worsened against the same month last year are issues too (死亡率 0.00% → 20.00%)
    assert "住院患者死亡率20.00%，较同期增长20.00个百分点（依据 OP-28）。" in issues
    # department B: records 223, 224 (grades 乙, 丙) → 甲级率 0.00%; C015 on 1 of 2 records (50.00%)
    tb = mb.text()
    assert "病案首页甲级率为0.00%" in tb
    assert "涉及病案1份（占50.00%）" in tb


def test_monthly_department_ranking(con, tmp_path):
    from yunying.reports.templating import shipped_dir

    tpl = tmp_path / "tpl"
    tpl.mkdir()
    spec = (shipped_dir() / "monthly.yaml").read_text(encoding="utf-8").replace("min_discharges: 10",
                                                                                "min_discharges: 1")
    (tpl / "monthly.yaml").write_text(spec, encoding="utf-8")
    m = build_monthly(con, "2022-06", templates=tpl)
    # A: 平均住院日 8.00 vs 8.50 改善, 死亡率 1/3 = 33.33% vs 0 退步 → score 0
    # B: 平均住院日 6.00 vs 7.00 改善, 三四级占比 50.00% vs 100.00% 退步 → score 0
    # nobody improved on balance; both fell short on something; A (3 discharges) listed before B (2)
    paras = [p.text for p in m.section("departments").paragraphs]
    assert paras == ["存在不足的科室：",
                     "内科：住院患者死亡率33.33%，较同期增长33.33个百分点。",
                     "外科：三、四级手术占比50.00%，较同期下降50.00个百分点。"]
    issues = "\n".join(p.text for p in m.section("issues").paragraphs)
    assert "内科住院患者死亡率较同期增长33.33个百分点" in issues


def test_summary_line_when_data_supports_it(tmp_path):
    p = tmp_path / "sum.duckdb"
    build_literal(p)
    c = connect(p)
    try:
        c.execute("""insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg,
                     drg) select hospital_id, mrn, admission_no, 'demo', 'x', 'SUCCESS', 'MDCG',
                     case when discharge_dept_code = 'A' then 'ES2' else 'GD2' end,
                     case when discharge_dept_code = 'A' then 'ES21' else 'GD23' end from discharge""")
        c.execute("insert into econ_weight_set (scheme, year, source, content_hash) values ('demo', 2021, 'test', 'h')")
        c.execute("insert into econ_weight (scheme, year, drg, rw) values ('demo', 2021, 'ES21', 1.0), "
                  "('demo', 2021, 'GD23', 2.0)")
        r = build_annual(c, 2022)
    finally:
        c.close()
    # CMI 2022 = (3×1.0 + 2×2.0)/5 = 1.4000; 2021 = (2×1.0 + 2×2.0)/4 = 1.5000 → 下降0.1000
    assert "病例组合指数（CMI）为1.4000，较同期下降0.1000。" in r.text()
    # 双升: 医疗服务收入占比 30.00% vs 30.00% 持平, CMI 下降 → not achieved
    # 四降: 药占比 23 vs 24 下降 ✓, 耗占比 15 vs 15 持平, 平均住院日 7.20 vs 7.75 下降 ✓, 住院次均费用 10000 vs 8000 增长
    line = r.section("summary").paragraphs[0].text
    assert line.startswith("对照“双升四降”目标，6项指标中2项向预期方向变化（药占比同比下降1.00个百分点、平均住院日同比下降0.55天），"
                           "未达预期：")
    assert "CMI同比下降0.1000" in line and "住院次均费用同比增长2000元（增幅25.00%）" in line
    ids = {v.indicator_id for v in r.section("summary").paragraphs[0].values}
    assert {"OP-03", "OP-08", "DRG-03", "OP-06", "OP-04", "OP-23"} <= ids


def test_monthly_defect_examples_mask_identifiers(tmp_path):
    """The 示例 column of 缺陷项目排行 quotes a finding's message: identifiers in it are masked (a report is a
    document that travels)."""
    p = tmp_path / "qcpii.duckdb"
    build_literal(p)
    c = connect(p)
    raw = "11010519491231002X"
    try:
        c.execute("""insert into qc_record (run_id, hospital_id, mrn, admission_no, discharge_month,
                     discharge_dept_code, score, grade, passed, excellent, complete, n_error, n_warning, n_info,
                     pdx_defect, ppx_defect) values ('r1', 'H1', '230', 1, date '2022-06-01', 'A', 99, '甲', true,
                     false, true, 0, 1, 0, false, false)""")
        c.execute("""insert into qc_finding (run_id, hospital_id, mrn, admission_no, rule_id, severity, field, value,
                     message_zh) values ('r1', 'H1', '230', 1, 'V009', 'W', 'id_number', ?, ?)""",
                  [raw, f"【身份证号】“{raw}”不是有效的18位(校验位按GB 11643)或15位号码"])
        m = build_monthly(c, "2022-06")
    finally:
        c.close()
    rows = [r for s in m.sections for t in s.tables if t.title == "缺陷项目排行" for r in t.rows]
    assert rows and raw not in repr(rows) + m.text()
    assert [r[-1] for r in rows if r[1] == "V009"] == ["【身份证号】“110***********002X”不是有效的18位(校验位按GB 11643)或15位号码"]


def test_low_risk_reference_source_and_size_are_stated(tmp_path):
    """Issue 14: the DRG section states what 低风险组死亡率 was graded against, its size, and warns when thin."""
    p = tmp_path / "lr.duckdb"
    build_literal(p)
    c = connect(p)
    try:
        c.execute("""insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg,
                     drg) select hospital_id, mrn, admission_no, 'demo', 'x', 'SUCCESS', 'MDCG',
                     case when discharge_dept_code = 'A' then 'ES2' else 'GD2' end,
                     case when discharge_dept_code = 'A' then 'ES21' else 'GD23' end from discharge""")
        # a loaded reference for 2022: ES21 low risk (1), GD23 level 3 → 2 DRGs graded, 1 low risk (< 10: thin)
        c.execute("insert into econ_benchmark (scheme, year, drg, region, risk_level, source) values "
                  "('demo', 2022, 'ES21', '省', 1, 'ref.csv'), ('demo', 2022, 'GD23', '省', 3, 'ref.csv')")
        r = build_annual(c, 2022)
    finally:
        c.close()
    drg = r.section("drg")
    note = [p for p in drg.paragraphs if p.text.startswith("风险分级参照")]
    assert [p.text for p in note] == ["风险分级参照：imported:省 2022；参照中低风险组 1 个；参照偏少（低风险组少于 10 个），"
                                      "结果不稳定；请导入地区或国家参照（yunying drg benchmark import）。"]
    assert note[0].style == "note" and note[0].values[0].warn
    row = next(r for r in drg.tables[0].rows if r[0] == "低风险组病例死亡率")
    assert row[-1].startswith("风险分级参照：imported:省 2022；参照中低风险组 1 个")


def test_margin_reads_the_payment_runs_as_drg10_does(tmp_path):
    """Issue 14: the monthly 盈亏 and DRG-10 read the same runs (v_drg_pay): per case the latest run covering its
    scheme and year — a newer run of 2021 only does not hide June 2022's run."""
    p = tmp_path / "pay.duckdb"
    build_literal(p)
    c = connect(p)
    try:
        c.execute("""insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg,
                     drg) select hospital_id, mrn, admission_no, 'demo', 'x', 'SUCCESS', 'MDCG', 'ES2', 'ES21'
                     from discharge""")
        for run, at, year in (("pay-22", "2023-01-01", 2022), ("pay-21", "2023-02-01", 2021)):
            c.execute("insert into econ_run (run_id, kind, scheme, year, params_json, params_hash, created_at) "
                      "values (?, 'drg_rate', 'demo', ?, '{}', 'h', ?)", [run, year, at])
            # every discharge of that year: paid fee + 2000 except the first, paid fee − 30000
            c.execute("""insert into econ_case_payment (run_id, hospital_id, mrn, admission_no, group_code,
                         case_class, dept_code, discharge_month, fee_total, expected_payment, margin_charges)
                         select ?, hospital_id, mrn, admission_no, 'ES21', 'normal', discharge_dept_code,
                                cast(date_trunc('month', discharge_time) as date), fee_total,
                                fee_total + case when row_number() over (order by mrn) = 1 then -30000 else 2000 end,
                                case when row_number() over (order by mrn) = 1 then -30000 else 2000 end
                         from discharge where year(discharge_time) = ?""", [run, year])
        n22 = c.execute("select count(*) from discharge where year(discharge_time) = 2022").fetchall()[0][0]
        m = build_monthly(c, "2022-06")
    finally:
        c.close()
    # June 2022: 5 discharges → −30000 + 4 × 2000 = −22000 元 = −2.20 万元, 1 loss case
    assert n22 == 5
    assert "按 DRG 支付测算，本月亏损2.20万元，亏损病例1例。" in m.text()       # the word gives the sign
    # sources name the runs read: pay-22 for June 2022, pay-21 for the same month of 2021 (同期)
    assert "运行 pay-21、pay-22" in m.sources["drg_pay"]
