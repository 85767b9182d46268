"""Who may see what. A `Scope` is built once per request from the user and applied by the query layer to
every warehouse query (hospital and department filters), so no route can forget it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
import os

import yaml

from yunying.web.errors import WebError, forbidden

MODULE_ZH = {"overview": "全院概览", "dept": "科室视图", "indicators": "指标详情", "cases": "病例清单",
             "export": "导出", "drg": "DRG分析", "qc": "病案质控", "import": "数据导入", "admin": "系统管理",
             "cost": "成本核算"}


@cache
def role_config(path: str | None = None) -> dict:
    path = path or os.environ.get("YUNYING_WEB_ROLES")
    text = Path(path).read_text(encoding="utf-8") if path else \
        resources.files("yunying.web").joinpath("roles.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def modules_for(role: str, office: str | None) -> frozenset[str]:
    cfg = role_config()["roles"].get(role) or {}
    if role == "office":
        cfg = cfg.get(office or "", {})
    return frozenset(cfg.get("modules", []))


def may_see_pii(role: str, office: str | None, pii_roles: list[str] | None = None) -> bool:
    allowed = set(pii_roles if pii_roles is not None else role_config().get("pii_roles", []))
    return role in allowed or (role == "office" and f"office:{office}" in allowed)


@dataclass(frozen=True)
class Scope:
    username: str
    role: str
    office: str | None
    hospitals: tuple[str, ...] | None      # None = every hospital in the warehouse
    dept: str | None                       # set for dept_head: the only department visible
    modules: frozenset[str]
    see_pii: bool

    # ---- checks -------------------------------------------------------------------------------------------
    def require(self, module: str) -> None:
        if module not in self.modules:
            raise forbidden("WEB-FORBIDDEN-MODULE", f"您的角色无权使用【{MODULE_ZH.get(module, module)}】模块",
                            f"your role may not use the {module} module")

    def check_hospital(self, hospital: str | None) -> None:
        if hospital and self.hospitals is not None and hospital not in self.hospitals:
            raise forbidden("WEB-FORBIDDEN-HOSPITAL", f"无权查看医院 {hospital} 的数据",
                            f"you may not see data of hospital {hospital}")

    def check_dept(self, dept: str | None) -> None:
        if self.dept is not None and dept is not None and dept != self.dept:
            raise forbidden("WEB-FORBIDDEN-DEPT", f"科主任只能查看本科室（{self.dept}）的数据，无权查看科室 {dept}",
                            f"a department head may only see department {self.dept}, not {dept}")

    def resolve(self, hospital: str | None = None, dept: str | None = None) -> tuple[str | None, str | None]:
        """Validate request filters; return the effective (hospital, dept) filter (dept_head → own dept)."""
        self.check_hospital(hospital)
        self.check_dept(dept)
        return hospital, dept if dept is not None else self.dept

    @property
    def is_dept_head(self) -> bool:
        return self.dept is not None

    # ---- SQL ----------------------------------------------------------------------------------------------
    def where(self, alias: str = "d", dept_col: str = "discharge_dept_code", *, hospital: str | None = None,
              dept: str | None = None) -> tuple[str, list]:
        """SQL predicate (with parameters) restricting rows of `alias` to this scope and the request filters."""
        hospital, dept = self.resolve(hospital, dept)
        a = f"{alias}." if alias else ""
        parts, params = ["true"], []
        if self.hospitals is not None:
            if not self.hospitals:
                parts.append("false")
            else:
                parts.append(f"{a}hospital_id in ({', '.join('?' for _ in self.hospitals)})")
                params += list(self.hospitals)
        if hospital:
            parts.append(f"{a}hospital_id = ?")
            params.append(hospital)
        if dept:
            parts.append(f"{a}{dept_col} = ?")
            params.append(dept)
        return " and ".join(parts), params


def build_scope(user, warehouse_hospitals: list[str], pii_roles: list[str] | None = None) -> Scope:
    if user.role == "admin" or user.hospital_id == "*":
        hospitals = None
    elif user.hospital_id:
        hospitals = (user.hospital_id,)
    else:  # no hospital on the account: the warehouse's only hospital, or nothing when it holds several
        hospitals = tuple(warehouse_hospitals) if len(warehouse_hospitals) == 1 else ()
    return Scope(username=user.username, role=user.role, office=user.office, hospitals=hospitals,
                 dept=user.dept_code if user.role == "dept_head" else None,
                 modules=modules_for(user.role, user.office),
                 see_pii=may_see_pii(user.role, user.office, pii_roles))


def require_ok(cond: bool, err: WebError) -> None:
    if not cond:
        raise err
