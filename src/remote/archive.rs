//! Unpacking a downloaded artifact archive (zip) into one folder, refusing any entry that
//! would land outside it.

use std::path::{Component, Path, PathBuf};

use super::RemoteError;

/// What an artifact may unpack to: more entries or bytes is a zip bomb, refused before
/// anything is written.
#[derive(Debug, Clone, Copy)]
struct Limits {
    entries: usize,
    bytes: u64,
}

const LIMITS: Limits = Limits {
    entries: 10_000,
    bytes: 16 << 30,
};

/// Unpacks every file of the zip at `archive` into `into` (created), flat: entries must be
/// plain names at the archive's top level. An entry with `..`, an absolute path, a drive or a
/// folder is refused, and so is the whole archive, before anything is written; so is a
/// symbolic link, more than 10,000 entries, or more than 16 GiB unpacked (an entry that
/// unpacks to more than its header declares stops there). Returns the files written, in
/// archive order.
pub fn unpack_flat(archive: &Path, into: &Path, what: &str) -> Result<Vec<PathBuf>, RemoteError> {
    unpack_flat_with(archive, into, what, LIMITS)
}

fn unpack_flat_with(
    archive: &Path,
    into: &Path,
    what: &str,
    limits: Limits,
) -> Result<Vec<PathBuf>, RemoteError> {
    let io = |p: &Path, cause: std::io::Error| RemoteError::Io {
        path: p.to_owned(),
        cause,
    };
    let file = std::fs::File::open(archive).map_err(|e| io(archive, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| RemoteError::Archive(format!("{what}: not a zip archive: {e}")))?;
    if zip.len() > limits.entries {
        return Err(RemoteError::Archive(format!(
            "{what}: {} entries, more than the {} an artifact may hold; nothing was unpacked",
            zip.len(),
            limits.entries
        )));
    }
    let mut declared = 0u64;
    // Every name is checked before any byte is written.
    let mut names = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| RemoteError::Archive(format!("{what}: entry {i}: {e}")))?;
        let raw = entry
            .name()
            .map_err(|e| RemoteError::Archive(format!("{what}: entry {i}: {e}")))?
            .into_owned();
        if entry.is_dir() {
            continue;
        }
        if entry.is_symlink() {
            return Err(RemoteError::Archive(format!(
                "{what}: entry {raw:?} is a symbolic link, not a file; nothing was unpacked"
            )));
        }
        declared = declared.saturating_add(entry.size());
        if declared > limits.bytes {
            return Err(RemoteError::Archive(format!(
                "{what}: unpacks to more than {} MiB (at {raw:?}); nothing was unpacked",
                limits.bytes >> 20
            )));
        }
        match plain_name(&raw) {
            Some(name) => names.push((i, name)),
            None => {
                return Err(RemoteError::Archive(format!(
                    "{what}: entry {raw:?} would be written outside the artifacts folder (a \
                     `..`, absolute or nested path); nothing was unpacked"
                )));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, name) in &names {
        if !seen.insert(name.clone()) {
            return Err(RemoteError::Archive(format!(
                "{what}: {name:?} appears twice; nothing was unpacked"
            )));
        }
    }
    std::fs::create_dir_all(into).map_err(|e| io(into, e))?;
    let mut written = Vec::with_capacity(names.len());
    let mut budget = limits.bytes;
    for (i, name) in names {
        let entry = zip
            .by_index(i)
            .map_err(|e| RemoteError::Archive(format!("{what}: {name}: {e}")))?;
        let path = into.join(&name);
        let mut tmp = tempfile::NamedTempFile::new_in(into).map_err(|e| io(into, e))?;
        let allowed = entry.size().min(budget);
        let n = std::io::copy(
            &mut std::io::Read::take(entry, allowed + 1),
            tmp.as_file_mut(),
        )
        .map_err(|e| RemoteError::Archive(format!("{what}: {name}: {e}")))?;
        if n > allowed {
            return Err(RemoteError::Archive(format!(
                "{what}: {name} unpacks to more than the {allowed} bytes its entry declares; \
                 refusing the archive"
            )));
        }
        budget -= n;
        tmp.as_file().sync_all().map_err(|e| io(&path, e))?;
        tmp.persist(&path).map_err(|e| io(&path, e.error))?;
        written.push(path);
    }
    Ok(written)
}

/// `name` when it is one normal path component (no `..`, root, drive, or separator of
/// either kind).
fn plain_name(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.contains('\\') || raw.contains('\0') {
        return None;
    }
    let mut parts = Path::new(raw).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(n)), None) => n.to_str().map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn zip_to(path: &Path, entries: &[(&str, Result<&[u8], &str>)]) {
        let mut w = zip::ZipWriter::new(std::fs::File::create(path).expect("zip"));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, what) in entries {
            match what {
                Ok(data) => {
                    w.start_file(*name, opts).expect("file");
                    w.write_all(data).expect("write");
                }
                Err(target) => w.add_symlink(*name, *target, opts).expect("link"),
            }
        }
        w.finish().expect("zip");
    }

    #[test]
    fn a_link_entry_is_refused_not_written_as_a_file() {
        let dir = tempfile::tempdir().expect("dir");
        let zip = dir.path().join("a.zip");
        zip_to(
            &zip,
            &[("App.dmg", Ok(b"dmg")), ("App.pkg", Err("/etc/passwd"))],
        );
        let into = dir.path().join("out");
        let err = unpack_flat(&zip, &into, "artifact macos").expect_err("refused");
        assert!(
            err.to_string()
                .contains("artifact macos: entry \"App.pkg\" is a symbolic link"),
            "{err}"
        );
        assert!(!into.exists(), "nothing was unpacked");
    }

    #[test]
    fn zip_bombs_are_refused_by_entries_declared_bytes_and_bytes_unpacked() {
        let dir = tempfile::tempdir().expect("dir");
        let zip = dir.path().join("a.zip");
        // Five entries declaring 4 GiB each: past the 16 GiB cap before anything is written.
        let names: Vec<String> = (0..5).map(|i| format!("f{i}.dmg")).collect();
        let list: Vec<(&str, Result<&[u8], &str>)> = names
            .iter()
            .map(|n| (n.as_str(), Ok(b"0123456789".as_slice())))
            .collect();
        zip_to(&zip, &list);
        let mut bytes = std::fs::read(&zip).expect("read");
        crate::test_support::zip_declare_size(&mut bytes, 0xFFFF_FFF0);
        std::fs::write(&zip, &bytes).expect("write");
        let into = dir.path().join("declared");
        let err = unpack_flat(&zip, &into, "artifact x").expect_err("bomb");
        assert!(
            err.to_string().contains("unpacks to more than 16384 MiB"),
            "{err}"
        );
        assert!(!into.exists());
        // An entry unpacking to more than it declares stops at the declared size.
        let big = vec![7u8; 100_000];
        zip_to(&zip, &[("big.dmg", Ok(big.as_slice()))]);
        let mut bytes = std::fs::read(&zip).expect("read");
        crate::test_support::zip_declare_size(&mut bytes, 10);
        std::fs::write(&zip, &bytes).expect("write");
        let err = unpack_flat(&zip, &dir.path().join("lying"), "artifact x").expect_err("lying");
        // (The zip reader stops it too, in its own words; either way at the declared size.)
        let err = err.to_string();
        assert!(
            err.contains("artifact x: big.dmg") && err.contains("declare"),
            "{err}"
        );
        assert!(!dir.path().join("lying/big.dmg").exists());
        // Entry count, at a limit small enough to test.
        zip_to(&zip, &list);
        let small = Limits {
            entries: 4,
            bytes: 1 << 20,
        };
        let err = unpack_flat_with(&zip, &dir.path().join("n"), "artifact x", small)
            .expect_err("too many");
        assert!(
            err.to_string().contains("5 entries, more than the 4"),
            "{err}"
        );
        let fits = Limits {
            entries: 5,
            bytes: 50,
        };
        let files = unpack_flat_with(&zip, &dir.path().join("ok"), "artifact x", fits)
            .expect("at the limits");
        assert_eq!(files.len(), 5);
    }

    #[test]
    fn only_plain_top_level_names_pass() {
        assert_eq!(plain_name("App-1.0.dmg").as_deref(), Some("App-1.0.dmg"));
        for bad in [
            "../x",
            "/etc/passwd",
            "a/b",
            "a\\b",
            "..",
            ".",
            "",
            "C:\\x",
            "./x/../../y",
        ] {
            assert_eq!(plain_name(bad), None, "{bad:?}");
        }
    }
}
