//! Signature verification: Authenticode of PE files and MSI packages in-process
//! ([`super::authenticode`], [`super::msi`]) and, where it is installed, with `osslsigncode` too
//! (the two must agree; its output parsed into who signed and whether to trust it); Apple
//! signatures in [`super::apple`].

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use serde::Serialize;

/// How long one verification tool run may take.
pub(crate) const TOOL_TIMEOUT: Duration = Duration::from_mins(1);

/// What kind of signature an artifact carries, by extension (and magic bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Windows PE: .exe, .dll, .sys, .efi.
    Pe,
    Msi,
    /// macOS: .dmg, .app, .pkg, Mach-O.
    Apple,
    /// Nothing to verify (e.g. .tar.gz, .zip).
    None,
}

/// Classifies `path` by extension, and by Mach-O magic for files without one.
pub fn kind_of(path: &Path) -> Kind {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("exe" | "dll" | "sys" | "efi") => Kind::Pe,
        Some("msi") => Kind::Msi,
        Some("dmg" | "app" | "pkg" | "dylib") => Kind::Apple,
        // An app is shipped zipped (for notarization and download); a zip the feeds would offer
        // as the macOS app (`NAME.app.zip`) is judged as one, and is red when it holds none.
        Some("zip") => {
            let named_app = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase().contains(".app."));
            if named_app || super::bundle::is_zipped_app(path) {
                Kind::Apple
            } else {
                Kind::None
            }
        }
        // Any other name: the content decides, so a Mach-O or a PE file is never waved through
        // as "not signable" for its name.
        _ => {
            let mut magic = [0u8; 4];
            let read = std::fs::File::open(path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok();
            match u32::from_be_bytes(magic) {
                0xfeed_face | 0xfeed_facf | 0xcefa_edfe | 0xcffa_edfe | 0xcafe_babe if read => {
                    Kind::Apple
                }
                _ if read && magic[..2] == *b"MZ" => Kind::Pe,
                _ => Kind::None,
            }
        }
    }
}

/// The identity a release must be signed with (from `[signing]`, overridable on the CLI).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Subject common name of the Windows code-signing certificate.
    pub windows_publisher: Option<String>,
    /// Optional SHA-256 fingerprint of that certificate.
    pub windows_cert_sha256: Option<crate::digest::Sha256>,
    pub apple_team_id: Option<String>,
    /// Certificates (PEM) trusted besides Windows' pinned code-signing roots.
    pub ca_file: Option<PathBuf>,
}

impl Expected {
    /// The identity pinned in the workspace's `[signing]`; a relative `ca_file` is taken from
    /// the workspace folder.
    pub fn from_workspace(ws: &crate::workspace::Workspace) -> Self {
        let s = &ws.config().signing;
        let non_empty = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        Self {
            windows_publisher: non_empty(&s.windows_publisher),
            // Checked when the config was loaded: a pin that is not a digest is refused there.
            windows_cert_sha256: s.windows_cert_pin().ok().flatten(),
            apple_team_id: non_empty(&s.apple_team_id),
            ca_file: non_empty(&s.ca_file).map(|f| ws.root().join(f)),
        }
    }
}

/// Signature verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Invalid,
    Unsigned,
    Untrusted,
    IdentityMismatch,
    UnverifiableHere,
    NotApplicable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unsigned => "unsigned",
            Verdict::Untrusted => "untrusted",
            Verdict::IdentityMismatch => "identity_mismatch",
            Verdict::UnverifiableHere => "unverifiable_here",
            Verdict::NotApplicable => "not_applicable",
        }
    }

    /// Whether this verdict lets the overall verdict be green.
    pub fn is_acceptable(self) -> bool {
        matches!(self, Verdict::Valid | Verdict::NotApplicable)
    }
}

/// Who signed, as the verification tool reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Signer {
    pub subject: String,
    /// The subject's common name (the publisher).
    pub publisher: String,
    pub issuer: String,
    pub serial: String,
    pub cert_sha256: Option<crate::digest::Sha256>,
    pub signing_time: Option<String>,
    /// Time from the RFC 3161 / Authenticode countersignature, if any.
    pub timestamp: Option<String>,
    pub timestamp_valid: bool,
    /// Chain subjects from the leaf up, as verified.
    pub chain: Vec<String>,
    pub team_id: Option<String>,
    pub digest_match: bool,
}

