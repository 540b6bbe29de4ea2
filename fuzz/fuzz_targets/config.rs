//! The workspace config loader: any text is a config or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = release_console::workspace::config::Config::parse(
            text,
            std::path::Path::new("release-console.toml"),
        );
    }
});
