//! release-console: the engine behind the release console GUI and its CLI.
//!
//! The domain modules (`workspace`, `runbook`, `audit`, `runner`) do the work; `cli` renders it
//! for terminals and CI, `ui` renders it in an egui window. See `ARCHITECTURE.md`.

/// Declares an open set of strings a vendor speaks (Argo CD's health, GitHub's conclusions): a
/// variant per value the console acts on and `Other` for one a vendor adds later, kept as it
/// was spelled. Read with `From<&str>`/`From<String>` or serde, written back (`as_str`,
/// `Display`, serde) exactly as the vendor spelled it, so state files read what older
/// versions wrote. The known spellings are matched exactly (vendors' values are
/// case-sensitive); build values with `From`, never `Other("Healthy")`.
macro_rules! vendor_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this console does not know (a newer vendor's), as it was spelled.
            Other(String),
        }

        impl $name {
            /// The vendor's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <String as serde::Deserialize>::deserialize(d).map($name::from)
            }
        }
    };
}

pub mod audit;
pub mod cli;
pub mod demo;
pub mod deploy;
pub mod digest;
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

/// An error and its sources on one line, `: `-joined, as the CLI prints them; a source whose
/// text its parent already ends with is not repeated.
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

    vendor_enum! {
        enum Colour {
            Red = "red",
            InBetween = "in_between",
        }
    }

    #[test]
    fn a_vendor_enum_keeps_a_value_it_does_not_know_as_spelled() {
        assert_eq!(Colour::from("in_between"), Colour::InBetween);
        assert_eq!(Colour::from("red".to_owned()), Colour::Red);
        let mauve = Colour::from("Mauve");
        assert_eq!(mauve, Colour::Other("Mauve".into()));
        assert_eq!(mauve.to_string(), "Mauve");
        assert_eq!(
            Colour::from("RED"),
            Colour::Other("RED".into()),
            "exact spelling"
        );
        let json = serde_json::to_string(&[Colour::InBetween, mauve]).expect("json");
        assert_eq!(json, r#"["in_between","Mauve"]"#);
        let back: Vec<Colour> = serde_json::from_str(&json).expect("reads");
        assert_eq!(back, [Colour::InBetween, Colour::Other("Mauve".into())]);
        assert!(serde_json::from_str::<Colour>("3").is_err(), "not a string");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("release 1.0.0: cannot read")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("checklist.json: read: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn an_error_chain_is_one_line_without_repeats() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(
            error_chain(&Outer(io())),
            "release 1.0.0: cannot read: no such file"
        );
        assert_eq!(
            error_chain(&Repeats(io())),
            "checklist.json: read: no such file"
        );
    }
}
