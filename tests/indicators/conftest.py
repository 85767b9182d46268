"""Fixtures of tests/indicators: the hand-made warehouse (data in indfixtures.py) and the catalogue."""

from __future__ import annotations

import pytest

from indfixtures import build
from yunying.warehouse.db import connect


@pytest.fixture()
def wh():
    con = connect(":memory:")
    build(con)
    yield con
    con.close()


@pytest.fixture(scope="module")
def wh_mod():
    con = connect(":memory:")
    build(con)
    yield con
    con.close()


@pytest.fixture(scope="session")
def catalogue():
    from yunying.indicators import load_catalogue

    return load_catalogue(use_env=False)
