"""Yunying (运营): hospital- and department-level operations and quality decision support."""

__version__ = "0.1.0"
