"""首页预检 in the web app: POST /api/qc/check (JSON, for the web page and a HIS) and the /qc/check page (file or
JSON). Nothing is stored; the warehouse's dictionaries are used; every check is audited; modules enforced."""

from __future__ import annotations

import csv
import io
import json
import re

from tests.qc.helpers import id_number, record, write_csv
from tests.web.conftest import audit_rows, login, wh_sql


def test_api_check_records(app, clients):
    before = wh_sql(app, "select count(*) from discharge")[0][0]
    recs = [record("WC00001", SJZYTS="7"), record("WC00002", RYSJ="not a date")]
    r = clients["card1"].post("/api/qc/check", json={"records": recs})        # a doctor checks before submitting
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["n_records"] == 2 and [x["BAH"] for x in d["records"]] == ["WC00001", "WC00002"]
    first, second = d["records"]
    # L002 worked by hand: 2022-03-01 → 2022-03-06 is 5 days, 7 given; 2 points off the 100-point score
    assert [(f["rule_id"], f["field"], f["value"]) for f in first["findings"]] == [("L002", "SJZYTS", "7")]
    assert first["score"] == 98.0 and first["grade"] == "甲" and first["n_error"] == 1
    assert second["score"] is None and [f["rule_id"] for f in second["findings"]] == ["IMP-DATE"]
    assert d["n_findings"] == 2 and d["n_passed"] == 1
    # nothing stored, the check audited (number of records, not their content)
    assert wh_sql(app, "select count(*) from discharge")[0][0] == before
    assert wh_sql(app, "select count(*) from discharge where mrn like 'WC%'") == [(0,)]
    a = audit_rows(app, username="card1", action="qc_check")
    assert a and a[-1].rows == 2 and a[-1].target == "json"
    # one record as `record`
    one = clients["qc"].post("/api/qc/check", json={"record": record("WC00003")}).json()
    assert one["n_records"] == 1 and one["records"][0]["findings"] == [] and one["records"][0]["score"] == 100.0


def test_api_check_uses_the_warehouse_dictionaries(app, clients):
    rec = record("WC00010", diagnoses=[{"code": "K35.800", "name": "急性阑尾炎", "poa": "1"},
                                       {"code": "ZZZ.999", "name": "不存在", "poa": "1"}])
    had = wh_sql(app, "select count(*) from qc_dictionary")[0][0]
    if had == 0:
        d = clients["qc"].post("/api/qc/check", json={"record": rec}).json()
        assert d["dictionaries"] is False and "V003" not in {f["rule_id"] for f in d["records"][0]["findings"]}
        wh_sql(app, "insert into qc_dictionary (kind, code, name) values ('dx', 'K35.800', '急性阑尾炎'), "
                    "('dx', 'I10.x00', '原发性高血压'), ('px', '47.0100', '腹腔镜阑尾切除术')")
        app.state.ctx.wh.bump()                           # a new data version: the check reloads the dictionaries
    d = clients["qc"].post("/api/qc/check", json={"record": rec}).json()
    assert d["dictionaries"] is True
    v003 = [f for f in d["records"][0]["findings"] if f["rule_id"] == "V003"]
    assert [(f["field"], f["value"]) for f in v003 if f["field_name"] == "dx_code"] == [("JBDM1", "ZZZ.999")]


def test_api_check_refusals(app, clients):
    assert clients["ops"].post("/api/qc/check", json={"record": record("WC1")}).status_code == 403   # no qc module
    assert clients["insurance"].post("/api/qc/check", json={"record": record("WC1")}).status_code == 403
    r = clients["qc"].post("/api/qc/check", json={})
    assert r.status_code == 400 and r.json()["error"]["code"] == "WEB-QC-CHECK"
    r = clients["qc"].post("/api/qc/check", json={"records": [record(f"WC{i:05d}") for i in range(1001)]})
    assert r.status_code == 400 and "1000" in r.json()["error"]["zh"]
    c = login(app, "qc")
    del c.headers["X-CSRF-Token"]
    assert c.post("/api/qc/check", json={"record": record("WC1")}).status_code == 403                 # CSRF


def _csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/qc/check").text).group(1)


def test_check_page_json_and_file(app, tmp_path):
    c = login(app, "records")
    page = c.get("/qc/check")
    assert page.status_code == 200 and 'id="qc-check"' in page.text
    assert 'href="/qc/check"' in c.get("/qc").text
    csrf = _csrf(c)
    r = c.post("/qc/check", data={"csrf_token": csrf, "format": "html",
                                  "json_text": json.dumps(record("WP00001", SJZYTS="7"), ensure_ascii=False)})
    assert r.status_code == 200 and 'id="check-result"' in r.text and "L002" in r.text and "98" in r.text
    r = c.post("/qc/check", data={"csrf_token": csrf, "format": "csv",
                                  "json_text": json.dumps([record("WP00002", SJZYTS="7")], ensure_ascii=False)})
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert "attachment" in r.headers["content-disposition"]
    assert [(x["BAH"], x["rule_id"], x["field"], x["value"]) for x in rows] == [("WP00002", "L002", "SJZYTS", "7")]
    bad = c.post("/qc/check", data={"csrf_token": csrf, "json_text": "{not json"})
    assert bad.status_code == 400 and "QC-INPUT-JSON" in bad.text
    # the page's JSON box parses like the API: a 5,000-digit number and deep nesting are 400s with a code, not 500s
    for text, code in (("[" + "9" * 5000 + "]", "QC-INPUT-NUMBER"), ("[" * 100000 + "]" * 100000, "QC-INPUT-DEPTH")):
        bad = c.post("/qc/check", data={"csrf_token": csrf, "json_text": text})
        assert bad.status_code == 400 and code in bad.text, (code, bad.status_code)
    # a file name with a path is refused, never joined to the temp folder
    bad = c.post("/qc/check", data={"csrf_token": csrf}, files={"file": ("../evil.csv", b"BAH\n1\n")})
    assert bad.status_code == 400 and "WEB-UPLOAD-NAME" in bad.text
    # a file in the national layout: two records of two patients, one with a defect
    other = id_number("430102", "1980-05-10", "021")
    src = write_csv([record("WF00001", SJZYTS="7"), record("WF00002", SFZH=other)], tmp_path / "upload.csv")
    with open(src, "rb") as fh:
        r = c.post("/qc/check", data={"csrf_token": csrf, "format": "html"}, files={"file": ("upload.csv", fh)})
    assert r.status_code == 200 and 'id="check-file-result"' in r.text and "WF00001" in r.text and "L002" in r.text
    with open(src, "rb") as fh:
        r = c.post("/qc/check", data={"csrf_token": csrf, "format": "csv"}, files={"file": ("upload.csv", fh)})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["BAH"], x["rule_id"], x["field"], x["value"]) for x in rows] == [("WF00001", "L002", "SJZYTS", "7")]
    assert wh_sql(app, "select count(*) from discharge where mrn like 'WF%' or mrn like 'WP%'") == [(0,)]
    assert [a.target for a in audit_rows(app, username="records", action="qc_check")][-4:] == \
        ["form", "form", "upload.csv", "upload.csv"]
