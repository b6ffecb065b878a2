//! pgvitals: a terminal dashboard for the health of PostgreSQL servers.
//!
//! The data flows one way, through these modules in order:
//!
//! ```text
//! queries/*.sql ─► collect::areas::<area> ─► Update{server, area, sample | error} ─(channel)─►
//! model::Store ─► model::areas::<area> (rates, alert rules, sparklines, JSON) ─►
//! tui::panels::<area>   (and model::snapshot → the JSON of `pgvitals snapshot`)
//! ```
//!
//! The floors, from the bottom; a module imports only modules on its floor's left or below
//! (`tests/layers.rs` checks this table and that no two files import each other in a
//! circle):
//!
//! | floor | modules | what |
//! |---|---|---|
//! | 0 | [`sample`], [`text`], [`files`], [`fault`] | what every layer speaks: [`sample::Area`] (the one registry of per-area facts), the sample types, [`sample::Update`] / [`sample::Command`], [`sample::ServerFacts`], [`sample::CollectError`]; the sanitizer; capped file reads; the fault hook |
//! | 1 | [`config`], [`conninfo`], [`queries`] | the config file; CONNINFO as libpq reads it, TLS, the connector; the embedded SQL (typed names) |
//! | 2 | [`collect`] | connections ([`collect::pool`]), the per-area collectors ([`collect::areas`]), the polling workers ([`collect::worker`]), cancel/terminate ([`collect::actions`]) |
//! | 2 | [`model`] | the only place samples become state: per-area rates, rules, sparkline points and JSON ([`model::areas`]), alerts with typed subjects, the lock tree, history, snapshot |
//! | 3 | [`tui`] | the screen: reads the model, never touches a connection; per-area panels in [`tui::panels`] |
//! | 3 | [`export`] | what outgrows one terminal: the Prometheus exposition of a store, the alerting-rules file of the thresholds |
//! | 3 | [`record`] | the flight recorder: the update stream into an SQLite file, read back into a store at any moment, the incident report |
//! | 4 | [`app`] | the wiring of sessions, workers, store and recorder (the recorder's thread, the replay's timeline), shared by the commands and tests |
//! | 5 | [`serve`] | `pgvitals serve`: the workers headless, their store behind an HTTP listener (`/metrics`, `/healthz`) |
//! | — | [`fetch`], [`cluster`], [`demo`] | PostgreSQL fetched for a machine without it; throwaway clusters for tests and `pgvitals demo` |
//!
//! Dependency rule: `collect`, `model`, `tui` and `record` import `sample`; `tui` and
//! `record` import `model`; `tui`, `record` and `model` never import `collect`; `tui` and
//! `record` never import each other (the replay reads a recording through
//! [`tui::replay::Timeline`], which `app` implements); `export` reads `model` only, like
//! `tui`; nothing imports upward.
//!
//! # What a poll may cost
//!
//! The server pays for every query, so the collectors follow four rules (measured by
//! `cargo bench --bench cost` at two scales, up to 50,000 indexes, 10,000 statements and
//! 2,000 sessions):
//!
//! * **Bounded results.** A list that grows with the catalog is a top-N (`top_n`, default
//!   [`sample::DEFAULT_TOP_N`]) with totals beside it; ranking uses what costs nothing to
//!   read (`pg_class.relpages`, the statistics functions), exact measurements (sizes) only
//!   for the rows kept. The snapshot JSON lists the sessions that matter, not every idle one.
//! * **Only what changed.** Activity sends in full only the sessions that changed since the
//!   last poll ([`collect::areas::activity`]); texts of pg_stat_statements are fetched once
//!   per entry.
//! * **Slow things on slow timers, paced by their cost.** Whole-catalog reads whose values
//!   move slowly run once a minute (database sizes every 5) and are carried forward; an area slower than the interval
//!   by choice waits [`collect::COST_FACTOR`] times its last poll, a carried-forward catalog
//!   read [`collect::CATALOG_COST_FACTOR`] times its own duration ([`collect::paced`],
//!   [`collect::paced_catalog`]).
//! * **Back off after a timeout** ([`collect::worker`]), and never queue two polls of an area.
//! * **Samplers are paced too.** The wait profile's sampler (the `waits` area,
//!   [`sample::Cadence::Sampler`]) runs every [`sample::WAITS_PERIOD`] only while a sample
//!   is cheap, else every [`collect::COST_FACTOR`] times its own server time (the round
//!   trip left out), and at least every [`collect::SAMPLER_MAX_PERIOD`]
//!   ([`collect::paced_sampler`]); what it samples is grouped on the server, at most
//!   [`sample::WAITS_MAX_ROWS`] rows. Every activity sample also makes the waits sample of
//!   its instant at no server cost, and the sampler queries only between two activity polls
//!   ([`collect::worker::WaitsFromActivity`]). Its samples alone draw no frame: the screen
//!   shows them with the next poll's.
//!
//! # Add an area
//!
//! Each layer has one place that lists the areas (an exhaustive `match`, never a wildcard
//! arm: the compiler names every place a new area must be decided), and one module per area.
//! In order (the WAL area was added exactly like this, in these eight source files and its
//! query files; the waits area, which has no tab, the same way, its panel module holding
//! what the statements and activity panels show of it):
//!
//! 1. `queries/<area>.pg<N>.sql`, one file per version range (the name becomes
//!    [`queries::ServerQuery`]`::<Area>`); column aliases are the sample's field names.
//! 2. `src/sample/samples.rs`: the sample struct (fields = SQL aliases = JSON keys; derived
//!    fields marked *derived*; in a row type a sample holds thousands of, optional numbers
//!    as [`sample::OptF64`] / [`sample::OptI64`], rates as [`sample::OptF32`]).
//! 3. `src/sample/area.rs`: the [`sample::Area`] variant and its facts (key, title, cadence,
//!    whether its derived fields need the previous sample, first PostgreSQL major, privilege
//!    gap), the [`sample::Sample`] variant, and its alert [`sample::Rule`]s (name, area,
//!    unit, default thresholds).
//! 4. `src/collect/areas/<area>.rs`: the collector; `src/collect/areas/mod.rs`: its two
//!    [`collect::areas::AnyCollector`] arms.
//! 5. `src/model/areas/<area>.rs`: derived fields, alert rules, sparkline series;
//!    `src/model/areas/mod.rs`: its arms in `derive`, `evaluate`, `history_points`,
//!    `sample_json`.
//! 6. `src/tui/panels/<area>.rs`: the panel; `src/tui/panels/mod.rs`: its arms (panel, sort
//!    columns, rows, detail). The tab, its key, its title and the help follow from the
//!    registry.
//! 7. `tests/live/<area>.rs` (registered in `tests/live/main.rs`), the render test's panel
//!    list in `tests/render.rs`, and the README (panel, keys, rules, JSON keys).

pub mod app;
pub mod cluster;
pub mod collect;
pub mod config;
pub mod conninfo;
pub mod demo;
pub mod export;
pub mod fault;
pub mod fetch;
pub mod files;
pub mod model;
pub mod queries;
pub mod record;
pub mod sample;
pub mod serve;
pub mod text;
pub mod tui;
