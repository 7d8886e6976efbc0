//! The one place runs are recorded: the database shared between threads, and the two ways
//! of committing finished runs.
//!
//! - **Batches** (`wfplan run`, background API runs): every run of a batch is recorded as
//!   `running` first; finished runs are then stored a group at a time ([`BatchWriter`]),
//!   one transaction per group, because a commit costs far more than appending the rows.
//! - **Small runs** (synchronous API runs): a run is recorded only when it has finished,
//!   with its results, and runs finishing together share one commit (a group commit,
//!   [`Recorder::record_small`]): whoever next holds the database records every small run
//!   waiting.
//!
//! Either way a run's results and its `succeeded` status are committed together, and a
//! failure to record anything is returned to the caller, never dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::runs::RunRecord;
use super::{DataError, Store};
use crate::model::{RunResults, RunStatus};

/// The database and the runs waiting to be recorded in it.
pub struct Recorder {
    store: Mutex<Store>,
    /// Small runs waiting to be recorded.
    finished: Mutex<Vec<WaitingRun>>,
    /// Signalled when a small run stops computing (it has joined `finished`, or failed).
    finished_changed: Condvar,
    /// Small runs whose rules are still computing: the runs a commit may wait for.
    computing: AtomicUsize,
    /// How long a finished small run may wait for others still computing.
    group_wait: Duration,
}

/// A small run that has finished and waits to be recorded, with where to send its
/// `(batch id, run id)`.
struct WaitingRun {
    record: RunRecord,
    result: Result<RunResults, String>,
    elapsed: Duration,
    reply: std::sync::mpsc::Sender<Result<(i64, i64), String>>,
}

/// Counts a small run as computing until it is dropped, which wakes a commit waiting
/// for it (also when the run panics).
pub struct Computing<'a>(&'a Recorder);

impl Drop for Computing<'_> {
    fn drop(&mut self) {
        self.0.computing.fetch_sub(1, Ordering::AcqRel);
        // Taken so that a commit between its check and its wait cannot miss the signal.
        let _finished = lock(&self.0.finished);
        self.0.finished_changed.notify_all();
    }
}

impl Recorder {
    /// A recorder over an open database. `group_wait` is how long a finished small run
    /// may wait for others still computing, to share their commit (zero: never waits).
    pub fn new(store: Store, group_wait: Duration) -> Recorder {
        Recorder {
            store: Mutex::new(store),
            finished: Mutex::new(Vec::new()),
            finished_changed: Condvar::new(),
            computing: AtomicUsize::new(0),
            group_wait,
        }
    }

    /// The database. Hold it only for one statement or transaction at a time.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave DuckDB half-written (its own
        // transactions roll back), so a poisoned lock is still safe to use.
        lock(&self.store)
    }

    /// The database if no one holds it now.
    pub fn try_store(&self) -> Option<MutexGuard<'_, Store>> {
        match self.store.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// True when no small run is computing or waiting to be recorded.
    pub fn is_quiet(&self) -> bool {
        self.computing.load(Ordering::Acquire) == 0 && lock(&self.finished).is_empty()
    }

    /// Counts a small run as computing, so that commits of runs finishing meanwhile may
    /// wait for it. Pass the guard to [`Recorder::record_small`] when it finishes.
    pub fn start_computing(&self) -> Computing<'_> {
        self.computing.fetch_add(1, Ordering::AcqRel);
        Computing(self)
    }

    /// Records a small run that has finished, with its results or its error, in a group
    /// commit; returns its `(batch id, run id)` once committed, so an answered run
    /// survives a crash. While other small runs are still computing, the run first waits
    /// for them up to the group wait, without holding the database: a commit costs much
    /// the same for one run as for several.
    pub fn record_small(
        &self,
        computing: Computing<'_>,
        record: RunRecord,
        result: Result<RunResults, String>,
        elapsed: Duration,
    ) -> Result<(i64, i64), String> {
        let (reply, ids) = std::sync::mpsc::channel();
        lock(&self.finished).push(WaitingRun {
            record,
            result,
            elapsed,
            reply,
        });
        drop(computing);
        self.commit_waiting();
        ids.recv()
            .map_err(|e| format!("the run was not recorded: {e}"))?
            .map_err(|e| format!("the run could not be stored: {e}"))
    }

    /// Records every small run waiting, in one transaction. The caller's own run was
    /// queued before it asked for the database, so whoever holds the database next
    /// records it.
    fn commit_waiting(&self) {
        if !self.wait_for_group() {
            return;
        }
        let mut store = self.store();
        let waiting = std::mem::take(&mut *lock(&self.finished));
        if waiting.is_empty() {
            // Another request's commit took this one's run while it waited for the database.
            return;
        }
        let runs: Vec<_> = waiting
            .iter()
            .map(|w| {
                (
                    w.record.clone(),
                    w.result.as_ref().map_err(String::as_str),
                    w.elapsed,
                )
            })
            .collect();
        let clock = Instant::now();
        let recorded = store.record_finished_runs(&runs);
        drop(store);
        tracing::debug!("recorded {} runs in {:?}", runs.len(), clock.elapsed());
        match recorded {
            Ok(ids) => {
                for (w, id) in waiting.iter().zip(ids) {
                    // The receiver is gone only if its request was dropped; its run is
                    // recorded all the same.
                    let _ = w.reply.send(Ok(id));
                }
            }
            Err(e) => {
                for w in &waiting {
                    let _ = w.reply.send(Err(e.to_string()));
                }
            }
        }
    }

    /// Waits until no other small run is computing or the group wait has passed; false
    /// when another request's commit has meanwhile taken every finished run, this one's
    /// included.
    fn wait_for_group(&self) -> bool {
        let deadline = Instant::now() + self.group_wait;
        let mut finished = lock(&self.finished);
        loop {
            if finished.is_empty() {
                return false;
            }
            let now = Instant::now();
            if self.computing.load(Ordering::Acquire) == 0 || now >= deadline {
                return true;
            }
            finished = self
                .finished_changed
                .wait_timeout(finished, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Records a batch's runs as `running` under a new batch id; `records` builds them
    /// from that id. Returns the batch id and the runs' ids, in order.
    pub fn begin_batch(
        &self,
        records: impl FnOnce(i64) -> Vec<RunRecord>,
    ) -> Result<(i64, Vec<i64>), DataError> {
        let mut store = self.store();
        let batch_id = store.new_batch()?;
        let ids = store.begin_runs(&records(batch_id))?;
        Ok((batch_id, ids))
    }

    /// A writer for the finished runs of a batch begun with [`Recorder::begin_batch`].
    pub fn batch_writer(&self) -> BatchWriter<'_> {
        BatchWriter {
            recorder: self,
            pending: Vec::new(),
            rows: 0,
            since: Instant::now(),
        }
    }

    /// Gives the runs of a batch not yet finished their final status: `cancelled` when
    /// someone cancelled it, otherwise `failed` with `reason`.
    pub fn close_batch(
        &self,
        batch_id: i64,
        cancelled: bool,
        reason: &str,
    ) -> Result<usize, DataError> {
        let store = self.store();
        if cancelled {
            store.close_unfinished(batch_id, RunStatus::Cancelled, None)
        } else {
            store.close_unfinished(batch_id, RunStatus::Failed, Some(reason))
        }
    }
}

/// Stores the finished runs of a batch a group at a time: after enough rows, enough runs
/// or a second, whichever comes first.
pub struct BatchWriter<'a> {
    recorder: &'a Recorder,
    /// Results to store, with the run's duration when they finish it (a block of a Monte
    /// Carlo run's draws has none).
    pending: Vec<(i64, RunResults, Option<Duration>)>,
    rows: usize,
    since: Instant,
}

