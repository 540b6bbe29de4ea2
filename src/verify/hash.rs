//! Streaming SHA-256 of files: page-aligned reads, several files in parallel, progress in bytes
//! per file, cancellable.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sha2::Digest as _;
use tokio_util::sync::CancellationToken;

/// Read size. A heap buffer of 128 KiB or more starts 16 bytes past a page boundary and makes
/// `read()` cost 3.5x the kernel time, so the buffer is aligned to a page by hand.
const BUF_BYTES: usize = 1024 * 1024;
const PAGE: usize = 4096;

/// Whether this CPU has the SHA extensions that `sha2` uses when present (x86-64 only).
pub fn cpu_has_sha_extensions() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("sha2")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// How one file is read while it is hashed, when a core is spare for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Page-aligned reads and hashing on one thread.
    OneThread,
    /// A reader thread fills buffers while this one hashes ([`hash_file_pipelined`]).
    ReaderThread,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::OneThread => "one thread, aligned reads",
            Strategy::ReaderThread => "reader thread + hasher",
        }
    }
}

/// The CPU, as the OS names it (`model name` in /proc/cpuinfo), or `unknown`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| format!("unknown {}", std::env::consts::ARCH))
}

/// The measurement a strategy was chosen by, as kept per machine.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub cpu: String,
    pub cores: usize,
    pub strategy: Strategy,
    pub one_thread_gb_per_sec: f64,
    pub reader_thread_gb_per_sec: f64,
}

/// A reader thread must beat one thread by this much to be chosen (it costs a core).
const READER_MARGIN: f64 = 1.05;
const CALIBRATION_BYTES: usize = 64 * 1024 * 1024;

static STRATEGY: std::sync::OnceLock<Calibration> = std::sync::OnceLock::new();

fn calibration_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "release-console")
        .map(|d| d.cache_dir().join("hash-strategy.json"))
}

/// The strategy for this machine: measured once (a 64 MiB file hashed both ways, best of three,
/// about a third of a second) and kept in the user's cache, keyed by CPU model and core count,
/// so another machine, or this disk in another machine, measures again.
pub fn calibration() -> &'static Calibration {
    STRATEGY.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let cpu = cpu_model();
        let path = calibration_path();
        if let Some(kept) = path
            .as_deref()
            .and_then(|p| crate::store::read_json::<Calibration>(p).ok().flatten())
            .filter(|c| c.cpu == cpu && c.cores == cores)
        {
            return kept;
        }
        let measured = measure(&cpu, cores).unwrap_or(Calibration {
            cpu,
            cores,
            strategy: Strategy::OneThread,
            one_thread_gb_per_sec: 0.0,
            reader_thread_gb_per_sec: 0.0,
        });
        if let Some(p) = path
            && measured.one_thread_gb_per_sec > 0.0
        {
            let _ = crate::store::write_json(&p, &measured);
        }
        measured
    })
}

/// The reader thread only when it is measurably faster here: it costs a core.
pub fn choose(one_thread_gb_per_sec: f64, reader_thread_gb_per_sec: f64) -> Strategy {
    if reader_thread_gb_per_sec > one_thread_gb_per_sec * READER_MARGIN {
        Strategy::ReaderThread
    } else {
        Strategy::OneThread
    }
}

/// Times both strategies on a warm 64 MiB file (best of three each).
pub fn measure(cpu: &str, cores: usize) -> std::io::Result<Calibration> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("calibrate.bin");
    let chunk: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    {
        let mut f = std::fs::File::create(&file)?;
        for _ in 0..CALIBRATION_BYTES / chunk.len() {
            std::io::Write::write_all(&mut f, &chunk)?;
        }
        f.sync_all()?;
    }
    let cancel = CancellationToken::new();
    let time = |pipelined: bool| -> std::io::Result<f64> {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let done = AtomicU64::new(0);
            let t = std::time::Instant::now();
            let r = if pipelined {
                hash_file_pipelined(&file, &done, &cancel)
            } else {
                hash_file(&file, &done, &cancel)
            };
            r.map_err(|e| std::io::Error::other(e.to_string()))?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(CALIBRATION_BYTES as f64 / best / 1e9)
    };
    time(false)?; // warm the page cache
    let one = time(false)?;
    let reader = if cores >= 2 { time(true)? } else { 0.0 };
    Ok(Calibration {
        cpu: cpu.to_owned(),
        cores,
        strategy: choose(one, reader),
        one_thread_gb_per_sec: one,
        reader_thread_gb_per_sec: reader,
    })
}

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The result of hashing one file.
pub type HashResult = Result<Digest, HashError>;

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

