"""Fixtures for tests/reports: the literal warehouse of reports_fixtures.py (figures worked by hand there)."""

from __future__ import annotations

import pytest

from reports_fixtures import build_literal
from yunying.warehouse.db import connect


@pytest.fixture(scope="session")
def literal_db(tmp_path_factory):
    p = tmp_path_factory.mktemp("rep") / "lit.duckdb"
    build_literal(p)
    return p


@pytest.fixture
def con(literal_db):
    c = connect(literal_db)
    yield c
    c.close()
