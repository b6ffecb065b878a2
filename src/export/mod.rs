//! What outgrows one terminal: the Prometheus text exposition of a [`Store`] ([`metrics`])
//! and a Prometheus alerting-rules file from the configured thresholds ([`rules`]).
//!
//! Both read the model only; `pgvitals serve` ([`crate::serve`]) wires them to the workers
//! and an HTTP listener. A scrape renders the latest samples: it never triggers a poll.

pub mod metrics;
pub mod rules;

pub use metrics::{Format, MetricsOptions, render};
pub use rules::rules_file;
