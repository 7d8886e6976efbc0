//! The application layer: what a run is, how it is checked, carried out, recorded and
//! compared, once, for both front ends.
//!
//! `cli.rs` and `api/` are adapters: they parse their input, call this layer and present
//! what it returns. Neither plans, records or judges runs itself.
//!
//! - [`plan`]: a [`RunPlan`] made from the rules, a workforce, scenario documents, a level
//!   of detail and a dataset, with every input checked before any work starts.
//! - [`execute`]: running a plan as a batch recorded as it goes, or as a small run
//!   recorded when it finishes (both through [`crate::data::Recorder`]).
//! - [`compare`]: setting scenarios or stored runs against a baseline.
//! - [`attribution`]: what each of a scenario's interventions contributes to a change.
//! - [`seek`]: the smallest value of a field at which a metric reaches a target.
//! - [`trace`]: every quantity behind a figure of one segment and month.
//! - [`project`]: where the rules and scenarios come from (a folder or the built-in
//!   copies), naming scenarios, and `wfplan init`.

pub mod attribution;
pub mod backtest;
pub mod calibrate;
pub mod compare;
pub mod execute;
pub mod plan;
pub mod project;
pub mod seek;
pub mod trace;

pub use plan::{PlanError, RunPlan, RunRequest};
