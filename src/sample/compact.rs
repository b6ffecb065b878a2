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

/// One optional-number type: `$name` stores a `$stored`, reads as `Option<$value>`, and
/// `$none` (a value the samples never hold) stands for `None`; `is_none` tells it apart,
/// `narrow` makes a stored value of a `$value` and `widen` reads it back.
macro_rules! opt_number {
    (
        $(#[$doc:meta])*
        $name:ident($stored:ty) as $value:ty,
        none: $none:expr,
        is_none: |$n:ident| $is_none:expr,
        narrow: |$v:ident| $narrow:expr,
        widen: |$w:ident| $widen:expr $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name($stored);

        impl $name {
            pub const NONE: $name = $name($none);

            /// The value; `None` for the stand-in.
            #[inline]
            pub fn get(self) -> Option<$value> {
                (!self.is_none()).then(|| {
                    let $w = self.0;
                    $widen
                })
            }

            #[inline]
            pub fn is_some(self) -> bool {
                !self.is_none()
            }

            #[inline]
            pub fn is_none(self) -> bool {
                let $n = self.0;
                $is_none
            }

            /// What serializes: the stored value, or none.
            #[inline]
            fn stored(self) -> Option<$stored> {
                (!self.is_none()).then_some(self.0)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::NONE
            }
        }

        impl From<$value> for $name {
            #[inline]
            fn from($v: $value) -> Self {
                $name($narrow)
            }
        }

        impl From<Option<$value>> for $name {
            #[inline]
            fn from(v: Option<$value>) -> Self {
                v.map_or($name::NONE, $name::from)
            }
        }

        impl From<$name> for Option<$value> {
            #[inline]
            fn from(v: $name) -> Self {
                v.get()
            }
        }

        impl PartialEq for $name {
            /// As the `Option`s: two `None`s are equal.
            fn eq(&self, other: &Self) -> bool {
                self.stored() == other.stored()
            }
        }

        impl PartialEq<Option<$value>> for $name {
            /// Against the value as [`From`] would store it.
            fn eq(&self, other: &Option<$value>) -> bool {
                *self == $name::from(*other)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.stored().fmt(f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.stored().serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Option::<$value>::deserialize(d).map($name::from)
            }
        }
    };
}

opt_number! {
    /// An `Option<f64>` in 8 bytes: NaN is `None` (JSON has no NaN either: serde_json
    /// writes a NaN `f64` as `null`), so a computation that yields NaN (0/0) reads as "no
    /// value".
    OptF64(f64) as f64,
    none: f64::NAN,
    is_none: |n| n.is_nan(),
    narrow: |v| v,
    widen: |w| w,
}

opt_number! {
    /// An `Option<i64>` in 8 bytes: `i64::MIN` is `None`. Every counter it holds (WAL
    /// records, bytes, calls) is at least zero, and a transaction age is far from it; a
    /// `query_id` (a 64-bit hash) of exactly `i64::MIN`, one in 2^64, would read as none.
    OptI64(i64) as i64,
    none: i64::MIN,
    is_none: |n| n == i64::MIN,
    narrow: |v| v,
    widen: |w| w,
}

opt_number! {
    /// A derived rate in 4 bytes: an `f32` (7 significant digits, plenty for a rate over a
    /// few seconds of counters), NaN for `None`. Read as an `f64`; written to JSON as the
    /// shortest decimal of the `f32` (`33.333332`, not the `f64` widening
    /// `33.33333206176758`); compared with an `f64` as narrowed, so a rate equals the value
    /// it was made from.
    OptF32(f32) as f64,
    none: f32::NAN,
    is_none: |n| n.is_nan(),
    narrow: |v| v as f32,
    widen: |w| f64::from(w),
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
