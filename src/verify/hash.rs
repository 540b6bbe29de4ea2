//! Streaming SHA-256 of files: page-aligned reads, several files in parallel (two streams per
//! core where this machine gains by it), progress in bytes per file, cancellable.

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
    /// How one file is read when a core is spare for it.
    pub strategy: Strategy,
    pub one_thread_gb_per_sec: f64,
    pub reader_thread_gb_per_sec: f64,
    /// Whether each core hashes two files at once ([`super::sha_pair`]) when there are more
    /// files than cores.
    pub two_streams: bool,
    /// SHA-256 of data in memory, one stream on one core.
    pub one_stream_gb_per_sec: f64,
    /// The same, two interleaved streams on one core (both streams' bytes counted).
    pub two_streams_gb_per_sec: f64,
}

/// A reader thread must beat one thread by this much to be chosen (it costs a core).
const READER_MARGIN: f64 = 1.05;
/// Two streams per core must beat one by this much (they cost a second buffer and the
/// hand-over between files).
const PAIR_MARGIN: f64 = 1.05;
const CALIBRATION_BYTES: usize = 64 * 1024 * 1024;

static STRATEGY: std::sync::OnceLock<Calibration> = std::sync::OnceLock::new();

fn calibration_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "release-console")
        // An unoptimised build measures its own (slower) kernel: it must not choose for the
        // release build on the same machine.
        .map(|d| {
            d.cache_dir().join(if cfg!(debug_assertions) {
                "hash-strategy-debug.json"
            } else {
                "hash-strategy.json"
            })
        })
}

/// The strategy for this machine: measured once (a 64 MiB file hashed both ways, best of three,
/// and 4 MiB in memory as one stream and as two; about half a second) and kept in the user's
/// cache, keyed by CPU model and core count, so another machine, or this disk in another
/// machine, measures again. A kept file from before a field existed fails to parse and is
/// measured again too.
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
            two_streams: false,
            one_stream_gb_per_sec: 0.0,
            two_streams_gb_per_sec: 0.0,
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

/// Two streams per core only where the kernel runs and measurably beats one stream.
pub fn choose_pairing(kernel: bool, one_stream: f64, two_streams: f64) -> bool {
    kernel && two_streams > one_stream * PAIR_MARGIN
}

/// SHA-256 in memory on this core, one stream and two interleaved, in GB/s (best of five,
/// alternating, so a change of clock speed hits both alike).
pub fn measure_streams() -> (f64, f64) {
    use super::sha_pair;
    const BYTES: usize = 4 * 1024 * 1024;
    let a: Vec<[u8; 64]> = (0..BYTES / 64)
        .map(|i| std::array::from_fn(|j| (i * 64 + j).wrapping_mul(131).to_le_bytes()[0]))
        .collect();
    let b: Vec<[u8; 64]> = a.iter().rev().copied().collect();
    let (mut one, mut two) = (f64::INFINITY, f64::INFINITY);
    let (mut sa, mut sb) = (sha_pair::H0, sha_pair::H0);
    for _ in 0..5 {
        let t = std::time::Instant::now();
        sha_pair::compress(&mut sa, &a);
        one = one.min(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        sha_pair::compress2(&mut sa, &mut sb, &a, &b);
        two = two.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box((sa, sb));
    (BYTES as f64 / one / 1e9, 2.0 * BYTES as f64 / two / 1e9)
}

/// Times both strategies on a warm 64 MiB file (best of three each), and one stream against
/// two in memory.
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
    let (one_stream, two_streams) = measure_streams();
    Ok(Calibration {
        cpu: cpu.to_owned(),
        cores,
        strategy: choose(one, reader),
        one_thread_gb_per_sec: one,
        reader_thread_gb_per_sec: reader,
        two_streams: choose_pairing(super::sha_pair::available(), one_stream, two_streams),
        one_stream_gb_per_sec: one_stream,
        two_streams_gb_per_sec: two_streams,
    })
}

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The result of hashing one file.
pub type HashResult = Result<Digest, HashError>;

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

/// A page-aligned 1 MiB read buffer, without unsafe code: a larger Vec, sliced at the first
/// page boundary. Any loop that reads big files in 1 MiB pieces should use it: `read()` into a
/// heap Vec that size costs several times the kernel time (see [`BUF_BYTES`]).
pub struct AlignedBuf {
    storage: Vec<u8>,
    offset: usize,
}

impl AlignedBuf {
    pub fn new() -> Self {
        let storage = vec![0u8; BUF_BYTES + PAGE];
        let offset = storage.as_ptr().align_offset(PAGE).min(PAGE);
        Self { storage, offset }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.offset..self.offset + BUF_BYTES]
    }

    pub fn bytes(&self) -> &[u8] {
        &self.storage[self.offset..self.offset + BUF_BYTES]
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({BUF_BYTES} bytes)")
    }
}

