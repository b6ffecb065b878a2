//! Human-readable numbers shared by alert messages and the screen.

/// Bytes with binary units: `10.0 MiB`, via humansize.
pub fn format_bytes(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "?".into();
    }
    let sign = if bytes < 0.0 { "-" } else { "" };
    format!(
        "{sign}{}",
        humansize::format_size(
            bytes.abs().round() as u64,
            humansize::BINARY.decimal_places(1)
        )
    )
}

/// Seconds as `80µs`, `850ms`, `4.2s`, `42s`, `3m12s`, `2h05m`, `3d04h`: the one duration
/// formatter of the screen and the alert messages. Below a millisecond in whole microseconds
/// (a 0.08 ms statement reads `80µs`, not `0ms`), below a second in whole milliseconds; a
/// value that rounds up to the next unit is written in it (`0.9996` ms is `1ms`, not
/// `1000µs`). At most six columns up to 99 days.
pub fn format_duration_s(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".into();
    }
    if secs < 0.0 {
        return format!("-{}", format_duration_s(-secs));
    }
    let us = (secs * 1e6).round();
    if us < 1000.0 {
        return format!("{}µs", us as u64);
    }
    let ms = (secs * 1000.0).round();
    if ms < 1000.0 {
        return format!("{}ms", ms as u64);
    }
    if secs < 9.95 {
        return format!("{secs:.1}s");
    }
    let s = secs.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Counts as `950`, `1.2k`, `3.4M`, `1.2G`.
pub fn format_count(n: f64) -> String {
    if !n.is_finite() {
        return "?".into();
    }
    let a = n.abs();
    if a < 1000.0 {
        if a.fract() == 0.0 || a >= 100.0 {
            format!("{n:.0}")
        } else {
            format!("{n:.1}")
        }
    } else if a < 1e6 {
        format!("{:.1}k", n / 1e3)
    } else if a < 1e9 {
        format!("{:.1}M", n / 1e6)
    } else {
        format!("{:.2}G", n / 1e9)
    }
}

/// A rate: `1.2k/s`.
pub fn format_rate(per_s: f64) -> String {
    format!("{}/s", format_count(per_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanized() {
        assert_eq!(format_bytes(10.0 * 1024.0 * 1024.0), "10 MiB");
        assert_eq!(format_bytes(1536.0), "1.5 KiB");
        assert_eq!(format_duration_s(0.25), "250ms");
        assert_eq!(format_duration_s(0.000_08), "80µs");
        assert_eq!(format_duration_s(0.000_000_4), "0µs");
        assert_eq!(format_duration_s(0.0), "0µs");
        assert_eq!(
            format_duration_s(0.000_999_6),
            "1ms",
            "rounds up into milliseconds"
        );
        assert_eq!(format_duration_s(0.001), "1ms");
        assert_eq!(format_duration_s(0.999_6), "1.0s", "rounds up into seconds");
        assert_eq!(
            format_duration_s(9.96),
            "10s",
            "rounds up into whole seconds"
        );
        assert_eq!(format_duration_s(-0.000_25), "-250µs");
        assert_eq!(format_duration_s(f64::NAN), "?");
        assert_eq!(format_duration_s(4.25), "4.2s");
        assert_eq!(format_duration_s(192.0), "3m12s");
        assert_eq!(format_duration_s(7500.0), "2h05m");
        assert_eq!(format_duration_s(3.0 * 86400.0 + 4.0 * 3600.0), "3d04h");
        assert_eq!(format_count(950.0), "950");
        assert_eq!(format_count(1234.0), "1.2k");
        assert_eq!(format_count(1_500_000_000.0), "1.50G");
        assert_eq!(format_rate(12.5), "12.5/s");
    }
}
