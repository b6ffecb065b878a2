//! unused_indexes (in progress)