impl BatchWriter<'_> {
    const MAX_RUNS: usize = 64;
    const MAX_ROWS: usize = 200_000;
    const MAX_WAIT: Duration = Duration::from_secs(1);

    /// Adds a run that succeeded, storing the group if it is due.
    pub fn succeeded(
        &mut self,
        run_id: i64,
        results: RunResults,
        elapsed: Duration,
    ) -> Result<(), DataError> {
        self.add(run_id, results, Some(elapsed))
    }

    /// Adds a block of a Monte Carlo run's draws, stored with the next group; the run is
    /// finished by [`succeeded`](Self::succeeded) once its last block is in.
    pub fn block(&mut self, run_id: i64, results: RunResults) -> Result<(), DataError> {
        self.add(run_id, results, None)
    }

    fn add(
        &mut self,
        run_id: i64,
        results: RunResults,
        elapsed: Option<Duration>,
    ) -> Result<(), DataError> {
        self.rows += results.months * results.rows.len();
        self.pending.push((run_id, results, elapsed));
        if self.pending.len() >= Self::MAX_RUNS
            || self.rows >= Self::MAX_ROWS
            || self.since.elapsed() >= Self::MAX_WAIT
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Records a run that failed, at once.
    pub fn failed(&mut self, run_id: i64, error: &str, elapsed: Duration) -> Result<(), DataError> {
        // Blocks of the run still waiting are not stored.
        self.pending.retain(|(id, _, _)| *id != run_id);
        self.recorder.store().fail_run(run_id, error, elapsed)
    }

    /// Stores a Monte Carlo run's drawn values at once.
    pub fn draws(
        &mut self,
        run_id: i64,
        values: &[crate::engine::monte_carlo::DrawnValue],
    ) -> Result<(), DataError> {
        self.recorder.store().record_draws(run_id, values)
    }

    /// Stores every run waiting. On error the group is dropped: its runs stay `running`
    /// until the batch is closed ([`Recorder::close_batch`]) or the database is next
    /// opened, either of which marks them failed.
    pub fn flush(&mut self) -> Result<(), DataError> {
        let runs = std::mem::take(&mut self.pending);
        self.rows = 0;
        self.since = Instant::now();
        if runs.is_empty() {
            return Ok(());
        }
        let finished: Vec<(i64, &RunResults, Option<Duration>)> =
            runs.iter().map(|(id, r, e)| (*id, r, *e)).collect();
        let clock = Instant::now();
        self.recorder.store().finish_runs(&finished)?;
        tracing::debug!("stored {} runs in {:?}", finished.len(), clock.elapsed());
        Ok(())
    }
}

/// Locks a mutex that no code path leaves inconsistent on panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
