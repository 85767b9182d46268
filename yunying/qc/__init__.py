"""Record quality control 病案首页质控 (issue 5): rule catalogue, set-based engine, scoring, pre-submission checks.

Public API (imported lazily): check_record, check_file, Finding, run_qc, load_catalogue.
"""

from __future__ import annotations

_EXPORTS = {"check_record": "yunying.qc.check", "check_file": "yunying.qc.check", "Finding": "yunying.qc.check",
            "run_qc": "yunying.qc.engine", "load_catalogue": "yunying.qc.loader"}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
