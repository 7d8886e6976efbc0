//! Work the server does between requests: folding DuckDB's write-ahead log into the
//! database while nothing is being written.
//!
//! DuckDB checkpoints by itself inside whichever commit takes the log past
//! `checkpoint_threshold` (256 MB, `data::store`), and every request waiting on the
//! database waits for it: about a second at segment detail (BENCHMARKS.md). Checkpointing
//! when the server is idle keeps the log short between bursts of runs, so those pauses
//! mostly fall where no one is waiting. Under sustained load the server is never idle and
//! DuckDB's own checkpoint still happens.

use std::sync::{Arc, Weak};

use super::state::AppState;

/// What the last look at the log saw.
#[derive(Debug, Default)]
pub struct IdleCheckpoints {
    last_log_bytes: Option<u64>,
    /// The log's length when a checkpoint last failed: not tried again (nor logged again
    /// every second) until something more is written.
    failed_at: Option<u64>,
}

impl IdleCheckpoints {
    /// Looks at the log once: checkpoints if the log is long enough and nothing was
    /// written since the previous look, no small run is computing or waiting to be
    /// recorded, and no one holds the database. Returns whether it checkpointed.
    pub fn look(&mut self, state: &AppState) -> bool {
        let busy = !state.recorder().is_quiet();
        let Some(store) = state.recorder().try_store().filter(|_| !busy) else {
            self.last_log_bytes = None;
            return false;
        };
        let bytes = store.log_bytes();
        let idle = self.last_log_bytes == Some(bytes);
        self.last_log_bytes = Some(bytes);
        if !idle || bytes < state.limits.checkpoint_log_bytes || self.failed_at == Some(bytes) {
            return false;
        }
        let started = std::time::Instant::now();
        match store.checkpoint() {
            Ok(()) => {
                self.failed_at = None;
                self.last_log_bytes = Some(store.log_bytes());
                tracing::debug!(
                    "checkpointed {bytes} bytes of log in {:?}",
                    started.elapsed()
                );
                true
            }
            Err(e) => {
                self.failed_at = Some(bytes);
                tracing::warn!("idle checkpoint failed (DuckDB will checkpoint later): {e}");
                false
            }
        }
    }
}

/// Looks at the log every `Limits::checkpoint_every` until the server's state is dropped.
pub async fn checkpoint_when_idle(state: Weak<AppState>) {
    let mut checkpoints = IdleCheckpoints::default();
    loop {
        let Some(every) = state.upgrade().map(|s| s.limits.checkpoint_every) else {
            return;
        };
        tokio::time::sleep(every).await;
        let Some(current) = state.upgrade() else {
            return;
        };
        // A checkpoint is blocking IO: off the async runtime.
        let looked = tokio::task::spawn_blocking(move || {
            checkpoints.look(&current);
            checkpoints
        })
        .await;
        match looked {
            Ok(kept) => checkpoints = kept,
            Err(_) => return, // the look panicked; DuckDB's own checkpoints remain
        }
    }
}

/// Starts [`checkpoint_when_idle`] on the current runtime, unless `checkpoint_every` is
/// zero (`serve --idle-checkpoint-ms 0`).
pub fn start(state: &Arc<AppState>) {
    if state.limits.checkpoint_every.is_zero() {
        return;
    }
    tokio::spawn(checkpoint_when_idle(Arc::downgrade(state)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth::ApiKeys;
    use crate::api::state::Limits;
    use crate::api::{open_state, ServeOptions};

    #[test]
    fn a_failed_checkpoint_is_not_retried_until_more_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let state = open_state(&ServeOptions {
            db: dir.path().join("w.duckdb"),
            rules: Some(root.join("rules")),
            scenarios: Some(root.join("scenarios")),
            keys: ApiKeys::default(),
            limits: Limits {
                checkpoint_log_bytes: 1,
                ..Limits::default()
            },
        })
        .unwrap();
        // The sample data was just written: the log is not empty. An open transaction
        // with changes of its own makes DuckDB refuse to checkpoint.
        state
            .store()
            .connection()
            .execute_batch("BEGIN; CREATE TABLE scratch (x INTEGER);")
            .unwrap();
        let mut checkpoints = IdleCheckpoints::default();
        assert!(!checkpoints.look(&state), "first look: notes the log");
        assert!(!checkpoints.look(&state), "the checkpoint fails");
        assert!(checkpoints.failed_at.is_some());
        // The transaction ends (nothing reaches the log), so a checkpoint would now work,
        // but the log is as it was when one failed: not tried again.
        state
            .store()
            .connection()
            .execute_batch("ROLLBACK;")
            .unwrap();
        assert!(!checkpoints.look(&state), "not tried again");
        state
            .store()
            .connection()
            .execute_batch("CREATE TABLE kept (x INTEGER);")
            .unwrap();
        assert!(!checkpoints.look(&state), "something written: not idle yet");
        assert!(checkpoints.look(&state), "idle again: checkpointed");
        assert_eq!(checkpoints.failed_at, None);
    }
}
