//! replication (in progress)
