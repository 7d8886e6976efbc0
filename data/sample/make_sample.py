#!/usr/bin/env python3
"""Generate the synthetic sample `workforce.csv` for a fictional ICS.

Usage:
    python3 make_sample.py          # regenerate workforce.csv next to this script, then check it
    python3 make_sample.py --check  # only check the existing workforce.csv

The output is deterministic: all variation comes from one seeded random.Random (run it
twice: the same bytes). Figures and their sources are described in README.md in this
folder; the columns and their units are those of the workforce table in docs/model.md.

Seed documents cited below by title:
  - "NHS England: AHPs within integrated care systems (2022)"
  - "HEE AHP faculty test beds evaluation (2021)"
  - "Humber and North Yorkshire ICS workforce programme (2023)" (HNY ICS programme)
  - "London: value, quality and productivity through the workforce"
"""

import csv
import math
import random
import sys
from pathlib import Path

SEED = 20250401
SYSTEM = "north_riverside_ics"
OUT = Path(__file__).with_name("workforce.csv")

COLUMNS = [
    "org", "system", "setting", "staff_group", "band", "fte", "establishment",
    "leaver_rate", "sickness_rate", "annual_leave_rate", "study_leave_rate",
    "other_leave_rate", "hours_per_week", "dcc_share", "annual_pay", "time_to_fill",
    "bank_share", "agency_share", "bank_premium", "agency_premium", "demand_growth",
    "headroom_allowance",  # optional column, last; empty for the councils (see below)
]
KEYS = ["org", "system", "setting", "staff_group", "band"]

AFC_BANDS = ["3", "4", "5", "6", "7", "8a", "8b"]

# Agenda for Change 2024/25 basic pay, England: (entry point, top point) per band.
AFC_PAY = {
    "3": (24071, 25674),
    "4": (26530, 29114),
    "5": (29970, 36483),
    "6": (37338, 44962),
    "7": (46148, 52809),
    "8a": (53755, 60504),
    "8b": (62215, 72293),
}
NHS_ONCOST = 1.28      # employer NI + employer pension (assumption)
COUNCIL_ONCOST = 1.27  # employer NI + LGPS (assumption)

# Share of a service's establishment in each band (a pyramid, bands 5/6 largest).
PYRAMIDS = {
    "standard": {"3": .12, "4": .10, "5": .22, "6": .28, "7": .18, "8a": .07, "8b": .03},
    "radiography": {"3": .08, "4": .06, "5": .30, "6": .28, "7": .18, "8a": .07, "8b": .03},
    "operating_department_practice": {"4": .05, "5": .52, "6": .30, "7": .10, "8a": .03},
    "dietetics": {"3": .05, "4": .08, "5": .22, "6": .32, "7": .22, "8a": .08, "8b": .03},
    "speech_language_therapy": {"3": .08, "4": .08, "5": .18, "6": .30, "7": .24, "8a": .09, "8b": .03},
    "podiatry": {"3": .08, "4": .14, "5": .20, "6": .30, "7": .18, "8a": .07, "8b": .03},
    "podiatry_acute": {"5": .20, "6": .40, "7": .30, "8a": .10},
    "orthoptics": {"5": .30, "6": .35, "7": .25, "8a": .10},
    "prosthetics_orthotics": {"4": .15, "5": .30, "6": .35, "7": .20},
    "osteopathy": {"6": .50, "7": .40, "8a": .10},
    "paramedicine": {"6": .45, "7": .40, "8a": .15},
    "art_therapy": {"6": .40, "7": .40, "8a": .15, "8b": .05},
    "drama_therapy": {"6": .45, "7": .40, "8a": .15},
    "music_therapy": {"6": .50, "7": .50},
    "small_mh": {"5": .25, "6": .40, "7": .25, "8a": .10},
}

