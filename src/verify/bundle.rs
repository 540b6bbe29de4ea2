//! Apple bundles (.app, .framework) verified in-process on any host: the main executable as a
//! Mach-O, its Info.plist and sealed-resources slots, every sealed resource
//! (`_CodeSignature/CodeResources`, `files2`: file hashes, symbolic links, nested code by
//! CDHash, recursively for nested bundles), files added after signing, and the stapled ticket
//! (`Contents/CodeResources`), which must name the executable's CDHashes.
//!
//! Nested code (frameworks, dylibs, helpers) is judged like the main executable: notarization
//! needs all of it signed with a Developer ID and timestamped, and the hardened runtime's
//! library validation loads only code of the same team, so a nested item that is ad-hoc,
//! untimestamped or another team's makes the bundle untrusted or an identity mismatch, naming
//! the item.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

use apple_codesign::cryptography::DigestType;
use apple_codesign::{Blob as _, CodeSigningSlot, MachFile};
use plist::Value;
use x509_certificate::CapturedX509Certificate;

use super::macho::{AppleSignature, Slice, extra_anchors, rank, slice_with, summarize};
use super::signature::{Expected, Outcome, Verdict};

/// How deep nested bundles are followed.
const MAX_DEPTH: usize = 8;
/// How many nested code items (bundles and Mach-O files, at every depth) one bundle's check
/// visits in all: far more than any app ships, few enough that a hostile seal that sends the
/// check around through links ends in moments.
const MAX_NESTED_ITEMS: usize = 4096;

/// The walk over one bundle's nested code: the folders already checked (by their real path,
/// so a link back into the bundle is not checked again), and how many items were visited.
#[derive(Default)]
struct Walk {
    visited: std::collections::HashSet<PathBuf>,
    items: usize,
    /// Cancelling the verify stops the walk at the next item.
    cancel: CancellationToken,
}

/// The detail of a check stopped by its cancellation.
const CANCELLED: &str = "cancelled before the check finished";

/// Where a bundle keeps its parts: `Contents/` (apps), `Versions/Current/` (frameworks), or
/// the bundle folder itself.
struct Layout {
    content: PathBuf,
    info_plist: PathBuf,
    executable: PathBuf,
    resources: PathBuf,
}

fn layout(root: &Path) -> Result<Layout, String> {
    let content = [
        root.join("Contents"),
        root.join("Versions/Current"),
        root.to_owned(),
    ]
    .into_iter()
    .find(|c| c.join("Info.plist").is_file() || c.join("Resources/Info.plist").is_file())
    .ok_or_else(|| format!("{}: no Info.plist, so not a bundle", root.display()))?;
    let info_plist = [
        content.join("Info.plist"),
        content.join("Resources/Info.plist"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| "no Info.plist".to_owned())?;
    let info = Value::from_file(&info_plist)
        .map_err(|e| format!("{}: not a readable plist: {e}", info_plist.display()))?;
    let exe = info
        .as_dictionary()
        .and_then(|d| d.get("CFBundleExecutable"))
        .and_then(Value::as_string)
        .ok_or_else(|| format!("{}: no CFBundleExecutable", info_plist.display()))?
        .to_owned();
    if exe.contains('/') || exe == ".." {
        return Err(format!("CFBundleExecutable {exe:?} is not a file name"));
    }
    let executable = [content.join("MacOS").join(&exe), content.join(&exe)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| format!("the main executable {exe} is missing"))?;
    Ok(Layout {
        resources: content.join("_CodeSignature/CodeResources"),
        content,
        info_plist,
        executable,
    })
}

/// Whether `path` is an app bundle folder (`NAME.app` with an Info.plist and an executable):
/// one artifact, not a folder to walk.
pub fn is_app_dir(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("app"))
        && is_bundle(path)
}

/// Whether `path` is a bundle folder this module reads.
pub fn is_bundle(path: &Path) -> bool {
    path.is_dir() && layout(path).is_ok()
}

fn digest(kind: DigestType, data: &[u8]) -> Option<Vec<u8>> {
    kind.digest_data(data).ok()
}

/// Verifies the bundle at `root`, pinned to `expected`.
pub fn verify(
    root: &Path,
    expected: &Expected,
    cancel: &CancellationToken,
) -> (Outcome, AppleSignature) {
    let anchors = extra_anchors(expected);
    let mut sig = AppleSignature {
        format: "app bundle".into(),
        slices: Vec::new(),
        notarization: "not stapled".into(),
    };
    let mut walk = Walk {
        cancel: cancel.clone(),
        ..Walk::default()
    };
    let checked = bundle(root, expected, &anchors, 0, &mut walk);
    // A check cut short says nothing about the bundle.
    if cancel.is_cancelled() {
        return (Outcome::new(Verdict::UnverifiableHere, CANCELLED), sig);
    }
    let (slices, cdhashes) = match checked {
        Ok(v) => v,
        Err(e) => return (Outcome::new(Verdict::Invalid, e), sig),
    };
    sig.slices = slices;
    // The ticket: `Contents/CodeResources` (the file, not `_CodeSignature/CodeResources`).
    let ticket = std::fs::read(root.join("Contents/CodeResources")).ok();
    match ticket.map(|t| super::ticket::judge(&t, &cdhashes, "the executable's CDHash")) {
        Some(Ok(line)) => {
            for s in sig
                .slices
                .iter_mut()
                .filter(|s| s.verdict == Verdict::Valid)
            {
                s.detail = format!("{}; {line}", s.detail);
            }
            sig.notarization = line;
        }
        Some(Err(why)) => {
            for s in &mut sig.slices {
                s.verdict = Verdict::Invalid;
                s.detail.clone_from(&why);
            }
            sig.notarization = why;
        }
        None => {
            for s in sig
                .slices
                .iter_mut()
                .filter(|s| s.verdict == Verdict::Valid)
            {
                s.verdict = Verdict::Untrusted;
                s.detail = format!(
                    "{}; but no notarization ticket is stapled (xcrun stapler staple)",
                    s.detail
                );
            }
        }
    }
    (summarize(&sig), sig)
}

