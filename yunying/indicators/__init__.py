"""Indicator engine (issue 6): catalogues as YAML over fixed semantic views, compiled to SQL (DuckDB; Spark via SQLGlot).

Public API:
    load_catalogue(extra=None) -> Catalogue
    compute(con, catalogue, family=..., period="2022", grain="year", level="hospital", ...) -> list[dict]
    cases(con, catalogue, indicator_id, period=..., level=..., key=..., part="numerator") -> CaseResult
"""

from yunying.indicators.catalogue import Catalogue, CatalogueError, Indicator, load_catalogue  # noqa: F401
from yunying.indicators.engine import (  # noqa: F401
    COLUMNS, alerts, cases, compute, computability, px_dict_rows, load_px_dict,
)
