"""Render the generated part of docs/indicators.md from the catalogue (python -m yunying.indicators.doc)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from yunying.indicators.catalogue import Catalogue, load_catalogue
from yunying.indicators.views import need_label

BEGIN = "<!-- BEGIN GENERATED: python -m yunying.indicators.doc -->"
END = "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"


def status(ind, cat: Catalogue) -> str:
    if ind.type == "group":
        return "分项见 " + "、".join(ind.parts)
    if ind.type == "unavailable":
        return f"不可计算：缺少 {ind.missing_zh}"
    if ind.type == "external":
        return f"外部/填报值（ind_manual_value）：{ind.missing_zh}"
    needs = [n for n in ind.needs if not n.endswith(".period_month")]
    if ind.base:
        needs += [n for n in cat[ind.base].needs if not n.endswith(".period_month")]
    growth = "；需上年同期数据" if ind.type == "growth" else ""
    if needs:
        return "可计算（需 " + "、".join(dict.fromkeys(need_label(n) for n in needs)) + "）" + growth
    return "可计算" + growth


def _cell(s: str) -> str:
    return re.sub(r"\s+", " ", str(s)).replace("|", "\\|").strip()


def render(cat: Catalogue | None = None) -> str:
    from yunying.indicators.views import VIEWS, view_columns

    cat = cat or load_catalogue(use_env=False)
    lines = [BEGIN, "",
             "### Views 语义视图 (migrations 0030_indicators.sql, 0050_indicator_drg.sql, 0070_px_dict_one_row.sql, "
             "0071_finance_drug_split.sql, 0075, 0076, 0080_qc_indicators.sql)", "",
             "| over | view | 内容 | columns |", "|---|---|---|---|"]
    cols = view_columns()
    for v in VIEWS.values():
        lines.append(f"| {v.name} | `{v.sql_name}` | {v.label_zh} | {', '.join(cols[v.name])} |")
    lines.append("")
    order = ["tertiary-general", "tertiary-tcm", "secondary", "drg", "operating"]
    fams = sorted(cat.families.values(), key=lambda f: (order.index(f.key) if f.key in order else 99, f.key))
    for fam in fams:
        own = [i for i in fam.ids if cat[i].family == fam.key]
        inc = [i for i in fam.ids if cat[i].family != fam.key]
        n_comp = sum(1 for i in own if cat[i].type not in ("unavailable", "external", "group"))
        lines += [f"### {fam.name_zh} ({fam.key}) — {len(own)} entries, {n_comp} with a formula", ""]
        if inc:
            lines += [f"Also includes: {', '.join(inc)}", ""]
        lines += ["| id | ▲ | 指标 | type | unit | 导向 | over | status 可计算性 |", "|---|---|---|---|---|---|---|---|"]
        for i in own:
            ind = cat[i]
            over = ", ".join(dict.fromkeys(m.over for m in (ind.numerator, ind.denominator) if m is not None))
            if ind.base:
                over = f"growth of {ind.base}"
            if ind.same_as:
                over = f"= {ind.same_as}" + (f" ({over})" if over else "")
            lines.append(f"| {i} | {'▲' if ind.national_monitor else ''} | {_cell(ind.name_zh)} | {ind.type} | "
                         f"{_cell(ind.unit)} | {ind.direction_zh} | {_cell(over)} | {_cell(status(ind, cat))} |")
        lines.append("")
    lines += ["### Readings of unconfirmed or proxy definitions 口径说明", ""]
    for i, ind in cat.indicators.items():
        if ind.reading_zh and not (ind.same_as and ind.reading_zh == cat[ind.same_as].reading_zh):
            lines.append(f"- **{i} {_cell(ind.name_zh)}** — {_cell(ind.reading_zh)}")
    lines += ["", "### Fallback readings 口径回退 (yunying/indicators/readings.yaml)", ""]
    for fb in cat.fallbacks:
        cols = "; ".join(f"{v}: {', '.join(sorted(c))} where `{fb.when[v].sql}`" for v, c in fb.columns.items())
        lines.append(f"- **{fb.id}** 「{_cell(fb.note_zh)}」 — {_cell(cols)}")
    lines += ["", END]
    return "\n".join(lines)


def update(path: Path = DOC) -> bool:
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + render() + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":  # pragma: no cover
    changed = update(Path(sys.argv[1]) if len(sys.argv) > 1 else DOC)
    print("updated" if changed else "unchanged")
