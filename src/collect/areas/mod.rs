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
pub mod wal;

use super::Ctx;
use crate::sample::{Area, CollectError, Sample};

/// One area's collector, whichever it is.
pub enum AnyCollector {
    Server(server::ServerCollector),
    Activity(activity::ActivityCollector),
    Statements(Box<statements::StatementsCollector>),
    Cache(cache::CacheCollector),
    Replication(replication::ReplicationCollector),
    UnusedIndexes(unused_indexes::UnusedIndexesCollector),
    Vacuum(vacuum::VacuumCollector),
    Wal(wal::WalCollector),
}

impl AnyCollector {
    /// The collector of `area` with the default settings (`top_n` 50).
    pub fn new(area: Area) -> Self {
        Self::with_top_n(area, crate::sample::DEFAULT_TOP_N)
    }

    /// The collector of `area`; the top-N lists (unused indexes, per-table cache) carry
    /// `top_n` rows.
    pub fn with_top_n(area: Area, top_n: u32) -> Self {
        match area {
            Area::Server => AnyCollector::Server(server::ServerCollector::new()),
            Area::Activity => AnyCollector::Activity(activity::ActivityCollector::new()),
            Area::Statements => {
                AnyCollector::Statements(Box::new(statements::StatementsCollector::new()))
            }
            Area::Cache => AnyCollector::Cache(cache::CacheCollector::with_top_n(top_n)),
            Area::Replication => {
                AnyCollector::Replication(replication::ReplicationCollector::new())
            }
            Area::UnusedIndexes => AnyCollector::UnusedIndexes(
                unused_indexes::UnusedIndexesCollector::with_top_n(top_n),
            ),
            Area::Vacuum => AnyCollector::Vacuum(vacuum::VacuumCollector::new()),
            Area::Wal => AnyCollector::Wal(wal::WalCollector::new()),
        }
    }

    pub async fn collect(&mut self, ctx: &Ctx<'_>) -> Result<Sample, CollectError> {
        Ok(match self {
            AnyCollector::Server(c) => Sample::Server(c.collect(ctx).await?),
            AnyCollector::Activity(c) => Sample::Activity(c.collect(ctx).await?),
            AnyCollector::Statements(c) => Sample::Statements(c.collect(ctx).await?),
            AnyCollector::Cache(c) => Sample::Cache(c.collect(ctx).await?),
            AnyCollector::Replication(c) => Sample::Replication(c.collect(ctx).await?),
            AnyCollector::UnusedIndexes(c) => Sample::UnusedIndexes(c.collect(ctx).await?),
            AnyCollector::Vacuum(c) => Sample::Vacuum(c.collect(ctx).await?),
            AnyCollector::Wal(c) => Sample::Wal(c.collect(ctx).await?),
        })
    }
}
