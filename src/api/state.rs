//! What the server holds: the database, the compiled rules, the scenarios, the datasets
//! already read, and the background runs under way.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use super::error::ApiError;
use crate::data::datasets::DEFAULT_DATASET;
use crate::data::store::RunRecord;
use crate::data::Store;
use crate::model::{RunResults, Workforce};
use crate::rules::RuleSet;

/// Bounds that keep one client from taking the server down.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (datasets are uploaded whole).
    pub max_body_bytes: usize,
    /// Most scenario runs one request may expand to through a sweep.
    pub max_runs_per_request: usize,
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            max_runs_per_request: 1_000,
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
        }
    }
}

/// Where a scenario came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A file in the scenarios folder, unchanged.
    File,
    /// Created or replaced through the API (kept in the database).
    Api,
}

/// A scenario document as it was written (before `extends` is resolved).
#[derive(Debug, Clone)]
pub struct StoredScenario {
    pub document: Map<String, Value>,
    pub origin: Origin,
    /// The file's stem, which `extends` may also use (`faculty_plan` for `faculty-plan`).
    pub file_stem: Option<String>,
}

/// A background batch's progress, shared with the thread running it.
#[derive(Debug, Default)]
pub struct Job {
    pub done: AtomicUsize,
    pub cancel: AtomicBool,
}

impl Job {
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A small run that has finished and waits to be recorded, with where to send its
/// `(batch id, run id)`.
pub struct FinishedRun {
    pub record: RunRecord,
    pub result: Result<RunResults, String>,
    pub elapsed: std::time::Duration,
    pub reply: std::sync::mpsc::Sender<Result<(i64, i64), String>>,
}

/// Everything the handlers share.
pub struct AppState {
    store: Mutex<Store>,
    pub rules: Arc<RuleSet>,
    pub scenarios: Mutex<BTreeMap<String, StoredScenario>>,
    datasets: Mutex<HashMap<String, Arc<Workforce>>>,
    pub jobs: Mutex<HashMap<i64, Arc<Job>>>,
    /// Small runs waiting to be recorded: whoever next holds the database records them
    /// all in one transaction (a group commit), so concurrent requests share a commit.
    pub finished: Mutex<Vec<FinishedRun>>,
    /// Signalled when a small run stops computing (it has joined `finished`, or failed).
    pub finished_changed: Condvar,
    /// Small runs whose rules are still computing: the runs a commit may wait for.
    pub computing: AtomicUsize,
    pub sync_slots: Arc<Semaphore>,
    pub background_slots: Arc<Semaphore>,
    pub limits: Limits,
}

impl AppState {
    pub fn new(
        store: Store,
        rules: RuleSet,
        scenarios: BTreeMap<String, StoredScenario>,
        limits: Limits,
    ) -> AppState {
        AppState {
            store: Mutex::new(store),
            rules: Arc::new(rules),
            scenarios: Mutex::new(scenarios),
            datasets: Mutex::new(HashMap::new()),
            jobs: Mutex::new(HashMap::new()),
            finished: Mutex::new(Vec::new()),
            finished_changed: Condvar::new(),
            computing: AtomicUsize::new(0),
            sync_slots: Arc::new(Semaphore::new(limits.sync_slots)),
            background_slots: Arc::new(Semaphore::new(limits.background_slots)),
            limits,
        }
    }

    /// The database. Held only for one statement or transaction at a time.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave DuckDB half-written (its own
        // transactions roll back), so a poisoned lock is still safe to use.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The database if no one holds it now.
    pub fn try_store(&self) -> Option<MutexGuard<'_, Store>> {
        match self.store.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
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

    /// The key columns scenarios are checked against when saved: the default dataset's.
    pub fn default_keys(&self) -> Result<Vec<String>, ApiError> {
        Ok(self.workforce(DEFAULT_DATASET)?.key_names.clone())
    }
}

/// Locks a mutex that no code path leaves inconsistent on panic.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
