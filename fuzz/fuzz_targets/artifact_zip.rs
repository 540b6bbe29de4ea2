//! The artifact unpacker: any zip unpacks flat into its folder or is refused, never a panic;
//! every file written is a plain name inside that folder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::remote::archive;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("dir");
    let zip = dir.path().join("a.zip");
    std::fs::write(&zip, data).expect("write");
    let into = dir.path().join("out");
    if let Ok(files) = archive::unpack_flat(&zip, &into, "fuzz") {
        for f in files {
            assert_eq!(f.parent(), Some(into.as_path()), "{}", f.display());
            assert!(std::fs::symlink_metadata(&f).expect("written").is_file());
        }
    }
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "a.zip" && n != "out")
        .collect();
    assert!(beside.is_empty(), "written beside the folder: {beside:?}");
});