/// The result for one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    pub signer: Option<Signer>,
    /// One line for people: why this verdict.
    pub detail: String,
    /// The tools' own output, for the details pane.
    #[serde(skip)]
    pub raw_output: String,
    /// An Apple signature read in-process: slices, chain, team, timestamp, runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apple: Option<super::macho::AppleSignature>,
}

impl Outcome {
    pub(crate) fn new(verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            verdict,
            signer: None,
            detail: detail.into(),
            raw_output: String::new(),
            apple: None,
        }
    }
}

/// Verifies the signature of `path`.
/// Checks `path`'s signature; `cancel` stops a long check (an app bundle's nested code) early,
/// and its outcome then says so.
pub async fn verify(path: &Path, expected: &Expected, cancel: &CancellationToken) -> Outcome {
    match kind_of(path) {
        Kind::None => Outcome::new(Verdict::NotApplicable, "not a signable file type"),
        Kind::Apple => super::apple::verify(path, expected, cancel).await,
        Kind::Pe | Kind::Msi => verify_authenticode(path, expected).await,
    }
}

/// The signature's good-or-bad, for comparing two checks: a valid signature by another
/// publisher is still a good signature.
pub(crate) fn good(v: Verdict) -> bool {
    matches!(v, Verdict::Valid | Verdict::IdentityMismatch)
}

/// Authenticode: a PE file or an MSI package in-process on every host
/// ([`super::authenticode`], [`super::msi`]), and where `osslsigncode` is installed also with
/// it, as a second opinion that must agree.
async fn verify_authenticode(path: &Path, expected: &Expected) -> Outcome {
    let kind = kind_of(path);
    let ours = verify_in_process(path, kind, expected).await;
    if crate::os::find_program("osslsigncode").is_none() {
        return ours;
    }
    let tool = verify_with_osslsigncode(path, expected).await;
    second_opinion(ours, tool, kind)
}

/// The in-process verdict on a PE file or an MSI package, with the publisher and pin checked.
async fn verify_in_process(path: &Path, kind: Kind, expected: &Expected) -> Outcome {
    let owned = path.to_owned();
    let ca_file = expected.ca_file.clone();
    let mut outcome = tokio::task::spawn_blocking(move || {
        match super::authenticode::Trust::load(ca_file.as_deref()) {
            Ok(trust) if kind == Kind::Msi => super::msi::verify_file(&owned, &trust),
            Ok(trust) => super::authenticode::verify_file(&owned, &trust),
            Err(e) => Outcome::new(Verdict::UnverifiableHere, e),
        }
    })
    .await
    .unwrap_or_else(|e| {
        Outcome::new(
            Verdict::UnverifiableHere,
            format!(
                "the in-process Authenticode verifier failed: {}",
                crate::runner::panic_message(e)
            ),
        )
    });
    if outcome.verdict == Verdict::Valid {
        check_identity(&mut outcome, expected);
    }
    outcome
}

/// Both answers on one PE file or MSI package (`kind`): osslsigncode's (which also checks
/// revocation online) when the two agree on whether the signature is good; the in-process one
/// when osslsigncode could not answer; red with both answers when they disagree.
pub fn second_opinion(ours: Outcome, tool: Outcome, kind: Kind) -> Outcome {
    if tool.verdict == Verdict::UnverifiableHere {
        let mut ours = ours;
        ours.detail = format!(
            "{} (osslsigncode could not answer: {})",
            ours.detail, tool.detail
        );
        ours.raw_output = tool.raw_output;
        return ours;
    }
    if !good(ours.verdict) && !good(tool.verdict) {
        // Both red: the in-process reason is the precise one ("1100 bytes follow the
        // certificate table"), osslsigncode's the second opinion.
        let mut ours = ours;
        ours.detail = format!(
            "{} (osslsigncode agrees: {} {})",
            ours.detail,
            tool.verdict.as_str(),
            tool.detail
        );
        ours.signer = ours.signer.or(tool.signer);
        ours.raw_output = tool.raw_output;
        return ours;
    }
    if good(ours.verdict) == good(tool.verdict) {
        let mut tool = tool;
        // osslsigncode's words say what it checked (revocation included, or why not).
        let digest = if kind == Kind::Msi {
            "MSI digest"
        } else {
            "image digest"
        };
        tool.detail = format!(
            "{}; the in-process check agrees ({digest}, signature, code-signing EKU, chain)",
            tool.detail
        );
        if let (Some(t), Some(o)) = (tool.signer.as_mut(), ours.signer.as_ref())
            && t.cert_sha256.is_none()
        {
            t.cert_sha256 = o.cert_sha256;
        }
        return tool;
    }
    let mut out = disagreement(&ours, &tool, "osslsigncode");
    out.signer = ours.signer.or(tool.signer);
    out.raw_output = tool.raw_output;
    out
}

