//! Synthetic extracts with known underlying rates (`wfplan generate --extracts`): staff,
//! absence, establishment, e-roster and organisation files of the shapes `wfplan
//! calibrate` reads, simulated month by month so that calibration has a truth to
//! recover. The rates are written to the folder's README.md.
//!
//! The process: each assignment leaves in a month with probability
//! `1 - (1 - L)^(1/12)` (L the staff group's yearly leaver rate; one leaver in ten moves
//! to another organisation, which is leaving the first); 2% a year change band within
//! their organisation (not leaving); each segment fills 1 - exp(-1/3) of its vacancies a
//! month (the model's recruitment with time to fill 3 months). Absences are episodes whose expected hours are the
//! true rate times contracted hours, shaped by the seasonal factors. The e-roster has one
//! row per segment, day and shift type: worked hours of the staff in post, and the
//! uncovered hours of the vacancies split between bank, agency and unfilled in the true
//! shares, at the true premiums.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::model::month::{civil_from_days as civil, days_from_civil as days, iso_date as date};

/// The staff groups and their true yearly leaver rates.
pub const GROUPS: [(&str, f64); 6] = [
    ("physiotherapy", 0.10),
    ("occupational_therapy", 0.12),
    ("radiography", 0.09),
    ("dietetics", 0.11),
    ("speech_language_therapy", 0.13),
    ("paramedicine", 0.08),
];
const BANDS: [(&str, f64); 5] = [
    ("4", 0.1),
    ("5", 0.3),
    ("6", 0.35),
    ("7", 0.2),
    ("8a", 0.05),
];
/// True shares of contracted hours lost: sickness, annual leave, study leave, other.
pub const ABSENCE_RATES: [f64; 4] = [0.05, 0.13, 0.02, 0.01];
const ABSENCE_NAMES: [&str; 4] = ["sickness", "annual_leave", "study_leave", "other"];
/// Chance a month that an assignment starts an episode of each type.
const EPISODE_CHANCE: [f64; 4] = [0.06, 0.08, 0.02, 0.01];
/// Seasonal factors (January to December, mean 1) on sickness and annual leave.
pub const SICKNESS_SEASON: [f64; 12] = [
    1.3, 1.2, 1.1, 0.95, 0.9, 0.85, 0.85, 0.9, 0.95, 1.0, 0.9, 1.1,
];
pub const LEAVE_SEASON: [f64; 12] = [0.7, 0.8, 1.0, 1.2, 1.0, 0.9, 1.1, 1.6, 0.9, 1.0, 0.6, 1.2];
/// True bank, agency and unfilled shares of uncovered hours, and the premiums.
pub const BANK_SHARE: f64 = 0.55;
pub const AGENCY_SHARE: f64 = 0.25;
pub const BANK_PREMIUM: f64 = 1.05;
pub const AGENCY_PREMIUM: f64 = 1.7;
/// The as-of date the history ends at (the day after its last day).
pub const END: (i64, u32, u32) = (2025, 4, 1);
const FTES: [f64; 4] = [1.0, 0.8, 0.6, 0.5];

struct Assignment {
    employee: u64,
    org: usize,
    group: usize,
    band: usize,
    birth: i64,
    fte: f64,
    start: i64,
    end: Option<i64>,
}

