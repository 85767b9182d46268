"""The 2016 100-point scheme in Python (the engine computes the same in SQL, see engine.score_sql): each item is
deducted once (per-row items: per row, up to the item maximum), each section at most its total (扣完为止)."""

from __future__ import annotations

from collections.abc import Iterable

from yunying.qc.loader import Scoring


def deductions(findings: Iterable[tuple[str | None, int | None, float]], scoring: Scoring) -> dict[str, float]:
    """findings: (item or 'a|b' items, seq, nominal points). Returns section -> capped deduction."""
    per_item: dict[str, dict[int, float]] = {}
    for item, seq, points in findings:
        if not item or not points or points <= 0:
            continue
        parts = item.split("|")
        for it in parts:
            s = -1 if seq is None else seq
            row = per_item.setdefault(it, {})
            row[s] = max(row.get(s, 0.0), float(points) / len(parts))
    sections: dict[str, float] = {}
    for it, rows in per_item.items():
        si = scoring.items[it]
        d = min(si.max, sum(rows.values())) if si.per_row else max(rows.values())
        sections[si.section] = sections.get(si.section, 0.0) + d
    return {s: min(scoring.sections[s], d) for s, d in sections.items()}


def score(findings: Iterable[tuple[str | None, int | None, float]], scoring: Scoring) -> float:
    return max(0.0, 100.0 - sum(deductions(findings, scoring).values()))