# (org, setting, staff_group, pyramid, total establishment FTE of the service)
NHS_SERVICES = [
    # riverside_acute: large teaching trust with the system's main theatres and imaging.
    ("riverside_acute", "acute", "physiotherapy", "standard", 120),
    ("riverside_acute", "acute", "occupational_therapy", "standard", 85),
    ("riverside_acute", "acute", "dietetics", "dietetics", 40),
    ("riverside_acute", "acute", "speech_language_therapy", "speech_language_therapy", 30),
    ("riverside_acute", "acute", "radiography", "radiography", 210),
    ("riverside_acute", "acute", "operating_department_practice", "operating_department_practice", 95),
    ("riverside_acute", "acute", "orthoptics", "orthoptics", 14),
    ("riverside_acute", "acute", "podiatry", "podiatry_acute", 12),
    ("riverside_acute", "acute", "prosthetics_orthotics", "prosthetics_orthotics", 10),
    ("riverside_acute", "acute", "paramedicine", "paramedicine", 14),
    # northvale_acute: district general hospital.
    ("northvale_acute", "acute", "physiotherapy", "standard", 70),
    ("northvale_acute", "acute", "occupational_therapy", "standard", 50),
    ("northvale_acute", "acute", "dietetics", "dietetics", 22),
    ("northvale_acute", "acute", "speech_language_therapy", "speech_language_therapy", 16),
    ("northvale_acute", "acute", "radiography", "radiography", 120),
    ("northvale_acute", "acute", "operating_department_practice", "operating_department_practice", 60),
    ("northvale_acute", "acute", "orthoptics", "orthoptics", 8),
    ("northvale_acute", "acute", "paramedicine", "paramedicine", 10),
    # riverside_community: community trust (MSK, podiatry, urgent community response).
    ("riverside_community", "community", "physiotherapy", "standard", 110),
    ("riverside_community", "community", "occupational_therapy", "standard", 95),
    ("riverside_community", "community", "podiatry", "podiatry", 70),
    ("riverside_community", "community", "dietetics", "dietetics", 30),
    ("riverside_community", "community", "speech_language_therapy", "speech_language_therapy", 55),
    ("riverside_community", "community", "osteopathy", "osteopathy", 5),
    ("riverside_community", "community", "paramedicine", "paramedicine", 18),
    ("riverside_community", "community", "prosthetics_orthotics", "prosthetics_orthotics", 8),
    # riverside_mental_health: mental health and learning disability trust.
    ("riverside_mental_health", "mental_health", "occupational_therapy", "standard", 75),
    ("riverside_mental_health", "mental_health", "physiotherapy", "small_mh", 10),
    ("riverside_mental_health", "mental_health", "dietetics", "small_mh", 8),
    ("riverside_mental_health", "mental_health", "speech_language_therapy", "small_mh", 12),
    ("riverside_mental_health", "mental_health", "art_therapy", "art_therapy", 12),
    ("riverside_mental_health", "mental_health", "drama_therapy", "drama_therapy", 5),
    ("riverside_mental_health", "mental_health", "music_therapy", "music_therapy", 4),
]

# Per staff group: mean vacancy rate, base time to fill (months, band 6), bank share,
# agency share, agency premium, demand growth uplift over the setting's base.
GROUP = {
    "physiotherapy":                 dict(vac=.07, ttf=3.5, bank=.40, agency=.20, agp=1.70, grow=.000),
    "occupational_therapy":          dict(vac=.08, ttf=4.0, bank=.40, agency=.20, agp=1.70, grow=.002),
    "dietetics":                     dict(vac=.08, ttf=4.0, bank=.35, agency=.25, agp=1.80, grow=.003),
    "speech_language_therapy":       dict(vac=.09, ttf=4.5, bank=.35, agency=.25, agp=1.80, grow=.005),
    "radiography":                   dict(vac=.11, ttf=5.0, bank=.35, agency=.38, agp=2.00, grow=.010),
    "operating_department_practice": dict(vac=.10, ttf=4.5, bank=.35, agency=.40, agp=2.10, grow=.005),
    "orthoptics":                    dict(vac=.10, ttf=5.0, bank=.30, agency=.20, agp=1.80, grow=.003),
    "podiatry":                      dict(vac=.10, ttf=5.0, bank=.35, agency=.20, agp=1.70, grow=.005),
    "prosthetics_orthotics":         dict(vac=.09, ttf=5.5, bank=.30, agency=.25, agp=1.90, grow=.003),
    "paramedicine":                  dict(vac=.09, ttf=4.0, bank=.40, agency=.25, agp=1.80, grow=.010),
    "osteopathy":                    dict(vac=.05, ttf=4.0, bank=.30, agency=.10, agp=1.60, grow=.000),
    "art_therapy":                   dict(vac=.07, ttf=3.5, bank=.30, agency=.10, agp=1.60, grow=.000),
    "drama_therapy":                 dict(vac=.07, ttf=4.0, bank=.30, agency=.10, agp=1.60, grow=.000),
    "music_therapy":                 dict(vac=.07, ttf=4.5, bank=.30, agency=.10, agp=1.60, grow=.000),
}

