//! Synthetic workforce data at any size, with rates in the ranges of the sample ICS, for
//! benchmarks and demonstrations. Deterministic for a given seed.

use std::io::Write;

use crate::model::workforce::REQUIRED_KEYS;
use crate::model::InputColumn;

const STAFF_GROUPS: [&str; 16] = [
    "art_therapy",
    "drama_therapy",
    "music_therapy",
    "podiatry",
    "dietetics",
    "occupational_therapy",
    "operating_department_practice",
    "orthoptics",
    "osteopathy",
    "paramedicine",
    "physiotherapy",
    "prosthetics_orthotics",
    "radiography",
    "speech_language_therapy",
    "personal_care",
    "adult_social_work",
];
const BANDS: [&str; 7] = ["3", "4", "5", "6", "7", "8a", "8b"];
/// Annual pay by band, on-costs included.
const PAY: [f64; 7] = [
    31_500.0, 35_000.0, 42_500.0, 52_700.0, 62_500.0, 72_700.0, 85_000.0,
];
const SETTINGS: [&str; 4] = ["acute", "community", "mental_health", "social_care"];

/// Writes `segments` synthetic segments as CSV: organisations of up to 112 segments (16 staff
/// groups x 7 bands), 10 organisations to a system.
pub fn write_csv(output: impl Write, segments: usize, seed: u64) -> std::io::Result<()> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut writer = csv::Writer::from_writer(output);
    let mut header: Vec<&str> = REQUIRED_KEYS.to_vec();
    header.push("setting");
    header.extend(InputColumn::ALL.iter().map(|c| c.name()));
    writer.write_record(&header)?;
    let per_org = STAFF_GROUPS.len() * BANDS.len();
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for i in 0..segments {
        let org = i / per_org;
        let group = (i % per_org) / BANDS.len();
        let band = i % BANDS.len();
        let mut uniform = |low: f64, high: f64| low + (high - low) * rng.f64();
        let establishment = (uniform(2.0, 80.0) * 10.0).round() / 10.0;
        let vacancy = uniform(0.0, 0.15);
        let fte = (establishment * (1.0 - vacancy) * 100.0).round() / 100.0;
        let bank = uniform(0.2, 0.6);
        let agency = uniform(0.0, 1.0 - bank).min(0.4);
        let values = [
            fte,
            establishment,
            uniform(0.06, 0.3),   // leaver_rate
            uniform(0.02, 0.06),  // sickness_rate
            uniform(0.12, 0.15),  // annual_leave_rate
            uniform(0.01, 0.04),  // study_leave_rate
            uniform(0.005, 0.02), // other_leave_rate
            37.5,
            uniform(0.5, 0.8), // dcc_share
            PAY[band] * uniform(0.95, 1.05),
            uniform(1.0, 6.0), // time_to_fill
            bank,
            agency,
            uniform(1.0, 1.2),  // bank_premium
            uniform(1.5, 2.2),  // agency_premium
            uniform(0.0, 0.04), // demand_growth
        ];
        let setting = SETTINGS[org % SETTINGS.len()];
        record.clear();
        record.push(format!("org_{org:05}"));
        record.push(format!("system_{:03}", org / 10));
        record.push(STAFF_GROUPS[group].to_string());
        record.push(BANDS[band].to_string());
        record.push(setting.to_string());
        record.extend(values.iter().map(|v| format!("{:.4}", v)));
        // The headroom allowance: the NHS settings' rosters are funded for about a fifth
        // of contracted hours; the councils' care staff have none stated (empty: their own
        // headroom), as in the sample data.
        record.push(if setting == "social_care" {
            String::new()
        } else {
            "0.2100".into()
        });
        writer.write_record(&record)?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_data_is_valid_and_deterministic() {
        let mut first = Vec::new();
        super::write_csv(&mut first, 300, 7).unwrap();
        let mut second = Vec::new();
        super::write_csv(&mut second, 300, 7).unwrap();
        assert_eq!(first, second);
        let text = String::from_utf8(first).unwrap();
        let workforce = crate::data::import::read_csv_text("generated", &text)
            .expect("generated data is valid");
        assert_eq!(workforce.len(), 300);
        assert_eq!(
            workforce.key_names,
            vec!["org", "system", "staff_group", "band", "setting"]
        );
    }
}
