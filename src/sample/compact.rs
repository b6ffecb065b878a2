//! Optional numbers in the space of the number: [`OptF64`], [`OptI64`] and, for derived
//! rates, [`OptF32`].
//!
//! `Option<f64>` and `Option<i64>` take 16 bytes; the first two take 8, a value the samples
//! never hold standing for `None` (NaN, `i64::MIN`), and a rate takes 4. A
//! pg_stat_statements entry has 28 optional counters and rates: 584 bytes with `Option`,
//! 296 with these, and a server with 10,000 entries holds two samples of them while a poll
//! is derived (issue 14, client RSS).
//!
//! They serialize as the `Option` they stand for (`null` or the number), so the snapshot
//! JSON, recordings and the exporter see no difference; a missing member deserializes as
//! `None` only under `#[serde(default)]` (set on the structs that hold them).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An `Option<f64>` in 8 bytes: NaN is `None` (JSON has no NaN either: serde_json writes
/// a NaN `f64` as `null`), so a computation that yields NaN (0/0) reads as "no value".
#[derive(Clone, Copy)]
pub struct OptF64(f64);

impl OptF64 {
    pub const NONE: OptF64 = OptF64(f64::NAN);

    /// The value; `None` for NaN.
    #[inline]
    pub fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(self.0)
    }

    #[inline]
    pub fn is_some(self) -> bool {
        !self.0.is_nan()
    }

    #[inline]
    pub fn is_none(self) -> bool {
        self.0.is_nan()
    }
}

impl Default for OptF64 {
    fn default() -> Self {
        OptF64::NONE
    }
}

impl From<Option<f64>> for OptF64 {
    #[inline]
    fn from(v: Option<f64>) -> Self {
        OptF64(v.unwrap_or(f64::NAN))
    }
}

impl From<f64> for OptF64 {
    #[inline]
    fn from(v: f64) -> Self {
        OptF64(v)
    }
}

impl From<OptF64> for Option<f64> {
    #[inline]
    fn from(v: OptF64) -> Self {
        v.get()
    }
}

impl PartialEq for OptF64 {
    /// As the `Option`s: two `None`s are equal.
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl PartialEq<Option<f64>> for OptF64 {
    fn eq(&self, other: &Option<f64>) -> bool {
        self.get() == *other
    }
}

impl std::fmt::Debug for OptF64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for OptF64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for OptF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<f64>::deserialize(d).map(OptF64::from)
    }
}

/// A derived rate in 4 bytes: an `f32` (7 significant digits, plenty for a rate over a
/// few seconds of counters), NaN for `None`. Read as an `f64`; written to JSON as the
/// shortest decimal of the `f32` (`33.333332`, not the `f64` widening `33.33333206176758`).
#[derive(Clone, Copy)]
pub struct OptF32(f32);

impl OptF32 {
    pub const NONE: OptF32 = OptF32(f32::NAN);

    /// The value, widened; `None` for NaN.
    #[inline]
    pub fn get(self) -> Option<f64> {
        (!self.0.is_nan()).then_some(f64::from(self.0))
    }

    #[inline]
    pub fn is_some(self) -> bool {
        !self.0.is_nan()
    }

    #[inline]
    pub fn is_none(self) -> bool {
        self.0.is_nan()
    }
}

impl Default for OptF32 {
    fn default() -> Self {
        OptF32::NONE
    }
}

impl From<Option<f64>> for OptF32 {
    /// Narrowed to the nearest `f32`.
    #[inline]
    fn from(v: Option<f64>) -> Self {
        OptF32(v.map_or(f32::NAN, |v| v as f32))
    }
}

impl From<f64> for OptF32 {
    #[inline]
    fn from(v: f64) -> Self {
        OptF32(v as f32)
    }
}

impl From<OptF32> for Option<f64> {
    #[inline]
    fn from(v: OptF32) -> Self {
        v.get()
    }
}