# Per setting: base sickness rate, base leaver rate, base demand growth.
SETTING = {
    "acute":         dict(sick=.046, leave=.100, grow=.025),
    "community":     dict(sick=.042, leave=.110, grow=.030),
    "mental_health": dict(sick=.050, leave=.115, grow=.030),
}

# Per AfC band: adjustments and band-level figures.
#   vac: vacancy offset; sick: sickness offset; leave: leaver-rate offset;
#   al_days: annual leave days incl. 8 bank holidays (service-length mix);
#   study / other: study-leave and other-leave shares; dcc: DCC share;
#   ttf: time-to-fill offset; bank/agency: overrides of the group's shares for
#   support-worker and senior bands; bkp/agp: premium offsets.
BAND = {
    "3":  dict(vac=-.05, sick=.008, leave=.010, al_days=35.5, study=.020, other=.015, dcc=.72, ttf=-1.5),
    "4":  dict(vac=-.04, sick=.008, leave=.010, al_days=36.0, study=.020, other=.015, dcc=.72, ttf=-1.0),
    "5":  dict(vac=.020, sick=.003, leave=.030, al_days=35.0, study=.035, other=.018, dcc=.69, ttf=-0.5),
    "6":  dict(vac=.020, sick=.000, leave=.000, al_days=37.0, study=.030, other=.018, dcc=.66, ttf=0.0),
    "7":  dict(vac=-.01, sick=-.004, leave=-.010, al_days=38.5, study=.030, other=.014, dcc=.62, ttf=0.5),
    "8a": dict(vac=-.04, sick=-.010, leave=-.020, al_days=40.0, study=.025, other=.010, dcc=.59, ttf=0.8),
    "8b": dict(vac=-.05, sick=-.010, leave=-.020, al_days=40.5, study=.025, other=.010, dcc=.565, ttf=1.0),
}
# Contracted days of a full-time worker in a year: 365 days = 52 weeks + 1 day, so 261
# weekdays (Monday to Friday). Bank holidays fall on those days and are paid time off, so
# they are part of the contracted days. Every "days a year" figure becomes a share of
# contracted hours by dividing by 261 (days x hours a day / (261 x hours a day)):
#   - annual leave: AfC leave days *including the 8 bank holidays* / 261 (35 days = 0.134).
#     This is the right reading: the model's annual_leave_rate is a share of contracted
#     hours and bank holidays are contracted hours not worked. (Dividing leave without bank
#     holidays by 253 "working days", or by 225 days "net of leave", would be wrong.) Shift
#     workers on 7-day rotas get the same entitlement in hours (AfC gives leave and bank
#     holidays in hours, 7.5 a day), so the share is the same.
#   - sickness days (the councils' figures below): days / 261 too. An earlier version
#     divided by 225 days "net of leave", which overstated sickness by 261/225 - 1 = 16%:
#     a share of contracted hours has contracted days below the line, not days at work.
# The NHS sickness rates (SETTING, BAND) are already rates (FTE days lost / FTE days
# available, as NHS sickness absence rates are published) and are not converted.
WORKING_DAYS = 261
DCC_UPLIFT = {"radiography": .03, "operating_department_practice": .03}
EXTRA_LEAVER = {"radiography": .01, "operating_department_practice": .01, "paramedicine": .02}

