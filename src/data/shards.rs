//! Monte Carlo runs split across machines: each shard runs some of the draws and writes
//! them as Parquet files with a manifest; merging the shards records one run, figure for
//! figure the run one process would have made.
//!
//! A shard's files, for shard I of N of scenario S:
//! - `S.shard-I-of-N.results.parquet`: `scenario, draw, month, row, <keys>, <figures>`,
//!   the rows as the `results` view has them (`row` numbers a draw's groups apart from
//!   every other draw's, so shards never collide);
//! - `S.shard-I-of-N.draws.parquet`: `draw, entry, what, per_value, value`;
//! - `S.shard-I-of-N.json`: the [`ShardManifest`], which says what was run on what.
//!
//! Any DuckDB reads the Parquet files as they are (`SELECT ... FROM
//! 'S.shard-*.results.parquet'`); `wfplan merge` checks that the shards are one run's and
//! all there, and records them as one run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::results_tables::results_relation;
use super::runs::RunRecord;
use super::sql::{quote, sql_text};
use super::{DataError, Store};
use crate::model::results::METRICS;
use crate::model::RunStatus;

/// What a shard ran: enough to check shards belong together and to record the merged run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// The run as it would be recorded (its random draws and seed are the whole run's);
    /// the merged run is recorded with these.
    #[serde(flatten)]
    pub run: RunRecord,
    /// This shard (from 0) of `shards`, and the draws it ran.
    pub shard: usize,
    pub shards: usize,
    pub first_draw: u64,
    pub end_draw: u64,
    /// Key columns of the results' rows.
    pub key_names: Vec<String>,
    /// File names, beside the manifest.
    pub results_file: String,
    pub draws_file: String,
    /// How long the shard's draws took to run, in milliseconds.
    pub duration_ms: f64,
}

/// The draws shard `shard` of `shards` runs: consecutive ranges, the first shards taking
/// one more draw when they do not divide evenly.
pub fn shard_draws(draws: u64, shard: usize, shards: usize) -> std::ops::Range<u64> {
    let total = draws + 1;
    let (shard, shards) = (shard as u64, shards as u64);
    (total * shard / shards)..(total * (shard + 1) / shards)
}

/// Reads `I/N` (shard I from 0 of N shards), as Kubernetes numbers an indexed job's pods.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let parse = |t: &str| t.trim().parse::<usize>().ok();
    match text.split_once('/').map(|(i, n)| (parse(i), parse(n))) {
        Some((Some(i), Some(n))) if n >= 1 && i < n => Ok((i, n)),
        _ => Err(format!(
            "'{text}' is not a shard: give I/N with 0 <= I < N, for example 0/3"
        )),
    }
}

impl ShardManifest {
    /// The stem of this shard's files.
    pub fn stem(scenario: &str, shard: usize, shards: usize) -> String {
        let safe: String = scenario
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}.shard-{shard}-of-{shards}")
    }
}

/// Writes a run stored in `store` (a shard's draws) as a shard's files in `folder`, and
/// returns the manifest's path.
pub fn write_shard(
    store: &Store,
    run_id: i64,
    folder: &Path,
    mut manifest: ShardManifest,
) -> Result<PathBuf, DataError> {
    std::fs::create_dir_all(folder).map_err(|e| DataError::file(folder.display(), e))?;
    let stem = ShardManifest::stem(&manifest.run.scenario, manifest.shard, manifest.shards);
    manifest.results_file = format!("{stem}.results.parquet");
    manifest.draws_file = format!("{stem}.draws.parquet");
    let keys: String = manifest
        .key_names
        .iter()
        .map(|k| format!(", {}", quote(k)))
        .collect();
    let metrics: String = METRICS.iter().map(|m| format!(", {m}")).collect();
    let path = |name: &str| sql_text(&folder.join(name).display().to_string());
    store.connection().execute(
        &format!(
            "COPY (SELECT scenario, draw, month, row{keys}{metrics} FROM {} AS results
                   WHERE run_id = ? ORDER BY draw, month, row)
             TO {} (FORMAT PARQUET)",
            results_relation(&manifest.key_names),
            path(&manifest.results_file)
        ),
        [run_id],
    )?;
    store.connection().execute(
        &format!(
            "COPY (SELECT draw, entry, what, per_value, value FROM draws
                   WHERE run_id = ? ORDER BY draw, entry, rowid)
             TO {} (FORMAT PARQUET)",
            path(&manifest.draws_file)
        ),
        [run_id],
    )?;
    let manifest_path = folder.join(format!("{stem}.json"));
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest is plain data");
    std::fs::write(&manifest_path, text)
        .map_err(|e| DataError::file(manifest_path.display(), e))?;
    Ok(manifest_path)
}