/// The slices of the bundle's main executable, with the bundle's own problems in each, and
/// the executable's CDHashes.
fn bundle(
    root: &Path,
    expected: &Expected,
    anchors: &[CapturedX509Certificate],
    depth: usize,
    walk: &mut Walk,
) -> Result<(Vec<Slice>, Vec<Vec<u8>>), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: bundles nested too deep", root.display()));
    }
    let real = std::fs::canonicalize(root).map_err(|e| format!("{}: {e}", root.display()))?;
    if !walk.visited.insert(real.clone()) {
        return Err(format!(
            "{} is {}, a bundle already checked, reached again through a link",
            root.display(),
            real.display()
        ));
    }
    let l = layout(root)?;
    let data =
        std::fs::read(&l.executable).map_err(|e| format!("{}: {e}", l.executable.display()))?;
    let file = MachFile::parse(&data)
        .map_err(|e| format!("{}: not a readable Mach-O: {e}", l.executable.display()))?;
    let info = std::fs::read(&l.info_plist).unwrap_or_default();
    let resources = std::fs::read(&l.resources).ok();
    let Seal {
        problems: sealed,
        nested,
    } = match &resources {
        Some(r) => sealed_problems(&l, r, expected, anchors, depth, walk),
        None => Seal {
            problems: vec![
                "the bundle has no sealed resources (_CodeSignature/CodeResources)".into(),
            ],
            nested: Vec::new(),
        },
    };
    let mut cdhashes = Vec::new();
    let slices = file
        .iter_macho()
        .map(|m| {
            slice_with(m, expected, anchors, |signature| {
                let mut problems = sealed.clone();
                let Ok(Some(cd)) = signature.code_directory() else {
                    return problems;
                };
                if let Ok(mut h) = cd.digest_with(cd.digest_type) {
                    h.truncate(20);
                    cdhashes.push(h);
                }
                let slot = |s: CodeSigningSlot| cd.slot_digest(s).map(|d| d.data.to_vec());
                if slot(CodeSigningSlot::Info) != digest(cd.digest_type, &info) {
                    problems.push("Info.plist does not match its digest".into());
                }
                match &resources {
                    Some(r) if slot(CodeSigningSlot::ResourceDir) != digest(cd.digest_type, r) => {
                        problems.push("the sealed resources do not match their digest".into());
                    }
                    _ => {}
                }
                problems
            })
        })
        .map(|slice| with_nested(slice, &nested))
        .collect();
    Ok((slices, cdhashes))
}

/// A slice judged together with the bundle's nested code: the worst nested verdict wins over a
/// better one of the executable's, named in the detail.
fn with_nested(mut slice: Slice, nested: &[(Verdict, String)]) -> Slice {
    let Some((verdict, why)) = nested.iter().min_by_key(|(v, _)| rank(*v)) else {
        return slice;
    };
    if rank(*verdict) < rank(slice.verdict) {
        slice.verdict = *verdict;
        slice.detail = format!("{}; but {why}", slice.detail);
    }
    slice
}

/// What the sealed resources say: integrity problems (any makes the bundle invalid), and the
/// verdicts of nested code that is intact but not signed as distribution needs.
struct Seal {
    problems: Vec<String>,
    nested: Vec<(Verdict, String)>,
}

/// One `files2` entry of `CodeResources`.
enum Sealed {
    File {
        sha256: Option<Vec<u8>>,
        sha1: Option<Vec<u8>>,
        optional: bool,
    },
    Link(String),
    Nested {
        cdhash: Vec<u8>,
    },
}

fn parse_files2(resources: &[u8]) -> Result<(BTreeMap<String, Sealed>, Vec<Rule>), String> {
    let plist = Value::from_reader_xml(resources)
        .map_err(|e| format!("the sealed resources are not a readable plist: {e}"))?;
    let dict = plist
        .as_dictionary()
        .ok_or("the sealed resources are not a dict")?;
    let mut out = BTreeMap::new();
    if let Some(files2) = dict.get("files2").and_then(Value::as_dictionary) {
        for (name, v) in files2 {
            let entry = match v {
                Value::Data(d) => Sealed::File {
                    sha256: None,
                    sha1: Some(d.clone()),
                    optional: false,
                },
                Value::Dictionary(d) => {
                    let data = |k: &str| d.get(k).and_then(Value::as_data).map(<[u8]>::to_vec);
                    if let Some(target) = d.get("symlink").and_then(Value::as_string) {
                        Sealed::Link(target.to_owned())
                    } else if let Some(cdhash) = data("cdhash") {
                        Sealed::Nested { cdhash }
                    } else {
                        Sealed::File {
                            sha256: data("hash2"),
                            sha1: data("hash"),
                            optional: d
                                .get("optional")
                                .and_then(Value::as_boolean)
                                .unwrap_or(false),
                        }
                    }
                }
                _ => return Err(format!("sealed resource {name}: unreadable entry")),
            };
            out.insert(name.clone(), entry);
        }
    }
    let mut rules = Vec::new();
    if let Some(rules2) = dict.get("rules2").and_then(Value::as_dictionary) {
        for (pattern, v) in rules2 {
            let (omit, weight) = match v {
                Value::Dictionary(d) => (
                    d.get("omit").and_then(Value::as_boolean).unwrap_or(false),
                    d.get("weight").and_then(Value::as_real).unwrap_or(0.0),
                ),
                _ => (false, 0.0),
            };
            if let Ok(re) = regex::Regex::new(pattern) {
                rules.push(Rule { re, omit, weight });
            }
        }
    }
    Ok((out, rules))
}

