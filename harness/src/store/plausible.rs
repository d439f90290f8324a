//! Whether a results.json's figures could have been measured: every number in
//! it is at most [`MAX_FIGURE`] in size. Sizes, counts, addresses and times of
//! one machine stay far below it (x86-64's five-level paging addresses 2^57
//! bytes), so a larger one means a damaged or doctored file, which is refused
//! before anything adds it up.

use serde::de::{Deserialize, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The largest number a results.json may hold: 2^60.
pub const MAX_FIGURE: u64 = 1 << 60;

/// Any JSON value whose numbers are all within [`MAX_FIGURE`]; keeps nothing.
pub struct Plausible;

impl<'de> Deserialize<'de> for Plausible {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Plausible, D::Error> {
        deserializer.deserialize_any(Check)
    }
}

struct Check;

fn beyond<E: Error>(shown: impl std::fmt::Display) -> E {
    E::custom(format!(
        "the figure {shown} is beyond anything a machine measures (at most 2^60); the file is damaged or was not written by vmlab"
    ))
}

impl<'de> Visitor<'de> for Check {
    type Value = Plausible;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: Error>(self, _: bool) -> Result<Plausible, E> {
        Ok(Plausible)
    }
    fn visit_u64<E: Error>(self, v: u64) -> Result<Plausible, E> {
        if v > MAX_FIGURE {
            return Err(beyond(v));
        }
        Ok(Plausible)
    }
    fn visit_i64<E: Error>(self, v: i64) -> Result<Plausible, E> {
        if v.unsigned_abs() > MAX_FIGURE {
            return Err(beyond(v));
        }
        Ok(Plausible)
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<Plausible, E> {
        if !v.is_finite() || v.abs() > MAX_FIGURE as f64 {
            return Err(beyond(v));
        }
        Ok(Plausible)
    }
    fn visit_str<E: Error>(self, _: &str) -> Result<Plausible, E> {
        Ok(Plausible)
    }
    fn visit_unit<E: Error>(self) -> Result<Plausible, E> {
        Ok(Plausible)
    }
    fn visit_none<E: Error>(self) -> Result<Plausible, E> {
        Ok(Plausible)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Plausible, D::Error> {
        Plausible::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Plausible, A::Error> {
        while seq.next_element::<Plausible>()?.is_some() {}
        Ok(Plausible)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Plausible, A::Error> {
        while map.next_entry::<IgnoredAny, Plausible>()?.is_some() {}
        Ok(Plausible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_beyond_any_machine_are_refused() {
        let ok = r#"{"a": [1, -2, 1.5, "x", null, true, {"b": 1152921504606846976}]}"#;
        assert!(serde_json::from_str::<Plausible>(ok).is_ok());
        for bad in [
            r#"{"a": 1152921504606846977}"#,
            r#"[18446744073709551615]"#,
            r#"{"x": {"y": -9223372036854775808}}"#,
            r#"[1e300]"#,
        ] {
            let e = serde_json::from_str::<Plausible>(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.to_string().contains("beyond"), "{e}");
        }
    }
}
