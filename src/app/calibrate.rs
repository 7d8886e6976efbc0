//! Calibration: from the extracts a trust holds (staff, absence, establishment, e-roster,
//! organisations) to the workforce table the model runs on, with a report of what each
//! figure rests on (docs/model.md, "Calibration").
//!
//! The extracts are read into a private DuckDB database in memory
//! ([`crate::data::extracts`]), aggregated there in SQL
//! ([`crate::data::calibration`]), and only the segments' figures come back here: nothing
//! person-level reaches the wfplan database or any output.

use std::collections::BTreeMap;
use std::path::Path;

use duckdb::Connection;
use serde::Serialize;

use crate::data::calibration::{aggregate, Aggregates, Measured, SegmentKey, Window};
use crate::data::extracts::{self, ExtractFiles};
use crate::data::DataError;
use crate::model::InputColumn;

/// Agenda for Change annual pay points in England from 1 April 2025 (NHS Employers, "Pay
/// scales for 2025/26", the 3.6% award): each band's first and top pay point, GBP a year
/// for 37.5 hours a week. A band's `annual_pay` is the mean of the two plus on-costs.
pub const AFC_PAY_2025_26: [(&str, f64, f64); 11] = [
    ("2", 24_465.0, 24_465.0),
    ("3", 24_937.0, 26_598.0),
    ("4", 27_485.0, 30_162.0),
    ("5", 29_970.0, 36_483.0),
    ("6", 37_338.0, 44_962.0),
    ("7", 46_148.0, 52_809.0),
    ("8a", 53_755.0, 60_504.0),
    ("8b", 62_215.0, 72_293.0),
    ("8c", 74_290.0, 85_601.0),
    ("8d", 88_168.0, 101_677.0),
    ("9", 105_385.0, 121_271.0),
];

/// Checks a date is a real day written `YYYY-MM-DD`, in the years 1900 to 2200; with
/// `first_of_month`, the first day of a month.
pub fn check_date(text: &str, first_of_month: bool) -> Result<(), String> {
    use crate::model::month::{civil_from_days, days_from_civil};
    let parts: Vec<&str> = text.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(d)) => Some((y, m, d)),
                _ => None,
            }
        }
        _ => None,
    };
    let real = parsed.is_some_and(|(y, m, d)| {
        (1900..=2200).contains(&y)
            && (1..=12).contains(&m)
            && (1..=31).contains(&d)
            && civil_from_days(days_from_civil(y, m, d)) == (y, m, d)
    });
    if !real {
        return Err(format!(
            "'{text}' is not a date: write it as YYYY-MM-DD, for example 2025-04-01"
        ));
    }
    if first_of_month && !text.ends_with("-01") {
        return Err(format!(
            "'{text}': a back-test runs whole months; give the first day of a month"
        ));
    }
    Ok(())
}

/// A band's pay before on-costs: `Band 5`, `5` and `band 8A` are read alike.
pub fn afc_pay(band: &str) -> Option<f64> {
    let band = band.trim().to_ascii_lowercase();
    let band = band.strip_prefix("band").unwrap_or(&band).trim();
    AFC_PAY_2025_26
        .iter()
        .find(|(b, ..)| *b == band)
        .map(|(_, first, top)| (first + top) / 2.0)
}

/// The figures the extracts cannot give, and the parameters of those they give: from a
/// defaults file (`--defaults FILE`, TOML with these names) or these values.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Defaults {
    /// The `system` key when there is no organisations extract.
    pub system: String,
    pub time_to_fill: f64,
    pub dcc_share: f64,
    pub demand_growth: f64,
    /// Employer's on-costs (National Insurance, pension) as a share of pay.
    pub on_costs: f64,
    /// Used where there is no e-roster, or it has no bank, agency or unfilled hours.
    pub bank_share: f64,
    pub agency_share: f64,
    pub bank_premium: f64,
    pub agency_premium: f64,
    /// Used for a band not in the Agenda for Change table.
    pub annual_pay: f64,
    /// The roster uplift the establishments are funded for, as a share of contracted
    /// hours, for every segment; empty (each segment's own headroom) when absent.
    pub headroom_allowance: Option<f64>,
    /// Leavers in a segment below which its leaver rate is flagged.
    pub min_leavers: i64,
    /// Contracted hours in the window below which a segment's absence rates are flagged
    /// (about one FTE-year).
    pub min_contracted_hours: f64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            system: "local_system".into(),
            time_to_fill: 3.0,
            dcc_share: 0.7,
            demand_growth: 0.02,
            on_costs: 0.25,
            bank_share: 0.5,
            agency_share: 0.2,
            bank_premium: 1.05,
            agency_premium: 1.6,
            annual_pay: 40_000.0,
            headroom_allowance: None,
            min_leavers: 5,
            min_contracted_hours: 1_950.0,
        }
    }
}