impl PartialEq for OptF32 {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl PartialEq<Option<f64>> for OptF32 {
    /// Against the `f64` narrowed as [`OptF32::from`] would: a rate equals the value it
    /// was made from.
    fn eq(&self, other: &Option<f64>) -> bool {
        *self == OptF32::from(*other)
    }
}

impl std::fmt::Debug for OptF32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (!self.0.is_nan()).then_some(self.0).fmt(f)
    }
}

impl Serialize for OptF32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (!self.0.is_nan()).then_some(self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for OptF32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<f64>::deserialize(d).map(OptF32::from)
    }
}

/// An `Option<i64>` in 8 bytes: `i64::MIN` is `None`. Every counter it holds (WAL records,
/// bytes, calls) is at least zero, and a transaction age is far from it; a `query_id` (a
/// 64-bit hash) of exactly `i64::MIN`, one in 2^64, would read as none.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OptI64(i64);

impl OptI64 {
    pub const NONE: OptI64 = OptI64(i64::MIN);

    /// The value; `None` for `i64::MIN`.
    #[inline]
    pub fn get(self) -> Option<i64> {
        (self.0 != i64::MIN).then_some(self.0)
    }

    #[inline]
    pub fn is_some(self) -> bool {
        self.0 != i64::MIN
    }

    #[inline]
    pub fn is_none(self) -> bool {
        self.0 == i64::MIN
    }
}

impl Default for OptI64 {
    fn default() -> Self {
        OptI64::NONE
    }
}

impl From<Option<i64>> for OptI64 {
    #[inline]
    fn from(v: Option<i64>) -> Self {
        OptI64(v.unwrap_or(i64::MIN))
    }
}

impl From<i64> for OptI64 {
    #[inline]
    fn from(v: i64) -> Self {
        OptI64(v)
    }
}

impl From<OptI64> for Option<i64> {
    #[inline]
    fn from(v: OptI64) -> Self {
        v.get()
    }
}

impl PartialEq<Option<i64>> for OptI64 {
    fn eq(&self, other: &Option<i64>) -> bool {
        self.get() == *other
    }
}

impl std::fmt::Debug for OptI64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for OptI64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for OptI64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<i64>::deserialize(d).map(OptI64::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn they_are_half_an_option_and_read_back_as_one() {
        assert_eq!(std::mem::size_of::<OptF64>(), 8);
        assert_eq!(std::mem::size_of::<OptI64>(), 8);
        assert_eq!(OptF64::from(Some(1.5)).get(), Some(1.5));
        assert_eq!(OptF64::from(None).get(), None);
        assert_eq!(OptF64::from(f64::NAN), OptF64::NONE);
        assert_eq!(OptF64::from(-0.0).get(), Some(-0.0));
        assert_eq!(OptI64::from(Some(-3)).get(), Some(-3));
        assert_eq!(OptI64::from(None), None);
        assert_eq!(OptI64::from(0), Some(0));
        assert_eq!(std::mem::size_of::<OptF32>(), 4);
        assert_eq!(OptF32::from(Some(0.1)), Some(0.1));
        assert_ne!(OptF32::from(Some(0.1)).get(), Some(0.1), "narrowed");
        assert_eq!(OptF32::from(None).get(), None);
        assert_eq!(OptF32::from(f64::NAN), OptF32::NONE);
    }

    #[test]
    fn a_statement_is_the_size_the_docs_say() {
        // the module docs and `Statement`'s give this size: keep them true
        assert_eq!(std::mem::size_of::<crate::sample::Statement>(), 296);
    }

    #[test]
    fn json_is_that_of_the_option() {
        let v = (
            OptF64::from(2.5),
            OptF64::NONE,
            OptI64::from(7),
            OptI64::NONE,
            OptF32::from(100.0 / 3.0),
            OptF32::NONE,
        );
        let json = serde_json::to_string(&v).expect("serialize");
        assert_eq!(json, "[2.5,null,7,null,33.333332,null]");
        let back: (OptF64, OptF64, OptI64, OptI64, OptF32, OptF32) =
            serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, v);
    }
}
