"""DIP (按病种分值付费, Big Data Diagnosis-Intervention Packet): catalogue import and validation, case matching to
核心病种 / 综合病种 (spec §3.2), 辅助目录 factors (§3.3), 偏差病例 (§3.4), scores and point value (§3.5).

Catalogue: one CSV/xlsx file, format in docs/drg-economics.md §DIP catalogue. Procedure rules and supplement
conditions are parsed by a small grammar here — catalogue text is never evaluated as code.

Worked example (spec §3.5, K = 1000): 病种 avg ¥11 000, all-case avg ¥10 000 → score 1 100; PV ¥10.5 → ¥11 550.
Case ¥25 000: r = 2.27 > 2 → (r − 2 + 1) × 1 100 = 1 400 scores = ¥14 700. Case ¥4 400: r = 0.40 < 0.5 → 440
scores = ¥4 620.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import duckdb
import pyarrow as pa

from yunying.economics.errors import EconomicsError
from yunying.model.catalogue import died_sql
from yunying.economics.tables import need_columns, num, read_rows
from yunying.warehouse.db import transaction

TYPES = {"核心": "core", "core": "core", "综合": "comprehensive", "comprehensive": "comprehensive",
         "基层": "basic", "basic": "basic"}
TREATMENT = {"保守治疗": "conservative", "诊断性操作": "diagnostic", "治疗性操作": "therapeutic",
             "相关手术": "surgery", "conservative": "conservative", "diagnostic": "diagnostic",
             "therapeutic": "therapeutic", "surgery": "surgery"}
CODE_RE = re.compile(r"^[A-Za-z0-9.x×\-]+$")
RANGE_RE = re.compile(r"^([A-Z]\d{2})-([A-Z]\d{2})$")
CONDITIONS = {"died": 0, "dx_any": 1, "px_any": 1, "age_ge": 1, "age_lt": 1, "los_gt": 1}


def demo_catalogue() -> Path:
    return Path(str(resources.files("yunying.economics").joinpath("catalogue", "dip_demo.csv")))


@dataclass
class DipGroup:
    line: int
    code: str
    name: str
    type: str                      # core | comprehensive | basic
    diag: str                      # code prefix, or '' when a range is used
    diag_range: tuple | None       # ('A00', 'A99')
    rule: list                     # alternatives, each a list of code prefixes (all required); [] = 保守治疗
    rule_text: str
    treatment: str | None          # for comprehensive rows
    score: float
    avg_amount: float
    avg_los: float | None


@dataclass
class Supplement:
    line: int
    applies_to: str                # dip_code or '*'
    kind: str
    args: list
    factor: float
    text: str


@dataclass
class Catalogue:
    name: str
    path: str
    groups: list[DipGroup]
    supplements: list[Supplement]
    content_hash: str
    rows: list = field(default_factory=list)

    @property
    def score_per_yuan(self) -> float:
        """K / C̄ implied by the catalogue (Σ score / Σ avg_amount over its groups)."""
        return sum(g.score for g in self.groups) / sum(g.avg_amount for g in self.groups)


def parse_rule(text: str, where: str) -> list[list[str]]:
    """'a/b' any of; 'a+b' all of; '+' binds tighter: 'a+b/c' = (a and b) or c. Empty = 保守治疗."""
    text = (text or "").strip()
    if not text:
        return []
    alts = []
    for alt in text.split("/"):
        codes = [c.strip() for c in alt.split("+")]
        if any(not c or not CODE_RE.match(c) for c in codes):
            raise EconomicsError(f"ECON-DIP {where} 字段【oprn_codes】值 {text!r} 无法解析（用 / 表示任一、+ 表示同时，"
                                 f"编码只含字母数字和 . x -）/ {where}: cannot parse procedure rule {text!r}")
        alts.append(codes)
    return alts


def parse_condition(text: str, where: str) -> tuple[str, list]:
    text = (text or "").strip()
    kind, _, arg = text.partition(":")
    kind = kind.strip()
    if kind not in CONDITIONS:
        raise EconomicsError(f"ECON-DIP {where} 字段【condition】值 {text!r} 无效，可用：died, dx_any:编码/编码, "
                             f"px_any:编码/编码, age_ge:N, age_lt:N, los_gt:N / {where}: invalid condition {text!r}")
    if CONDITIONS[kind] == 0:
        if arg.strip():
            raise EconomicsError(f"ECON-DIP {where} 条件 {kind} 不带参数 / condition {kind} takes no argument")
        return kind, []
    if kind in ("dx_any", "px_any"):
        codes = [c.strip() for c in arg.split("/")]
        if not arg.strip() or any(not c or not CODE_RE.match(c) for c in codes):
            raise EconomicsError(f"ECON-DIP {where} 条件 {text!r} 的编码列表无效 / invalid code list in {text!r}")
        return kind, codes
    try:
        return kind, [float(arg)]
    except ValueError:
        raise EconomicsError(f"ECON-DIP {where} 条件 {text!r} 需要数字参数 / condition needs a number") from None


def load_catalogue(path: Path, name: str | None = None) -> Catalogue:
    """Parse and validate a DIP catalogue file; errors name the file and row."""
    path = Path(path)
    rows = read_rows(path)
    need_columns(path, rows, ["dip_code", "dip_type", "diag_code", "score", "avg_amount"])
    groups, sups, seen = [], [], {}
    for line, r in rows:
        where = f"{path.name} 第{line}行 (row {line})"
        kind = (r.get("row_kind") or "group").strip().lower()
        if kind in ("supplement", "辅助目录"):
            cond = parse_condition(r.get("condition", ""), where)
            f = num(path, line, "factor", r.get("factor", ""), required=True, positive=True)
            sups.append(Supplement(line, r.get("applies_to") or "*", cond[0], cond[1], f, r.get("condition", "")))
            continue
        if kind != "group":
            raise EconomicsError(f"ECON-DIP {where} 字段【row_kind】值 {kind!r} 应为 group 或 supplement / "
                                 f"row_kind must be group or supplement")
        code = r.get("dip_code", "")
        if not code:
            raise EconomicsError(f"ECON-DIP {where} 字段【dip_code】为空 / dip_code is empty")
        if code in seen:
            raise EconomicsError(f"ECON-DIP {where} 病种编码 {code} 与第{seen[code]}行重复 / duplicate dip_code "
                                 f"{code} (row {seen[code]})")
        seen[code] = line
        typ = TYPES.get(r.get("dip_type", "").strip())
        if typ is None:
            raise EconomicsError(f"ECON-DIP {where} 字段【dip_type】值 {r.get('dip_type')!r} 应为 核心/综合/基层 / "
                                 f"dip_type must be 核心, 综合 or 基层")
        diag = r.get("diag_code", "").strip()
        m = RANGE_RE.match(diag)
        if not diag or (not m and not CODE_RE.match(diag)):
            raise EconomicsError(f"ECON-DIP {where} 字段【diag_code】值 {diag!r} 应为诊断编码、类目或范围 A00-A99 / "
                                 f"diag_code must be a code, category or range A00-A99")
        treatment = None
        if typ == "comprehensive":
            treatment = TREATMENT.get(r.get("oprn_type", "").strip())
            if treatment is None:
                raise EconomicsError(f"ECON-DIP {where} 综合病种需要 oprn_type（保守治疗/诊断性操作/治疗性操作/相关手术），"
                                     f"收到 {r.get('oprn_type')!r} / comprehensive rows need oprn_type")
        elif m:
            raise EconomicsError(f"ECON-DIP {where} 核心/基层病种不能用诊断范围 {diag!r} / core rows need a code")
        groups.append(DipGroup(
            line=line, code=code, name=r.get("dip_name", ""), type=typ,
            diag="" if m else diag, diag_range=(m.group(1), m.group(2)) if m else None,
            rule=parse_rule(r.get("oprn_codes", ""), where) if typ != "comprehensive" else [],
            rule_text=r.get("oprn_codes", ""), treatment=treatment,
            score=num(path, line, "score", r.get("score", ""), required=True, positive=True),
            avg_amount=num(path, line, "avg_amount", r.get("avg_amount", ""), required=True, positive=True),
            avg_los=num(path, line, "avg_los", r.get("avg_los", ""), nonneg=True)))
    for s in sups:
        if s.applies_to != "*" and s.applies_to not in seen:
            raise EconomicsError(f"ECON-DIP {path.name} 第{s.line}行 (row {s.line}) 辅助目录 applies_to "
                                 f"{s.applies_to!r} 不是目录中的病种 / applies_to is not a dip_code of the catalogue")
    if not groups:
        raise EconomicsError(f"ECON-DIP {path.name} 没有病种行 / no group rows")
    canon = json.dumps([r for _, r in rows], ensure_ascii=False, sort_keys=True)
    return Catalogue(name or path.stem, str(path), groups, sups, hashlib.sha256(canon.encode()).hexdigest(),
                     rows)


def import_catalogue(con: duckdb.DuckDBPyConnection, path: Path, name: str | None = None) -> Catalogue:
    cat = load_catalogue(path, name)
    with transaction(con):
        con.execute("delete from econ_dip_catalogue where catalogue = ?", [cat.name])
        recs = []
        for line, r in cat.rows:
            def f(k):
                v = r.get(k, "")
                return float(v) if v not in ("", None) else None
            recs.append((cat.name, cat.content_hash, line, (r.get("row_kind") or "group").lower(),
                         r.get("dip_code") or None, r.get("dip_name") or None, r.get("dip_type") or None,
                         r.get("diag_code") or None, r.get("oprn_codes") or None, r.get("oprn_type") or None,
                         f("score"), f("avg_amount"), f("avg_los"), r.get("applies_to") or None,
                         r.get("condition") or None, f("factor"), cat.path))
        con.executemany("insert into econ_dip_catalogue (catalogue, content_hash, line, row_kind, dip_code, dip_name,"
                        " dip_type, diag_code, oprn_codes, oprn_type, score, avg_amount, avg_los, applies_to, "
                        "condition, factor, source) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", recs)
    return cat


# ------------------------------------------------------------------------------------------------------------
# matching and scoring (pure functions; tests call them on literal cases)
# ------------------------------------------------------------------------------------------------------------


def _pref(code: str, prefix: str) -> bool:
    return code.startswith(prefix)


def treatment_type(px: list[tuple[str, str | None]]) -> str:
    """保守治疗 without procedures; 相关手术 if any procedure has surgery level 3/4; 治疗性操作 for level 1/2;
    otherwise 诊断性操作 (chosen reading, docs §DIP)."""
    if not px:
        return "conservative"
    levels = {str(lv) for _, lv in px if lv not in (None, "")}
    if levels & {"3", "4"}:
        return "surgery"
    if levels & {"1", "2"}:
        return "therapeutic"
    return "diagnostic"


class Matcher:
    def __init__(self, cat: Catalogue):
        self.cat = cat
        self.core = [g for g in cat.groups if g.type in ("core", "basic")]
        self.comp = [g for g in cat.groups if g.type == "comprehensive"]
        self.by3: dict[str, list[DipGroup]] = {}
        for g in self.core:
            self.by3.setdefault(g.diag[:3], []).append(g)

    def match(self, dx: str, px: list[tuple[str, str | None]], fee: float) -> tuple[DipGroup | None, str]:
        """Returns (group, kind) with kind core / basic / comprehensive / unmatched."""
        codes = [c for c, _ in px]
        cands = [g for g in self.by3.get(dx[:3], []) if _pref(dx, g.diag)]
        best, best_key = None, None
        for g in cands:
            if not g.rule:
                continue
            sat = [alt for alt in g.rule if all(any(_pref(c, a) for c in codes) for a in alt)]
            if not sat:
                continue
            all_codes = {a for alt in g.rule for a in alt}
            matched = sum(1 for c in codes if any(_pref(c, a) for a in all_codes))
            key = (max(len(a) for a in sat), matched, len(g.diag), -abs(g.avg_amount - fee))
            if best_key is None or key > best_key:
                best, best_key = g, key
        if best is None and not codes:
            plain = [g for g in cands if not g.rule]
            if plain:
                best = max(plain, key=lambda g: (len(g.diag), -abs(g.avg_amount - fee)))
        if best is not None:
            return best, best.type
        t = treatment_type(px)
        comp = []
        for g in self.comp:
            if g.treatment != t:
                continue
            if g.diag_range:
                if g.diag_range[0] <= dx[:3] <= g.diag_range[1]:
                    comp.append((0, g))
            elif _pref(dx, g.diag):
                comp.append((len(g.diag.replace(".", "")), g))
        if comp:
            comp.sort(key=lambda x: (-x[0], abs(x[1].avg_amount - fee)))
            return comp[0][1], "comprehensive"
        return None, "unmatched"

    def aux_factor(self, g: DipGroup | None, secondary: list[str], px: list[str], died: bool,
                   age: int | None, los: int | None) -> tuple[float, list[str]]:
        """辅助目录: the highest factor among matching supplement rows (levels do not stack); 1 when none."""
        best, why = 1.0, []
        for s in self.cat.supplements:
            if s.applies_to != "*" and (g is None or s.applies_to != g.code):
                continue
            hit = ((s.kind == "died" and died)
                   or (s.kind == "dx_any" and any(_pref(c, a) for c in secondary for a in s.args))
                   or (s.kind == "px_any" and any(_pref(c, a) for c in px for a in s.args))
                   or (s.kind == "age_ge" and age is not None and age >= s.args[0])
                   or (s.kind == "age_lt" and age is not None and age < s.args[0])
                   or (s.kind == "los_gt" and los is not None and los > s.args[0]))
            if hit:
                why.append(f"{s.text}×{s.factor:g}")
                best = max(best, s.factor)
        return best, why


DEFAULT_DIP = {"high_ratio": 2.0, "low_ratio": 0.5, "extreme_ratio": None, "unmatched_factor": 0.7,
               "hospital_factor": 1.0, "basic_factor": 1.0,    # 基层病种: own factor, the same at every level
               "point_value": None, "budget": None, "score_per_yuan": None}


def score_case(g: DipGroup | None, fee: float, aux: float, p: dict, score_per_yuan: float) -> tuple[str, float,
                                                                                                      float, float]:
    """(class, ratio, ref_amount, settled score) per spec §3.4 (national deviation rule)."""
    if g is None:
        return "unmatched", None, None, fee * score_per_yuan * p["unmatched_factor"]
    base, ref = g.score * aux, g.avg_amount * aux
    r = fee / ref
    if p.get("extreme_ratio") and r > p["extreme_ratio"]:
        return "extreme", r, ref, base
    if r > p["high_ratio"]:
        return "high", r, ref, (r - p["high_ratio"] + 1) * base
    if r < p["low_ratio"]:
        return "low", r, ref, r * base
    return "normal", r, ref, base


DIP_CASES_SQL = """
with dx as (
  select hospital_id, mrn, admission_no,
         max(dx_code) filter (where seq = 0) as pdx,
         list(dx_code order by seq) filter (where seq > 0 and dx_code is not null) as sdx
  from discharge_diagnosis where dx_type = 'W' or dx_type is null group by all
), px as (
  select hospital_id, mrn, admission_no, list(px_code order by seq) as pxs,
         list(coalesce(level, '') order by seq) as lvls
  from discharge_procedure where px_code is not null group by all
)
select d.hospital_id, d.mrn, d.admission_no, d.discharge_dept_code as dept_code,
       coalesce(nullif(d.doctor_group, ''), nullif(d.attending_physician, ''), '(未填)') as doctor_group,
       coalesce(d.payment_category, '') as payment_category, coalesce(h.level, '') as hospital_level,
       cast(date_trunc('month', d.discharge_time) as date) as discharge_month,
       cast(d.fee_total as double) as fee_total, d.los_days, d.age_years,
       coalesce({died}, false) as died,
       coalesce(dx.pdx, '') as pdx, coalesce(dx.sdx, []) as sdx,
       coalesce(px.pxs, []) as pxs, coalesce(px.lvls, []) as lvls
