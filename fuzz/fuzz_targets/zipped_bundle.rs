//! The zipped app bundle reader: any zip is unpacked (links resolved against its listing,
//! sizes capped) and verified to a verdict, never a panic or hang; nothing is written outside
//! the reader's scratch folder (the input's links point at a folder this target watches).
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::verify::{bundle, signature::Expected};

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("fuzz.zip");
    std::fs::write(&path, data).expect("write");
    let _ = bundle::verify_zipped(&path, &Expected::default(), &tokio_util::sync::CancellationToken::new());
    // The archive sits in `dir`; nothing the reader did may have landed beside it.
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(beside.len(), 1, "written beside the archive: {beside:?}");
});
