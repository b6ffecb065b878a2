//! Live tests: one test binary whose tests share one throwaway PostgreSQL cluster (primary +
//! streaming standby), started on first use by `common::cluster()`.
//!
//! Add an area with a `mod <area>;` line below and `tests/live/<area>.rs`.

mod common;

mod app;
mod cluster;
mod replication;
mod unused_indexes;
mod vacuum;
mod probe;
mod activity;
mod server;
mod cache;
mod statements;
mod tui;
