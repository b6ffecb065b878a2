//! vacuum (in progress)
