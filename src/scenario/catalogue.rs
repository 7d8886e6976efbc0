//! The scenarios a planner can name: the files of a scenarios folder (or, where there is
//! none, the scenarios built into wfplan) and the scenarios saved through the API.
//!
//! The command line and the API find scenarios by name here, and resolve `extends` here
//! with the one resolver of [`super::load`], so a name means the same scenario to both.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::load::{read_document, resolve_extends, Parent};
use super::{ScenarioProblem, ScenarioSource};

/// Where a scenario came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A file of the scenarios folder (or a scenario built into wfplan), unchanged.
    File,
    /// Created or replaced through the API (kept in the database).
    Api,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::File => "file",
            Origin::Api => "api",
        }
    }
}

/// A scenario document as it was written (before `extends` is resolved).
#[derive(Debug, Clone)]
pub struct Entry {
    pub document: Map<String, Value>,
    pub origin: Origin,
    /// The file's stem, which `extends` and the command line may also use (`faculty_plan`
    /// for `faculty-plan`).
    pub file_stem: Option<String>,
}

impl Entry {
    /// A text field of the document as written (empty when absent).
    pub fn text(&self, field: &str) -> String {
        self.document
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The parent this scenario extends, if any.
    pub fn extends(&self) -> Option<&str> {
        self.document.get("extends").and_then(Value::as_str)
    }
}

/// Scenarios by name.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    scenarios: BTreeMap<String, Entry>,
}

