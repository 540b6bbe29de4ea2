//! Atomic state writes: temp file in the same folder, fsync, rename, fsync the folder.
//!
//! A crash or `kill -9` at any moment leaves either the old or the new file, never a mix.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A state file that could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {action}: {cause}")]
    Io {
        path: String,
        action: &'static str,
        cause: std::io::Error,
    },
    #[error("{path}: not valid state (line {line}, column {column}): {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

fn io_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> StateError + 'a {
    move |cause| StateError::Io {
        path: path.display().to_string(),
        action,
        cause,
    }
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    write_atomic_with(path, |tmp| tmp.write_all(bytes))
}

/// Copies the file at `from` to `path` atomically and durably, streaming it (installers are
/// gigabytes: never a whole file in memory). Returns the bytes copied.
pub fn copy_atomic(from: &Path, path: &Path) -> Result<u64, StateError> {
    let mut source = std::fs::File::open(from).map_err(io_err(from, "open"))?;
    let mut copied = 0;
    write_atomic_with(path, |tmp| {
        copied = std::io::copy(&mut source, tmp)?;
        Ok(())
    })?;
    Ok(copied)
}

/// Writes `bytes` to a file a person named (an export, `--write-sums`): as [`write_atomic`],
/// and a symbolic link there is refused rather than replaced (`/dev/stdout` is one).
pub fn write_atomic_named(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(StateError::Io {
            path: path.display().to_string(),
            action: "replace",
            cause: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a symbolic link: not replaced (name the file itself)",
            ),
        });
    }
    write_atomic(path, bytes)
}

/// [`write_json`] of a file that only helps a reader which checks it and accepts the version
/// before it (the audit log's head): replaced atomically as any state file (temp, fsync,
/// rename), but the folder is fsynced only when the file is new. A power cut right after the
/// rename may leave the version before it, never a torn or missing one; a `kill -9` leaves the
/// new one, as for any state file. One fsync fewer per write.
pub fn write_json_hint<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let bytes = pretty_json(path, value)?;
    let existed = std::fs::symlink_metadata(path).is_ok();
    write_atomic_then(path, |tmp| tmp.write_all(&bytes), !existed)
}

/// Fills a temp file beside `path` with `fill`, fsyncs it, and renames it into place. What is
/// at `path` must be a regular file or a link, or nothing: a FIFO, socket, device or folder is
/// never replaced (as root, a rename over `/dev/full` replaces the device).
fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), StateError> {
    write_atomic_then(path, fill, true)
}

/// [`write_atomic_with`], fsyncing the folder after the rename when `sync_dir`.
fn write_atomic_then(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    sync_dir: bool,
) -> Result<(), StateError> {
    if let Ok(m) = std::fs::symlink_metadata(path)
        && !m.is_file()
        && !m.file_type().is_symlink()
    {
        return Err(StateError::Io {
            path: path.display().to_string(),
            action: "replace",
            cause: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a FIFO, socket, device or folder): not replaced",
            ),
        });
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir, "create folder"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io_err(dir, "create temp file"))?;
    fill(tmp.as_file_mut()).map_err(io_err(path, "write"))?;
    tmp.as_file().sync_all().map_err(io_err(path, "fsync"))?;
    tmp.persist(path).map_err(|e| StateError::Io {
        path: path.display().to_string(),
        action: "rename into place",
        cause: e.error,
    })?;
    // Make the rename itself durable.
    if sync_dir && let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes temp files a crashed writer left in `dir` (`.tmp-*` older than `older_than`; a live
/// writer's temp file is seconds old). They never replaced state; this only reclaims space.
/// Returns how many were removed.
pub fn sweep_stale_temps(dir: &Path, older_than: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let now = std::time::SystemTime::now();
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .filter(|e| {
            e.metadata().is_ok_and(|m| {
                m.is_file()
                    && m.modified()
                        .ok()
                        .and_then(|t| now.duration_since(t).ok())
                        .is_some_and(|age| age > older_than)
            })
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    write_atomic(path, &pretty_json(path, value)?)
}

/// `value` as pretty JSON with a final newline, as the state file `path` holds it.
fn pretty_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StateError::Parse {
        path: path.display().to_string(),
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Takes an exclusive lock on `dir/.NAME.lock` (creating the folder and the file when missing)
/// and holds it until the returned file is dropped, so the GUI and CLI processes
/// read-modify-write one state file at a time.
pub fn lock(dir: &Path, name: &str) -> Result<std::fs::File, StateError> {
    let (file, path) = lock_file(dir, name)?;
    file.lock().map_err(io_err(&path, "lock"))?;
    Ok(file)
}

/// The file `dir/.NAME.lock` is (made and) opened, not locked yet.
fn lock_file(dir: &Path, name: &str) -> Result<(std::fs::File, PathBuf), StateError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir, "create folder"))?;
    let path = dir.join(format!(".{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path, "open lock"))?;
    Ok((file, path))
}

/// [`lock`] when it is free: `None` while another process (or another handle) holds it.
pub fn try_lock(dir: &Path, name: &str) -> Result<Option<std::fs::File>, StateError> {
    let (file, path) = lock_file(dir, name)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path, "lock")(e)),
    }
}

