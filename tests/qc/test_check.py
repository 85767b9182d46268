"""Pre-submission checks: a GB18030 national-layout file (with an unparseable row) is checked without being stored,
injected defects are found (recall against the generator's defects_truth.csv), and the single-record API."""

from __future__ import annotations

import csv
import json

import pytest

from yunying.qc.check import CheckError, check_file, check_record, check_records
from yunying.synth.generator import generate

from .helpers import BASE, record, run_records, write_csv

HEADER = ["BAH", "ZYCS", "rule_id", "severity", "field", "value", "message"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    res = generate(profile="tertiary-general", years=[2022], scale=0.004, seed=1, out=out, kinds={"discharge"})
    path = res.files["discharge"][0]
    # corrupt one record's 入院时间 (line 3) so that the importer rejects it (IMP-DATE)
    lines = path.read_bytes().decode("gb18030").splitlines(keepends=True)
    head = lines[0].rstrip("\r\n").split(",")
    body = lines[2].rstrip("\r\n")
    ending = lines[2][len(body):]
    cells = body.split(",")
    bad_bah, bad_zycs = cells[head.index("BAH")], cells[head.index("ZYCS")]
    cells[head.index("RYSJ")] = "2022-13-45 08:00"
    lines[2] = ",".join(cells) + ending
    path.write_bytes("".join(lines).encode("gb18030"))
    return out, path, (bad_bah, bad_zycs)


def read(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_check_file_gb18030_recall_and_rejects(generated, tmp_path):
    out, path, (bad_bah, bad_zycs) = generated
    res = check_file(path, tmp_path / "findings.csv", tmp_path / "summary.csv", dictionaries="demo")
    with open(tmp_path / "findings.csv", encoding="utf-8-sig") as fh:
        assert next(csv.reader(fh))[:7] == HEADER
    rows = read(tmp_path / "findings.csv")
    # the rejected row appears as an E finding with the import code
    rej = [r for r in rows if r["rule_id"] == "IMP-DATE"]
    assert [(r["BAH"], r["ZYCS"], r["severity"], r["field"]) for r in rej] == [(bad_bah, bad_zycs, "E", "RYSJ")]
    # recall: every injected defect (L002, C015, D001, F002, C001) of a stored record is found with its rule id
    truth = read(out / "defects_truth.csv")
    truth = [t for t in truth if (t["mrn"], t["admission_no"]) != (bad_bah, bad_zycs)]
    assert truth, "the generator injected no defects"
    found = {(r["BAH"], r["ZYCS"], r["rule_id"]) for r in rows}
    missed = [t for t in truth if (t["mrn"], t["admission_no"], t["rule_id"]) not in found]
    print(f"recall {len(truth) - len(missed)}/{len(truth)}")
    assert not missed
    # nothing stored anywhere: the summary has one row per stored record with score and grade
    summ = read(tmp_path / "summary.csv")
    assert len(summ) == res.records == 559 and res.rejected == 1
    assert {"BAH", "ZYCS", "score", "grade"} <= set(summ[0]) and {s["grade"] for s in summ} <= {"甲", "乙", "丙"}


def test_check_file_xlsx(tmp_path):
    from openpyxl import Workbook

    src = write_csv([record("XL0001", SJZYTS="7"), record("XL0002", SFZH="-")], tmp_path / "r.csv")
    wb = Workbook()
    ws = wb.active
    for row in csv.reader(open(src, encoding="utf-8")):
        ws.append(row)
    wb.save(tmp_path / "r.xlsx")
    check_file(tmp_path / "r.xlsx", tmp_path / "f.csv", tmp_path / "s.csv", dictionaries="demo")
    rows = read(tmp_path / "f.csv")
    assert [(r["BAH"], r["rule_id"], r["field"], r["value"]) for r in rows] == [("XL0001", "L002", "SJZYTS", "7")]
    assert {r["BAH"]: r["score"] for r in read(tmp_path / "s.csv")} == {"XL0001": "98.0", "XL0002": "100.0"}


def test_check_record_lists_and_wide_columns():
    rec = dict(BASE, SJZYTS="3", diagnoses=[{"code": "W19.x99", "name": "跌倒", "poa": "1"},
                                            {"code": "N83.200", "name": "卵巢囊肿", "poa": "1"}])
    fs = check_record(rec, dictionaries="demo")
    got = {(f.rule_id, f.field) for f in fs}
    assert {("L002", "SJZYTS"), ("D101", "JBDM"), ("D001", "JBDM1")} <= got
    json.dumps([f.as_dict() for f in fs], ensure_ascii=False)           # JSON-serialisable
    d101 = next(f for f in fs if f.rule_id == "D101")
    assert d101.severity == "E" and "W19.x99" in d101.message and d101.points == 8.0
    # the same record with national wide columns instead of lists
    wide = {k: v for k, v in rec.items() if k not in ("diagnoses", "procedures")}
    wide.update({"JBDM": "W19.x99", "ZYZD": "跌倒", "RYBQ": "1", "JBDM1": "N83.200", "QTZD1": "卵巢囊肿", "RYBQ1": "1"})
    got2 = {(f.rule_id, f.field) for f in check_record(wide, dictionaries="demo")}
    assert {("L002", "SJZYTS"), ("D101", "JBDM"), ("D001", "JBDM1")} <= got2
    # canonical names are accepted too
    canon = dict(BASE, los_days="3")
    canon.pop("SJZYTS")
    assert ("L002", "SJZYTS") in {(f.rule_id, f.field) for f in check_record(canon, dictionaries="demo")}


def test_check_record_rejects_become_findings():
    fs = check_record(dict(BASE, RYSJ="not a date"))
    assert [(f.rule_id, f.severity, f.field) for f in fs] == [("IMP-DATE", "E", "RYSJ")]


def test_dictionary_rules_not_applicable_without_dictionary():
    con, s = run_records([record("ND0001", diagnoses=[{"code": "ZZZ.999", "name": "x", "poa": "1"}])],
                         dictionaries=None)
    st = {x.rule_key: x for x in s.statuses}
    for key in ("V003", "V003/name", "V005", "C013", "C014", "T003"):
        assert st[key].status == "not_applicable"
    assert "未加载诊断字典" in st["V003"].reason and "no dx dictionary" in st["V003"].reason
    assert con.execute("select count(*) from qc_finding where rule_id = 'V003'").fetchall() == [(0,)]
    assert con.execute("select pdx_code_checked, pdx_code_ok from qc_record").fetchall() == [(False, None)]


def test_dictionary_from_a_drg_scheme_pack(shared):
    pack = shared / "drg" / "chs-drg-1.1"
    if not (pack / "diagnoses.csv").exists():
        pytest.skip("chs-drg-1.1 pack absent")
    con, s = run_records([record("PK0001", diagnoses=[{"code": "ZZZ.999", "name": "x", "poa": "1"}]),
                          record("PK0002", diagnoses=[{"code": "A00.000", "name": "霍乱，由于O1群霍乱弧菌，霍乱生物型所致",
                                                       "poa": "1"}])],
                         dictionaries={"scheme": pack})
    bad = con.execute("select mrn, rule_key from qc_finding where rule_id = 'V003' and field = 'dx_code'").fetchall()
    assert bad == [("PK0001", "V003")]


def test_check_record_agrees_with_check_file(generated, tmp_path):
    """The single-record path (its own connection, optimizer off) reports for each record what the file check
    reports for it — apart from rules that compare a record with other records (same patient, same ward)."""
    from yunying.qc.loader import load_catalogue

    _, path, (bad_bah, bad_zycs) = generated
    check_file(path, tmp_path / "findings.csv", dictionaries="demo")
    cross = {r.id for r in load_catalogue().rules
             if r.kind in ("overlapping_stays", "readmission_31d", "admission_order", "ward_midnight")}
    by_rec: dict = {}
    for r in read(tmp_path / "findings.csv"):
        if r["rule_id"] not in cross:
            by_rec.setdefault((r["BAH"], r["ZYCS"]), set()).add((r["rule_id"], r["severity"], r["field"], r["value"]))
    with open(path, encoding="gb18030", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if (r["BAH"], r["ZYCS"]) != (bad_bah, bad_zycs)]
    # records covering as many different rules as possible (greedy), and a few clean ones
    flagged, seen = [], set()
    for r in sorted((r for r in rows if (r["BAH"], r["ZYCS"]) in by_rec),
                    key=lambda r: -len({f[0] for f in by_rec[(r["BAH"], r["ZYCS"])]})):
        ids = {f[0] for f in by_rec[(r["BAH"], r["ZYCS"])]}
        if ids - seen and len(flagged) < 12:
            flagged.append(r)
            seen |= ids
    clean = [r for r in rows if (r["BAH"], r["ZYCS"]) not in by_rec][:3]
    print(f"rules compared: {sorted(seen)}")
    assert len(seen) >= 8, seen
    for row in flagged + clean:
        got = {(f.rule_id, f.severity, f.field, "" if f.value is None else str(f.value))
               for f in check_record({k: v for k, v in row.items() if v != ""}, dictionaries="demo")
               if f.rule_id not in cross}
        assert got == by_rec.get((row["BAH"], row["ZYCS"]), set()), (row["BAH"], row["ZYCS"])


def test_check_records_batch():
    """Several records in one call: results in the order given, scores as `qc run` gives them, a rejected record
    with its import finding and no score, a key given twice with different content rejected twice (IMP-DUP)."""
    # (an address with a line break, a comma and quotes before the rejected record: results still line up)
    recs = [record("BT0001", SJZYTS="7", XZZ='湖南省长沙市\n芙蓉区,"解放路"1号'), record("BT0002", RYSJ="not a date"),
            record("BT0003"), record("BT0004", SJZYTS="7"), record("BT0004", SJZYTS="9")]
    res = check_records(recs, dictionaries="demo")
    assert [(r.BAH, r.ZYCS) for r in res] == [("BT0001", 1), ("BT0002", 1), ("BT0003", 1), ("BT0004", 1),
                                              ("BT0004", 1)]
    con, s = run_records([record("BT0001", SJZYTS="7"), record("BT0003")])
    qc_scores = dict(con.execute("select mrn, cast(score as double) from qc_record").fetchall())
    assert (res[0].score, res[2].score) == (qc_scores["BT0001"], qc_scores["BT0003"]) == (98.0, 100.0)
    assert [(f.rule_id, f.field, f.value) for f in res[0].findings] == [("L002", "SJZYTS", "7")]
    assert res[0].grade == "甲" and res[0].passed is True
    # the batch is checked together: BT0003 (same 身份证号 and dates as BT0001, from BASE) overlaps it (L015)
    assert [f.rule_id for f in res[2].findings] == ["L015"] and "BT0001/1" in res[2].findings[0].message
    assert res[1].score is None and [(f.rule_id, f.field) for f in res[1].findings] == [("IMP-DATE", "RYSJ")]
    assert [[f.rule_id for f in r.findings] for r in res[3:]] == [["IMP-DUP"], ["IMP-DUP"]]
    # the same record sent twice (same content): stored once, both entries get its score and findings
    twice = check_records([record("BT0005", SJZYTS="7"), record("BT0005", SJZYTS="7")], dictionaries="demo")
    assert [(r.score, [f.rule_id for f in r.findings]) for r in twice] == [(98.0, ["L002"]), (98.0, ["L002"])]
    d = res[0].as_dict()
    assert d["n_error"] == 1 and d["findings"][0]["rule_id"] == "L002"
    json.dumps([r.as_dict() for r in res], ensure_ascii=False)
    assert check_records([]) == []
    with pytest.raises(CheckError):
        check_records(["not a record"])
