//! SHA256SUMS: any text parses without a panic, and what parses renders and parses back to
//! the same entries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::digest::Sha256;
use release_console::verify::sums;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = sums::parse(text);
    let entries: Vec<(String, Sha256)> = parsed
        .entries
        .iter()
        .filter(|e| sums::is_artifact(&e.name))
        .map(|e| (e.name.clone(), e.sha256))
        .collect();
    let again = sums::parse(&sums::render(&entries));
    assert!(again.bad_lines.is_empty(), "{:?}", again.bad_lines);
    let mut want = entries;
    want.sort();
    want.dedup_by(|a, b| a.0 == b.0);
    let mut got: Vec<(String, Sha256)> =
        again.entries.into_iter().map(|e| (e.name, e.sha256)).collect();
    got.sort();
    assert_eq!(got, want);
});
