"""Tiny literal records for QC tests and a helper that imports them into an in-memory warehouse and runs QC."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from yunying.ingest.engine import import_files
from yunying.qc.check import _flatten, load_dictionaries
from yunying.qc.engine import run_qc
from yunying.qc.loader import load_catalogue
from yunying.warehouse.db import connect

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_number(region: str, birth: str, serial: str) -> str:
    """GB 11643: 6-digit region, yyyymmdd, 3-digit serial (odd = male), check character."""
    body = region + birth.replace("-", "") + serial
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]


# A clean western 首页 (national upload codes): every rule passes on it (worked out by hand: LOS 2022-03-01 →
# 2022-03-06 = 5 d; age at 2022-03-01 born 1980-05-10 = 41; fee items sum to ZFY 10000.00; MAF + SSF = 1500 <= SSZLF 2000).
BASE = {
    "ZZJGDM": "H9", "JGMC": "测试医院", "BAH": "B000001", "ZYCS": "1", "YLFKFS": "1", "JKKH": "-",
    "XM": "王小明", "XB": "1", "CSRQ": "1980-05-10", "NL": "41", "GJ": "中国", "MZ": "01",
    "SFZH": id_number("430102", "1980-05-10", "011"), "ZY": "13", "HY": "2", "CSD": "湖南省长沙市", "GG": "湖南省",
    "XZZ": "湖南省长沙市芙蓉区解放路1号", "DH": "13800000000", "YB1": "410000", "HKDZ": "湖南省长沙市芙蓉区解放路1号",
    "YB2": "410000", "GZDWJDZ": "长沙某公司", "DWDH": "-", "YB3": "410000", "LXRXM": "李红", "GX": "1",
    "DZ": "湖南省长沙市芙蓉区解放路1号", "DH2": "13900000000", "RYTJ": "2", "RYSJ": "2022-03-01 08:00:00",
    "RYKB": "GS", "CYSJ": "2022-03-06 09:00:00", "CYKB": "GS", "SJZYTS": "5", "MZZD": "急性阑尾炎",
    "JBBM": "K35.800", "YWGM": "1", "XX": "1", "RH": "2", "KZR": "张主任", "ZRYS": "刘主任", "ZZYS": "陈主治",
    "ZYYS": "黄住院", "ZRHS": "周护士", "BMY": "吴编码", "BAZL": "1", "ZKRQ": "2022-03-08", "LYFS": "1",
    "SFZZYJH": "1", "RYQ_T": "0", "RYQ_XS": "0", "RYQ_F": "0", "RYH_T": "0", "RYH_XS": "0", "RYH_F": "0",
    "ZFY": "10000.00", "ZFJE": "2000.00", "YLFUF": "500.00", "ZLCZF": "300.00", "HLF": "200.00", "QTFY": "0",
    "BLZDF": "0", "SYSZDF": "1000.00", "YXXZDF": "800.00", "LCZDXMF": "200.00", "FSSZLXMF": "500.00",
    "WLZLF": "100.00", "SSZLF": "2000.00", "MAF": "500.00", "SSF": "1000.00", "KFF": "0", "ZYZLF": "0",
    "XYF": "3000.00", "KJYWF": "600.00", "ZCYF": "0", "ZCYF1": "0", "XF": "0", "BDBLZPF": "0", "QDBLZPF": "0",
    "NXYZLZPF": "0", "XBYZLZPF": "0", "HCYYCLF": "300.00", "YYCLF": "400.00", "YCXYYCLF": "800.00", "QTF": "0",
    "diagnoses": [{"code": "K35.800", "name": "急性阑尾炎", "poa": "1"},
                  {"code": "I10.x00", "name": "原发性高血压", "poa": "1"}],
    "procedures": [{"code": "47.0100", "name": "腹腔镜阑尾切除术", "time": "2022-03-02 10:00:00", "level": "2",
                    "surgeon": "刘主任", "assistant1": "黄住院", "incision_class": "I", "healing": "甲",
                    "anaesthesia": "11", "anaesthetist": "孙麻醉"}],
}


def record(bah: str, base: dict | None = None, **changes) -> dict:
    """BASE (or `base`) with a new 病案号 and changes; a value None removes the field."""
    import copy

    r = copy.deepcopy(BASE if base is None else base)
    r["BAH"] = bah
    for k, v in changes.items():
        if v is None:
            r.pop(k, None)
        else:
            r[k] = v
    return r


def write_csv(records: list[dict], path: Path, encoding: str = "utf-8") -> Path:
    rows = [_flatten(r) for r in records]
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def run_records(records: list[dict], *, dictionaries="demo", departments: list[tuple[str, str]] | None = None,
                catalogue=None, overrides=None, sql: list[str] | None = None, profile: str = "national"):
    """Import the records into an in-memory warehouse, run QC, return (connection, summary)."""
    con = connect(":memory:")
    load_dictionaries(con, dictionaries)
    with tempfile.TemporaryDirectory() as tmp:
        p = write_csv(records, Path(tmp) / "records.csv")
        res = import_files(con, "discharge", [p], reject_dir=Path(tmp), profile=profile)
        assert res.files[0].status == "ok", res.files[0].message
    for h, d in departments or []:
        con.execute("insert into department (hospital_id, dept_code, dept_name, dept_class) values (?, ?, ?, 'clinical')",
                    [h, d, d])
    for q in sql or []:
        con.execute(q)
    cat = catalogue or (load_catalogue(overrides, use_env=False) if overrides else _default_catalogue())
    return con, run_qc(con, cat)


_CAT = []


def _default_catalogue():
    if not _CAT:
        _CAT.append(load_catalogue(use_env=False))
    return _CAT[0]


def findings(con, bah: str) -> list[tuple]:
    """(rule_key, field, seq, value) of one record, sorted."""
    return sorted(con.execute("select rule_key, field, seq, value from qc_finding where mrn = ? order by all",
                              [bah]).fetchall(), key=str)
