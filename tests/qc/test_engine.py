"""Engine: the two ways of producing details for the single-scan row-local rules (hit arms' own SELECTs for small
runs, one CASE detail query for large runs) give identical findings; re-running replaces results."""

from __future__ import annotations

import yunying.qc.engine as engine
from yunying.qc.loader import load_catalogue

from .helpers import record, run_records


def _all(con):
    return sorted(con.execute("select mrn, rule_key, field, seq, value, expected, message_zh, message_en, "
                              "cast(points as double), item, tag from qc_finding").fetchall(), key=str)


def test_small_and_large_detail_paths_agree(monkeypatch):
    recs = [record("E00001", SJZYTS="9", XX=None, YB1="1"),
            record("E00002", diagnoses=[{"code": "W19.x99", "name": "跌倒", "poa": "4"},
                                        {"code": "N83.200", "name": "卵巢囊肿"}]),
            record("E00003", procedures=[{"code": "47.0100", "name": "腹腔镜阑尾切除术", "time": "2022-03-09 10:00:00",
                                          "level": "7"}], QTF="6000.00")]
    con1, s1 = run_records(recs)
    monkeypatch.setattr(engine, "SMALL_RUN", 0)
    con2, s2 = run_records(recs)
    small, large = _all(con1), _all(con2)
    assert small == large and len(small) > 10
    assert con1.execute("select mrn, score from qc_record order by 1").fetchall() == \
        con2.execute("select mrn, score from qc_record order by 1").fetchall()


def test_rerun_replaces_results():
    con, s1 = run_records([record("R00001", SJZYTS="9")])
    s2 = engine.run_qc(con, load_catalogue(use_env=False))
    assert con.execute("select distinct run_id from qc_finding").fetchall() == [(s2.run_id,)]
    assert con.execute("select count(*) from qc_record").fetchall() == [(1,)]
    assert con.execute("select count(*) from qc_run").fetchall() == [(2,)]
