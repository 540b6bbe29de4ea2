//! Apple code signatures of Mach-O files (thin and universal), verified in-process on any
//! host with the `apple-codesign` crate: every code page and special slot against the
//! CodeDirectory, the CMS signature over the CodeDirectory, the signer's chain checked
//! certificate by certificate up to a root matched by SHA-256 fingerprint, the profile, the
//! Team ID, the secure timestamp and the hardened runtime flag.

use std::path::Path;

use apple_codesign::{
    AppleCertificate as _, Blob as _, CertificateProfile, CodeSignatureFlags, CodeSigningSlot,
    EmbeddedSignature, KnownCertificate, MachFile, MachOBinary, VerificationProblemType,
};
use serde::Serialize;
use x509_certificate::CapturedX509Certificate;

use super::signature::{Expected, Outcome, Signer, Verdict};

/// SHA-256 fingerprints of Apple's root certificates (apple.com/certificateauthority): Apple
/// Root CA, Apple Root CA - G2, Apple Root CA - G3. A chain is Apple's only when it ends at one
/// of these, whatever names it carries.
pub const APPLE_ROOT_SHA256: [(&str, &str); 3] = [
    (
        "Apple Root CA",
        "b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024",
    ),
    (
        "Apple Root CA - G2",
        "c2b9b042dd57830e7d117dac55ac8ae19407d38e41d88f3215bc3a890444a050",
    ),
    (
        "Apple Root CA - G3",
        "63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179",
    ),
];

/// What one architecture slice's signature says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slice {
    /// `x86_64`, `arm64`, ...
    pub arch: String,
    pub verdict: Verdict,
    /// Why, in one line.
    pub detail: String,
    pub identifier: Option<String>,
    /// The CodeDirectory's Team ID.
    pub team_id: Option<String>,
    /// The CodeDirectory hash (hex, 20 bytes), what a notarization ticket names.
    pub cdhash: Option<String>,
    pub hardened_runtime: bool,
    pub adhoc: bool,
    /// `Developer ID Application`, `Apple Development`, `ad-hoc`, `self-signed`, ...
    pub profile: String,
    /// Leaf first, as verified: each link's signature checked with the next one's key.
    pub chain: Vec<ChainLink>,
    /// The secure timestamp: who and when.
    pub timestamp: Option<String>,
    /// Every page and slot digest matches, and the CMS signature covers this CodeDirectory.
    pub integrity: Result<(), String>,
}

/// One certificate of a verified chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainLink {
    pub subject: String,
    pub sha256: crate::digest::Sha256,
    /// For the root: what it was matched against (`Apple Root CA by fingerprint`, `the
    /// workspace's ca_file`).
    pub anchor: Option<String>,
}

/// The Apple signature of a file, slice by slice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppleSignature {
    pub format: String,
    pub slices: Vec<Slice>,
    /// What can be said about notarization from this file alone.
    pub notarization: String,
}

/// Whether `data` starts like a Mach-O (thin, either byte order) or a universal binary (with
/// a plausible architecture count, which a Java class file does not have).
pub fn is_macho(data: &[u8]) -> bool {
    let Some(magic) = data.get(..4) else {
        return false;
    };
    match u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]) {
        0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe => true,
        0xcafe_babe => data
            .get(4..8)
            .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]))
            .is_some_and(|n| (1..=16).contains(&n)),
        _ => false,
    }
}

pub(crate) fn arch_name(cputype: u32) -> String {
    match cputype {
        0x0100_0007 => "x86_64".into(),
        0x0100_000c => "arm64".into(),
        0x0200_000c => "arm64_32".into(),
        7 => "i386".into(),
        12 => "arm".into(),
        other => format!("cpu {other:#x}"),
    }
}

/// SHA-256 of the certificate's bytes as they came (re-encoding a BER-parsed certificate is
/// not always possible, and would not be what was signed).
fn fingerprint(cert: &CapturedX509Certificate) -> crate::digest::Sha256 {
    crate::digest::Sha256::of(cert.constructed_data())
}

pub(crate) fn name_of(cert: &CapturedX509Certificate) -> String {
    cert.subject_common_name()
        .unwrap_or_else(|| cert.subject_name().user_friendly_str().unwrap_or_default())
}