/// Read-modify-write of the JSON state at `path` under its lock (`.STEM.lock` beside it): reads
/// it (the default when missing), lets `change` modify it, and writes it back atomically. When
/// `change` fails nothing is written.
pub fn update_json<T, R, E>(
    path: &Path,
    change: impl FnOnce(&mut T) -> Result<R, E>,
) -> Result<R, E>
where
    T: Serialize + DeserializeOwned + Default,
    E: From<StateError>,
{
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .map_or_else(|| "state".into(), |s| s.to_string_lossy());
    let _lock = lock(dir, &stem)?;
    let mut state: T = read_json(path)?.unwrap_or_default();
    let out = change(&mut state)?;
    write_json(path, &state)?;
    Ok(out)
}

/// Reads JSON state; `Ok(None)` when the file does not exist yet.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, "read")(e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        let position = format!(" at line {} column {}", e.line(), e.column());
        let message = e.to_string();
        StateError::Parse {
            path: path.display().to_string(),
            line: e.line(),
            column: e.column(),
            message: message
                .strip_suffix(&position)
                .unwrap_or(&message)
                .to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::FileTypeExt as _;

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_folder_is_never_replaced_and_a_named_file_never_through_a_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let err = write_atomic(&fifo, b"x").expect_err("a FIFO");
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(
            std::fs::symlink_metadata(&fifo)
                .expect("still there")
                .file_type()
                .is_fifo()
        );
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).expect("folder");
        assert!(write_atomic(&folder, b"x").is_err());
        assert!(folder.is_dir());
        // A link a person named is refused; its target is untouched.
        let target = dir.path().join("target");
        std::fs::write(&target, "untouched").expect("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("link");
        let err = write_atomic_named(&link, b"x").expect_err("a link");
        assert!(
            err.to_string().contains("a symbolic link: not replaced"),
            "{err}"
        );
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&target).expect("target"),
            "untouched"
        );
        // A regular file is replaced, as before.
        write_atomic_named(&target, b"new").expect("a file");
        assert_eq!(std::fs::read_to_string(&target).expect("target"), "new");
    }

    #[test]
    fn write_then_read_and_no_temp_files_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b/state.json");
        write_json(&path, &vec![1, 2, 3]).expect("write");
        write_json(&path, &vec![4]).expect("overwrite");
        let back: Option<Vec<i32>> = read_json(&path).expect("read");
        assert_eq!(back, Some(vec![4]));
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn missing_is_none_and_garbage_names_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.json");
        assert_eq!(read_json::<i32>(&path).expect("missing ok"), None);
        std::fs::write(&path, "{\n oops").expect("write");
        let err = read_json::<serde_json::Value>(&path).expect_err("garbage");
        let msg = err.to_string();
        assert!(msg.contains("s.json: not valid state (line 2"), "{msg}");
        assert!(!msg.contains("at line"), "position given once: {msg}");
    }
}
