"""Engine: small runs (only the arms that fire are planned) and large runs (every arm over the violating rows)
give identical findings; class columns give the same findings as inline code-list tests; re-running replaces
results."""

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


def test_class_columns_match_inline_code_list_tests(monkeypatch):
    # in_list(<bare column>, '<list>') compiles to a lookup column computed once per distinct code, and the
    # dictionary kinds read lookup columns too; the inline forms (upper(left(code, n)) in (...), EXISTS / join with
    # qc_dictionary) must give the very same findings on the pass/fail example records of every rule
    # (tests/qc/test_rules.py)
    import yunying.qc.loader as loader

    from .test_rules import CASES

    recs = []
    for i, (key, (fail, ok)) in enumerate(CASES.items()):
        recs.append(record(fail.get("BAH", f"F{i:05d}"), **{k: v for k, v in fail.items() if k != "BAH"}))
        recs.append(record(ok.get("BAH", f"P{i:05d}"), **{k: v for k, v in ok.items() if k != "BAH"}))
    depts = [("H9", "GS"), ("H9", "EMER")]
    cat = load_catalogue(use_env=False)
    assert any(c.startswith("_in__pdx_code__") for r in cat.rules for c in r.columns)
    assert any(c.startswith("_in__dx_code__") for r in cat.rules for c in r.columns)
    con1, _ = run_records(recs, departments=depts, catalogue=cat)
    keys_with_lookups = {r.key for r in cat.rules if r.kind in ("code_in_dictionary", "name_matches_dictionary")
                         and engine.is_row_local(r)}
    assert con1.execute("select count(*) from duckdb_tables() where table_name like '_qc_cls_%'").fetchall()[0][0] >= 3
    monkeypatch.setattr(loader, "CLASSIFIABLE", {"rec": set(), "dx": set(), "px": set()})
    engine._COMPILED.clear()
    inline = load_catalogue(use_env=False)
    assert not any(c.startswith("_in__") for r in inline.rules for c in r.columns)
    con2, _ = run_records(recs, departments=depts, catalogue=inline)
    engine._COMPILED.clear()
    with_classes, without = _all(con1), _all(con2)
    assert with_classes == without and len(with_classes) > 200
    assert {k for k, in con1.execute("select distinct rule_key from qc_finding").fetchall()} >= {
        "D001", "D002", "D003", "D004", "D007", "D101", "C015", "C016", "F009", "V003", "V005"}
    # dictionary kinds ran as row-local lookups in the first run, as EXISTS / join forms in the second
    assert {"V003", "V005"} <= {k.split("/")[0] for k in keys_with_lookups}


def test_rewrite_fragment_classifies_bare_columns_only():
    from yunying.qc.loader import classify_for, rewrite_fragment, source_columns

    lists = load_catalogue(use_env=False).code_lists
    allowed = source_columns("rec")
    sql, cols = rewrite_fragment("in_list(pdx_code, 'neoplasm') and not in_list(ext_cause_code, 'external_cause')",
                                 lists, "t", allowed, {}, classify_for("rec"))
    assert '_in__pdx_code__neoplasm' in sql and '_in__ext_cause_code__external_cause' in sql
    assert {"pdx_code", "ext_cause_code", "_in__pdx_code__neoplasm"} <= cols
    # in_list on a lambda variable or an expression is expanded inline — here the lambda becomes a code-list fact
    # and the expression on pdx_code a code fact; a lambda that also reads a record column, and an expression over
    # two columns, stay inline
    sql, cols = rewrite_fragment("len(list_filter(odx_codes, c -> in_list(c, 'malignant'))) > 0 "
                                 "and in_list(left(pdx_code, 3), 'neoplasm')", lists, "t", allowed, {},
                                 classify_for("rec"))
    assert "_in__" not in sql and "'C00'" not in sql and "_any__odx_codes__" in sql and "_fx__pdx_code__" in sql
    assert "pdx_code" in cols and "odx_codes" not in cols
    sql, _ = rewrite_fragment("len(list_filter(odx_codes, c -> left(c, 1) = left(pdx_code, 1))) > 0 "
                              "and in_list(left(pdx_code, 3) || sex, 'neoplasm')", lists, "t", allowed, {},
                              classify_for("rec"))
    assert "_any__" not in sql and "_fx__" not in sql and "'C00'" in sql
    # without `classify` everything stays inline
    sql, _ = rewrite_fragment("in_list(pdx_code, 'neoplasm') and upper(left(pdx_code, 1)) = 'C'", lists, "t",
                              allowed, {})
    assert "_in__" not in sql and "_fx__" not in sql and "'D48'" in sql