# Council (social care) segments, one dict per row; jitter is added below.
# vac, leaver, sickness days, leave days, pay are per role level.
#   leaver: HNY ICS programme (2023) turnover, personal care "29.6% in 22/23 (12,500
#     leavers)", adult social work "19.2% (100 leavers)" (Skills for Care data), set a
#     little below turnover because turnover also counts moves. These turnover figures are
#     headcount-based (leavers / people in post: 12,500 leavers at 29.6% is some 42,000
#     people, against 34,050 WTE of personal care), and are used here as FTE leaver rates.
#     That reading assumes leavers work the same average hours as those who stay; where
#     part-time staff leave more often (common in care work) the FTE rate is lower.
#   sick_days: HNY ICS programme (2023), "Average 5.8 days sickness in 22/23" (personal
#     care) and "Average 11.7 days" (adult social work); council OTs 9 days is an
#     assumption. Days per worker a year, converted with WORKING_DAYS (261, see above):
#     5.8 / 261 = 0.022, 11.7 / 261 = 0.045, 9 / 261 = 0.034. The seed's averages are per
#     worker (headcount); for part-time workers the share of their contracted days is
#     higher, so these shares are if anything low.
#   al_days: leave days including 8 bank holidays (assumption, not in a seed), / 261.
COUNCIL_ROLES = [
    # staff_group, band, vacancy, leaver, sick_days, al_days, study, other, dcc, basic pay,
    # ttf, bank, agency, bank premium, agency premium, demand growth
    ("personal_care", "care_worker", .088, .290, 5.8, 31, .020, .012, .82, 23500, 2.0, .45, .30, 1.05, 1.50, .040),
    ("personal_care", "senior_care_worker", .068, .240, 5.8, 33, .020, .012, .72, 26400, 2.5, .45, .30, 1.05, 1.50, .040),
    ("adult_social_work", "social_worker", .086, .180, 11.7, 34, .030, .015, .52, 39500, 4.5, .20, .40, 1.10, 1.80, .030),
    ("adult_social_work", "senior_social_worker", .070, .140, 11.7, 36, .030, .012, .45, 45500, 5.0, .20, .40, 1.10, 1.80, .030),
    ("occupational_therapy", "occupational_therapist", .090, .120, 9.0, 34, .030, .015, .60, 39500, 5.0, .10, .40, 1.10, 1.80, .035),
    ("occupational_therapy", "senior_occupational_therapist", .070, .100, 9.0, 36, .030, .012, .55, 45500, 5.5, .10, .40, 1.10, 1.80, .035),
]
# Establishment FTE per council and role level.
COUNCILS = {
    "riverside_council": {"care_worker": 380, "senior_care_worker": 95, "social_worker": 48,
                          "senior_social_worker": 16, "occupational_therapist": 10,
                          "senior_occupational_therapist": 4},
    "northvale_council": {"care_worker": 290, "senior_care_worker": 70, "social_worker": 36,
                          "senior_social_worker": 12, "occupational_therapist": 8,
                          "senior_occupational_therapist": 3},
}
COUNCIL_HOURS = 37.0

# Headroom allowance: the share of contracted hours the establishment is funded for
# (leave, sickness, training; docs/model.md). Absence above it is what bank and agency
# staff cover in the model.
#
# NHS trusts: a flat uplift of 22% on the establishment, the same for every NHS segment
# (a trust-wide roster policy figure). Source: no seed document gives a percentage (the
# AHPs within ICSs guidance, NHS England: AHPs within integrated care systems (2022),
# section 3, asks for AHPs to be deployed on e-rosters but gives no headroom figure).
# The figure comes from Drake R (2020), "Staff unavailability and safe staffing: are
# headroom allowances 'realistic'?", British Journal of Nursing 29(7) (not a seed): the
# headroom in 35 NHS roster policies ranges 16-26%, and 22% is its example of an
# institution-wide headroom; actual unavailability in 87 trusts' e-rosters was 15.8-33.6%.
#
# Reading: an establishment uplift u means establishment = FTE needed on duty x (1 + u),
# which is how a roster headroom is applied to a budget. The hours it funds for absence
# are then u / (1 + u) of contracted hours: 0.22 / 1.22 = 0.1803, not 0.22. We take that
# reading, because the model's allowance is a share of contracted hours and the figure is
# used to set establishments. (Reading 22% as a share of contracted hours instead would
# give 0.22 and about 4 points more funded cover; a user whose policy builds the headroom
# up from its parts as shares of contracted hours should put that sum in the column.)
# With the sample's actual headroom of 0.21-0.25 in the NHS segments, 0.1803 leaves absence
# above the allowance in every NHS segment, which is Drake's finding (unavailability above
# headroom) and what bank and agency staff then cover.
#
# Councils: left EMPTY, which means "the segment's own headroom" (its four leave rates at
# start): no seed gives a council roster allowance, and social care rotas are not set by
# an NHS-style uplift.
NHS_UPLIFT = 0.22
NHS_ALLOWANCE = round(NHS_UPLIFT / (1 + NHS_UPLIFT), 4)  # 0.1803 of contracted hours

MIN_ESTABLISHMENT = 0.8  # band slices smaller than this are not a segment


def clamp(x, lo, hi):
    return max(lo, min(hi, x))


