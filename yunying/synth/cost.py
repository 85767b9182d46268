"""Cost-accounting inputs of the synthetic hospital (issue 17; COST-CONTRACT.md §A; docs/cost.md "1 Inputs").

Derived from the generated tables, never drawn on their own, so they agree with them:
  cost_unit      from the departments (clinical: <dept>-OP / <dept>-IP units; medtech/support/admin: one unit)
  case_charge    one line per case and 首页 fee item (一般医疗服务费 split into 床位费 and 诊察费), the amounts of the
                 case's clean fee block; the line's item and executing unit from tables/charge_items.csv
  cost_revenue   Σ case lines (inpatient, month of discharge) + the outpatient visits' fee columns (month of visit)
  item_volume    the same, by item (quantity = amount ÷ list price: the lines carry amounts, not charge events)
  cost_ledger    each month's finance_month expense lines (tables/cost.yaml finance_items) spread over the units
                 by measured keys, exact to the cent
  cost_basis     staff = staff_count, bed_days = ward_month occupied bed days, op_visits = outpatient visits,
                 discharges / admissions from the stays, revenue / ordered_revenue / workload from cost_revenue and
                 item_volume, area / meter / packs from tables/cost.yaml
All the rules and numbers are in tables/cost.yaml and tables/charge_items.csv; this module only applies them.
"""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pyarrow as pa
import yaml

from .generator import FEE_TCM, FEE_WEST, _Writer, _dec, _largest_remainder, _seed
from .outpatient import OP_FEES
from .profile import ProfileError

# bases measured for every unit and month (a zero is a measurement); provider-specific ones (packs,
# ordered_revenue) are written only where non-zero (the engine counts a missing provider row as zero)
GENERAL_BASES = ("staff", "area", "meter", "bed_days", "discharges", "admissions", "op_visits", "revenue", "workload")
COST_KINDS = ("cost_unit", "charge_item", "cost_ledger", "cost_basis", "cost_revenue", "item_volume", "case_charge")
E4 = 10_000          # quantities are kept in integer units of 0.0001


def _data(name: str):
    return resources.files("yunying.synth").joinpath("tables", name)


def load_cost_tables() -> tuple[dict, list[dict]]:
    cfg = yaml.safe_load(_data("cost.yaml").read_text(encoding="utf-8"))
    with _data("charge_items.csv").open(encoding="utf-8") as f:
        items = list(csv.DictReader(f))
    for i, r in enumerate(items, 2):
        try:
            r["price_cents"] = int(round(float(r["price"]) * 100))
            r["weight_f"] = float(r["weight"])
            r["ip_share_f"] = float(r["ip_share"]) if r["ip_share"] else 1.0
        except ValueError as exc:
            raise ProfileError(f"yunying/synth/tables/charge_items.csv: row {i}: {exc}") from None
        if r["price_cents"] <= 0:
            raise ProfileError(f"yunying/synth/tables/charge_items.csv: row {i}: price must be > 0")
    return cfg, items


