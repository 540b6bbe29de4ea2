//! Unpacking a downloaded artifact archive (zip) into one folder, refusing any entry that
//! would land outside it.

use std::path::{Component, Path, PathBuf};

use super::RemoteError;

/// Unpacks every file of the zip at `archive` into `into` (created), flat: entries must be
/// plain names at the archive's top level. An entry with `..`, an absolute path, a drive or a
/// folder is refused, and so is the whole archive, before anything is written. Returns the
/// files written, in archive order.
pub fn unpack_flat(archive: &Path, into: &Path, what: &str) -> Result<Vec<PathBuf>, RemoteError> {
    let io = |p: &Path, e: std::io::Error| RemoteError::Io(format!("{}: {e}", p.display()));
    let file = std::fs::File::open(archive).map_err(|e| io(archive, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| RemoteError::Archive(format!("{what}: not a zip archive: {e}")))?;
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
    for (i, name) in names {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| RemoteError::Archive(format!("{what}: {name}: {e}")))?;
        let path = into.join(&name);
        let mut tmp = tempfile::NamedTempFile::new_in(into).map_err(|e| io(into, e))?;
        std::io::copy(&mut entry, tmp.as_file_mut())
            .map_err(|e| RemoteError::Archive(format!("{what}: {name}: {e}")))?;
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