/// A page-aligned read buffer, without unsafe code: a larger Vec, sliced at the first page
/// boundary.
struct AlignedBuf {
    storage: Vec<u8>,
    offset: usize,
}

impl AlignedBuf {
    fn new() -> Self {
        let storage = vec![0u8; BUF_BYTES + PAGE];
        let offset = storage.as_ptr().align_offset(PAGE).min(PAGE);
        Self { storage, offset }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.offset..self.offset + BUF_BYTES]
    }
}

/// SHA-256 of one file; `done` counts bytes hashed so far.
pub fn hash_file(path: &Path, done: &AtomicU64, cancel: &CancellationToken) -> HashResult {
    let mut buf = AlignedBuf::new();
    hash_with(path, done, cancel, &mut buf)
}

fn hash_with(
    path: &Path,
    done: &AtomicU64,
    cancel: &CancellationToken,
    buf: &mut AlignedBuf,
) -> HashResult {
    let io = |source| HashError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = sha2::Sha256::new();
    let buf = buf.as_mut();
    loop {
        if cancel.is_cancelled() {
            return Err(HashError::Cancelled);
        }
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        hasher.update(&buf[..n]);
        done.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(hasher.finalize().into())
}

/// SHA-256 of one file with reading and hashing on two threads: the reader fills page-aligned
/// buffers while the hasher digests the previous one, so the kernel copy is off the critical
/// path and one file hashes near the in-memory speed of SHA-256.
pub fn hash_file_pipelined(
    path: &Path,
    done: &AtomicU64,
    cancel: &CancellationToken,
) -> HashResult {
    #![expect(
        clippy::disallowed_methods,
        reason = "a bounded hand-off of buffers between two blocking threads on the hashing hot path"
    )]
    use std::sync::mpsc::sync_channel;
    const IN_FLIGHT: usize = 3;
    let io = |source| HashError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let (full_tx, full_rx) = sync_channel::<(AlignedBuf, usize)>(IN_FLIGHT);
    let (free_tx, free_rx) = sync_channel::<AlignedBuf>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = free_tx.send(AlignedBuf::new());
    }
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<(), std::io::Error> {
            while let Ok(mut buf) = free_rx.recv() {
                if cancel.is_cancelled() {
                    return Ok(());
                }
                let n = read_full(&mut file, buf.as_mut())?;
                if n == 0 || full_tx.send((buf, n)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        });
        let mut hasher = sha2::Sha256::new();
        while let Ok((mut buf, n)) = full_rx.recv() {
            hasher.update(&buf.as_mut()[..n]);
            done.fetch_add(n as u64, Ordering::Relaxed);
            // The reader may already be done (EOF) and gone; the rest is still queued.
            let _ = free_tx.send(buf);
        }
        drop(free_tx);
        match reader.join() {
            Ok(Ok(())) if cancel.is_cancelled() => Err(HashError::Cancelled),
            Ok(Ok(())) => Ok(hasher.finalize().into()),
            Ok(Err(e)) => Err(io(e)),
            Err(_) => Err(io(std::io::Error::other("reader thread panicked"))),
        }
    })
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Hashes `paths` on `threads` threads (biggest files first, so the work evens out).
/// `done[i]` counts the bytes hashed of `paths[i]`; results come back in input order.
pub fn hash_files(
    paths: &[PathBuf],
    threads: usize,
    done: &[AtomicU64],
    cancel: &CancellationToken,
) -> Vec<HashResult> {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    let sizes: Vec<u64> = paths
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<HashResult>>> =
        paths.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let cores = threads.max(1);
    // With a core to spare per file, overlap reading and hashing, where this machine gains by it.
    let pipelined = paths.len() * 2 <= cores && calibration().strategy == Strategy::ReaderThread;
    let threads = cores.clamp(1, paths.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buf = AlignedBuf::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let r = if pipelined {
                        hash_file_pipelined(&paths[i], &done[i], cancel)
                    } else {
                        hash_with(&paths[i], &done[i], cancel, &mut buf)
                    };
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or(Err(HashError::Cancelled))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strategy_is_measured_on_this_machine_and_the_reader_must_earn_its_core() {
        assert_eq!(choose(1.6, 1.45), Strategy::OneThread, "this Xeon");
        assert_eq!(choose(1.2, 1.7), Strategy::ReaderThread, "the EPYC");
        assert_eq!(choose(1.6, 1.65), Strategy::OneThread, "within the margin");
        let c = measure("test cpu", 2).expect("measure");
        assert!(
            c.one_thread_gb_per_sec > 0.0 && c.reader_thread_gb_per_sec > 0.0,
            "{c:?}"
        );
        assert_eq!(
            c.strategy,
            choose(c.one_thread_gb_per_sec, c.reader_thread_gb_per_sec)
        );
        let single = measure("test cpu", 1).expect("measure");
        assert_eq!(
            single.strategy,
            Strategy::OneThread,
            "no spare core, no reader"
        );
    }

    #[test]
    fn hashes_match_known_values_and_count_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"test").expect("write");
        std::fs::write(&b, vec![7u8; 3 * BUF_BYTES + 5]).expect("write");
        let done = [AtomicU64::new(0), AtomicU64::new(0)];
        let cancel = CancellationToken::new();
        let out = hash_files(&[a, b.clone()], 2, &done, &cancel);
        assert_eq!(
            crate::hex(&out[0].as_ref().expect("a")[..]),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        let expected = crate::sha256_hex(&vec![7u8; 3 * BUF_BYTES + 5]);
        assert_eq!(crate::hex(&out[1].as_ref().expect("b")[..]), expected);
        assert_eq!(done[1].load(Ordering::Relaxed), (3 * BUF_BYTES + 5) as u64);
        let piped = AtomicU64::new(0);
        let one = hash_file_pipelined(&b, &piped, &cancel).expect("pipelined");
        assert_eq!(crate::hex(&one), expected);
        assert_eq!(piped.load(Ordering::Relaxed), (3 * BUF_BYTES + 5) as u64);
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").expect("write");
        assert_eq!(
            crate::hex(&hash_file_pipelined(&empty, &AtomicU64::new(0), &cancel).expect("empty")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        cancel.cancel();
        assert!(matches!(
            hash_file(&b, &AtomicU64::new(0), &cancel),
            Err(HashError::Cancelled)
        ));
        assert!(matches!(
            hash_file_pipelined(&b, &AtomicU64::new(0), &cancel),
            Err(HashError::Cancelled)
        ));
    }
}

#[cfg(test)]
mod boundary_tests {
    use super::*;

    /// Sizes around the buffer boundary, where a pipeline can lose or reorder its last buffer.
    #[test]
    fn every_path_agrees_at_buffer_boundaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        for size in [
            0,
            5,
            BUF_BYTES - 1,
            BUF_BYTES,
            BUF_BYTES + 1,
            3 * BUF_BYTES + 7,
        ] {
            let path = dir.path().join(format!("f{size}"));
            let data: Vec<u8> = (0..size)
                .map(|i| u8::try_from(i % 251).expect("below 251"))
                .collect();
            std::fs::write(&path, &data).expect("write");
            let want = crate::sha256_hex(&data);
            let plain = hash_file(&path, &AtomicU64::new(0), &cancel).expect("plain");
            let piped = hash_file_pipelined(&path, &AtomicU64::new(0), &cancel).expect("piped");
            assert_eq!(crate::hex(&plain), want, "plain, {size} bytes");
            assert_eq!(crate::hex(&piped), want, "pipelined, {size} bytes");
        }
    }
}