/// The red verdict of an in-process check and a tool's second opinion that disagree (one
/// green, the other not), with both answers; signer and raw output are the caller's to add.
pub(crate) fn disagreement(ours: &Outcome, tool: &Outcome, tool_name: &str) -> Outcome {
    Outcome::new(
        Verdict::Invalid,
        format!(
            "the checks disagree: in-process {} ({}), {tool_name} {} ({})",
            ours.verdict.as_str(),
            ours.detail,
            tool.verdict.as_str(),
            tool.detail
        ),
    )
}

async fn run_tool(program: &str, args: &[&std::ffi::OsStr]) -> Result<(bool, String), String> {
    crate::runner::process::capture(program, args, TOOL_TIMEOUT).await
}

async fn verify_with_osslsigncode(path: &Path, expected: &Expected) -> Outcome {
    // Windows' code-signing and time-stamping roots pinned by fingerprint, plus `ca_file`; never
    // the system's CA bundle (Mozilla's TLS roots are not what Windows trusts for code).
    let anchors = match super::windows_roots::anchors(expected.ca_file.as_deref()) {
        Ok(a) => a,
        Err(e) => return Outcome::new(Verdict::UnverifiableHere, e),
    };
    let (mut ok, mut text) = match osslsigncode_verify(path, &anchors, false).await {
        Ok(v) => v,
        Err(e) => return Outcome::new(Verdict::UnverifiableHere, e),
    };
    // Revocation as Windows checks it: against the CRLs the certificates name, and when one
    // cannot be fetched (offline), not at all, which the verdict then says.
    let unreachable = unreachable_crl(&text);
    if unreachable.is_some() {
        (ok, text) = match osslsigncode_verify(path, &anchors, true).await {
            Ok(v) => v,
            Err(e) => return Outcome::new(Verdict::UnverifiableHere, e),
        };
        // The first run got as far as the signer; a retry that did not (an osslsigncode
        // without -ignore-crl) says nothing about the file.
        if !text.contains("Signer's certificate:") {
            let mut outcome = Outcome::new(
                Verdict::UnverifiableHere,
                "a CRL could not be fetched and this osslsigncode could not verify without \
                 revocation (-ignore-crl)",
            );
            outcome.raw_output = text;
            return outcome;
        }
    }
    let mut outcome = interpret_osslsigncode(ok, &text);
    if let Some(signer) = outcome.signer.as_mut() {
        signer.cert_sha256 = signer_fingerprint(path, &signer.serial).await;
        if outcome.verdict == Verdict::Valid {
            let root = signer
                .chain
                .last()
                .map(|s| common_name(s))
                .unwrap_or_default();
            let anchor = match super::windows_roots::by_name(&root) {
                Some(r) => format!("chain to {} (a Windows root, pinned by SHA-256)", r.name),
                None => format!("chain to {root:?} ([signing] ca_file)"),
            };
            let revocation = unreachable.as_deref().map_or_else(String::new, |url| {
                format!("; revocation not checked: the CRL {url} could not be fetched")
            });
            outcome.detail = format!("{}; {anchor}{revocation}", outcome.detail);
            check_identity(&mut outcome, expected);
        }
    }
    outcome.raw_output = text;
    outcome
}

