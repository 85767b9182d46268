"""Screenshots of the web app's main pages for docs/web.md (docs/img/web/*.png), from the synthetic demo hospital.

    .venv/bin/python scripts/web-screenshots.py                 # demo data in build/web-screens (made once)
    .venv/bin/python scripts/web-screenshots.py --out docs/img/web --demo build/web-screens --scale 0.02

Generates the demo hospital when its folder has no warehouse yet (generate, import, DRG grouping, record QC, DRG
economics, indicators — the `yunying demo run` stages except the report files), serves it on a free local port,
signs in with the demo accounts (院领导 `leader` for the analysis pages — identifiers masked as a leader sees them —
and `admin` for 数据导入 and 系统管理) and saves each page 1366 px wide, cut at MAX_HEIGHT px and reduced to a
256-colour palette so each file stays small. Needs chromium and Playwright like the browser tests
(scripts/setup-browser.sh)."""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT, MAX_HEIGHT = 1366, 900, 1800

# (file name, account, how to reach the page: a path, or (path, CSS selector of the link to follow there))
PAGES = [
    ("overview", "leader", "/overview"),                                   # 全院概览
    ("dept", "leader", ("/dept", "a[href^='/dept/CARD1']")),                # 科室视图 (the demo 科主任's)
    ("indicator", "leader", ("/overview", "[data-indicator]")),             # 指标详情
    ("engine", "leader", "/engine"),                                       # 绩效指标
    ("cases", "leader", "/cases"),                                         # 病例清单
    ("case", "leader", ("/cases", "a[href^='/case/']")),                    # 病例详情
    ("drg", "leader", "/drg"),                                             # DRG分析
    ("qc", "leader", "/qc"),                                               # 病案质控
    ("import", "admin", "/import"),                                        # 数据导入
    ("admin", "admin", "/admin"),                                          # 系统管理
]


def make_demo(folder: Path, scale: float) -> Path:
    """The demo warehouse in `folder` (built once; delete the folder to rebuild)."""
    db = folder / "demo.duckdb"
    if db.is_file():
        return db
    from yunying.cli.demo import _later_stages, import_folder
    from yunying.synth.generator import generate

    folder.mkdir(parents=True, exist_ok=True)
    generate(profile="tertiary-general", years=[2021, 2022], scale=scale, seed=42, out=folder)
    import_folder(db, folder, quiet=True)
    for name, stage in _later_stages():
        if name != "reports":                          # report files are not needed for the pages
            stage(db)
    return db


def serve(db: Path, app_db: str):
    import uvicorn

    from yunying.web.app import create_app
    from yunying.web.config import WebSettings

    app = create_app(WebSettings(db=db, app_db_url=app_db))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        time.sleep(0.05)
    return app, srv, t, f"http://127.0.0.1:{port}"


def shrink(png: Path) -> None:
    """256-colour palette (text and charts stay sharp; the file shrinks to a fraction)."""
    from PIL import Image

    img = Image.open(png).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "web")
    ap.add_argument("--demo", type=Path, default=ROOT / "build" / "web-screens", help="demo folder (kept)")
    ap.add_argument("--scale", type=float, default=0.02)
    a = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from yunying.cli.web import DEMO_ACCOUNTS, demo_accounts

    db = make_demo(a.demo, a.scale)
    passwords = {u: p for u, p, *_ in DEMO_ACCOUNTS}
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yunying-shots-") as tmp:
        work = Path(tmp) / "demo.duckdb"
        shutil.copy(db, work)                           # the server writes (cache, jobs); keep the demo as built
        app_db = f"sqlite:///{Path(tmp) / 'app.sqlite'}"
        demo_accounts(app_db)
        app, srv, thread, base = serve(work, app_db)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                pages = {}
                for user in {acc for _, acc, _ in PAGES}:
                    ctx = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
                    page = ctx.new_page()
                    page.goto(base + "/login")
                    page.fill("#username", user)
                    page.fill("#password", passwords[user])
                    page.click("#login-submit")
                    page.wait_for_load_state("networkidle")
                    pages[user] = page
                for name, user, how in PAGES:
                    page = pages[user]
                    path, link = (how, None) if isinstance(how, str) else how
                    page.goto(base + path, wait_until="networkidle")
                    if link:
                        page.locator(link).first.click()
                        page.wait_for_load_state("networkidle")
                    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
                    out = a.out / f"{name}.png"
                    page.screenshot(path=str(out), full_page=True,
                                    clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
                    shrink(out)
                    print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}  {page.url[len(base):]}  "
                          f"{out.stat().st_size // 1024} KB")
                browser.close()
        finally:
            srv.should_exit = True
            thread.join(10)
            app.state.ctx.jobs.wait_idle(30)
            app.state.ctx.jobs.stop()
            app.state.ctx.wh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
