//! The floor every other layer stands on: the types the collectors send and the consumers
//! (model, screen, snapshot JSON, and the recorder and exporter to come) read. It imports no
//! other module of the crate; `collect`, `model` and `tui` import it, never each other
//! upward.
//!
//! * [`Area`]: the one registry of per-area facts (key, title, poll period, first
//!   PostgreSQL major, privilege gaps, alert rules).
//! * The samples: one plain struct per area (`samples`), [`Sample`] over them.
//! * [`Update`], [`LinkEvent`], [`Command`], [`ActionOutcome`]: what flows between the workers
//!   and the consumers.
//! * [`ServerFacts`] (what the probe learned), [`PrivilegeGap`]s, [`CollectError`].
//! * [`OptF64`], [`OptI64`], [`OptF32`]: the optional numbers of the big samples
//!   (statements, sessions) in 8 or 4 bytes instead of an `Option`'s 16; `null` or the
//!   number in JSON, as the `Option` would be.

mod area;
mod compact;
mod error;
mod facts;
mod samples;
mod update;

pub use area::*;
pub use compact::*;
pub use error::*;
pub use facts::*;
pub use samples::*;
pub use update::*;
