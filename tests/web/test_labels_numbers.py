"""Issue 16 (items 1, 2): the case page and the engine drill-down speak Chinese — column names from the data model,
codes decoded through their domains, DRG steps by their labels — and print numbers by unit (counts whole, money with
thousands separators and 元, times to the second); ?lang=en shows English labels."""

from __future__ import annotations

import html
import re

from tests.web.conftest import wh_sql

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def _visible(page: str) -> str:
    """The text a reader sees in <main>: tags, scripts and styles removed, entities decoded."""
    main = page.split("<main", 1)[-1].split("</main>", 1)[0]
    main = re.sub(r"<(script|style)\b.*?</\1>", " ", main, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", main))


def _female_case(app):
    """A grouped female case with a procedure time and a fee (the demo has many)."""
    return wh_sql(app, "select d.hospital_id, d.mrn, d.admission_no, d.fee_total, d.payment_category, d.admit_time "
                       "from discharge d join drg_result r using (hospital_id, mrn, admission_no) "
                       "where d.sex = '2' and d.fee_total >= 1000 and r.status = 'SUCCESS' "
                       "and exists (select 1 from discharge_procedure p where p.hospital_id = d.hospital_id "
                       "and p.mrn = d.mrn and p.admission_no = d.admission_no and p.px_time is not null) "
                       "order by d.mrn limit 1")[0]


def test_case_page_chinese_labels_decoded_codes_and_numbers(app, clients):
    h, m, a, fee, pay, admit = _female_case(app)
    page = clients["qc"].get(f"/case/{h}/{m}/{a}").text
    text = _visible(page)
    assert SNAKE.findall(text) == []                       # no id_number, payment_category, mdc_enter …
    assert re.search(r"<th>性别</th><td>女</td>", page)     # sex 2 decoded through the sex domain
    pay_zh = {"1": "城镇职工基本医疗保险", "7": "全自费", "2": "城镇居民基本医疗保险"}.get(pay)
    if pay_zh:                                             # 医疗付费方式 decoded (domain payment_category)
        assert f"<th>医疗付费方式</th><td>{pay_zh}</td>" in page
    # money: thousands separator, two decimals, 元 (12345.6 -> 12,345.60元), worked with Python's own grouping
    assert f"<th>住院总费用</th><td>{float(fee):,.2f}元</td>" in page
    assert "," in f"{float(fee):,.2f}"
    # times to the second, never microseconds; counts whole (住院天数 8, not 8.00)
    assert f"<th>入院时间</th><td>{admit:%Y-%m-%d %H:%M:%S}</td>" in page
    assert not re.search(r"\d:\d\d:\d\d\.\d", text)
    assert re.search(r"<th>实际住院天数</th><td>\d+</td>", page)
    # 出院科别: the code with the department's name from the department dictionary
    code, name = wh_sql(app, "select d.discharge_dept_code, p.dept_name from discharge d join department p "
                             "on p.hospital_id = d.hospital_id and p.dept_code = d.discharge_dept_code "
                             "where d.hospital_id = ? and d.mrn = ? and d.admission_no = ?", (h, m, a))[0]
    assert f"<th>出院科别</th><td>{code} {name}</td>" in page
    # DRG steps by label, not code
    assert "主要诊断大类（MDC）" in text and "核心疾病诊断相关组（ADRG）匹配" in text
    assert "（性别 女，" in text and "性别 2" not in text        # the DRG check step decodes sex too


def test_case_page_english_keeps_english_labels(app, clients):
    h, m, a, *_ = _female_case(app)
    page = clients["qc"].get(f"/case/{h}/{m}/{a}?lang=en").text
    assert "<th>payment category</th>" in page and "<th>sex</th><td>2 女</td>" in page
    assert "ADRG matched" in page
    clients["qc"].get(f"/case/{h}/{m}/{a}?lang=zh")     # the language cookie back to Chinese for other tests


def test_engine_drill_down_headers_and_values(app, clients):
    c = clients["qc"]
    page = c.get("/engine/cases?indicator=G3-04&period=2022").text
    text = _visible(page)
    assert SNAKE.findall(text) == []                       # no hospital_id / mrn / period_month / c0 headers
    head = re.search(r'id="engine-case-table"><thead><tr>(.*?)</tr>', page).group(1)
    ths = re.findall(r"<th>(.*?)</th>", head)
    assert ths[:3] == ["医疗机构", "病案号", "住院次数"] and "月份" in ths and "科室代码" in ths
    assert "numerator" not in text and "分子" in text
    cells = re.findall(r"<td>([^<]*)</td>", page.split('id="engine-case-table"', 1)[1])
    assert cells and not any(re.fullmatch(r"\d+\.0+", x) for x in cells)     # counts never 87.00
    assert re.search(r"<td>2022-\d\d</td>", page) and not re.search(r"<td>2022-\d\d-01</td>", page)  # 月份
    en = c.get("/engine/cases?indicator=G3-04&period=2022&lang=en").text
    assert "<th>hospital</th>" in en and "<th>admission no</th>" in en
    c.get("/engine/cases?indicator=G3-04&period=2022&lang=zh")


def test_engine_export_headers_from_the_same_labels(clients):
    r = clients["qc"].get("/api/export/engine/cases.csv?indicator=G3-04&period=2022")
    header = r.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:3] == ["医疗机构 hospital_id", "病案号 mrn", "住院次数 admission_no"]
    assert "月份 period_month" in header
    assert all(not SNAKE.fullmatch(h) for h in header)     # every column has its Chinese name