/// A `rules2` pattern: what it seals (or omits), and how strongly it wins.
struct Rule {
    re: regex::Regex,
    omit: bool,
    weight: f64,
}

/// Every sealed resource checked, and every file present that the rules seal but the list
/// does not name (added after signing).
fn sealed_problems(
    l: &Layout,
    resources: &[u8],
    expected: &Expected,
    anchors: &[CapturedX509Certificate],
    depth: usize,
    walk: &mut Walk,
) -> Seal {
    let (files, rules) = match parse_files2(resources) {
        Ok(v) => v,
        Err(e) => {
            return Seal {
                problems: vec![e],
                nested: Vec::new(),
            };
        }
    };
    let mut problems = Vec::new();
    let mut nested = Vec::new();
    for (name, entry) in &files {
        if walk.cancel.is_cancelled() {
            problems.push(CANCELLED.to_owned());
            break;
        }
        if name.split('/').any(|c| c == ".." || c.is_empty()) {
            problems.push(format!(
                "sealed resource {name:?} is not a path inside the bundle"
            ));
            continue;
        }
        let path = l.content.join(name);
        match entry {
            Sealed::Link(target) => match std::fs::read_link(&path) {
                Ok(t) if t.to_string_lossy() == *target => {}
                Ok(_) => problems.push(format!("{name} links elsewhere than it was sealed")),
                Err(_) => problems.push(format!("sealed link {name} is missing")),
            },
            Sealed::File {
                sha256,
                sha1,
                optional,
            } => match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => {
                    match file_matches(&path, sha256.as_deref(), sha1.as_deref()) {
                        Ok(true) => {}
                        Ok(false) => problems.push(format!("{name} was modified after signing")),
                        Err(e) => problems.push(format!("{name}: {e}")),
                    }
                }
                Ok(_) => problems.push(format!("{name} is no longer a regular file")),
                Err(_) if *optional => {}
                Err(_) => problems.push(format!("sealed resource {name} is missing")),
            },
            Sealed::Nested { cdhash } => {
                walk.items += 1;
                if walk.items > MAX_NESTED_ITEMS {
                    problems.push(format!(
                        "more than {MAX_NESTED_ITEMS} nested code items (at {name}); the rest \
                         is not checked"
                    ));
                    break;
                }
                let slices = if path.is_dir() {
                    match bundle(&path, expected, anchors, depth + 1, walk) {
                        Ok((slices, _)) => slices,
                        Err(e) => {
                            problems.push(format!("nested {name}: {e}"));
                            continue;
                        }
                    }
                } else {
                    nested_code(&path, expected, anchors)
                };
                let sealed = crate::hex(cdhash);
                if !slices.iter().any(|s| s.cdhash.as_deref() == Some(&sealed)) {
                    problems.push(format!(
                        "nested code {name} is not the code that was sealed"
                    ));
                    continue;
                }
                for s in &slices {
                    match &s.integrity {
                        Err(e) => problems.push(format!("nested {name} ({}): {e}", s.arch)),
                        Ok(()) if s.verdict != Verdict::Valid => nested.push((
                            s.verdict,
                            format!(
                                "nested {name} ({}) is {}: {}",
                                s.arch,
                                s.verdict.as_str(),
                                s.detail
                            ),
                        )),
                        Ok(()) => {}
                    }
                }
            }
        }
    }
    // Files the rules seal but the list does not name.
    let exe = l.executable.clone();
    let mut stack = vec![l.content.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(rel) = path.strip_prefix(&l.content) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if rel == "_CodeSignature"
                || rel == "CodeResources"
                || path == exe
                || rel == "Info.plist"
            {
                continue;
            }
            let rule = rules
                .iter()
                .filter(|r| r.re.is_match(&rel))
                .max_by(|a, b| a.weight.total_cmp(&b.weight));
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if files.contains_key(&rel) {
                continue;
            }
            // A folder is walked; one the list names (a nested bundle) was checked above.
            if is_dir {
                stack.push(path);
                continue;
            }
            if rule.is_some_and(|r| !r.omit) {
                problems.push(format!("{rel} was added after signing (it is not sealed)"));
            }
        }
    }
    Seal { problems, nested }
}

/// Whether the file hashes to what was sealed (SHA-256 when recorded, else SHA-1), read in
/// chunks: resources can be large.
fn file_matches(path: &Path, sha256: Option<&[u8]>, sha1: Option<&[u8]>) -> std::io::Result<bool> {
    use sha2::Digest as _;
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut aligned = crate::verify::hash::AlignedBuf::new();
    let buf = aligned.bytes_mut();
    let mut h256 = sha2::Sha256::new();
    let mut h1 = sha1::Sha1::new();
    loop {
        let n = f.read(buf)?;
        if n == 0 {
            break;
        }
        if sha256.is_some() {
            h256.update(&buf[..n]);
        } else {
            h1.update(&buf[..n]);
        }
    }
    Ok(match (sha256, sha1) {
        (Some(want), _) => h256.finalize().as_slice() == want,
        (None, Some(want)) => h1.finalize().as_slice() == want,
        (None, None) => false,
    })
}

