"""User-facing errors of the cost package: a stable COST-* code, Chinese first, then English, with the fix."""

from __future__ import annotations


class CostError(ValueError):
    """A plan or data problem the user can fix; the CLI prints it without a traceback. Nothing stored changed."""

    def __init__(self, code: str, zh: str, en: str):
        super().__init__(f"[{code}] {zh} / {en}")
        self.code, self.zh, self.en = code, zh, en
