"""Browser tests: Playwright driving Debian's chromium (scripts/setup-browser.sh installs it and a CJK font).
Log in, open 全院概览, drill down from an indicator to a case, upload a file with a bad row and see the reject
report, log out. Skips with a message when the browser cannot be installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD, close_app, discharge_file_with_bad_row, new_app

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SETUP = Path(__file__).resolve().parents[2] / "scripts" / "setup-browser.sh"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        try:
            subprocess.run(["sh", str(SETUP)], check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"chromium could not be installed by scripts/setup-browser.sh: {exc}")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not available at /usr/bin/chromium (run scripts/setup-browser.sh)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except Exception as exc:  # noqa: BLE001 — any launch problem is an environment problem
            pytest.skip(f"chromium did not start: {exc}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(demo_folder, tmp_path_factory):
    import uvicorn

    app = new_app(demo_folder, tmp_path_factory.mktemp("browser"))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)
    close_app(app)


def test_login_drill_down_upload_logout(browser, server, demo_folder, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(server) else None)

    # log in
    page.goto(server + "/")
    assert "/login" in page.url
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/overview")
    assert page.locator("h1").inner_text().startswith("全院概览")
    page.wait_for_selector("#trend-chart canvas")
    shot = tmp_path / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    _assert_not_blank(shot)
    if os.environ.get("YUNYING_SCREENSHOTS"):                   # keep the picture for docs / a human look
        shutil.copy(shot, Path(os.environ["YUNYING_SCREENSHOTS"]) / "overview.png")

    # drill down: indicator → cases → one case with its DRG explanation
    page.click("[data-indicator='OP-28']")
    page.wait_for_url("**/indicator/OP-28**")
    page.wait_for_selector("#breakdown-chart canvas")
    assert "住院患者死亡率" in page.locator("h1").inner_text()
    page.click("#view-cases")                                   # the engine's drill-down
    page.wait_for_url("**/engine/cases?**")
    assert page.locator("#engine-case-table tbody tr").count() > 0
    page.locator("a.case-link").first.click()
    page.wait_for_url("**/case/**")
    drg = page.locator("#drg-section").inner_text()
    assert "MDC" in drg and "主要诊断" in drg
    assert page.locator("#qc-section").inner_text()          # QC defects or a clear "not run yet"

    # upload a file with a bad row and see the reject report
    bad = discharge_file_with_bad_row(demo_folder, tmp_path / "补报首页.csv", n_rows=6, mrn_prefix="BRW")
    page.goto(server + "/import")
    page.select_option("#upload-kind", "discharge")
    page.set_input_files("#upload-files", str(bad))
    page.click("#upload-submit")
    page.wait_for_selector("#upload-jobs table.rejects", timeout=60_000)
    report = page.locator("#upload-jobs").inner_text()
    assert "IMP-DATE" in report and "2022-13-01" in report
    assert page.locator("#upload-jobs .rejected-count").inner_text() == "1"
    assert page.locator("#upload-jobs .pct").inner_text() == "100%"

    # English switch
    page.goto(server + "/overview?lang=en")
    assert page.locator("h1").inner_text().startswith("Hospital overview")
    page.goto(server + "/overview?lang=zh")

    # log out
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(server + "/overview")
    assert "/login" in page.url
    assert not external, f"requests left the server: {external[:3]}"
    page.close()


def _assert_not_blank(png: Path) -> None:
    assert png.stat().st_size > 20_000
    try:
        from PIL import Image
    except ImportError:
        return
    img = Image.open(png).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100                                        # not a single flat colour
    colours = img.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 20


def test_pre_submission_check_page(browser, server, tmp_path):
    """病案质控 → 首页预检: paste one record as JSON, see its score and the L002 finding with its fix hint."""
    import json

    from tests.qc.helpers import record

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server + "/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/overview")
    page.goto(server + "/qc")
    page.click("#qc-check-link")
    page.wait_for_url("**/qc/check")
    page.fill("textarea[name=json_text]", json.dumps(record("BR00001", SJZYTS="7"), ensure_ascii=False))
    page.click("#qc-check button[value=html]")
    page.wait_for_selector("#check-result")
    result = page.locator("#check-result").inner_text()
    assert "BR00001/1" in result and "98" in result and "L002" in result and "实际住院天数" in result
    shot = tmp_path / "qc_check.png"
    page.screenshot(path=str(shot), full_page=True)
    _assert_not_blank(shot)
    if os.environ.get("YUNYING_SCREENSHOTS"):
        shutil.copy(shot, Path(os.environ["YUNYING_SCREENSHOTS"]) / "qc_check.png")
    page.close()