/// A nested Mach-O file (a dylib, a helper tool): each slice judged as the executable is.
fn nested_code(
    path: &Path,
    expected: &Expected,
    anchors: &[CapturedX509Certificate],
) -> Vec<Slice> {
    let Ok(data) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(file) = MachFile::parse(&data) else {
        return Vec::new();
    };
    file.iter_macho()
        .map(|m| slice_with(m, expected, anchors, |_| Vec::new()))
        .collect()
}

fn is_app_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("app"))
}

/// Whether the zip at `path` holds an app bundle at its top level (`NAME.app/Contents/...`),
/// as apps are shipped for notarization and download.
pub fn is_zipped_app(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut zip) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return false;
    };
    // Every entry: padding the listing must not hide the app (the listing was read whole).
    (0..zip.len()).any(|i| {
        zip.by_index_raw(i).ok().is_some_and(|e| {
            e.name().ok().is_some_and(|n| {
                n.split('/').next().is_some_and(is_app_name) && n.contains(".app/Contents/")
            })
        })
    })
}

/// Verifies the app bundle inside the zip at `path`: unpacked into a temporary folder (no
/// entry may leave it, links included), then verified as a bundle.
pub fn verify_zipped(
    path: &Path,
    expected: &Expected,
    cancel: &CancellationToken,
) -> (Outcome, AppleSignature) {
    let empty = || AppleSignature {
        format: "zipped app bundle".into(),
        slices: Vec::new(),
        notarization: String::new(),
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            return (
                Outcome::new(Verdict::UnverifiableHere, e.to_string()),
                empty(),
            );
        }
    };
    let app = match unpack_tree(path, dir.path(), cancel) {
        Ok(app) => app,
        Err(_) if cancel.is_cancelled() => {
            return (Outcome::new(Verdict::UnverifiableHere, CANCELLED), empty());
        }
        Err(e) => return (Outcome::new(Verdict::Invalid, e), empty()),
    };
    let (mut outcome, mut sig) = verify(&app, expected, cancel);
    sig.format = "zipped app bundle".into();
    // Paths are named as they are inside the archive, not in the scratch folder (gone by now).
    let scratch = format!("{}/", dir.path().display());
    for text in std::iter::once(&mut outcome.detail)
        .chain(std::iter::once(&mut sig.notarization))
        .chain(sig.slices.iter_mut().map(|s| &mut s.detail))
    {
        if text.contains(&scratch) {
            *text = text.replace(&scratch, "");
        }
    }
    (outcome, sig)
}

/// What a zipped app may unpack to: more entries or bytes than this is refused before
/// anything is written (a zip bomb, not an app). Xcode itself is about 8 GiB in 200k files.
#[derive(Debug, Clone, Copy)]
struct UnpackLimits {
    entries: usize,
    bytes: u64,
}

const UNPACK_LIMITS: UnpackLimits = UnpackLimits {
    entries: 250_000,
    bytes: 16 << 30,
};

/// The longest link target read from an archive (`PATH_MAX`).
const MAX_LINK_TARGET: u64 = 4096;
/// How many links one lookup may pass through (Linux's `ELOOP` limit).
const MAX_LINK_HOPS: usize = 40;
/// How many path steps resolving all of an archive's links may take together.
const MAX_LINK_STEPS: usize = 4_000_000;

/// One entry of a zipped bundle's listing.
enum Listed {
    Dir,
    File { index: usize, size: u64 },
    Link(String),
}

/// Unpacks a zip into `into`, keeping folders and symbolic links (a framework's
/// `Versions/Current`); returns the top-level `.app` folder.
///
/// The whole listing is read and judged before anything is written: every link is resolved
/// against the listing itself (through chains of links) and must stay inside the top-level
/// folder it is in; no entry may lie under a link or a file; names may not repeat, even in
/// another case (a case-insensitive disk would merge them); entry count and unpacked bytes are
/// capped. Then folders and files are written, and links last, so no file is ever created
/// through a link.
fn unpack_tree(path: &Path, into: &Path, cancel: &CancellationToken) -> Result<PathBuf, String> {
    unpack_tree_with(path, into, UNPACK_LIMITS, cancel)
}

