//! The disk image reader: any bytes ending in a `koly` trailer (the fuzzer's input gets one
//! when it has none) are verified to a verdict, never a panic, abort or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::verify::{dmg, signature::Expected};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("fuzz.dmg");
    let mut bytes = data.to_vec();
    // A trailer is 512 bytes starting `koly`; seed one so the reader goes past the magic.
    if bytes.len() < 512 || &bytes[bytes.len() - 512..bytes.len() - 508] != b"koly" {
        let mut koly = vec![0u8; 512];
        koly[..4].copy_from_slice(b"koly");
        let n = data.len().min(508);
        koly[4..4 + n].copy_from_slice(&data[..n]);
        bytes.extend_from_slice(&koly);
    }
    std::fs::write(&path, &bytes).expect("write");
    let _ = dmg::verify(&path, &Expected::default());
});