def build_rows():
    rng = random.Random(SEED)

    def jit(width):
        return rng.uniform(-width, width)

    rows = []
    for org, setting, group, pyramid, total in NHS_SERVICES:
        g, s = GROUP[group], SETTING[setting]
        # Demand growth is a property of the service, shared by its bands.
        growth = round(s["grow"] + g["grow"] + jit(.002), 4)
        for band in AFC_BANDS:
            share = PYRAMIDS[pyramid].get(band)
            if share is None:
                continue
            b = BAND[band]
            est = round(total * share * (1 + jit(.10)), 1)
            if est < MIN_ESTABLISHMENT:
                continue
            vac = clamp(g["vac"] + b["vac"] + jit(.025), -.03, .20)
            fte = round(est * (1 - vac), 2)

            leaver = clamp(s["leave"] + b["leave"] + EXTRA_LEAVER.get(group, 0) + jit(.008), .075, .145)
            sick = clamp(s["sick"] + b["sick"] + jit(.004), .030, .062)
            annual = b["al_days"] / WORKING_DAYS
            study = b["study"] + jit(.003)
            other = b["other"] + jit(.002)
            dcc = clamp(b["dcc"] + DCC_UPLIFT.get(group, 0) + jit(.015), .55, .75)
            lo, hi = AFC_PAY[band]
            pay = (lo + hi) / 2 * NHS_ONCOST * (1 + jit(.02))
            ttf = clamp(g["ttf"] + b["ttf"] + jit(.3), 2.0, 6.0)
            if band in ("3", "4"):
                bank, agency, bkp, agp = g["bank"] + .15, .10, 1.05, 1.55
            elif band in ("8a", "8b"):
                bank, agency, bkp, agp = .25, g["agency"] * .6, 1.10, g["agp"] + .10
            else:
                bank, agency, bkp, agp = g["bank"], g["agency"], 1.10, g["agp"]
            bank = clamp(bank + jit(.03), 0, 1)
            agency = clamp(agency + jit(.03), 0, 1 - bank)
            rows.append(dict(
                org=org, system=SYSTEM, setting=setting, staff_group=group, band=band,
                fte=fte, establishment=est,
                leaver_rate=round(leaver, 4), sickness_rate=round(sick, 4),
                annual_leave_rate=round(annual, 4), study_leave_rate=round(study, 4),
                other_leave_rate=round(other, 4), hours_per_week=37.5,
                dcc_share=round(dcc, 3), annual_pay=int(round(pay)),
                time_to_fill=round(ttf, 1), bank_share=round(bank, 3),
                agency_share=round(agency, 3), bank_premium=round(bkp + jit(.03), 2),
                agency_premium=round(clamp(agp + jit(.05), 1.5, 2.2), 2), demand_growth=growth,
                headroom_allowance=NHS_ALLOWANCE,
            ))

    for org, sizes in COUNCILS.items():
        for (group, band, vac, leaver, sick_days, al_days, study, other, dcc, basic,
             ttf, bank, agency, bkp, agp, growth) in COUNCIL_ROLES:
            est = round(sizes[band] * (1 + jit(.02)), 1)
            fte = round(est * (1 - (vac + jit(.005))), 2)
            rows.append(dict(
                org=org, system=SYSTEM, setting="social_care", staff_group=group, band=band,
                fte=fte, establishment=est,
                leaver_rate=round(leaver + jit(.005), 4),
                sickness_rate=round(sick_days / WORKING_DAYS + jit(.001), 4),
                annual_leave_rate=round(al_days / WORKING_DAYS, 4),
                study_leave_rate=round(study + jit(.002), 4),
                other_leave_rate=round(other + jit(.001), 4),
                hours_per_week=COUNCIL_HOURS, dcc_share=round(dcc + jit(.01), 3),
                annual_pay=int(round(basic * COUNCIL_ONCOST * (1 + jit(.01)))),
                time_to_fill=round(clamp(ttf + jit(.2), 2.0, 6.0), 1),
                bank_share=round(bank + jit(.02), 3), agency_share=round(agency + jit(.02), 3),
                bank_premium=round(bkp + jit(.02), 2), agency_premium=round(agp + jit(.05), 2),
                demand_growth=round(growth + jit(.002), 4),
                headroom_allowance=None,  # empty cell: the segment's own headroom
            ))
    return rows


def fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def write(rows):
    with OUT.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([fmt(r[c]) for c in COLUMNS])


