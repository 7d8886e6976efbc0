//! `[sweep]`: a table from a field path (`interventions.0.starts_per_year`) to a list of
//! values. A scenario with a sweep stands for the Cartesian product of those values, each
//! run named after its values, for example `apprentices[interventions.0.starts_per_year=20]`.

use serde_json::{Map, Value};

/// Most runs one scenario's sweep may expand to.
pub const MAX_SWEEP_RUNS: usize = 10_000;

/// The scenarios a document stands for: itself, or one per combination of its sweep.
pub fn expand(
    mut document: Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, (String, String)> {
    let Some(sweep) = document.remove("sweep") else {
        return Ok(vec![document]);
    };
    let Value::Object(sweep) = sweep else {
        return Err((
            "sweep".into(),
            "sweep must be a table of field path = [values]".into(),
        ));
    };
    let mut axes = Vec::new();
    let mut runs: usize = 1;
    for (path, values) in sweep {
        let Value::Array(values) = values else {
            return Err((
                format!("sweep.{path}"),
                "give a list of values to sweep over".into(),
            ));
        };
        if values.is_empty() {
            return Err((
                format!("sweep.{path}"),
                "the list of values is empty".into(),
            ));
        }
        runs = runs.saturating_mul(values.len());
        axes.push((path, values));
    }
    if runs > MAX_SWEEP_RUNS {
        return Err((
            "sweep".into(),
            format!("the sweep expands to {runs} runs; the most allowed is {MAX_SWEEP_RUNS}"),
        ));
    }
    let name = document
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("scenario")
        .to_string();
    let mut expanded = Vec::with_capacity(runs);
    for combination in 0..runs {
        let mut run = document.clone();
        let mut labels = Vec::new();
        let mut rest = combination;
        for (path, values) in &axes {
            let value = &values[rest % values.len()];
            rest /= values.len();
            set_path(&mut run, path, value.clone()).map_err(|m| (format!("sweep.{path}"), m))?;
            labels.push(format!("{path}={}", plain(value)));
        }
        run.insert(
            "name".into(),
            Value::String(format!("{name}[{}]", labels.join(","))),
        );
        expanded.push(run);
    }
    Ok(expanded)
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets the field at a dotted path (`interventions.0.starts_per_year`, or with `[0]`).
fn set_path(document: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), String> {
    let parts: Vec<String> = path
        .replace('[', ".")
        .replace(']', "")
        .split('.')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    let (last, walk) = parts.split_last().ok_or("the field path is empty")?;
    if walk.is_empty() {
        document.insert(last.clone(), value);
        return Ok(());
    }
    let mut here: &mut Value = document
        .get_mut(&parts[0])
        .ok_or_else(|| format!("the scenario has no field '{}'", parts[0]))?;
    for part in &walk[1..] {
        here = step(here, part)?;
    }
    match here {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let slot = last
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("no item {last}"))?;
            *slot = value;
            Ok(())
        }
        _ => Err(format!("'{path}' does not lead to a field")),
    }
}

fn step<'v>(value: &'v mut Value, part: &str) -> Result<&'v mut Value, String> {
    match value {
        Value::Object(map) => map
            .get_mut(part)
            .ok_or_else(|| format!("no field '{part}'")),
        Value::Array(items) => {
            let len = items.len();
            part.parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("no item {part}: the list has {len}"))
        }
        _ => Err(format!(
            "'{part}' is inside a value that is not a table or list"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expands_the_cartesian_product_with_names() {
        let document = json!({
            "name": "s",
            "interventions": [{ "kind": "apprenticeships", "starts_per_year": 1 }],
            "sweep": { "interventions.0.starts_per_year": [10, 20], "months": [12, 24, 36] }
        });
        let runs = expand(document.as_object().unwrap().clone()).unwrap();
        assert_eq!(runs.len(), 6);
        assert_eq!(runs[0]["interventions"][0]["starts_per_year"], json!(10));
        assert_eq!(runs[5]["months"], json!(36));
        assert_eq!(runs[5]["interventions"][0]["starts_per_year"], json!(20));
        assert_eq!(
            runs[1]["name"],
            json!("s[interventions.0.starts_per_year=20,months=12]")
        );
        assert!(runs.iter().all(|r| !r.contains_key("sweep")));
    }

    #[test]
    fn rejects_paths_that_lead_nowhere() {
        let document =
            json!({ "name": "s", "interventions": [], "sweep": { "interventions.3.x": [1] } });
        let (field, message) = expand(document.as_object().unwrap().clone()).unwrap_err();
        assert_eq!(field, "sweep.interventions.3.x");
        assert!(message.contains("no item 3"), "{message}");
    }
}