/// The manifests among `paths`: shard manifests (`*.shard-I-of-N.json`) given by name, or
/// found in the folders given.
pub fn find_manifests(paths: &[PathBuf]) -> Result<Vec<(PathBuf, ShardManifest)>, DataError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries =
                std::fs::read_dir(path).map_err(|e| DataError::file(path.display(), e))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.contains(".shard-") && n.ends_with(".json"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|file| {
            let text =
                std::fs::read_to_string(&file).map_err(|e| DataError::file(file.display(), e))?;
            let manifest: ShardManifest = serde_json::from_str(&text).map_err(|e| {
                DataError::file(file.display(), format!("not a shard manifest: {e}"))
            })?;
            Ok((file, manifest))
        })
        .collect()
}

/// Checks that shards are every shard of one run, once each: the same scenario, rules,
/// data, draws and seed, and draws that together are draw 0 to the last.
pub fn check_shards(shards: &[(PathBuf, ShardManifest)]) -> Result<(), String> {
    let Some((first_path, first)) = shards.first() else {
        return Err("no shard manifests (*.shard-I-of-N.json) found".into());
    };
    for (path, m) in shards {
        let (r, f) = (&m.run, &first.run);
        let same = r.scenario_hash == f.scenario_hash
            && r.rules_hash == f.rules_hash
            && r.data_hash == f.data_hash
            && r.draws == f.draws
            && r.seed == f.seed
            && r.detail == f.detail
            && m.shards == first.shards;
        if !same {
            return Err(format!(
                "{} is not a shard of the run of {}: its scenario, rules, data, draws, seed, shard count or detail differ",
                path.display(),
                first_path.display()
            ));
        }
    }
    let mut seen = vec![false; first.shards];
    for (path, m) in shards {
        if std::mem::replace(&mut seen[m.shard], true) {
            return Err(format!(
                "shard {} is given twice ({})",
                m.shard,
                path.display()
            ));
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} of {} are missing: a merged run needs every shard",
            missing.join(", "),
            first.shards
        ));
    }
    Ok(())
}

impl Store {
    /// Records checked shards as one succeeded run, with their results and draws, in one
    /// transaction, and returns its run id.
    pub fn merge_shards(&mut self, shards: &[(PathBuf, ShardManifest)]) -> Result<i64, DataError> {
        let first = &shards[0].1;
        let record = RunRecord {
            batch_id: self.new_batch()?,
            ..first.run.clone()
        };
        self.result_tables
            .ensure(&self.connection, &first.key_names)?;
        let run_id = self.begin_runs(std::slice::from_ref(&record))?[0];
        let files = |name: fn(&ShardManifest) -> &String| -> String {
            let list: Vec<String> = shards
                .iter()
                .map(|(path, m)| {
                    let folder = path.parent().unwrap_or(Path::new("."));
                    sql_text(&folder.join(name(m)).display().to_string())
                })
                .collect();
            format!("[{}]", list.join(", "))
        };
        let results = files(|m| &m.results_file);
        let keys_map = if first.key_names.is_empty() {
            "CAST(MAP() AS MAP(VARCHAR, VARCHAR))".to_string()
        } else {
            let names: Vec<String> = first
                .key_names
                .iter()
                .map(|k| sql_text(&k.trim().to_lowercase()))
                .collect();
            let values: Vec<String> = first
                .key_names
                .iter()
                .map(|k| format!("CAST({} AS VARCHAR)", quote(k)))
                .collect();
            format!("MAP([{}], [{}])", names.join(", "), values.join(", "))
        };
        let metrics: String = METRICS.iter().map(|m| format!(", {m}")).collect();
        let duration: f64 = shards.iter().map(|(_, m)| m.duration_ms).sum();
        let transaction = self.connection.transaction()?;
        transaction.execute(
            &format!(
                "INSERT INTO result_rows (run_id, row, scenario, keys, draw)
                 SELECT DISTINCT ?, row, scenario, {keys_map}, draw FROM read_parquet({results})"
            ),
            [run_id],
        )?;
        transaction.execute(
            &format!(
                "INSERT INTO result_figures (run_id, row, month{metrics})
                 SELECT ?, row, CAST(month || '-01' AS DATE){metrics} FROM read_parquet({results})"
            ),
            [run_id],
        )?;
        transaction.execute(
            &format!(
                "INSERT INTO draws (run_id, draw, entry, what, per_value, value)
                 SELECT ?, draw, entry, what, per_value, value
                 FROM read_parquet({}, file_row_number = true)
                 ORDER BY draw, entry, file_row_number",
                files(|m| &m.draws_file)
            ),
            [run_id],
        )?;
        transaction.execute(
            "UPDATE runs SET status = ?, duration_ms = ? WHERE run_id = ?",
            duckdb::params![RunStatus::Succeeded.as_str(), duration, run_id],
        )?;
        transaction.commit()?;
        Ok(run_id)
    }
}
