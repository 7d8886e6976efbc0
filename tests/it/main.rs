//! wfplan's integration tests: one binary with a module per concern.

mod cli;
mod common;
mod golden;
mod kinds;
mod peer;
mod properties;
mod sandbox;
