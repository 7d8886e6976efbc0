//! Attribution's arithmetic: from the metric of every combination of factors needed, the
//! sequential steps (the waterfall in file order) and exact Shapley values (each factor's
//! mean contribution over every order of the factors). `app::attribution` makes and runs
//! the combinations.

/// One factor's contribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub name: String,
    pub sequential: Option<f64>,
    pub shapley: Option<f64>,
}

/// The change in the metric, and what each factor contributes to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub metric: String,
    /// The metric with every factor removed.
    pub baseline_value: f64,
    pub scenario_value: f64,
    pub total_change: f64,
    pub factors: Vec<Contribution>,
    /// Scenario runs made.
    pub runs: usize,
}

impl Attribution {
    /// `value(mask)` is the metric with the factors of `mask` (bit k = factor k) and the
    /// baseline's own entries; with `shapley`, every mask is asked for, otherwise only
    /// the first k factors' for each k.
    pub fn from_values(
        metric: &str,
        names: &[String],
        value: impl Fn(u64) -> f64,
        sequential: bool,
        shapley: bool,
        runs: usize,
    ) -> Attribution {
        let n = names.len();
        let full = (1u64 << n) - 1;
        let step = |k: usize| {
            let before = (1u64 << k) - 1;
            value(before | (1 << k)) - value(before)
        };
        let phi = |k: usize| {
            let mut phi = 0.0;
            for mask in 0..=full {
                if mask & (1 << k) == 0 {
                    let size = mask.count_ones() as usize;
                    phi += shapley_weight(size, n) * (value(mask | (1 << k)) - value(mask));
                }
            }
            phi
        };
        let (baseline_value, scenario_value) = (value(0), value(full));
        Attribution {
            metric: metric.to_string(),
            baseline_value,
            scenario_value,
            total_change: scenario_value - baseline_value,
            factors: names
                .iter()
                .enumerate()
                .map(|(k, name)| Contribution {
                    name: name.clone(),
                    sequential: sequential.then(|| step(k)),
                    shapley: shapley.then(|| phi(k)),
                })
                .collect(),
            runs,
        }
    }
}

/// `|T|! (n - |T| - 1)! / n!`: the share of the orders of `n` factors in which a factor
/// comes right after the `size` factors of a given set.
fn shapley_weight(size: usize, n: usize) -> f64 {
    // A product of ratios rather than factorials, which overflow past 20.
    let mut weight = 1.0 / n as f64;
    for i in 1..=size {
        weight *= i as f64 / (n - i) as f64;
    }
    weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapley_weights_over_all_sets_add_up_to_one() {
        for n in 1..=12usize {
            // Sets of the other n - 1 factors, by size: C(n - 1, size) of each.
            let mut total = 0.0;
            let mut sets = 1.0;
            for size in 0..n {
                total += sets * shapley_weight(size, n);
                sets = sets * (n - 1 - size) as f64 / (size + 1) as f64;
            }
            assert!((total - 1.0).abs() < 1e-12, "n = {n}: {total}");
        }
        // Two factors: each order is half.
        assert_eq!(shapley_weight(0, 2), 0.5);
        assert_eq!(shapley_weight(1, 2), 0.5);
    }
}
