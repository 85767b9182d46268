"""xlsx of the cost-case slice (spec §4.8): 医疗服务项目成本汇总表, 病种成本明细表 / 构成表, DRG 成本明细表 / 构成表,
科室保本点. Numbers are numbers, headers Chinese, text cells formula-safe (yunying/model/safe_cells.py).
`write_case_cost_reports(con, run_id, target)` — target: a path (the workbook is saved there) or an openpyxl
Workbook the cost report command is filling (sheets are added; the caller saves)."""

from __future__ import annotations

from pathlib import Path

from yunying.cost.case_config import load_methods
from yunying.cost.items import load_run, q
from yunying.model.safe_cells import neutralise, xlsx_no_formulas

CALIBRE = "医疗全成本（科室全成本：直接成本 + 一、二、三级分摊）"


def _labels() -> tuple[dict, dict]:
    from yunying.model.catalogue import load_model

    dom = load_model().domains.get("charge_category")
    return load_methods()["labels"]["method"], (dom.codes if dom else {})


def _sheet(wb, title: str, head_lines: list[str], headers: list[str], rows: list[tuple], widths=None):
    ws = wb.create_sheet(title)
    for line in head_lines:
        ws.append([neutralise(line)])
    ws.append(headers)
    for r in rows:
        ws.append([neutralise(v) if isinstance(v, str) else (float(v) if v is not None and not isinstance(v, int)
                                                            else v) for v in r])
    for i, w in enumerate(widths or [14] * len(headers)):
        ws.column_dimensions[chr(65 + i)].width = w
    ws.freeze_panes = ws.cell(row=len(head_lines) + 2, column=1)
    return ws


def _primary_note(con, run_id: str, mlab: dict) -> str:
    rows = q(con, "select method, count(*) from cost_case where run_id = ? and is_primary group by 1 order by 1",
             [run_id]).fetchall()
    return "病例成本方法：" + "；".join(f"{mlab.get(m, m)} {n} 例" for m, n in rows) + \
        "（有收费明细的病例用项目叠加法，否则成本收入比法；cost/case_methods.yaml）"


def _cost_items(con, run_id: str) -> tuple[list[str], dict]:
    """The cost items present in the run's case composition (domain order when the domain is known) and labels."""
    from yunying.model.catalogue import load_model

    dom = load_model().domains.get("cost_item")
    present = {r[0] for r in q(con, "select distinct cost_item from cost_case_item where run_id = ?",
                               [run_id]).fetchall()}
    order = [c for c in (dom.codes if dom else {}) if c in present] + sorted(present - set(dom.codes if dom else {}))
    return order, (dom.codes if dom else {})


