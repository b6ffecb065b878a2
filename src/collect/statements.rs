//! statements (in progress)