def test_tcm_aggregates_are_constants_without_tcm_rows():
    # a western warehouse (no TD/TS diagnosis rows): the aggregate subquery without TCM aggregates gives the same
    # rows as the full one
    con, _ = run_records([record("W00001"), record("W00002", diagnoses=[{"code": "K35.800", "name": "急性阑尾炎"}])])
    assert con.execute("select count(*) from discharge_diagnosis where dx_type in ('TD', 'TS')").fetchall() == [(0,)]
    names = set(engine.DXA_ITEMS) | {"all_dx_codes"}
    cols = ", ".join(sorted(engine.DXA_ITEMS))
    full = con.execute(f"select {cols} from {engine.dxa_sql(names, '', True)} order by all").fetchall()
    lean = con.execute(f"select {cols} from {engine.dxa_sql(names, '', False)} order by all").fetchall()
    assert full == lean and len(full) == 2
    assert "'TD'" not in engine.dxa_sql(names, "", False)


def test_one_hospital_run_matches_the_full_run_and_keeps_the_others():
    # `yunying qc run --hospital H8`: the same findings for H8 as a run over all hospitals (lookup tables, same-patient
    # stays and sources all restricted or supersets), and H9's results untouched
    recs = [record("H8A", ZZJGDM="H8", SJZYTS="9", diagnoses=[{"code": "S72.000", "name": "股骨颈骨折", "poa": "1"}]),
            record("H8B", ZZJGDM="H8", XB="1", diagnoses=[{"code": "K35.800", "name": "急性阑尾炎", "poa": "1"},
                                                          {"code": "N83.200", "name": "卵巢囊肿", "poa": "1"}]),
            record("H9A", SJZYTS="9"), record("H9B", JBBM="ZZZ.999")]
    con, _ = run_records(recs)
    full = _all(con)
    h9_before = con.execute("select * exclude (run_id) from qc_finding where hospital_id = 'H9' order by all").fetchall()
    s = engine.run_qc(con, load_catalogue(use_env=False), hospital="H8")
    assert s.n_records == 2
    assert _all(con) == full
    assert con.execute("select distinct run_id from qc_finding where hospital_id = 'H8'").fetchall() == [(s.run_id,)]
    assert con.execute("select * exclude (run_id) from qc_finding where hospital_id = 'H9' order by all").fetchall() \
        == h9_before
    assert {k for k, in con.execute("select rule_key from qc_finding where mrn = 'H8B'").fetchall()} >= {"D001"}