impl Default for AlignedBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256 of one file; `done` counts bytes hashed so far.
pub fn hash_file(path: &Path, done: &AtomicU64, cancel: &CancellationToken) -> HashResult {
    let io = |cause| HashError::Io {
        path: path.to_owned(),
        cause,
    };
    let mut stream = Stream::open(0, path, AlignedBuf::new()).map_err(io)?;
    loop {
        if cancel.is_cancelled() {
            return Err(HashError::Cancelled);
        }
        stream.refill().map_err(io)?;
        if stream.at_end() {
            return Ok(stream.finish(done).0);
        }
        stream.hash_pending(done);
    }
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
    let io = |cause| HashError::Io {
        path: path.to_owned(),
        cause,
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
                let n = read_full(&mut file, buf.bytes_mut())?;
                if n == 0 || full_tx.send((buf, n)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        });
        let mut hasher = sha2::Sha256::new();
        while let Ok((mut buf, n)) = full_rx.recv() {
            hasher.update(&buf.bytes_mut()[..n]);
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

/// One file being hashed by a worker: its buffer, the SHA-256 state and the bytes hashed.
struct Stream {
    index: usize,
    file: std::fs::File,
    state: [u32; 8],
    hashed: u64,
    buf: AlignedBuf,
    /// Read but not hashed: `buf[pos..end]`.
    pos: usize,
    end: usize,
    eof: bool,
}

impl Stream {
    fn open(index: usize, path: &Path, buf: AlignedBuf) -> Result<Self, std::io::Error> {
        Ok(Self {
            index,
            file: std::fs::File::open(path)?,
            state: super::sha_pair::H0,
            hashed: 0,
            buf,
            pos: 0,
            end: 0,
            eof: false,
        })
    }

    /// Reads more once less than a block is left: what is left moves to the front, and the
    /// rest of the buffer is filled (short only at the end of the file).
    fn refill(&mut self) -> std::io::Result<()> {
        let left = self.end - self.pos;
        if self.eof || left >= 64 {
            return Ok(());
        }
        let buf = self.buf.bytes_mut();
        buf.copy_within(self.pos..self.end, 0);
        let n = read_full(&mut self.file, &mut buf[left..])?;
        self.pos = 0;
        self.end = left + n;
        self.eof = self.end < buf.len();
        Ok(())
    }

    /// The state and the whole blocks read but not hashed yet.
    fn split(&mut self) -> (&mut [u32; 8], &[[u8; 64]]) {
        let (blocks, _) = self.buf.bytes()[self.pos..self.end].as_chunks::<64>();
        (&mut self.state, blocks)
    }

    /// Hashes every whole block read so far, as one stream.
    fn hash_pending(&mut self, done: &AtomicU64) {
        let n = self.blocks();
        let (state, blocks) = self.split();
        super::sha_pair::compress(state, blocks);
        self.consumed(n, done);
    }

    fn blocks(&self) -> usize {
        (self.end - self.pos) / 64
    }

    fn consumed(&mut self, blocks: usize, done: &AtomicU64) {
        self.pos += 64 * blocks;
        self.hashed += 64 * blocks as u64;
        done.fetch_add(64 * blocks as u64, Ordering::Relaxed);
    }

    fn at_end(&self) -> bool {
        self.eof && self.blocks() == 0
    }

    /// The digest, and the buffer back for the next file.
    fn finish(self, done: &AtomicU64) -> (Digest, AlignedBuf) {
        let tail = &self.buf.bytes()[self.pos..self.end];
        let total = self.hashed + tail.len() as u64;
        done.fetch_add(tail.len() as u64, Ordering::Relaxed);
        (super::sha_pair::finish(self.state, tail, total), self.buf)
    }
}

/// Hashes `paths` on `threads` threads (biggest files first, so the work evens out).
/// `done[i]` counts the bytes hashed of `paths[i]`; results come back in input order.
///
/// Each thread starts with one file. Where this machine's calibration found two interleaved
/// streams faster than one, a thread takes a second file while any are waiting, and hashes
/// both a buffer at a time (two files on two cores still get a core each). One file on a
/// machine with a core to spare gets the reader thread instead, where that was measured faster.
pub fn hash_files(
    paths: &[PathBuf],
    threads: usize,
    done: &[AtomicU64],
    cancel: &CancellationToken,
) -> Vec<HashResult> {
    let cores = threads.max(1);
    let cal = calibration();
    // With a core to spare per file, overlap reading and hashing, where this machine gains by it.
    let pipelined = paths.len() * 2 <= cores && cal.strategy == Strategy::ReaderThread;
    let streams = if cal.two_streams { 2 } else { 1 };
    hash_files_as(paths, cores, pipelined, streams, done, cancel)
}

/// [`hash_files`] with the strategy given: the reader thread per file, or `streams` files per
/// thread.
fn hash_files_as(
    paths: &[PathBuf],
    cores: usize,
    pipelined: bool,
    streams: usize,
    done: &[AtomicU64],
    cancel: &CancellationToken,
) -> Vec<HashResult> {
    let mut order: Vec<usize> = (0..paths.len()).collect();
    let sizes: Vec<u64> = paths
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let results: Vec<std::sync::Mutex<Option<HashResult>>> =
        paths.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let put = |i: usize, r: HashResult| {
        if let Ok(mut slot) = results[i].lock() {
            *slot = Some(r);
        }
    };
    let workers = cores.clamp(1, paths.len().max(1));
    // Each worker's first file is order[w]; the rest are taken from here.
    let next = AtomicUsize::new(workers);
    std::thread::scope(|scope| {
        for w in 0..workers {
            let (next, order, put) = (&next, &order, &put);
            scope.spawn(move || {
                if pipelined {
                    if let Some(&i) = order.get(w) {
                        put(i, hash_file_pipelined(&paths[i], &done[i], cancel));
                    }
                } else {
                    hash_streams(w, streams, order, next, paths, done, cancel, put);
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

/// One worker of [`hash_files`]: up to `streams` files at a time, starting with `order[first]`.
#[expect(
    clippy::too_many_arguments,
    reason = "the shared state of one hash_files call, passed to each of its threads"
)]
fn hash_streams(
    first: usize,
    streams: usize,
    order: &[usize],
    next: &AtomicUsize,
    paths: &[PathBuf],
    done: &[AtomicU64],
    cancel: &CancellationToken,
    put: &(dyn Fn(usize, HashResult) + Sync),
) {
    let io = |i: usize, cause| HashError::Io {
        path: paths[i].clone(),
        cause,
    };
    let mut spare: Vec<AlignedBuf> = Vec::new();
    let mut slots: Vec<Stream> = Vec::with_capacity(streams);
    let mut first = Some(first);
    loop {
        if cancel.is_cancelled() {
            return;
        }
        while slots.len() < streams {
            let k = first
                .take()
                .unwrap_or_else(|| next.fetch_add(1, Ordering::Relaxed));
            let Some(&i) = order.get(k) else { break };
            let buf = spare.pop().unwrap_or_default();
            match Stream::open(i, &paths[i], buf) {
                Ok(s) => slots.push(s),
                Err(e) => put(i, Err(io(i, e))),
            }
        }
        if slots.is_empty() {
            return;
        }
        let mut k = 0;
        while k < slots.len() {
            let s = &mut slots[k];
            match s.refill() {
                Err(e) => {
                    let i = s.index;
                    spare.push(slots.swap_remove(k).buf);
                    put(i, Err(io(i, e)));
                }
                Ok(()) if s.at_end() => {
                    let s = slots.swap_remove(k);
                    let i = s.index;
                    let (digest, buf) = s.finish(&done[i]);
                    spare.push(buf);
                    put(i, Ok(digest));
                }
                Ok(()) => k += 1,
            }
        }
        match slots.as_mut_slice() {
            [a, b] => {
                let n = a.blocks().min(b.blocks());
                let (sa, ba) = a.split();
                let (sb, bb) = b.split();
                super::sha_pair::compress2(sa, sb, &ba[..n], &bb[..n]);
                a.consumed(n, &done[a.index]);
                b.consumed(n, &done[b.index]);
            }
            [a] => a.hash_pending(&done[a.index]),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strategy_is_measured_on_this_machine_and_the_reader_must_earn_its_core() {
        assert_eq!(choose(1.6, 1.45), Strategy::OneThread, "this Xeon");
        assert_eq!(choose(1.2, 1.7), Strategy::ReaderThread, "the EPYC");
        assert_eq!(choose(1.6, 1.65), Strategy::OneThread, "within the margin");
        assert!(
            choose_pairing(true, 1.30, 1.61),
            "this Xeon: two streams 1.24x"
        );
        assert!(!choose_pairing(true, 1.30, 1.33), "within the margin");
        assert!(!choose_pairing(false, 1.30, 2.0), "no kernel on this CPU");
        let c = measure("test cpu", 2).expect("measure");
        assert!(
            c.one_stream_gb_per_sec > 0.0 && c.two_streams_gb_per_sec > 0.0,
            "{c:?}"
        );
        assert_eq!(
            c.two_streams,
            choose_pairing(
                crate::verify::sha_pair::available(),
                c.one_stream_gb_per_sec,
                c.two_streams_gb_per_sec
            )
        );
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
mod stream_tests {
    use super::*;

    /// Two files per thread, whatever this machine's calibration chose: files of sizes around
    /// the buffer and block boundaries hashed in pairs that end at different times, so each
    /// thread hands over to the next file mid-pair; a missing file and a folder fail alone.
    #[test]
    fn two_streams_per_thread_agree_with_sha2_and_fail_one_file_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sizes = [
            3 * BUF_BYTES + 7,
            BUF_BYTES,
            0,
            63,
            64,
            65,
            BUF_BYTES - 1,
            2 * BUF_BYTES + 64,
            119,
        ];
        let mut paths = Vec::new();
        let mut want = Vec::new();
        for (n, size) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..*size)
                .map(|i| u8::try_from((i * 7 + n) % 251).expect("below 251"))
                .collect();
            let path = dir.path().join(format!("f{n}"));
            std::fs::write(&path, &data).expect("write");
            paths.push(path);
            want.push(crate::sha256_hex(&data));
        }
        paths.push(dir.path().join("missing"));
        paths.push(dir.path().to_path_buf());
        let cancel = CancellationToken::new();
        for (cores, streams) in [(1, 2), (2, 2), (3, 2), (2, 1)] {
            let done: Vec<AtomicU64> = paths.iter().map(|_| AtomicU64::new(0)).collect();
            let out = hash_files_as(&paths, cores, false, streams, &done, &cancel);
            for (n, w) in want.iter().enumerate() {
                let got = out[n].as_ref().expect("hashed");
                assert_eq!(&crate::hex(got), w, "file {n}, {cores} threads x {streams}");
                assert_eq!(
                    done[n].load(Ordering::Relaxed),
                    sizes[n] as u64,
                    "progress {n}"
                );
            }
            let missing = out[sizes.len()].as_ref().expect_err("missing file");
            assert!(missing.to_string().contains("missing"), "{missing}");
            assert!(
                out[sizes.len() + 1].is_err(),
                "a folder is not hashed as a file"
            );
        }
        cancel.cancel();
        let done: Vec<AtomicU64> = paths.iter().map(|_| AtomicU64::new(0)).collect();
        let out = hash_files_as(&paths, 2, false, 2, &done, &cancel);
        assert!(
            out.iter().all(|r| matches!(r, Err(HashError::Cancelled))),
            "cancelled before the start: nothing hashed"
        );
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