/// One `osslsigncode verify` run against `anchors`; `ignore_crl` skips revocation.
async fn osslsigncode_verify(
    path: &Path,
    anchors: &super::windows_roots::Anchors,
    ignore_crl: bool,
) -> Result<(bool, String), String> {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "verify".as_ref(),
        "-CAfile".as_ref(),
        anchors.code.as_os_str(),
        "-TSA-CAfile".as_ref(),
        anchors.time.as_os_str(),
    ];
    if ignore_crl {
        args.push("-ignore-crl".as_ref());
    }
    args.extend(["-in".as_ref(), path.as_os_str()]);
    run_tool("osslsigncode", &args).await
}

/// The CRL osslsigncode could not download, if that is what stopped it.
fn unreachable_crl(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        // osslsigncode 2.x spells it "Faild to get CRL from <url>".
        let (_, url) = l.split_once("to get CRL from ")?;
        Some(url.trim().to_owned())
    })
}

/// Turns `osslsigncode verify` output into a verdict and signer (identity is checked after).
pub fn interpret_osslsigncode(exit_ok: bool, text: &str) -> Outcome {
    if text.contains("No signature found")
        || text.contains("has no signature")
        || text.contains("Unable to extract existing signature")
    {
        return Outcome::new(Verdict::Unsigned, "no Authenticode signature");
    }
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let value_after = |from: usize, key: &str| {
        lines[from..]
            .iter()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
    };
    let signer_at = lines
        .iter()
        .position(|l| l.starts_with("Signer's certificate:"));
    let mut signer = Signer {
        digest_match: !text.contains("MISMATCH!!!"),
        ..Signer::default()
    };
    if let Some(at) = signer_at {
        signer.subject = value_after(at, "Subject:").unwrap_or_default();
        signer.issuer = value_after(at, "Issuer :")
            .or_else(|| value_after(at, "Issuer:"))
            .unwrap_or_default();
        signer.serial = value_after(at, "Serial :")
            .or_else(|| value_after(at, "Serial:"))
            .unwrap_or_default();
        signer.publisher = common_name(&signer.subject);
    }
    signer.signing_time = value_after(0, "Signing time:");
    signer.timestamp = value_after(0, "Timestamp time:");
    signer.timestamp_valid = text.contains("Timestamp Server Signature verification: ok");
    if let Some(at) = lines
        .iter()
        .position(|l| l.starts_with("Signing certificate chain verified using:"))
    {
        signer.chain = lines[at..]
            .iter()
            .take_while(|l| !l.starts_with("Signature verification"))
            .filter_map(|l| l.strip_prefix("Subject:").map(|s| s.trim().to_owned()))
            .collect();
        // osslsigncode lists the root first; show the leaf first.
        signer.chain.reverse();
    }
    let verified = exit_ok && text.contains("Signature verification: ok");
    let (verdict, detail) = if !signer.digest_match {
        (
            Verdict::Invalid,
            "the file was modified after signing (digest MISMATCH)".to_owned(),
        )
    } else if verified && signer.timestamp.is_some() && !signer.timestamp_valid {
        (
            Verdict::Untrusted,
            "the timestamp's signature does not verify".to_owned(),
        )
    } else if verified {
        let ts = match (&signer.timestamp, signer.timestamp_valid) {
            (Some(t), true) => format!("timestamped {t}"),
            _ => "no timestamp".to_owned(),
        };
        (
            Verdict::Valid,
            format!("signed by {} ({ts})", signer.publisher),
        )
    } else if text.contains("certificate verify error")
        || text.contains("Failed signing certificate chain")
    {
        let why = text
            .lines()
            .find_map(|l| l.split("Verify error:").nth(1))
            .map_or_else(
                || "certificate chain does not verify".to_owned(),
                |s| s.trim().to_owned(),
            );
        (Verdict::Untrusted, format!("chain not trusted: {why}"))
    } else {
        let why = lines
            .iter()
            .rev()
            .find(|l| !l.is_empty() && **l != "Failed")
            .copied()
            .unwrap_or("verification failed");
        (
            Verdict::Invalid,
            format!("signature does not verify: {why}"),
        )
    };
    Outcome {
        verdict,
        signer: Some(signer),
        detail,
        raw_output: String::new(),
        apple: None,
    }
}

