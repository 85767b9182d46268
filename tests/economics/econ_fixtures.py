"""Tiny literal warehouses for the economics tests: a few cases with fees, groups and LOS written out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from yunying.warehouse.db import connect


def case(mrn, drg, fee, *, year=2022, month=3, status="SUCCESS", los=5, died=False, dept="GS", team=None,
         pay="1", hospital="H1", icu=None):
    return dict(mrn=mrn, drg=drg, fee=fee, year=year, month=month, status=status, los=los, died=died, dept=dept,
                team=team, pay=pay, hospital=hospital, icu=icu)


def build(path: Path, cases: list[dict], *, scheme="t", levels: dict | None = None):
    """Write hospital, discharge and drg_result rows for ``cases``; returns an open connection."""
    con = connect(path)
    hospitals = sorted({c["hospital"] for c in cases})
    for h in hospitals:
        con.execute("insert into hospital (hospital_id, hospital_name, level) values (?, ?, ?)",
                    [h, h, (levels or {}).get(h, "tertiary")])
    for c in cases:
        con.execute("""insert into discharge (hospital_id, mrn, admission_no, payment_category, discharge_time,
                       discharge_dept_code, doctor_group, los_days, discharge_disposition, fee_total, icu_hours)
                       values (?, ?, 1, ?, make_timestamp(?, ?, 15, 10, 0, 0), ?, ?, ?, ?, ?, ?)""",
                    [c["hospital"], c["mrn"], c["pay"], c["year"], c["month"], c["dept"], c["team"], c["los"],
                     "5" if c["died"] else "1", c["fee"], c["icu"]])
        grouped = c["status"] == "SUCCESS"
        drg = c["drg"] if grouped or c["status"] == "QY" else "0000"
        con.execute("""insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc,
                       adrg, drg) values (?, ?, 1, ?, 'h', ?, ?, ?, ?)""",
                    [c["hospital"], c["mrn"], scheme, c["status"],
                     ("MDC" + drg[0]) if grouped else "0000", drg[:3] if grouped else "00", drg])
    return con


@pytest.fixture
def tiny(tmp_path):
    def make(cases, **kw):
        return build(tmp_path / "t.duckdb", cases, **kw)
    return make


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