/// Certificates the workspace trusts besides Apple's roots (its `ca_file`, PEM), by
/// fingerprint.
pub fn extra_anchors(expected: &Expected) -> Vec<CapturedX509Certificate> {
    let Some(path) = &expected.ca_file else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read(path) else {
        return Vec::new();
    };
    CapturedX509Certificate::from_pem_multiple(text).unwrap_or_default()
}

/// Verifies the Mach-O at `path` (its bytes in `data`), pinned to `expected`.
pub fn verify(path: &Path, data: &[u8], expected: &Expected) -> (Outcome, AppleSignature) {
    let anchors = extra_anchors(expected);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = match MachFile::parse(data) {
        Ok(f) => f,
        Err(e) => {
            let sig = AppleSignature {
                format: "Mach-O".into(),
                slices: Vec::new(),
                notarization: String::new(),
            };
            return (
                Outcome::new(
                    Verdict::Invalid,
                    format!("{name}: not a readable Mach-O: {e}"),
                ),
                sig,
            );
        }
    };
    let format = if file.is_fat() {
        "universal Mach-O"
    } else {
        "Mach-O"
    };
    let slices: Vec<Slice> = file
        .iter_macho()
        .map(|m| slice(m, expected, &anchors))
        .collect();
    let sig = AppleSignature {
        format: format.into(),
        notarization: "checkable online only: a bare Mach-O cannot carry a stapled ticket".into(),
        slices,
    };
    (summarize(&sig), sig)
}

/// How bad a verdict is: lower is worse (the worst slice decides an artifact).
pub(crate) fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Invalid => 0,
        Verdict::Unsigned => 1,
        Verdict::Untrusted => 2,
        Verdict::IdentityMismatch => 3,
        Verdict::UnverifiableHere => 4,
        Verdict::NotApplicable => 5,
        Verdict::Valid => 6,
    }
}

/// The file's verdict: its worst slice's, with that slice named when there are several.
pub(crate) fn summarize(sig: &AppleSignature) -> Outcome {
    let Some(worst) = sig.slices.iter().min_by_key(|s| rank(s.verdict)) else {
        return Outcome::new(Verdict::Invalid, "no architecture slice");
    };
    let detail = if sig.slices.len() > 1 {
        let archs: Vec<&str> = sig.slices.iter().map(|s| s.arch.as_str()).collect();
        if worst.verdict == Verdict::Valid {
            format!("{} ({}): {}", sig.format, archs.join(" + "), worst.detail)
        } else {
            format!("{} slice: {}", worst.arch, worst.detail)
        }
    } else {
        worst.detail.clone()
    };
    let mut outcome = Outcome::new(worst.verdict, detail);
    outcome.signer = Some(signer_of(worst));
    outcome
}

/// The signer row of the report for a slice.
pub(crate) fn signer_of(worst: &Slice) -> Signer {
    Signer {
        subject: worst
            .chain
            .first()
            .map_or_else(|| worst.profile.clone(), |c| c.subject.clone()),
        publisher: worst
            .chain
            .first()
            .map(|c| super::apple::publisher_of(&c.subject))
            .unwrap_or_default(),
        issuer: worst
            .chain
            .get(1)
            .map(|c| c.subject.clone())
            .unwrap_or_default(),
        serial: String::new(),
        cert_sha256: worst.chain.first().map(|c| c.sha256),
        signing_time: None,
        timestamp: worst.timestamp.clone(),
        timestamp_valid: worst.timestamp.is_some(),
        chain: worst.chain.iter().map(|c| c.subject.clone()).collect(),
        team_id: worst.team_id.clone(),
        digest_match: worst.integrity.is_ok(),
    }
}

