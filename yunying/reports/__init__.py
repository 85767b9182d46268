"""Reports (issue 8): 质量月报 and 年度工作报告数据篇 as .docx / .xlsx (and .pdf when LibreOffice is installed).

Public API (used by the CLI and the web app's download button):
    build_monthly(con, month, dept=None, *, templates=None, hospital_id=None) -> Report
    build_annual(con, year, *, templates=None, hospital_id=None) -> Report
    build_report(con, kind, period, dept=None)  -> Report   (kind: monthly | annual; for the web app)
    write(report, out_dir, formats=("docx", "xlsx", "pdf")) -> list[Path]
See docs/reports.md.
"""

from yunying.reports.build import build_annual, build_monthly, build_report  # noqa: F401
from yunying.reports.model import Report  # noqa: F401
from yunying.reports.templating import ReportTemplateError  # noqa: F401
from yunying.reports.writers import FORMATS, write  # noqa: F401
