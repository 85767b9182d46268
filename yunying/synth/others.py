"""Hospital, department, staff, finance and bed tables, derived from the profile and from the monthly sums of
the generated discharges and visits (so 住院收入 = Σ ZFY, 占用床日 = Σ bed days of the stays, etc.).
Canonical column names (tables.yaml), UTF-8 with BOM.
"""

from __future__ import annotations

import calendar

import numpy as np
import pyarrow as pa

from .generator import _Writer, _largest_remainder

TITLE_MIX = {  # source: assumption (typical 三级 title structure)
    "physician": {"senior": 0.10, "vice_senior": 0.20, "middle": 0.32, "junior": 0.33, "assistant": 0.05},
    "nurse": {"senior": 0.005, "vice_senior": 0.04, "middle": 0.30, "junior": 0.45, "assistant": 0.205},
    "technician": {"vice_senior": 0.06, "middle": 0.30, "junior": 0.44, "assistant": 0.20},
    "pharmacist": {"senior": 0.03, "vice_senior": 0.10, "middle": 0.35, "junior": 0.40, "assistant": 0.12},
    "other_health": {"middle": 0.3, "junior": 0.5, "assistant": 0.2},
    "management": {"senior": 0.05, "vice_senior": 0.15, "middle": 0.30, "junior": 0.30, "none": 0.20},
    "support": {"none": 1.0},
    "other_tech": {"middle": 0.3, "junior": 0.5, "none": 0.2},
}


def _month(y: int, m: int) -> str:
    return f"{y}-{m + 1:02d}-01"


def _table(rows: list[dict], cols: list[str]) -> pa.Table:
    from .generator import _dec
    out = {}
    for c in cols:
        vals = [r.get(c) for r in rows]
        if c in ("amount", "headcount", "open_beds"):
            out[c] = _dec(np.round(np.array(vals, dtype=float) * 100).astype(np.int64))
        else:
            out[c] = pa.array(vals)
    return pa.table(out)


def write_other_tables(ctx, years: list[int], out, agg: dict, kinds: set[str]) -> dict:
    p = ctx.p
    hid = p.hospital["hospital_id"]
    res = {}
    y0 = years[0]
    occ = p.beds.get("target_occupancy", 0.93)
    # beds per inpatient department from the first year's bed days
    beds = {}
    for d in p.departments:
        bd = sum(v for (yy, m, code), v in agg["census"].items() if code == d.code and yy == y0)
        a = agg["ip"].get((y0, d.code))
        if a is not None:
            bd = max(bd, float(a["bed_days"].sum()))
        beds[d.code] = max(int(round(bd / 365.0 / occ)), 1 if bd > 0 else 0)
    total_beds = int(sum(beds.values()))
    agg["beds"] = beds                          # read by the cost tables (synth/cost.py)

    if "hospital" in kinds:
        h = p.hospital
        row = {"hospital_id": hid, "hospital_name": h["hospital_name"], "level": h.get("level"),
               "hospital_type": h.get("hospital_type"), "region_code": str(h.get("region_code", "")),
               "group_name": h.get("group_name"), "approved_beds": total_beds}
        res["hospital"] = _write(out / "hospital.csv", [row], list(row))

    if "department" in kinds:
        rows = []
        for d in p.departments:
            g = ctx.t.groups[d.group]
            rows.append({"hospital_id": hid, "dept_code": d.code, "dept_name": d.name_zh, "dept_class": "clinical",
                         "parent_code": d.parent, "national_dept_code": g["national_dept_code"],
                         "beds": beds[d.code], "is_tcm": "1" if (d.is_tcm or d.group == "TCM" or p.tcm) else "2",
                         "active": "1"})
        for d in p.other_departments:
            rows.append({"hospital_id": hid, "dept_code": d.code, "dept_name": d.name_zh, "dept_class": d.dept_class,
                         "parent_code": d.parent, "national_dept_code": None, "beds": 0,
                         "is_tcm": "1" if p.tcm else "2", "active": "1"})
        cols = ["hospital_id", "dept_code", "dept_name", "dept_class", "parent_code", "national_dept_code", "beds",
                "is_tcm", "active"]
        res["department"] = _write(out / "departments.csv", rows, cols)

    if "beds" in kinds:
        rows = []
        for y in years:
            for m in range(12):
                nd = calendar.monthrange(y, m + 1)[1]
                for d in p.departments:
                    b = beds[d.code]
                    if b == 0:
                        continue
                    occd = agg["census"].get((y, m, d.code), 0)
                    if y == years[-1] and m == 11:        # stays running into next (not generated) year
                        occd += agg.get("spill", {}).get((y, d.code), 0)
                    agg.setdefault("ward", {})[(y, m, d.code)] = int(occd)
                    rows.append({"hospital_id": hid, "month": _month(y, m), "dept_code": d.code, "open_beds": float(b),
                                 "open_bed_days": b * nd, "occupied_bed_days": int(occd),
                                 "inpatients_start": None, "inpatients_end": int(round(occd / nd))})
        cols = ["hospital_id", "month", "dept_code", "open_beds", "open_bed_days", "occupied_bed_days",
                "inpatients_start", "inpatients_end"]
        res["beds"] = _write(out / "beds.csv", rows, cols)

    if "staff" in kinds:
        st = p.staff
        sc = max(ctx.scale, 0.01)
        rows = []
        for y in years:
            for m in range(12):
                grow = (1 + 0.02 * (y - y0)) * (1 + 0.0015 * m)
                for code, cat_counts in _staff_base(ctx, beds, agg, y0, sc).items():
                    for cat, base in cat_counts.items():
                        hc = int(round(base * grow))
                        if hc <= 0:
                            continue
                        mix = TITLE_MIX[cat]
                        split = _largest_remainder(hc, np.array(list(mix.values())))
                        for title, k in zip(mix, split):
                            if k > 0:
                                cell = agg.setdefault("staff", {}).setdefault((y, m, code), {})
                                cell[cat] = cell.get(cat, 0) + int(k)
                                rows.append({"hospital_id": hid, "month": _month(y, m), "dept_code": code,
                                             "staff_category": cat, "title_level": title, "headcount": float(k)})
        cols = ["hospital_id", "month", "dept_code", "staff_category", "title_level", "headcount"]
        res["staff"] = _write(out / "staff.csv", rows, cols)

    if "finance" in kinds:
        agg["finance"] = _finance_rows(ctx, years, agg)
        res["finance"] = _write(out / "finance.csv", agg["finance"],
                                ["hospital_id", "month", "dept_code", "item_code", "amount"])
    return res


