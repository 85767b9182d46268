"""Helpers for DRG tests: a tiny hand-written scheme pack with invented codes, and the shared packs."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("YUNYING_SHARED", REPO / ".." / "shared")).resolve()


def shared_pack(name: str) -> Path:
    p = shared_dir() / "drg" / name
    if not (p / "adrgs.csv").exists():
        pytest.skip(f"参考方案包不存在 / reference pack not found: {p} (set YUNYING_SHARED)")
    return p


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])


# A tiny scheme. Invented codes: G01/G02 digestive, T01/T02/T03 trauma (T01, T03 same region), M01 male-only,
# N01 female-only, P01 newborn principal, PS0 newborn "any position" dx, K01/K02 MCC, C01 CC;
# procedures X10 (transplant, valid OR), X20 (valid OR), X21 (second pair list), X30 (non-OR), L1/L2/L3 labelled.
MINI = {
    "mdcs": (
        ["mdc", "name", "priority", "entry_kind", "requires_principal_dx_in_list", "requires_principal_px_valid_or",
         "sex", "age_years", "min_trauma_regions", "adrg_count"],
        [
            ["MDCA", "先期分组", 1, "PRINCIPAL_PX_VALID_OR", "no", "yes", "", "", "", 1],
            ["MDCP", "新生儿", 2, "PDX_AGE_YEARS", "yes", "no", "", 0, "", 2],
            ["MDCZ", "多发创伤", 3, "PDX_MULTI_TRAUMA", "yes", "no", "", "", 2, 1],
            ["MDCM", "男性", 4, "PDX_SEX", "yes", "no", 1, "", "", 1],
            ["MDCN", "女性", 5, "PDX_SEX", "yes", "no", 2, "", "", 1],
            ["MDCG", "消化", 6, "PDX", "yes", "no", "", "", "", 4],
        ],
    ),
    "mdc_principal_dx": (
        ["mdc", "code"],
        [["MDCP", "P01"], ["MDCZ", "T01"], ["MDCZ", "T02"], ["MDCZ", "T03"], ["MDCM", "M01"], ["MDCN", "N01"],
         ["MDCG", "G01"], ["MDCG", "G02"]],
    ),
    "mdcz_trauma_regions": (["code", "region"], [["T01", "头颈部创伤"], ["T02", "胸部创伤"], ["T03", "头颈部创伤"]]),
    "adrgs": (
        ["adrg", "name", "mdc", "order_in_mdc", "rule_kind", "dx_condition", "px_condition", "age_days_max",
         "weight_min_g", "weight_max_g", "px_combination", "drg_count"],
        [
            ["AA1", "移植", "MDCA", 1, "PPX", "none", "principal_in_list", "", "", "", "", 1],
            ["PS1", "极低体重儿", "MDCP", 1, "ANYDX_NEWBORN_WEIGHT", "any_in_list", "none", 28, "", 1500, "", 2],
            ["PV1", "其他新生儿", "MDCP", 2, "ALWAYS", "none", "none", "", "", "", "", 1],
            ["ZZ1", "多发创伤非手术", "MDCZ", 1, "NO_VALID_OR_PX", "none", "none_in_valid_or", "", "", "", "", 1],
            ["MS1", "男性疾病", "MDCM", 1, "PDX", "principal_in_list", "none", "", "", "", "", 1],
            ["NS1", "女性疾病", "MDCN", 1, "PDX", "principal_in_list", "none", "", "", "", "", 1],
            ["GB1", "成对手术", "MDCG", 1, "PX_PAIR", "none", "any_in_list_and_any_in_list2", "", "", "", "", 1],
            ["GC1", "组合手术", "MDCG", 2, "PDX_AND_PX_COMBINATION", "principal_in_list", "labelled_combination",
             "", "", "", "1+2|3", 1],
            ["GD1", "其他手术", "MDCG", 3, "PPX_VALID_OR", "none", "principal_in_valid_or", "", "", "", "", 1],
            ["GZ1", "消化内科", "MDCG", 4, "PDX", "principal_in_list", "none", "", "", "", "", 3],
        ],
    ),
    "adrg_codes": (
        ["adrg", "list", "code", "label"],
        [["AA1", "px", "X10", ""], ["PS1", "dx", "PS0", ""], ["MS1", "dx", "M01", ""], ["NS1", "dx", "N01", ""],
         ["GB1", "px", "X20", ""], ["GB1", "px2", "X21", ""], ["GC1", "dx", "G01", ""], ["GC1", "px", "L1", 1],
         ["GC1", "px", "L2", 2], ["GC1", "px", "L3", 3], ["GZ1", "dx", "G01", ""], ["GZ1", "dx", "G02", ""]],
    ),
    "drgs": (
        ["drg", "name", "adrg", "mdc", "order_in_adrg", "split_kind"],
        [["AA19", "移植", "AA1", "MDCA", 1, "NONE"], ["PS11", "极低体重儿伴MCC", "PS1", "MDCP", 1, "MCC"],
         ["PS15", "极低体重儿", "PS1", "MDCP", 2, "NONE"], ["PV19", "其他新生儿", "PV1", "MDCP", 1, "NONE"],
         ["ZZ19", "多发创伤", "ZZ1", "MDCZ", 1, "NONE"], ["MS19", "男性疾病", "MS1", "MDCM", 1, "NONE"],
         ["NS19", "女性疾病", "NS1", "MDCN", 1, "NONE"], ["GB19", "成对手术", "GB1", "MDCG", 1, "NONE"],
         ["GC19", "组合手术", "GC1", "MDCG", 1, "NONE"], ["GD19", "其他手术", "GD1", "MDCG", 1, "NONE"],
         ["GZ11", "消化内科伴MCC", "GZ1", "MDCG", 1, "MCC"], ["GZ13", "消化内科伴CC", "GZ1", "MDCG", 2, "MCC_OR_CC"],
         ["GZ15", "消化内科", "GZ1", "MDCG", 3, "NONE"]],
    ),
    "cc": (["code", "exclusion_table"], [["C01", "7"]]),
    "mcc": (["code", "exclusion_table"], [["K01", "7"], ["K02", "9"]]),
    "principal_dx_exclusion": (["code", "exclusion_table"], [["G01", "7"]]),
    "valid_or_procedures": (["code", "name"], [["X10", "移植术"], ["X20", "手术甲"], ["X21", "手术乙"]]),
    "qy_rules": (
        ["mdc", "qy_code", "enabled", "after_adrg_order", "condition"],
        [["MDCA", "AQY", 0, 1, "any_px_in_valid_or"], ["MDCG", "GQY", 0, 1, "any_px_in_valid_or"]],
    ),
    "diagnoses": (["code", "name"], [["G01", "胃炎（虚构）"], ["G02", "肠炎（虚构）"], ["K01", "严重并发症甲（虚构）"]]),
    "procedures": (["code", "name"], [["X10", "移植术（虚构）"]]),
}


def write_pack(path: Path, tables: dict = MINI, drop: tuple = (), edit=None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables.items():
        if name in drop:
            continue
        rows = [list(r) for r in rows]
        header = list(header)
        if edit and name in edit:
            header, rows = edit[name](header, rows)
        write_csv(path / f"{name}.csv", header, rows)
    return path


CASE_HEADER = ["record_id", "sex", "age_years", "age_days", "newborn_weight_g", "dept_code", "los_days",
               "discharge_type", "dx", "px"]


def case(rid, dx, px="", sex="1", age="45", days="", weight="", dept="") -> dict:
    return {"record_id": rid, "sex": sex, "age_years": age, "age_days": days, "newborn_weight_g": weight,
            "dept_code": dept, "los_days": "5", "discharge_type": "1", "dx": dx, "px": px}


def cases_table(cases: list[dict]):
    import pyarrow as pa

    return pa.table({c: pa.array([x[c] for x in cases], type=pa.string()) for c in CASE_HEADER})
