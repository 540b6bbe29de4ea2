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
        $vis:vis enum $name:ident as spelled {
            $($(#[$vmeta:meta])* $variant:ident),+ $(,)?
        }
    ) => {
        vendor_enum! {
            $(#[$meta])*
            $vis enum $name {
                $($(#[$vmeta])* $variant = stringify!($variant)),+
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:expr),+ $(,)?
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
            /// Every spelling this console knows, in the order of the variants.
            pub const KNOWN: &[&str] = &[$($text),+];

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
                $(if s == $text {
                    return $name::$variant;
                })+
                $name::Other(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $(if s == $text {
                    return $name::$variant;
                })+
                $name::Other(s)
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
        // A step of a few milliseconds is not "0.0 s".
        0 if d.as_millis() < 100 => format!("{} ms", d.as_millis()),
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
    /// Asserts that `err` keeps to the crate's convention for errors (ARCHITECTURE.md,
    /// "Errors"): its message is whole, saying `cause` exactly once, and it returns nothing as
    /// its `source()`, so that no printer (anyhow's `{:#}`, a `source()` walk) says the cause
    /// again.
    #[track_caller]
    pub(crate) fn assert_says_cause_once(err: &(dyn std::error::Error + 'static), cause: &str) {
        let message = err.to_string();
        if let Some(source) = err.source() {
            panic!(
                "{err:?}: its message {message:?} is whole, yet it also returns {:?} as its \
                 source(): printed with its chain, the cause would be said twice",
                source.to_string()
            );
        }
        assert_eq!(
            message.matches(cause).count(),
            1,
            "{message:?} should say {cause:?} exactly once"
        );
    }

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
        assert_eq!(human_duration(Duration::from_millis(42)), "42 ms");
        assert_eq!(human_duration(Duration::from_millis(100)), "0.1 s");
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
        assert_eq!(Colour::KNOWN, ["red", "in_between"]);
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

    /// Every error type whose message says a typed cause, built as its callers build it (or
    /// made by the call that fails): none returns that cause as its `source()` too.
    mod errors_say_their_cause_once {
        use std::path::{Path, PathBuf};

        use crate::test_support::assert_says_cause_once;

        const DENIED: &str = "permission denied here";

        fn io() -> std::io::Error {
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, DENIED)
        }

        fn state() -> crate::store::StateError {
            crate::store::StateError::Io {
                path: "state.json".into(),
                action: "read",
                cause: io(),
            }
        }

        fn audit() -> crate::audit::AuditError {
            crate::audit::AuditError::Io {
                path: PathBuf::from("audit.jsonl"),
                action: "read",
                cause: io(),
            }
        }

        /// A `JoinError` as a task that is aborted makes one.
        fn join_error() -> tokio::task::JoinError {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            let task = rt.spawn(std::future::pending::<()>());
            task.abort();
            rt.block_on(task).expect_err("aborted")
        }

        #[test]
        fn the_leaves_that_hold_an_io_error() {
            use crate::pipeline::PipelineError;
            use crate::runner::TaskError;
            use crate::verify::{VerifyError, hash::HashError};
            let path = PathBuf::from("artifacts/app.msi");
            assert_says_cause_once(&state(), DENIED);
            assert_says_cause_once(&audit(), DENIED);
            let errors: Vec<Box<dyn std::error::Error>> = vec![
                Box::new(crate::workspace::config::ConfigError::Read {
                    path: path.clone(),
                    cause: io(),
                }),
                Box::new(crate::workspace::WorkspaceError::Io {
                    path: path.clone(),
                    action: "read",
                    cause: io(),
                }),
                Box::new(crate::deploy::store::StoreError::Io {
                    what: "read",
                    path: path.clone(),
                    cause: io(),
                }),
                Box::new(TaskError::Spawn {
                    program: "signtool".into(),
                    cause: io(),
                }),
                Box::new(PipelineError::Io {
                    path: path.clone(),
                    cause: io(),
                }),
                Box::new(crate::findings::FindingsError::Read {
                    path: path.clone(),
                    cause: io(),
                }),
                Box::new(VerifyError::Io {
                    path: path.clone(),
                    cause: io(),
                }),
                Box::new(HashError::Io {
                    path: path.clone(),
                    cause: io(),
                }),
                Box::new(crate::remote::RemoteError::Io { path, cause: io() }),
            ];
            for e in &errors {
                assert_says_cause_once(e.as_ref(), DENIED);
            }
        }

        #[test]
        fn the_wrappers_that_name_another_of_our_errors() {
            use crate::metrics::MetricsError;
            use crate::workspace::WorkspaceError;
            let ws = || WorkspaceError::State(state());
            let errors: Vec<Box<dyn std::error::Error>> = vec![
                Box::new(ws()),
                Box::new(WorkspaceError::Audit(audit())),
                Box::new(crate::notify::NotifyError::from(audit())),
                Box::new(MetricsError::from(audit())),
                Box::new(MetricsError::from(crate::status::StatusError::from(ws()))),
                Box::new(MetricsError::from(crate::flags::FlagsError::from(ws()))),
                Box::new(crate::deploy::DeployError::from(ws())),
                Box::new(crate::deploy::DeployError::from(
                    crate::deploy::store::StoreError::State(state()),
                )),
                Box::new(crate::source::SourceError::from(ws())),
                Box::new(crate::kpi::KpiError::from(ws())),
                Box::new(crate::kpi::KpiError::Aws {
                    what: "KPI crash-free sessions".into(),
                    cause: Box::new(crate::net::aws::AwsError::Network {
                        service: "monitoring".into(),
                        action: "GetMetricData".into(),
                        url: "http://127.0.0.1:9".into(),
                        detail: DENIED.into(),
                    }),
                }),
            ];
            for e in &errors {
                assert_says_cause_once(e.as_ref(), DENIED);
            }
        }

        #[test]
        fn a_stopped_task_says_how_it_stopped() {
            // "task 7 was cancelled": the task's number differs from one error to the next.
            let cause = "was cancelled";
            assert!(join_error().to_string().ends_with(cause));
            assert_says_cause_once(
                &crate::deploy::store::StoreError::Stopped {
                    what: "a part's upload",
                    cause: join_error(),
                },
                cause,
            );
            assert_says_cause_once(
                &crate::remote::RemoteError::Stopped {
                    what: "unpacking the artifact",
                    cause: join_error(),
                },
                cause,
            );
        }

        /// Errors as the calls that fail make them, with the operating system's own words.
        #[test]
        fn errors_made_by_failing_calls() {
            let dir = tempfile::tempdir().expect("tempdir");
            let not_a_file = dir.path().join("folder");
            std::fs::create_dir(&not_a_file).expect("mkdir");
            let os_says = std::fs::read(&not_a_file)
                .expect_err("a folder is no file")
                .to_string();

            let e = crate::store::read_json::<serde_json::Value>(&not_a_file)
                .expect_err("a folder is no state file");
            assert_says_cause_once(&e, &os_says);

            std::fs::write(
                dir.path().join("release-console.toml"),
                b"name = \"\xff\"\n",
            )
            .expect("write");
            let e = crate::workspace::Workspace::open(dir.path()).expect_err("not UTF-8");
            let not_utf8 = std::fs::read_to_string(dir.path().join("release-console.toml"))
                .expect_err("not UTF-8")
                .to_string();
            assert_says_cause_once(&e, &not_utf8);

            let missing = dir.path().join("missing.zip");
            let e = crate::remote::archive::unpack_flat(&missing, &not_a_file, "artifact app")
                .expect_err("no archive");
            let os_says = std::fs::File::open(&missing)
                .expect_err("missing")
                .to_string();
            assert_says_cause_once(&e, &os_says);
            assert!(
                matches!(&e, crate::remote::RemoteError::Io { path, cause }
                    if path == Path::new(&missing) && cause.kind() == std::io::ErrorKind::NotFound),
                "{e:?}"
            );
        }
    }
}
