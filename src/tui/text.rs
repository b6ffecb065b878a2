//! Text from the server made safe for a terminal cell: the sanitizer lives in [`crate::text`]
//! (also used for what pgvitals prints outside the screen); re-exported here for the panels.

pub use crate::text::*;