impl Defaults {
    pub fn read(path: &Path) -> Result<Defaults, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::file(path.display(), e))?;
        toml::from_str(&text).map_err(|e| DataError::file(path.display(), e))
    }
}

/// What to calibrate from.
#[derive(Debug, Clone)]
pub struct CalibrationRequest {
    pub files: ExtractFiles,
    pub window: Window,
    /// Segments with fewer staff in post are flagged (NHS statistics suppress small
    /// numbers).
    pub min_headcount: i64,
    pub defaults: Defaults,
    /// The wfplan database's salt for hashing employee numbers.
    pub salt: String,
}

/// One calibrated segment: the workforce table's row.
#[derive(Debug, Clone, Serialize)]
pub struct CalibratedSegment {
    pub org: String,
    pub system: String,
    pub setting: Option<String>,
    pub staff_group: String,
    pub band: String,
    pub age_band: Option<String>,
    pub fte: f64,
    pub establishment: f64,
    pub leaver_rate: f64,
    pub sickness_rate: f64,
    pub annual_leave_rate: f64,
    pub study_leave_rate: f64,
    pub other_leave_rate: f64,
    pub hours_per_week: f64,
    pub dcc_share: f64,
    pub annual_pay: f64,
    pub time_to_fill: f64,
    pub bank_share: f64,
    pub agency_share: f64,
    pub bank_premium: f64,
    pub agency_premium: f64,
    pub demand_growth: f64,
    pub headroom_allowance: Option<f64>,
}

impl CalibratedSegment {
    /// The segment's value of one input column of the workforce table (none: empty).
    pub fn input(&self, column: InputColumn) -> Option<f64> {
        use InputColumn::*;
        Some(match column {
            Fte => self.fte,
            Establishment => self.establishment,
            LeaverRate => self.leaver_rate,
            SicknessRate => self.sickness_rate,
            AnnualLeaveRate => self.annual_leave_rate,
            StudyLeaveRate => self.study_leave_rate,
            OtherLeaveRate => self.other_leave_rate,
            HoursPerWeek => self.hours_per_week,
            DccShare => self.dcc_share,
            AnnualPay => self.annual_pay,
            TimeToFill => self.time_to_fill,
            BankShare => self.bank_share,
            AgencyShare => self.agency_share,
            BankPremium => self.bank_premium,
            AgencyPremium => self.agency_premium,
            DemandGrowth => self.demand_growth,
            HeadroomAllowance => return self.headroom_allowance,
        })
    }
}

/// What one segment's figures rest on.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentReport {
    pub org: String,
    pub staff_group: String,
    pub band: String,
    pub age_band: Option<String>,
    pub headcount: i64,
    pub fte: f64,
    pub leavers: i64,
    pub leaver_fte: f64,
    pub mean_fte: f64,
    pub contracted_hours: f64,
    pub absence_hours: f64,
    pub roster_shifts: i64,
    /// Figures taken from the defaults rather than the extracts.
    pub defaults: Vec<String>,
    pub warnings: Vec<String>,
}

/// Seasonal factors the absence history shows, January to December, mean 1.
#[derive(Debug, Clone, Serialize)]
pub struct Seasonality {
    pub annual_leave: [f64; 12],
    pub sickness: [f64; 12],
    /// Calendar months the window does not cover (their factor is 1).
    pub months_missing: Vec<u32>,
}

