"""Payment parameters (费率法 / 点数法) as data: one YAML file per region and year, with variants by insurance type
(payment_category) and hospital level. Resolved per (payment_category, hospital_level) combination and recorded
verbatim (canonical JSON + sha256) with every run.
"""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path

import yaml

from yunying.economics.errors import EconomicsError

# national seed values (spec §2); every one is overridable per region / year / insurance type / hospital level
DEFAULTS: dict = {
    "name": "defaults",
    "region_code": "",
    "year": None,
    "method": "rate",                 # rate 费率法 | points 点数法
    "budget_basis": "total_charges",  # total_charges | fund_only — what the budget figure means (recorded)
    "rate": None,                     # 费率 ¥ per 1.0 RW (rate method)
    "point_value": None,              # 点值 ¥ per point (points method)
    "budget": None,                   # alternative to rate / point_value: money is derived from it
    "points_per_rw": 100,             # Pts_g = RW_g × 100
    "coefficient": 1.0,               # 医院等级系数 (rate) / 差异系数 (points)
    "overall_mean_cost": None,        # C̄ for 点数法 ratios when weights carry no avg_cost (default: weight set's)
    "high": {"rule": "base_plus_excess", "cut": 3.0, "ladder": []},   # 高倍率 [CHS default 3×, unconfirmed]
    "low": {"rule": "pro_rata", "cut": 0.3},                           # 低倍率 [CHS default 30 %, unconfirmed]
    "unmatched": {"rule": "by_item", "discount": 1.0},   # 未入组 / 歧义组 QY
    "no_weight": {"rule": "by_item", "discount": 1.0},   # grouped, but the DRG has no weight in the weight set
    "unstable": {"rule": "normal"},                      # 非稳定病组: normal | by_item
    "exclude": {"los_days_min": None, "los_days_max": 60, "discount": 1.0},   # 排除病例, paid by item
    "special_review": {"los_days_over": 60, "ratio_over": 5.0, "icu_hours_over": None,
                       "death_within_days": 1, "cap_share": 0.05},        # 特病单议 flags [cap unconfirmed]
    "variants": [],
}

RULES = {"high": ("base_plus_excess", "by_item"), "low": ("pro_rata", "by_item"),
         "unmatched": ("by_item", "fee_points"), "no_weight": ("by_item", "fee_points"),
         "unstable": ("normal", "by_item")}


def shipped(name: str) -> Path:
    return Path(str(resources.files("yunying.economics").joinpath("params", name)))


def params_path(ref: Path | None) -> Path | None:
    """A parameter file, or the name of a bundled set (demo-rate, zhejiang-style-points) when no such file exists."""
    if ref is None or Path(ref).is_file():
        return ref
    bundled = shipped(f"{Path(ref).name.removesuffix('.yaml')}.yaml")
    return bundled if bundled.is_file() else ref


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_params(path: Path | None = None, overrides: dict | None = None) -> dict:
    """Defaults ← YAML file ← overrides (e.g. CLI flags); validated."""
    p = copy.deepcopy(DEFAULTS)
    src = "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise EconomicsError(f"ECON-PARAM 参数文件不存在：{path} / parameter file not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise EconomicsError(f"ECON-PARAM 参数文件 {path} 不是有效 YAML：{e} / invalid YAML") from None
        if not isinstance(data, dict):
            raise EconomicsError(f"ECON-PARAM 参数文件 {path} 顶层应为映射 / top level must be a mapping")
        unknown = set(data) - set(DEFAULTS) - {"label_zh", "label_en", "source", "note"}
        if unknown:
            raise EconomicsError(f"ECON-PARAM {path} 未知参数：{', '.join(sorted(unknown))} / unknown keys")
        p = _merge(p, data)
        src = str(path)
    if overrides:
        p = _merge(p, {k: v for k, v in overrides.items() if v is not None})
    p["_file"] = src
    validate(p, src)
    return p


def validate(p: dict, src: str = "") -> None:
    def bad(msg_zh, msg_en):
        raise EconomicsError(f"ECON-PARAM {src}: {msg_zh} / {msg_en}")

    if p["method"] not in ("rate", "points"):
        bad(f"method 应为 rate 或 points，收到 {p['method']!r}", "method must be rate or points")
    for key, allowed in RULES.items():
        if p[key].get("rule") not in allowed:
            bad(f"{key}.rule 应为 {'/'.join(allowed)}，收到 {p[key].get('rule')!r}", f"invalid {key}.rule")
    if p["budget"] is not None and p["budget"] <= 0:
        bad("budget 必须大于 0", "budget must be > 0")
    money = p["rate"] if p["method"] == "rate" else p["point_value"]
    if p["budget"] is None and (money is None or money <= 0):
        need = "rate" if p["method"] == "rate" else "point_value"
        bad(f"需要 {need}（或 budget）且大于 0：请加 --{need.replace('_', '-')} 或 --budget，或用 --params 指定参数文件"
            f"（内置演示参数：--params demo-rate）",
            f"{need} (or budget) is required and must be > 0: give --{need.replace('_', '-')} or --budget, or a parameter "
            f"file with --params (bundled demo parameters: --params demo-rate)")
    for i, v in enumerate(p.get("variants") or []):
        if not isinstance(v, dict) or not isinstance(v.get("when"), dict):
            bad(f"variants[{i}] 需要 when 映射", f"variants[{i}] needs a 'when' mapping")
        if set(v["when"]) - {"payment_category", "hospital_level"}:
            bad(f"variants[{i}].when 只能按 payment_category / hospital_level", "when keys: payment_category, "
                "hospital_level")
        if p["budget"] is not None and ({"rate", "point_value", "budget"} & set(v)):
            bad(f"variants[{i}] 在给定 budget 时不能改 rate/point_value", "variants cannot set rate with a budget")


def resolve(p: dict, payment_category: str | None, hospital_level: str | None) -> dict:
    """Parameters for one (insurance type, hospital level) combination: base ← matching variants in order."""
    out = {k: v for k, v in p.items() if k != "variants"}
    for v in p.get("variants") or []:
        ok = True
        for key, val in v["when"].items():
            actual = payment_category if key == "payment_category" else hospital_level
            vals = [str(x) for x in val] if isinstance(val, list) else [str(val)]
            if actual not in vals:
                ok = False
        if ok:
            out = _merge(out, {k: x for k, x in v.items() if k != "when"})
    return out


def canonical(p: dict) -> tuple[str, str]:
    text = json.dumps({k: v for k, v in p.items() if k != "_file"}, ensure_ascii=False, sort_keys=True,
                      default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()
