"""`cost report`: the 规范's standard tables of one stored run as an xlsx workbook (docs/cost.md §2–3).

Sheets: 医院科室直接成本表, 医院临床服务类科室全成本表, 全成本构成, 医院科室成本分摊汇总表 (with the basis used), 诊次/床日成本表.
Numbers are numbers (2 decimals), headers Chinese, every text cell formula-safe (yunying/model/safe_cells.py); each
sheet states the run, period, plan and calibre. Figures cover the run's whole period (Σ over months; unit costs
Σ cost / Σ volume, the same definition as the monthly rows)."""

from __future__ import annotations

from pathlib import Path

from yunying.cost.explain import get_run
from yunying.cost.plan import domain_label, load_plan
from yunying.cost.stepdown import calibres
from yunying.cost.unit_cost import measures
from yunying.model.safe_cells import neutralise, xlsx_no_formulas

MONEY = "#,##0.00"


def _rows(con, sql: str, params) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def run_plan(run: dict):
    """The plan a run used, when its file is still there unchanged (same sha-256); else None."""
    from yunying.cost.errors import CostError

    try:
        plan = load_plan(run["plan_path"] or None)
    except CostError:
        return None
    return plan if plan.sha256 == run["plan_hash"] else None


def build_tables(con, run_id: str) -> tuple[dict, list[tuple[str, list[str], list[list]]]]:
    """(run, [(sheet title, headers, rows)]) — also what tests read."""
    run = get_run(con, run_id)
    rid = run_id
    cost = run["measure"] == "cost"
    item_dom = "cost_item" if cost else "charge_category"
    items = [r[0] for r in _rows(con, "select distinct cost_item from cost_unit_full where run_id = ? order by 1",
                                 [rid])]
    item_heads = [domain_label(item_dom, i) for i in items]
    pivot = ", ".join(f"coalesce(sum({{col}}) filter (where cost_item = '{i.replace(chr(39), chr(39) * 2)}'), 0)" for i in items)
    plan = run_plan(run)
    # classes in the plan's order (sources by step, then the final classes); without the plan: by code
    order = [s.source.cost_class for s in plan.steps if s.source.cost_class] + plan.final_classes if plan else []
    rank = "case cost_class " + " ".join(f"when '{c}' then {i}" for i, c in enumerate(order)) + " end" \
        if order else "cost_class"
    units = f"""select unit_code, any_value(dept_code), any_value(cost_class), any_value(service_line), {{pivot}},
                      sum({{col}}) from cost_unit_full where run_id = ? {{where}} group by 1
                order by any_value({rank}), 1"""
    sheets = []
    # 1 医院科室直接成本表: direct cost (incl. shared costs received in step 0) per unit × cost item
    direct = _rows(con, units.format(pivot=pivot.format(col="direct + shared_in"), col="direct + shared_in",
                                     where=""), [rid])
    sheets.append(("医院科室直接成本表", ["核算单元", "科室", "类别", "服务类型", *item_heads, "直接成本合计"],
                   _with_total([[u, d, domain_label("dept_class", c), domain_label("service_line", s), *v]
                                for u, d, c, s, *v in direct], 4)))
    # 2 医院临床服务类科室全成本表: final classes (never emptied by the plan)
    final = (plan.final_classes if plan else []) or [r[0] for r in _rows(con, """select distinct cost_class from cost_unit_full
        where run_id = ? and "full" <> 0""", [rid])]
    fin = ", ".join("'" + c.replace("'", "''") + "'" for c in final) or "''"
    full = _rows(con, f"""select unit_code, any_value(dept_code), any_value(service_line), sum(direct + shared_in),
            sum(step1_in), sum(step2_in), sum(step3_in), sum("full") from cost_unit_full
        where run_id = ? and cost_class in ({fin}) group by 1 order by 2, 1""", [rid])
    sheets.append(("医院临床服务类科室全成本表", ["核算单元", "科室", "服务类型", "直接成本", "一级分摊转入", "二级分摊转入",
                                         "三级分摊转入", "全成本"],
                   _with_total([[u, d, domain_label("service_line", s), *v] for u, d, s, *v in full], 3)))
    comp = _rows(con, units.format(pivot=pivot.format(col='"full"'), col='"full"',
                                   where=f"and cost_class in ({fin})"), [rid])
    rows = []
    for u, d, _c, s, *v in comp:
        tot = v[-1] or 0
        rows.append([u, d, domain_label("service_line", s), *v,
                     *[(float(x or 0) / float(tot) if tot else None) for x in v[:-1]]])
    sheets.append(("全成本构成", ["核算单元", "科室", "服务类型", *item_heads, "全成本合计",
                              *[f"{h}占比" for h in item_heads]], rows))
    # 3 医院科室成本分摊汇总表: per step, source → destination with the basis used and its quantities
    plan_steps = {s.step: s.zh for s in plan.steps} if plan else {}
    trail = _rows(con, """select step, source_unit, dest_unit, basis_code, basis_provider, sum(basis_qty),
            sum(basis_total), count(distinct month), sum(amount)
        from (select step, source_unit, dest_unit, basis_code, basis_provider, month, any_value(basis_qty) basis_qty,
                     sum(basis_total) / count(*) basis_total, sum(amount) amount
              from cost_alloc_trail where run_id = ? group by all)
        group by 1, 2, 3, 4, 5 order by 1, 2, 3""", [rid])
    sheets.append(("医院科室成本分摊汇总表", ["分摊步骤", "分出单元", "接收单元", "分摊参数", "参数代码", "参数提供单元",
                                        "接收方参数数量", "参数合计", "月数", "分摊金额"],
                   [[plan_steps.get(st, f"第{st}步"), s, d, domain_label("alloc_basis", b), b,
                     "" if p == "*" else p, q, (t or 0), n, a] for st, s, d, b, p, q, t, n, a in trail]))
    # 4 诊次/床日成本表
    if cost:
        uc = _rows(con, """select measure, unit_code, dept_code, sum(cost), sum(volume),
                case when bool_or(volume_source in ('incomplete', 'none') and cost > 0) then null
                     when sum(volume) > 0 then round(sum(cost) / sum(volume), 2) end,
                string_agg(distinct volume_source, ',' order by volume_source)
            from cost_unit_cost where run_id = ? group by 1, 2, 3
            order by 1, (dept_code = '*'), 3, (unit_code = '*'), 2""", [rid])
        ms = measures()
        sheets.append(("诊次床日成本表", ["指标", "核算单元", "科室", "成本", "服务量", "单位成本", "服务量来源"],
                       [[ms[m]["zh"], "全院" if d == "*" else ("科室合计" if u == "*" else u),
                         "" if d == "*" else d, c, v, x, src] for m, u, d, c, v, x, src in uc]))
    if not cost:     # a revenue run: the same tables of revenue (收入), never labelled as cost
        sheets = [(t.replace("成本", "收入"), [h.replace("成本", "收入") for h in hs], rows) for t, hs, rows in sheets]
    return run, sheets


