//! The flat package (XAR) reader: any bytes after a `xar!` magic are verified to a verdict,
//! never a panic, abort (a huge reservation) or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::verify::{pkg, signature::Expected};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("fuzz.pkg");
    let mut bytes = b"xar!".to_vec();
    bytes.extend_from_slice(data);
    std::fs::write(&path, &bytes).expect("write");
    let _ = pkg::verify(&path, &Expected::default());
});
