//! Authenticode signatures of MSI packages, verified in-process on any host with the same
//! signer, chain, EKU, timestamp and nested-signature checks as PE files
//! ([`super::authenticode::verify_signed`]); only the digest differs.
//!
//! The package is a compound file ([`super::cfb`], read with every length checked). Its
//! signature is the root storage's `\u{5}DigitalSignature` stream (a PKCS#7 `SignedData`
//! whose `SpcIndirectDataContent` names MSI's SIP in an `SpcSipInfo`). The digest it signs,
//! as Windows and osslsigncode compute it:
//! - the content of every stream, and recursively of every storage, each storage's children
//!   in the order of their raw UTF-16LE names ([`super::cfb::hash_order`]), the two signature
//!   streams of the root left out, and after each storage's children its CLSID (the root's
//!   last);
//! - when the root has a `\u{5}MsiDigitalSignatureEx` stream, first the pre-hash of the
//!   metadata (names, sizes, CLSIDs, state bits, creation and modification times, in the same
//!   order), which must also equal that stream.

use std::collections::HashMap;
use std::io::{Read, Seek};

use jiff::Timestamp;

use super::authenticode::{DigestAlg, Hasher, MAX_CERT_TABLE, Subject, Trust, verify_signed};
use super::cfb::{Compound, Entry, Kind};
use super::signature::{Outcome, Verdict};

/// MSI's SIP, `{000C10F1-0000-0000-C000-000000000046}`, as `SpcSipInfo` carries it.
pub const MSI_SIP: [u8; 16] = [
    0xf1, 0x10, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46,
];

/// `\u{5}DigitalSignature`, UTF-16LE with its terminator.
fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn is_signature(name: &[u8]) -> bool {
    name == utf16z("\u{5}DigitalSignature") || name == utf16z("\u{5}MsiDigitalSignatureEx")
}

/// The MSI digest of `cf` with `alg`: `prehash` (the metadata pre-hash, when the package has
/// `MsiDigitalSignatureEx`) first, then every stream and storage.
pub fn content_digest<R: Read + Seek>(
    cf: &Compound,
    r: &mut R,
    alg: DigestAlg,
    prehash: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let mut h = alg.hasher();
    if let Some(p) = prehash {
        h.update(p);
    }
    hash_storage(cf, r, cf.root(), &mut h, true)?;
    Ok(h.finish())
}

fn hash_storage<R: Read + Seek>(
    cf: &Compound,
    r: &mut R,
    storage: &Entry,
    h: &mut Hasher,
    root: bool,
) -> Result<(), String> {
    for child in cf.sorted_children(storage) {
        if root && is_signature(&child.raw_name) {
            continue;
        }
        match child.kind {
            Kind::Stream => cf.read_stream(r, child, &mut |b| h.update(b))?,
            Kind::Storage => hash_storage(cf, r, child, h, false)?,
            Kind::Root | Kind::Other => {}
        }
    }
    h.update(&storage.clsid);
    Ok(())
}

/// The metadata pre-hash `MsiDigitalSignatureEx` holds.
pub fn metadata_prehash(cf: &Compound, alg: DigestAlg) -> Vec<u8> {
    let mut h = alg.hasher();
    prehash_storage(cf, cf.root(), &mut h, true);
    h.finish()
}

fn metadata(e: &Entry, h: &mut Hasher) {
    if e.kind != Kind::Root {
        h.update(&e.raw_name[..e.raw_name.len() - 2]);
    }
    if e.kind == Kind::Stream {
        h.update(&e.size_low);
    } else {
        h.update(&e.clsid);
    }
    h.update(&e.state_bits);
    if e.kind != Kind::Root {
        h.update(&e.created);
        h.update(&e.modified);
    }
}

fn prehash_storage(cf: &Compound, storage: &Entry, h: &mut Hasher, root: bool) {
    metadata(storage, h);
    for child in cf.sorted_children(storage) {
        if root && is_signature(&child.raw_name) {
            continue;
        }
        match child.kind {
            Kind::Stream => metadata(child, h),
            Kind::Storage => prehash_storage(cf, child, h, false),
            Kind::Root | Kind::Other => {}
        }
    }
}