def _staff_base(ctx, beds, agg, y0, sc) -> dict[str, dict[str, float]]:
    p, st = ctx.p, ctx.p.staff
    out: dict[str, dict[str, float]] = {}
    for d in p.departments:
        visits = float(agg["op"].get((y0, d.code), {}).get("visits", np.zeros(12)).sum())
        phys = beds[d.code] * st.physicians_per_bed + visits / 1e4 * st.physicians_per_10k_visits
        out[d.code] = {"physician": phys, "nurse": beds[d.code] * st.nurses_per_bed + phys * 0.2,
                       "other_health": max(phys * 0.05, 0)}
    for d in p.other_departments:
        visits = float(agg["op"].get((y0, d.code), {}).get("visits", np.zeros(12)).sum())
        if d.dept_class == "clinical":
            if visits > 0:
                ph = visits / 1e4 * st.physicians_per_10k_visits
                out[d.code] = {"physician": ph, "nurse": ph * 0.8}
            elif d.code == "ANES":
                out[d.code] = {"physician": st.medtech_per_dept * sc * 1.5, "nurse": st.medtech_per_dept * sc}
        elif d.dept_class == "medtech":
            if d.code == "PHAR":
                out[d.code] = {"pharmacist": st.pharmacists * sc, "support": st.support_per_dept * sc * 0.3}
            elif d.code in ("RAD", "US", "PATH", "ENDOS"):
                out[d.code] = {"technician": st.medtech_per_dept * sc * 0.6, "physician": st.medtech_per_dept * sc * 0.5,
                               "nurse": st.medtech_per_dept * sc * (0.4 if d.code == "ENDOS" else 0.1)}
            else:
                out[d.code] = {"technician": st.medtech_per_dept * sc}
        elif d.dept_class == "support":
            out[d.code] = {"support": st.support_per_dept * sc, "other_tech": st.support_per_dept * sc * 0.3}
        else:
            out[d.code] = {"management": st.admin_per_dept * sc, "other_tech": st.admin_per_dept * sc * 0.2}
    return out


