"""Shared fixtures. ../shared (the domain reference) is found beside the repository or via YUNYING_SHARED."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("YUNYING_SHARED", REPO.parent / "shared"))


@pytest.fixture
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"../shared not found at {path}: reference data absent (set YUNYING_SHARED)")
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "w.duckdb"
