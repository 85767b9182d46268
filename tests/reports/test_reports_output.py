"""Template overrides, docx/xlsx contents, first-page rendering, CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yunying.reports import build_annual, build_monthly, write
from yunying.reports.charts import CjkFontError, find_cjk_font, missing_glyphs, render
from yunying.reports.model import Chart
from yunying.reports.templating import ReportTemplateError, shipped_dir
from yunying.reports.writers import docx_to_pdf, pdf_first_page_png, soffice


def test_user_templates_override_shipped(con, tmp_path):
    tpl = tmp_path / "tpl"
    (tpl / "annual").mkdir(parents=True)
    # a user folder: annual.yaml with 药占比 at 0 decimals, and a replaced revenue sentence template
    spec = (shipped_dir() / "annual.yaml").read_text(encoding="utf-8")
    spec = spec.replace("{key: drug_share, indicator: OP-03, label: 药占比, unit: \"%\",",
                        "{key: drug_share, indicator: OP-03, label: 住院患者药占比, unit: \"%\", decimals: 0,")
    (tpl / "annual.yaml").write_text(spec, encoding="utf-8")
    (tpl / "annual" / "revenue.j2").write_text(
        "{% if v.drug_share.ok %}{{ v.drug_share.label }}为{{ v.drug_share }}，{{ v.drug_share.yoy }}。{% endif %}\n",
        encoding="utf-8")
    r = build_annual(con, 2022, templates=tpl)
    # 23.00% vs 24.00% at 0 decimals → the seed-document sentence
    assert [p.text for p in r.section("revenue").paragraphs] == ["住院患者药占比为23%，较同期下降1个百分点。"]
    assert "平均住院日7.20天" in r.text()           # other sections still from the shipped templates


def test_broken_user_template_names_file(con, tmp_path):
    tpl = tmp_path / "tpl"
    (tpl / "annual").mkdir(parents=True)
    (tpl / "annual" / "workload.j2").write_text("{{ v.no_such_item }}\n", encoding="utf-8")
    with pytest.raises(ReportTemplateError, match="workload.j2"):
        build_annual(con, 2022, templates=tpl)


def test_docx_and_xlsx_contents(con, tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    r = build_annual(con, 2022)
    paths = write(r, tmp_path, formats=("docx", "xlsx"))
    assert [p.suffix for p in paths] == [".docx", ".xlsx"]
    doc = Document(str(paths[0]))
    heads = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert heads == ["一、医疗服务工作量", "二、运行效率", "三、医疗质量与安全", "四、DRG 评价", "五、收入结构与费用",
                     "六、成本核算"]
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "尚未运行成本核算（yunying cost run），2022年无成本核算结果，本节从略。" in body      # no cost run: a note only
    assert "平均住院日7.20天，较同期下降0.55天" in body
    assert len(doc.tables) == 5 and len(doc.inline_shapes) >= 1           # tables and charts
    wb = load_workbook(paths[1])
    assert wb.sheetnames == ["概要", "一、医疗服务工作量", "二、运行效率", "三、医疗质量与安全", "四、DRG 评价",
                             "五、收入结构与费用", "六、成本核算", "数据来源"]
    ws = wb["二、运行效率"]
    cells = {ws.cell(row=i, column=1).value: (ws.cell(row=i, column=4), ws.cell(row=i, column=5))
             for i in range(1, ws.max_row + 1)}
    cur, prev = cells["平均住院日"]
    assert (cur.value, prev.value, cur.number_format) == (pytest.approx(7.2), pytest.approx(7.75), "0.00")
    rev = wb["五、收入结构与费用"]
    drug = [r for r in rev.iter_rows(values_only=False) if r[0].value == "药占比"][0]
    assert drug[3].value == pytest.approx(0.23) and drug[3].number_format == "0.00%"   # % stored as a fraction
    prov = wb["数据来源"]
    hdr = [c.value for c in prov[1]]
    rows = [dict(zip(hdr, [c.value for c in r])) for r in prov.iter_rows(min_row=2)]
    alos = [x for x in rows if x["指标编号"] == "OP-08"][0]
    assert (alos["期间"], alos["数值"], alos["比较期"], alos["比较期数值"]) == ("2022", pytest.approx(7.2), "2021",
                                                                      pytest.approx(7.75))
    assert alos["语句"].startswith("平均住院日7.20天，较同期下降0.55天")


def test_chart_font_has_glyphs():
    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (run scripts/setup-reports.sh)")
    family, path = find_cjk_font()
    chart = Chart("主要工作量（本年与上年）", "bar", ["出院人次", "手术台次"], {"2021年": [4, 1], "2022年": [5, 2]}, "人次")
    assert missing_glyphs("主要工作量出院人次手术台次年", path) == ""
    png = render(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(CjkFontError):                 # a character no CJK font has → refuse, never draw boxes
        render(Chart("\U000f0000", "bar", ["a"], {"x": [1]}))


def test_chart_font_found_when_matplotlib_cache_predates_it(monkeypatch):
    """A font cache built before fonts-noto-cjk was installed lists no CJK font: the font is still found on disk."""
    from matplotlib import font_manager

    import yunying.reports.charts as ch

    ch.find_cjk_font.cache_clear()
    found = ch.find_cjk_font()
    ch.find_cjk_font.cache_clear()
    if found is None:
        pytest.skip("no CJK font installed (run scripts/setup-reports.sh)")
    stale = [e for e in font_manager.fontManager.ttflist if e.fname != found[1]
             and not {ord(c) for c in ch.PROBE} <= ch._cmap(e.fname)]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    try:
        again = ch.find_cjk_font()
    finally:
        ch.find_cjk_font.cache_clear()
    assert again is not None and Path(again[1]).exists()
    assert ch.missing_glyphs(ch.PROBE, again[1]) == ""


def _not_blank(png: Path) -> None:
    from PIL import Image

    im = Image.open(png).convert("L")
    hist = im.histogram()
    dark = sum(hist[:200])
    assert len([h for h in hist if h]) > 1, "first page is a single colour"
    assert dark > 0.002 * im.width * im.height, "first page is (almost) blank"


def test_first_page_renders_not_blank(con, tmp_path):
    if soffice() is None or shutil.which("pdftoppm") is None:
        pytest.skip("LibreOffice/pdftoppm not installed: run scripts/setup-reports.sh (as root) to render PDF/PNG")
    docs = write(build_annual(con, 2022), tmp_path, formats=("docx",))
    docs += write(build_monthly(con, "2022-06", dept="B"), tmp_path, formats=("docx",))
    pdfs = docx_to_pdf(docs, tmp_path)                  # one LibreOffice start for both reports
    for pdf in pdfs:
        png = pdf_first_page_png(pdf, tmp_path / (pdf.stem + ".png"))
        assert png is not None
        _not_blank(png)


def test_pdf_skipped_with_note_when_no_libreoffice(con, tmp_path, monkeypatch):
    import yunying.reports.writers as w

    monkeypatch.setattr(w, "soffice", lambda: None)
    r = build_monthly(con, "2022-06")
    paths = write(r, tmp_path)
    assert [p.suffix for p in paths] == [".docx", ".xlsx"]
    assert any("LibreOffice" in x for x in r.warnings)


def test_cli_monthly_and_annual(literal_db, tmp_path):
    from yunying.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["report", "monthly", "--db", str(literal_db), "--month", "2022-06", "--dept", "B",
                              "--out", str(tmp_path), "--formats", "docx,xlsx"])
    assert res.exit_code == 0, res.output
    assert "质量月报_2022-06_B.docx" in res.stdout and "质量月报_2022-06_B.xlsx" in res.stdout
    res = runner.invoke(app, ["report", "annual", "--db", str(literal_db), "--year", "2022", "--out", str(tmp_path),
                              "--formats", "xlsx"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "年度工作报告数据篇_2022.xlsx").is_file()
    res = runner.invoke(app, ["report", "monthly", "--db", str(literal_db), "--month", "2022-13", "--out",
                              str(tmp_path)])
    assert res.exit_code == 1 and "2022-06" in res.output


def test_demo_stage_writes_latest_year_and_month(literal_db, tmp_path, capsys):
    from yunying.cli.report import demo_stage

    db = tmp_path / "demo.duckdb"
    shutil.copy(literal_db, db)
    demo_stage(db, formats=("docx", "xlsx"))
    names = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert "年度工作报告数据篇_2022.docx" in names and "质量月报_2022-06.xlsx" in names


def test_no_cjk_font_drops_charts_with_visible_warning(con, tmp_path, monkeypatch):
    from docx import Document

    import yunying.reports.charts as ch

    monkeypatch.setattr(ch, "find_cjk_font", lambda: None)
    r = build_annual(con, 2022)
    paths = write(r, tmp_path, formats=("docx",))
    assert any("未找到中文字体" in w and "setup-reports.sh" in w for w in r.warnings)
    doc = Document(str(paths[0]))
    assert len(doc.inline_shapes) == 0
    assert any("未找到中文字体" in p.text for p in doc.paragraphs)        # the warning is printed in the report


def test_build_report_entry_point(con):
    from yunying.reports import build_report

    assert build_report(con, "monthly", "2022-06", "B").dept_code == "B"
    assert build_report(con, "annual", "2022").kind == "annual"
    with pytest.raises(ValueError):
        build_report(con, "weekly", "2022")


def test_cli_unknown_department_fails_clearly(literal_db, tmp_path):
    from yunying.cli.main import app

    res = CliRunner().invoke(app, ["report", "monthly", "--db", str(literal_db), "--month", "2022-06", "--dept", "ZZ",
                                   "--out", str(tmp_path), "--formats", "xlsx"])
    assert res.exit_code == 1 and "ZZ" in res.output and "A、B" in res.output
