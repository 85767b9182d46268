"""Every data file of the package (catalogues, templates, offline web assets) is declared as package data, so a
regular (non-editable) install on an intranet machine has everything."""

from __future__ import annotations

import fnmatch
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_all_package_files_are_package_data():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    tracked = subprocess.run(["git", "ls-files", "yunying"], cwd=REPO, capture_output=True, text=True).stdout.split()
    if not tracked:  # not a git checkout (e.g. an sdist): look at the files instead
        tracked = [str(p.relative_to(REPO)) for p in (REPO / "yunying").rglob("*") if p.is_file()]
    data = [f for f in tracked if not f.endswith(".py") and "__pycache__" not in f]
    missing = [f for f in data if not any(fnmatch.fnmatch(Path(f).name, p) for p in patterns)]
    assert missing == []
    # and no asset is fetched from a CDN at run time
    for f in data:
        if f.endswith((".html", ".j2")):
            text = (REPO / f).read_text(encoding="utf-8")
            assert "cdn." not in text and "//unpkg" not in text, f
