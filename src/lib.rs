//! wfplan: a rules-driven workforce planning engine for NHS and care systems.
//!
//! The layers, from the inside out (see ARCHITECTURE.md):
//! - [`model`]: plain domain types, no IO.
//! - [`rules`]: the rhai runtime that runs the model's scripts in `rules/`.
//! - [`engine`]: the month-by-month run of a scenario, and parallel batches. No IO.
//! - [`scenario`]: reading and checking scenario files.
//! - [`data`]: DuckDB and input files.
//! - [`report`]: financial-year summaries, comparisons and their verdicts.
//! - [`app`]: the application layer both front ends call: plans, runs and records.
//! - [`api`]: the REST API (`wfplan serve`).
//! - [`cli`]: the `wfplan` command line.

pub mod api;
pub mod app;
pub mod bundled;
pub mod cli;
pub mod data;
pub mod engine;
pub mod model;
pub mod report;
pub mod rules;
pub mod scenario;
