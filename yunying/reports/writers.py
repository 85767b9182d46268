"""Writers: .docx (python-docx), .xlsx (openpyxl) and .pdf (LibreOffice headless, when installed)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from yunying.reports.model import Report

FORMATS = ("docx", "xlsx", "pdf")


# ---------------------------------------------------------------- charts

def render_charts(report: Report) -> None:
    """Render every chart once; when no CJK font covers the text the chart is dropped with a visible warning."""
    from yunying.reports.charts import CjkFontError, render

    for s in report.sections:
        for c in s.charts:
            if c.png is not None:
                continue
            try:
                c.png = render(c)
            except CjkFontError as exc:
                msg = f"图表「{c.title}」未绘制：{exc}"
                if msg not in report.warnings:
                    report.warnings.append(msg)


# ---------------------------------------------------------------- docx

def _set_cjk_font(run_or_style, name: str = "Noto Sans CJK SC") -> None:
    from docx.oxml.ns import qn

    el = run_or_style.element if hasattr(run_or_style, "element") else run_or_style._element
    rpr = el.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _cell_text(v, fmt: str) -> str:
    if isinstance(v, tuple):
        v, fmt = v
    if v is None:
        return "—"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if fmt.endswith("%"):
            dec = len(fmt.split(".")[1]) - 1 if "." in fmt else 0
            return f"{v * 100:.{dec}f}%"
        dec = len(fmt.split(".")[1]) if "." in fmt else 0
        return f"{v:.{dec}f}"
    return str(v)


# A4 with 2 cm margins: the text width of a portrait and of a landscape page, in points.
PAGE_MM = (210.0, 297.0)
MARGIN_MM = 20.0
_PT_PER_MM = 72 / 25.4
PORTRAIT_PT = (PAGE_MM[0] - 2 * MARGIN_MM) * _PT_PER_MM       # ≈ 481.9
LANDSCAPE_PT = (PAGE_MM[1] - 2 * MARGIN_MM) * _PT_PER_MM      # ≈ 728.5
TABLE_PT = 9.0                  # table font size
CELL_PAD_PT = 12.0              # Table Grid cell margins (2 × 0.08 in) plus a little slack
NATURAL_CAP_EM = 12             # a long text cell wraps beyond this many em instead of widening its column
COMFORT_EM = 4                  # a text column is never narrower than 4 characters


def text_em(text: str) -> float:
    """Width of a one-line text in em: wide, full-width and ambiguous (—, ×, …: full width in a CJK font) characters
    1, others 0.6 (a safe upper bound for digits and Latin letters in Noto Sans CJK / Carlito)."""
    return sum(1.0 if _wide(ch) else 0.6 for ch in text)


def _wide(ch: str) -> bool:
    import unicodedata

    return unicodedata.east_asian_width(ch) in ("W", "F", "A")


def _words(text: str, header: bool) -> list[str]:
    """The pieces a cell may not break: numbers and codes (runs of non-CJK, non-space characters); in a header also
    the title itself up to its first bracket (同比变化, 依据)."""
    import re

    out = re.findall(r"[0-9A-Za-z.,%+\-<>=≤≥/:_~]+", text)
    if header:
        out += [w for w in re.split(r"[\s（(]", text) if w][:1]
    return out


def column_needs(header: str, cells: list[str]) -> tuple[float, float]:
    """(minimum, natural) width in points of a table column at TABLE_PT: the minimum holds its longest header word
    and number on one line (and COMFORT_EM for text); the natural width holds each cell on one line (capped)."""
    words = _words(header, True) + [w for c in cells for w in _words(c, False)]
    has_text = any(_wide(ch) and ch != "—" for c in cells for ch in c)      # Chinese words, not only '—' (no value)
    need = max([text_em(w) for w in words] + [min(COMFORT_EM, max(text_em(c) for c in cells)) if has_text else 0])
    natural = min(NATURAL_CAP_EM, max(text_em(c) for c in [header, *cells]))
    return need * TABLE_PT + CELL_PAD_PT, max(need, natural) * TABLE_PT + CELL_PAD_PT


def table_layout(header: list[str], rows: list[list[str]]) -> tuple[str, list[tuple[list[int], list[float]]]]:
    """Choose the page orientation and column widths of a table: ('portrait' | 'landscape', parts), each part
    (column indexes, widths in points). A table whose natural widths do not fit a portrait page goes landscape;
    when even the minimum widths do not fit a landscape page it is split into parts that repeat the first column."""
    needs = [column_needs(h, [r[i] for r in rows]) for i, h in enumerate(header)]
    orient = "portrait" if sum(n for _, n in needs) <= PORTRAIT_PT else "landscape"
    avail = PORTRAIT_PT if orient == "portrait" else LANDSCAPE_PT
    groups: list[list[int]] = [[0]]
    for i in range(1, len(header)):
        if len(groups[-1]) > 1 and sum(needs[j][0] for j in groups[-1]) + needs[i][0] > avail:
            groups.append([0])
        groups[-1].append(i)
    parts = []
    for cols in groups:
        mins = [needs[i][0] for i in cols]
        nats = [needs[i][1] for i in cols]
        if sum(nats) <= avail:                      # everything on one line: spread the rest evenly
            widths = [n + (avail - sum(nats)) * n / sum(nats) for n in nats]
        else:                                       # between minimum and natural, by what each column lacks
            lack = [n - m for m, n in zip(mins, nats)]
            room = max(0.0, avail - sum(mins))
            widths = [m + (room * x / sum(lack) if sum(lack) else 0) for m, x in zip(mins, lack)]
        parts.append((cols, widths))
    return orient, parts


def _set_orientation(doc, landscape: bool) -> None:
    """Start a new page section in the given orientation (A4, 2 cm margins)."""
    from docx.enum.section import WD_SECTION

    _page_setup(doc.add_section(WD_SECTION.NEW_PAGE), landscape)


def _page_setup(sec, landscape: bool) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    w, h = PAGE_MM if not landscape else PAGE_MM[::-1]
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(w), Mm(h)
    sec.left_margin = sec.right_margin = sec.top_margin = sec.bottom_margin = Mm(MARGIN_MM)


def _add_table(doc, tb, cols: list[int], widths: list[float]) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    table = doc.add_table(rows=1, cols=len(cols))
    table.style = "Table Grid"
    table.autofit = False
    tblpr = table._tbl.tblPr
    layout = tblpr.makeelement(qn("w:tblLayout"), {qn("w:type"): "fixed"})
    tblpr.append(layout)
    hdr = table.rows[0]
    trpr = hdr._tr.get_or_add_trPr()
    trpr.append(trpr.makeelement(qn("w:tblHeader"), {}))          # header row repeats on every page
    for j, i in enumerate(cols):
        cell = hdr.cells[j]
        cell.text = tb.columns[i].title
        cell.paragraphs[0].runs[0].bold = True
    for row in tb.rows:
        cells = table.add_row().cells
        for j, i in enumerate(cols):
            v, col = row[i], tb.columns[i]
            cells[j].text = _cell_text(v, col.number_format)
            if isinstance(v, (int, float, tuple)):
                cells[j].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for j, w in enumerate(widths):
        table.columns[j].width = Pt(w)
        for cell in table.columns[j].cells:
            cell.width = Pt(w)
    for row in table.rows:
        for cell in row.cells:
            for par in cell.paragraphs:
                for run in par.runs:
                    run.font.size = Pt(TABLE_PT)


def write_docx(report: Report, path: Path) -> Path:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    from yunying.reports.charts import find_cjk_font

    font = (find_cjk_font() or ("Noto Sans CJK SC", ""))[0]
    doc = Document()
    _page_setup(doc.sections[0], False)
    for st in ("Normal", "Title", "Heading 1", "Heading 2", "List Bullet"):
        try:
            _set_cjk_font(doc.styles[st], font)
        except KeyError:
            pass
    doc.styles["Normal"].font.size = Pt(10.5)
    t = doc.add_heading(report.title, level=0)
    t.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for run in t.runs:
        run.font.size = Pt(20)
    sub = [f"统计期间：{report.period}"]
    if report.dept_name:
        sub.append(f"科室：{report.dept_name}（{report.dept_code}）")
    sub.append(f"生成时间：{report.generated_at:%Y-%m-%d %H:%M}")
    p = doc.add_paragraph("　".join(sub))
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for w in report.warnings:
        r = doc.add_paragraph().add_run(f"⚠ {w}")
        r.font.color.rgb = RGBColor(0xB0, 0x30, 0x00)
    landscape = False
    for s in report.sections:
        if landscape:                                 # a chapter starts on a portrait page
            landscape = False
            _set_orientation(doc, False)
        doc.add_heading(s.title, level=1)
        for para in s.paragraphs:
            if para.style == "bullet":
                doc.add_paragraph(para.text, style="List Bullet")
            elif para.style == "note":
                r = doc.add_paragraph().add_run(para.text)
                r.italic = True
                r.font.color.rgb = RGBColor(0x80, 0x80, 0x80)
            else:
                doc.add_paragraph(para.text)
        for c in s.charts:
            if c.png:
                doc.add_picture(io.BytesIO(c.png), width=Cm(15))
                doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        for tb in s.tables:
            if not tb.rows:
                continue
            texts = [[_cell_text(v, c.number_format) for v, c in zip(row, tb.columns)] for row in tb.rows]
            orient, parts = table_layout([c.title for c in tb.columns], texts)
            if (orient == "landscape") != landscape:
                landscape = orient == "landscape"
                _set_orientation(doc, landscape)
            for n, (cols, widths) in enumerate(parts, start=1):
                title = tb.title + (f"（{n}/{len(parts)}）" if len(parts) > 1 else "")
                doc.add_paragraph(title).runs[0].bold = True
                _add_table(doc, tb, cols, widths)
            if tb.note:
                doc.add_paragraph(tb.note).runs[0].italic = True
    doc.add_paragraph(f"数据来源：{'；'.join(report.sources.values()) or '仓库'}。每个数字的来源（指标编号、期间、数值）见同名 Excel 文件“数据来源”工作表。").runs[0].font.size = Pt(8)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


# ---------------------------------------------------------------- xlsx

def _sheet_name(title: str, used: set[str]) -> str:
    bad = '[]:*?/\\'
    name = "".join(ch for ch in title if ch not in bad)[:31] or "Sheet"
    base, i = name, 2
    while name in used:
        name = f"{base[:28]}_{i}"
        i += 1
    used.add(name)
    return name


def write_xlsx(report: Report, path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image as XlImage
    from openpyxl.styles import Alignment, Font, PatternFill

    from yunying.model.safe_cells import xlsx_no_formulas

    wb = Workbook()
    used: set[str] = set()
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    bold = Font(bold=True)
    ws = wb.active
    ws.title = _sheet_name("概要", used)
    ws.append([report.title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["统计期间", report.period])
    if report.dept_code:
        ws.append(["科室", f"{report.dept_name}（{report.dept_code}）"])
    ws.append(["生成时间", report.generated_at.strftime("%Y-%m-%d %H:%M")])
    for k, v in report.sources.items():
        ws.append(["数据来源", v])
    for w in report.warnings:
        ws.append(["提示", w])
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 100
    for s in report.sections:
        sh = wb.create_sheet(_sheet_name(s.title, used))
        sh.append([s.title])
        sh["A1"].font = Font(bold=True, size=12)
        for para in s.paragraphs:
            sh.append([para.text])
        sh.append([])
        widths: dict[int, int] = {}
        for tb in s.tables:
            sh.append([tb.title])
            sh.cell(row=sh.max_row, column=1).font = bold
            sh.append([c.title for c in tb.columns])
            for i in range(1, len(tb.columns) + 1):
                cell = sh.cell(row=sh.max_row, column=i)
                cell.font, cell.fill = bold, head_fill
                widths[i] = max(widths.get(i, 8), len(tb.columns[i - 1].title) * 2 + 2)
            for row in tb.rows:
                sh.append([c[0] if isinstance(c, tuple) else c for c in row])
                r = sh.max_row
                for i, (v, col) in enumerate(zip(row, tb.columns), start=1):
                    if isinstance(v, tuple):
                        sh.cell(row=r, column=i).number_format = v[1]
                    elif isinstance(v, (int, float)) and col.number_format:
                        sh.cell(row=r, column=i).number_format = col.number_format
                    if isinstance(v, str):
                        widths[i] = min(60, max(widths.get(i, 8), len(v) * 2))
            if tb.note:
                sh.append([tb.note])
            sh.append([])
        for i, w in widths.items():
            sh.column_dimensions[sh.cell(row=1, column=i).column_letter].width = w
        if not s.tables:
            sh.column_dimensions["A"].width = 100
        sh["A2"].alignment = Alignment(wrap_text=False)
        anchor_row = sh.max_row + 2
        for c in s.charts:
            if c.png:
                img = XlImage(io.BytesIO(c.png))
                img.width, img.height = img.width * 0.5, img.height * 0.5
                sh.add_image(img, f"A{anchor_row}")
                anchor_row += int(img.height / 20) + 2
    # provenance: one row per value per sentence
    pv = wb.create_sheet(_sheet_name("数据来源", used))
    cols = ["章节", "语句", "指标编号", "口径", "指标名称", "期间", "数值", "单位", "比较期", "比较期数值", "上期",
            "上期数值", "分子", "分母", "目标", "状态", "来源", "说明"]
    pv.append(cols)
    for i in range(1, len(cols) + 1):
        pv.cell(row=1, column=i).font, pv.cell(row=1, column=i).fill = bold, head_fill
    part_zh = {"value": "指标值", "numerator": "分子", "denominator": "分母"}
    for prov in report.provenance:
        for v in prov.values:
            pv.append([prov.section, prov.sentence, v.indicator_id, part_zh.get(v.part, v.part), v.label,
                       v.period + (f"（{v.dept_code}）" if v.dept_code else ""), v.value, v.unit, v.yoy_period,
                       v.yoy_value, v.mom_period or None, v.mom_value, v.numerator, v.denominator,
                       v.target or None, v.status or None, v.source, v.reason or v.note or None])
            r = pv.max_row
            for c in (7, 10, 12, 13, 14):
                if isinstance(pv.cell(row=r, column=c).value, float):
                    pv.cell(row=r, column=c).number_format = "0.00##"
    for letter, w in zip("ABCDEFGHIJKLMNOPQR", (14, 60, 12, 8, 20, 12, 12, 6, 8, 12, 8, 12, 12, 12, 10, 8, 10, 30)):
        pv.column_dimensions[letter].width = w
    pv.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    xlsx_no_formulas(wb)
    wb.save(str(path))
    return path


# ---------------------------------------------------------------- pdf

def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(docx: Path | list[Path], out_dir: Path, timeout: int = 300) -> Path | list[Path] | None:
    """LibreOffice headless conversion (one soffice start for a list of files); None when LibreOffice is not
    installed (the caller notes the skip)."""
    exe = soffice()
    if exe is None:
        return None
    files = list(docx) if isinstance(docx, (list, tuple)) else [docx]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yy-lo-") as profile:   # private profile: parallel runs don't clash
        cmd = [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--convert-to", "pdf",
               "--outdir", str(out_dir), *map(str, files)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    pdfs = [out_dir / (f.stem + ".pdf") for f in files]
    if res.returncode != 0 or not all(p.is_file() for p in pdfs):
        raise RuntimeError(f"LibreOffice 转换 PDF 失败 / PDF conversion failed: {res.stderr.strip()[:300]}")
    return pdfs if isinstance(docx, (list, tuple)) else pdfs[0]


def pdf_first_page_png(pdf: Path, out_png: Path, dpi: int = 60) -> Path | None:
    """First page → PNG with pdftoppm (poppler-utils); None when pdftoppm is absent."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        return None
    stem = out_png.with_suffix("")
    subprocess.run([exe, "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
                   check=True, capture_output=True, timeout=120)
    return out_png if out_png.is_file() else None


# ---------------------------------------------------------------- all

def write(report: Report, out_dir: Path, formats: tuple[str, ...] | list[str] = FORMATS) -> list[Path]:
    """Write the report into out_dir as .docx/.xlsx (and .pdf when LibreOffice is installed); returns the paths.
    A skipped PDF is noted in report.warnings."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"未知格式 {bad}，可选 {FORMATS} / unknown formats")
    render_charts(report)
    stem = report.file_stem()
    paths: list[Path] = []
    docx_path = out_dir / f"{stem}.docx"
    if "pdf" in formats and soffice() is None:
        report.warnings.append("本机未安装 LibreOffice，未生成 PDF（运行 scripts/setup-reports.sh 安装）/ "
                               "LibreOffice not installed: PDF skipped")
    if "docx" in formats or ("pdf" in formats and soffice()):
        write_docx(report, docx_path)
        if "docx" in formats:
            paths.append(docx_path)
    if "xlsx" in formats:
        paths.append(write_xlsx(report, out_dir / f"{stem}.xlsx"))
    if "pdf" in formats and soffice():
        pdf = docx_to_pdf(docx_path, out_dir)
        if pdf:
            paths.append(pdf)
        if "docx" not in formats:
            docx_path.unlink(missing_ok=True)
    return paths
