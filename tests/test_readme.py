"""The README's tour runs as written (issue 15 item 2), and its numbers are `make demo`'s (issue 14).

Every command of the "A short tour" bash block is run in order, in a fresh folder with `../shared` beside it, with
the installed `yunying` first on PATH (what `source .venv/bin/activate` does). `yunying serve` is started, must
answer, and is stopped. Then `yunying demo run` (what `make demo` runs) processes the same generated files into
its own warehouse, and the indicators and DRG metrics of both warehouses must be identical. Synthetic data only.
"""

from __future__ import annotations

import csv
import io
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, shared_dir

pytestmark = pytest.mark.slow


def tour_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## A short tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_tour_block_is_found_and_covers_every_area():
    words = {shlex.split(c, comments=True)[1] for c in tour_commands() if c.startswith("yunying")}
    assert {"demo", "import", "drg", "qc", "indicators", "report", "users", "serve", "stats", "sql"} <= words


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _run(argv: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{shlex.join(argv)} failed ({r.returncode}):\n{r.stderr[-3000:]}\n{r.stdout[-2000:]}"
    return r


def _serve(argv: list[str], cwd: Path, env: dict) -> None:
    port = int(argv[argv.index("--port") + 1])
    if not _port_free(port):
        pytest.skip(f"port {port} of the README's serve command is in use on this machine")
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"yunying serve exited: {proc.stderr.read()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
                    assert resp.status == 200 and "登录" in resp.read().decode("utf-8")
                    return
            except OSError:
                assert time.monotonic() < deadline, "yunying serve did not answer within 120 s"
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _table(text: str) -> list[dict]:
    """CSV rows without the columns that name a run (run ids are unique per run by design)."""
    return [{k: v for k, v in r.items() if "run" not in k} for r in csv.DictReader(io.StringIO(text))]


def test_readme_tour_runs_as_written_and_matches_make_demo(tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    have_shared = shared_dir().is_dir()
    if have_shared:
        (tmp_path / "shared").symlink_to(shared_dir().resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUNYING_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    skipped = []
    for line in tour_commands():
        argv = shlex.split(line, comments=True)
        if argv[:1] == ["source"]:
            continue                                      # PATH above does what activate does
        if not have_shared and any("shared" in a or "chs-drg" in a for a in argv):
            skipped.append(line)                          # the national pack lives in ../shared
            continue
        if argv[:2] == ["yunying", "serve"]:
            _serve(argv, work, env)
        else:
            _run(argv, work, env)
    # the same files through `make demo`'s pipeline, into its own warehouse
    _run(["yunying", "demo", "run", "--out", "demo-data", "--scale", "0.1"], work, env)
    for args in (["indicators", "compute", "--family", "三级综合", "--period", "2022", "--level", "department",
                  "--format", "csv"],
                 ["drg", "metrics", "--period", "2022", "--level", "department", "--format", "csv"]):
        tour = _table(_run(["yunying", *args, "--db", "demo.duckdb"], work, env).stdout)
        demo = _table(_run(["yunying", *args, "--db", "demo-data/demo.duckdb"], work, env).stdout)
        assert len(tour) > 10 and tour == demo, args
    if skipped:
        print("skipped without ../shared:", *skipped, sep="\n  ")
