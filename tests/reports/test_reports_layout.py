"""Reports a leader reads (issue 16): page orientation and column widths of tables, the hospital name in the
heading, charts present, and a page image of each report kept as a test artefact."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from reports_fixtures import build_literal
from yunying.reports import build_annual, build_monthly, write
from yunying.reports.charts import find_cjk_font
from yunying.reports.model import Column, Report, Section, Table
from yunying.reports.writers import docx_to_pdf, soffice
from yunying.warehouse.db import connect

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
CELL_MARGINS_PT = 2 * 0.08 * 72          # Table Grid: 0.08 in left and right
LANDSCAPE_PT = (297 - 2 * 20) * 72 / 25.4   # A4 landscape, 2 cm margins: 257 mm ≈ 728.5 pt


def _tables_with_orientation(doc):
    """[(table, section)] in body order: a section's properties close it (the last one is the body's sectPr)."""
    from docx.oxml.ns import qn
    from docx.table import Table as DocxTable

    out, pending, k = [], [], 0
    for el in doc.element.body.iterchildren():
        if el.tag == qn("w:tbl"):
            pending.append(DocxTable(el, doc))
        if el.tag == qn("w:p") and el.find(f"{qn('w:pPr')}/{qn('w:sectPr')}") is not None:
            out += [(t, doc.sections[k]) for t in pending]
            pending, k = [], k + 1
    out += [(t, doc.sections[k]) for t in pending]
    return out


def _font_width_pt(text: str, font_file: str, size: float = 9.0) -> float:
    """Width of one line of text measured from the CJK font's own advance widths (fontTools), independent of the
    writer's estimate."""
    from fontTools.ttLib import TTCollection, TTFont

    font = TTCollection(font_file).fonts[0] if font_file.lower().endswith((".ttc", ".otc")) else TTFont(font_file)
    cmap, hmtx, upem = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm
    return sum(hmtx[cmap[ord(c)]][0] for c in text if ord(c) in cmap) / upem * size


def _column_words(header: str, cells: list[str]) -> list[str]:
    """What a column must hold on one line: its header up to a bracket, and every number/code in its cells."""
    import re

    words = [re.split(r"[（(]", header)[0]]
    for c in cells:
        words += re.findall(r"[0-9A-Za-z.%+\-<>=/]+", c)
    return words


def test_wide_table_is_landscape_and_columns_fit_their_content(con, tmp_path):
    from docx import Document
    from docx.enum.section import WD_ORIENT

    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (run scripts/setup-reports.sh): cannot measure text widths")
    font_file = find_cjk_font()[1]
    path = write(build_monthly(con, "2022-06"), tmp_path, formats=("docx",))[0]
    doc = Document(str(path))
    assert doc.sections[0].page_width < doc.sections[0].page_height          # the report opens on a portrait page
    placed = _tables_with_orientation(doc)
    wide = [(t, s) for t, s in placed if len(t.columns) == 12]
    assert wide, "the 12-column indicator table is missing"
    for t, sec in wide:
        assert sec.page_width > sec.page_height                                # landscape section
        assert sec.orientation == WD_ORIENT.LANDSCAPE
        widths = [c.width.pt for c in t.columns]
        assert sum(widths) <= LANDSCAPE_PT + 1                                 # fits the landscape text width
        for i, col in enumerate(t.columns):
            texts = [cell.text for cell in col.cells]
            for w in _column_words(texts[0], texts[1:]):
                need = _font_width_pt(w, font_file) + CELL_MARGINS_PT
                assert widths[i] >= need, f"column {texts[0]!r} is {widths[i]:.1f}pt, {w!r} needs {need:.1f}pt"
    # a 3-column table stays on a portrait page
    narrow = [s for t, s in placed if len(t.columns) <= 4]
    assert narrow and all(s.page_width < s.page_height for s in narrow)


