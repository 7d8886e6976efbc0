//! Where the rules and scenarios come from: a folder the user names, else `./rules` and
//! `./scenarios` when they exist, else the copies built into wfplan, so every command works
//! from any folder. `wfplan init DIR` writes editable copies of the built-in ones.
//!
//! Also how a planner names scenarios on the command line: a file, a folder of files, a
//! scenario's name as runs report it (or its file's stem), or a stored run's id.

use std::path::{Path, PathBuf};

use crate::rules::{RuleProblems, RuleSet};
use crate::scenario::{load_paths, Catalogue, ScenarioProblem, ScenarioSource};

/// The folder of rule scripts used when none is named.
pub const DEFAULT_RULES: &str = "rules";
/// The folder of scenarios used when none is named.
pub const DEFAULT_SCENARIOS: &str = "scenarios";

/// What was loaded, and from where: the folder, or `None` for the built-in copies.
#[derive(Debug)]
pub struct Loaded<T> {
    pub value: T,
    pub folder: Option<PathBuf>,
}

impl<T> Loaded<T> {
    /// A line for the user when the built-in copies were used, naming `what`.
    pub fn notice(&self, what: &str) -> Option<String> {
        self.folder.is_none().then(|| {
            format!(
                "using the {what} built into wfplan (there is no ./{what} folder; \
                 `wfplan init DIR` writes editable copies)"
            )
        })
    }
}

/// The folder to read: the one named (which must then exist), else the default one when
/// it exists, else none (the built-in copies).
fn folder(named: Option<&Path>, default: &str) -> Option<PathBuf> {
    match named {
        Some(path) => Some(path.to_path_buf()),
        None => Some(PathBuf::from(default)).filter(|p| p.is_dir()),
    }
}

/// The rules: `named`, else `./rules`, else the built-in rules.
pub fn load_rules(named: Option<&Path>) -> Result<Loaded<RuleSet>, RuleProblems> {
    let folder = folder(named, DEFAULT_RULES);
    let value = match &folder {
        Some(dir) => RuleSet::load(dir)?,
        None => RuleSet::bundled()?,
    };
    Ok(Loaded { value, folder })
}

/// The scenarios a name may refer to: `named`, else `./scenarios`, else the built-in
/// scenarios; with the files of the folder that could not be read.
pub fn scenario_catalogue(named: Option<&Path>) -> (Loaded<Catalogue>, Vec<ScenarioProblem>) {
    let folder = folder(named, DEFAULT_SCENARIOS);
    let (value, problems) = match &folder {
        Some(dir) => Catalogue::from_folder(dir),
        None => (Catalogue::bundled(), Vec::new()),
    };
    (Loaded { value, folder }, problems)
}

/// How a scenario was named on the command line.
#[derive(Debug, Clone)]
pub enum Named {
    /// Scenario documents (a file, every file of a folder, or a scenario by name).
    Scenarios(Vec<ScenarioSource>),
    /// A stored run, by id.
    Run(i64),
}

/// Reads what the user named: an existing file or folder, else a scenario of the
/// catalogue by name (as runs report it, or its file's stem), else, for a whole number
/// that names no scenario, a stored run's id. `scenarios`, when there is no such folder,
/// is every scenario of the catalogue (the built-in ones when it has no folder). Returns
/// what could be read and every problem (a folder may hold good and bad files).
pub fn named_scenarios(
    name: &str,
    catalogue: &Loaded<Catalogue>,
    allow_runs: bool,
) -> (Named, Vec<ScenarioProblem>) {
    let path = Path::new(name);
    if path.exists() {
        let (sources, problems) = load_paths(&[path.to_path_buf()]);
        return (Named::Scenarios(sources), problems);
    }
    let names: Vec<String> = if catalogue.value.find(name).is_some() {
        vec![name.to_string()]
    } else if name == DEFAULT_SCENARIOS {
        // `scenarios`, the default, is every scenario of the catalogue, wherever it is.
        catalogue.value.iter().map(|(n, _)| n.clone()).collect()
    } else if let Some(run_id) = name.parse::<i64>().ok().filter(|_| allow_runs) {
        return (Named::Run(run_id), Vec::new());
    } else {
        let runs = if allow_runs { ", nor a run id" } else { "" };
        let problem = ScenarioProblem {
            file: name.into(),
            field: String::new(),
            message: format!(
                "no such file or folder, and no scenario of that name{runs}; the scenarios are {}",
                catalogue.value.names()
            ),
        };
        return (Named::Scenarios(Vec::new()), vec![problem]);
    };
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for n in names {
        match catalogue.value.resolve(&n) {
            Ok(s) => sources.push(s),
            Err(p) => problems.push(p),
        }
    }
    (Named::Scenarios(sources), problems)
}

/// Writes editable copies of the built-in rules and scenarios into `dir` (created if
/// needed) as `dir/rules` and `dir/scenarios`. Refuses, changing nothing, if any of the
/// files exists. Returns the files written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let files: Vec<(PathBuf, &str)> = crate::bundled::RULES
        .iter()
        .chain(crate::bundled::SCENARIOS)
        .map(|(path, text)| (dir.join(path), *text))
        .collect();
    let existing: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "{} already exist(s), nothing written: {}",
            existing.len(),
            existing.join(", ")
        ));
    }
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        // `create_new`: a file that appeared since the check above is not overwritten.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// The database's `workforce` table, created from the bundled sample integrated care
/// system when the database has none; the flag says whether it was created now.
pub fn default_workforce(
    store: &mut crate::data::Store,
) -> Result<(crate::model::Workforce, bool), crate::data::DataError> {
    if let Some(workforce) = store.workforce()? {
        return Ok((workforce, false));
    }
    let sample = crate::data::import::read_csv_text(
        "bundled sample workforce.csv",
        crate::data::SAMPLE_WORKFORCE_CSV,
    )?;
    store.replace_workforce(&sample)?;
    Ok((sample, true))
}