/// The root's stream named `name`, if there is one.
fn root_stream<'a>(cf: &'a Compound, name: &str) -> Result<Option<&'a Entry>, String> {
    let raw = utf16z(name);
    let Some(&i) = cf
        .root()
        .children
        .iter()
        .find(|&&i| cf.entry(i).raw_name == raw)
    else {
        return Ok(None);
    };
    let e = cf.entry(i);
    if e.kind != Kind::Stream {
        return Err(format!("\"{}\" is not a stream", e.name()));
    }
    Ok(Some(e))
}

/// Verifies the Authenticode signature of the MSI package `r` (named `name` in errors) against
/// `trust`, `now` being the time to check an untimestamped chain at (seconds). The publisher
/// and pin are checked after, by the caller.
pub fn verify_msi<R: Read + Seek>(r: &mut R, name: &str, trust: &Trust, now: i64) -> Outcome {
    let not_msi = |e: String| {
        Outcome::new(
            Verdict::Invalid,
            format!("{name} is not a readable MSI (compound file): {e}"),
        )
    };
    let cf = match Compound::open(r) {
        Ok(c) => c,
        Err(e) => return not_msi(e),
    };
    let (sig, ex) = match (
        root_stream(&cf, "\u{5}DigitalSignature"),
        root_stream(&cf, "\u{5}MsiDigitalSignatureEx"),
    ) {
        (Ok(s), Ok(x)) => (s, x),
        (Err(e), _) | (_, Err(e)) => return not_msi(e),
    };
    let Some(sig) = sig else {
        return Outcome::new(Verdict::Unsigned, "no Authenticode signature");
    };
    if let Some(h) = &cf.hidden {
        return Outcome::new(Verdict::Invalid, h.clone());
    }
    if cf.trailing > 0 {
        // CVE-2020-1464: a JAR or script appended to a signed MSI kept its signature valid.
        return Outcome::new(
            Verdict::Invalid,
            format!(
                "{} bytes follow the compound file's last used sector: data appended after \
                 signing, not covered by the signature",
                cf.trailing
            ),
        );
    }
    let blob = match cf.read_small(r, sig, u64::from(MAX_CERT_TABLE)) {
        Ok(b) => b,
        Err(e) => return Outcome::new(Verdict::Invalid, e),
    };
    if let Err(e) = super::authenticode::one_der_element(&blob, "the \\u{5}DigitalSignature stream")
    {
        return Outcome::new(Verdict::Invalid, e);
    }
    let ex = match ex.map(|e| cf.read_small(r, e, 64)).transpose() {
        Ok(x) => x,
        Err(e) => return Outcome::new(Verdict::Invalid, e),
    };
    // Each algorithm's digest once, whichever signatures (nested ones) ask for it.
    let mut done: HashMap<DigestAlg, Vec<u8>> = HashMap::new();
    let mut digest = |alg: DigestAlg| -> Result<Vec<u8>, String> {
        if let Some(d) = done.get(&alg) {
            return Ok(d.clone());
        }
        let prehash = match &ex {
            None => None,
            Some(stored) => {
                let computed = metadata_prehash(&cf, alg);
                if *stored != computed {
                    return Err(format!(
                        "the file was modified after signing: its {} metadata pre-hash {} is \
                         not the {} its MsiDigitalSignatureEx stream holds (names, sizes or \
                         times of its streams changed)",
                        alg.name(),
                        crate::hex(&computed),
                        crate::hex(stored)
                    ));
                }
                Some(computed)
            }
        };
        let d = content_digest(&cf, r, alg, prehash.as_deref())?;
        done.insert(alg, d.clone());
        Ok(d)
    };
    let what = if ex.is_some() {
        "MSI digest (every stream and storage, with the MsiDigitalSignatureEx metadata pre-hash)"
    } else {
        "MSI digest (every stream and storage)"
    };
    let mut subject = Subject {
        what: what.to_owned(),
        sip: Some(MSI_SIP),
        digest: &mut digest,
    };
    verify_signed(&blob, &mut subject, trust, now)
}