def write_case_cost_reports(con, run_id: str, target, *, scheme: str | None = None):
    from openpyxl import Workbook

    run = load_run(con, run_id)
    mlab, clab = _labels()
    wb = target if isinstance(target, Workbook) else Workbook()
    if not isinstance(target, Workbook):
        wb.remove(wb.active)
    head = [f"成本核算运行 {run_id}，期间 {run.label}，口径：{CALIBRE}"]
    ratios = dict(q(con, "select charge_category, ccr from cost_ccr where run_id = ? and exec_unit = '*'",
                    [run_id]).fetchall())
    # 1 医疗服务项目成本汇总表
    rows = q(con, """
        select i.item_code, any_value(ci.item_name), i.charge_category, i.exec_unit, i.method, sum(i.quantity),
               sum(i.revenue), sum(i.cost), sum(i.cost) / nullif(sum(i.quantity), 0),
               sum(i.cost) / nullif(sum(i.revenue), 0)
        from cost_item_unit i left join charge_item ci on ci.hospital_id = i.hospital_id and ci.item_code = i.item_code
        where i.run_id = ? group by i.item_code, i.charge_category, i.exec_unit, i.method
        order by i.exec_unit, i.item_code""", [run_id]).fetchall()
    rows = [(r[0], r[1], clab.get(r[2], r[2]), r[3], mlab.get(r[4], r[4]), *r[5:]) for r in rows]
    _sheet(wb, "医疗服务项目成本汇总表",
           head + ["药品与单独收费卫生材料不计入项目成本，按成本价计入病例成本（成本率见 cost_ccr，执行单元 *）："
                   + "，".join(f"{clab.get(k, k)} {v:.4f}" for k, v in sorted(ratios.items()) if v is not None)],
           ["收费项目编码", "收费项目名称", "收费类别", "执行核算单元", "核算方法", "数量", "收入(元)", "成本(元)",
            "单位成本(元)", "成本收入比"], rows, [14, 22, 12, 14, 24, 10, 14, 14, 14, 12])
    note = _primary_note(con, run_id, mlab)
    # 2 病种成本明细 / 构成 (病种 = principal western diagnosis)
    from yunying.cost.margin import disease_code_sql

    code = disease_code_sql(load_methods()["cases"]["disease_code_length"], "d.dx_code")
    dis = q(con, f"""
        with c as (
          select c.*, {code} as dx_code, d.dx_name from cost_case c
          left join discharge_diagnosis d on d.hospital_id = c.hospital_id and d.mrn = c.mrn
            and d.admission_no = c.admission_no and d.dx_type = 'W' and d.seq = 0
          where c.run_id = ? and c.is_primary
        )
        select coalesce(dx_code, '(无主要诊断)'), any_value(dx_name), count(*), avg(cost), avg(revenue), sum(cost),
               sum(drug_cost), sum(material_cost), sum(service_cost), sum(revenue)
        from c group by 1 order by 1""", [run_id]).fetchall()
    _sheet(wb, "病种成本明细表", head + [note, "病种 = 主要诊断编码（首页西医主要诊断；cost/case_methods.yaml cases.disease_code_length）"],
           ["主要诊断编码", "病种名称", "例数", "例均成本(元)", "例均费用(元)", "成本合计(元)", "药品成本(元)",
            "卫生材料成本(元)", "医疗服务成本(元)", "费用合计(元)"],
           [(*r[:9], r[9]) for r in dis], [14, 22, 8, 14, 14, 14, 14, 14, 14, 14])
    items, ilab = _cost_items(con, run_id)
    pivot = ", ".join(f"sum(ci.cost) filter (where ci.cost_item = '{c.replace(chr(39), chr(39) * 2)}')"
                      for c in items) or "null"
    dis_ci = {r[0]: r[1:] for r in q(con, f"""
        select coalesce({code}, '(无主要诊断)'), {pivot}
        from cost_case_item ci join cost_case c using (run_id, hospital_id, mrn, admission_no, method)
        left join discharge_diagnosis d on d.hospital_id = c.hospital_id and d.mrn = c.mrn
          and d.admission_no = c.admission_no and d.dx_type = 'W' and d.seq = 0
        where ci.run_id = ? and c.is_primary group by 1""", [run_id]).fetchall()}
    ci_heads = [f"{ilab.get(c, c)}占比(%)" for c in items]

    def ci_shares(vals, total):
        return [100 * (v or 0) / total if total else None for v in (vals or [None] * len(items))][:len(items)]

    _sheet(wb, "病种成本构成表", head + [note, "成本项目构成：药品、单独收费卫生材料按成本价计入其台账成本项目，医疗服务部分按"
                                           "项目成本（或成本收入比单元）的成本项目构成分解"],
           ["主要诊断编码", "病种名称", "例数", "成本合计(元)", "药品成本占比(%)", "卫生材料成本占比(%)",
            "医疗服务成本占比(%)"] + ci_heads,
           [(r[0], r[1], r[2], r[5], *(100 * x / r[5] if r[5] else None for x in r[6:9]),
             *ci_shares(dis_ci.get(r[0]), r[5])) for r in dis],
           [14, 22, 8, 14, 16, 18, 18] + [16] * len(items))
    # 3 DRG 成本明细 / 构成 (per hospital, department, doctor group; payment of the latest DRG payment run)
    from yunying.cost.margin import default_scheme

    scheme = scheme or default_scheme(con)
    ci_cols = "".join(f", sum(ci_{i})" for i in range(len(items)))
    ci_pivot = "".join(f", sum(cost) filter (where cost_item = '{it.replace(chr(39), chr(39) * 2)}') as ci_{i}"
                       for i, it in enumerate(items))
    drg = q(con, f"""
        with ci as (
          select hospital_id, mrn, admission_no, method{ci_pivot}
          from cost_case_item where run_id = $run group by all
        ), c as (
          select c.*, ci.* exclude (hospital_id, mrn, admission_no, method), g.drg,
                 d.discharge_dept_code as dept_code,
                 coalesce(d.doctor_group, d.attending_physician) as doctor_group, p.expected_payment, p.fee_total
          from cost_case c join discharge d using (hospital_id, mrn, admission_no)
          left join ci using (hospital_id, mrn, admission_no, method)
          left join v_drg_pay p on p.hospital_id = c.hospital_id and p.mrn = c.mrn
            and p.admission_no = c.admission_no and p.scheme = $scheme
          left join (select hospital_id, mrn, admission_no, arg_max(drg, grouped_at) as drg from drg_result
                     where scheme = $scheme group by all) g using (hospital_id, mrn, admission_no)
          where c.run_id = $run and c.is_primary
        )
        select case when grouping(dept_code) = 1 then '全院' when grouping(doctor_group) = 1 then '科室'
                    else '医疗组' end as lvl,
               dept_code, doctor_group, coalesce(drg, '(未分组)'), count(*), avg(cost), avg(expected_payment),
               avg(revenue), sum(expected_payment) - sum(cost) filter (where expected_payment is not null),
               sum(expected_payment) - sum(fee_total) filter (where expected_payment is not null),
               sum(cost), sum(drug_cost), sum(material_cost), sum(service_cost){ci_cols}
        from c group by grouping sets ((drg), (dept_code, drg), (dept_code, doctor_group, drg))
        order by grouping(dept_code) desc, grouping(doctor_group) desc, dept_code, doctor_group, 4""",
             {"run": run_id, "scheme": scheme}).fetchall()
    _sheet(wb, "DRG成本明细表",
           head + [note, f"DRG 成本 = 组内病例成本均值；DRG 取方案 {scheme} 的最近分组，"
                         "支付标准取该方案最近一次 DRG 支付测算（v_drg_pay）"],
           ["层级", "科室", "医疗组", "DRG", "例数", "例均成本(元)", "例均支付标准(元)", "例均费用(元)",
            "成本口径盈亏(元)", "费用口径盈亏(元)"], [r[:10] for r in drg], [8, 10, 12, 10, 8, 14, 16, 14, 16, 16])
    _sheet(wb, "DRG成本构成表", head + [note],
           ["层级", "科室", "医疗组", "DRG", "例数", "成本合计(元)", "药品成本占比(%)", "卫生材料成本占比(%)",
            "医疗服务成本占比(%)"] + ci_heads,
           [(*r[:5], r[10], *(100 * x / r[10] if r[10] else None for x in r[11:14]), *ci_shares(r[14:], r[10]))
            for r in drg],
           [8, 10, 12, 10, 8, 14, 16, 18, 18] + [16] * len(items))
    be = q(con, """select dept_code, fixed_cost, variable_cost, cases, variable_per_case, payment_per_case,
                          breakeven_cases, fee_per_case, breakeven_cases_charges, fixed_items
                   from cost_breakeven where run_id = ? order by dept_code""", [run_id]).fetchall()
    _sheet(wb, "科室保本点", head + ["保本点 Q* = 固定成本 ÷（例均支付 − 例均变动成本）；固定成本项目见最后一列"],
           ["科室", "固定成本(元)", "变动成本(元)", "出院例数", "例均变动成本(元)", "例均支付标准(元)",
            "保本例数（支付）", "例均费用(元)", "保本例数（费用）", "固定成本项目"], be,
           [10, 14, 14, 10, 16, 16, 16, 14, 16, 30])
    xlsx_no_formulas(wb)
    if not isinstance(target, Workbook):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        wb.save(target)
    return wb
