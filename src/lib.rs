//! pgvitals: a terminal dashboard for the health of PostgreSQL servers.
//!
//! The data flows one way, through these modules in order:
//!
//! ```text
//! queries/*.sql ─► collect::<area> ─► Update{server, area, sample | error} ─(channel)─►
//! model::Store ─► model::rates ─► model::alerts ─► tui::panels::<area>  (and model::snapshot → JSON)
//! ```
//!
//! * [`conninfo`]: CONNINFO strings (URI or keyword/value), libpq environment variables and
//!   the password file, into a connection config with a redacted display.
//! * [`config`]: the TOML config file: intervals and alert thresholds.
//! * [`queries`]: the embedded SQL and the choice of variant per server / extension version.
//! * [`collect`]: connections, the server probe, one polling worker per server and area.
//! * [`sample`]: the typed samples the collectors send.
//! * [`model`]: the only place samples become state: rates, history, alerts (one module per
//!   area, about typed subjects), the lock tree, snapshot JSON.
//! * [`text`]: server text made safe for a terminal (the screen and stderr).
//! * [`tui`]: the ratatui front-end; it reads the model and never touches a connection.
//! * [`app`]: the wiring of sessions, workers and store, shared by the commands and tests.
//! * [`cluster`]: throwaway PostgreSQL clusters (primary + standby) for tests and the demo.
//! * [`demo`]: `pgvitals demo`, a cluster with a bounded workload and the dashboard on it.
//! * [`fault`]: the `PGVITALS_FAULT` testing hook (injected panics in a collector or a frame).
//! * [`files`]: reading the files pgvitals is pointed at: regular files only, size-capped.
//!
//! Dependency rule: `collect` → `sample`; `model` → `sample`; `tui` → `model`.

pub mod app;
pub mod cluster;
pub mod collect;
pub mod config;
pub mod conninfo;
pub mod demo;
pub mod fault;
pub mod files;
pub mod model;
pub mod queries;
pub mod sample;
pub mod text;
pub mod tui;