def test_code_list_facts_match_the_lambda_forms(tmp_path):
    # `len(list_filter(<code list>, c -> P(c))) > 0 / = 0` and `list_contains(list_transform(<code list>, c -> F(c)),
    # k)` compile to per-code fact bits OR-ed per record; the same tests written so that the rewriter leaves them
    # alone (`+ 0`, a computed literal) run as lambdas per record. Both must flag the very same records, and those
    # worked out by hand from the diagnosis lists below.
    import textwrap

    from yunying.qc.loader import LIST_FACTS

    tests = {
        "O80": ("len(list_filter(all_dx_codes, c -> upper(left(c, 3)) = 'O80')) > 0",
                "len(list_filter(all_dx_codes, c -> upper(left(c, 3)) = 'O80')) + 0 > 0"),
        "NOZ": ("len(list_filter(odx_codes, c -> upper(left(c, 1)) = 'Z')) = 0",
                "len(list_filter(odx_codes, c -> upper(left(c, 1)) = 'Z')) + 0 = 0"),
        "K35": ("list_contains(list_transform(all_dx_codes, c -> upper(left(c, 3))), 'K35')",
                "list_contains(list_transform(all_dx_codes, c -> upper(left(c, 3))), 'K3' || '5')"),
        "ODX": ("0 < len(list_filter(odx_codes, c -> in_list(c, 'malignant')))",
                "0 < len(list_filter(odx_codes, c -> in_list(c, 'malignant'))) + 0"),
    }
    entries = "".join(f"""
        - {{id: X-{name}-{form}, kind: expr, severity: I, field: pdx_code, score: [], when: "{when}",
           message_zh: "测试", message_en: "test"}}""" for name, pair in tests.items()
                      for form, when in zip(("F", "L"), pair))
    ov = tmp_path / "facts.yaml"
    ov.write_text(textwrap.dedent(entries), encoding="utf-8")
    cat = load_catalogue(ov, use_env=False)
    rules = cat.by_key()
    for name in tests:
        assert any(c.startswith("_any__") for c in rules[f"X-{name}-F"].columns), name
        assert not any(c.startswith("_any__") for c in rules[f"X-{name}-L"].columns), name
    assert "(UPPER(LEFT(c.v, 3))) = 'O80'" in LIST_FACTS.values()
    dx = lambda code, name="诊断": {"code": code, "name": name, "poa": "1"}      # noqa: E731
    recs = [
        record("R1", JBBM="O80.000", diagnoses=[dx("O80.000"), dx("Z37.000")]),    # O80, K35 no, Z yes
        record("R2", diagnoses=[dx("K35.800")]),                                   # no other diagnoses
        record("R3", diagnoses=[dx("K35.800"), dx("C16.900"), dx("O80.000")]),     # O80 among the others
        record("R4", diagnoses=[dx("I10.x00"), dx("Z51.100")]),
        record("R5", diagnoses=[dx("C16.900"), dx("I10.x00")]),                   # malignant principal only
        record("R6", diagnoses=[dx("Z51.100"), dx("I10.x00")]),                   # Z principal only
    ]
    con, _ = run_records(recs, catalogue=cat)
    flagged = {k: {m for m, in con.execute("select mrn from qc_finding where rule_key = ? order by 1", [k]).fetchall()}
               for k in rules if k.startswith("X-")}
    expected = {"O80": {"R1", "R3"}, "NOZ": {"R2", "R3", "R5", "R6"}, "K35": {"R2", "R3"}, "ODX": {"R3"}}
    for name, mrns in expected.items():
        assert flagged[f"X-{name}-F"] == flagged[f"X-{name}-L"] == mrns, name


def _case_records():
    from .test_rules import CASES

    recs = []
    for i, (key, (fail, ok)) in enumerate(CASES.items()):
        recs.append(record(fail.get("BAH", f"F{i:05d}"), **{k: v for k, v in fail.items() if k != "BAH"}))
        recs.append(record(ok.get("BAH", f"P{i:05d}"), **{k: v for k, v in ok.items() if k != "BAH"}))
    return recs


def test_lean_child_sources_give_the_same_findings(monkeypatch):
    # diagnosis rows are stored without the record columns (sex, age) and only the rows meeting some rule's
    # condition on the diagnosis row itself (e.g. a female-only code) are joined to them; findings on every rule's
    # pass/fail example must equal those of the source that carries the record columns on every row
    cat = load_catalogue(use_env=False)
    lean = engine.lean_sources(cat, cat.enabled())
    assert lean["dx"] and lean["dx"][1] == ["age_years", "sex"]
    assert lean["px"] is None           # P001/P002 compare every procedure date with the stay: no narrower rows
    depts = [("H9", "GS"), ("H9", "EMER")]
    con1, _ = run_records(_case_records(), departments=depts, catalogue=cat)
    assert "sex" not in {c for c, in con1.execute("select column_name from (describe _qc_dx)").fetchall()}
    monkeypatch.setattr(engine, "lean_sources", lambda cat, rules: {"dx": None, "px": None})
    con2, _ = run_records(_case_records(), departments=depts, catalogue=cat)
    assert "sex" in {c for c, in con2.execute("select column_name from (describe _qc_dx)").fetchall()}
    lean_rows, full_rows = _all(con1), _all(con2)
    assert lean_rows == full_rows and {r[1] for r in lean_rows} >= {"D001", "D002", "D003", "D008"}


