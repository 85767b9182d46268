"""Data flows one way: a module imports only from layers upstream of it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "yunying"

# upstream → downstream; a module may import its own layer and any earlier one
LAYERS = [
    {"settings", "model"},
    {"warehouse"},
    {"ingest", "synth"},
    {"drg", "qc"},
    {"economics", "indicators", "cost"},
    {"reports"},
    {"web"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def imported_capabilities(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("yunying."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("yunying.")}
    return found


def test_no_upward_imports():
    upward = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        own = rel.parts[0].removesuffix(".py")
        if own not in RANK:
            continue
        for cap in imported_capabilities(path):
            if cap in RANK and RANK[cap] > RANK[own]:
                upward.append(f"{rel} imports yunying.{cap}")
    assert upward == []


def test_every_capability_has_a_layer():
    names = {p.name.removesuffix(".py") for p in PKG.iterdir() if not p.name.startswith(("_", "."))}
    assert names - {"__pycache__"} <= set(RANK)