fn unpack_tree_with(
    path: &Path,
    into: &Path,
    limits: UnpackLimits,
    cancel: &CancellationToken,
) -> Result<PathBuf, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    if zip.len() > limits.entries {
        return Err(format!(
            "the archive has {} entries, more than the {} an app is allowed; refusing it",
            zip.len(),
            limits.entries
        ));
    }
    // The listing: path parts to what is there.
    let mut listing: BTreeMap<Vec<String>, Listed> = BTreeMap::new();
    let mut folded: BTreeMap<String, String> = BTreeMap::new();
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let raw = entry
            .name()
            .map_err(|e| format!("entry {i}: {e}"))?
            .into_owned();
        let parts = archive_parts(&raw).ok_or_else(|| {
            format!("entry {raw:?} would be written outside the folder; refusing the archive")
        })?;
        let shown = parts.join("/");
        let is_link = entry
            .unix_mode()
            .is_some_and(|m| m & 0o170_000 == 0o120_000);
        let listed = if entry.is_dir() {
            Listed::Dir
        } else if is_link {
            if parts.len() < 2 {
                return Err(format!(
                    "link {shown} is at the archive's top level; refusing the archive"
                ));
            }
            let mut target = Vec::new();
            (&mut entry)
                .take(MAX_LINK_TARGET + 1)
                .read_to_end(&mut target)
                .map_err(|e| format!("link {shown}: {e}"))?;
            if target.len() as u64 > MAX_LINK_TARGET {
                return Err(format!(
                    "link {shown}: its target is longer than {MAX_LINK_TARGET} bytes"
                ));
            }
            let target = String::from_utf8(target)
                .map_err(|_| format!("link {shown}: its target is not UTF-8"))?;
            Listed::Link(target)
        } else {
            declared = declared.saturating_add(entry.size());
            if declared > limits.bytes {
                return Err(format!(
                    "the archive unpacks to more than {} MiB (at {shown}); refusing it",
                    limits.bytes >> 20
                ));
            }
            Listed::File {
                index: i,
                size: entry.size(),
            }
        };
        let once = matches!(
            (listing.get(&parts), &listed),
            (Some(Listed::Dir), Listed::Dir) | (None, _)
        );
        if !once {
            return Err(format!("{shown} appears twice in the archive; refusing it"));
        }
        if let Some(other) = folded.insert(shown.to_lowercase(), shown.clone())
            && other != shown
        {
            return Err(format!(
                "{shown} and {other} differ only in case (one file on a Mac's disk); \
                 refusing the archive"
            ));
        }
        listing.insert(parts, listed);
    }
    // Nothing lies under a link or a file.
    for parts in listing.keys() {
        for n in 1..parts.len() {
            match listing.get(&parts[..n]) {
                Some(Listed::Link(t)) => {
                    return Err(format!(
                        "entry {} lies under the link {} -> {t}; refusing the archive",
                        parts.join("/"),
                        parts[..n].join("/")
                    ));
                }
                Some(Listed::File { .. }) => {
                    return Err(format!(
                        "entry {} lies under the file {}; refusing the archive",
                        parts.join("/"),
                        parts[..n].join("/")
                    ));
                }
                Some(Listed::Dir) | None => {}
            }
        }
    }
    // Every link, resolved against the listing, stays inside its top-level folder.
    let mut steps = 0usize;
    for (parts, listed) in &listing {
        if let Listed::Link(target) = listed {
            let mut hops = 0usize;
            resolve_link(
                &listing,
                &parts[..parts.len() - 1],
                target,
                &mut hops,
                &mut steps,
            )
            .map_err(|why| format!("link {} -> {target} {why}; refusing it", parts.join("/")))?;
        }
    }
    let app = listing
        .iter()
        .find(|(p, l)| p.len() == 1 && matches!(l, Listed::Dir) && is_app_name(&p[0]))
        .map(|(p, _)| into.join(&p[0]))
        .or_else(|| {
            listing
                .keys()
                .find(|p| p.len() > 1 && is_app_name(&p[0]))
                .map(|p| into.join(&p[0]))
        })
        .ok_or_else(|| "the archive holds no .app bundle".to_owned())?;
    // Folders and files; no link exists on disk yet, so nothing is written through one.
    let mut budget = limits.bytes;
    for (parts, listed) in &listing {
        if cancel.is_cancelled() {
            return Err(CANCELLED.to_owned());
        }
        let out = parts.iter().fold(into.to_owned(), |p, c| p.join(c));
        let shown = parts.join("/");
        match listed {
            Listed::Dir => {
                std::fs::create_dir_all(&out).map_err(|e| format!("{shown}: {e}"))?;
            }
            Listed::File { index, size } => {
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{shown}: {e}"))?;
                }
                let entry = zip.by_index(*index).map_err(|e| format!("{shown}: {e}"))?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&out)
                    .map_err(|e| format!("{shown}: {e}"))?;
                let allowed = (*size).min(budget);
                let n = std::io::copy(&mut entry.take(allowed + 1), &mut f)
                    .map_err(|e| format!("{shown}: {e}"))?;
                if n > allowed {
                    return Err(format!(
                        "{shown} unpacks to more than the {size} bytes its entry declares; \
                         refusing the archive"
                    ));
                }
                budget -= n;
            }
            Listed::Link(_) => {}
        }
    }
    for (parts, listed) in &listing {
        if let Listed::Link(target) = listed {
            let out = parts.iter().fold(into.to_owned(), |p, c| p.join(c));
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parts.join("/")))?;
            }
            write_link(target, &out).map_err(|e| format!("{}: {e}", parts.join("/")))?;
        }
    }
    if !app.is_dir() {
        return Err("the archive holds no .app bundle".to_owned());
    }
    Ok(app)
}

/// Writes the symbolic link `out` pointing at `target` (relative to its folder; what it points
/// at is already written, links come last).
fn write_link(target: &str, out: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, out)
    }
    #[cfg(windows)]
    {
        // Windows has two kinds of link, and making either needs Developer Mode or the
        // privilege to create symbolic links.
        let points_at = out.parent().map(|d| d.join(target));
        let made = if points_at.is_some_and(|p| p.is_dir()) {
            std::os::windows::fs::symlink_dir(target, out)
        } else {
            std::os::windows::fs::symlink_file(target, out)
        };
        made.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "{e} (Windows lets only Developer Mode or an administrator make the \
                     symbolic links an app bundle holds)"
                ),
            )
        })
    }
}