def check(path=OUT):
    """Read the CSV back as text and check it against the workforce table of docs/model.md."""
    errors = []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            errors.append(f"header {reader.fieldnames} != {COLUMNS}")
        rows = list(reader)
    seen = set()
    optional = ["headroom_allowance"]
    num = [c for c in COLUMNS if c not in KEYS and c not in optional]
    for i, raw in enumerate(rows, start=2):
        where = f"line {i}"
        key = tuple(raw[k] for k in KEYS)
        if any(not k for k in key):
            errors.append(f"{where}: empty key {key}")
        if key in seen:
            errors.append(f"{where}: duplicate key {key}")
        seen.add(key)
        try:
            r = {c: float(raw[c]) for c in num}
        except ValueError as e:
            errors.append(f"{where}: {e}")
            continue
        try:
            extra = {c: float(raw[c]) for c in optional if raw[c] != ""}
        except ValueError as e:
            errors.append(f"{where}: {e}")
            continue
        if any(not math.isfinite(v) for v in [*r.values(), *extra.values()]):
            errors.append(f"{where}: non-finite value")

        def need(cond, msg):
            if not cond:
                errors.append(f"{where} {key}: {msg}")

        need(r["fte"] >= 0, "fte < 0")
        need(r["establishment"] >= 0, "establishment < 0")
        for c in ["leaver_rate", "sickness_rate", "annual_leave_rate", "study_leave_rate",
                  "other_leave_rate"]:
            need(0 <= r[c] < 1, f"{c} not in [0,1)")
        headroom = (r["sickness_rate"] + r["annual_leave_rate"] + r["study_leave_rate"]
                    + r["other_leave_rate"])
        need(headroom < 1, "headroom >= 1")
        need(.16 <= headroom <= .26, f"headroom {headroom:.3f} outside published 16-26%")
        need(r["hours_per_week"] > 0, "hours_per_week <= 0")
        need(0 <= r["dcc_share"] <= 1, "dcc_share not in [0,1]")
        need(r["annual_pay"] >= 0, "annual_pay < 0")
        need(r["time_to_fill"] >= 0, "time_to_fill < 0")
        need(0 <= r["bank_share"] <= 1, "bank_share not in [0,1]")
        need(0 <= r["agency_share"] <= 1, "agency_share not in [0,1]")
        need(r["bank_share"] + r["agency_share"] <= 1, "bank_share + agency_share > 1")
        need(r["bank_premium"] >= 0, "bank_premium < 0")
        need(r["agency_premium"] >= 0, "agency_premium < 0")
        need(r["demand_growth"] > -1, "demand_growth <= -1")
        if "headroom_allowance" in extra:
            a = extra["headroom_allowance"]
            need(0 <= a < 1, "headroom_allowance not in [0,1)")
            # As an uplift on the establishment, a / (1 - a), within the published 16-26%.
            need(.16 <= a / (1 - a) <= .26,
                 f"headroom_allowance {a} is an uplift of {a / (1 - a):.3f}, outside 16-26%")
        need((raw["headroom_allowance"] == "") == (raw["setting"] == "social_care"),
             "headroom_allowance must be empty exactly for the councils")
    return rows, errors


def summary(rows):
    def tot(rs, c):
        return sum(float(r[c]) for r in rs)

    print(f"rows: {len(rows)}")
    print(f"fte: {tot(rows, 'fte'):.2f}  establishment: {tot(rows, 'establishment'):.1f}")
    print(f"vacancy rate (all): {1 - tot(rows, 'fte') / tot(rows, 'establishment'):.4f}")
    groups = sorted({(r["setting"], r["staff_group"]) for r in rows})
    for setting, group in groups:
        rs = [r for r in rows if r["setting"] == setting and r["staff_group"] == group]
        fte, est = tot(rs, "fte"), tot(rs, "establishment")
        wl = sum(float(r["leaver_rate"]) * float(r["fte"]) for r in rs) / fte
        ws = sum(float(r["sickness_rate"]) * float(r["fte"]) for r in rs) / fte
        hr = [float(r["sickness_rate"]) + float(r["annual_leave_rate"])
              + float(r["study_leave_rate"]) + float(r["other_leave_rate"]) for r in rs]
        al = sorted({r["headroom_allowance"] or "own" for r in rs})
        print(f"  {setting:13} {group:30} n={len(rs):2} fte={fte:7.1f} est={est:7.1f} "
              f"vac={1 - fte / est:.3f} leaver={wl:.3f} sick={ws:.3f} "
              f"headroom={min(hr):.3f}-{max(hr):.3f} allowance={','.join(al)}")


def main():
    if "--check" not in sys.argv[1:]:
        write(build_rows())
    rows, errors = check()
    summary(rows)
    for e in errors:
        print("ERROR", e)
    if errors:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
