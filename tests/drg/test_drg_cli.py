"""CLI (typer CliRunner) and warehouse runs on the hand-written mini pack."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from drgpacks import CASE_HEADER, case, write_csv, write_pack
from yunying.cli.drg import app
from yunying.warehouse.db import connect

runner = CliRunner()


def _cases_csv(path, cases):
    write_csv(path, CASE_HEADER, [[c[h] for h in CASE_HEADER] for c in cases])
    return path


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def mini_dir(tmp_path):
    return write_pack(tmp_path / "mini")


def test_group_csv(tmp_path, mini_dir):
    inp = _cases_csv(tmp_path / "in.csv", [
        case("r1", "G02|C01"),  # GZ1, CC counts -> GZ13
        case("r2", "G01", "X10"),  # AA19
        case("r3", "G01", sex="M"),  # CHECK_FAILED
    ])
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["group", "--scheme", str(mini_dir), "--input", str(inp), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").splitlines() == [
        "record_id,status,mdc,adrg,drg",
        "r1,SUCCESS,MDCG,GZ1,GZ13",
        "r2,SUCCESS,MDCA,AA1,AA19",
        "r3,CHECK_FAILED,0000,00,0000",
    ]
    assert "分组完成 3 例" in r.output
    # streamed in small read batches: same file
    out2 = tmp_path / "out2.csv"
    r = runner.invoke(app, ["group", "--scheme", str(mini_dir), "--input", str(inp), "--output", str(out2),
                            "--batch", "1"])
    assert r.exit_code == 0, r.output
    assert out2.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_group_extra_columns_ignored_and_quoting(tmp_path, mini_dir):
    inp = tmp_path / "in.csv"
    write_csv(inp, CASE_HEADER + ["note"], [["a,1", "1", "45", "", "", "", "", "", "G02", "", "x"]])
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["group", "--scheme", str(mini_dir), "--input", str(inp), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert _read(out) == [{"record_id": "a,1", "status": "SUCCESS", "mdc": "MDCG", "adrg": "GZ1", "drg": "GZ15"}]


@pytest.mark.parametrize("content,needle", [
    ("a,b\n1,2\n", "缺少必需列"),
    ("record_id,sex,age_years,dx,px\nr1,1,45,G01\n", "格式错误"),
    ("", "为空"),
])
def test_group_malformed_input(tmp_path, mini_dir, content, needle):
    inp = tmp_path / "bad.csv"
    inp.write_text(content, encoding="utf-8")
    r = runner.invoke(app, ["group", "--scheme", str(mini_dir), "--input", str(inp), "--output",
                            str(tmp_path / "o.csv")])
    assert r.exit_code == 2
    assert needle in r.output and "/" in r.output
    assert isinstance(r.exception, SystemExit)  # no traceback


def test_group_broken_pack(tmp_path):
    def edit(h, rows):
        rows[0][h.index("split_kind")] = "CC_ONLY"
        return h, rows

    d = write_pack(tmp_path / "bad", edit={"drgs": edit})
    inp = _cases_csv(tmp_path / "in.csv", [case("r1", "G02")])
    r = runner.invoke(app, ["group", "--scheme", str(d), "--input", str(inp), "--output", str(tmp_path / "o.csv")])
    assert r.exit_code == 2
    assert "drgs.csv" in r.output and "第1行" in r.output and "split_kind" in r.output and "CC_ONLY" in r.output


def test_explain(mini_dir):
    r = runner.invoke(app, ["explain", "--scheme", str(mini_dir), "--case", "sex=1;age_years=45;dx=G01|K01|K02"])
    assert r.exit_code == 0, r.output
    assert "GZ11" in r.output
    assert "K01" in r.output and "被主要诊断排除表 7 排除" in r.output  # excluded MCC shown
    r = runner.invoke(app, ["explain", "--scheme", str(mini_dir), "--json", "--case",
                            json.dumps({"sex": 1, "age_years": 45, "dx": "G02|C01"})])
    d = json.loads(r.output)
    assert (d["status"], d["drg"]) == ("SUCCESS", "GZ13")
    assert [(c["code"], c["kind"], c["counts"]) for c in d["cc_mcc"]] == [("C01", "CC", True)]
    r = runner.invoke(app, ["explain", "--scheme", str(mini_dir), "--case", "{bad json"])
    assert r.exit_code == 2 and "JSON" in r.output


def test_group_bom_crlf(tmp_path, mini_dir):
    inp = tmp_path / "in.csv"
    lines = [",".join(CASE_HEADER), "r1,1,45,,,,,,G02|C01,", "r2,2,30,,,,,,N01,"]
    inp.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    out = tmp_path / "o.csv"
    r = runner.invoke(app, ["group", "--scheme", str(mini_dir), "--input", str(inp), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert [(x["record_id"], x["drg"]) for x in _read(out)] == [("r1", "GZ13"), ("r2", "NS19")]


def test_group_gb18030(tmp_path, mini_dir):
    inp = tmp_path / "in.csv"
    lines = [",".join(CASE_HEADER + ["科室名称"]), "r1,1,45,,,,,,G02,,普通外科"]
    inp.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    out = tmp_path / "o.csv"
    r = runner.invoke(app, ["group", "--scheme", str(mini_dir), "--input", str(inp), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert _read(out)[0]["drg"] == "GZ15"


def test_scheme_import_list_diff(tmp_path, mini_dir):
    db = tmp_path / "w.duckdb"
    r = runner.invoke(app, ["scheme", "import", str(mini_dir), "--name", "mini", "--db", str(db)])
    assert r.exit_code == 0, r.output
    local = tmp_path / "local"
    local.mkdir()
    (local / "pack.yaml").write_text("base: mini\n", encoding="utf-8")  # base by registered name
    write_csv(local / "overrides.csv", ["op", "table", "key", "column", "value", "reason_zh"],
              [["add_code", "adrg_codes", "GZ1|dx", "code", "G07", "新增"],
               ["add_code", "mdc_principal_dx", "MDCG", "code", "G07", "新增主诊"],
               ["rename", "drgs", "GZ15", "name", "本地名", ""]])
    r = runner.invoke(app, ["scheme", "import", str(local), "--name", "mini-local", "--db", str(db)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["scheme", "list", "--db", str(db)])
    assert "mini\t" in r.output and "mini-local\t" in r.output
    r = runner.invoke(app, ["scheme", "diff", "mini", "mini-local", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "GZ1|dx: 新增 1" in r.output and "本地名" in r.output
    # a registered name works for grouping
    inp = _cases_csv(tmp_path / "in.csv", [case("r1", "G07")])
    out = tmp_path / "o.csv"
    r = runner.invoke(app, ["group", "--scheme", "mini-local", "--db", str(db), "--input", str(inp), "--output",
                            str(out)])
    assert r.exit_code == 0, r.output
    assert _read(out)[0]["drg"] == "GZ15"
    r = runner.invoke(app, ["group", "--scheme", "nope", "--db", str(db), "--input", str(inp), "--output", str(out)])
    assert r.exit_code == 2 and "未导入" in r.output


def test_import_refuses_broken_pack(tmp_path):
    d = write_pack(tmp_path / "bad", drop=("mcc",))
    r = runner.invoke(app, ["scheme", "import", str(d), "--name", "bad", "--db", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 2 and "mcc.csv" in r.output and "缺少必需文件" in r.output


def _warehouse(path):
    con = connect(path)
    con.execute("insert into discharge (hospital_id, mrn, admission_no, sex, age_years, discharge_dept_code, "
                "los_days) values ('H1','M1',1,'1',45,'GS',5), ('H1','M2',1,'2',60,'GS',3), "
                "('H1','M3',2,'1',30,'GS',2), ('H1','M4',1,'1',50,'GS',4)")
    con.execute("insert into discharge_diagnosis (hospital_id, mrn, admission_no, dx_type, seq, dx_code) values "
                "('H1','M1',1,'W',0,'G02'), ('H1','M1',1,'W',1,'C01'), "  # GZ13
                "('H1','M2',1,'W',1,'K02'), ('H1','M2',1,'W',0,'G01'), "  # rows out of order: GZ11
                "('H1','M3',2,'W',0,'G01'), ('H1','M3',2,'TD',0,'G02'), "  # TCM row ignored
                "('H1','M4',1,'W',1,'G01')")  # no principal row -> principal '' -> FAIL, not grouped on G01
    con.execute("insert into discharge_procedure (hospital_id, mrn, admission_no, seq, px_code) values "
                "('H1','M3',2,2,'X21'), ('H1','M3',2,1,'X20')")  # X20|X21 -> GB19
    return con


def test_run_and_reconcile(tmp_path, mini_dir):
    db = tmp_path / "w.duckdb"
    _warehouse(db).close()
    assert runner.invoke(app, ["scheme", "import", str(mini_dir), "--name", "mini", "--db", str(db)]).exit_code == 0
    for _ in range(2):  # re-running replaces
        r = runner.invoke(app, ["run", "--db", str(db), "--scheme", "mini"])
        assert r.exit_code == 0, r.output
    con = connect(db)
    rows = con.execute("select mrn, status, drg, scheme from drg_result order by mrn").fetchall()
    con.close()
    assert rows == [("M1", "SUCCESS", "GZ13", "mini"), ("M2", "SUCCESS", "GZ11", "mini"),
                    ("M3", "SUCCESS", "GB19", "mini"), ("M4", "FAIL", "0000", "mini")]
    payer = tmp_path / "payer.csv"
    write_csv(payer, ["病案号", "住院次数", "DRG编码"],
              [["M1", "1", "GZ13"], ["M2", "1", "GZ15"], ["M3", "2", "GD19"], ["M9", "1", "GZ15"]])
    out = tmp_path / "rec.csv"
    r = runner.invoke(app, ["reconcile", "--db", str(db), "--scheme", "mini", "--payer", str(payer),
                            "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "不一致 3" in r.output
    got = {x["mrn"]: x for x in _read(out)}
    assert set(got) == {"M2", "M3", "M9"}
    assert got["M2"]["difference"] == "same_adrg_other_split" and got["M2"]["our_drg"] == "GZ11"
    assert "K02" in got["M2"]["cc_mcc_zh"]
    assert got["M3"]["difference"] == "different_adrg" and "GB1" in got["M3"]["our_explanation_zh"]
    assert got["M9"]["difference"] == "missing_case"
    # explain a warehouse case by key
    r = runner.invoke(app, ["explain", "--db", str(db), "--scheme", "mini", "--key", "H1/M2/1"])
    assert r.exit_code == 0, r.output
    assert "GZ11" in r.output and "K02" in r.output and "质控" not in r.output      # QC has not run: no QC line
    # record QC found a principal-diagnosis defect on M2 (rows as the QC engine writes them): the explanation says
    # the result is at risk and why
    con = connect(db)
    con.execute("insert into qc_record (run_id, hospital_id, mrn, admission_no, score, grade, passed, excellent, "
                "complete, n_error, n_warning, n_info, pdx_defect, ppx_defect) values "
                "('r', 'H1', 'M2', 1, 92, '甲', true, false, true, 1, 0, 0, true, false)")
    con.execute("insert into qc_finding (run_id, hospital_id, mrn, admission_no, rule_id, severity, field, "
                "message_zh, tag) values ('r', 'H1', 'M2', 1, 'D101', 'E', 'pdx_code', '主要诊断为外部原因编码', 'pdx')")
    con.close()
    r = runner.invoke(app, ["explain", "--db", str(db), "--scheme", "mini", "--key", "H1/M2/1"])
    assert r.exit_code == 0, r.output
    assert "质控 QC：分组结果存在风险：主要诊断存在质控缺陷（D101）" in r.output and "D101 主要诊断为外部原因编码" in r.output
    r = runner.invoke(app, ["explain", "--db", str(db), "--scheme", "mini", "--key", "H1/M2/1", "--json"])
    assert json.loads(r.output)["qc_risk"]["at_risk"] is True
    r = runner.invoke(app, ["explain", "--db", str(db), "--scheme", "mini", "--key", "H1/M2"])
    assert r.exit_code == 2


def test_reconcile_bad_payer_file(tmp_path, mini_dir):
    db = tmp_path / "w.duckdb"
    _warehouse(db).close()
    payer = tmp_path / "payer.csv"
    write_csv(payer, ["mrn", "admission_no", "drg"], [["M1", "x", "GZ13"]])
    r = runner.invoke(app, ["reconcile", "--db", str(db), "--scheme", str(mini_dir), "--payer", str(payer)])
    assert r.exit_code == 2 and "第2行" in r.output and "住院次数" in r.output


def test_demo_run(tmp_path):
    from yunying.drg.store import demo_run

    con = connect(tmp_path / "w.duckdb")
    con.execute("insert into discharge (hospital_id, mrn, admission_no, sex, age_years) values ('H1','A',1,'1',30)")
    con.execute("insert into discharge_diagnosis (hospital_id, mrn, admission_no, dx_type, seq, dx_code) values "
                "('H1','A',1,'W',0,'K35.800x001')")
    con.execute("insert into discharge_procedure (hospital_id, mrn, admission_no, seq, px_code) values "
                "('H1','A',1,1,'47.0100')")
    res = demo_run(con)
    assert res["by_status"] == {"SUCCESS": 1}
    assert con.execute("select drg from drg_result").fetchall() == [("GD15",)]  # demo scheme: appendectomy
    demo_run(con)  # idempotent
    assert con.execute("select count(*) from drg_result").fetchall() == [(1,)]
    con.close()


def test_explain_key_shows_the_stored_result_and_says_when_the_scheme_changed(tmp_path, mini_dir):
    """Stored: M2 (G01 + K02, K02 an MCC in mini) → GZ11. The scheme is then re-registered under the same name
    with K02 removed from the MCC table: a regrouping would give GZ15 (no CC), but the stored result of the run
    stays GZ11 and the explanation must say the scheme changed and show GZ15 only as a comparison."""
    db = tmp_path / "w.duckdb"
    _warehouse(db).close()
    assert runner.invoke(app, ["scheme", "import", str(mini_dir), "--name", "mini", "--db", str(db)]).exit_code == 0
    r = runner.invoke(app, ["run", "--db", str(db), "--scheme", "mini"])
    assert r.exit_code == 0, r.output
    con = connect(db)
    runs = con.execute("select run_id, scheme, cases from drg_run").fetchall()
    stored_runs = con.execute("select distinct run_id from drg_result").fetchall()
    con.close()
    assert len(runs) == 1 and runs[0][1:] == ("mini", 4) and stored_runs == [(runs[0][0],)]
    run_id = runs[0][0]
    r = runner.invoke(app, ["explain", "--db", str(db), "--scheme", "mini", "--key", "H1/M2/1"])
    assert r.exit_code == 0, r.output
    assert "已存储的分组结果" in r.output and "DRG GZ11" in r.output and run_id in r.output
    assert "方案自该次分组后已变更" not in r.output and "K02" in r.output        # trace reproduces the stored result
    changed = write_pack(tmp_path / "mini2", edit={"mcc": lambda h, rows: (h, [x for x in rows if x[0] != "K02"])})
    assert runner.invoke(app, ["scheme", "import", str(changed), "--name", "mini", "--db", str(db)]).exit_code == 0
    r = runner.invoke(app, ["explain", "--db", str(db), "--scheme", "mini", "--key", "H1/M2/1"])
    assert r.exit_code == 0, r.output
    stored_part, _, comparison = r.output.partition("方案自该次分组后已变更")
    assert "DRG GZ11" in stored_part and run_id in stored_part
    assert "仅供对比" in comparison and "DRG GZ15" in comparison and "GZ11" not in comparison
    j = json.loads(runner.invoke(app, ["explain", "--db", str(db), "--scheme", "mini", "--key", "H1/M2/1",
                                       "--json"]).output)
    assert (j["result_source"], j["drg"], j["run_id"], j["scheme_changed"]) == ("stored", "GZ11", run_id, True)
    assert j["regrouped"]["drg"] == "GZ15" and j["trace"] == []


def test_migration_0085_names_a_run_for_results_grouped_before_runs_were_recorded():
    """A warehouse with results of two schemes from before migration 0085: each (scheme, hash) becomes one legacy
    run holding its cases (2 + 1), and every stored row names it."""
    import duckdb

    from yunying.warehouse.db import apply_migration, migrate, migration_files

    con = duckdb.connect(":memory:")
    con.execute("create table schema_migrations (version varchar primary key, sha256 varchar not null, "
                "applied_at timestamp not null default current_timestamp)")
    for name, sql in migration_files():
        if name < "0085":
            apply_migration(con, name, sql)
            con.execute("insert into schema_migrations (version, sha256) values (?, 'x')", [name])
    con.execute("insert into drg_result (hospital_id, mrn, admission_no, scheme, scheme_hash, status, mdc, adrg, drg) "
                "values ('H1','M1',1,'a','abcdef0123','SUCCESS','MDCG','GZ1','GZ11'), "
                "('H1','M2',1,'a','abcdef0123','FAIL','0000','00','0000'), "
                "('H1','M1',1,'b','99990000ff','SUCCESS','MDCG','GZ1','GZ13')")
    assert any(n.startswith("0085") for n in migrate(con))
    assert con.execute("select run_id, scheme, scheme_hash, cases from drg_run order by 1").fetchall() == [
        ("drg-legacy-a-abcdef01", "a", "abcdef0123", 2), ("drg-legacy-b-99990000", "b", "99990000ff", 1)]
    assert con.execute("select scheme, run_id, count(*) from drg_result group by all order by 1").fetchall() == [
        ("a", "drg-legacy-a-abcdef01", 2), ("b", "drg-legacy-b-99990000", 1)]
    con.close()
