"""Errors of the item / case costing engine (cost-case slice): stable code, Chinese first, then English."""

from __future__ import annotations


class CostCaseError(Exception):
    def __init__(self, code: str, zh: str, en: str):
        super().__init__(f"{code}: {zh} / {en}")
        self.code, self.zh, self.en = code, zh, en
