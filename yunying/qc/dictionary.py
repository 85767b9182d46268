"""Code dictionaries for the validity rules (V003 diagnoses, V005 procedures, T003 TCM): loaded into qc_dictionary
from the user's file or scheme-pack directory at run time, never copied into the repository."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import duckdb

from yunying.warehouse.db import transaction

KINDS = ("dx", "px", "tcm")
PACK_FILES = {"dx": "diagnoses.csv", "px": "procedures.csv"}
DEMO_FILES = {"dx": "dx_codes.csv", "px": "px_codes.csv", "tcm": "tcm_codes.csv"}
# optional columns understood in a dictionary file, by kind (others are ignored)
OPTIONAL = {"dx": {"sex": "sex", "role": "category"}, "px": {"category": "category", "level": "level"},
            "tcm": {"kind": "category"}}


class DictionaryError(ValueError):
    pass


def _resolve(kind: str, path: Path) -> Path:
    if path.is_dir():
        name = PACK_FILES.get(kind) or DEMO_FILES.get(kind)
        for cand in (PACK_FILES.get(kind), DEMO_FILES.get(kind)):
            if cand and (path / cand).is_file():
                return path / cand
        raise DictionaryError(f"目录 {path} 中没有 {name} / {path} has no {name}")
    if not path.is_file():
        raise DictionaryError(f"字典文件不存在：{path} / dictionary file not found")
    return path


def import_dictionary(con: duckdb.DuckDBPyConnection, kind: str, path: str | Path, *, replace: bool = True) -> int:
    """Load a code,name[,…] CSV (UTF-8 or GB18030) or a pack directory's diagnoses.csv/procedures.csv. `kind`: dx,
    px, tcm, or an edition of one (dx_yb: a second diagnosis dictionary, e.g. 医保版, that scoring.yaml
    coding_accuracy.dictionary can name)."""
    from yunying.qc.loader import dictionary_base

    base = dictionary_base(kind)
    if base not in KINDS:
        raise DictionaryError(f"kind 必须是 dx/px/tcm 或其版本 dx_<版本>（如 dx_yb）/ kind must be one of {KINDS} "
                              f"or an edition such as dx_yb")
    src = _resolve(base, Path(path))
    raw = src.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "code" not in rows[0] or "name" not in rows[0]:
        raise DictionaryError(f"{src}: 需要表头 code,name / header must contain code,name")
    opt = OPTIONAL[base]
    data = []
    for r in rows:
        code = (r.get("code") or "").strip()
        if not code:
            continue
        rec = {"kind": kind, "code": code, "name": (r.get("name") or "").strip() or None,
               "category": None, "level": None, "sex": None, "source": str(src)}
        for col, target in opt.items():
            v = (r.get(col) or "").strip()
            if v:
                rec[target] = v
        data.append(rec)
    import pyarrow as pa

    tab = pa.Table.from_pylist(data, schema=pa.schema([(k, pa.string()) for k in
                                                       ("kind", "code", "name", "category", "level", "sex", "source")]))
    con.register("_qc_dict_in", tab)
    try:
        with transaction(con):
            if replace:
                con.execute("delete from qc_dictionary where kind = ?", [kind])
            else:
                con.execute("delete from qc_dictionary where kind = ? and code in (select code from _qc_dict_in)",
                            [kind])
            con.execute("insert into qc_dictionary (kind, code, name, category, level, sex, source) "
                        "select distinct on (code) kind, code, name, category, level, sex, source from _qc_dict_in")
    finally:
        con.unregister("_qc_dict_in")
    return len({d["code"] for d in data})


def demo_codes_dir() -> Path:
    return Path(str(resources.files("yunying.synth").joinpath("codes")))


def import_demo_dictionaries(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The synthetic demo code lists (yunying/synth/codes) as dx, px and tcm dictionaries."""
    root = demo_codes_dir()
    return {k: import_dictionary(con, k, root / f) for k, f in DEMO_FILES.items()}


def dictionary_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("select kind, count(*) from qc_dictionary group by kind order by 1").fetchall())