/// Verifies the MSI package at `path` in-process (see [`verify_msi`]).
pub fn verify_file(path: &std::path::Path, trust: &Trust) -> Outcome {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            return Outcome::new(
                Verdict::UnverifiableHere,
                format!("{}: {e}", path.display()),
            );
        }
    };
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    verify_msi(&mut file, &name, trust, Timestamp::now().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::cfb::tests::build;
    use std::io::Cursor;

    #[test]
    fn the_digest_is_the_streams_in_name_order_then_each_storage_clsid() {
        let b = build().bytes;
        let cf = Compound::open(&mut Cursor::new(&b)).expect("open");
        // By hand: big (5000 bytes), then sub's small (100) and sub's CLSID, then the root's.
        let mut want = Vec::new();
        want.extend_from_slice(&b[2560..2560 + 5000]);
        want.extend((0..100u8).collect::<Vec<_>>());
        let mut clsid = [0u8; 16];
        clsid[0] = 0xa2;
        want.extend_from_slice(&clsid);
        clsid[0] = 0xa0;
        want.extend_from_slice(&clsid);
        let got = content_digest(&cf, &mut Cursor::new(&b), DigestAlg::Sha256, None).expect("d");
        assert_eq!(got, DigestAlg::Sha256.digest(&want));
        let pre = [7u8; 32];
        let with = content_digest(&cf, &mut Cursor::new(&b), DigestAlg::Sha256, Some(&pre));
        let mut both = pre.to_vec();
        both.extend_from_slice(&want);
        assert_eq!(with.expect("d"), DigestAlg::Sha256.digest(&both));
        // An unsigned package is unsigned; a stream named like the signature is left out.
        let o = verify_msi(&mut Cursor::new(&b), "t.msi", &Trust::default(), 0);
        assert_eq!(o.verdict, Verdict::Unsigned, "{}", o.detail);
    }

    #[test]
    fn the_metadata_prehash_covers_names_sizes_and_times() {
        let b = build().bytes;
        let cf = Compound::open(&mut Cursor::new(&b)).expect("open");
        let e = |i: usize| crate::verify::cfb::tests::entry_at(i);
        let mut want = Vec::new();
        // Root: CLSID and state bits.
        want.extend_from_slice(&b[e(0) + 0x50..e(0) + 0x64]);
        // "big": name, size (low 4 bytes), state bits, times.
        want.extend_from_slice(&b[e(1)..e(1) + 6]);
        want.extend_from_slice(&b[e(1) + 0x78..e(1) + 0x7c]);
        want.extend_from_slice(&b[e(1) + 0x60..e(1) + 0x74]);
        // "sub": name, CLSID, state bits, times; then "small".
        want.extend_from_slice(&b[e(2)..e(2) + 6]);
        want.extend_from_slice(&b[e(2) + 0x50..e(2) + 0x74]);
        want.extend_from_slice(&b[e(3)..e(3) + 10]);
        want.extend_from_slice(&b[e(3) + 0x78..e(3) + 0x7c]);
        want.extend_from_slice(&b[e(3) + 0x60..e(3) + 0x74]);
        assert_eq!(
            metadata_prehash(&cf, DigestAlg::Sha1),
            DigestAlg::Sha1.digest(&want)
        );
    }

    #[test]
    fn broken_packages_are_named() {
        let b = build().bytes;
        let o = verify_msi(
            &mut Cursor::new(&b[..1000]),
            "cut.msi",
            &Trust::default(),
            0,
        );
        assert_eq!(o.verdict, Verdict::Invalid);
        assert!(
            o.detail
                .starts_with("cut.msi is not a readable MSI (compound file): "),
            "{}",
            o.detail
        );
    }
}
