"""POST /api/qc/check with bad bodies (issue 15 item 5): every class of tests/badinput/test_qc_check_bad_input.py
answers 400 with a stable code and a bilingual message — never a 500 or FastAPI's bare "error parsing the body" —
and nothing is stored."""

from __future__ import annotations

import json

from tests.badinput.test_qc_check_bad_input import BAD_JSON
from tests.qc.helpers import record
from tests.web.conftest import wh_sql


def test_api_check_refuses_bad_bodies_with_a_code(app, clients):
    c = clients["qc"]
    before = wh_sql(app, "select count(*) from discharge")[0][0]
    for label, raw, code, words in BAD_JSON:
        if raw.startswith(b"{"):                                      # the same record, wrapped as {"record": …}
            body = b'{"record": ' + raw + b"}"
        else:
            body = raw
        r = c.post("/api/qc/check", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (label, r.status_code, r.text[:300])
        err = r.json()["error"]
        assert err["code"] == code and words in err["zh"] + err["en"], (label, err)
    # wrongly typed envelope: `records` not an array, `record` not an object, the body not an object
    for body, words in (({"records": "x"}, "records"), ({"record": [1]}, "record"), ([1, 2], "对象")):
        r = c.post("/api/qc/check", content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "QC-INPUT-TYPE" and words in r.json()["error"]["zh"]
    r = c.post("/api/qc/check", json={"records": [record("WB00001"), "not a record"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "QC-INPUT-TYPE" and "第 2 份" in r.json()["error"]["zh"]
    assert wh_sql(app, "select count(*) from discharge")[0][0] == before
    # a good record still checks
    ok = c.post("/api/qc/check", json={"record": record("WB00002")})
    assert ok.status_code == 200 and ok.json()["records"][0]["score"] == 100.0


def test_api_check_body_still_documented(clients):
    doc = clients["admin"].get("/openapi.json").json()
    body = doc["paths"]["/api/qc/check"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"record", "records"} <= set(body["properties"])