fn problem_text(p: &VerificationProblemType) -> Option<String> {
    use VerificationProblemType as P;
    Some(match p {
        P::CodeDigestMismatch(i, ..) => format!("code page {i} does not match its digest"),
        P::CodeDigestMissingEntry(i, _) => format!("code page {i} has no digest"),
        P::CodeDigestExtraEntry(i, _) => format!("digest {i} has no code page"),
        P::SlotDigestMismatch(slot, ..) => format!("the {slot:?} slot does not match its digest"),
        P::SlotDigestMissing(slot) => format!("the {slot:?} slot has no digest"),
        P::ExtraSlotDigest(slot, _) => format!("a digest for the absent {slot:?} slot"),
        P::CmsError(e) => format!("the CMS signature does not verify: {e}"),
        P::MachOSignatureError(e) => format!("the signature cannot be read: {e}"),
        P::CodeDigestError(e) | P::SlotDigestError(e) => format!("digests: {e}"),
        P::MachOParseError(e) => format!("not a readable Mach-O: {e}"),
        P::IoError(e) => e.to_string(),
        // Layout and algorithm notes, not integrity failures.
        _ => return None,
    })
}

/// A slice that is not signed (yet): what [`analyze`] fills in.
pub(crate) fn unsigned(arch: String) -> Slice {
    Slice {
        arch,
        verdict: Verdict::Unsigned,
        detail: "not signed".into(),
        identifier: None,
        team_id: None,
        cdhash: None,
        hardened_runtime: false,
        adhoc: false,
        profile: "unsigned".into(),
        chain: Vec::new(),
        timestamp: None,
        integrity: Err("not signed".into()),
    }
}

/// The log2 page sizes a Mach-O signature may use (Apple signs with 4 KiB or 16 KiB pages).
pub(crate) const MACHO_PAGE_SIZES: std::ops::RangeInclusive<u8> = 9..=16;