def test_table_too_wide_for_landscape_is_split_repeating_first_column(tmp_path):
    from docx import Document

    # 1 label column + 30 value columns. Hand-worked widths (writer's estimate: CJK 1 em, others 0.6 em, 9 pt,
    # 12 pt cell padding): label column 指标/甲 → 2 em = 30 pt; value column '123456.78' = 9 × 0.6 = 5.4 em
    # = 48.6 + 12 = 60.6 pt. Landscape A4 text width 257 mm = 728.5 pt: 30 + n × 60.6 ≤ 728.5 → n = 11 per part
    # → parts of 11, 11 and 8 value columns, each led by the label column.
    cols = [Column("指标")] + [Column(f"第{i:02d}列", "0.00") for i in range(1, 31)]
    tb = Table("宽表", cols, [["甲"] + [123456.78] * 30])
    r = Report("annual", "测试医院报告", "2022", "H1", "测试医院", sections=[Section("s", "一、测试", tables=[tb])])
    doc = Document(str(write(r, tmp_path, formats=("docx",))[0]))
    placed = _tables_with_orientation(doc)
    assert [len(t.columns) for t, _ in placed] == [12, 12, 9]
    seen = []
    for t, sec in placed:
        heads = [c.text for c in t.rows[0].cells]
        assert heads[0] == "指标" and sec.page_width > sec.page_height
        assert sum(c.width.pt for c in t.columns) <= LANDSCAPE_PT + 1
        seen += heads[1:]
    assert seen == [f"第{i:02d}列" for i in range(1, 31)]
    assert "宽表（1/3）" in [p.text for p in doc.paragraphs]


def test_heading_holds_hospital_name_not_code(tmp_path):
    from docx import Document

    db = tmp_path / "h.duckdb"
    build_literal(db)
    c = connect(db)
    try:
        # hospital row with its name → the name heads the report
        doc = Document(str(write(build_annual(c, 2022), tmp_path / "a", formats=("docx",))[0]))
        assert doc.paragraphs[0].text == "测试医院2022年度工作报告（数据篇）"
        # a hospital row created by the abstracts import without a name: the abstracts' 机构名称 is used, not 'H1'
        c.execute("update hospital set hospital_name = null")
        c.execute("update discharge set hospital_name = '测试医院（首页）'")
        r = build_monthly(c, "2022-06", hospital_id="H1")
        assert r.title == "测试医院（首页）质量月报（2022年6月）"
        # no name anywhere: 本院, never the code
        c.execute("update discharge set hospital_name = null")
        r = build_annual(c, 2022)
        assert r.title == "本院2022年度工作报告（数据篇）" and "H1" not in r.title
    finally:
        c.close()


def test_charts_present_when_cjk_font_exists(con, tmp_path):
    from docx import Document

    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (run scripts/setup-reports.sh)")
    # annual.yaml has two charts (workload, revenue structure) whose items all have values in the literal
    # warehouse; the monthly report has the 12-month discharge trend
    for r, n in ((build_annual(con, 2022), 2), (build_monthly(con, "2022-06"), 1)):
        doc = Document(str(write(r, tmp_path, formats=("docx",))[0]))
        assert len(doc.inline_shapes) == n, r.title
        assert not [w for w in r.warnings if "图表" in w]


def test_page_images_written_and_numbers_unbroken(con, tmp_path):
    """Render each report to PDF and every page to PNG (kept under test-artifacts/reports, git-ignored, and the
    pytest tmp dir); the PDF text holds each table number on one line."""
    from PIL import Image

    if soffice() is None or not shutil.which("pdftoppm") or not shutil.which("pdftotext"):
        pytest.skip("LibreOffice/poppler-utils not installed: run scripts/setup-reports.sh (as root) to render pages")
    reports = [build_annual(con, 2022), build_monthly(con, "2022-06")]
    docs = [write(r, tmp_path, formats=("docx",))[0] for r in reports]
    pdfs = docx_to_pdf(docs, tmp_path)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS.parent / ".gitignore").write_text("*\n", encoding="utf-8")
    for r, pdf in zip(reports, pdfs):
        stem = tmp_path / pdf.stem
        subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(stem)], check=True, timeout=120)
        pages = sorted(tmp_path.glob(f"{pdf.stem}-*.png"))
        assert pages
        sizes = [Image.open(p).size for p in pages]
        assert sizes[0][0] < sizes[0][1]                        # first page portrait
        assert any(w > h for w, h in sizes)                     # the indicator table on a landscape page
        for p in pages:
            shutil.copy(p, ARTEFACTS / p.name)
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        lines = set(text.split())
        numbers = {c for s in r.sections for t in s.tables for row in t.rows for c in
                   [_num(v) for v in row] if c}
        # hand-checked examples from reports_fixtures: 7.20 天 vs 7.75, 20.00% death rate, 10000.00 元
        assert {"7.20", "7.75", "20.00%", "10000.00"} <= numbers
        broken = sorted(n for n in numbers if n not in lines)
        assert not broken, f"{pdf.name}: numbers split across lines: {broken}"


def _num(v) -> str | None:
    from yunying.reports.writers import _cell_text

    if isinstance(v, tuple):
        return _cell_text(v, "")
    return None
