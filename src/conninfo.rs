//! conninfo (in progress)
