//! Monte Carlo uncertainty (docs/model.md, section 7): which inputs are uncertain, as 80%
//! intervals, how many draws to make, and the generator that turns a seed into each draw's
//! values.
//!
//! The generator is counter-based: the standard normal of one value is a pure function of
//! (seed, draw, entry, per value), hashed with SplitMix64 and turned into a normal by
//! Wichura's AS241. No state passes from one value to the next, so a draw's values are the
//! same whichever thread computes it, in whatever order, and whichever shard of a job runs
//! it; and an option that extends a baseline draws the baseline's entries exactly as the
//! baseline does (common random numbers).

use serde::Serialize;

use super::scenario::{Filter, InputColumnName};

/// The z of an 80% interval: the 90th percentile of the standard normal.
pub const Z90: f64 = 1.2815515655446004;
/// Most draws a run may make.
pub const MAX_DRAWS: u64 = 100_000;

/// `[monte_carlo]`: the number of random draws (draw 0, the central run, comes on top)
/// and the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MonteCarlo {
    pub draws: u64,
    pub seed: u64,
}

/// What an `[[uncertain]]` entry draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Uncertain {
    /// An input column: the drawn value is a factor on its value after overrides.
    Input(InputColumnName),
    /// A number field of an intervention (its index in the scenario's list, from 0): the
    /// drawn value replaces it. `cost_per_month` is the one common field that may be drawn.
    Field { intervention: usize, field: String },
}

/// One `[[uncertain]]` entry, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UncertainEntry {
    /// As written: `leaver_rate`, `interventions.1.completion`.
    pub what: String,
    pub target: Uncertain,
    /// Segments the entry acts on (an input column's entry; a field's acts on its
    /// intervention's segments).
    pub filter: Filter,
    /// A key column (the dataset's spelling): one independent value for each of its
    /// values among the matched segments.
    pub per: Option<String>,
    pub p10: f64,
    pub p90: f64,
}

impl UncertainEntry {
    pub fn mean(&self) -> f64 {
        (self.p10 + self.p90) / 2.0
    }

    pub fn sd(&self) -> f64 {
        (self.p90 - self.p10) / (2.0 * Z90)
    }

    /// The entry's value in a draw for one per value ("" without `per`): its mean in draw
    /// 0, a Normal draw otherwise.
    pub fn value(&self, seed: u64, draw: u64, entry: usize, per_value: &str) -> f64 {
        if draw == 0 {
            return self.mean();
        }
        self.mean() + self.sd() * standard_normal(seed, draw, entry as u64, per_value)
    }
}

/// SplitMix64's step: add the golden gamma, then its finaliser.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over a text's bytes: a per value enters the hash by its text, so adding an
/// organisation to the data changes no other organisation's draws.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The standard normal of (seed, draw, entry, per value).
pub fn standard_normal(seed: u64, draw: u64, entry: u64, per_value: &str) -> f64 {
    let mut h = mix(seed);
    h = mix(h ^ draw);
    h = mix(h ^ entry);
    h = mix(h ^ fnv1a(per_value));
    // 53 random bits, centred in their interval: never 0 or 1.
    let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    inverse_normal(u)
}

/// The standard normal's inverse distribution function: Wichura's algorithm AS241
/// (PPND16), accurate to about 1e-16 over (0, 1). The coefficients are written as
/// published (Applied Statistics 37, 1988), more digits than an f64 holds, so that they
/// can be checked against the paper digit by digit.
#[allow(clippy::excessive_precision)]
pub fn inverse_normal(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                + 67265.770927008700853)
                * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((5226.495278852545925 * r + 28729.085735721942674) * r
                + 39307.89580009271061)
                * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let mut r = (-tail.ln()).sqrt();
    let value = if r <= 5.0 {
        r -= 1.6;
        (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
            + 0.24178072517745061177)
            * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966)
                * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
            + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5)
                * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.0)
    };
    if q < 0.0 {
        -value
    } else {
        value
    }
}

/// The p-th percentile of values sorted ascending: the value at position `1 + (n - 1) p`,
/// interpolated linearly (NumPy's default, Hyndman and Fan's type 7).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let position = (n - 1) as f64 * p;
            let below = position.floor() as usize;
            let above = (below + 1).min(n - 1);
            let fraction = position - below as f64;
            sorted[below] + (sorted[above] - sorted[below]) * fraction
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_normal_matches_known_quantiles() {
        assert_eq!(inverse_normal(0.5), 0.0);
        assert!((inverse_normal(0.9) - Z90).abs() < 1e-15);
        assert!((inverse_normal(0.1) + Z90).abs() < 1e-15);
        assert!((inverse_normal(0.975) - 1.959963984540054).abs() < 1e-14);
        assert!((inverse_normal(1e-10) + 6.361340902404056).abs() < 1e-12);
    }

    #[test]
    fn draws_depend_only_on_their_counter() {
        let a = standard_normal(7, 3, 1, "org-a");
        assert_eq!(a, standard_normal(7, 3, 1, "org-a"));
        assert_ne!(a, standard_normal(7, 3, 1, "org-b"));
        assert_ne!(a, standard_normal(7, 4, 1, "org-a"));
        assert_ne!(a, standard_normal(8, 3, 1, "org-a"));
        // Ten thousand values: about a tenth below the 10th percentile.
        let below = (1..=10_000)
            .filter(|&d| standard_normal(1, d, 0, "") < -Z90)
            .count();
        assert!((900..1100).contains(&below), "{below}");
    }

    #[test]
    fn percentiles_are_numpys_linear_ones() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&sorted, 0.5), 2.5);
        assert!((percentile(&sorted, 0.1) - 1.3).abs() < 1e-12);
        assert_eq!(percentile(&sorted, 0.9), 3.7);
        assert_eq!(percentile(&[5.0], 0.9), 5.0);
    }
}
