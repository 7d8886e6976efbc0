//! What the server holds: the database (behind the recorder that owns how runs are
//! committed), the compiled rules, the scenarios, the datasets already read, and the
//! background runs under way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::app::execute::BatchControl;
use crate::data::{Recorder, Store};
use crate::model::Workforce;
use crate::rules::RuleSet;
use crate::scenario::Catalogue;

/// Bounds that keep one client from taking the server down.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (datasets are uploaded whole).
    pub max_body_bytes: usize,
    /// Most scenario runs one request may expand to through a sweep.
    pub max_runs_per_request: usize,
    /// Most result rows one request may store (`serve --max-result-rows`).
    pub max_result_rows: usize,
    /// Largest run answered synchronously, in segment-months over all its scenarios.
    pub max_sync_segment_months: usize,
    /// Synchronous runs computed at once; more wait up to `queue_wait`, then get 503.
    pub sync_slots: usize,
    /// Background batches at once; more get 429.
    pub background_slots: usize,
    /// How long a synchronous run waits for a free slot.
    pub queue_wait: std::time::Duration,
    /// Wall-clock budget of each scenario's rules.
    pub time_budget: std::time::Duration,
    /// How long a finished small run may wait for others still computing, so that one
    /// commit stores them all: under load a commit costs about as much as a run's
    /// rules, and shared commits leave more of the machine for the rules.
    pub group_wait: std::time::Duration,
    /// How often the server looks at DuckDB's write-ahead log; when nothing was written
    /// since the last look and the log holds at least `checkpoint_log_bytes`, it is
    /// folded into the database then, rather than inside some later request's commit
    /// (`serve --idle-checkpoint-ms`; zero: never).
    pub checkpoint_every: std::time::Duration,
    pub checkpoint_log_bytes: u64,
    /// Results answers sent at once (`serve --result-streams`); more get 503.
    pub result_streams: usize,
    /// DuckDB's memory, in megabytes (`serve --duckdb-memory-mb`): a results answer
    /// that cannot be grouped within it is refused (413).
    pub duckdb_memory_mb: u64,
    /// Most segment-months one attribution or goal seek may run, over all its runs
    /// (`serve --max-analysis-segment-months`): they answer while the client waits.
    pub max_analysis_segment_months: usize,
}

/// 100 million segment-months: every combination of 12 factors (4,096 runs) of a
/// 400-segment system over five years, or 14 runs of a national 50,000 segments over ten;
/// about 6 to 10 seconds of the engine on two cores.
pub const DEFAULT_MAX_ANALYSIS_SEGMENT_MONTHS: usize = 100_000_000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            max_runs_per_request: 1_000,
            max_result_rows: crate::app::plan::DEFAULT_MAX_RESULT_ROWS,
            max_sync_segment_months: 1_000_000,
            // Four per core: a run waits on the database for about as long as it computes,
            // so twice the cores leaves them idle; measured in BENCHMARKS.md.
            sync_slots: std::thread::available_parallelism().map_or(2, |n| n.get()) * 4,
            background_slots: 2,
            queue_wait: std::time::Duration::from_secs(10),
            time_budget: crate::rules::sandbox::DEFAULT_TIME_BUDGET,
            group_wait: std::time::Duration::from_millis(8), // as `serve --group-commit-ms`
            checkpoint_every: std::time::Duration::from_secs(1), // as `serve --idle-checkpoint-ms`
            checkpoint_log_bytes: 16 * 1024 * 1024,
            result_streams: 8,
            duckdb_memory_mb: 2048,
            max_analysis_segment_months: DEFAULT_MAX_ANALYSIS_SEGMENT_MONTHS,
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    /// The database and the runs waiting to be recorded in it.
    recorder: Recorder,
    pub rules: Arc<RuleSet>,
    /// The scenarios runs may name: the scenarios folder's files and those saved through
    /// the API.
    pub scenarios: Mutex<Catalogue>,
    datasets: Mutex<HashMap<String, Arc<Workforce>>>,
    /// The background runs under way, each with its control (cancel, progress).
    pub jobs: Mutex<HashMap<i64, Arc<BatchControl>>>,
    pub sync_slots: Arc<Semaphore>,
    pub background_slots: Arc<Semaphore>,
    pub result_streams: Arc<Semaphore>,
    pub limits: Limits,
}

impl AppState {
    pub fn new(store: Store, rules: RuleSet, scenarios: Catalogue, limits: Limits) -> AppState {
        AppState {
            recorder: Recorder::new(store, limits.group_wait),
            rules: Arc::new(rules),
            scenarios: Mutex::new(scenarios),
            datasets: Mutex::new(HashMap::new()),
            jobs: Mutex::new(HashMap::new()),
            sync_slots: Arc::new(Semaphore::new(limits.sync_slots)),
            background_slots: Arc::new(Semaphore::new(limits.background_slots)),
            result_streams: Arc::new(Semaphore::new(limits.result_streams)),
            limits,
        }
    }

    /// Where runs are recorded.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The database. Held only for one statement or transaction at a time.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.recorder.store()
    }

    /// A dataset's workforce, read once and then kept.
    pub fn workforce(&self, id: &str) -> Result<Arc<Workforce>, ApiError> {
        if let Some(w) = lock(&self.datasets).get(id) {
            return Ok(w.clone());
        }
        let workforce = self.store().dataset(id)?.ok_or_else(|| {
            ApiError::not_found(format!("no dataset '{id}': GET /datasets lists them"))
        })?;
        let workforce = Arc::new(workforce);
        lock(&self.datasets).insert(id.to_string(), workforce.clone());
        Ok(workforce)
    }

    /// Forgets a dataset read earlier (after it is deleted or replaced).
    pub fn forget_dataset(&self, id: &str) {
        lock(&self.datasets).remove(id);
    }
}

/// Locks a mutex that no code path leaves inconsistent on panic.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