/// An entry's name as path parts: only plain names (no `..`, `.`, root, drive, backslash or
/// NUL), empty parts (`a//b`, a folder's trailing `/`) dropped.
fn archive_parts(raw: &str) -> Option<Vec<String>> {
    if raw.contains('\\') || raw.contains('\0') || raw.starts_with('/') {
        return None;
    }
    let parts: Vec<String> = raw
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if parts.is_empty()
        || parts
            .iter()
            .any(|p| p == "." || p == ".." || p.contains(':'))
    {
        return None;
    }
    Some(parts)
}

/// Where the link in folder `base` with `target` leads, resolved against the archive's
/// listing through chains of links; an error (in words after the link's name) when it leaves
/// the top-level folder `base` starts with, loops, or passes through something the archive
/// does not hold as a folder.
fn resolve_link(
    listing: &BTreeMap<Vec<String>, Listed>,
    base: &[String],
    target: &str,
    hops: &mut usize,
    steps: &mut usize,
) -> Result<Vec<String>, String> {
    if target.starts_with('/') {
        return Err("is absolute, so it leaves the archive".to_owned());
    }
    let mut at: Vec<String> = base.to_vec();
    let mut missing = false;
    for part in target.split('/') {
        *steps += 1;
        if *steps > MAX_LINK_STEPS {
            return Err("is one of too many link steps to follow".to_owned());
        }
        if part.is_empty() || part == "." {
            continue;
        }
        if missing {
            return Err(format!(
                "passes through {}, which the archive does not hold",
                at.join("/")
            ));
        }
        if part == ".." {
            if at.len() <= 1 {
                return Err(format!(
                    "leaves the archive's {} (it resolves outside it)",
                    base.first().map_or("top level", String::as_str)
                ));
            }
            at.pop();
            continue;
        }
        at.push(part.to_owned());
        match listing.get(&at) {
            Some(Listed::Link(next)) => {
                *hops += 1;
                if *hops > MAX_LINK_HOPS {
                    return Err(format!("passes more than {MAX_LINK_HOPS} links (a loop)"));
                }
                let from = at[..at.len() - 1].to_vec();
                at = resolve_link(listing, &from, next, hops, steps)?;
            }
            Some(Listed::Dir) => {}
            // A folder the archive implies by the entries inside it.
            None if listing
                .range(at.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&at)) => {}
            Some(Listed::File { .. }) | None => missing = true,
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// A zip of `(name, what)`: `Ok(bytes)` a file, `Err(target)` a symbolic link; names
    /// ending in `/` are folders.
    fn zip_of(entries: &[(&str, Result<&[u8], &str>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for (name, what) in entries {
            match what {
                _ if name.ends_with('/') => w.add_directory(*name, opts).expect("dir"),
                Ok(data) => {
                    w.start_file(*name, opts).expect("file");
                    w.write_all(data).expect("write");
                }
                Err(target) => w.add_symlink(*name, *target, opts).expect("link"),
            }
        }
        w.finish().expect("zip").into_inner()
    }

    fn write_zip(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("App.zip");
        std::fs::write(&path, bytes).expect("zip");
        path
    }

    /// A file under `/tmp` named for this test run, which must never appear.
    fn outside_marker(what: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        PathBuf::from(format!(
            "/tmp/rc-escape-{what}-{}-{nanos}",
            std::process::id()
        ))
    }

    #[test]
    fn a_chain_of_links_cannot_carry_an_entry_out_of_the_scratch_folder() {
        // The reproduction of the report: `d -> .`, then `up -> d/d/d/d/d/d/d/d/` and ten
        // `..` (counted as staying inside by the old check, but at `/` on disk), then an
        // entry written through `up`.
        let marker = outside_marker("chain");
        let inside = marker
            .strip_prefix("/")
            .expect("absolute")
            .to_string_lossy();
        let up = format!("{}{}", "d/".repeat(8), "../".repeat(10));
        let entry = format!("X.app/Contents/up/{inside}");
        let bytes = zip_of(&[
            ("X.app/Contents/d", Err(".")),
            ("X.app/Contents/up", Err(&up)),
            (&entry, Ok(b"escaped")),
        ]);
        assert!(bytes.len() < 1024, "{} bytes", bytes.len());
        let dir = tempfile::tempdir().expect("dir");
        let zip = write_zip(dir.path(), &bytes);
        let (outcome, _) = verify_zipped(&zip, &Expected::default(), &CancellationToken::new());
        assert!(!marker.exists(), "{} was written", marker.display());
        let _ = std::fs::remove_file(&marker);
        assert_eq!(outcome.verdict, Verdict::Invalid, "{}", outcome.detail);
        assert!(
            outcome.detail.contains(&entry) && outcome.detail.contains("lies under the link"),
            "{}",
            outcome.detail
        );

        // The links alone: `up` resolves (through `d`, eight times) to above the bundle.
        let bytes = zip_of(&[
            ("X.app/Contents/d", Err(".")),
            ("X.app/Contents/up", Err(&up)),
        ]);
        let zip = write_zip(dir.path(), &bytes);
        let scratch = dir.path().join("scratch");
        let err = unpack_tree(&zip, &scratch, &CancellationToken::new()).expect_err("refused");
        assert!(
            err.contains("link X.app/Contents/up -> ")
                && err.contains("leaves the archive's X.app"),
            "{err}"
        );
        assert!(
            !scratch.exists(),
            "nothing is written before the listing is judged"
        );
    }

    #[test]
    fn links_are_resolved_against_the_listing_through_chains() {
        let dir = tempfile::tempdir().expect("dir");
        let refuse = |entries: &[(&str, Result<&[u8], &str>)], why: &str| {
            let zip = write_zip(dir.path(), &zip_of(entries));
            let err = unpack_tree(&zip, &dir.path().join("out"), &CancellationToken::new())
                .expect_err(why);
            assert!(err.contains(why), "{err}");
        };
        let exe: Result<&[u8], &str> = Ok(b"x");
        // A chain: each link alone looks harmless.
        refuse(
            &[
                ("X.app/Contents/MacOS/X", exe),
                ("X.app/Contents/a", Err("b/../..")),
                ("X.app/Contents/b", Err("MacOS/../..")),
            ],
            "leaves the archive's X.app",
        );
        // A loop.
        refuse(
            &[
                ("X.app/Contents/a", Err("b")),
                ("X.app/Contents/b", Err("a")),
            ],
            "more than 40 links",
        );
        // Through something the archive does not hold (a case-insensitive disk, or a name
        // the archive lacks, could put anything there).
        refuse(
            &[
                ("X.app/Contents/MacOS/X", exe),
                ("X.app/Contents/a", Err("macos/../../..")),
            ],
            "passes through X.app/Contents/macos",
        );
        refuse(
            &[
                ("X.app/Contents/MacOS/X", exe),
                ("X.app/Contents/a", Err("/etc")),
            ],
            "is absolute",
        );
        refuse(&[("X.app", Err("Contents"))], "at the archive's top level");
        // A name twice in different cases (the zip reader refuses exact repeats itself).
        refuse(
            &[("X.app/Contents/a", exe), ("X.app/Contents/A", exe)],
            "differ only in case",
        );
        // A framework's links that stay inside unpack, as links.
        let zip = write_zip(
            dir.path(),
            &zip_of(&[
                ("X.app/Contents/MacOS/X", exe),
                ("X.app/Contents/Frameworks/F.framework/Versions/A/F", exe),
                (
                    "X.app/Contents/Frameworks/F.framework/Versions/Current",
                    Err("A"),
                ),
                (
                    "X.app/Contents/Frameworks/F.framework/F",
                    Err("Versions/Current/F"),
                ),
                (
                    "X.app/Contents/Self",
                    Err("../Contents/Frameworks/../MacOS"),
                ),
            ]),
        );
        let out = dir.path().join("ok");
        let app = unpack_tree(&zip, &out, &CancellationToken::new()).expect("unpacks");
        assert_eq!(app, out.join("X.app"));
        let f = app.join("Contents/Frameworks/F.framework/F");
        assert!(std::fs::symlink_metadata(&f).expect("link").is_symlink());
        assert_eq!(std::fs::read(&f).expect("read through"), b"x");
    }

    #[test]
    fn zip_bombs_are_refused_by_entry_count_and_unpacked_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        // Five entries declaring 4 GiB each: past the 16 GiB cap before a byte is written.
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..5 {
            w.start_file(format!("X.app/Contents/f{i}"), stored)
                .expect("file");
            w.write_all(b"0123456789").expect("write");
        }
        let mut bytes = w.finish().expect("zip").into_inner();
        crate::test_support::zip_declare_size(&mut bytes, 0xFFFF_FFF0);
        let zip = write_zip(dir.path(), &bytes);
        let out = dir.path().join("declared");
        let err = unpack_tree(&zip, &out, &CancellationToken::new()).expect_err("too large");
        assert!(err.contains("more than 16384 MiB"), "{err}");
        assert!(!out.exists());

        // An entry that unpacks to more than its header declares stops there.
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("X.app/Contents/big", stored).expect("file");
        w.write_all(&vec![7u8; 100_000]).expect("write");
        let mut bytes = w.finish().expect("zip").into_inner();
        crate::test_support::zip_declare_size(&mut bytes, 10);
        let zip = write_zip(dir.path(), &bytes);
        let out = dir.path().join("lying");
        let err = unpack_tree(&zip, &out, &CancellationToken::new()).expect_err("lying header");
        // (The zip reader stops it too, in its own words; either way at the declared size.)
        assert!(
            err.contains("X.app/Contents/big") && err.contains("declare"),
            "{err}"
        );
        let written = std::fs::metadata(out.join("X.app/Contents/big")).map_or(0, |m| m.len());
        assert!(written <= 11, "{written} bytes written");

        // Entry count and total bytes, at limits small enough to test.
        let entries: Vec<(String, Vec<u8>)> = (0..20)
            .map(|i| (format!("X.app/Contents/f{i}"), vec![0u8; 1000]))
            .collect();
        let list: Vec<(&str, Result<&[u8], &str>)> = entries
            .iter()
            .map(|(n, d)| (n.as_str(), Ok(d.as_slice())))
            .collect();
        let zip = write_zip(dir.path(), &zip_of(&list));
        let limits = |entries, bytes| UnpackLimits { entries, bytes };
        let err = unpack_tree_with(
            &zip,
            &dir.path().join("n"),
            limits(19, 1 << 20),
            &CancellationToken::new(),
        )
        .expect_err("too many");
        assert!(err.contains("20 entries, more than the 19"), "{err}");
        let err = unpack_tree_with(
            &zip,
            &dir.path().join("b"),
            limits(100, 19_999 << 20 >> 20),
            &CancellationToken::new(),
        )
        .expect_err("too many bytes");
        assert!(err.contains("at X.app/Contents/f"), "{err}");
        unpack_tree_with(
            &zip,
            &dir.path().join("ok"),
            limits(20, 20_000),
            &CancellationToken::new(),
        )
        .expect("at the limits");
    }

    /// A bundle folder `X.app` whose executable is an unsigned Mach-O and whose seal lists
    /// `nested` as nested code (by a made-up CDHash).
    fn bundle_with_nested(dir: &Path, nested: &[String]) -> PathBuf {
        let app = dir.join("X.app");
        let c = app.join("Contents");
        std::fs::create_dir_all(c.join("MacOS")).expect("MacOS");
        std::fs::create_dir_all(c.join("_CodeSignature")).expect("seal");
        std::fs::write(
            c.join("Info.plist"),
            "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>CFBundleExecutable</key>\
             <string>X</string></dict></plist>",
        )
        .expect("Info.plist");
        let exe = apple_codesign::macho_builder::MachOBuilder::new_aarch64(2)
            .write_macho()
            .expect("a Mach-O");
        std::fs::write(c.join("MacOS/X"), exe).expect("exe");
        let mut files2 = String::new();
        for n in nested {
            files2.push_str(&format!(
                "<key>{n}</key><dict><key>cdhash</key><data>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</data></dict>"
            ));
        }
        std::fs::write(
            c.join("_CodeSignature/CodeResources"),
            format!(
                "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>files2</key><dict>\
                 {files2}</dict></dict></plist>"
            ),
        )
        .expect("CodeResources");
        app
    }

    #[cfg(unix)]
    #[test]
    fn nested_bundles_reached_again_through_links_are_checked_once() {
        // Five nested entries, each a link back to the bundle itself: before, the check went
        // back into the same bundle five times per level, eight levels deep (87 s).
        let dir = tempfile::tempdir().expect("dir");
        let names: Vec<String> = (0..5).map(|i| format!("L{i}")).collect();
        let app = bundle_with_nested(dir.path(), &names);
        for n in &names {
            std::os::unix::fs::symlink("..", app.join("Contents").join(n)).expect("link");
        }
        let problems = seal_of(&app);
        for n in &names {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("nested {n}: "))
                        && p.ends_with("a bundle already checked, reached again through a link")),
                "{problems:#?}"
            );
        }
    }

    /// The integrity problems of the bundle's seal (an unsigned executable's verdict would
    /// not show them).
    fn seal_of(app: &Path) -> Vec<String> {
        let l = layout(app).expect("a bundle");
        let resources = std::fs::read(&l.resources).expect("seal");
        let mut walk = Walk::default();
        walk.visited
            .insert(std::fs::canonicalize(app).expect("real path"));
        sealed_problems(&l, &resources, &Expected::default(), &[], 0, &mut walk).problems
    }

    #[test]
    fn a_cancelled_check_stops_and_says_so_instead_of_a_verdict() {
        let dir = tempfile::tempdir().expect("dir");
        let names: Vec<String> = (0..50).map(|i| format!("n{i:02}")).collect();
        let app = bundle_with_nested(dir.path(), &names);
        let cancel = CancellationToken::new();
        // Not cancelled: a verdict (the executable is unsigned).
        let (outcome, _) = verify(&app, &Expected::default(), &cancel);
        assert_ne!(outcome.detail, CANCELLED);
        cancel.cancel();
        let (outcome, sig) = verify(&app, &Expected::default(), &cancel);
        assert_eq!(outcome.verdict, Verdict::UnverifiableHere);
        assert_eq!(outcome.detail, CANCELLED);
        assert!(sig.slices.is_empty());
        // The walk itself stops at its next item.
        let l = layout(&app).expect("a bundle");
        let resources = std::fs::read(&l.resources).expect("seal");
        let mut walk = Walk {
            cancel: cancel.clone(),
            ..Walk::default()
        };
        let seal = sealed_problems(&l, &resources, &Expected::default(), &[], 0, &mut walk);
        assert_eq!(seal.problems, vec![CANCELLED.to_owned()]);
        assert_eq!(walk.items, 0);
        // A zipped app is not even unpacked.
        let zip = write_zip(
            dir.path(),
            &zip_of(&[("Y.app/Contents/Info.plist", Ok(b"<plist/>"))]),
        );
        let (outcome, _) = verify_zipped(&zip, &Expected::default(), &cancel);
        assert_eq!(outcome.detail, CANCELLED);
    }

    #[test]
    fn a_zipped_app_s_problems_name_paths_inside_the_archive_not_the_scratch_folder() {
        let dir = tempfile::tempdir().expect("dir");
        let zip = write_zip(
            dir.path(),
            &zip_of(&[(
                "Y.app/Contents/Info.plist",
                Ok(b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict></dict></plist>"),
            )]),
        );
        let (outcome, _) = verify_zipped(&zip, &Expected::default(), &CancellationToken::new());
        assert_eq!(outcome.verdict, Verdict::Invalid);
        assert_eq!(
            outcome.detail,
            "Y.app/Contents/Info.plist: no CFBundleExecutable"
        );
    }

    #[test]
    fn nested_code_items_have_a_total_budget() {
        let dir = tempfile::tempdir().expect("dir");
        let names: Vec<String> = (0..=MAX_NESTED_ITEMS).map(|i| format!("n{i:05}")).collect();
        let app = bundle_with_nested(dir.path(), &names);
        let problems = seal_of(&app);
        assert!(
            problems.contains(
                &"more than 4096 nested code items (at n04096); the rest is not checked".to_owned()
            ),
            "{:?}",
            problems.last()
        );
    }
}