impl Seasonality {
    /// The `[seasonality]` table of a scenario file.
    pub fn to_toml(&self) -> String {
        let list = |v: &[f64; 12]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "[seasonality]\n# January to December, from the absence extract's window.\nannual_leave = [{}]\nsickness = [{}]\n",
            list(&self.annual_leave),
            list(&self.sickness)
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub as_of: String,
    pub window_months: u32,
    pub segments: Vec<CalibratedSegment>,
    pub report: Vec<SegmentReport>,
    pub seasonality: Option<Seasonality>,
}

/// Calibrates: reads and checks the extracts (every bad row at once), aggregates them and
/// builds the segments.
pub fn calibrate(request: &CalibrationRequest) -> Result<Calibration, DataError> {
    let connection = open_extracts(request)?;
    calibrate_loaded(&connection, request)
}

/// The private database of a request's extracts, read and checked.
pub(crate) fn open_extracts(request: &CalibrationRequest) -> Result<Connection, DataError> {
    let connection = Connection::open_in_memory()?;
    extracts::load(&connection, &request.files, &request.salt)?;
    Ok(connection)
}

/// Calibrates from extracts already read (a back-test reads them once for both).
pub(crate) fn calibrate_loaded(
    connection: &Connection,
    request: &CalibrationRequest,
) -> Result<Calibration, DataError> {
    let aggregates = aggregate(connection, &request.window)?;
    Ok(build(request, &aggregates))
}

/// A staff group's figures pooled over its segments, for segments without their own.
#[derive(Default)]
struct Pooled {
    leaver_fte: f64,
    mean_fte: f64,
    contracted_hours: f64,
    absence_hours: [f64; 4],
}

fn leaver_rate(leaver_fte: f64, mean_fte: f64, months: u32) -> f64 {
    // r leavers a year as a share of the mean stock; the model reads `leaver_rate` as a
    // yearly probability and takes 1 - (1 - L)^(1/12) a month, so L = 1 - (1 - r/12)^12
    // leaves a steady state's back-test unbiased.
    let r = leaver_fte / mean_fte * 12.0 / f64::from(months);
    1.0 - (1.0 - (r / 12.0).min(1.0)).powi(12)
}

fn build(request: &CalibrationRequest, a: &Aggregates) -> Calibration {
    let d = &request.defaults;
    let months = request.window.months;
    let mut pooled: BTreeMap<&str, Pooled> = BTreeMap::new();
    for (key, m) in &a.segments {
        let p = pooled.entry(key.staff_group.as_str()).or_default();
        p.leaver_fte += m.leaver_fte;
        p.mean_fte += m.mean_fte;
        p.contracted_hours += m.contracted_hours;
        for (total, h) in p.absence_hours.iter_mut().zip(m.absence_hours) {
            *total += h;
        }
    }
    // Segments with an establishment but no staff at all in the window are vacant posts.
    let mut keys: BTreeMap<SegmentKey, Measured> = a.segments.clone();
    for (org, group, band) in a.establishment.keys() {
        let present = a
            .segments
            .keys()
            .any(|k| &k.org == org && &k.staff_group == group && &k.band == band);
        if !present {
            let age_band = (!request.window.age_bands.is_empty()).then(|| "unknown".to_string());
            keys.insert(
                SegmentKey {
                    org: org.clone(),
                    staff_group: group.clone(),
                    band: band.clone(),
                    age_band,
                },
                Measured::default(),
            );
        }
    }
    // With age bands, an org, group and band's establishment is shared across its age
    // bands in proportion to their FTE.
    let mut fte_of_post: BTreeMap<(&str, &str, &str), (f64, usize)> = BTreeMap::new();
    for (k, m) in &keys {
        let e = fte_of_post
            .entry((&k.org, &k.staff_group, &k.band))
            .or_default();
        e.0 += m.fte;
        e.1 += 1;
    }
    let mut segments = Vec::new();
    let mut report = Vec::new();
    for (key, m) in &keys {
        let mut defaults = vec![
            "time_to_fill".to_string(),
            "dcc_share".to_string(),
            "demand_growth".to_string(),
        ];
        let mut warnings = Vec::new();
        let post = (key.org.clone(), key.staff_group.clone(), key.band.clone());
        let (post_fte, post_segments) = fte_of_post[&(
            key.org.as_str(),
            key.staff_group.as_str(),
            key.band.as_str(),
        )];
        let establishment = match a.establishment.get(&post) {
            Some(e) if post_fte > 0.0 => e * m.fte / post_fte,
            Some(e) => e / post_segments as f64,
            None => {
                warnings.push("no establishment in the extract: set to the FTE in post".into());
                m.fte
            }
        };
        if m.headcount < request.min_headcount {
            warnings.push(format!(
                "{} staff in post, fewer than {}: small numbers (NHS statistics suppress them)",
                m.headcount, request.min_headcount
            ));
        }
        let group = &pooled[key.staff_group.as_str()];
        let leaver_rate = if m.mean_fte > 0.0 {
            if m.leavers < d.min_leavers {
                warnings.push(format!(
                    "leaver_rate rests on {} leavers in {} months",
                    m.leavers, months
                ));
            }
            leaver_rate(m.leaver_fte, m.mean_fte, months)
        } else if group.mean_fte > 0.0 {
            warnings
                .push("no staff in post over the window: leaver_rate is the staff group's".into());
            leaver_rate(group.leaver_fte, group.mean_fte, months)
        } else {
            defaults.push("leaver_rate".into());
            0.0
        };
        let absence = if m.contracted_hours > 0.0 {
            if m.contracted_hours < d.min_contracted_hours {
                warnings.push(format!(
                    "absence rates rest on {:.0} contracted hours",
                    m.contracted_hours
                ));
            }
            m.absence_hours.map(|h| h / m.contracted_hours)
        } else if group.contracted_hours > 0.0 {
            warnings.push(
                "no contracted hours in the window: absence rates are the staff group's".into(),
            );
            group.absence_hours.map(|h| h / group.contracted_hours)
        } else {
            [0.0; 4]
        };
        let hours_per_week = if m.fte > 0.0 {
            m.weekly_hours / m.fte
        } else {
            37.5
        };
        let annual_pay = match afc_pay(&key.band) {
            Some(pay) => pay * (1.0 + d.on_costs),
            None => {
                defaults.push("annual_pay".into());
                warnings.push(format!(
                    "band '{}' is not an Agenda for Change band: annual_pay is the default",
                    key.band
                ));
                d.annual_pay
            }
        };
        let roster = a.roster.get(&post);
        let (bank_share, agency_share) = match roster {
            Some(r) if r.bank_hours + r.agency_hours + r.unfilled_hours > 0.0 => {
                let uncovered = r.bank_hours + r.agency_hours + r.unfilled_hours;
                (r.bank_hours / uncovered, r.agency_hours / uncovered)
            }
            _ => {
                defaults.push("bank_share".into());
                defaults.push("agency_share".into());
                (d.bank_share, d.agency_share)
            }
        };
        let substantive = roster
            .filter(|r| r.worked_hours > 0.0 && r.worked_cost > 0.0)
            .map(|r| r.worked_cost / r.worked_hours);
        let premium =
            |cost: f64, hours: f64, default: f64, name: &str, defaults: &mut Vec<String>| {
                match substantive {
                    Some(pay) if hours > 0.0 => cost / hours / pay,
                    _ => {
                        defaults.push(name.to_string());
                        default
                    }
                }
            };
        let bank_premium = premium(
            roster.map_or(0.0, |r| r.bank_cost),
            roster.map_or(0.0, |r| r.bank_hours),
            d.bank_premium,
            "bank_premium",
            &mut defaults,
        );
        let agency_premium = premium(
            roster.map_or(0.0, |r| r.agency_cost),
            roster.map_or(0.0, |r| r.agency_hours),
            d.agency_premium,
            "agency_premium",
            &mut defaults,
        );
        let (system, setting) = match a.orgs.get(&key.org) {
            Some((system, setting)) => (system.clone(), setting.clone()),
            None => {
                if !a.orgs.is_empty() {
                    warnings.push("organisation not in the organisations extract".into());
                }
                (d.system.clone(), None)
            }
        };
        segments.push(CalibratedSegment {
            org: key.org.clone(),
            system,
            setting,
            staff_group: key.staff_group.clone(),
            band: key.band.clone(),
            age_band: key.age_band.clone(),
            fte: m.fte,
            establishment,
            leaver_rate,
            sickness_rate: absence[0],
            annual_leave_rate: absence[1],
            study_leave_rate: absence[2],
            other_leave_rate: absence[3],
            hours_per_week,
            dcc_share: d.dcc_share,
            annual_pay,
            time_to_fill: d.time_to_fill,
            bank_share,
            agency_share,
            bank_premium,
            agency_premium,
            demand_growth: d.demand_growth,
            headroom_allowance: d.headroom_allowance,
        });
        report.push(SegmentReport {
            org: key.org.clone(),
            staff_group: key.staff_group.clone(),
            band: key.band.clone(),
            age_band: key.age_band.clone(),
            headcount: m.headcount,
            fte: m.fte,
            leavers: m.leavers,
            leaver_fte: m.leaver_fte,
            mean_fte: m.mean_fte,
            contracted_hours: m.contracted_hours,
            absence_hours: m.absence_hours.iter().sum(),
            roster_shifts: roster.map_or(0, |r| r.shifts),
            defaults,
            warnings,
        });
    }
    Calibration {
        as_of: request.window.as_of.clone(),
        window_months: months,
        segments,
        report,
        seasonality: seasonality(a),
    }
}

/// Each calendar month's rate over the mean of the months' rates, for annual leave and
/// sickness; months the window misses get 1.
fn seasonality(a: &Aggregates) -> Option<Seasonality> {
    if a.monthly.is_empty() {
        return None;
    }
    let rates: Vec<(u32, f64, f64)> = a
        .monthly
        .iter()
        .filter(|(_, (_, _, hours))| *hours > 0.0)
        .map(|(&m, &(leave, sick, hours))| (m, leave / hours, sick / hours))
        .collect();
    if rates.is_empty() {
        return None;
    }
    let n = rates.len() as f64;
    let mean_leave = rates.iter().map(|r| r.1).sum::<f64>() / n;
    let mean_sick = rates.iter().map(|r| r.2).sum::<f64>() / n;
    let mut out = Seasonality {
        annual_leave: [1.0; 12],
        sickness: [1.0; 12],
        months_missing: Vec::new(),
    };
    for month in 1..=12u32 {
        match rates.iter().find(|r| r.0 == month) {
            Some(&(_, leave, sick)) => {
                let i = month as usize - 1;
                if mean_leave > 0.0 {
                    out.annual_leave[i] = leave / mean_leave;
                }
                if mean_sick > 0.0 {
                    out.sickness[i] = sick / mean_sick;
                }
            }
            None => out.months_missing.push(month),
        }
    }
    Some(out)
}

/// The segments as a workforce CSV that `wfplan run --data` and `wfplan import` read.
pub fn write_workforce_csv(
    calibration: &Calibration,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    let with_setting = calibration.segments.iter().any(|s| s.setting.is_some());
    let with_age = calibration.segments.iter().any(|s| s.age_band.is_some());
    let mut writer = csv::Writer::from_writer(out);
    let mut header = vec!["org", "system"];
    if with_setting {
        header.push("setting");
    }
    header.extend(["staff_group", "band"]);
    if with_age {
        header.push("age_band");
    }
    header.extend(InputColumn::ALL.map(InputColumn::name));
    writer.write_record(&header)?;
    for s in &calibration.segments {
        let mut row = vec![s.org.clone(), s.system.clone()];
        if with_setting {
            row.push(s.setting.clone().unwrap_or_default());
        }
        row.extend([s.staff_group.clone(), s.band.clone()]);
        if with_age {
            row.push(s.age_band.clone().unwrap_or_default());
        }
        // An empty cell (headroom_allowance not given) is the segment's own headroom.
        row.extend(InputColumn::ALL.map(|c| s.input(c).map(|v| v.to_string()).unwrap_or_default()));
        writer.write_record(&row)?;
    }
    writer.flush()
}
