//! Reading scenario files and resolving `extends`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ScenarioProblem;

/// A scenario document with `extends` resolved, before sweeps and validation.
#[derive(Debug, Clone)]
pub struct ScenarioSource {
    /// Shown in errors.
    pub file: String,
    pub document: Map<String, Value>,
}

/// Largest scenario file read, in bytes.
const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;
/// Longest chain of `extends`.
pub const MAX_EXTENDS_DEPTH: usize = 32;

/// Reads scenario files and every `.toml` file of the given folders (in name order).
pub fn load_paths(paths: &[PathBuf]) -> (Vec<ScenarioSource>, Vec<ScenarioProblem>) {
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let files = if path.is_dir() {
            match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                        .collect();
                    files.sort();
                    if files.is_empty() {
                        problems.push(problem(
                            path,
                            "",
                            "the folder holds no .toml scenario files",
                        ));
                    }
                    files
                }
                Err(e) => {
                    problems.push(problem(path, "", &format!("cannot read the folder: {e}")));
                    continue;
                }
            }
        } else {
            vec![path.clone()]
        };
        for file in files {
            match load_file(&file) {
                Ok(document) => sources.push(ScenarioSource {
                    file: file.display().to_string(),
                    document,
                }),
                Err(p) => problems.push(p),
            }
        }
    }
    (sources, problems)
}

