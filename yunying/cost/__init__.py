"""Cost accounting 成本核算 (issue 17, docs/cost.md)."""