def test_necessary_condition_keeps_own_column_conjuncts_only():
    own = {"dx_type", "dx_code", "_in__dx_code__female_only", "seq"}
    assert engine.necessary_condition("(true) and (dx_type = 'W' and (sex = '1' and _in__dx_code__female_only))",
                                      own) == "(dx_type = 'W') and (_in__dx_code__female_only)"
    # an OR mixing record and own columns gives no condition of its own
    assert engine.necessary_condition("sex = '1' or _in__dx_code__female_only", own) == "true"
    assert engine.necessary_condition("len(list_filter(l, c -> c = 'x')) > 0 and seq > 0", own | {"l"}) == \
        "(LENGTH(LIST_FILTER(l, LAMBDA c : c = 'x')) > 0) and (seq > 0)"


def test_lean_source_falls_back_when_a_rule_has_no_own_condition(tmp_path):
    # a custom diagnosis rule reading a record column with no condition on the diagnosis row alone: the diagnosis
    # source carries the record columns again, and the rule still fires
    ov = tmp_path / "ov.yaml"
    ov.write_text('- {id: X-SEX, kind: expr, severity: I, source: dx, field: dx_code, score: [], '
                  'when: "sex = \'9\' or dx_code = \'Q99.999\'", message_zh: "测试", message_en: "test"}\n',
                  encoding="utf-8")
    cat = load_catalogue(ov, use_env=False)
    assert engine.lean_sources(cat, cat.enabled())["dx"] is None
    con, _ = run_records([record("S1", XB="9"), record("S2")], catalogue=cat)
    assert con.execute("select mrn, count(*) from qc_finding where rule_key = 'X-SEX' group by 1").fetchall() == \
        [("S1", 2)]


def test_code_facts_hold_for_null_codes_too(tmp_path, monkeypatch):
    # a one-column predicate on pdx_code is looked up per distinct code; records without a principal diagnosis
    # (pdx_code NULL, not in the lookup table) get the predicate's value on NULL — here true
    import yunying.qc.loader as loader

    ov = tmp_path / "ov.yaml"
    ov.write_text('- {id: X-PDX, kind: expr, severity: I, field: pdx_code, score: [], '
                  'when: "coalesce(upper(left(pdx_code, 1)), \'-\') in (\'-\', \'K\')", '
                  'message_zh: "测试", message_en: "test"}\n', encoding="utf-8")
    recs = [record("N1", diagnoses=[]), record("N2"), record("N3", diagnoses=[{"code": "I10.x00", "name": "高血压"}])]

    def flagged(cat):
        con, _ = run_records(recs, catalogue=cat)
        return {m for m, in con.execute("select mrn from qc_finding where rule_key = 'X-PDX'").fetchall()}

    cat = load_catalogue(ov, use_env=False)
    assert any(c.startswith("_fx__pdx_code__") for c in cat.by_key()["X-PDX"].columns)
    with_facts = flagged(cat)
    monkeypatch.setattr(loader, "EXPR_FACT_COLUMNS", set())
    engine._COMPILED.clear()
    inline = load_catalogue(ov, use_env=False)
    assert not any(c.startswith("_fx__") for c in inline.by_key()["X-PDX"].columns)
    assert with_facts == flagged(inline) == {"N1", "N2"}
    engine._COMPILED.clear()
