//! The collectors, one module per area: each turns the rows of its queries (`queries/`)
//! into the area's sample type of [`crate::sample`]. [`AnyCollector`] is the one place that
//! lists them (an exhaustive `match` over [`Area`]): a new area is a new module here and an
//! arm in each of its two matches.

pub mod activity;
pub mod cache;
pub mod replication;
pub mod server;
pub mod statements;
pub mod unused_indexes;
pub mod vacuum;
pub mod waits;
pub mod wal;

use super::Ctx;
use crate::sample::{Area, CollectError, Sample};

/// One area's collector, whichever it is, and how long its last poll took.
pub struct AnyCollector {
    inner: Collector,
    /// The time the last [`AnyCollector::collect`] took: its queries on a leased connection
    /// (not the wait for the connection).
    last_took: std::time::Duration,
}

/// The collectors, by area.
enum Collector {
    Server(server::ServerCollector),
    Activity(activity::ActivityCollector),
    Statements(Box<statements::StatementsCollector>),
    Cache(cache::CacheCollector),
    Replication(replication::ReplicationCollector),
    UnusedIndexes(unused_indexes::UnusedIndexesCollector),
    Vacuum(vacuum::VacuumCollector),
    Wal(wal::WalCollector),
    Waits(waits::WaitsCollector),
}

impl AnyCollector {
    /// The collector of `area` with the default settings (`top_n` 50).
    pub fn new(area: Area) -> Self {
        Self::with_top_n(area, crate::sample::DEFAULT_TOP_N)
    }

    /// The collector of `area`; the top-N lists (unused indexes, per-table cache) carry
    /// `top_n` rows.
    pub fn with_top_n(area: Area, top_n: u32) -> Self {
        let inner = match area {
            Area::Server => Collector::Server(server::ServerCollector::new()),
            Area::Activity => Collector::Activity(activity::ActivityCollector::new()),
            Area::Statements => {
                Collector::Statements(Box::new(statements::StatementsCollector::new()))
            }
            Area::Cache => Collector::Cache(cache::CacheCollector::with_top_n(top_n)),
            Area::Replication => Collector::Replication(replication::ReplicationCollector::new()),
            Area::UnusedIndexes => {
                Collector::UnusedIndexes(unused_indexes::UnusedIndexesCollector::with_top_n(top_n))
            }
            Area::Vacuum => Collector::Vacuum(vacuum::VacuumCollector::new()),
            Area::Wal => Collector::Wal(wal::WalCollector::new()),
            Area::Waits => Collector::Waits(waits::WaitsCollector::new()),
        };
        AnyCollector {
            inner,
            last_took: std::time::Duration::ZERO,
        }
    }

    /// How long the last poll took (its queries, not the wait for a connection); for the
    /// wait sampler, the server's time on its query when known (the round trip left out).
    pub fn last_took(&self) -> std::time::Duration {
        match &self.inner {
            Collector::Waits(c) => c.server_took().unwrap_or(self.last_took),
            _ => self.last_took,
        }
    }

    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<Sample, CollectError> {
        let started = std::time::Instant::now();
        let result = self.inner.collect(ctx).await;
        self.last_took = started.elapsed();
        result
    }
}

impl Collector {
    async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<Sample, CollectError> {
        Ok(match self {
            Collector::Server(c) => Sample::Server(c.collect(ctx).await?),
            Collector::Activity(c) => Sample::Activity(c.collect(ctx).await?),
            Collector::Statements(c) => Sample::Statements(c.collect(ctx).await?),
            Collector::Cache(c) => Sample::Cache(c.collect(ctx).await?),
            Collector::Replication(c) => Sample::Replication(c.collect(ctx).await?),
            Collector::UnusedIndexes(c) => Sample::UnusedIndexes(c.collect(ctx).await?),
            Collector::Vacuum(c) => Sample::Vacuum(c.collect(ctx).await?),
            Collector::Wal(c) => Sample::Wal(c.collect(ctx).await?),
            Collector::Waits(c) => Sample::Waits(c.collect(ctx).await?),
        })
    }
}