/// An embedded signature's `SuperBlob`, checked before the crate parses it. The crate reserves
/// memory for the blob and requirement counts it reads, so a count no blob could hold aborts
/// the process (an allocation failure cannot be caught), and it hashes code in pages of the
/// size the CodeDirectory names (a 1-byte page makes a digest of every byte). Every count must
/// fit the bytes that follow it, and every CodeDirectory's page size must be one of `pages`
/// (log2; a disk image's single "page" is 0).
pub(crate) fn check_superblob(
    data: &[u8],
    pages: &std::ops::RangeInclusive<u8>,
) -> Result<(), String> {
    let be = |at: usize| -> Option<usize> {
        let b = data.get(at..at.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let fits = |count: usize, from: usize| {
        count
            .checked_mul(8)
            .and_then(|n| n.checked_add(from + 12))
            .is_some_and(|end| end <= data.len())
    };
    let count = be(8).ok_or("the signature is shorter than its 12-byte header")?;
    if !fits(count, 0) {
        return Err(format!(
            "the signature claims {count} blobs, more than its {} bytes can hold",
            data.len()
        ));
    }
    for i in 0..count {
        let Some(at) = be(12 + i * 8 + 4) else {
            continue;
        };
        match be(at) {
            // A requirement set: a count, then (type, offset) pairs.
            Some(0xfade_0c01) => {
                let n = be(at + 8).unwrap_or(0);
                if !fits(n, at) {
                    return Err(format!(
                        "the signature's requirement set claims {n} requirements, more than \
                         its bytes can hold"
                    ));
                }
            }
            // A CodeDirectory: its page size is the byte at 39.
            Some(0xfade_0c02) => {
                if let Some(&log2) = data.get(at + 39)
                    && !pages.contains(&log2)
                {
                    return Err(format!(
                        "the code directory's page size is 2^{log2} bytes, which no signer of \
                         this format uses (2^{} to 2^{})",
                        pages.start(),
                        pages.end()
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The embedded signature a reader found; `None` leaves `out` unsigned, or invalid when the
/// signature is there but unreadable.
pub(crate) fn embedded<'a, E: std::fmt::Display>(
    read: Result<Option<EmbeddedSignature<'a>>, E>,
    out: &mut Slice,
) -> Option<EmbeddedSignature<'a>> {
    match read {
        Ok(s) => s,
        Err(e) => {
            unreadable(out, e);
            None
        }
    }
}

/// Marks `out` invalid: its signature is there but cannot be read.
fn unreadable(out: &mut Slice, why: impl std::fmt::Display) {
    out.verdict = Verdict::Invalid;
    out.detail = format!("the signature cannot be read: {why}");
    out.integrity = Err(out.detail.clone());
}

/// The CMS blob of a signature, when it has a non-empty one (ad-hoc has none).
fn cms_of<'a>(signature: &'a EmbeddedSignature<'_>) -> Option<&'a [u8]> {
    signature
        .signature_data()
        .ok()
        .flatten()
        .filter(|d| !d.is_empty())
}

fn slice(m: &MachOBinary<'_>, expected: &Expected, anchors: &[CapturedX509Certificate]) -> Slice {
    slice_with(m, expected, anchors, |_| Vec::new())
}

/// A slice's verdict, with `more` adding integrity problems found from its signature (a
/// bundle's Info.plist and sealed resources).
pub(crate) fn slice_with(
    m: &MachOBinary<'_>,
    expected: &Expected,
    anchors: &[CapturedX509Certificate],
    more: impl FnOnce(&EmbeddedSignature<'_>) -> Vec<String>,
) -> Slice {
    let mut out = unsigned(arch_name(m.macho.header.cputype()));
    if let Ok(Some(raw)) = m.find_signature_data()
        && let Err(why) = check_superblob(raw.signature_data, &MACHO_PAGE_SIZES)
    {
        unreadable(&mut out, why);
        return out;
    }
    let Some(signature) = embedded(m.code_signature(), &mut out) else {
        return out;
    };
    // Pages and slots, by the crate. An ad-hoc signature has an empty CMS blob, which the
    // crate reports as unreadable.
    let has_cms = cms_of(&signature).is_some();
    let mut problems: Vec<String> = apple_codesign::verify_macho(m)
        .iter()
        .filter(|p| has_cms || !matches!(p.problem, VerificationProblemType::CmsError(_)))
        .filter_map(|p| problem_text(&p.problem))
        .collect();
    problems.extend(more(&signature));
    analyze(out, &signature, problems, expected, anchors)
}

/// Everything after the code's own digests: the CodeDirectory's facts, the CMS over it, the
/// signer's chain, profile, team and timestamp, and the verdict (`problems` are the integrity
/// failures found so far; any of them makes it invalid).
pub(crate) fn analyze(
    mut out: Slice,
    signature: &EmbeddedSignature<'_>,
    mut problems: Vec<String>,
    expected: &Expected,
    anchors: &[CapturedX509Certificate],
) -> Slice {
    let Ok(Some(cd)) = signature.code_directory() else {
        out.verdict = Verdict::Invalid;
        out.detail = "the signature has no readable CodeDirectory".into();
        out.integrity = Err(out.detail.clone());
        return out;
    };
    out.identifier = Some(cd.ident.to_string());
    // What the CodeDirectory claims; the team is the signer certificate's (below), and the
    // two must agree.
    let cd_team = cd.team_name.as_ref().map(ToString::to_string);
    // A CodeDirectory before version 0x20200 (what disk images carry) has no team field.
    let cd_has_team_field = cd.version >= 0x20200;
    out.team_id.clone_from(&cd_team);
    out.hardened_runtime = cd.flags.contains(CodeSignatureFlags::RUNTIME);
    out.adhoc = cd.flags.contains(CodeSignatureFlags::ADHOC);
    out.cdhash = cd
        .digest_with(cd.digest_type)
        .ok()
        .map(|d| crate::hex(&d[..d.len().min(20)]));
    let cms = cms_of(signature);
    let parsed_cms = cms.map(cryptographic_message_syntax::SignedData::parse_ber);
    if let Some(Ok(sd)) = &parsed_cms {
        // The CodeDirectory's bytes as they are in the file: what was signed.
        let cd_bytes = signature
            .find_slot(CodeSigningSlot::CodeDirectory)
            .map(|e| e.data);
        match cd_bytes.map(|b| verify_cms(sd, b)) {
            Some(Ok(())) => {}
            Some(Err(e)) => problems.push(format!(
                "the CMS signature is not over this CodeDirectory: {e}"
            )),
            None => problems.push("the signature has no CodeDirectory slot".to_owned()),
        }
    }
    if let Some(Err(e)) = &parsed_cms {
        problems.push(format!("the CMS blob cannot be read: {e}"));
    }
    problems.dedup();
    // A tampered signature is red whatever else it says, but the rest is still read and shown.
    let tampered = (!problems.is_empty()).then(|| format!("tampered: {}", problems.join("; ")));
    out.integrity = match &tampered {
        Some(_) => Err(problems.join("; ")),
        None => Ok(()),
    };
    let finish = |mut out: Slice| {
        if let Some(t) = &tampered {
            out.verdict = Verdict::Invalid;
            out.detail.clone_from(t);
        }
        out
    };
    let Some(Ok(sd)) = parsed_cms else {
        out.verdict = Verdict::Untrusted;
        out.profile = "ad-hoc".into();
        out.detail =
            "ad-hoc signature: intact, but it names no identity (not for distribution)".into();
        return finish(out);
    };
    let certs: Vec<CapturedX509Certificate> = sd.certificates().cloned().collect();
    let Some(signer) = sd.signers().next() else {
        out.verdict = Verdict::Invalid;
        out.detail = "the CMS signature has no signer".into();
        return finish(out);
    };
    let leaf = signer
        .certificate_issuer_and_serial()
        .and_then(|(issuer, serial)| {
            certs.iter().find(|c| {
                let tbs =
                    &AsRef::<x509_certificate::rfc5280::Certificate>::as_ref(*c).tbs_certificate;
                &tbs.issuer == issuer && &tbs.serial_number == serial
            })
        });
    let Some(leaf) = leaf else {
        out.verdict = Verdict::Invalid;
        out.detail = "the signer's certificate is not in the signature".into();
        return finish(out);
    };
    let chain = chain_of(leaf, &certs, anchors);
    out.chain.clone_from(&chain.links);
    // The team is the signer certificate's subject OU; the CodeDirectory must say the same
    // (unless it predates the team field).
    out.team_id = leaf.apple_team_id();
    if (cd_has_team_field || cd_team.is_some()) && out.team_id != cd_team {
        out.verdict = Verdict::Invalid;
        out.detail = format!(
            "the CodeDirectory claims Team ID {}, but the signer's certificate ({:?}) is team \
             {}",
            cd_team.as_deref().unwrap_or("none"),
            name_of(leaf),
            out.team_id.as_deref().unwrap_or("none")
        );
        return finish(out);
    }
    out.profile = match leaf.apple_guess_profile() {
        Some(CertificateProfile::DeveloperIdApplication) => "Developer ID Application".into(),
        Some(CertificateProfile::DeveloperIdInstaller) => "Developer ID Installer".into(),
        Some(CertificateProfile::AppleDevelopment) => "Apple Development".into(),
        Some(CertificateProfile::AppleDistribution) => "Apple Distribution".into(),
        Some(other) => other.to_string(),
        None if leaf.subject_is_issuer() => "self-signed".into(),
        None => "not an Apple code-signing certificate".into(),
    };
    out.timestamp = match signer.verify_time_stamp_token() {
        Ok(Some(())) if !stamps_this_signature(signer) => {
            out.verdict = Verdict::Invalid;
            out.detail = "the secure timestamp is for another signature".into();
            return finish(out);
        }
        Ok(Some(())) => Some(timestamp_of(signer)),
        Ok(None) => None,
        Err(e) => {
            out.verdict = Verdict::Invalid;
            out.detail = format!("the secure timestamp does not verify: {e}");
            return finish(out);
        }
    };
    let runtime = if out.hardened_runtime {
        ", hardened runtime"
    } else {
        ", NO hardened runtime (notarization will refuse it)"
    };
    let (verdict, detail) = judge(
        leaf,
        &chain,
        &out,
        "Developer ID Application",
        expected,
        runtime,
    );
    out.verdict = verdict;
    out.detail = detail;
    finish(out)
}

/// The verdict on who signed: a trusted chain, the profile distribution needs (`wanted`), a
/// secure timestamp and the pinned team, in that order; `valid_note` ends a valid detail.
pub(crate) fn judge(
    leaf: &CapturedX509Certificate,
    chain: &Chain,
    out: &Slice,
    wanted: &str,
    expected: &Expected,
    valid_note: &str,
) -> (Verdict, String) {
    let who = name_of(leaf);
    if let Some(bad) = &chain.not_ca {
        return (
            Verdict::Untrusted,
            format!(
                "{who:?} chains through {bad:?}, which is not a CA (basicConstraints CA and \
                 keyCertSign): nothing it signs is trusted"
            ),
        );
    }
    if !chain.anchored {
        let why = if leaf.subject_is_issuer() {
            format!("self-signed certificate {who:?}: it does not chain to Apple Root CA")
        } else {
            format!(
                "{who:?} does not chain to Apple Root CA (checked by fingerprint) or the \
                 workspace's ca_file"
            )
        };
        return (Verdict::Untrusted, why);
    }
    if out.profile != wanted {
        return (
            Verdict::Untrusted,
            format!(
                "{} certificate {who:?}: outside the App Store, {wanted} is what distribution \
                 needs",
                out.profile
            ),
        );
    }
    if let Some(why) = developer_id_marks(leaf, chain, wanted) {
        return (Verdict::Untrusted, format!("{who:?}: {why}"));
    }
    if out.timestamp.is_none() {
        return (
            Verdict::Untrusted,
            format!("{who}: no secure timestamp (notarization needs one)"),
        );
    }
    let got = out.team_id.as_deref();
    match (&expected.apple_team_id, got) {
        (Some(want), Some(got)) if want.eq_ignore_ascii_case(got) => (
            Verdict::Valid,
            format!("{who}, Team ID {got}, timestamped{valid_note}"),
        ),
        (Some(want), got) => (
            Verdict::IdentityMismatch,
            format!(
                "{who}: expected Team ID {want}, got {}",
                got.unwrap_or("none")
            ),
        ),
        (None, got) => (
            Verdict::IdentityMismatch,
            format!(
                "{who}: no Team ID pinned (set [signing] apple_team_id or --expect-team-id); \
                 got {}",
                got.unwrap_or("none")
            ),
        ),
    }
}

/// Apple's marker extension on a Developer ID Application leaf.
pub const DEVELOPER_ID_APPLICATION_OID: &str = "1.2.840.113635.100.6.1.13";
/// Apple's marker extension on a Developer ID Installer leaf.
pub const DEVELOPER_ID_INSTALLER_OID: &str = "1.2.840.113635.100.6.1.14";
/// Apple's marker extension on the Developer ID intermediate CA.
pub const DEVELOPER_ID_CA_OID: &str = "1.2.840.113635.100.6.2.6";

/// A signer's chain as verified.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chain {
    /// Leaf first.
    pub links: Vec<ChainLink>,
    /// It ends at a trusted root, and every issuer on the way is a CA.
    pub anchored: bool,
    /// A certificate that signed the one before it without being a CA: the chain stops there.
    pub not_ca: Option<String>,
    /// The leaf's issuer carries Apple's Developer ID intermediate marker.
    pub developer_id_issuer: bool,
}

/// Whether `cert` carries the extension `oid` (dotted).
fn has_extension(cert: &CapturedX509Certificate, oid: &str) -> bool {
    AsRef::<x509_certificate::rfc5280::Certificate>::as_ref(cert)
        .iter_extensions()
        .any(|e| e.id.to_string() == oid)
}

/// Whether `cert` may issue certificates: basicConstraints CA, and keyUsage keyCertSign.
fn is_ca(cert: &CapturedX509Certificate) -> bool {
    use x509_parser::prelude::FromDer as _;
    let Ok((_, c)) = x509_parser::certificate::X509Certificate::from_der(cert.constructed_data())
    else {
        return false;
    };
    let ca = c
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|b| b.value.ca);
    let sign = c
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|k| k.value.key_cert_sign());
    ca && sign
}

/// Why a leaf playing `wanted` (a Developer ID profile) is not marked as Apple marks one: the
/// leaf's Developer ID extension, and the Developer ID intermediate's above it.
fn developer_id_marks(
    leaf: &CapturedX509Certificate,
    chain: &Chain,
    wanted: &str,
) -> Option<String> {
    let oid = match wanted {
        "Developer ID Application" => DEVELOPER_ID_APPLICATION_OID,
        "Developer ID Installer" => DEVELOPER_ID_INSTALLER_OID,
        _ => return None,
    };
    if !has_extension(leaf, oid) {
        return Some(format!(
            "the certificate lacks Apple's {wanted} marker extension ({oid})"
        ));
    }
    if !chain.developer_id_issuer {
        let issuer = chain
            .links
            .get(1)
            .map_or("no issuer", |l| l.subject.as_str());
        return Some(format!(
            "its issuer {issuer:?} is not Apple's Developer ID intermediate (no \
             {DEVELOPER_ID_CA_OID} extension)"
        ));
    }
    None
}

/// The chain from `leaf` up, each certificate verified as signed by the next (from the
/// signature's own certificates, Apple's published intermediates and `anchors`), each issuer a
/// CA, and whether it ends at a trusted root: an Apple root by SHA-256 fingerprint, or one of
/// `anchors`.
pub(crate) fn chain_of(
    leaf: &CapturedX509Certificate,
    certs: &[CapturedX509Certificate],
    anchors: &[CapturedX509Certificate],
) -> Chain {
    let pool: Vec<&CapturedX509Certificate> = certs
        .iter()
        .chain(KnownCertificate::all().iter().copied())
        .chain(anchors.iter())
        .collect();
    let apple_root = |c: &CapturedX509Certificate| {
        let sha = fingerprint(c);
        APPLE_ROOT_SHA256
            .iter()
            .find(|(_, s)| *s == sha.to_string())
            .filter(|_| c.verify_signed_by_certificate(c).is_ok())
            .map(|(name, _)| format!("{name}, matched by SHA-256 fingerprint"))
    };
    let workspace_anchor = |c: &CapturedX509Certificate| {
        let sha = fingerprint(c);
        anchors
            .iter()
            .any(|a| fingerprint(a) == sha)
            .then(|| "the workspace's ca_file".to_owned())
    };
    let mut chain: Vec<&CapturedX509Certificate> = vec![leaf];
    let mut anchor = None;
    let mut not_ca = None;
    loop {
        let current = chain[chain.len() - 1];
        // A chain ends at the first trusted root, whatever else cross-signed it.
        if chain.len() > 1
            && let Some(a) = apple_root(current).or_else(|| workspace_anchor(current))
        {
            anchor = Some(a);
            break;
        }
        let seen: Vec<crate::digest::Sha256> = chain.iter().map(|c| fingerprint(c)).collect();
        let signers: Vec<&CapturedX509Certificate> = pool
            .iter()
            .copied()
            .filter(|candidate| {
                !seen.contains(&fingerprint(candidate))
                    && current.verify_signed_by_certificate(*candidate).is_ok()
            })
            .collect();
        // A CA that signed it, else the certificate that did without being one.
        if let Some(i) = signers.iter().copied().find(|c| is_ca(c)) {
            chain.push(i);
        } else {
            if let Some(i) = signers.first().copied() {
                not_ca = Some(name_of(i));
                chain.push(i);
            }
            break;
        }
    }
    let mut links: Vec<ChainLink> = chain
        .iter()
        .map(|c| ChainLink {
            subject: name_of(c),
            sha256: fingerprint(c),
            anchor: None,
        })
        .collect();
    let anchored = anchor.is_some() && not_ca.is_none();
    if let Some(last) = links.last_mut() {
        last.anchor = anchor;
    }
    Chain {
        links,
        anchored,
        not_ca,
        developer_id_issuer: chain
            .get(1)
            .is_some_and(|c| has_extension(c, DEVELOPER_ID_CA_OID)),
    }
}

/// Verifies every signer of `sd` over `content` (detached, as Apple's signatures are): the
/// signature over its signed attributes and their `messageDigest` against `content`, or,
/// without signed attributes, the signature over `content` itself. The one CMS check of every
/// Apple format (Mach-O, disk image, bundle, flat package).
pub(crate) fn verify_cms(
    sd: &cryptographic_message_syntax::SignedData,
    content: &[u8],
) -> Result<(), String> {
    let mut signers = 0;
    for signer in sd.signers() {
        signers += 1;
        if signer.signed_attributes().is_some() {
            signer.verify_signature_with_signed_data(sd).map_err(|e| {
                format!("the signature over the signed attributes does not verify ({e})")
            })?;
            signer
                .verify_message_digest_with_content(content)
                .map_err(|e| format!("the messageDigest is not this content's ({e})"))?;
        } else {
            signer
                .verify_signature_with_signed_data_and_content(sd, content)
                .map_err(|e| format!("the signature over the content does not verify ({e})"))?;
        }
    }
    if signers == 0 {
        return Err("it has no signer".into());
    }
    Ok(())
}

/// Whether the timestamp token's message imprint is the hash of this signer's signature (the
/// token's own signature is checked by `verify_time_stamp_token`; this ties it to ours).
pub(crate) fn stamps_this_signature(signer: &cryptographic_message_syntax::SignerInfo) -> bool {
    use sha2::Digest as _;
    let Ok(Some(tst)) = signer.time_stamp_token_signed_data() else {
        return false;
    };
    let Some(info) = tst.signed_content() else {
        return false;
    };
    let sig = signer.signature();
    let digests: [Vec<u8>; 3] = [
        sha2::Sha256::digest(sig).to_vec(),
        sha2::Sha384::digest(sig).to_vec(),
        sha2::Sha512::digest(sig).to_vec(),
    ];
    digests
        .iter()
        .any(|d| info.windows(d.len()).any(|w| w == d.as_slice()))
}

/// `TSA name at TIME` of a verified timestamp token.
pub(crate) fn timestamp_of(signer: &cryptographic_message_syntax::SignerInfo) -> String {
    let Ok(Some(tst)) = signer.time_stamp_token_signed_data() else {
        return "timestamped".into();
    };
    let tsa = tst
        .signers()
        .next()
        .and_then(|s| s.certificate_issuer_and_serial())
        .and_then(|(issuer, serial)| {
            tst.certificates().find(|c| {
                let tbs =
                    &AsRef::<x509_certificate::rfc5280::Certificate>::as_ref(*c).tbs_certificate;
                &tbs.issuer == issuer && &tbs.serial_number == serial
            })
        })
        .map_or_else(|| "an unnamed TSA".to_owned(), name_of);
    let when = tst
        .signed_content()
        .and_then(gen_time)
        .unwrap_or_else(|| "an unreadable time".into());
    format!("{tsa} at {when}")
}

/// The `genTime` of a DER `TSTInfo` (RFC 3161): the first `GeneralizedTime` in it.
fn gen_time(tst_info: &[u8]) -> Option<String> {
    // GeneralizedTime is tag 0x18; the first one in TSTInfo is genTime (the policy, imprint
    // and serial before it are OID, SEQUENCE and INTEGER).
    let at = tst_info
        .windows(2)
        .position(|w| w[0] == 0x18 && (15..=24).contains(&w[1]))?;
    let len = usize::from(tst_info[at + 1]);
    let text = std::str::from_utf8(tst_info.get(at + 2..at + 2 + len)?).ok()?;
    let digits = text.trim_end_matches('Z');
    let main = digits.split('.').next()?;
    (main.len() == 14 && main.chars().all(|c| c.is_ascii_digit())).then(|| {
        format!(
            "{}-{}-{} {}:{}:{} UTC",
            &main[..4],
            &main[4..6],
            &main[6..8],
            &main[8..10],
            &main[10..12],
            &main[12..14]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_roots_embedded_in_the_crate_match_the_pinned_fingerprints() {
        let roots: Vec<String> = KnownCertificate::all_roots()
            .iter()
            .map(|c| fingerprint(c).to_string())
            .collect();
        for (name, sha) in APPLE_ROOT_SHA256 {
            assert!(roots.iter().any(|r| r == sha), "{name} {sha} in {roots:?}");
        }
    }

    #[test]
    fn magic_tells_mach_o_from_a_java_class() {
        assert!(is_macho(&[0xcf, 0xfa, 0xed, 0xfe, 0, 0, 0, 0]));
        assert!(is_macho(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]));
        // A class file: 0xCAFEBABE, then minor/major version (e.g. 0x0000_0041).
        assert!(!is_macho(&[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0x41]));
        assert!(!is_macho(b"MZ\x90\x00"));
    }

    #[test]
    fn gen_time_is_read_from_tst_info() {
        let mut der = vec![0x30, 0x20, 0x02, 0x01, 0x01, 0x06, 0x01, 0x2a];
        der.extend_from_slice(&[0x18, 15]);
        der.extend_from_slice(b"20261202101112Z");
        assert_eq!(gen_time(&der).as_deref(), Some("2026-12-02 10:11:12 UTC"));
    }
}
