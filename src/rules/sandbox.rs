//! Limits on rule scripts, which are untrusted input: a rule may be written by any planner
//! and uploaded over the API, so a runaway or hostile script must fail its own scenario with
//! a clear error and never hang a worker or exhaust memory.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::Engine;

/// Largest rule file read, in bytes.
pub const MAX_SCRIPT_BYTES: u64 = 256 * 1024;
/// Operations one script call may take (one month of one rule). The shipped rules take a
/// few hundred; a million leaves room for user rules that loop over cohorts.
pub const MAX_OPERATIONS_PER_CALL: u64 = 1_000_000;
/// Default wall-clock budget for all rule calls of one scenario.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(60);
/// Wall-clock budget for reading an intervention kind's declaration (`fn kind()`), when
/// rules are loaded or a script is checked: a declaration is a literal map, so a second
/// is ample, and a script that loops instead fails rather than holding a core.
pub const DECLARATION_BUDGET: Duration = Duration::from_secs(1);
/// How often, in operations, the deadline is checked.
const DEADLINE_CHECK_EVERY: u64 = 256;

pub fn apply_limits(engine: &mut Engine) {
    engine.set_max_operations(MAX_OPERATIONS_PER_CALL);
    engine.set_max_call_levels(32);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(64 * 1024);
    engine.set_max_array_size(100_000);
    engine.set_max_map_size(10_000);
    engine.set_max_variables(1_000);
    engine.set_max_functions(256);
    engine.set_max_modules(0);
    engine.disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.on_progress(|operations| {
        if operations % DEADLINE_CHECK_EVERY == 0 && deadline_passed() {
            Some("time budget".into())
        } else {
            None
        }
    });
}

thread_local! {
    /// The deadline of the scenario this thread is running. Each rayon worker runs one
    /// scenario at a time, so a thread-local is exactly the scenario's own deadline.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

pub(crate) fn deadline_passed() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|deadline| Instant::now() >= deadline))
}

/// Sets this thread's deadline until dropped.
pub struct DeadlineGuard {
    previous: Option<Instant>,
}

impl DeadlineGuard {
    pub fn start(budget: Duration) -> Self {
        Self::until(Instant::now() + budget)
    }

    /// Sets this thread's deadline to `deadline`: a scenario run in parts on several
    /// threads keeps one deadline for all of them.
    pub fn until(deadline: Instant) -> Self {
        let previous = DEADLINE.with(|d| d.replace(Some(deadline)));
        Self { previous }
    }
}

impl Drop for DeadlineGuard {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.previous));
    }
}