fn check_identity(outcome: &mut Outcome, expected: &Expected) {
    let Some(signer) = &outcome.signer else {
        return;
    };
    let Some(want) = expected
        .windows_publisher
        .as_deref()
        .filter(|w| !w.trim().is_empty())
    else {
        outcome.verdict = Verdict::IdentityMismatch;
        outcome.detail = format!(
            "signed by {:?}, but no expected publisher is pinned ([signing] windows_publisher or --expect-publisher)",
            signer.publisher
        );
        return;
    };
    if !signer.publisher.eq_ignore_ascii_case(want.trim()) {
        outcome.verdict = Verdict::IdentityMismatch;
        outcome.detail = format!("expected publisher {want:?}, got {:?}", signer.publisher);
        return;
    }
    if let Some(pin) = expected.windows_cert_sha256 {
        match &signer.cert_sha256 {
            Some(got) if *got == pin => {}
            Some(got) => {
                outcome.verdict = Verdict::IdentityMismatch;
                outcome.detail = format!("expected certificate SHA-256 {pin}, got {got}");
            }
            None => {
                outcome.verdict = Verdict::UnverifiableHere;
                outcome.detail =
                    "a certificate fingerprint is pinned but could not be read from the signature"
                        .into();
            }
        }
    }
}

/// `CN` of an OpenSSL one-line subject (`/CN=Name/O=Org`) or RFC 2253 (`CN=Name, O=Org`).
pub fn common_name(subject: &str) -> String {
    subject
        .split(['/', ','])
        .map(str::trim)
        .find_map(|part| {
            part.strip_prefix("CN=")
                .or_else(|| part.strip_prefix("CN = "))
        })
        .unwrap_or(subject)
        .trim()
        .to_owned()
}

/// SHA-256 of the signer's certificate (the one whose serial matches), read from the
/// signature's PKCS#7 blob.
async fn signer_fingerprint(path: &Path, serial_hex: &str) -> Option<crate::digest::Sha256> {
    let dir = tempfile::tempdir().ok()?;
    let out = dir.path().join("sig.der");
    let args: Vec<&std::ffi::OsStr> = vec![
        "extract-signature".as_ref(),
        "-in".as_ref(),
        path.as_os_str(),
        "-out".as_ref(),
        out.as_os_str(),
    ];
    let (ok, _) = run_tool("osslsigncode", &args).await.ok()?;
    if !ok {
        return None;
    }
    let der = std::fs::read(&out).ok()?;
    let want = serial_hex.trim_start_matches('0').to_ascii_uppercase();
    pkcs7_certificates(&der)?.into_iter().find_map(|cert| {
        let serial = certificate_serial(cert)?;
        (crate::hex(serial)
            .to_ascii_uppercase()
            .trim_start_matches('0')
            == want)
            .then(|| crate::digest::Sha256::of(cert))
    })
}

/// One DER element and what follows it.
struct Der<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
    rest: &'a [u8],
}

fn der_next(buf: &[u8]) -> Option<Der<'_>> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *buf.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = buf.get(..end)?;
    Some(Der {
        tag,
        content: &whole[header..],
        whole,
        rest: &buf[end..],
    })
}

/// The certificates (whole DER elements) of a PKCS#7 `SignedData` blob.
fn pkcs7_certificates(der: &[u8]) -> Option<Vec<&[u8]>> {
    let content_info = der_next(der)?.content;
    let content_type = der_next(content_info)?;
    let explicit = der_next(content_type.rest)?; // [0] EXPLICIT
    let signed_data = der_next(explicit.content)?.content;
    let version = der_next(signed_data)?;
    let digest_algorithms = der_next(version.rest)?;
    let inner_content = der_next(digest_algorithms.rest)?;
    let certs = der_next(inner_content.rest)?;
    if certs.tag != 0xa0 {
        return None;
    }
    let mut out = Vec::new();
    let mut rest = certs.content;
    while !rest.is_empty() {
        let cert = der_next(rest)?;
        out.push(cert.whole);
        rest = cert.rest;
    }
    Some(out)
}

