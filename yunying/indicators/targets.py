"""Targets 目标值: shipped example YAML + user YAML + the warehouse table ind_target (edited by the web app).

Each target: {indicator, op (< <= > >= = between), value, value_hi?, hospital_id?, dept_code?, note_zh?}.
Hospital-level values use targets without dept_code; department values use targets for that department or
dept_code "*" (every department). More specific wins; later sources win over earlier ones (table > user > shipped).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

OPS = {"<", "<=", ">", ">=", "=", "between"}


class TargetError(ValueError):
    pass


def shipped_targets_file() -> Path:
    return Path(str(resources.files("yunying.indicators").joinpath("targets.yaml")))


def read_targets_file(path: Path) -> list[dict]:
    from yunying.indicators.catalogue import _LineLoader

    doc = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LineLoader) or []
    items = doc.get("targets", []) if isinstance(doc, dict) else doc
    out, errors = [], []
    for t in items:
        line = t.get("__line__", 0) if isinstance(t, dict) else 0
        try:
            out.append(_norm(t, f"{path}"))
        except (KeyError, TypeError, ValueError) as exc:
            errors.append(f"{path}:{line}: 目标值无效 / bad target: {exc}")
    if errors:
        raise TargetError("\n".join(errors))
    return out


def _norm(t: dict, source: str) -> dict:
    op = str(t.get("op", "<")).strip()
    if op not in OPS:
        raise ValueError(f"op 应为 {sorted(OPS)} / bad op {op!r}")
    if "indicator" not in t:
        raise KeyError("缺少 indicator / indicator missing")
    hi = t.get("value_hi")
    if op == "between" and hi is None:
        raise ValueError("between 需要 value_hi / between needs value_hi")
    return {"indicator": str(t["indicator"]), "op": op, "value": float(t["value"]),
            "value_hi": None if hi is None else float(hi),
            "hospital_id": t.get("hospital_id") or None,
            "dept_code": None if t.get("dept_code") in (None, "") else str(t["dept_code"]),
            "note_zh": t.get("note_zh", ""), "source": source}


def load_targets(user_file: Path | None = None, *, query=None, shipped: bool = True) -> list[dict]:
    out: list[dict] = []
    if shipped:
        out += read_targets_file(shipped_targets_file())
    if user_file:
        out += read_targets_file(user_file)
    if query is not None:
        try:
            rows = query("select indicator_id, op, value, value_hi, hospital_id, dept_code, note_zh from ind_target")
        except Exception:  # noqa: BLE001 — warehouse without the table
            rows = []
        for r in rows:
            out.append(_norm({"indicator": r[0], "op": r[1], "value": r[2], "value_hi": r[3],
                              "hospital_id": r[4], "dept_code": r[5], "note_zh": r[6]}, "ind_target"))
    return out


def find_target(targets: list[dict], indicator_id: str, hospital_id: str, dept_code: str) -> dict | None:
    best, best_score = None, -1
    for i, t in enumerate(targets):
        if t["indicator"] != indicator_id:
            continue
        if t["hospital_id"] not in (None, hospital_id):
            continue
        if dept_code:
            if t["dept_code"] not in (dept_code, "*"):
                continue
        elif t["dept_code"] is not None:
            continue
        score = (2 if t["dept_code"] == dept_code and dept_code else 0) + (1 if t["hospital_id"] else 0)
        if score >= best_score:          # later sources win ties
            best, best_score = t, score
    return best


def met(value: float, t: dict) -> bool:
    v, op = value, t["op"]
    if op == "<":
        return v < t["value"]
    if op == "<=":
        return v <= t["value"]
    if op == ">":
        return v > t["value"]
    if op == ">=":
        return v >= t["value"]
    if op == "=":
        return abs(v - t["value"]) < 1e-9
    return t["value"] <= v <= t["value_hi"]


def shortfall(value: float, t: dict) -> float:
    """How far the value is on the wrong side of the target (0 when met)."""
    op, tv = t["op"], t["value"]
    if op in ("<", "<="):
        return max(0.0, value - tv)
    if op in (">", ">="):
        return max(0.0, tv - value)
    if op == "=":
        return abs(value - tv)
    return max(0.0, tv - value, value - t["value_hi"])


def target_text(t: dict) -> str:
    if t["op"] == "between":
        return f"{t['value']:g}~{t['value_hi']:g}"
    return f"{t['op']} {t['value']:g}"


def apply_targets(rows: list[dict], targets: list[dict], lang: str = "zh") -> None:
    """Fill target, status_code (met / not_met) with its word status (达标/未达标), gap (value − target) and
    severity (relative shortfall)."""
    from yunying.indicators.wording import word

    for r in rows:
        if r.get("value") is None:
            continue
        t = find_target(targets, r["indicator_id"], r["hospital_id"], r.get("dept_code") or "")
        if t is None:
            continue
        ok = met(r["value"], t)
        r["target"] = target_text(t)
        r["status_code"] = "met" if ok else "not_met"
        r["status"] = word(r["status_code"], lang)
        r["gap"] = round(r["value"] - t["value"], 6)
        sf = shortfall(r["value"], t)
        r["severity"] = round(sf / abs(t["value"]), 6) if t["value"] else sf
