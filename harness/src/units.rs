//! Sizes and counts as people read them: the one home of the byte and count
//! formats every output shares (evidence text, tables, progress lines), so that
//! a figure reads the same wherever it is printed.

/// Bytes in a human unit (KiB, MiB, GiB), for evidence text.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Bytes with a sign, in a readable unit (`+4.0 KiB`, `-1.0 MiB`, `0`).
pub fn signed_bytes(bytes: i64) -> String {
    match bytes {
        0 => "0".into(),
        b if b > 0 => format!("+{}", human_bytes(b as u64)),
        b => format!("-{}", human_bytes(b.unsigned_abs())),
    }
}

/// A count with thousands separators (`912,280`).
pub fn grouped(n: u64) -> String {
    let whole = n.to_string();
    let mut out = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_picks_a_readable_unit() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 * 1024), "64.0 KiB");
        assert_eq!(human_bytes(1_000_000_000), "953.7 MiB");
    }

    #[test]
    fn signed_bytes_print_zero_bare_and_others_with_a_sign() {
        assert_eq!(signed_bytes(0), "0");
        assert_eq!(signed_bytes(4096), "+4.0 KiB");
        assert_eq!(signed_bytes(-(1 << 20)), "-1.0 MiB");
    }

    #[test]
    fn grouped_puts_a_comma_every_three_digits() {
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(912_280), "912,280");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}
