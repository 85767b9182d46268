"""Outpatient / emergency visits (门急诊), one row per visit, canonical column names (tables.yaml outpatient_visit).

Patients recur: a visit draws a patient number from a hospital-wide pool (children / adult women / adults), and
name, sex, birth date and phone are a hash of that number, so the same patient_id always looks the same.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import fake
from .generator import _Writer, _dec, _draw_days, _largest_remainder, _s, _seed, _ts

CHANNELS = np.array(["网上预约", "微信公众号", "电话预约", "诊间预约", "自助机预约"])
CHILD_GROUPS = {"PED", "NEO"}
FEMALE_GROUPS = {"OBS", "GYN"}
OP_FEES = ["fee_western_drug", "fee_patent_tcm", "fee_herbal", "fee_registration", "fee_consult", "fee_exam",
           "fee_lab", "fee_treatment", "fee_surgery", "fee_material", "fee_other"]


def _clinics(ctx):
    rows = []
    for d in ctx.p.departments:
        if d.outpatient_weight > 0:
            rows.append((d.code, d.group, d.outpatient_weight, d.outpatient_visit_type, d.is_tcm or d.group == "TCM"))
    for d in ctx.p.other_departments:
        if d.outpatient_weight > 0:
            rows.append((d.code, None, d.outpatient_weight, d.outpatient_visit_type, False))
    return rows


def write_outpatient(ctx, year: int, n_total: int, out, agg: dict, progress) -> tuple:
    p = ctx.p
    op = p.outpatient
    clinics = _clinics(ctx)
    per = _largest_remainder(n_total, np.array([c[2] for c in clinics]))
    base = max(int(p.per_year_at_scale_1["outpatient_visits"] * 0.3), 3000)
    pools = {"child": (0, base // 6), "female": (base // 6, base // 6 + base // 4),
             "adult": (base // 6 + base // 4, base)}
    path = out / f"outpatient_{year}.csv"
    w = _Writer(path, "utf-8-sig")
    season = np.array(p.seasonality)
    wk = np.array(op.weekday_weights)
    tcm_hosp = p.tcm is not None
    hid = p.hospital["hospital_id"]
    for ci, ((code, group, _w, vtype, is_tcm), n) in enumerate(zip(clinics, per)):
        n = int(n)
        if n == 0:
            continue
        rng = _seed(ctx.seed, year, code, 11)
        months = _largest_remainder(n, season)
        emergency = vtype == "emergency"
        checkup = vtype == "checkup"
        days = np.concatenate([_draw_days(rng, year, m + 1, int(k), np.ones(7) if emergency else wk)
                               for m, k in enumerate(months) if k > 0])
        if emergency:
            sec = (rng.gamma(4.0, 4.0, n) % 24 * 3600).astype(np.int64)
        else:
            am = rng.random(n) < 0.62
            sec = np.where(am, rng.uniform(7.5, 11.8, n), rng.uniform(13.5, 17.2, n))
            sec = np.where(rng.random(n) < 0.04, rng.uniform(17.5, 20.5, n), sec)
            sec = (sec * 3600).astype(np.int64)
        reg = days.astype("datetime64[s]") + sec.astype("timedelta64[s]")
        if vtype:
            vt = np.full(n, vtype)
        else:
            ks = list(op.visit_type_mix)
            vt = np.array(ks)[rng.choice(len(ks), n, p=np.array([op.visit_type_mix[k] for k in ks]))]
        # patients
        if group in CHILD_GROUPS:
            seg = np.zeros(n, dtype=np.int64)
        elif group in FEMALE_GROUPS:
            seg = np.ones(n, dtype=np.int64)
        else:
            seg = rng.choice(3, n, p=[0.08, 0.22, 0.70])
        lo = np.array([pools["child"][0], pools["female"][0], pools["adult"][0]])[seg]
        hi = np.array([pools["child"][1], pools["female"][1], pools["adult"][1]])[seg]
        pid = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
        h = fake.splitmix64(pid.astype(np.uint64) + np.uint64(ctx.seed * 1_000_003))
        sex = np.where(seg == 1, 2, (h & np.uint64(1)).astype(np.int64) + 1)
        span = np.array([13 * 365, 25 * 365, 68 * 365])[seg]
        y0 = ctx.first_year              # birth ranges anchored to the first generated year: ids keep one birth date
        start = np.array([np.datetime64(f"{y0 - 13}-01-01"), np.datetime64(f"{y0 - 43}-01-01"),
                          np.datetime64(f"{y0 - 86}-01-01")])[seg]
        birth = start + ((h >> np.uint64(20)) % span.astype(np.uint64)).astype("timedelta64[D]")
        birth = np.minimum(birth, days - np.timedelta64(30, "D"))
        # diagnoses from the department's case mix (principal codes) or general-practice comorbidities
        if group is not None:
            rows = np.flatnonzero(ctx.cm_group == group)
            wts = ctx.cm_w[rows]
            dxi = ctx.cm_dx[rows[rng.choice(len(rows), n, p=wts / wts.sum())]]
        elif checkup:
            dxi = np.full(n, ctx.dx_one("checkup"))
        else:
            dxi = ctx.co_dx[rng.choice(len(ctx.co_dx), n, p=ctx.co_w / ctx.co_w.sum())]
        dxi = np.where((ctx.dx_sex[dxi] > 0) & (ctx.dx_sex[dxi] != sex), ctx.dx_one("sex_fallback"), dxi)
        dcode, dname = ctx.dx_src.strings(ctx.dx_src.draw(dxi, rng))
        # prescriptions
        tcm_boost = 4.0 if (tcm_hosp or is_tcm) else 1.0
        has_drug = (rng.random(n) < (0.0 if checkup else 0.74))
        rx = np.where(has_drug, 1 + rng.poisson(0.35, n), 0)
        herbal = has_drug & (rng.random(n) < min(op.herbal_rate * tcm_boost / 0.74, 0.95))
        patent = has_drug & (rng.random(n) < min((op.tcm_rx_rate - op.herbal_rate) * tcm_boost / 0.74, 0.95))
        inhouse = patent & (rng.random(n) < (0.3 if tcm_hosp else 0.02))
        western = has_drug & ~((herbal | patent) & (rng.random(n) < 0.5))
        western = western | (has_drug & ~herbal & ~patent)
        anti = western & (rng.random(n) < op.antibacterial_rate / 0.74 * (1.8 if emergency else 1.0))
        ess = western & (rng.random(n) < 0.6)
        inj = western & (rng.random(n) < (0.35 if emergency else 0.08))
        tcm_rx = herbal | patent | inhouse
        nondrug = rng.random(n) < min(op.tcm_nondrug_rate * tcm_boost * (3 if is_tcm else 1), 0.9)
        # fees: fixed registration/consult + a lognormal remainder split by flag-dependent shares
        mean = np.array([op.fee_mean.get(v, 250.0) for v in vt])
        total = mean * np.exp(rng.normal(-0.32, 0.8, n))
        consult = np.select([vt == "expert", vt == "special", vt == "online", checkup | (vt == "checkup")],
                            [rng.uniform(30, 60, n), rng.uniform(200, 400, n), rng.uniform(5, 20, n), 0],
                            rng.uniform(10, 25, n))
        regf = np.where(vt == "online", 0, 1.0)
        rest = np.maximum(total - consult - regf, 5.0)
        ds = op.drug_share / (1 - op.drug_share) * 5.0
        sh = np.stack([
            np.where(western, ds, 0), np.where(patent, ds * 0.5 * tcm_boost, 0), np.where(herbal, ds * 0.8 * tcm_boost, 0),
            np.where(checkup, 3.0, 1.2) * rng.random(n), np.where(checkup, 3.0, 1.0) * rng.random(n),
            np.where(nondrug, 2.0, 0.6) * rng.random(n), np.where(rng.random(n) < 0.04, 1.5, 0.0),
            0.5 * rng.random(n), 0.2 * rng.random(n)], axis=1)
        sh = sh / np.maximum(sh.sum(axis=1, keepdims=True), 1e-9)
        parts = rest[:, None] * sh
        cents = {"fee_registration": np.round(regf * 100).astype(np.int64),
                 "fee_consult": np.round(consult * 100).astype(np.int64)}
        for j, f in enumerate(["fee_western_drug", "fee_patent_tcm", "fee_herbal", "fee_exam", "fee_lab",
                               "fee_treatment", "fee_surgery", "fee_material", "fee_other"]):
            cents[f] = np.round(parts[:, j] * 100).astype(np.int64)
        cents["fee_total"] = sum(cents[f] for f in OP_FEES)
        fund = (cents["fee_total"] * op.fund_share * rng.uniform(0.6, 1.4, n)).astype(np.int64)
        cents["fund_paid"] = np.minimum(fund, cents["fee_total"])
        appt = (~np.array(emergency)) & (rng.random(n) < (0.92 if checkup else op.appointment_rate))
        appt = np.broadcast_to(appt, (n,)) if np.ndim(appt) == 0 else appt
        slot = reg.astype(np.int64) // 1800 * 1800
        checkin = np.where(appt, reg.astype(np.int64), reg.astype(np.int64) + rng.integers(60, 600, n))
        call = np.maximum(checkin, np.where(appt, slot, checkin)) + (rng.exponential(np.where(appt, 900, 2100), n)).astype(np.int64) // 60 * 60
        er = None
        if emergency:
            er = np.array(["home", "observe", "admitted", "rescue", "died"])[rng.choice(5, n, p=[0.845, 0.10, 0.045, 0.0095, 0.0005])]
        ndoc = max(3, min(40, n // 8000 + 3))
        doctor = fake.join(code, "-D", fake.digits(rng.integers(1, ndoc + 1, n), 3))
        cols = {
            "hospital_id": pa.array([hid] * n),
            "visit_id": fake.join("V", fake.digits(np.full(n, year), 4), code, fake.digits(np.arange(1, n + 1), 7)),
            "patient_id": fake.join("P", fake.digits(pid, 9)),
            "patient_name": fake.names_from_hash(h, sex),
            "sex": _s(sex),
            "birth_date": pa.array(birth.astype("datetime64[D]")),
            "phone": fake.join(pa.array(fake.PHONE_PREFIX).take(pa.array((h % np.uint64(len(fake.PHONE_PREFIX))).astype(np.int64))),
                               fake.digits(((h >> np.uint64(8)) % np.uint64(10**8)).astype(np.int64), 8)),
            "visit_type": _s(vt),
            "dept_code": pa.array([code] * n),
            "doctor_id": doctor,
            "reg_time": _ts(reg),
            "checkin_time": _ts(checkin.astype("datetime64[s]")),
            "call_time": _ts(call.astype("datetime64[s]")),
            "booked_slot": _ts(slot.astype("datetime64[s]"), ~appt),
            "appointment": _s(np.where(appt, "1", "2")),
            "appointment_channel": _s(CHANNELS[rng.choice(5, n, p=[0.3, 0.35, 0.05, 0.2, 0.1])], ~appt),
            "first_visit": _s(np.where(rng.random(n) < op.first_visit_rate, "1", "2")),
            "dx_code": dcode, "dx_name": dname,
        }
        if tcm_hosp or is_tcm:
            dis = ctx.tcm_d
            ti = rng.integers(0, len(dis), n)
            cols["tcm_dx_code"] = _s(pa.array([r["code"] for r in dis]).take(pa.array(ti)), rng.random(n) > 0.75)
        else:
            cols["tcm_dx_code"] = pa.nulls(n, pa.string())
        yn = lambda b: _s(np.where(b, "1", "2"))  # noqa: E731
        cols |= {"rx_count": _s(rx), "has_drug": yn(has_drug), "has_antibacterial": yn(anti),
                 "has_essential_drug": yn(ess), "has_injection": yn(inj), "has_tcm_rx": yn(tcm_rx),
                 "has_herbal": yn(herbal), "has_patent_tcm": yn(patent), "has_inhouse_prep": yn(inhouse),
                 "tcm_nondrug": yn(nondrug)}
        cols["fee_total"] = _dec(cents["fee_total"])
        for f in OP_FEES:
            cols[f] = _dec(cents[f])
        cols["fund_paid"] = _dec(cents["fund_paid"])
        cols["referral_out"] = yn(rng.random(n) < op.referral_out_rate)
        cols["er_outcome"] = _s(er) if er is not None else pa.nulls(n, pa.string())
        order = ["hospital_id", "visit_id", "patient_id", "patient_name", "sex", "birth_date", "phone", "visit_type",
                 "dept_code", "doctor_id", "reg_time", "checkin_time", "call_time", "booked_slot", "appointment",
                 "appointment_channel", "first_visit", "dx_code", "dx_name", "tcm_dx_code", "rx_count", "has_drug",
                 "has_antibacterial", "has_essential_drug", "has_injection", "has_tcm_rx", "has_herbal",
                 "has_patent_tcm", "has_inhouse_prep", "tcm_nondrug", "fee_total"] + OP_FEES + \
                ["fund_paid", "referral_out", "er_outcome"]
        w.write(pa.table({k: cols[k] for k in order}))
        month = days.astype("datetime64[M]").astype(np.int64) % 12
        a = {"visits": np.bincount(month, minlength=12).astype(float),
             "special": np.bincount(month, weights=np.where(vt == "special", cents["fee_total"], 0) / 100, minlength=12),
             "fund": np.bincount(month, weights=cents["fund_paid"] / 100, minlength=12)}
        for f in OP_FEES + ["fee_total"]:
            a[f] = np.bincount(month, weights=cents[f] / 100, minlength=12)
        agg["op"][(year, code)] = a
        if progress:
            progress(f"outpatient {year}", ci + 1, len(clinics))
    w.close()
    return path, w.rows
