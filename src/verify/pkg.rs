//! Apple flat packages (.pkg, a XAR archive) verified in-process on any host: the table of
//! contents against its checksum, every file's data against the checksum the table records,
//! the RSA signature over that checksum, the signer's chain (as for Mach-O), the Developer ID
//! Installer profile, the CMS signature's secure timestamp, the Team ID, and the stapled
//! notarization ticket, read by its structure (`ticket.rs`), whose list must name the table
//! of contents' digest.

use std::path::Path;

use apple_codesign::{AppleCertificate as _, CertificateProfile};
use apple_xar::reader::XarReader;
use apple_xar::table_of_contents::ChecksumType;

use super::macho::{
    AppleSignature, Slice, chain_of, extra_anchors, judge, signer_of, stamps_this_signature,
    timestamp_of, unsigned, verify_cms,
};
use super::signature::{Expected, Outcome, Verdict};

/// Whether `path` starts like a XAR archive.
pub fn is_pkg(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && &magic == b"xar!"
}

/// A running digest of a checksum style XAR uses, fed as a writer.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(style: ChecksumType) -> Option<Self> {
        use sha2::Digest as _;
        match style {
            ChecksumType::Sha256 => Some(Self::Sha256(sha2::Sha256::new())),
            ChecksumType::Sha512 => Some(Self::Sha512(sha2::Sha512::new())),
            ChecksumType::Sha1 => Some(Self::Sha1(sha1::Sha1::new())),
            _ => None,
        }
    }

    fn finish(self) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        match self {
            Self::Sha1(h) => h.update(buf),
            Self::Sha256(h) => h.update(buf),
            Self::Sha512(h) => h.update(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Verifies the flat package at `path`, pinned to `expected`.
pub fn verify(path: &Path, expected: &Expected) -> (Outcome, AppleSignature) {
    let mut sig = AppleSignature {
        format: "flat package".into(),
        slices: Vec::new(),
        notarization: "not stapled".into(),
    };
    let slice = match package(path, expected, &mut sig.notarization) {
        Ok(s) => s,
        Err(e) => return (Outcome::new(Verdict::Invalid, e), sig),
    };
    let mut outcome = Outcome::new(slice.verdict, slice.detail.clone());
    outcome.signer = Some(signer_of(&slice));
    sig.slices.push(slice);
    (outcome, sig)
}

fn package(path: &Path, expected: &Expected, notarization: &mut String) -> Result<Slice, String> {
    let anchors = extra_anchors(expected);
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut xar = XarReader::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a readable flat package: {e}"))?;
    let mut out = unsigned("package".into());
    let mut problems = Vec::new();
    // The table of contents, then every file's data against what it records.
    if !xar.verify_table_of_contents_checksum().unwrap_or(false) {
        problems.push("the table of contents does not match its checksum".to_owned());
    }
    let files = xar
        .files()
        .map_err(|e| format!("the table of contents: {e}"))?;
    for (name, f) in &files {
        let Some(data) = &f.data else { continue };
        // Streamed through the hash: a package's payload can be gigabytes.
        let Some(mut hasher) = Hasher::new(data.archived_checksum.style) else {
            problems.push(format!("{name}: checksum style not supported"));
            continue;
        };
        if xar.write_file_data_heap_from_file(f, &mut hasher).is_err() {
            problems.push(format!("{name}: its data cannot be read"));
            continue;
        }
        let want = data.archived_checksum.checksum.to_ascii_lowercase();
        if crate::hex(&hasher.finish()) != want {
            problems.push(format!("{name} was modified after signing"));
        }
    }
    let recorded = xar
        .checksum_data()
        .map_err(|e| format!("the checksum: {e}"))?;
    let rsa = xar
        .rsa_signature()
        .map_err(|e| format!("the signature: {e}"))?;
    let Some((_, certs)) = rsa else {
        if !problems.is_empty() {
            out.verdict = Verdict::Invalid;
            out.detail = format!("tampered: {}", problems.join("; "));
            out.integrity = Err(problems.join("; "));
        }
        return Ok(out);
    };
    if !xar.verify_rsa_checksum_signature().unwrap_or(false) {
        problems.push("the RSA signature does not verify".to_owned());
    }
    let cms = xar.cms_signature().ok().flatten();
    // The CMS signature, when there is one, must sign the same checksum.
    if let Some(sd) = &cms
        && let Err(e) = verify_cms(sd, &recorded)
    {
        problems.push(format!(
            "the CMS signature does not sign this table of contents: {e}"
        ));
    }
    out.integrity = if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    };
    let Some(leaf) = certs.first() else {
        out.verdict = Verdict::Invalid;
        out.detail = "the signature names no certificate".into();
        return Ok(out);
    };
    let chain = chain_of(leaf, &certs, &anchors);
    out.chain.clone_from(&chain.links);
    out.team_id = leaf.apple_team_id();
    out.profile = match leaf.apple_guess_profile() {
        Some(CertificateProfile::DeveloperIdInstaller) => "Developer ID Installer".into(),
        Some(CertificateProfile::DeveloperIdApplication) => "Developer ID Application".into(),
        Some(other) => other.to_string(),
        None if leaf.subject_is_issuer() => "self-signed".into(),
        None => "not an Apple installer certificate".into(),
    };
    let mut cdhash = recorded.clone();
    cdhash.truncate(20);
    out.cdhash = Some(crate::hex(&cdhash));
    out.timestamp = None;
    if let Some(signer) = cms.as_ref().and_then(|c| c.signers().next()) {
        match signer.verify_time_stamp_token() {
            Ok(Some(())) if stamps_this_signature(signer) => {
                out.timestamp = Some(timestamp_of(signer));
            }
            Ok(None) => {}
            _ => problems.push("the secure timestamp does not verify".to_owned()),
        }
    }
    let (verdict, detail) = if problems.is_empty() {
        judge(leaf, &chain, &out, "Developer ID Installer", expected, "")
    } else {
        (
            Verdict::Invalid,
            format!("tampered: {}", problems.join("; ")),
        )
    };
    out.verdict = verdict;
    out.detail = detail;
    // The stapled ticket: a `t8lr` trailer at the end of the file, naming the TOC digest.
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match stapled_ticket(&bytes)
        .map(|t| super::ticket::judge(t, &[cdhash.clone()], "this package's digest"))
    {
        Some(Ok(line)) => {
            if out.verdict == Verdict::Valid {
                out.detail = format!("{}; {line}", out.detail);
            }
            *notarization = line;
        }
        Some(Err(why)) => {
            notarization.clone_from(&why);
            out.verdict = Verdict::Invalid;
            out.detail = why;
        }
        None => {
            if out.verdict == Verdict::Valid {
                out.verdict = Verdict::Untrusted;
                out.detail = format!(
                    "{}; but no notarization ticket is stapled (xcrun stapler staple)",
                    out.detail
                );
            }
        }
    }
    Ok(out)
}

/// The ticket of a `t8lr` trailer of type 2 (ticket) at the end of `bytes`.
fn stapled_ticket(bytes: &[u8]) -> Option<&[u8]> {
    let trailer = bytes.get(bytes.len().checked_sub(16)?..)?;
    if &trailer[..4] != b"t8lr" || u16::from_le_bytes([trailer[6], trailer[7]]) != 2 {
        return None;
    }
    let len = u32::from_le_bytes([trailer[8], trailer[9], trailer[10], trailer[11]]) as usize;
    let end = bytes.len() - 16;
    bytes.get(end.checked_sub(len)?..end)
}
