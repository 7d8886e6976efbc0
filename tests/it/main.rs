//! wfplan's integration tests: one binary with a module per concern.

mod common;
mod kinds;
mod properties;
mod sandbox;
mod cli;
mod golden;
mod peer;
