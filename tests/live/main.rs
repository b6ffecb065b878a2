//! Live tests: one test binary whose tests share one throwaway PostgreSQL cluster (primary +
//! streaming standby), started on first use by `common::cluster()`.
//!
//! Add an area with a `mod <area>;` line below and `tests/live/<area>.rs`.

mod common;

mod activity;
mod activity_delta;
mod app;
mod backoff;
mod cache;
mod cluster;
mod connect;
mod exporter;
mod faults;
mod fleet;
mod forecast;
mod isolation;
mod pgbouncer;
mod privileges;
mod probe;
mod record;
mod replication;
mod search_path;
mod server;
mod statements;
mod tui;
mod unused_indexes;
mod vacuum;
mod waits;
mod wal;
