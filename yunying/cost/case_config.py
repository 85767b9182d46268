"""Configuration of item, 病种/DRG cost and 保本点 (yunying/cost/case_methods.yaml, charge_map.yaml): loaded,
defaulted and checked here; the engines read only the resolved dicts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from yunying.cost.case_errors import CostCaseError

HERE = Path(__file__).parent
METHODS = ("abc", "ratio_revenue", "ratio_time", "ratio_workload")
DRIVERS = ("amount", "minutes", "workload")
RATIO_DRIVER = {"ratio_revenue": "amount", "ratio_time": "minutes", "ratio_workload": "workload"}
COST_KINDS = ("service", "drug", "material")

DEFAULTS = {
    "items": {"default": "auto", "fallback": "ratio_revenue", "units": {},
              "abc_drivers": {"personnel": "minutes", "*": "workload"},
              "service_classes": ["medtech", "clinical"],
              "ledger_items": {"drug": "drug", "material": "material"}},
    "ratios": {"drug": "ledger", "material": "ledger_capped"},
    "cases": {"method_preference": ["item_sum", "ccr"], "disease_code_length": None,
              "order_service_line": "inpatient"},
    "breakeven": {"fixed_items": ["personnel", "depreciation", "amortization"]},
    "labels": {"method": {}, "method_en": {}},
}


def _bad(what: str, zh: str, en: str) -> CostCaseError:
    return CostCaseError("COST-CASE-CONFIG", f"{what}：{zh}", f"{what}: {en}")


def load_methods(path: str | Path | None = None) -> dict:
    """case_methods.yaml (or the file given) merged over the defaults, checked."""
    p = Path(path) if path else HERE / "case_methods.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    cfg = json.loads(json.dumps(DEFAULTS))
    for section, vals in raw.items():
        if section == "version":
            continue
        if section not in cfg or not isinstance(vals, dict):
            raise _bad(str(p), f"未知配置节 {section}（可用：{', '.join(cfg)}）",
                       f"unknown section {section} (known: {', '.join(cfg)})")
        for k, v in vals.items():
            if k not in cfg[section]:
                raise _bad(str(p), f"{section} 下未知参数 {k}", f"unknown key {k} under {section}")
            cfg[section][k] = v if v is not None or k == "disease_code_length" else cfg[section][k]
    it = cfg["items"]
    for where, m in [("items.default", it["default"]), ("items.fallback", it["fallback"])] + \
            [(f"items.units.{u}", m) for u, m in (it["units"] or {}).items()]:
        ok = METHODS + (("auto",) if where != "items.fallback" else ())
        if m not in ok or (where == "items.fallback" and m == "abc"):
            raise _bad(str(p), f"{where} = {m} 不是可用方法（{', '.join(ok)}）",
                       f"{where} = {m} is not a method ({', '.join(ok)})")
    for ci, d in it["abc_drivers"].items():
        if d not in ("minutes", "workload", "amount"):
            raise _bad(str(p), f"items.abc_drivers.{ci} = {d}，应为 minutes / workload / amount",
                       f"items.abc_drivers.{ci} = {d}; use minutes / workload / amount")
    for kind, v in cfg["ratios"].items():
        if not (isinstance(v, (int, float)) and v > 0) and v not in ("ledger", "ledger_capped"):
            raise _bad(str(p), f"ratios.{kind} = {v}，应为 ledger、ledger_capped 或正数",
                       f"ratios.{kind} = {v}; use ledger, ledger_capped or a positive number")
    for m in cfg["cases"]["method_preference"]:
        if m not in ("item_sum", "ccr"):
            raise _bad(str(p), f"cases.method_preference 含未知方法 {m}", f"unknown method {m} in "
                       "cases.method_preference")
    cfg["_hash"] = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return cfg


def load_charge_map(path: str | Path | None = None) -> dict:
    """charge_map.yaml: {category: {cost_kind, fee_columns}}, residual_category; checked against tables.yaml."""
    from yunying.model.catalogue import load_model

    p = Path(path) if path else HERE / "charge_map.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    cats = raw.get("categories") or {}
    fee_cols = {c.name: c for c in load_model().tables["discharge"].columns if c.name.startswith("fee_")}
    kind_of_col: dict[str, str] = {}
    for cat, spec in cats.items():
        kind = spec.get("cost_kind")
        if kind not in COST_KINDS:
            raise _bad(str(p), f"{cat}.cost_kind = {kind}，应为 {'/'.join(COST_KINDS)}",
                       f"{cat}.cost_kind = {kind}; use {'/'.join(COST_KINDS)}")
        for col in spec.get("fee_columns") or []:
            if col not in fee_cols:
                raise _bad(str(p), f"{cat} 的首页费用列 {col} 不在 tables.yaml（discharge）中",
                           f"fee column {col} of {cat} is not a discharge column in tables.yaml")
            if fee_cols[col].subset_of:
                raise _bad(str(p), f"{col} 是 {fee_cols[col].subset_of} 的“其中”项，不能单独映射（会重复计费）",
                           f"{col} is a subset of {fee_cols[col].subset_of} and cannot be mapped (double count)")
            if col in kind_of_col and kind_of_col[col] != kind:
                raise _bad(str(p), f"首页费用列 {col} 同时映射到不同成本类型（{kind_of_col[col]} / {kind}）",
                           f"fee column {col} maps to two cost kinds ({kind_of_col[col]} / {kind})")
            kind_of_col[col] = kind
    res = raw.get("residual_category")
    if res not in cats:
        raise _bad(str(p), f"residual_category = {res} 不是已映射的收费类别", f"residual_category = {res} is not "
                   "a mapped category")
    return {"categories": cats, "residual_category": res, "kind_of_column": kind_of_col}
