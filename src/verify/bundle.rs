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

use apple_codesign::cryptography::DigestType;
use apple_codesign::{Blob as _, CodeSigningSlot, MachFile};
use plist::Value;
use x509_certificate::CapturedX509Certificate;

use super::macho::{AppleSignature, Slice, extra_anchors, rank, slice_with, summarize};
use super::signature::{Expected, Outcome, Verdict};

/// How deep nested bundles are followed.
const MAX_DEPTH: usize = 8;

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
pub fn verify(root: &Path, expected: &Expected) -> (Outcome, AppleSignature) {
    let anchors = extra_anchors(expected);
    let mut sig = AppleSignature {
        format: "app bundle".into(),
        slices: Vec::new(),
        notarization: "not stapled".into(),
    };
    let (slices, cdhashes) = match bundle(root, expected, &anchors, 0) {
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
) -> Result<(Vec<Slice>, Vec<Vec<u8>>), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: bundles nested too deep", root.display()));
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
        Some(r) => sealed_problems(&l, r, expected, anchors, depth),
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
                let slices = if path.is_dir() {
                    match bundle(&path, expected, anchors, depth + 1) {
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
    (0..zip.len().min(64)).any(|i| {
        zip.by_index_raw(i).ok().is_some_and(|e| {
            e.name().ok().is_some_and(|n| {
                n.split('/').next().is_some_and(is_app_name) && n.contains(".app/Contents/")
            })
        })
    })
}

/// Verifies the app bundle inside the zip at `path`: unpacked into a temporary folder (no
/// entry may leave it, links included), then verified as a bundle.
pub fn verify_zipped(path: &Path, expected: &Expected) -> (Outcome, AppleSignature) {
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
    let app = match unpack_tree(path, dir.path()) {
        Ok(app) => app,
        Err(e) => return (Outcome::new(Verdict::Invalid, e), empty()),
    };
    let (outcome, mut sig) = verify(&app, expected);
    sig.format = "zipped app bundle".into();
    (outcome, sig)
}

/// Unpacks a zip into `into`, keeping folders and symbolic links (a framework's
/// `Versions/Current`); returns the top-level `.app` folder.
fn unpack_tree(path: &Path, into: &Path) -> Result<PathBuf, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    let mut app = None;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(format!(
                "entry {:?} would be written outside the folder; refusing the archive",
                entry.name().unwrap_or_default()
            ));
        };
        if let Some(top) = rel.components().next()
            && is_app_name(&top.as_os_str().to_string_lossy())
        {
            app.get_or_insert_with(|| into.join(top.as_os_str()));
        }
        let out = into.join(&rel);
        let is_link = entry
            .unix_mode()
            .is_some_and(|m| m & 0o170_000 == 0o120_000);
        if entry.is_dir() {
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if is_link {
            let mut target = String::new();
            std::io::Read::read_to_string(&mut entry, &mut target)
                .map_err(|e| format!("{}: {e}", rel.display()))?;
            // A link may point only at something inside the bundle.
            let base = rel.parent().map(Path::to_owned).unwrap_or_default();
            let mut depth: i64 = i64::try_from(base.components().count()).unwrap_or(0);
            for c in Path::new(&target).components() {
                match c {
                    std::path::Component::Normal(_) => depth += 1,
                    std::path::Component::ParentDir => depth -= 1,
                    std::path::Component::CurDir => {}
                    _ => depth = -1,
                }
                if depth < 0 {
                    return Err(format!(
                        "link {} -> {target} leaves the archive; refusing it",
                        rel.display()
                    ));
                }
            }
            std::os::unix::fs::symlink(&target, &out)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            continue;
        }
        let mut f = std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        std::io::copy(&mut entry, &mut f).map_err(|e| format!("{}: {e}", rel.display()))?;
    }
    app.filter(|a| a.is_dir())
        .ok_or_else(|| "the archive holds no .app bundle".to_owned())
}