/// The serial number bytes of an X.509 certificate.
fn certificate_serial(cert: &[u8]) -> Option<&[u8]> {
    let body = der_next(cert)?.content;
    let tbs = der_next(body)?.content;
    let first = der_next(tbs)?;
    // An explicit [0] version comes first in v3 certificates.
    let serial = if first.tag == 0xa0 {
        der_next(first.rest)?
    } else {
        first
    };
    (serial.tag == 0x02).then_some(serial.content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_extension() {
        assert_eq!(kind_of(Path::new("WireTuner-Setup-1.0.0.EXE")), Kind::Pe);
        assert_eq!(kind_of(Path::new("a.msi")), Kind::Msi);
        assert_eq!(kind_of(Path::new("WireTuner-1.0.0.dmg")), Kind::Apple);
        assert_eq!(kind_of(Path::new("notes.tar.gz")), Kind::None);
    }

    #[test]
    fn common_names() {
        assert_eq!(
            common_name("/CN=WireTuner Inc/O=WireTuner Inc/C=US"),
            "WireTuner Inc"
        );
        assert_eq!(common_name("CN=Acme, O=Acme"), "Acme");
    }

    #[test]
    fn an_unreachable_crl_is_found_with_its_url() {
        let text = "HTTP failure: Failed to get data from http://crl.example/ca.crl\n\
                    Faild to get CRL from http://crl.example/ca.crl\n";
        assert_eq!(
            unreachable_crl(text).as_deref(),
            Some("http://crl.example/ca.crl")
        );
        assert_eq!(unreachable_crl("Signature verification: ok\n"), None);
    }

    #[test]
    fn osslsigncode_disagreeing_with_the_in_process_check_is_red_with_both_answers() {
        let ours = Outcome::new(Verdict::Valid, "signed by A; revocation not checked");
        let tool = Outcome::new(Verdict::Invalid, "signature does not verify: X");
        let both = second_opinion(ours.clone(), tool, Kind::Pe);
        assert_eq!(both.verdict, Verdict::Invalid);
        assert!(
            both.detail.contains("in-process valid (signed by A"),
            "{}",
            both.detail
        );
        assert!(
            both.detail
                .contains("osslsigncode invalid (signature does not verify")
        );
        let agree = second_opinion(
            ours.clone(),
            Outcome::new(Verdict::Valid, "signed by A"),
            Kind::Pe,
        );
        assert_eq!(agree.verdict, Verdict::Valid);
        assert!(
            agree.detail.ends_with(
                "the in-process check agrees (image digest, signature, code-signing EKU, chain)"
            ),
            "{}",
            agree.detail
        );
        let msi = second_opinion(
            ours.clone(),
            Outcome::new(Verdict::Valid, "signed by A"),
            Kind::Msi,
        );
        assert!(
            msi.detail.ends_with(
                "the in-process check agrees (MSI digest, signature, code-signing EKU, chain)"
            ),
            "{}",
            msi.detail
        );
        let silent = second_opinion(
            ours,
            Outcome::new(Verdict::UnverifiableHere, "timed out"),
            Kind::Pe,
        );
        assert_eq!(silent.verdict, Verdict::Valid);
        assert!(
            silent
                .detail
                .contains("osslsigncode could not answer: timed out")
        );
        let red = second_opinion(
            Outcome::new(Verdict::Invalid, "modified after signing"),
            Outcome::new(Verdict::Valid, "signed by A"),
            Kind::Msi,
        );
        assert_eq!(red.verdict, Verdict::Invalid);
        let both_red = second_opinion(
            Outcome::new(Verdict::Invalid, "1100 bytes follow the certificate table"),
            Outcome::new(Verdict::Invalid, "MISMATCH"),
            Kind::Pe,
        );
        assert_eq!(both_red.verdict, Verdict::Invalid);
        assert!(
            both_red
                .detail
                .starts_with("1100 bytes follow the certificate table (osslsigncode agrees"),
            "{}",
            both_red.detail
        );
    }

    #[test]
    fn unsigned_and_tampered_outputs() {
        assert_eq!(
            interpret_osslsigncode(false, "No signature found\nFailed\n").verdict,
            Verdict::Unsigned
        );
        let msi = "MSI file has no signature\nUnable to extract existing signature\nFailed\n";
        assert_eq!(
            interpret_osslsigncode(false, msi).verdict,
            Verdict::Unsigned
        );
        let tampered = "Signer's certificate:\n\tSubject: /CN=A\nCalculated message digest : AB     MISMATCH!!!\nFailed\n";
        let o = interpret_osslsigncode(false, tampered);
        assert_eq!(o.verdict, Verdict::Invalid);
        assert!(o.detail.contains("modified after signing"));
    }
}
