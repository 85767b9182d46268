"""The fixed semantic views of the indicator marts (defined in migrations 0030_indicators.sql, 0050_indicator_drg.sql
and 0080_qc_indicators.sql) and their metadata.

Catalogue entries name a view by its short name (`over: discharge` → `v_discharge`) and use only its columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True)
class View:
    name: str                      # short name used in catalogues
    sql_name: str                  # warehouse view
    label_zh: str
    keys: tuple[str, ...]          # columns identifying one row (drill-down)
    has_doctor: bool = False
    # extra WHERE per level (finance keeps hospital totals and department rows apart)
    level_filter: dict = field(default_factory=dict)


VIEWS: dict[str, View] = {v.name: v for v in [
    View("discharge", "v_discharge", "出院患者（病案首页）", ("hospital_id", "mrn", "admission_no"), has_doctor=True),
    View("procedure", "v_procedure", "首页手术及操作", ("hospital_id", "mrn", "admission_no", "seq"), has_doctor=True),
    View("visit", "v_visit", "门急诊就诊", ("hospital_id", "visit_id"), has_doctor=True),
    View("finance", "v_finance", "月度收支", ("hospital_id", "period_month", "dept_code", "scope"),
         level_filter={"hospital": "scope = 'hospital'", "region": "scope = 'hospital'",
                       "department": "scope = 'dept'", "doctor": "1 = 0"}),
    View("staff", "v_staff", "人员数", ("hospital_id", "period_month", "dept_code", "staff_category", "title_level")),
    View("ward", "v_ward", "病房动态（床日）", ("hospital_id", "period_month", "dept_code")),
    View("drg", "v_drg", "DRG分组结果", ("hospital_id", "mrn", "admission_no", "scheme"), has_doctor=True),
    # migration 0050: per-case weights / benchmarks / risk levels from the DRG economics view drg_metric_case
    View("drg_case", "v_drg_case", "DRG病例权重与标杆（经济测算）", ("hospital_id", "mrn", "admission_no", "scheme"),
         has_doctor=True),
    # migration 0080: qc_record of the latest record QC run (QC-GRADE-A, QC-SCORE)
    View("qc", "v_qc", "病案首页质控结果", ("hospital_id", "mrn", "admission_no"), has_doctor=True),
    # migration 0076: per-case expected payment of the latest stored DRG payment run (yunying drg pay)
    View("drg_pay", "v_drg_pay", "DRG支付测算（病例）", ("hospital_id", "mrn", "admission_no", "scheme"),
         has_doctor=True),
    # migration 0120: case cost of the latest cost run (each method) beside the latest DRG payment (issue 17)
    View("cost_margin", "v_cost_case_margin", "病例成本与DRG支付（成本核算）",
         ("hospital_id", "mrn", "admission_no", "scheme", "method"), has_doctor=True),
]}

# views read through the DRG scheme filter (--scheme, else the latest grouped scheme with weights)
SCHEME_VIEWS = ("drg", "drg_case", "drg_pay", "cost_margin")

# Chinese labels for columns named in `needs` (used in "not computable: missing …" reasons)
COLUMN_LABELS_ZH: dict[str, str] = {
    "discharge.period_month": "病案首页（出院记录）",
    "discharge.los_days": "实际住院天数",
    "discharge.fee_total": "住院总费用",
    "discharge.drug_fee": "首页药品费用",
    "discharge.antibiotic_fee": "抗菌药物费用（KJYWF）",
    "discharge.herbal_fee": "中草药费",
    "discharge.tcm_service_fee": "中医类费用（首页费用第5类）",
    "discharge.tcm_nondrug": "中医治疗费/中医诊疗技术标志",
    "discharge.treatment_category": "治疗类别（中医首页 ZLLB）",
    "discharge.day_surgery": "日间手术标志",
    "discharge.pathway_entered": "进入临床路径标志",
    "discharge.pathway_variance": "临床路径变异标志",
    "discharge.pathway_exited": "退出临床路径标志",
    "discharge.unplanned_reoperation": "非计划重返手术室标志",
    "discharge.rescue_count": "抢救次数",
    "discharge.disposition": "离院方式",
    "discharge.readmit_plan_31d": "出院31天内再住院计划",
    "procedure.period_month": "首页手术及操作",
    "procedure.grade": "手术级别（国家目录或首页SSJB）",
    "procedure.is_minimally_invasive": "微创手术目录（手术操作属性字典 ind_px_dict）",
    "procedure.incision_class": "切口等级",
    "procedure.healing": "切口愈合类别",
    "visit.period_month": "门急诊就诊记录",
    "visit.appointment": "预约标志",
    "visit.wait_minutes": "签到与进入诊室时间",
    "visit.has_antibacterial": "门诊抗菌药物使用标志",
    "visit.has_essential_drug": "基本药物使用标志",
    "visit.has_tcm_rx": "中药处方标志",
    "visit.has_herbal": "中药饮片处方标志",
    "visit.tcm_nondrug": "中医非药物疗法标志",
    "visit.referral_out": "门诊下转标志",
    "visit.rx_count": "处方数",
    "visit.fund_paid": "门诊医保基金支付",
    "staff.period_month": "人员数（人事）",
    "ward.period_month": "病房动态月报（床日）",
    "ward.open_beds": "实际开放床位",
    "drg.period_month": "DRG分组结果（请先运行 yunying drg group）",
    "drg_case.period_month": "DRG分组结果及其经济测算视图（请先运行 yunying drg group；只读仓库需已运行过 yunying drg "
                             "weights/metrics 以存入视图）",
    "drg_case.rw": "DRG 相对权重：未导入/校准 DRG 权重（yunying drg weights calibrate 或 weights import）",
    "drg_case.cost_ratio": "DRG 标杆例均费用（yunying drg benchmark import，或本院上年/本期数据）",
    "drg_case.los_ratio": "DRG 标杆平均住院日（yunying drg benchmark import，或本院上年/本期数据）",
    "drg_case.risk_level": "DRG 风险分级（标杆死亡率或本院数据计算）",
    "qc.period_month": "病案首页质控结果（请先运行 yunying qc run）",
    "drg_pay.period_month": "DRG 支付测算结果（请先运行 yunying drg pay，需医保费率/点值参数）",
    "cost_margin.period_month": "病例成本核算结果（请先运行 yunying cost run 与 yunying cost cases），"
                                "及其病例的 DRG 支付测算（yunying drg pay）",
}

FINANCE_ITEM_LABELS_ZH = {
    "income_total": "总收入", "income_medical": "医疗收入", "income_outpatient": "门急诊收入",
    "income_inpatient": "住院收入", "income_fiscal": "财政补助收入", "income_research": "科教收入",
    "income_other": "其他收入", "income_registration": "挂号收入", "income_bed": "床位收入",
    "income_consult": "诊察收入", "income_exam": "检查收入", "income_lab": "化验收入",
    "income_treatment": "治疗收入", "income_surgery": "手术收入", "income_nursing": "护理收入",
    "income_material": "卫生材料收入", "income_drug": "药品收入", "income_outpatient_drug": "门急诊药品收入",
    "income_inpatient_drug": "住院药品收入", "income_drug_western": "西药收入",
    "income_drug_patent_tcm": "中成药收入", "income_drug_herbal": "中药饮片收入",
    "income_pharmacy_service": "药事服务收入", "income_medical_other": "其他医疗收入",
    "income_insurance_fund": "医保基金结算收入", "income_special_service": "特需医疗服务收入",
    "expense_total": "总支出", "expense_medical": "医疗活动费用", "expense_personnel": "人员经费",
    "expense_material": "卫生材料费", "expense_drug": "药品费", "expense_depreciation": "固定资产折旧",
    "expense_amortisation": "无形资产摊销", "expense_risk_fund": "医疗风险基金", "expense_energy": "能耗支出",
    "expense_other": "其他支出", "asset_total": "资产合计", "liability_total": "负债合计",
}


def need_label(need: str) -> str:
    if need in COLUMN_LABELS_ZH:
        return COLUMN_LABELS_ZH[need]
    view, _, col = need.partition(".")
    if view == "finance" and col in FINANCE_ITEM_LABELS_ZH:
        return f"财务数据：{FINANCE_ITEM_LABELS_ZH[col]}"
    return need


@lru_cache(maxsize=1)
def view_columns() -> dict[str, tuple[str, ...]]:
    """Column names of every semantic view, read from an empty in-memory warehouse (always in sync with 0030)."""
    from yunying.warehouse.db import connect

    con = connect(":memory:")
    try:
        out = {}
        for v in VIEWS.values():
            rows = con.execute(f"describe {v.sql_name}").fetchall()
            out[v.name] = tuple(r[0] for r in rows)
        return out
    finally:
        con.close()