class CostBook:
    """Collects the per-case lines while the discharges are written, then writes the seven cost tables."""

    def __init__(self, ctx, out, years: list[int]):
        self.ctx, self.out, self.years = ctx, out, years
        self.cfg, self.items = load_cost_tables()
        p = ctx.p
        self.hid = p.hospital["hospital_id"]
        self._units(p)
        self._item_maps()
        self.rev: dict[tuple, int] = {}              # (year, m, cat, order, exec) -> cents
        self.vol: dict[tuple, list[int]] = {}        # (year, m, item, order, exec) -> [q4, cents]
        self.admissions: dict[tuple, int] = {}       # (year, m, dept) -> stays admitted
        self.surgeries: dict[tuple, int] = {}        # (year, m, dept) -> stays with a surgery (by discharge)
        self.writers: dict[int, _Writer] = {}
        self.lines = 0

    # ---- units and items -----------------------------------------------------------------------------------
    def _units(self, p) -> None:
        ucfg = self.cfg["units"]
        over, suf = ucfg.get("class_override", {}), ucfg["suffix"]
        rows = []

        def unit(code, name, dept, cls, line):
            rows.append({"unit_code": code, "unit_name": name, "dept_code": dept, "cost_class": cls,
                         "service_line": line})
            self.unit_of.setdefault(dept, {})[line] = code

        self.unit_of: dict[str, dict[str, str]] = {}
        for d in p.departments:
            if d.outpatient_weight > 0:
                s = suf["outpatient"]
                unit(d.code + s["code"], d.name_zh + s["zh"], d.code, "clinical", "outpatient")
            if d.share > 0:
                s = suf["inpatient"]
                unit(d.code + s["code"], d.name_zh + s["zh"], d.code, "clinical", "inpatient")
        for d in p.other_departments:
            cls = over.get(d.code, d.dept_class)
            if cls == "clinical":
                if d.outpatient_weight > 0:
                    s = suf["outpatient"]
                    unit(d.code + s["code"], d.name_zh + s["zh"], d.code, "clinical", "outpatient")
            else:
                unit(d.code, d.name_zh, d.code, cls, "other")
        self.unit_rows = rows
        self.codes = [r["unit_code"] for r in rows]
        self.uidx = {c: i for i, c in enumerate(self.codes)}
        self.ucls = np.array([r["cost_class"] for r in rows])
        self.uline = np.array([r["service_line"] for r in rows])
        self.udept = [r["dept_code"] for r in rows]

    def _resolve(self, spec: str, line: str) -> int:
        """Unit index executing an item ('LAB', 'ENDOS|own' …; first alternative the hospital has); -1 = own."""
        for alt in spec.split("|"):
            if alt == "own":
                return -1
            if alt in self.unit_of:
                units = self.unit_of[alt]
                return self.uidx[units.get(line) or next(iter(units.values()))]
        raise ProfileError(f"yunying/synth/tables/charge_items.csv: exec {spec!r}: no such unit in profile "
                           f"{self.ctx.p.profile} (end the list with |own)")

    def _item_maps(self) -> None:
        cats = list(self.ctx_domain("charge_category"))
        self.cats = cats
        self.item_codes = [r["item_code"] for r in self.items]
        self.item_cat = np.array([cats.index(r["charge_category"]) for r in self.items])
        self.item_price = np.array([r["price_cents"] for r in self.items], dtype=np.int64)
        self.item_work = np.array([float(r["workload_eq"] or 0) for r in self.items])
        self.exec_ip = np.array([self._resolve(r["exec"], "inpatient") for r in self.items])
        self.exec_op = np.array([self._resolve(r["exec"], "outpatient") for r in self.items])

        def groups(field: str, share: bool) -> dict[str, list]:
            out: dict[str, dict[str, list]] = {}
            for i, r in enumerate(self.items):
                for f in filter(None, r[field].split("|")):
                    out.setdefault(f, {}).setdefault(r["charge_category"], []).append(i)
            res = {}
            for f, by_cat in out.items():
                res[f] = [(self.items[ix[0]]["ip_share_f"] if share else 1.0 / len(by_cat), np.array(ix),
                           np.array([self.items[i]["weight_f"] for i in ix]) / sum(self.items[i]["weight_f"] for i in ix))
                          for ix in by_cat.values()]
            return res
        self.ip_groups, self.op_groups = groups("ip_fee", True), groups("op_fee", False)
        fee_cols = FEE_TCM if self.ctx.tcm_layout else FEE_WEST
        missing = [f for f in fee_cols if f not in self.ip_groups] + [f for f in OP_FEES if f not in self.op_groups]
        if missing:
            raise ProfileError(f"yunying/synth/tables/charge_items.csv: no item for fee column(s) {missing}")

    @staticmethod
    def ctx_domain(name: str) -> dict:
        from yunying.model.catalogue import load_model
        return load_model().domains[name].codes

    # ---- inpatient: per-case lines ---------------------------------------------------------------------------
    def add_cases(self, d, year: int, c: dict) -> None:
        n = c["n"]
        if n == 0 or d.code not in self.unit_of or "inpatient" not in self.unit_of[d.code]:
            return
        own = self.uidx[self.unit_of[d.code]["inpatient"]]
        rng = _seed(self.ctx.seed, year, d.code, 21)
        cents = c["cents"]
        case_l, item_l, amt_l = [], [], []
        for f in (FEE_TCM if self.ctx.tcm_layout else FEE_WEST):
            idx = np.flatnonzero(cents[f] > 0)
            if not len(idx):
                continue
            a = cents[f][idx]
            left = a.copy()
            groups = self.ip_groups[f]
            for gi, (share, ix, w) in enumerate(groups):
                part = left if gi == len(groups) - 1 else np.floor(a * share).astype(np.int64)
                left = left - part
                pick = ix[rng.choice(len(ix), len(idx), p=w)] if len(ix) > 1 else np.full(len(idx), ix[0])
                keep = part > 0
                case_l.append(idx[keep]), item_l.append(pick[keep]), amt_l.append(part[keep])
        case = np.concatenate(case_l)
        order = np.argsort(case, kind="stable")          # fee-column order within a case
        case, item, amt = case[order], np.concatenate(item_l)[order], np.concatenate(amt_l)[order]
        line_no = np.arange(len(case)) - np.searchsorted(case, case, "left") + 1
        ex = self.exec_ip[item]
        ex = np.where(ex < 0, own, ex)
        q4 = (amt * E4 + self.item_price[item] // 2) // self.item_price[item]
        disch = c["disch_date"].astype("datetime64[D]")
        tab = pa.table({
            "hospital_id": pa.array([self.hid]).take(pa.array(np.zeros(len(case), dtype=np.int64))),
            "mrn": c["mrn"].take(pa.array(case)),
            "admission_no": pa.array(np.asarray(c["zycs"])[case]),
            "line_no": pa.array(line_no),
            "item_code": pa.array(self.item_codes).take(pa.array(item)),
            "exec_unit": pa.array(self.codes).take(pa.array(ex)),
            "charge_date": pa.array(disch[case]),
            "quantity": _dec(q4, 4),
            "amount": _dec(amt),
        })
        if year not in self.writers:
            self.writers[year] = _Writer(self.out / f"case_charge_{year}.csv", "utf-8-sig")
        self.writers[year].write(tab)
        self.lines += len(case)
        month = (disch.astype("datetime64[M]").astype(np.int64) % 12)[case]
        self._collect(year, month, item, np.full(len(case), own), ex, q4, amt)
        ad = c["admit_date"].astype("datetime64[M]").astype(np.int64)
        for key, k in zip(*np.unique(ad, return_counts=True)):
            y, m = 1970 + int(key) // 12, int(key) % 12
            self.admissions[(y, m, d.code)] = self.admissions.get((y, m, d.code), 0) + int(k)
        sm = np.bincount((disch.astype("datetime64[M]").astype(np.int64) % 12)[c["surgery"]], minlength=12)
        for m in range(12):
            if sm[m]:
                self.surgeries[(year, m, d.code)] = self.surgeries.get((year, m, d.code), 0) + int(sm[m])

    def _collect(self, year, month, item, order, ex, q4, amt) -> None:
        ni, nu = len(self.items), len(self.codes)
        key = ((month.astype(np.int64) * ni + item) * nu + order) * nu + ex
        uniq, inv = np.unique(key, return_inverse=True)
        qs = np.bincount(inv, weights=q4).round().astype(np.int64)
        cs = np.bincount(inv, weights=amt).round().astype(np.int64)
        for k, qq, cc in zip(uniq.tolist(), qs.tolist(), cs.tolist()):
            k, e = divmod(k, nu)
            k, o = divmod(k, nu)
            m, it = divmod(k, ni)
            self._add(year, m, it, o, e, qq, cc)

    def _add(self, year: int, m: int, it: int, o: int, e: int, q4: int, cc: int) -> None:
        v = self.vol.setdefault((year, m, it, o, e), [0, 0])
        v[0] += q4
        v[1] += cc
        rk = (year, m, int(self.item_cat[it]), o, e)
        self.rev[rk] = self.rev.get(rk, 0) + cc

    # ---- outpatient: monthly fee columns of each clinic ---------------------------------------------------
    def _add_outpatient(self, agg: dict) -> None:
        for (year, code), a in sorted(agg["op"].items()):
            if code not in self.unit_of or "outpatient" not in self.unit_of[code]:
                continue
            own = self.uidx[self.unit_of[code]["outpatient"]]
            for f in OP_FEES:
                month_cents = np.rint(np.asarray(a[f]) * 100).astype(np.int64)
                groups = self.op_groups[f]
                for m in range(12):
                    total = int(month_cents[m])
                    if total <= 0:
                        continue
                    gsplit = [total] if len(groups) == 1 else \
                        _largest_remainder(total, np.array([g[0] for g in groups]))
                    for (share, ix, w), gt in zip(groups, gsplit):
                        for it, cc in zip(ix, [gt] if len(ix) == 1 else _largest_remainder(int(gt), w)):
                            if cc <= 0:
                                continue
                            e = self.exec_op[it]
                            e = own if e < 0 else e
                            q4 = (int(cc) * E4 + int(self.item_price[it]) // 2) // int(self.item_price[it])
                            self._add(year, m, int(it), own, int(e), q4, int(cc))

    # ---- writing ------------------------------------------------------------------------------------------
    def write(self, agg: dict, kinds: set[str]) -> dict:
        for w in self.writers.values():
            w.close()
        self._add_outpatient(agg)
        y0 = self.years[0]
        vf = f"{y0}-01-01"
        res = {}
        if "cost_unit" in kinds:
            cols = ["unit_code", "unit_name", "dept_code", "cost_class", "service_line"]
            t = pa.table({"hospital_id": [self.hid] * len(self.unit_rows),
                          **{k: [r[k] for r in self.unit_rows] for k in cols},
                          "valid_from": [vf] * len(self.unit_rows), "valid_to": pa.nulls(len(self.unit_rows), pa.string())})
            res["cost_unit"] = self._write_table("cost_unit.csv", t)
        if "charge_item" in kinds:
            ex = [None if e < 0 else self.codes[e] for e in self.exec_ip]
            t = pa.table({"hospital_id": [self.hid] * len(self.items),
                          "item_code": self.item_codes, "item_name": [r["item_name"] for r in self.items],
                          "charge_category": [r["charge_category"] for r in self.items],
                          "unit": [r["unit"] for r in self.items], "price": [r["price"] for r in self.items],
                          "std_minutes": [r["std_minutes"] or None for r in self.items],
                          "workload_eq": [r["workload_eq"] or None for r in self.items], "exec_unit": ex,
                          "valid_from": [vf] * len(self.items), "valid_to": pa.nulls(len(self.items), pa.string())})
            res["charge_item"] = self._write_table("charge_item.csv", t)
        if "case_charge" in kinds:
            res["case_charge"] = ([self.out / f"case_charge_{y}.csv" for y in sorted(self.writers)], self.lines)
        if "cost_revenue" in kinds:
            keys = sorted(self.rev)
            t = pa.table({"hospital_id": [self.hid] * len(keys),
                          "month": [f"{y}-{m + 1:02d}-01" for y, m, *_ in keys],
                          "charge_category": [self.cats[k[2]] for k in keys],
                          "order_unit": [self.codes[k[3]] for k in keys], "exec_unit": [self.codes[k[4]] for k in keys],
                          "amount": _dec(np.array([self.rev[k] for k in keys], dtype=np.int64))})
            res["cost_revenue"] = self._write_table("cost_revenue.csv", t)
        if "item_volume" in kinds:
            keys = sorted(self.vol)
            t = pa.table({"hospital_id": [self.hid] * len(keys),
                          "month": [f"{y}-{m + 1:02d}-01" for y, m, *_ in keys],
                          "item_code": [self.item_codes[k[2]] for k in keys],
                          "order_unit": [self.codes[k[3]] for k in keys], "exec_unit": [self.codes[k[4]] for k in keys],
                          "quantity": _dec(np.array([self.vol[k][0] for k in keys], dtype=np.int64), 4),
                          "amount": _dec(np.array([self.vol[k][1] for k in keys], dtype=np.int64))})
            res["item_volume"] = self._write_table("item_volume.csv", t)
        basis = self._basis(agg)
        if "cost_basis" in kinds:
            rows = sorted(basis.items())
            t = pa.table({"hospital_id": [self.hid] * len(rows),
                          "month": [f"{y}-{m + 1:02d}-01" for (y, m, *_), _ in rows],
                          "unit_code": [self.codes[k[2]] for k, _ in rows], "basis_code": [k[3] for k, _ in rows],
                          "provider_unit": ["*" if k[4] < 0 else self.codes[k[4]] for k, _ in rows],
                          "quantity": _dec(np.array([v for _, v in rows], dtype=np.int64), 4)})
            res["cost_basis"] = self._write_table("cost_basis.csv", t)
        if "cost_ledger" in kinds:
            res["cost_ledger"] = self._write_table("cost_ledger.csv", self._ledger(agg, basis))
        return res

    def _write_table(self, name: str, t: pa.Table):
        w = _Writer(self.out / name, "utf-8-sig")
        w.write(t)
        w.close()
        return self.out / name, t.num_rows

    # ---- bases -------------------------------------------------------------------------------------------
    def _staff4(self, agg: dict) -> tuple[dict, dict]:
        """(year, m, unit) -> headcount and pay-weighted headcount, ×E4. A clinical department's staff go to its
        门诊 / 住院 units in proportion of its first-year outpatient / inpatient revenue."""
        pay = self.cfg["ledger"]["pay_weight"]
        y0 = self.years[0]
        op_share = {}
        for dept, units in self.unit_of.items():
            if len(units) == 2:
                op = float(np.sum(agg["op"].get((y0, dept), {}).get("fee_total", 0)))
                ip = float(np.sum(agg["ip"].get((y0, dept), {}).get("fee_total", 0)))
                op_share[dept] = op / (op + ip) if op + ip > 0 else 0.5
        hc, hp = {}, {}
        for (y, m, dept), cats in agg.get("staff", {}).items():
            if dept not in self.unit_of:
                continue
            units = self.unit_of[dept]
            tot = sum(cats.values()) * E4
            wt = int(round(sum(k * pay.get(cat, 1.0) for cat, k in cats.items()) * E4))
            if len(units) == 2:
                s = op_share[dept]
                op_hc, op_wt = int(round(tot * s)), int(round(wt * s))
                parts = [(units["outpatient"], op_hc, op_wt), (units["inpatient"], tot - op_hc, wt - op_wt)]
            else:
                parts = [(next(iter(units.values())), tot, wt)]
            for u, a, b in parts:
                hc[(y, m, self.uidx[u])] = a
                hp[(y, m, self.uidx[u])] = b
        return hc, hp

    def _basis(self, agg: dict) -> dict:
        """(year, m, unit, basis_code, provider or -1) -> quantity ×E4: provider-specific quantities when non-zero;
        general quantities (provider -1) for every unit, month and general basis, a measured zero included — the
        step-down refuses a receiver without its basis row (COST-BASIS-MISSING), as it should for real data."""
        bcfg = self.cfg["basis"]
        out: dict[tuple, int] = {}

        def put(key, v):
            if v > 0:
                out[key] = out.get(key, 0) + int(v)
        hc, hp = self._staff4(agg)
        self.hc, self.hp = hc, hp
        y0 = self.years[0]
        beds = agg.get("beds", {})
        area = np.zeros(len(self.codes), dtype=np.int64)      # whole m², from first-year average staff
        for i, r in enumerate(self.unit_rows):
            key = r["service_line"] if r["cost_class"] == "clinical" else r["cost_class"]
            staff = np.mean([hc.get((y0, m, i), 0) for m in range(12)]) / E4
            a = bcfg["area_base"][key] + bcfg["area_per_staff"][key] * staff
            if r["service_line"] == "inpatient":
                a += bcfg["area_per_bed"] * beds.get(r["dept_code"], 0)
            area[i] = int(round(a))
        self.area = area
        pk = bcfg["packs"]
        cssd = next((self.uidx[self.unit_of[c]["other"]] for c in pk["provider"] if c in self.unit_of), None)
        for y in self.years:
            for m in range(12):
                for i, r in enumerate(self.unit_rows):
                    dept, line = r["dept_code"], r["service_line"]
                    put((y, m, i, "staff", -1), hc.get((y, m, i), 0))
                    put((y, m, i, "area", -1), area[i] * E4)
                    put((y, m, i, "meter", -1), int(round(area[i] * bcfg["kwh_per_m2"][r["cost_class"]]
                                                          * bcfg["kwh_season"][m])) * E4)
                    bd = visits = surg = 0
                    if line == "inpatient":
                        bd = agg.get("ward", {}).get((y, m, dept), 0)
                        put((y, m, i, "bed_days", -1), bd * E4)
                        ipa = agg["ip"].get((y, dept))
                        put((y, m, i, "discharges", -1), int(round(ipa["discharges"][m])) * E4 if ipa else 0)
                        put((y, m, i, "admissions", -1), self.admissions.get((y, m, dept), 0) * E4)
                        surg = self.surgeries.get((y, m, dept), 0)
                    elif line == "outpatient":
                        opa = agg["op"].get((y, dept))
                        visits = int(round(opa["visits"][m])) if opa else 0
                        put((y, m, i, "op_visits", -1), visits * E4)
                    if cssd is not None and i != cssd:
                        packs = bd * pk["per_bed_day"] + surg * pk["per_surgery"] + visits * pk["per_visit"]
                        put((y, m, i, "packs", cssd), int(round(packs)) * E4)
        for (y, m, cat, o, e), cc in self.rev.items():
            put((y, m, e, "revenue", -1), cc * 100)
            if self.ucls[e] == "medtech" and o != e:
                put((y, m, o, "ordered_revenue", e), cc * 100)
        for (y, m, it, o, e), (q4, _cc) in self.vol.items():
            put((y, m, e, "workload", -1), int(round(q4 * self.item_work[it])))
        for y in self.years:
            for m in range(12):
                for i in range(len(self.unit_rows)):
                    for b in GENERAL_BASES:
                        out.setdefault((y, m, i, b, -1), 0)
        return out

    # ---- ledger ------------------------------------------------------------------------------------------
    def _ledger(self, agg: dict, basis: dict) -> pa.Table:
        lcfg = self.cfg["ledger"]
        fin: dict[tuple, int] = {}
        for r in agg["finance"]:
            if r["dept_code"] == "*":
                y, mm = int(r["month"][:4]), int(r["month"][5:7]) - 1
                fin[(y, mm, r["item_code"])] = int(round(r["amount"] * 100))
        nu = len(self.codes)
        ef = lcfg["equipment_factor"]
        rows = {"month": [], "unit_code": [], "cost_item": [], "fund_source": [], "amount": []}
        for y in self.years:
            for m in range(12):
                vec = {
                    "staff": np.array([self.hc.get((y, m, i), 0) for i in range(nu)], dtype=float),
                    "staff_pay": np.array([self.hp.get((y, m, i), 0) for i in range(nu)], dtype=float),
                    "area": self.area.astype(float),
                    "equipment": self.area * np.array([ef[c] for c in self.ucls]),
                    "revenue": np.array([basis.get((y, m, i, "revenue", -1), 0) for i in range(nu)], dtype=float),
                }
                for item, fitems in lcfg["finance_items"].items():
                    total = sum(fin.get((y, m, f), 0) for f in fitems)
                    w = np.zeros(nu)
                    for key, share in lcfg["keys"][item].items():
                        v = vec[key] if key in vec else self._ordered(y, m, key)
                        if v.sum() > 0:
                            w += share * v / v.sum()
                    if w.sum() <= 0:            # no measured key this month (e.g. no revenue): by headcount
                        w = vec["staff"]
                    if w.sum() <= 0 and total:
                        raise ProfileError(f"yunying/synth/tables/cost.yaml: no unit to carry {item} in {y}-{m + 1:02d}")
                    funds = lcfg["fund_source"][item]
                    fw = np.array(list(funds.values()))
                    cents = _largest_remainder(total, np.outer(w, fw).ravel()).reshape(nu, len(funds))
                    for i, j in zip(*np.nonzero(cents)):
                        rows["month"].append(f"{y}-{m + 1:02d}-01")
                        rows["unit_code"].append(self.codes[i])
                        rows["cost_item"].append(item)
                        rows["fund_source"].append(list(funds)[j])
                        rows["amount"].append(int(cents[i, j]))
        return pa.table({"hospital_id": [self.hid] * len(rows["month"]), **{k: v for k, v in rows.items()
                                                                              if k != "amount"},
                         "amount": _dec(np.array(rows["amount"], dtype=np.int64))})

    def _ordered(self, y: int, m: int, key: str) -> np.ndarray:
        """Revenue of the key's charge categories ordered by each unit in the month."""
        if not key.startswith("ordered:"):
            raise ProfileError(f"yunying/synth/tables/cost.yaml: ledger key {key!r} unknown")
        if not hasattr(self, "_by_order"):
            self._by_order = np.zeros((len(self.years), 12, len(self.cats), len(self.codes)))
            for (yy, mm, cat, o, _e), cc in self.rev.items():
                self._by_order[self.years.index(yy), mm, cat, o] += cc
        cats = [self.cats.index(c) for c in key.split(":", 1)[1].split("+")]
        return self._by_order[self.years.index(y), m, cats].sum(axis=0)