impl Catalogue {
    /// The `.toml` files of a folder, in name order; files that cannot be read are
    /// reported and left out.
    pub fn from_folder(folder: &Path) -> (Catalogue, Vec<ScenarioProblem>) {
        let mut catalogue = Catalogue::default();
        let mut problems = Vec::new();
        let mut files: Vec<_> = match std::fs::read_dir(folder) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect(),
            Err(e) => {
                problems.push(ScenarioProblem {
                    file: folder.display().to_string(),
                    field: String::new(),
                    message: format!("cannot read the scenarios folder: {e}"),
                });
                Vec::new()
            }
        };
        files.sort();
        for file in files {
            match read_document(&file) {
                Ok(document) => catalogue.add_file(
                    document,
                    file.file_stem().map(|s| s.to_string_lossy().to_string()),
                ),
                Err(p) => problems.push(p),
            }
        }
        (catalogue, problems)
    }

    /// The scenarios built into wfplan (the project's `scenarios/` when it was built).
    pub fn bundled() -> Catalogue {
        let mut catalogue = Catalogue::default();
        for (path, text) in crate::bundled::SCENARIOS {
            let file = Path::new(path);
            let document = super::load::parse(file, text)
                .map(|mut d| {
                    d.entry("name")
                        .or_insert_with(|| Value::String(super::load::stem(file)));
                    d
                })
                .unwrap_or_else(|p| panic!("a bundled scenario is invalid: {p}"));
            catalogue.add_file(document, Some(super::load::stem(file)));
        }
        catalogue
    }

    fn add_file(&mut self, document: Map<String, Value>, file_stem: Option<String>) {
        let name = document
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.scenarios.insert(
            name,
            Entry {
                document,
                origin: Origin::File,
                file_stem,
            },
        );
    }

    /// Applies the scenarios saved through the API (`None`: deleted, which hides a file of
    /// that name). Returns the saved documents that could not be read.
    pub fn apply_saved(&mut self, saved: Vec<(String, Option<String>)>) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, document) in saved {
            match document.map(|d| serde_json::from_str::<Value>(&d)) {
                None => {
                    self.scenarios.remove(&name);
                }
                Some(Ok(Value::Object(document))) => self.save(name, document),
                Some(_) => {
                    problems.push(format!("saved scenario {name}: not a JSON object; skipped"))
                }
            }
        }
        problems
    }

    /// Adds or replaces a scenario saved through the API.
    pub fn save(&mut self, name: String, document: Map<String, Value>) {
        self.scenarios.insert(
            name,
            Entry {
                document,
                origin: Origin::Api,
                file_stem: None,
            },
        );
    }

    pub fn remove(&mut self, name: &str) -> Option<Entry> {
        self.scenarios.remove(name)
    }

    /// Every scenario, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.scenarios.iter()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.scenarios.contains_key(name)
    }

    /// A scenario by its name (as runs report it), or by its file's stem, with or
    /// without `.toml`: `faculty-plan`, `faculty_plan` and `faculty_plan.toml` are one.
    pub fn find(&self, name: &str) -> Option<(&String, &Entry)> {
        if let Some(found) = self.scenarios.get_key_value(name) {
            return Some(found);
        }
        let stem = name.strip_suffix(".toml").unwrap_or(name);
        self.scenarios
            .iter()
            .find(|(_, e)| e.file_stem.as_deref() == Some(stem))
    }

    /// The root of a scenario's `extends` chain: the ancestor that extends nothing (the
    /// scenario itself when it extends nothing). `None` when a name in the chain is not
    /// in the catalogue or the chain does not end (resolving it reports why).
    pub fn root(&self, name: &str) -> Option<String> {
        let (mut found, mut entry) = self.find(name)?;
        for _ in 0..=super::load::MAX_EXTENDS_DEPTH {
            match entry.extends() {
                None => return Some(found.clone()),
                Some(parent) => (found, entry) = self.find(parent)?,
            }
        }
        None
    }

    /// The names of the scenarios that extend `name`.
    pub fn dependants(&self, name: &str) -> Vec<String> {
        self.scenarios
            .iter()
            .filter(|(_, e)| e.extends() == Some(name))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// A scenario of the catalogue, with `extends` resolved.
    pub fn resolve(&self, name: &str) -> Result<ScenarioSource, ScenarioProblem> {
        let (found, entry) = self.find(name).ok_or_else(|| ScenarioProblem {
            file: format!("scenario {name}"),
            field: String::new(),
            message: format!("no scenario '{name}'; the scenarios are {}", self.names()),
        })?;
        self.resolve_document(found, entry.document.clone())
    }

    /// A document named `name` (saved or not), with `extends` resolved against the
    /// catalogue.
    pub fn resolve_document(
        &self,
        name: &str,
        document: Map<String, Value>,
    ) -> Result<ScenarioSource, ScenarioProblem> {
        let file = format!("scenario {name}");
        let find_parent = |parent: &str| {
            self.find(parent).map(|(found, entry)| {
                Ok(Parent {
                    identity: found.clone(),
                    name: found.clone(),
                    document: entry.document.clone(),
                })
            })
        };
        let document = resolve_extends(
            &file,
            (name, name),
            document,
            &find_parent,
            "among the scenarios",
        )?;
        Ok(ScenarioSource { file, document })
    }

    /// The names, for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.scenarios.keys().map(String::as_str).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load::MAX_EXTENDS_DEPTH;

    fn document(json: serde_json::Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    /// A chain `s0 extends s1 extends ... extends s{parents}`, as saved scenarios and as
    /// files of a folder.
    fn chain(parents: usize) -> (Catalogue, tempfile::TempDir) {
        let mut catalogue = Catalogue::default();
        let dir = tempfile::tempdir().unwrap();
        for i in 0..=parents {
            let mut d = document(serde_json::json!({ "name": format!("s{i}") }));
            if i < parents {
                d.insert("extends".into(), Value::String(format!("s{}", i + 1)));
            } else {
                d.insert("start".into(), Value::String("2025-04".into()));
            }
            let toml = match d.get("extends") {
                Some(parent) => format!("extends = {parent}\n"),
                None => "start = \"2025-04\"\n".to_string(),
            };
            std::fs::write(dir.path().join(format!("s{i}.toml")), toml).unwrap();
            catalogue.save(format!("s{i}"), d);
        }
        (catalogue, dir)
    }

    /// Files and saved scenarios follow the same chains of `extends` and stop at the same
    /// depth (they once disagreed by one).
    #[test]
    fn files_and_saved_scenarios_share_one_depth_limit() {
        for (parents, ok) in [(MAX_EXTENDS_DEPTH, true), (MAX_EXTENDS_DEPTH + 1, false)] {
            let (catalogue, dir) = chain(parents);
            let saved = catalogue.resolve("s0");
            let (files, problems) = crate::scenario::load_paths(&[dir.path().join("s0.toml")]);
            assert_eq!(saved.is_ok(), ok, "{parents} parents, saved: {saved:?}");
            assert_eq!(
                problems.is_empty(),
                ok,
                "{parents} parents, files: {problems:?}"
            );
            if ok {
                let saved = saved.unwrap().document;
                assert_eq!(saved.get("start"), files[0].document.get("start"));
                assert_eq!(saved.get("name"), Some(&Value::String("s0".into())));
                assert_eq!(files[0].document.get("name"), saved.get("name"));
            } else {
                assert!(saved.unwrap_err().message.contains("nested too deeply"));
                assert!(problems[0].message.contains("nested too deeply"));
            }
        }
    }

    /// A child without a name of its own is never reported under its parent's name.
    #[test]
    fn a_child_does_not_inherit_its_parents_name() {
        let (catalogue, _dir) = chain(1);
        let resolved = catalogue
            .resolve_document("inline", document(serde_json::json!({ "extends": "s0" })))
            .unwrap();
        assert_eq!(resolved.document.get("name"), None);
        assert_eq!(
            resolved.document.get("start"),
            Some(&Value::String("2025-04".into()))
        );
    }

    #[test]
    fn cycles_are_named() {
        let mut catalogue = Catalogue::default();
        catalogue.save("a".into(), document(serde_json::json!({ "extends": "b" })));
        catalogue.save("b".into(), document(serde_json::json!({ "extends": "a" })));
        let problem = catalogue.resolve("a").unwrap_err();
        assert_eq!(problem.message, "extends forms a cycle: a -> b -> a");
    }

    #[test]
    fn scenarios_are_found_by_name_or_file_stem() {
        let catalogue = Catalogue::bundled();
        assert!(catalogue.find("faculty-plan").is_some());
        assert!(catalogue.find("faculty_plan").is_some());
        assert!(catalogue.find("faculty_plan.toml").is_some());
        assert!(catalogue.find("no-such").is_none());
        assert!(catalogue.resolve("faculty-plan").is_ok());
    }
}
