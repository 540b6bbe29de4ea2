//! release-console: the engine behind the release console GUI and its CLI.
//!
//! The domain modules (`workspace`, `runbook`, `audit`, `runner`) do the work; `cli` renders it
//! for terminals and CI, `ui` renders it in an egui window. See `ARCHITECTURE.md`.

pub mod audit;
pub mod cli;
pub mod demo;
pub mod deploy;
pub mod dr;
pub mod findings;
pub mod flags;
pub mod gates;
pub mod kpi;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod os;
pub mod pipeline;
pub mod projections;
pub mod remote;
pub mod rotation;
pub mod runbook;
pub mod runner;
pub mod source;
pub mod status;
pub mod store;
pub mod ui;
pub mod verify;
pub mod workspace;

/// Lower-case hex of a byte slice (SHA-256 digests, fingerprints).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(bytes))
}

/// A duration for people: `1 h 05 min`, `4 min 10 s`, `12 s`, `0.4 s`.
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..10 => format!("{:.1} s", d.as_secs_f64()),
        10..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A timestamp in the system time zone, to the minute or the second, for people.
pub fn local_time(ts: jiff::Timestamp, with_seconds: bool) -> String {
    let format = if with_seconds {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    };
    ts.to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime(format)
        .to_string()
}

/// The message of a foreign error with its causes, on one line, `: `-joined: for the point
/// where a foreign error (reqwest, zip, serde, a `dyn Error` or generic `E` of unknown kind)
/// enters one of our types or becomes a message. Our own errors' messages are whole (they say
/// their cause themselves and `source()` is `None`; ARCHITECTURE.md, "Errors"), so for them this
/// is their `to_string()`: write that. Foreign errors keep to no one convention (zip's `Io` both
/// says its `io::Error` and returns it as `source()`), so a cause whose text its parent's
/// message already ends with is not repeated.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Test helpers shared by the unit tests of several layers.
#[cfg(test)]
pub(crate) mod test_support {
    /// Sets the uncompressed size of every header (local and central) of a zip's entries: a
    /// zip bomb's declared sizes.
    pub(crate) fn zip_declare_size(bytes: &mut [u8], size: u32) {
        for i in 0..bytes.len().saturating_sub(30) {
            match &bytes[i..i + 4] {
                b"PK\x03\x04" => bytes[i + 22..i + 26].copy_from_slice(&size.to_le_bytes()),
                b"PK\x01\x02" => bytes[i + 24..i + 28].copy_from_slice(&size.to_le_bytes()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_naturally_at_every_scale() {
        assert_eq!(human_duration(Duration::from_millis(430)), "0.4 s");
        assert_eq!(human_duration(Duration::from_secs(12)), "12 s");
        assert_eq!(human_duration(Duration::from_secs(75)), "1 min 15 s");
        assert_eq!(human_duration(Duration::from_mins(65)), "1 h 05 min");
        assert_eq!(human_duration(Duration::from_hours(25)), "1 d 01 h");
    }

    /// A foreign error in the Rust API guidelines' convention: its message leaves its cause to
    /// `source()`.
    #[derive(Debug, thiserror::Error)]
    #[error("release 1.0.0: cannot read")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_foreign_error_chain_is_one_line_without_repeats() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(
            error_chain(&Outer(io())),
            "release 1.0.0: cannot read: no such file"
        );
        // zip says its io::Error and returns it as source() too.
        assert_eq!(
            error_chain(&zip::result::ZipError::Io(io())),
            "i/o error: no such file"
        );
    }
}
