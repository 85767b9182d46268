"""Allocation plans (分摊方案) as data: YAML → pydantic models, checked before any run (docs/cost.md §2).

A plan is a list of steps run in order. Each step empties its source units (a cost class, or for step 0 a list of
shared-cost units) onto the units of its receiving classes, per cost item by a measured basis; overrides pick
another basis for source units matched by attribute or code list. Refused with a stable COST-PLAN-* code naming the
file and step: unknown class/basis/item codes, a class allocating onto itself, a circle between classes, a step
allocating onto a class already emptied by an earlier step.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from yunying.cost.errors import CostError

# Codes of the cost domains (COST-CONTRACT A). The data model's domains.yaml is the source when it holds them
# (dept_class, alloc_basis, cost_item, charge_category, service_line); these are the contract's codes otherwise.
_CONTRACT_CODES = {
    "dept_class": ("admin", "support", "medtech", "clinical"),
    "alloc_basis": ("area", "staff", "workload", "revenue", "bed_days", "op_visits", "discharges", "admissions",
                    "packs", "ordered_revenue", "meter"),
    "cost_item": ("personnel", "material", "drug", "depreciation", "amortization", "risk_fund", "other"),
    "charge_category": ("bed", "consult", "exam", "lab", "treatment", "surgery", "nursing", "material", "drug",
                        "patent_tcm", "herbal", "other"),
    "service_line": ("outpatient", "inpatient", "other"),
    "fund_source": ("fiscal", "research", "own"),
}


@cache
def domain_codes(domain: str) -> tuple[str, ...]:
    from yunying.model.catalogue import load_model

    d = load_model().domains.get(domain)
    return tuple(d.codes) if d is not None else _CONTRACT_CODES[domain]


def domain_label(domain: str, code: str | None, lang: str = "zh") -> str:
    """Chinese label of a code (rendering only); the code itself when the domain or code is unknown or lang='en'."""
    if code is None:
        return ""
    if lang != "zh":
        return str(code)
    from yunying.model.catalogue import load_model

    d = load_model().domains.get(domain)
    return d.codes.get(code, code) if d is not None else code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Match(_Strict):
    """Which source units an override applies to (every key given must match)."""
    unit_codes: list[str] | None = None
    dept_codes: list[str] | None = None
    service_line: list[str] | None = None
    provider_basis: str | None = None     # the unit provides this basis (cost_basis rows with provider_unit = it)


class ReceiverFilter(_Strict):
    service_line: list[str] | None = None
    unit_codes: list[str] | None = None


class Rule(_Strict):
    basis: dict[str, str]                  # cost item (or charge category) or '*' -> basis code
    by_provider: bool = False              # quantities specific to the source unit (provider_unit = source)
    missing: Literal["refuse", "zero"] | None = None   # a receiver without a quantity row; default below
    receivers_where: ReceiverFilter | None = None
    # cost item (or '*') -> a general basis used for a source unit's month when the receivers' quantities of `basis`
    # sum to 0 (e.g. a 医技 unit nobody ordered from that month: 开单收入 0 → 收入); recorded on every hop it makes
    fallback: dict[str, str] | None = None

    @property
    def missing_policy(self) -> str:
        """Provider-specific quantities are naturally absent for units that ordered nothing from the provider."""
        return self.missing or ("zero" if self.by_provider else "refuse")


class Override(Rule):
    when: Match


class Source(_Strict):
    cost_class: str | None = None
    unit_codes: list[str] | None = None


class Step(Rule):
    step: int = Field(ge=0, le=3)
    zh: str = ""
    en: str = ""
    source: Source
    receivers: list[str]
    overrides: list[Override] = Field(default_factory=list)


class Plan(_Strict):
    plan_id: str
    version: str = "1"
    zh: str = ""
    en: str = ""
    steps: list[Step]
    # set by the loader
    path: str = ""
    sha256: str = ""

    def step_label(self, step: int, lang: str = "zh") -> str:
        for s in self.steps:
            if s.step == step:
                return (s.zh if lang == "zh" else s.en) or f"step {step}"
        return f"step {step}"

    @property
    def final_classes(self) -> list[str]:
        """Classes that receive but are never emptied: where full cost ends (临床服务类 in the default plan)."""
        sources = {s.source.cost_class for s in self.steps}
        out: list[str] = []
        for s in self.steps:
            out += [c for c in s.receivers if c not in sources and c not in out]
        return out


def default_plan_path() -> Path:
    return Path(str(resources.files("yunying.cost").joinpath("plans", "default.yaml")))


def _err(code: str, where: str, zh: str, en: str, fix_zh: str, fix_en: str) -> CostError:
    return CostError(code, f"分摊方案 {where}：{zh}。{fix_zh}", f"allocation plan {where}: {en}. {fix_en}")


def load_plan(path: str | Path | None = None) -> Plan:
    """Read and check a plan file (None: the bundled default)."""
    p = Path(path) if path is not None else default_plan_path()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CostError("COST-PLAN-FILE", f"无法读取分摊方案文件 {p}：{exc}", f"cannot read plan file {p}: {exc}")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
        plan = Plan.model_validate(data)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CostError("COST-PLAN-YAML", f"分摊方案 {p} 不是有效的 UTF-8 YAML：{exc}",
                        f"plan {p} is not valid UTF-8 YAML: {exc}")
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise CostError("COST-PLAN-YAML", f"分摊方案 {p} 格式错误（{loc}：{first['msg']}），格式见 docs/cost.md §2",
                        f"plan {p} is malformed ({loc}: {first['msg']}); format: docs/cost.md §2")
    plan.path = str(p.resolve())
    plan.sha256 = hashlib.sha256(raw).hexdigest()
    check_plan(plan)
    return plan


def check_plan(plan: Plan) -> None:
    """Refuse a plan that cannot run correctly; messages name the file and step."""
    classes, bases = set(domain_codes("dept_class")), set(domain_codes("alloc_basis"))
    items = set(domain_codes("cost_item")) | set(domain_codes("charge_category")) | {"*"}
    lines = set(domain_codes("service_line"))
    f = plan.path or plan.plan_id
    if not plan.steps:
        raise _err("COST-PLAN-STEP", f, "没有任何分摊步骤", "has no steps", "请至少写一步", "add at least one step")
    numbers = [s.step for s in plan.steps]
    if numbers != sorted(set(numbers)):
        raise _err("COST-PLAN-STEP", f, f"步骤编号须唯一且递增（现为 {numbers}）", f"step numbers must be unique "
                   f"and increasing (got {numbers})", "请按执行顺序编号 0–3", "number the steps 0–3 in run order")
    seen_sources: list[str] = []
    for s in plan.steps:
        where = f"{f} 第 {s.step} 步"
        where_en = f"{f} step {s.step}"

        def bad(code, zh, en, fix_zh, fix_en):
            return CostError(code, f"分摊方案 {where}：{zh}。{fix_zh}", f"allocation plan {where_en}: {en}. {fix_en}")

        if s.step == 0:
            if not s.source.unit_codes or s.source.cost_class:
                raise bad("COST-PLAN-STEP", "第 0 步（公共成本）的来源须是单元代码列表 source.unit_codes",
                          "step 0 (shared costs) takes its source as a unit code list source.unit_codes",
                          "例：source: {unit_codes: [PUBLIC]}", "e.g. source: {unit_codes: [PUBLIC]}")
        elif not s.source.cost_class or s.source.unit_codes:
            raise bad("COST-PLAN-STEP", "第 1–3 步的来源须是一个科室类别 source.cost_class",
                      "steps 1–3 take a cost class as source (source.cost_class)",
                      "例：source: {cost_class: admin}", "e.g. source: {cost_class: admin}")
        for c in [s.source.cost_class] * bool(s.source.cost_class) + s.receivers:
            if c not in classes:
                raise bad("COST-PLAN-CLASS", f"未知的科室类别 {c!r}", f"unknown cost class {c!r}",
                          f"可用：{'、'.join(sorted(classes))}", f"known: {', '.join(sorted(classes))}")
        if not s.receivers:
            raise bad("COST-PLAN-STEP", "没有接收类别", "no receiving classes", "请填写 receivers",
                      "list the receiving classes")
        for rule, label in [(s, "basis")] + [(o, f"overrides[{i}]") for i, o in enumerate(s.overrides)]:
            for item, b in list(rule.basis.items()) + list((rule.fallback or {}).items()):
                if b not in bases:
                    raise bad("COST-PLAN-BASIS", f"{label} 中的分摊参数 {b!r} 未知", f"{label}: unknown basis {b!r}",
                              f"可用：{'、'.join(sorted(bases))}", f"known: {', '.join(sorted(bases))}")
                if item not in items:
                    raise bad("COST-PLAN-ITEM", f"{label} 中的成本项目 {item!r} 未知", f"{label}: unknown cost "
                              f"item {item!r}", "请用成本项目代码或 *", "use a cost item code or *")
            lines_used = (rule.receivers_where.service_line or []) if rule.receivers_where else []
            if isinstance(rule, Override):
                lines_used = lines_used + (rule.when.service_line or [])
                if rule.when.provider_basis and rule.when.provider_basis not in bases:
                    raise bad("COST-PLAN-BASIS", f"{label}.when.provider_basis {rule.when.provider_basis!r} 未知",
                              f"{label}.when.provider_basis {rule.when.provider_basis!r} is unknown",
                              f"可用：{'、'.join(sorted(bases))}", f"known: {', '.join(sorted(bases))}")
            for line in lines_used:
                if line not in lines:
                    raise bad("COST-PLAN-STEP", f"{label} 中的服务类型 {line!r} 未知", f"{label}: unknown service "
                              f"line {line!r}", f"可用：{'、'.join(sorted(lines))}", f"known: {', '.join(sorted(lines))}")
            if s.step > 0 and "*" not in rule.basis:
                raise bad("COST-PLAN-BASIS", f"{label} 未给全部成本项目指定分摊参数（缺少 \"*\"）",
                          f"{label} does not give a basis for every cost item (no \"*\")",
                          "第 1–3 步须把来源类别的成本全部分出：请加 \"*\": 参数代码",
                          "steps 1–3 empty the source class completely: add \"*\": basis")
        src = s.source.cost_class
        if src and src in s.receivers:
            raise bad("COST-PLAN-SELF", f"类别 {src} 分摊给自身", f"class {src} allocates onto itself",
                      "同类单元之间不做互相分摊：请从 receivers 中去掉它",
                      "no reciprocal allocation within a class: remove it from receivers")
        if src and src in seen_sources:
            raise bad("COST-PLAN-STEP", f"类别 {src} 在前面的步骤已分摊过", f"class {src} is already a source of "
                      "an earlier step", "每个类别只分摊一次", "each class is emptied once")
        if src:
            seen_sources.append(src)
    _check_dag(plan, f)
    emptied: list[str] = []
    for s in plan.steps:
        back = [c for c in s.receivers if c in emptied]
        if back:
            raise CostError("COST-PLAN-ORDER", f"分摊方案 {f} 第 {s.step} 步：把成本分给了前面步骤已分空的类别 "
                            f"{'、'.join(back)}，这些成本将无法再分出。请调整步骤顺序（先分出的类别不再接收）",
                            f"allocation plan {f} step {s.step}: allocates onto {', '.join(back)}, already emptied "
                            "by an earlier step, so that cost would stay there. Reorder the steps (a class emptied "
                            "earlier receives nothing later)")
        if s.source.cost_class:
            emptied.append(s.source.cost_class)


def _check_dag(plan: Plan, f: str) -> None:
    """The class graph source → receivers must have no circle (a → b in one step, b → a in another)."""
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], int] = {}
    for s in plan.steps:
        if s.source.cost_class:
            for r in s.receivers:
                edges.setdefault(s.source.cost_class, set()).add(r)
                where.setdefault((s.source.cost_class, r), s.step)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        path.pop()
        return None

    for n in sorted(edges):
        if n not in state:
            cyc = visit(n)
            if cyc:
                steps = sorted({where[(a, b)] for a, b in zip(cyc, cyc[1:])})
                chain = " → ".join(cyc)
                raise CostError("COST-PLAN-CYCLE", f"分摊方案 {f} 第 {'、'.join(map(str, steps))} 步：类别之间循环分摊 "
                                f"{chain}。阶梯分摊须单向：请删去其中一个方向",
                                f"allocation plan {f} steps {', '.join(map(str, steps))}: classes allocate in a "
                                f"circle {chain}. Step-down is one-way: remove one direction")