fn problem(file: &Path, field: &str, message: &str) -> ScenarioProblem {
    ScenarioProblem {
        file: file.display().to_string(),
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// Reads one file as a document, merging in its parents, which are looked up in the
/// file's folder.
fn load_file(path: &Path) -> Result<Map<String, Value>, ScenarioProblem> {
    let document = read_document(path)?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let lookup = |name: &str| {
        let parent = find_parent(folder, name)?;
        let identity = parent
            .canonicalize()
            .unwrap_or_else(|_| parent.clone())
            .display()
            .to_string();
        Some(read_document(&parent).map(|document| Parent {
            identity,
            name: stem(&parent),
            document,
        }))
    };
    let own = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    resolve_extends(
        &path.display().to_string(),
        (&own.display().to_string(), &stem(path)),
        document,
        &lookup,
        &format!("in {}", folder.display()),
    )
}

/// A parent scenario found by the name `extends` gives.
pub struct Parent {
    /// What makes it this scenario and no other (a file's full path, a saved scenario's
    /// name): a chain that meets it twice is a cycle.
    pub identity: String,
    /// How messages name it.
    pub name: String,
    /// As written, its own `extends` not yet resolved.
    pub document: Map<String, Value>,
}

/// Resolves `extends` in a scenario document: the one resolver for scenario files and for
/// scenarios saved through the API, which differ only in where a parent is found
/// (`find_parent`; `where_to_look` completes "no scenario 'x' ..."). `own` is the
/// scenario's identity and name. The child's name is its own and never inherited (a child
/// is not its parent); other fields are merged as [`merge`] says. A chain of at most
/// [`MAX_EXTENDS_DEPTH`] parents is followed; a cycle is an error naming it.
pub fn resolve_extends(
    file: &str,
    own: (&str, &str),
    document: Map<String, Value>,
    find_parent: &FindParent,
    where_to_look: &str,
) -> Result<Map<String, Value>, ScenarioProblem> {
    let mut chain = vec![(own.0.to_string(), own.1.to_string())];
    resolve_chain(file, document, &mut chain, find_parent, where_to_look)
}

/// Finds the parent a name in `extends` refers to: `None` when there is none, an error
/// when it exists but cannot be read.
pub type FindParent<'a> = dyn Fn(&str) -> Option<Result<Parent, ScenarioProblem>> + 'a;

/// `chain` holds the identity and name of the scenario being resolved and of each parent
/// met so far.
fn resolve_chain(
    file: &str,
    mut document: Map<String, Value>,
    chain: &mut Vec<(String, String)>,
    find_parent: &FindParent,
    where_to_look: &str,
) -> Result<Map<String, Value>, ScenarioProblem> {
    let problem = |message: String| ScenarioProblem {
        file: file.to_string(),
        field: "extends".into(),
        message,
    };
    let Some(parent) = document.remove("extends") else {
        return Ok(document);
    };
    let Some(parent) = parent.as_str() else {
        return Err(problem("extends must be the name of a scenario".into()));
    };
    let Parent {
        identity,
        name,
        document: parent_document,
    } = find_parent(parent)
        .ok_or_else(|| problem(format!("no scenario '{parent}' {where_to_look}")))??;
    if chain.iter().any(|(id, _)| *id == identity) {
        let names: Vec<&str> = chain
            .iter()
            .map(|(_, n)| n.as_str())
            .chain([name.as_str()])
            .collect();
        return Err(problem(format!(
            "extends forms a cycle: {}",
            names.join(" -> ")
        )));
    }
    // `chain` holds the scenario itself and the parents met so far: this is parent
    // number `chain.len()`.
    if chain.len() > MAX_EXTENDS_DEPTH {
        return Err(problem(format!(
            "extends is nested too deeply: a chain may have at most {MAX_EXTENDS_DEPTH} parents"
        )));
    }
    chain.push((identity, name));
    let resolved_parent = resolve_chain(file, parent_document, chain, find_parent, where_to_look)?;
    chain.pop();
    let name = document.get("name").cloned();
    let mut merged = merge(resolved_parent, document);
    match name {
        Some(n) => merged.insert("name".into(), n),
        None => merged.remove("name"),
    };
    Ok(merged)
}
/// Reads one scenario file as written, without resolving `extends`; `name` defaults to the
/// file stem.
pub fn read_document(path: &Path) -> Result<Map<String, Value>, ScenarioProblem> {
    let size = std::fs::metadata(path)
        .map_err(|e| problem(path, "", &format!("cannot read the scenario: {e}")))?
        .len();
    if size > MAX_SCENARIO_BYTES {
        return Err(problem(
            path,
            "",
            &format!("the file is {size} bytes; scenarios may be at most 1 MiB"),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| problem(path, "", &format!("cannot read the scenario: {e}")))?;
    let mut document = parse(path, &text)?;
    if !document.contains_key("name") {
        document.insert("name".into(), Value::String(stem(path)));
    }
    Ok(document)
}

pub(crate) fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// The parent named by `extends`: the file `<name>.toml` in the folder, or else the file
/// whose `name` is `name`.
fn find_parent(folder: &Path, name: &str) -> Option<PathBuf> {
    // `extends = "baseline"` and `extends = "baseline.toml"` both name baseline.toml.
    let file = if name.ends_with(".toml") {
        name.to_string()
    } else {
        format!("{name}.toml")
    };
    let direct = folder.join(file);
    if direct.is_file() {
        return Some(direct);
    }
    let entries = std::fs::read_dir(folder).ok()?;
    entries.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
        p.extension().is_some_and(|e| e == "toml")
            && std::fs::read_to_string(p)
                .ok()
                .and_then(|text| text.parse::<toml::Table>().ok())
                .is_some_and(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))
    })
}

/// Parses TOML, or JSON when the file name ends in `.json`.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Map<String, Value>, ScenarioProblem> {
    let is_json = path.extension().is_some_and(|e| e == "json");
    let value: Value = if is_json {
        serde_json::from_str(text)
            .map_err(|e| problem(path, "", &format!("not valid JSON: {e}")))?
    } else {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            problem(
                path,
                "",
                &format!("not valid TOML: {}", e.to_string().trim()),
            )
        })?;
        serde_json::to_value(table).map_err(|e| problem(path, "", &e.to_string()))?
    };
    load_value(value).map_err(|message| problem(path, "", &message))
}

/// Accepts a parsed document (from a file or an API request body).
pub fn load_value(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("a scenario must be a table of fields".into()),
    }
}

/// `extends`: the parent's fields, the child's replacing them, with the child's overrides,
/// interventions and uncertain entries appended to the parent's, and the two sweeps, the
/// two seasonality tables and the two monte_carlo tables combined.
pub fn merge(mut parent: Map<String, Value>, child: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in child {
        let inherited = parent.remove(&key);
        let combined = match (key.as_str(), inherited, value) {
            (
                "overrides" | "interventions" | "uncertain",
                Some(Value::Array(mut inherited)),
                Value::Array(own),
            ) => {
                inherited.extend(own);
                Value::Array(inherited)
            }
            // A child's seasonal list replaces the parent's list of the same name only.
            // A child's `[monte_carlo]` keys replace the parent's keys of the same name.
            (
                "sweep" | "seasonality" | "monte_carlo",
                Some(Value::Object(mut inherited)),
                Value::Object(own),
            ) => {
                inherited.extend(own);
                Value::Object(inherited)
            }
            (_, _, value) => value,
        };
        parent.insert(key, combined);
    }
    parent
}