/// Writes staff.csv, absence.csv, establishment.csv, roster.csv, orgs.csv and README.md
/// into `dir`: `staff` assignments in post at the start of `years` of history ending on
/// 2025-03-31.
pub fn write_extracts(dir: &Path, staff: usize, years: u32, seed: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let orgs = (staff / 5_000).clamp(2, 20);
    let settings = ["acute", "community", "mental_health"];
    let end = days(END.0, END.1, END.2);
    let (ey, em, ed) = END;
    let start = days(ey - i64::from(years), em, ed);
    let pick = |rng: &mut fastrand::Rng, weights: &[(&str, f64)]| {
        let mut u = rng.f64();
        for (i, (_, w)) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len() - 1
    };
    let mut rows: Vec<Assignment> = Vec::with_capacity(staff * 2);
    let mut next_employee = 100_000u64;
    for _ in 0..staff {
        next_employee += 1;
        let age_days = rng.i64(22 * 365..64 * 365);
        rows.push(Assignment {
            employee: next_employee,
            org: rng.usize(0..orgs),
            group: rng.usize(0..GROUPS.len()),
            band: pick(&mut rng, &BANDS),
            birth: start - age_days,
            fte: FTES[rng.usize(0..FTES.len())],
            start: start - rng.i64(0..3650),
            end: None,
        });
    }
    // Establishment: the starting FTE of each segment plus 8%.
    let segments = orgs * GROUPS.len() * BANDS.len();
    let seg = |a: &Assignment| (a.org * GROUPS.len() + a.group) * BANDS.len() + a.band;
    // A segment's number back to (organisation, staff group, band).
    let parts = |s: usize| {
        let (org, rest) = (
            s / (GROUPS.len() * BANDS.len()),
            s % (GROUPS.len() * BANDS.len()),
        );
        (org, rest / BANDS.len(), rest % BANDS.len())
    };
    let mut establishment = vec![0.0; segments];
    for a in &rows {
        establishment[seg(a)] += a.fte;
    }
    for e in &mut establishment {
        *e *= 1.08;
    }
    let mut absence = std::io::BufWriter::new(std::fs::File::create(dir.join("absence.csv"))?);
    writeln!(
        absence,
        "EMPLOYEE_NUMBER,ABSENCE_TYPE,ABSENCE_START_DATE,ABSENCE_END_DATE,HOURS_LOST"
    )?;
    let mut roster = std::io::BufWriter::new(std::fs::File::create(dir.join("roster.csv"))?);
    writeln!(
        roster,
        "EMPLOYING_ORG_CODE,STAFF_GROUP,AFC_BAND,SHIFT_DATE,HOURS,SHIFT_TYPE,COST"
    )?;
    let org_code = |o: usize| format!("RX{:02}", o + 1);
    let hourly = |band: usize| {
        crate::app::calibrate::afc_pay(BANDS[band].0).unwrap_or(40_000.0) / (52.0 * 37.5)
    };
    let mut line = String::new();
    let mut month_start = start;
    while month_start < end {
        let (y, m, _) = civil(month_start);
        let next = if m == 12 {
            days(y + 1, 1, 1)
        } else {
            days(y, m + 1, 1)
        };
        let month_days = next - month_start;
        let season = |kind: usize| match kind {
            0 => SICKNESS_SEASON[m as usize - 1],
            1 => LEAVE_SEASON[m as usize - 1],
            _ => 1.0,
        };
        // Leavers, moves and band changes among those in post at the month's start.
        let in_post = rows.len();
        let mut fte = vec![0.0; segments];
        // The stock at the month's start (the model's fte(t)) and movers arriving.
        let mut stock = vec![0.0; segments];
        let mut arrivals = vec![0.0; segments];
        for i in 0..in_post {
            if rows[i].end.is_some() || rows[i].start > month_start {
                continue;
            }
            stock[seg(&rows[i])] += rows[i].fte;
            let monthly = 1.0 - (1.0 - GROUPS[rows[i].group].1).powf(1.0 / 12.0);
            // Never before the assignment's first day (it may have started this month).
            let last_day = (month_start + rng.i64(0..month_days)).max(rows[i].start);
            if rng.f64() < monthly {
                rows[i].end = Some(last_day);
                if rng.f64() < 0.1 && orgs > 1 {
                    let a = &rows[i];
                    let moved = Assignment {
                        org: (a.org + 1 + rng.usize(0..orgs - 1)) % orgs,
                        start: last_day + 1,
                        end: None,
                        ..*a
                    };
                    arrivals[seg(&moved)] += moved.fte;
                    rows.push(moved);
                }
                continue;
            }
            if rng.f64() < 0.02 / 12.0 && rows[i].band + 1 < BANDS.len() {
                rows[i].end = Some(last_day);
                let a = &rows[i];
                let promoted = Assignment {
                    band: a.band + 1,
                    start: last_day + 1,
                    end: None,
                    ..*a
                };
                rows.push(promoted);
            }
            let a = &rows[i];
            fte[seg(a)] += a.fte;
            // Absence episodes starting this month.
            let weekly = 37.5 * a.fte;
            for kind in 0..4 {
                if rng.f64() >= EPISODE_CHANCE[kind] {
                    continue;
                }
                let expected =
                    ABSENCE_RATES[kind] * weekly * month_days as f64 / 7.0 * season(kind);
                let hours = expected / EPISODE_CHANCE[kind];
                // Whole days within the month it starts in, so that its hours fall in
                // that month and the seasonal pattern is there to be recovered.
                let from = month_start.max(a.start);
                let room = (next - from).max(1);
                let length = (((hours / (weekly / 5.0)) * 7.0 / 5.0).ceil() as i64).clamp(1, room);
                let first = from + rng.i64(0..=(room - length));
                let last = first + length - 1;
                line.clear();
                let _ = write!(
                    line,
                    "E{},{},{},{},{:.2}",
                    a.employee,
                    ABSENCE_NAMES[kind],
                    date(first),
                    date(last.max(first)),
                    hours
                );
                writeln!(absence, "{line}")?;
            }
        }
        // Recruitment as the model has it: 1 - exp(-1/3) of each segment's vacancies at
        // the month's start (time to fill 3 months), movers from other organisations
        // among them; the last hire is made with the chance that keeps the expected FTE
        // hired exact.
        let fill = 1.0 - (-1.0_f64 / 3.0).exp();
        for (s, &e) in establishment.iter().enumerate() {
            let mut target = (e - stock[s]).max(0.0) * fill - arrivals[s];
            while target > 0.0 {
                let fte_new = FTES[rng.usize(0..FTES.len())];
                if fte_new > target && rng.f64() >= target / fte_new {
                    break;
                }
                target -= fte_new;
                next_employee += 1;
                let (org, group, band) = parts(s);
                rows.push(Assignment {
                    employee: next_employee,
                    org,
                    group,
                    band,
                    birth: month_start - rng.i64(21 * 365..60 * 365),
                    fte: fte_new,
                    start: month_start + rng.i64(0..month_days),
                    end: None,
                });
            }
        }
        // The roster: each weekday, per segment, the staff in post's worked hours and
        // the vacancies' hours split between bank, agency and unfilled.
        for day in month_start..next {
            if (day + 3).rem_euclid(7) >= 5 {
                continue; // 1970-01-01 was a Thursday: weekends off
            }
            let when = date(day);
            for (s, &e) in establishment.iter().enumerate() {
                let (org, group, band) = parts(s);
                if e == 0.0 {
                    continue;
                }
                let pay = hourly(band);
                let worked = fte[s] * 7.5;
                let uncovered = (e - fte[s]).max(0.2) * 7.5;
                // Worked and bank hours come in an early and a late shift.
                let (half, bank) = (worked / 2.0, uncovered * BANK_SHARE / 2.0);
                for (kind, hours, cost) in [
                    ("worked", half, half * pay),
                    ("worked", half, half * pay),
                    ("bank", bank, bank * pay * BANK_PREMIUM),
                    ("bank", bank, bank * pay * BANK_PREMIUM),
                    (
                        "agency",
                        uncovered * AGENCY_SHARE,
                        uncovered * AGENCY_SHARE * pay * AGENCY_PREMIUM,
                    ),
                    (
                        "unfilled",
                        uncovered * (1.0 - BANK_SHARE - AGENCY_SHARE),
                        0.0,
                    ),
                ] {
                    line.clear();
                    let _ = write!(
                        line,
                        "{},{},{},{when},{hours:.3},{kind},{cost:.2}",
                        org_code(org),
                        GROUPS[group].0,
                        BANDS[band].0
                    );
                    writeln!(roster, "{line}")?;
                }
            }
        }
        month_start = next;
    }
    absence.flush()?;
    roster.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("staff.csv"))?);
    writeln!(out, "EMPLOYEE_NUMBER,EMPLOYING_ORG_CODE,STAFF_GROUP,AFC_BAND,DATE_OF_BIRTH,CONTRACTED_FTE,START_DATE_ORG,END_DATE_ORG,CONTRACTED_HOURS")?;
    for a in &rows {
        writeln!(
            out,
            "E{},{},{},{},{},{},{},{},{}",
            a.employee,
            org_code(a.org),
            GROUPS[a.group].0,
            BANDS[a.band].0,
            date(a.birth),
            a.fte,
            date(a.start),
            a.end.map(date).unwrap_or_default(),
            37.5 * a.fte
        )?;
    }
    out.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("establishment.csv"))?);
    writeln!(
        out,
        "EMPLOYING_ORG_CODE,STAFF_GROUP,AFC_BAND,ESTABLISHMENT_FTE"
    )?;
    for (s, e) in establishment.iter().enumerate() {
        let (org, group, band) = parts(s);
        writeln!(
            out,
            "{},{},{},{e:.3}",
            org_code(org),
            GROUPS[group].0,
            BANDS[band].0
        )?;
    }
    out.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("orgs.csv"))?);
    writeln!(out, "EMPLOYING_ORG_CODE,SYSTEM,SETTING")?;
    for o in 0..orgs {
        writeln!(
            out,
            "{},synthetic_ics,{}",
            org_code(o),
            settings[o % settings.len()]
        )?;
    }
    out.flush()?;
    std::fs::write(dir.join("README.md"), readme(staff, years, seed, orgs))
}