def _with_total(rows: list[list], first_num: int) -> list[list]:
    if not rows:
        return rows
    n = len(rows[0])
    total = ["合计"] + [""] * (first_num - 1) + [sum((r[i] or 0) for r in rows) for i in range(first_num, n)]
    return rows + [total]


def write_report(con, run_id: str, out: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    run, sheets = build_tables(con, run_id)
    cal = calibres()["calibres"].get(run["calibre"] or "", {})
    head = [f"运行 {run['run_id']}  机构 {run['hospital_id']}  期间 {run['month_from']:%Y-%m}—{run['month_to']:%Y-%m}",
            f"分摊方案 {run['plan_id']} v{run['plan_version']}（{run['plan_hash'][:12]}）  "
            f"{'成本' if run['measure'] == 'cost' else '收入'}  口径 {cal.get('zh', '收入') }"
            + (f"：{cal['note']}" if cal.get("note") else "")]
    wb = Workbook()
    wb.remove(wb.active)
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title[:31])
        ws.append([neutralise(title)])
        ws["A1"].font = Font(bold=True, size=13)
        for h in head:
            ws.append([neutralise(h)])
        ws.append([neutralise(h) for h in headers])
        for c in ws[ws.max_row]:
            c.font = Font(bold=True)
        for r in rows:
            ws.append([neutralise(v) if isinstance(v, str) else (float(v) if v is not None and not
                                                                  isinstance(v, (int, float)) else v) for v in r])
            for c, h in zip(ws[ws.max_row], headers):
                if isinstance(c.value, float):
                    c.number_format = "0.00%" if h.endswith("占比") else MONEY
        for col, h in zip(ws.iter_cols(min_row=4, max_row=4), headers):
            ws.column_dimensions[col[0].column_letter].width = max(10, min(30, 2 * len(h) + 2))
        ws.freeze_panes = ws.cell(row=5, column=1)
    xlsx_no_formulas(wb)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
