"""DRG grouping: scheme packs (pack.py), the set-based batch grouper (grouper.py), single-case explanation
(explain.py), the warehouse registry / runs / payer reconciliation (store.py) and Spark (spark.py)."""

from pathlib import Path

DEMO_SCHEME = Path(__file__).resolve().parent / "demo_scheme"  # demo data, see demo_scheme/README.md
