"""One target store: the indicator engine's. 系统管理 reads and writes the warehouse table `ind_target`
(migration 0030), which `yunying.indicators.targets.load_targets` merges over the shipped and user YAML files
(the table wins); pages show the status the engine's `apply_targets` gives."""

from __future__ import annotations

from yunying.web.errors import bad_request, not_found
from yunying.warehouse.db import transaction

OPS = ("<", "<=", ">", ">=", "=", "between")
COLUMNS = ["indicator_id", "hospital_id", "dept_code", "op", "value", "value_hi", "note_zh", "source", "updated_at"]


def list_targets(cur) -> list[dict]:
    """Targets of the table ind_target (the shipped example file is listed by the engine's CLI)."""
    rows = cur.execute(f"select {', '.join(COLUMNS)} from ind_target "
                       f"order by indicator_id, hospital_id nulls first, dept_code nulls first").fetchall()
    out = [dict(zip(COLUMNS, r)) for r in rows]
    for r in out:
        r["updated_at"] = r["updated_at"].isoformat(timespec="seconds") if r["updated_at"] else None
    return out


def set_target(cur, catalogue, *, indicator_id: str, value: float, op: str | None = None,
               value_hi: float | None = None, hospital_id: str | None = None, dept_code: str | None = None,
               note_zh: str | None = None, by: str = "") -> dict:
    """Insert or replace the target of (indicator, hospital, department) in ind_target. hospital_id None / '*' =
    every hospital; dept_code None / '' = hospital level, '*' = every department. Without `op` the indicator's
    direction decides (逐步降低 → <=, 逐步提高 → >=); 监测比较 indicators need an explicit op."""
    if catalogue is None or indicator_id not in catalogue.indicators:
        raise not_found(f"没有指标 {indicator_id}", f"no indicator {indicator_id}")
    ind = catalogue[indicator_id]
    if not op:
        op = {"down": "<=", "up": ">="}.get(ind.direction)
        if op is None:
            raise bad_request("WEB-TARGET", f"{indicator_id} 为{ind.direction_zh}指标，请指定比较符 op",
                              f"{indicator_id} has no direction; give op")
    if op not in OPS:
        raise bad_request("WEB-TARGET", f"比较符应为 {' '.join(OPS)}", f"op must be one of {' '.join(OPS)}")
    if op == "between" and value_hi is None:
        raise bad_request("WEB-TARGET", "between 需要上限 value_hi", "between needs value_hi")
    hospital_id = None if hospital_id in (None, "", "*") else hospital_id
    dept_code = None if dept_code in (None, "") else dept_code
    with transaction(cur):
        cur.execute("delete from ind_target where indicator_id = ? and hospital_id is not distinct from ? "
                    "and dept_code is not distinct from ?", [indicator_id, hospital_id, dept_code])
        cur.execute("insert into ind_target (indicator_id, hospital_id, dept_code, op, value, value_hi, note_zh, "
                    "source, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
                    [indicator_id, hospital_id, dept_code, op, float(value),
                     None if value_hi is None else float(value_hi), note_zh or None, f"web:{by}"])
    return {"indicator_id": indicator_id, "hospital_id": hospital_id, "dept_code": dept_code, "op": op,
            "value": float(value), "value_hi": value_hi}