fn readme(staff: usize, years: u32, seed: u64, orgs: usize) -> String {
    let groups = GROUPS
        .iter()
        .map(|(g, l)| format!("| {g} | {l} |"))
        .collect::<Vec<_>>()
        .join("\n");
    let list = |v: &[f64; 12]| {
        v.iter()
            .map(|x| format!("{x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "# Synthetic extracts\n\n\
         Written by `wfplan generate --extracts DIR --staff {staff} --years {years} --seed {seed}`: \
         {staff} assignments in post {years} years before 2025-04-01 in {orgs} organisations, \
         simulated month by month to 2025-03-31. Calibrate with `wfplan calibrate --as-of 2025-04-01 \
         --staff staff.csv --absence absence.csv --establishment establishment.csv --roster roster.csv \
         --orgs orgs.csv --out workforce.csv`.\n\n\
         ## The true process\n\n\
         | staff group | yearly leaver rate |\n|---|---|\n{groups}\n\n\
         - Each month an assignment leaves with probability 1 - (1 - L)^(1/12); one leaver in ten \
         moves to another organisation (leaving the first). 2% a year change band in their \
         organisation (not leaving).\n\
         - Each segment fills 1 - exp(-1/3) of its vacancies at the start of a month during the \
         month (time to fill 3 months), movers from other organisations among them; \
         establishment is the starting FTE plus 8% and does not grow (demand growth 0).\n\
         - Shares of contracted hours lost: sickness {}, annual leave {}, study leave {}, other {}.\n\
         - Seasonal factors, January to December: sickness [{}]; annual leave [{}].\n\
         - E-roster: uncovered hours split bank {BANK_SHARE}, agency {AGENCY_SHARE}, unfilled {}; \
         premiums bank {BANK_PREMIUM}, agency {AGENCY_PREMIUM} on the band's Agenda for Change \
         hourly pay.\n\n\
         Absence episodes are sized so that their expected hours are the rate times contracted \
         hours, and lie within the month they start in.\n",
        ABSENCE_RATES[0],
        ABSENCE_RATES[1],
        ABSENCE_RATES[2],
        ABSENCE_RATES[3],
        list(&SICKNESS_SEASON),
        list(&LEAVE_SEASON),
        1.0 - BANK_SHARE - AGENCY_SHARE,
    )
}
