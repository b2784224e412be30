//! Output as Docker prints it: aligned columns, sizes in decimal units,
//! times as "3 hours ago", ids shortened to 12 characters.

use std::fmt::Write as _;

/// Prints rows under a header, each column as wide as its widest cell
/// plus three spaces, as Docker's tables are.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}   ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A size in Docker's decimal units: `4.26MB`, `512B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes}B");
    }
    // Three significant digits without trailing zeros, as Docker's
    // HumanSizeWithPrecision(size, 3).
    let int_digits = (value.log10().floor() as usize + 1).min(3);
    let text = format!("{value:.*}", 3 - int_digits);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", UNITS[unit])
}

/// A size in binary units with four significant digits, as Docker's
/// `stats` shows memory: `1.504MiB`, `32MiB`.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let whole_digits = (value.max(1.0).log10().floor() as usize) + 1;
    let decimals = 4usize.saturating_sub(whole_digits);
    let text = format!("{value:.decimals$}");
    let text = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => &text,
    };
    format!("{text}{}", UNITS[unit])
}

/// How long ago `then` (seconds since the epoch) was, in Docker's words.
pub fn ago(then: Option<i64>) -> String {
    let Some(then) = then else {
        return "N/A".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format!("{} ago", duration((now - then).max(0) as u64))
}

/// A duration in Docker's human form: `About a minute`, `3 hours`.
pub fn duration(secs: u64) -> String {
    let (minutes, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if days < 14 => format!("{days} days"),
        _ if days < 60 => format!("{} weeks", days / 7),
        _ if days < 730 => format!("{} months", days / 30),
        _ => format!("{} years", days / 365),
    }
}

/// An id as Docker shows it: without `sha256:`, 12 characters unless
/// `full`.
pub fn short_id(id: &str, full: bool) -> String {
    if full {
        return id.to_string();
    }
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(size(512), "512B");
        assert_eq!(size(4_261_000), "4.26MB");
        assert_eq!(size(1_000), "1kB");
        assert_eq!(size(123_456_789), "123MB");
        assert_eq!(binary_size(32 << 20), "32MiB");
        assert_eq!(binary_size(1_577_000), "1.504MiB");
        assert_eq!(binary_size(0), "0B");
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "BB"], &[vec!["xxxx".into(), "y".into()]]);
        assert_eq!(t, "A      BB\nxxxx   y\n");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(90), "About a minute");
        assert_eq!(duration(3 * 3600), "3 hours");
        assert_eq!(duration(20 * 86_400), "2 weeks");
    }
}
