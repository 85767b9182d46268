"""Benchmark: web dashboard latency under load and first page render (issue 7).

    .venv/bin/python bench/web_load.py [--db WAREHOUSE | --scale 0.1 --years 2021,2022] [--users 20] [--seconds 60]

With the demo hospital loaded (generated at --scale for --years and imported, DRG-grouped with the demo scheme,
cached in --work between runs; or an existing warehouse given by --db, copied first), the script starts
`yunying serve` in its own process on 127.0.0.1 (a free port, loopback only), logs in --users clients (half as the
leader, half as 科主任 of different departments via temporary accounts) and lets each call, in random turn, the
全院概览 and 科室视图 APIs (random year/month filters), the 绩效指标 department pivot page (/engine?level=department:
random family, year, sort, status filter and page) and the filtered 病例清单 page (/cases: department, a DRG or a
discharge date range, a page; audit-logged like every case list) for --seconds: a bounded loop that stops by
itself. It prints the machine, the p50/p95/p99 latency per endpoint and the request rate, then the first render of
全院概览 in headless chromium (navigation start → charts drawn), cold and warm. Targets: p95 ≤ 300 ms, render < 2 s.
Results go to docs/benchmarks.md under "## Web (issue 7)" (appended; other sections untouched) unless --no-doc.
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/machine.py, also when loaded by path
from machine import machine_line as machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password-1"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]



def prepare(args) -> Path:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.duckdb"
    if args.db:
        shutil.copy(args.db, db)
        return db
    tag = work / f"ready-{args.scale}-{args.years}"
    if db.exists() and tag.exists():
        return db
    from yunying.cli.demo import _drg_stage, import_folder
    from yunying.synth.generator import generate

    years = [int(y) for y in args.years.split(",")]
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    db.unlink(missing_ok=True)
    t = time.perf_counter()
    print(f"generating demo hospital (scale {args.scale}, years {args.years}) …", flush=True)
    generate(profile="tertiary-general", years=years, scale=args.scale, seed=42, out=data)
    import_folder(db, data, quiet=True)
    _drg_stage(db)
    tag.touch()
    print(f"  ready in {time.perf_counter() - t:.0f} s", flush=True)
    return db


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="existing warehouse (copied); default: generate the demo hospital")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--years", default="2021,2022")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "yunying-bench-web"))
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-requests", type=int, default=200_000, help="hard bound on requests in total")
    ap.add_argument("--renders", type=int, default=5)
    ap.add_argument("--no-doc", action="store_true", help="do not append to docs/benchmarks.md")
    args = ap.parse_args()

    import duckdb
    import httpx

    from yunying.cli.web import demo_accounts
    from yunying.web.appdb import add_user, make_engine, session_factory

    info = machine()
    print("machine:", info)
    db = prepare(args)
    con = duckdb.connect(str(db), read_only=True)
    n_dis = con.execute("select count(*) from discharge").fetchall()[0][0]
    depts = [r[0] for r in con.execute("select discharge_dept_code, count(*) from discharge group by 1 "
                                       "order by 2 desc limit 10").fetchall()]
    hosp = con.execute("select min(hospital_id) from discharge").fetchall()[0][0]
    drgs = [r[0] for r in con.execute("select drg, count(*) from drg_result where status = 'SUCCESS' group by 1 "
                                      "order by 2 desc limit 20").fetchall()]
    con.close()
    print(f"warehouse: {db} ({n_dis:,} discharges)")

    app_db = db.with_name("bench.app.sqlite")
    app_db.unlink(missing_ok=True)
    url = f"sqlite:///{app_db}"
    demo_accounts(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        add_user(s, "bench_leader", PASSWORD, "leader", hospital=hosp, replace=True)
        for d in depts:
            add_user(s, f"bench_{d.lower()}", PASSWORD, "dept_head", dept=d, hospital=hosp, replace=True)
    engine.dispose()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "yunying.cli.main", "serve", "--db", str(db), "--host",
                               "127.0.0.1", "--port", str(port), "--app-db", url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(ROOT))
    try:
        for _ in range(600):
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("server did not start")
        results = load(base, depts, drgs, args)
        render = renders(base, args.renders)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()

    lines = report(info, n_dis, args, results, render)
    print("\n".join(lines))
    if not args.no_doc:
        append_doc(lines)


FAMILIES = ["tertiary-general"] * 3 + ["operating", "drg"]     # the default family most often
SORTS = ["", "", "name", "not_met"]
STATUSES = ["", "", "not_met", "no_target"]


def request_for(kind: str, rnd: random.Random, leader: bool, own: str, depts: list[str], drgs: list[str]):
    """(path, params) of one request of `kind` (random filters as a user would pick them)."""
    year = rnd.choice([2021, 2022])
    if kind in ("overview", "dept"):
        params = {"year": year}
        if rnd.random() < 0.5:
            params["month"] = rnd.randint(1, 12)
        return ("/api/overview" if kind == "overview" else f"/api/dept/{rnd.choice(depts) if leader else own}"), params
    if kind == "pivot":
        family = rnd.choice(FAMILIES)
        sort = rnd.choice(SORTS + (["OP-08"] if family == "operating" else []))   # by an indicator's values
        params = {"level": "department", "family": family, "period": year, "sort": sort,
                  "status": rnd.choice(STATUSES), "page": rnd.choice([1, 1, 2])}
        return "/engine", {k: v for k, v in params.items() if v != ""}
    params = {"page": rnd.choice([1, 1, 2, 3])}
    if leader and rnd.random() < 0.7:
        params["dept"] = rnd.choice(depts)
    pick = rnd.random()
    if pick < 0.4 and drgs:
        params["drg"] = rnd.choice(drgs)
    else:
        m = rnd.randint(1, 12)
        params["from"] = f"{year}-{m:02d}-01"
        params["to"] = f"{year}-{m:02d}-28" if pick < 0.8 else f"{year}-12-31"
    return "/cases", params


def load(base: str, depts: list[str], drgs: list[str], args) -> dict:
    import httpx

    lat: dict[str, list[float]] = {"overview": [], "dept": [], "pivot": [], "cases": []}
    errors = [0]
    lock = threading.Lock()
    deadline = [0.0]
    budget = [args.max_requests]
    cold: dict[str, float] = {}

    def client(i: int) -> None:
        user = "bench_leader" if i % 2 == 0 else f"bench_{depts[(i // 2) % len(depts)].lower()}"
        c = httpx.Client(base_url=base, timeout=30)
        r = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
        r.raise_for_status()
        rnd = random.Random(i)
        own = depts[(i // 2) % len(depts)]
        ready.wait()
        while time.perf_counter() < deadline[0]:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            leader = i % 2 == 0
            kind = rnd.choice(["overview", "dept", "pivot", "cases"] if leader else ["dept", "pivot", "cases"])
            path, params = request_for(kind, rnd, leader, own, depts, drgs)
            t = time.perf_counter()
            r = c.get(path, params=params)
            dt = time.perf_counter() - t
            with lock:
                if r.status_code == 200:
                    lat[kind].append(dt)
                else:
                    errors[0] += 1
        c.close()

    # cold calls (first request after start: the cached aggregates are built here)
    c = httpx.Client(base_url=base, timeout=60)
    c.post("/api/auth/login", json={"username": "bench_leader", "password": PASSWORD}).raise_for_status()
    for kind, path in (("overview", "/api/overview"), ("dept", f"/api/dept/{depts[0]}"),
                       ("pivot", "/engine?level=department"), ("cases", f"/cases?dept={depts[0]}&page=2")):
        t = time.perf_counter()
        c.get(path).raise_for_status()
        cold[kind] = time.perf_counter() - t
    c.close()

    ready = threading.Event()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.users)]
    for t in threads:
        t.start()
    time.sleep(1.0 + 0.2 * args.users)       # logins (scrypt) before the clock starts
    start = time.perf_counter()
    deadline[0] = start + args.seconds
    ready.set()
    for t in threads:
        t.join(args.seconds + 60)
    wall = time.perf_counter() - start
    return {"lat": lat, "errors": errors[0], "wall": wall, "cold": cold}


def renders(base: str, n: int) -> dict | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    out = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for i in range(n):
            ctx = b.new_context(viewport={"width": 1400, "height": 1000})     # fresh cache: cold every time
            page = ctx.new_page()
            page.goto(base + "/login")
            page.fill("#username", "leader")
            page.fill("#password", "yunying-leader")
            page.click("#login-submit")
            page.wait_for_url("**/overview")
            cold_t = None
            t = time.perf_counter()
            page.goto(base + "/overview?year=2022")
            page.wait_for_selector("#trend-chart canvas")
            page.wait_for_load_state("load")
            cold_t = time.perf_counter() - t
            t = time.perf_counter()
            page.goto(base + "/overview?year=2021")
            page.wait_for_selector("#trend-chart canvas")
            page.wait_for_load_state("load")
            warm_t = time.perf_counter() - t
            out.append((cold_t, warm_t))
            ctx.close()
        b.close()
    return {"cold": [c for c, _ in out], "warm": [w for _, w in out]}


def report(info, n_dis, args, res, render) -> list[str]:
    lat = res["lat"]
    total = sum(len(v) for v in lat.values())
    lines = [f"machine: {info}",
             f"data: demo hospital {n_dis:,} discharges ({args.years}); {args.users} concurrent users for "
             f"{res['wall']:.0f} s on loopback; {total:,} requests ({total / res['wall']:.0f}/s), "
             f"{res['errors']} errors",
             "",
             "| API call | requests | p50 ms | p95 ms | p99 ms | first call ms | target p95 |",
             "|---|---|---|---|---|---|---|"]
    names = {"overview": "全院概览 GET /api/overview", "dept": "科室视图 GET /api/dept/{code}",
             "pivot": "绩效指标 科室透视 GET /engine?level=department (page)",
             "cases": "病例清单 筛选 GET /cases?dept/drg/from/to/page (page)"}
    for k, v in lat.items():
        ms = [x * 1000 for x in v]
        lines.append(f"| {names[k]} | {len(v):,} | {pct(ms, 50):.0f} | {pct(ms, 95):.0f} | {pct(ms, 99):.0f} | "
                     f"{res['cold'].get(k, 0) * 1000:.0f} | ≤ 300 |")
    if render and render["cold"]:
        lines += ["", f"first render of 全院概览 in headless chromium (navigation → charts drawn, median of "
                      f"{len(render['cold'])}): cold cache {statistics.median(render['cold']):.2f} s "
                      f"(max {max(render['cold']):.2f}), warm {statistics.median(render['warm']):.2f} s; target < 2 s"]
    else:
        lines += ["", "render: skipped (playwright or /usr/bin/chromium missing; run scripts/setup-browser.sh)"]
    return lines


def append_doc(lines: list[str]) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    head = "## Web (issue 7)"
    cmd = "`" + " ".join([".venv/bin/python", "bench/web_load.py"] + sys.argv[1:]) + "`"
    entry = "\n".join([f"### Run {time.strftime('%Y-%m-%d %H:%M')} — {cmd}", ""] + lines) + "\n"
    if head not in text:
        text = text.rstrip("\n") + f"\n\n{head}\n\n{__doc__.split(chr(10) + chr(10))[2].strip()}\n\n{entry}"
    else:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        end = len(text) if nxt == -1 else nxt + 1
        section = text[start:end].rstrip("\n") + "\n\n" + entry
        text = text[:start] + section + ("\n" + text[end:] if nxt != -1 else "")
    doc.write_text(text, encoding="utf-8")
    print(f"appended to {doc}")


if __name__ == "__main__":
    main()