from discharge d
left join dx using (hospital_id, mrn, admission_no)
left join px using (hospital_id, mrn, admission_no)
left join hospital h on h.hospital_id = d.hospital_id
{where}
order by d.hospital_id, d.mrn, d.admission_no
"""


def simulate_dip(con: duckdb.DuckDBPyConnection, catalogue: Path | Catalogue, *, year: int | None = None,
                 params: dict | None = None) -> tuple[str, dict]:
    """Match, score and pay every discharge (of ``year``) under a DIP catalogue; store in econ_case_payment."""
    cat = catalogue if isinstance(catalogue, Catalogue) else load_catalogue(catalogue)
    p = DEFAULT_DIP | {k: v for k, v in (params or {}).items() if v is not None}
    unknown = set(p) - set(DEFAULT_DIP)
    if unknown:
        raise EconomicsError(f"ECON-PARAM DIP 未知参数 {sorted(unknown)} / unknown DIP parameters")
    if p["point_value"] is None and p["budget"] is None:
        raise EconomicsError("ECON-PARAM DIP 需要 --point-value 或 --budget / DIP needs a point value or a budget")
    spy = p["score_per_yuan"] or cat.score_per_yuan
    where = "where year(d.discharge_time) = $year" if year is not None else ""
    sql = DIP_CASES_SQL.format(where=where, died=died_sql())
    cases = con.sql(sql, params={"year": year} if year is not None else None).to_arrow_table()
    if cases.num_rows == 0:
        raise EconomicsError("ECON-NODATA 没有出院病例 / no discharges to score")
    m = Matcher(cat)
    cols = {k: cases[k].to_pylist() for k in ("pdx", "sdx", "pxs", "lvls", "fee_total", "died", "age_years",
                                               "los_days")}
    out = {k: [] for k in ("group_code", "status", "base", "ref", "ratio", "case_class", "points", "flags",
                           "high_cut", "low_cut")}
    for i in range(cases.num_rows):
        px = list(zip(cols["pxs"][i], cols["lvls"][i]))
        fee = cols["fee_total"][i] or 0.0
        g, kind = m.match(cols["pdx"][i], px, fee)
        aux, why = m.aux_factor(g, cols["sdx"][i], cols["pxs"][i], cols["died"][i], cols["age_years"][i],
                                cols["los_days"][i])
        cls, r, ref, score = score_case(g, fee, aux, p, spy)
        out["group_code"].append(g.code if g else "KBBZ")
        out["status"].append(kind)
        out["base"].append(g.score * aux if g else None)
        out["ref"].append(ref)
        out["ratio"].append(r)
        out["case_class"].append(cls)
        out["points"].append(score)
        out["flags"].append(";".join(why + (["extreme_ratio"] if cls == "extreme" else [])))
        out["high_cut"].append(p["high_ratio"] if cls == "high" else None)
        out["low_cut"].append(p["low_ratio"] if cls == "low" else None)
    total_score = sum(out["points"])
    pv = p["point_value"] if p["point_value"] is not None else p["budget"] / total_score
    res = cases.select(["hospital_id", "mrn", "admission_no", "dept_code", "doctor_group", "payment_category",
                        "hospital_level", "discharge_month", "fee_total"])
    for k, v in out.items():
        res = res.append_column(k, pa.array(v, type=pa.float64() if k in ("base", "ref", "ratio", "points",
                                                                            "high_cut", "low_cut") else pa.string()))
    run_params = p | {"catalogue": cat.name, "catalogue_hash": cat.content_hash, "score_per_yuan": spy,
                      "year": year}
    ptext = json.dumps(run_params, ensure_ascii=False, sort_keys=True, default=str)
    phash = hashlib.sha256(ptext.encode()).hexdigest()
    data_fp = [cases.num_rows, round(sum(cols["fee_total"][i] or 0 for i in range(cases.num_rows)), 2)]
    run_id = "dip-" + hashlib.sha256(json.dumps([phash, data_fp]).encode()).hexdigest()[:12]
    con.register("_dip_out", res)
    try:
        with transaction(con):
            con.execute("delete from econ_case_payment where run_id = ?", [run_id])
            con.execute("delete from econ_run where run_id = ?", [run_id])
            con.execute("""insert into econ_case_payment
                select $run_id, hospital_id, mrn, admission_no, group_code, status, dept_code, doctor_group,
                       payment_category, hospital_level, discharge_month, fee_total, base, ref, ratio, high_cut, low_cut,
                       case_class, points, points * $pv * (case when status = 'basic' then $bf else $hf end),
                       points * $pv * (case when status = 'basic' then $bf else $hf end) - fee_total, null, null,
                       case_class = 'extreme', flags
                from _dip_out""", {"run_id": run_id, "pv": pv, "hf": p["hospital_factor"], "bf": p["basic_factor"]})
            from yunying.economics.payment import run_summary

            summary = run_summary(con, run_id)
            summary.update({"catalogue": cat.name, "catalogue_hash": cat.content_hash, "point_value": pv,
                            "total_score": total_score, "year": year,
                            "by_match": dict(con.execute("select status, count(*) from econ_case_payment where run_id = ?"
                                                         " group by 1 order by 1", [run_id]).fetchall())})
            con.execute("insert into econ_run (run_id, kind, scheme, year, weights_hash, params_json, params_hash, "
                        "point_value, summary_json) values (?, 'dip', ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, cat.name, year, cat.content_hash, ptext, phash, pv,
                         json.dumps(summary, ensure_ascii=False, default=str)])
    finally:
        con.unregister("_dip_out")
    return run_id, summary