def _finance_rows(ctx, years, agg) -> list[dict]:
    p, f = ctx.p, ctx.p.finance
    hid = p.hospital["hospital_id"]
    rows = []
    z = np.zeros(12)

    def g(a, k):
        return a.get(k, z) if a else z
    for y in years:
        H: dict[str, np.ndarray] = {}

        def add(item, v):
            H[item] = H.get(item, z) + v
        for d in p.departments:
            a = agg["ip"].get((y, d.code))
            o = agg["op"].get((y, d.code))
            ip, opt = g(a, "fee_total"), g(o, "fee_total")
            for m in range(12):
                for item, v in (("income_inpatient", ip[m]), ("income_outpatient", opt[m]),
                                ("income_medical", ip[m] + opt[m])):
                    if v:
                        rows.append({"hospital_id": hid, "month": _month(y, m), "dept_code": d.code,
                                     "item_code": item, "amount": round(float(v), 2)})
        for (yy, code), a in agg["ip"].items():
            if yy != y:
                continue
            gs = g(a, "fee_general_service")
            add("income_inpatient", g(a, "fee_total"))
            add("income_bed", gs * 0.5)
            add("income_consult", gs * 0.5)
            add("income_exam", g(a, "fee_imaging") + g(a, "fee_clinical_dx") + g(a, "fee_pathology"))
            add("income_lab", g(a, "fee_lab"))
            add("income_treatment", g(a, "fee_general_treatment") + g(a, "fee_nonsurgical") + g(a, "fee_rehab") +
                g(a, "fee_tcm") + g(a, "fee_tcm_diagnosis") + g(a, "fee_tcm_treatment") + g(a, "fee_tcm_other"))
            add("income_surgery", g(a, "fee_surgical"))
            add("income_nursing", g(a, "fee_nursing"))
            add("income_material", g(a, "fee_mat_exam") + g(a, "fee_mat_treat") + g(a, "fee_mat_surg"))
            add("income_drug_western", g(a, "fee_western_drug"))
            add("income_drug_patent_tcm", g(a, "fee_patent_tcm"))
            add("income_drug_herbal", g(a, "fee_herbal"))
            add("income_medical_other", g(a, "fee_general_other") + g(a, "fee_other") + g(a, "fee_blood") +
                g(a, "fee_albumin") + g(a, "fee_globulin") + g(a, "fee_coag_factor") + g(a, "fee_cytokine"))
        for (yy, code), o in agg["op"].items():
            if yy != y:
                continue
            add("income_outpatient", g(o, "fee_total"))
            add("income_registration", g(o, "fee_registration"))
            add("income_consult", g(o, "fee_consult"))
            add("income_exam", g(o, "fee_exam"))
            add("income_lab", g(o, "fee_lab"))
            add("income_treatment", g(o, "fee_treatment"))
            add("income_surgery", g(o, "fee_surgery"))
            add("income_material", g(o, "fee_material"))
            add("income_drug_western", g(o, "fee_western_drug"))
            add("income_drug_patent_tcm", g(o, "fee_patent_tcm"))
            add("income_drug_herbal", g(o, "fee_herbal"))
            add("income_medical_other", g(o, "fee_other"))
            add("income_special_service", g(o, "special"))
        # income_* lines and the identity 医疗收入 = 门急诊 + 住院 = Σ 收费类别; expenses as profile ratios
        med = H.get("income_inpatient", z) + H.get("income_outpatient", z)
        H["income_medical"] = med
        H["income_drug"] = H.get("income_drug_western", z) + H.get("income_drug_patent_tcm", z) + H.get("income_drug_herbal", z)
        H["income_pharmacy_service"] = z
        H["income_fiscal"] = med * f.get("fiscal", 0.07)
        H["income_research"] = med * f.get("research", 0.01)
        H["income_other"] = med * f.get("other_income", 0.02)
        H["income_insurance_fund"] = med * f.get("insurance_fund", 0.55)
        H["income_total"] = med + H["income_fiscal"] + H["income_research"] + H["income_other"]
        H["expense_personnel"] = med * f.get("personnel", 0.37)
        H["expense_drug"] = H["income_drug"] * f.get("drug_cost_of_drug_income", 0.99)
        H["expense_material"] = H.get("income_material", z) * f.get("material_cost_of_material_income", 0.97)
        H["expense_depreciation"] = med * f.get("depreciation", 0.05)
        H["expense_amortisation"] = med * f.get("amortisation", 0.004)
        H["expense_risk_fund"] = med * f.get("risk_fund", 0.002)
        H["expense_energy"] = med * f.get("energy", 0.011)
        H["expense_medical"] = sum(H[k] for k in ("expense_personnel", "expense_drug", "expense_material",
                                                   "expense_depreciation", "expense_amortisation",
                                                   "expense_risk_fund", "expense_energy"))
        H["expense_other"] = med * f.get("other_expense", 0.10)
        H["expense_total"] = H["expense_medical"] + H["expense_other"]
        annual = float(H["income_total"].sum())
        H["asset_total"] = np.full(12, annual * f.get("assets_per_annual_income", 1.4)) * (1 + 0.003 * np.arange(12))
        H["liability_total"] = H["asset_total"] * f.get("liabilities_per_assets", 0.42)
        for item in sorted(H):
            for m in range(12):
                rows.append({"hospital_id": hid, "month": _month(y, m), "dept_code": "*", "item_code": item,
                             "amount": round(float(H[item][m]), 2)})
    return rows


def _write(path, rows: list[dict], cols: list[str]):
    w = _Writer(path, "utf-8-sig")
    if rows:
        w.write(_table(rows, cols))
    else:
        w.write(pa.table({c: pa.array([], pa.string()) for c in cols}))
    w.close()
    return path, len(rows)
