//! The states of a run: of one scenario run (a row of the `runs` table) and of a batch of
//! them (one `wfplan run`, one API run request, one sweep).
//!
//! A status is decided here, once, from facts (what each scenario run's status is, whether
//! its batch is still under way), and matched exhaustively wherever it is read: never a
//! string compared in several places, and never guessed from the wording of an error.

use std::fmt;
use std::str::FromStr;

/// The state of one scenario run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Recorded before it started; still computing (or interrupted, until the database
    /// is next opened and marks it failed).
    Running,
    /// Its results are stored.
    Succeeded,
    /// It failed: a rule error, a runaway rule, a write that failed, or an interruption.
    /// The run's `error` says which.
    Failed,
    /// Someone cancelled its batch before it ran.
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    /// The word stored in the `runs` table and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("'{text}' is not a run status"))
    }
}

/// The state of a batch of scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    /// Its thread is still running it, or some of its runs are still running.
    Running,
    /// Every run succeeded.
    Succeeded,
    /// Every run failed.
    Failed,
    /// Some runs succeeded and some failed.
    PartlyFailed,
    /// Someone cancelled it: the runs it had not started are `cancelled`.
    Cancelled,
}

impl BatchStatus {
    /// The batch's state from its runs' states and whether its thread is still at work.
    pub fn of(runs: impl IntoIterator<Item = RunStatus>, under_way: bool) -> BatchStatus {
        let (mut succeeded, mut failed, mut running, mut cancelled) = (0, 0, 0, 0);
        for status in runs {
            match status {
                RunStatus::Running => running += 1,
                RunStatus::Succeeded => succeeded += 1,
                RunStatus::Failed => failed += 1,
                RunStatus::Cancelled => cancelled += 1,
            }
        }
        if under_way || running > 0 {
            BatchStatus::Running
        } else if cancelled > 0 {
            BatchStatus::Cancelled
        } else if failed == 0 {
            BatchStatus::Succeeded
        } else if succeeded == 0 {
            BatchStatus::Failed
        } else {
            BatchStatus::PartlyFailed
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Running => "running",
            BatchStatus::Succeeded => "succeeded",
            BatchStatus::Failed => "failed",
            BatchStatus::PartlyFailed => "partly_failed",
            BatchStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
        }
        assert!("cancelled before it ran".parse::<RunStatus>().is_err());
    }

    #[test]
    fn a_batch_is_cancelled_only_when_a_run_was_cancelled() {
        use RunStatus::*;
        assert_eq!(
            BatchStatus::of([Succeeded, Failed], false),
            BatchStatus::PartlyFailed
        );
        assert_eq!(
            BatchStatus::of([Failed, Failed], false),
            BatchStatus::Failed
        );
        assert_eq!(BatchStatus::of([Succeeded], false), BatchStatus::Succeeded);
        assert_eq!(
            BatchStatus::of([Succeeded, Cancelled], false),
            BatchStatus::Cancelled
        );
        assert_eq!(BatchStatus::of([Succeeded], true), BatchStatus::Running);
        assert_eq!(
            BatchStatus::of([Running, Failed], false),
            BatchStatus::Running
        );
    }
}
