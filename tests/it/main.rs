//! wfplan's integration tests: one binary with a module per concern.

mod allowance_seasons_transfers;
mod api;
mod api_socket;
mod app;
mod attribution;
mod calibrate;
mod cli;
mod common;
mod compiled;
mod data_defects;
mod golden;
mod kinds;
mod monte_carlo;
mod native;
mod peer;
mod properties;
mod sandbox;
mod seek;
mod trace;
