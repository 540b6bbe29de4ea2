//! Authenticode signatures of PE files (.exe, .dll, .sys, .efi) and, through the same
//! [`verify_signed`], of MSI packages ([`super::msi`]), verified in-process on any host
//! (Windows has no `osslsigncode`), against the same trust as everywhere: the pinned
//! Windows code-signing and time-stamping roots ([`super::windows_roots`]) plus
//! `[signing] ca_file`.
//!
//! What is checked, as Windows checks it:
//! - the PE image digest (the whole file up to the certificate table, without the checksum
//!   field and the security directory entry, zero-padded to 8 bytes; SHA-1, SHA-256, SHA-384
//!   or SHA-512 as the signature names) equals the `SpcIndirectDataContent` digest (for an
//!   MSI, the digest of its streams and storages, [`super::msi`]);
//! - the signer's signed attributes: `messageDigest` is the digest of that content, and the
//!   signature over the attributes verifies with the signer certificate's key;
//! - the signer's chain, each certificate verified as signed by the next, each issuer a CA, up
//!   to a pinned code-signing root (matched by SHA-256) or a `ca_file` certificate; the signer
//!   certificate has the code-signing EKU (and no intermediate's EKU excludes it);
//! - validity: with a timestamp countersignature (an RFC 3161 token, or a legacy Authenticode
//!   countersignature) whose signature, imprint and chain (to a pinned time-stamping root or
//!   `ca_file`, with the time-stamping EKU) verify, the chain must be valid at the stamped
//!   time; without one, now;
//! - nested signatures (a second signature inside the first) are verified the same way and
//!   must all be valid.
//!
//! Not checked in-process: revocation (no CRL or OCSP is fetched; the verdict says so), and
//! anything `signtool`'s policy adds beyond the above. Every length read from the file is
//! checked before use; a hostile file gets an error naming what is wrong, never a panic.

use std::io::{Read, Seek, SeekFrom};

use jiff::Timestamp;
use x509_certificate::CapturedX509Certificate;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::signature::{Outcome, Signer, Verdict};

/// The largest certificate table read (real ones are tens of kilobytes).
pub const MAX_CERT_TABLE: u32 = 8 * 1024 * 1024;
/// The most certificates one signature may carry.
const MAX_CERTS: usize = 64;
/// The most nested signatures verified.
const MAX_NESTED: usize = 8;
/// The deepest chain built.
const MAX_CHAIN: usize = 10;

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_SPC_INDIRECT_DATA: &str = "1.3.6.1.4.1.311.2.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_COUNTER_SIGNATURE: &str = "1.2.840.113549.1.9.6";
const OID_RFC3161_COUNTER_SIGNATURE: &str = "1.3.6.1.4.1.311.3.3.1";
const OID_NESTED_SIGNATURE: &str = "1.3.6.1.4.1.311.2.4.1";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";

// ------------------------------------------------------------------------------------------
// The PE file

/// Where a PE file's Authenticode pieces are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeLayout {
    pub file_len: u64,
    /// The optional header's `CheckSum` field (4 bytes), left out of the digest.
    pub checksum_at: u64,
    /// The security directory entry (8 bytes), left out of the digest.
    pub security_dir_at: u64,
    /// The certificate table (offset, size), if the file has one.
    pub cert_table: Option<(u64, u32)>,
}

fn read_at<R: Read + Seek>(
    r: &mut R,
    at: u64,
    len: usize,
    file_len: u64,
    what: &str,
) -> Result<Vec<u8>, String> {
    if at.checked_add(len as u64).is_none_or(|end| end > file_len) {
        return Err(format!(
            "{what} at offset {at} ({len} bytes) lies outside the file ({file_len} bytes)"
        ));
    }
    r.seek(SeekFrom::Start(at))
        .map_err(|e| format!("seeking to {what}: {e}"))?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)
        .map_err(|e| format!("reading {what}: {e}"))?;
    Ok(buf)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads where the checksum, the security directory and the certificate table are; a header
/// pointing outside the file is an error naming the field.
pub fn pe_layout<R: Read + Seek>(r: &mut R) -> Result<PeLayout, String> {
    let file_len = r
        .seek(SeekFrom::End(0))
        .map_err(|e| format!("the file's size: {e}"))?;
    let dos = read_at(r, 0, 64, file_len, "the DOS header")
        .map_err(|_| format!("not a PE file: {file_len} bytes, too short for a DOS header"))?;
    if &dos[..2] != b"MZ" {
        return Err("not a PE file: no MZ signature".into());
    }
    let pe = u64::from(u32_at(&dos, 0x3c).unwrap_or(0));
    // Signature (4), COFF header (20), then the optional header's fixed part up to the data
    // directories (at most 112 bytes) and the first five directory entries (40 bytes).
    let head = read_at(
        r,
        pe,
        4 + 20 + 112 + 40,
        file_len,
        "the PE header (e_lfanew)",
    )?;
    if &head[..4] != b"PE\0\0" {
        return Err(format!("not a PE file: no PE signature at e_lfanew {pe}"));
    }
    let optional_size = u64::from(u16_at(&head, 4 + 16).unwrap_or(0));
    let opt = 24usize;
    let (rva_count_at, dirs_at) = match u16_at(&head, opt) {
        Some(0x10b) => (opt + 92, opt + 96),
        Some(0x20b) => (opt + 108, opt + 112),
        Some(m) => return Err(format!("unknown optional header magic {m:#06x}")),
        None => return Err("the PE header is cut short".into()),
    };
    let rva_count = u32_at(&head, rva_count_at).unwrap_or(0);
    let security = dirs_at + 4 * 8;
    if rva_count < 5 || (security + 8 - opt) as u64 > optional_size {
        return Ok(PeLayout {
            file_len,
            checksum_at: pe + opt as u64 + 64,
            security_dir_at: pe + security as u64,
            cert_table: None,
        });
    }
    let table_at = u64::from(u32_at(&head, security).unwrap_or(0));
    let table_size = u32_at(&head, security + 4).unwrap_or(0);
    let security_dir_at = pe + security as u64;
    let cert_table = if table_at == 0 && table_size == 0 {
        None
    } else {
        let end = table_at + u64::from(table_size);
        if table_at < security_dir_at + 8 || end > file_len {
            return Err(format!(
                "the certificate table (offset {table_at}, {table_size} bytes) lies outside the \
                 file ({file_len} bytes) or inside its headers"
            ));
        }
        if end != file_len {
            return Err(format!(
                "{} bytes follow the certificate table (offset {table_at}, {table_size} bytes): \
                 data appended after signing",
                file_len - end
            ));
        }
        Some((table_at, table_size))
    };
    Ok(PeLayout {
        file_len,
        checksum_at: pe + opt as u64 + 64,
        security_dir_at,
        cert_table,
    })
}

/// A digest algorithm Authenticode uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    fn from_oid(oid: &str) -> Option<Self> {
        match oid {
            "1.3.14.3.2.26" => Some(Self::Sha1),
            "2.16.840.1.101.3.4.2.1" => Some(Self::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(Self::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(Self::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub(crate) fn hasher(self) -> Hasher {
        use sha2::Digest as _;
        match self {
            Self::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Self::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Self::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Self::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }
}

pub(crate) enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub(crate) fn update(&mut self, data: &[u8]) {
        use sha2::Digest as _;
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// The Authenticode image digest of the PE file `r` laid out as `layout`: everything up to the
/// certificate table (or the end), without the checksum and the security directory entry,
/// zero-padded to a multiple of 8 bytes.
pub fn pe_digest<R: Read + Seek>(
    r: &mut R,
    layout: &PeLayout,
    alg: DigestAlg,
) -> Result<Vec<u8>, String> {
    let end = layout.cert_table.map_or(layout.file_len, |(at, _)| at);
    let ranges = [
        (0, layout.checksum_at),
        (layout.checksum_at + 4, layout.security_dir_at),
        (layout.security_dir_at + 8, end),
    ];
    let mut h = alg.hasher();
    let mut buf = vec![0u8; 1 << 20];
    for (from, to) in ranges {
        if to < from || to > layout.file_len {
            return Err(format!("the PE headers overlap (bytes {from}..{to})"));
        }
        r.seek(SeekFrom::Start(from))
            .map_err(|e| format!("reading the image: {e}"))?;
        let mut left = to - from;
        while left > 0 {
            let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            r.read_exact(&mut buf[..n])
                .map_err(|e| format!("reading the image: {e}"))?;
            h.update(&buf[..n]);
            left -= n as u64;
        }
    }
    let pad = (8 - end % 8) % 8;
    if pad > 0 {
        h.update(&[0u8; 8][..usize::try_from(pad).unwrap_or(0)]);
    }
    Ok(h.finish())
}

/// The table's one `WIN_CERTIFICATE`: the PKCS#7 blob Windows verifies. Held as strictly as
/// Windows with its certificate padding check (the answer to CVE-2013-3900): the table is that
/// one entry (revision 2.0, PKCS#7) and nothing else, and the entry is the PKCS#7 data with at
/// most 7 zero bytes of padding. Anything more is data that was added where the image digest
/// does not cover it, after signing.
fn first_pkcs7(table: &[u8]) -> Result<&[u8], String> {
    let (Some(len), Some(revision), Some(kind)) =
        (u32_at(table, 0), u16_at(table, 4), u16_at(table, 6))
    else {
        return Err(format!(
            "the certificate table has {} bytes, too few for an entry",
            table.len()
        ));
    };
    let len = len as usize;
    let entry = table.get(8..len).filter(|_| len >= 8).ok_or_else(|| {
        format!(
            "the certificate table's entry claims {len} bytes, but the table has {}",
            table.len()
        )
    })?;
    if kind != 2 {
        return Err(format!(
            "the certificate table's entry is of type {kind}, not a PKCS#7 signature \
             (WIN_CERT_TYPE_PKCS_SIGNED_DATA)"
        ));
    }
    if revision != 0x0200 {
        return Err(format!(
            "the certificate table's entry has revision {revision:#06x}, not 2.0 (0x0200)"
        ));
    }
    let padded = len.div_ceil(8) * 8;
    if table.len() > padded {
        return Err(format!(
            "{} bytes follow the signature in the certificate table (a second entry, or data \
             added after signing)",
            table.len() - padded
        ));
    }
    if table[len..].iter().any(|&b| b != 0) {
        return Err(
            "the certificate table's padding is not zeros: data added after signing".into(),
        );
    }
    let (_, rest) = tlv(entry).map_err(|e| format!("the PKCS#7 signature: {e}"))?;
    if rest.len() >= 8 || rest.iter().any(|&b| b != 0) {
        return Err(format!(
            "{} bytes follow the PKCS#7 signature inside its certificate table entry: data \
             added after signing",
            rest.len()
        ));
    }
    Ok(entry)
}

/// Checks that `blob` is one DER element followed by at most 7 zero bytes of padding: anything
/// more is data that rides along where no digest covers it.
pub(crate) fn one_der_element(blob: &[u8], what: &str) -> Result<(), String> {
    let (_, rest) = tlv(blob).map_err(|e| format!("{what}: {e}"))?;
    if rest.len() >= 8 || rest.iter().any(|&b| b != 0) {
        return Err(format!(
            "{} bytes follow the PKCS#7 signature in {what}: data added after signing",
            rest.len()
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// DER

/// One DER element.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

/// The element at the start of `buf` and what follows it.
fn tlv(buf: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let tag = *buf.first().ok_or("DER: unexpected end")?;
    if tag & 0x1f == 0x1f {
        return Err(format!(
            "DER: a high tag number ({tag:#04x}) where none is expected"
        ));
    }
    let first = *buf.get(1).ok_or("DER: unexpected end in a length")?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 {
            return Err("DER: an indefinite length (BER) is not accepted".into());
        }
        if n > 4 {
            return Err(format!("DER: a {n}-byte length"));
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*buf.get(2 + i).ok_or("DER: cut-short length")?);
        }
        (len, 2 + n)
    };
    let end = header
        .checked_add(len)
        .filter(|e| *e <= buf.len())
        .ok_or_else(|| format!("DER: an element of {len} bytes runs past its container"))?;
    Ok((
        Tlv {
            tag,
            content: &buf[header..end],
            whole: &buf[..end],
        },
        &buf[end..],
    ))
}

/// The element at the start of `buf`, which must have `tag`.
fn expect<'a>(buf: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8]), String> {
    let (t, rest) = tlv(buf).map_err(|e| format!("{what}: {e}"))?;
    if t.tag != tag {
        return Err(format!("{what}: tag {:#04x}, expected {tag:#04x}", t.tag));
    }
    Ok((t, rest))
}

/// The elements of a constructed element's content.
fn children(mut content: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (t, rest) = tlv(content)?;
        out.push(t);
        content = rest;
    }
    Ok(out)
}

/// An OBJECT IDENTIFIER's content as dotted text.
fn oid_text(content: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in content {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = (value / 40).min(2);
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        }
        if value > u64::MAX >> 8 {
            return "(an overlong OID)".into();
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn oid_of(t: &Tlv<'_>, what: &str) -> Result<String, String> {
    if t.tag != 0x06 {
        return Err(format!("{what}: not an OID"));
    }
    Ok(oid_text(t.content))
}

/// The algorithm OID of an `AlgorithmIdentifier`.
fn algorithm(t: &Tlv<'_>, what: &str) -> Result<String, String> {
    if t.tag != 0x30 {
        return Err(format!("{what}: not an AlgorithmIdentifier"));
    }
    let (oid, _) = tlv(t.content).map_err(|e| format!("{what}: {e}"))?;
    oid_of(&oid, what)
}

// ------------------------------------------------------------------------------------------
// CMS SignedData, as Authenticode and RFC 3161 use it

/// A parsed `SignedData`.
struct SignedData<'a> {
    content_type: String,
    /// The encapsulated content: for Authenticode the `SpcIndirectDataContent` element, for a
    /// timestamp token the `TSTInfo` OCTET STRING.
    content: Option<Tlv<'a>>,
    certs: Vec<Cert>,
    signers: Vec<SignerInfo<'a>>,
}

/// A parsed `SignerInfo`.
struct SignerInfo<'a> {
    /// `IssuerAndSerialNumber`: the issuer `Name` (whole) and the serial's content.
    issuer: &'a [u8],
    serial: &'a [u8],
    digest: Option<DigestAlg>,
    digest_oid: String,
    /// The signed attributes as signed: their DER with the SET OF tag.
    signed_attrs: Option<Vec<u8>>,
    attrs: Vec<(String, Vec<Tlv<'a>>)>,
    sig_oid: String,
    signature: &'a [u8],
    unsigned: Vec<(String, Vec<Tlv<'a>>)>,
}

impl SignerInfo<'_> {
    fn attr(&self, oid: &str) -> Option<&Tlv<'_>> {
        self.attrs
            .iter()
            .find(|(o, _)| o == oid)
            .and_then(|(_, v)| v.first())
    }
}

/// A certificate, parsed both ways: `x509-certificate` verifies signatures, `x509-parser`
/// reads extensions.
#[derive(Clone)]
struct Cert {
    der: Vec<u8>,
    captured: CapturedX509Certificate,
}

impl Cert {
    fn new(der: &[u8]) -> Result<Self, String> {
        X509Certificate::from_der(der).map_err(|e| format!("a certificate: {e}"))?;
        let captured = CapturedX509Certificate::from_der(der.to_vec())
            .map_err(|e| format!("a certificate: {e}"))?;
        Ok(Self {
            der: der.to_vec(),
            captured,
        })
    }

    fn parsed(&self) -> Option<X509Certificate<'_>> {
        X509Certificate::from_der(&self.der).ok().map(|(_, c)| c)
    }

    fn sha256(&self) -> crate::digest::Sha256 {
        crate::digest::Sha256::of(&self.der)
    }

    fn subject_line(&self) -> String {
        self.parsed()
            .map(|c| one_line(c.subject()))
            .unwrap_or_default()
    }

    fn common_name(&self) -> String {
        self.parsed()
            .and_then(|c| {
                c.subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok().map(str::to_owned))
            })
            .unwrap_or_else(|| self.subject_line())
    }

    fn matches(&self, issuer: &[u8], serial: &[u8]) -> bool {
        self.parsed().is_some_and(|c| {
            c.tbs_certificate.issuer.as_raw() == issuer && c.tbs_certificate.raw_serial() == serial
        })
    }

    fn subject_raw_eq_issuer_of(&self, child: &Cert) -> bool {
        match (self.parsed(), child.parsed()) {
            (Some(i), Some(c)) => {
                i.tbs_certificate.subject.as_raw() == c.tbs_certificate.issuer.as_raw()
            }
            _ => false,
        }
    }

    /// Whether it may issue certificates: basicConstraints CA, and keyCertSign if it has a
    /// keyUsage.
    fn is_ca(&self) -> bool {
        self.parsed().is_some_and(|c| {
            let ca = c
                .basic_constraints()
                .ok()
                .flatten()
                .is_some_and(|b| b.value.ca);
            let sign = match c.key_usage() {
                Ok(Some(k)) => k.value.key_cert_sign(),
                Ok(None) => true,
                Err(_) => false,
            };
            ca && sign
        })
    }

    /// Seconds since the epoch: not before, not after.
    fn validity(&self) -> Option<(i64, i64)> {
        self.parsed().map(|c| {
            (
                c.validity().not_before.timestamp(),
                c.validity().not_after.timestamp(),
            )
        })
    }

    /// `Some(true)` when the EKU extension names `purpose` (or any), `Some(false)` when it
    /// exists without it, `None` when there is none.
    fn eku_allows(&self, purpose: Purpose) -> Option<bool> {
        let c = self.parsed()?;
        let eku = c.extended_key_usage().ok().flatten()?;
        let v = eku.value;
        Some(
            v.any
                || match purpose {
                    Purpose::Code => v.code_signing,
                    Purpose::Time => v.time_stamping,
                },
        )
    }

    /// The subject public key's bits.
    fn public_key(&self) -> Vec<u8> {
        self.parsed()
            .map(|c| c.public_key().subject_public_key.data.to_vec())
            .unwrap_or_default()
    }
}

/// An OpenSSL-style one-line name, `/CN=Name/O=Org/C=US`, as osslsigncode prints them.
fn one_line(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut out = String::new();
    for rdn in name.iter() {
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let key = match oid.as_str() {
                "2.5.4.3" => "CN".to_owned(),
                "2.5.4.6" => "C".to_owned(),
                "2.5.4.10" => "O".to_owned(),
                "2.5.4.11" => "OU".to_owned(),
                "2.5.4.7" => "L".to_owned(),
                "2.5.4.8" => "ST".to_owned(),
                "2.5.4.9" => "street".to_owned(),
                "2.5.4.5" => "serialNumber".to_owned(),
                "2.5.4.15" => "businessCategory".to_owned(),
                "2.5.4.17" => "postalCode".to_owned(),
                "2.5.4.97" => "organizationIdentifier".to_owned(),
                "1.2.840.113549.1.9.1" => "emailAddress".to_owned(),
                "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC".to_owned(),
                "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST".to_owned(),
                "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL".to_owned(),
                other => other.to_owned(),
            };
            let value = atv
                .as_str()
                .map_or_else(|_| crate::hex(atv.attr_value().as_bytes()), str::to_owned);
            out.push('/');
            out.push_str(&key);
            out.push('=');
            out.push_str(&value);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Code,
    Time,
}

/// Attributes: a SET OF `Attribute ::= SEQUENCE { type OID, values SET OF ANY }`.
fn attributes(content: &[u8]) -> Result<Vec<(String, Vec<Tlv<'_>>)>, String> {
    let mut out = Vec::new();
    for a in children(content)? {
        if a.tag != 0x30 {
            return Err("an attribute is not a SEQUENCE".into());
        }
        let (oid, rest) = tlv(a.content)?;
        let oid = oid_of(&oid, "an attribute's type")?;
        let (values, _) = expect(rest, 0x31, "an attribute's values")?;
        out.push((oid, children(values.content)?));
    }
    Ok(out)
}

fn signer_info<'a>(t: &Tlv<'a>) -> Result<SignerInfo<'a>, String> {
    if t.tag != 0x30 {
        return Err("a SignerInfo is not a SEQUENCE".into());
    }
    let items = children(t.content)?;
    let mut it = items.iter();
    let _version = it.next().ok_or("an empty SignerInfo")?;
    let sid = it.next().ok_or("a SignerInfo without its signer")?;
    if sid.tag != 0x30 {
        return Err(
            "the signer is named by key identifier, not issuer and serial (not Authenticode)"
                .into(),
        );
    }
    let (issuer, rest) = expect(sid.content, 0x30, "the signer's issuer")?;
    let (serial, _) = expect(rest, 0x02, "the signer's serial")?;
    let digest_oid = algorithm(
        it.next().ok_or("no digest algorithm")?,
        "the digest algorithm",
    )?;
    let mut next = it.next().ok_or("a SignerInfo cut short")?;
    let mut signed_attrs = None;
    let mut attrs = Vec::new();
    if next.tag == 0xa0 {
        let mut der = next.whole.to_vec();
        der[0] = 0x31;
        signed_attrs = Some(der);
        attrs = attributes(next.content)?;
        next = it.next().ok_or("a SignerInfo cut short")?;
    }
    let sig_oid = algorithm(next, "the signature algorithm")?;
    let signature = it.next().ok_or("a SignerInfo without a signature")?;
    if signature.tag != 0x04 {
        return Err("the signature is not an OCTET STRING".into());
    }
    let mut unsigned = Vec::new();
    if let Some(u) = it.next()
        && u.tag == 0xa1
    {
        unsigned = attributes(u.content)?;
    }
    Ok(SignerInfo {
        issuer: issuer.whole,
        serial: serial.content,
        digest: DigestAlg::from_oid(&digest_oid),
        digest_oid,
        signed_attrs,
        attrs,
        sig_oid,
        signature: signature.content,
        unsigned,
    })
}

/// Parses a `ContentInfo` holding a `SignedData`.
fn signed_data(der: &[u8]) -> Result<SignedData<'_>, String> {
    let (ci, _) = expect(der, 0x30, "the ContentInfo")?;
    let (oid, rest) = tlv(ci.content)?;
    let oid = oid_of(&oid, "the ContentInfo's type")?;
    if oid != OID_SIGNED_DATA {
        return Err(format!("the ContentInfo is {oid}, not SignedData"));
    }
    let (explicit, _) = expect(rest, 0xa0, "the SignedData wrapper")?;
    let (sd, _) = expect(explicit.content, 0x30, "the SignedData")?;
    let items = children(sd.content)?;
    let mut it = items.iter().peekable();
    let _version = it.next().ok_or("an empty SignedData")?;
    let _digests = it.next().ok_or("SignedData without digest algorithms")?;
    let encap = it.next().ok_or("SignedData without content")?;
    if encap.tag != 0x30 {
        return Err("the encapsulated content is not a SEQUENCE".into());
    }
    let (ct, rest) = tlv(encap.content)?;
    let content_type = oid_of(&ct, "the content type")?;
    let content = if rest.is_empty() {
        None
    } else {
        let (explicit, _) = expect(rest, 0xa0, "the content")?;
        Some(tlv(explicit.content)?.0)
    };
    let mut certs = Vec::new();
    if let Some(c) = it.peek()
        && c.tag == 0xa0
    {
        for (n, cert) in children(c.content)?.into_iter().enumerate() {
            if n >= MAX_CERTS {
                return Err(format!(
                    "more than {MAX_CERTS} certificates in one signature"
                ));
            }
            // Attribute certificates and other choices are not X.509 certificates: skipped.
            if cert.tag == 0x30 {
                certs.push(Cert::new(cert.whole)?);
            }
        }
        it.next();
    }
    if let Some(c) = it.peek()
        && c.tag == 0xa1
    {
        it.next();
    }
    let set = it.next().ok_or("SignedData without signerInfos")?;
    if set.tag != 0x31 {
        return Err("the signerInfos are not a SET".into());
    }
    let signers = children(set.content)?
        .iter()
        .map(signer_info)
        .collect::<Result<Vec<_>, _>>()?;
    // The SignerInfos borrow from `der`, not from the local vector.
    Ok(SignedData {
        content_type,
        content,
        certs,
        signers,
    })
}

/// The verification algorithm for a signature made with `sig_oid` (or a bare key algorithm
/// with `digest`) by a key of `key_len` bytes' kind.
fn verification(
    sig_oid: &str,
    digest: Option<DigestAlg>,
    ec_key_len: Option<usize>,
) -> Result<&'static dyn aws_lc_rs::signature::VerificationAlgorithm, String> {
    use DigestAlg::{Sha1, Sha256, Sha384, Sha512};
    use aws_lc_rs::signature as s;
    let rsa = |d: Option<DigestAlg>| -> Result<&'static dyn s::VerificationAlgorithm, String> {
        Ok(match d {
            Some(Sha1) => &s::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Some(Sha256) => &s::RSA_PKCS1_2048_8192_SHA256,
            Some(Sha384) => &s::RSA_PKCS1_2048_8192_SHA384,
            Some(Sha512) => &s::RSA_PKCS1_2048_8192_SHA512,
            None => return Err(format!("RSA with an unknown digest ({sig_oid})")),
        })
    };
    let ec = |d: Option<DigestAlg>| -> Result<&'static dyn s::VerificationAlgorithm, String> {
        Ok(match (ec_key_len, d) {
            (Some(65), Some(Sha256)) => &s::ECDSA_P256_SHA256_ASN1,
            (Some(65), Some(Sha384)) => &s::ECDSA_P256_SHA384_ASN1,
            (Some(65), Some(Sha512)) => &s::ECDSA_P256_SHA512_ASN1,
            (Some(97), Some(Sha256)) => &s::ECDSA_P384_SHA256_ASN1,
            (Some(97), Some(Sha384)) => &s::ECDSA_P384_SHA384_ASN1,
            (Some(97), Some(Sha512)) => &s::ECDSA_P384_SHA512_ASN1,
            (Some(133), Some(Sha256)) => &s::ECDSA_P521_SHA256_ASN1,
            (Some(133), Some(Sha384)) => &s::ECDSA_P521_SHA384_ASN1,
            (Some(133), Some(Sha512)) => &s::ECDSA_P521_SHA512_ASN1,
            _ => return Err(format!("an ECDSA key and digest not supported ({sig_oid})")),
        })
    };
    match sig_oid {
        "1.2.840.113549.1.1.1" => rsa(digest),
        "1.2.840.113549.1.1.5" => rsa(Some(Sha1)),
        "1.2.840.113549.1.1.11" => rsa(Some(Sha256)),
        "1.2.840.113549.1.1.12" => rsa(Some(Sha384)),
        "1.2.840.113549.1.1.13" => rsa(Some(Sha512)),
        "1.2.840.10045.2.1" => ec(digest),
        "1.2.840.10045.4.3.2" => ec(Some(Sha256)),
        "1.2.840.10045.4.3.3" => ec(Some(Sha384)),
        "1.2.840.10045.4.3.4" => ec(Some(Sha512)),
        other => Err(format!(
            "the signature algorithm {other} is not supported in-process"
        )),
    }
}

/// A failure, and how bad: `Invalid` (the bytes do not verify) or `Untrusted` (they verify,
/// but who made them is not trusted) or `UnverifiableHere` (what this verifier cannot check).
type Fail = (Verdict, String);

fn invalid(why: impl Into<String>) -> Fail {
    (Verdict::Invalid, why.into())
}

/// Verifies `signer`'s signed attributes: `messageDigest` is the digest of `content`, and the
/// signature over them verifies with the key of `cert`.
fn verify_signer(
    signer: &SignerInfo<'_>,
    cert: &Cert,
    content: &[u8],
    what: &str,
) -> Result<(), Fail> {
    let digest = signer.digest.ok_or_else(|| {
        (
            Verdict::UnverifiableHere,
            format!(
                "{what}: digest algorithm {} is not supported",
                signer.digest_oid
            ),
        )
    })?;
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid(format!("{what}: no signed attributes")))?;
    let md = signer
        .attr(OID_MESSAGE_DIGEST)
        .ok_or_else(|| invalid(format!("{what}: no messageDigest attribute")))?;
    if md.tag != 0x04 || md.content != digest.digest(content).as_slice() {
        return Err(invalid(format!(
            "{what}: the messageDigest attribute is not the digest of the signed content"
        )));
    }
    let key = cert.public_key();
    let ec_len = (signer.sig_oid.starts_with("1.2.840.10045")).then_some(key.len());
    let alg = verification(&signer.sig_oid, Some(digest), ec_len)
        .map_err(|e| (Verdict::UnverifiableHere, format!("{what}: {e}")))?;
    aws_lc_rs::signature::UnparsedPublicKey::new(alg, &key)
        .verify(attrs, signer.signature)
        .map_err(|_| {
            invalid(format!(
                "{what}: the signature over the signed attributes does not verify with {:?}'s key",
                cert.common_name()
            ))
        })
}

// ------------------------------------------------------------------------------------------
// Trust

/// One trust anchor: a pinned Windows root or a `ca_file` certificate.
#[derive(Clone)]
pub struct Anchor {
    cert: Cert,
    /// How the verdict names it.
    pub label: String,
}

/// The anchors of one verification, by purpose.
#[derive(Clone, Default)]
pub struct Trust {
    pub code: Vec<Anchor>,
    pub time: Vec<Anchor>,
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("code", &self.code)
            .field("time", &self.time)
            .finish()
    }
}

impl Trust {
    /// The pinned Windows roots by CTL usage, and every certificate of `ca_file` for both.
    pub fn load(ca_file: Option<&std::path::Path>) -> Result<Self, String> {
        let (pinned, extra) = super::windows_roots::certificates(ca_file)?;
        let mut t = Trust::default();
        for (root, der) in pinned {
            let Ok(cert) = Cert::new(&der) else { continue };
            let a = Anchor {
                cert,
                label: format!("{} (a Windows root, pinned by SHA-256)", root.name),
            };
            if root.usage.code() {
                t.code.push(a.clone());
            }
            if root.usage.time() {
                t.time.push(a);
            }
        }
        for der in extra {
            let cert = Cert::new(&der).map_err(|e| format!("[signing] ca_file: {e}"))?;
            let a = Anchor {
                label: format!("{:?} ([signing] ca_file)", cert.common_name()),
                cert,
            };
            t.code.push(a.clone());
            t.time.push(a);
        }
        Ok(t)
    }
}

/// A chain built from a leaf.
struct Chain {
    certs: Vec<Cert>,
    /// The anchor it ends at, if it does.
    anchor: Option<String>,
}

/// The chain from `leaf` up through `pool` and `anchors`, each certificate verified as signed
/// by the next and each issuer a CA, stopping at the first anchor (matched by SHA-256).
fn build_chain(leaf: &Cert, pool: &[Cert], anchors: &[Anchor]) -> Chain {
    let anchor_of = |c: &Cert| {
        let sha = c.sha256();
        anchors
            .iter()
            .find(|a| a.cert.sha256() == sha)
            .map(|a| a.label.clone())
    };
    let mut chain = vec![leaf.clone()];
    let mut anchor = anchor_of(leaf);
    while anchor.is_none() && chain.len() < MAX_CHAIN {
        let Some(current) = chain.last().cloned() else {
            break;
        };
        let seen: Vec<crate::digest::Sha256> = chain.iter().map(Cert::sha256).collect();
        // Anchors first: a root that cross-signs another is not preferred to the anchor itself.
        let next = anchors
            .iter()
            .map(|a| &a.cert)
            .chain(pool.iter())
            .find(|c| {
                !seen.contains(&c.sha256())
                    && c.subject_raw_eq_issuer_of(&current)
                    && c.is_ca()
                    && current
                        .captured
                        .verify_signed_by_certificate(&c.captured)
                        .is_ok()
            })
            .cloned();
        let Some(next) = next else { break };
        anchor = anchor_of(&next);
        chain.push(next);
    }
    Chain {
        certs: chain,
        anchor,
    }
}

/// Checks a built chain for `purpose`: anchored, the EKU, and when `at` is given (seconds since
/// the epoch) every certificate valid then.
fn judge_chain(
    chain: &Chain,
    purpose: Purpose,
    at: Option<i64>,
    when: &str,
    who: &str,
) -> Result<(), Fail> {
    let leaf = chain
        .certs
        .first()
        .ok_or_else(|| invalid("an empty chain"))?;
    if chain.anchor.is_none() {
        let top = chain.certs.last().unwrap_or(leaf);
        let (roots, why) = match purpose {
            Purpose::Code => ("a pinned Windows code-signing root", "the signer"),
            Purpose::Time => ("a pinned Windows time-stamping root", "the timestamp"),
        };
        let self_signed = top
            .parsed()
            .is_some_and(|c| c.subject().as_raw() == c.issuer().as_raw());
        let end = if self_signed {
            format!("it ends at the self-signed {:?}", top.common_name())
        } else {
            format!(
                "it ends at {:?}, whose issuer is not in the signature",
                top.common_name()
            )
        };
        return Err((
            Verdict::Untrusted,
            format!(
                "{why}'s chain ({who}) does not build to {roots} or the workspace's ca_file: {end}"
            ),
        ));
    }
    match (purpose, leaf.eku_allows(purpose)) {
        (_, Some(true)) => {}
        (Purpose::Code, _) => {
            return Err((
                Verdict::Untrusted,
                format!("{who}'s certificate lacks the code-signing EKU"),
            ));
        }
        (Purpose::Time, _) => {
            return Err((
                Verdict::Untrusted,
                format!("the TSA certificate {who:?} lacks the time-stamping EKU"),
            ));
        }
    }
    for c in chain.certs.iter().skip(1) {
        if c.eku_allows(purpose) == Some(false) {
            return Err((
                Verdict::Untrusted,
                format!(
                    "{:?} in {who}'s chain restricts its EKU to other purposes",
                    c.common_name()
                ),
            ));
        }
    }
    let Some(at) = at else {
        return Ok(());
    };
    for c in &chain.certs {
        let (from, to) = c
            .validity()
            .ok_or_else(|| invalid("a certificate's validity cannot be read"))?;
        if at < from || at > to {
            return Err((
                Verdict::Untrusted,
                format!(
                    "{:?} in {who}'s chain is not valid {when} ({} to {})",
                    c.common_name(),
                    human(from),
                    human(to)
                ),
            ));
        }
    }
    Ok(())
}

fn human(secs: i64) -> String {
    Timestamp::from_second(secs).map_or_else(
        |_| secs.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// `Nov 28 10:00:00 2026 GMT`, as osslsigncode prints times.
fn gmt(secs: i64) -> String {
    Timestamp::from_second(secs).map_or_else(
        |_| secs.to_string(),
        |t| t.strftime("%b %e %H:%M:%S %Y GMT").to_string(),
    )
}

// ------------------------------------------------------------------------------------------
// Timestamps

/// A verified timestamp: when, and by whom.
struct Stamp {
    at: i64,
    tsa: String,
}

/// A `GeneralizedTime` (`YYYYMMDDHHMMSS[.f]Z`) or `UTCTime` (`YYMMDDHHMMSSZ`) as seconds.
fn asn1_time(t: &Tlv<'_>) -> Option<i64> {
    let text = std::str::from_utf8(t.content).ok()?;
    let text = text.strip_suffix('Z')?;
    let main = text.split('.').next()?;
    let full = match (t.tag, main.len()) {
        (0x18, 14) => main.to_owned(),
        (0x17, 12) => {
            let yy: u32 = main.get(..2)?.parse().ok()?;
            format!("{}{main}", if yy >= 50 { "19" } else { "20" })
        }
        _ => return None,
    };
    if !full.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| full.get(r).and_then(|s| s.parse::<i16>().ok());
    let dt = jiff::civil::DateTime::new(
        n(0..4)?,
        i8::try_from(n(4..6)?).ok()?,
        i8::try_from(n(6..8)?).ok()?,
        i8::try_from(n(8..10)?).ok()?,
        i8::try_from(n(10..12)?).ok()?,
        i8::try_from(n(12..14)?).ok()?,
        0,
    )
    .ok()?;
    dt.to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_second())
}

/// Verifies an RFC 3161 token (Microsoft's unsigned attribute) over `signature`.
fn rfc3161(token: &[u8], signature: &[u8], outer: &[Cert], trust: &Trust) -> Result<Stamp, Fail> {
    let bad = |e: String| invalid(format!("the RFC 3161 timestamp: {e}"));
    let sd = signed_data(token).map_err(bad)?;
    if sd.content_type != OID_TST_INFO {
        return Err(bad(format!(
            "its content is {}, not TSTInfo",
            sd.content_type
        )));
    }
    let info = sd
        .content
        .filter(|c| c.tag == 0x04)
        .ok_or_else(|| bad("no TSTInfo".into()))?
        .content;
    let signer = sd.signers.first().ok_or_else(|| bad("no signer".into()))?;
    let pool: Vec<Cert> = sd.certs.iter().chain(outer).cloned().collect();
    let tsa = pool
        .iter()
        .find(|c| c.matches(signer.issuer, signer.serial))
        .ok_or_else(|| bad("the TSA's certificate is not in the token".into()))?;
    verify_signer(signer, tsa, info, "the RFC 3161 timestamp")?;
    // TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, ... }
    let (seq, _) = expect(info, 0x30, "TSTInfo").map_err(bad)?;
    let items = children(seq.content).map_err(bad)?;
    let imprint = items
        .get(2)
        .ok_or_else(|| bad("TSTInfo cut short".into()))?;
    let (alg, rest) = tlv(imprint.content).map_err(bad)?;
    let alg = algorithm(&alg, "the imprint's algorithm").map_err(bad)?;
    let (hashed, _) = expect(rest, 0x04, "the imprint").map_err(bad)?;
    let alg = DigestAlg::from_oid(&alg)
        .ok_or_else(|| bad(format!("imprint digest algorithm {alg} is not supported")))?;
    if hashed.content != alg.digest(signature).as_slice() {
        return Err(bad("it stamps another signature (imprint mismatch)".into()));
    }
    let at = items
        .get(4)
        .and_then(asn1_time)
        .ok_or_else(|| bad("genTime cannot be read".into()))?;
    stamped_by(tsa, &pool, trust, at)
}

/// The stamp of `tsa` at `at`, once its chain (from `pool`) is judged as a time-stamping
/// authority's at that time.
fn stamped_by(tsa: &Cert, pool: &[Cert], trust: &Trust, at: i64) -> Result<Stamp, Fail> {
    let chain = build_chain(tsa, pool, &trust.time);
    judge_chain(
        &chain,
        Purpose::Time,
        Some(at),
        "at the time it stamped",
        &tsa.common_name(),
    )?;
    Ok(Stamp {
        at,
        tsa: tsa.common_name(),
    })
}

/// Verifies a legacy Authenticode countersignature (a `SignerInfo`) over `signature`.
fn countersignature(
    si: &Tlv<'_>,
    signature: &[u8],
    certs: &[Cert],
    trust: &Trust,
) -> Result<Stamp, Fail> {
    let what = "the Authenticode countersignature";
    let signer = signer_info(si).map_err(|e| invalid(format!("{what}: {e}")))?;
    let tsa = certs
        .iter()
        .find(|c| c.matches(signer.issuer, signer.serial))
        .ok_or_else(|| {
            invalid(format!(
                "{what}: the TSA's certificate is not in the signature"
            ))
        })?;
    verify_signer(&signer, tsa, signature, what)?;
    let at = signer
        .attr(OID_SIGNING_TIME)
        .and_then(asn1_time)
        .ok_or_else(|| invalid(format!("{what}: no readable signingTime")))?;
    stamped_by(tsa, certs, trust, at)
}

// ------------------------------------------------------------------------------------------
// The whole check

/// What one Authenticode signature says, verified.
struct Checked {
    signer: Signer,
    digest: DigestAlg,
    anchor: String,
    stamp: Option<Stamp>,
}

/// What an Authenticode signature signs, and how its digest is computed: a PE image
/// ([`verify_pe`]) or an MSI package's streams and storages ([`super::msi`]).
pub struct Subject<'a> {
    /// How the verdict names the digest: "image digest", "MSI digest (...)".
    pub what: String,
    /// The `SpcSipInfo` GUID the `SpcIndirectDataContent` must name (MSI's), if any.
    pub sip: Option<[u8; 16]>,
    /// The digest of the signed content with an algorithm (a nested signature may use
    /// another); an error is the file's fault.
    pub digest: &'a mut dyn FnMut(DigestAlg) -> Result<Vec<u8>, String>,
}

impl std::fmt::Debug for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject")
            .field("what", &self.what)
            .field("sip", &self.sip)
            .finish_non_exhaustive()
    }
}

const OID_SPC_SIPINFO: &str = "1.3.6.1.4.1.311.2.1.30";

/// Checks that `data` (the `SpcAttributeTypeAndOptionalValue` of an `SpcIndirectDataContent`)
/// is an `SpcSipInfo` naming the SIP `guid`.
fn check_sip(data: &Tlv<'_>, guid: &[u8; 16]) -> Result<(), Fail> {
    let bad = |why: &str| invalid(format!("the signature is not for this kind of file: {why}"));
    let (oid, rest) = tlv(data.content).map_err(|e| bad(&e))?;
    let oid = oid_of(&oid, "its data type").map_err(|e| bad(&e))?;
    if oid != OID_SPC_SIPINFO {
        return Err(bad(&format!("its data is {oid}, not SpcSipInfo")));
    }
    let (info, _) = expect(rest, 0x30, "SpcSipInfo").map_err(|e| bad(&e))?;
    let items = children(info.content).map_err(|e| bad(&e))?;
    match items.get(1) {
        Some(t) if t.tag == 0x04 && t.content == guid => Ok(()),
        Some(t) if t.tag == 0x04 => Err(bad(&format!(
            "its SpcSipInfo names the SIP {}, not this kind's",
            crate::hex(t.content)
        ))),
        _ => Err(bad("SpcSipInfo without its SIP GUID")),
    }
}

/// Verifies one Authenticode `SignedData` over `subject`; `depth` is how deep it is nested.
fn check_signature(
    blob: &[u8],
    subject: &mut Subject<'_>,
    trust: &Trust,
    now: i64,
    nested: &mut Vec<Result<Checked, Fail>>,
    depth: usize,
) -> Result<Checked, Fail> {
    let sd =
        signed_data(blob).map_err(|e| invalid(format!("the signature cannot be read: {e}")))?;
    if sd.content_type != OID_SPC_INDIRECT_DATA {
        return Err(invalid(format!(
            "the signed content is {}, not SpcIndirectDataContent",
            sd.content_type
        )));
    }
    let spc = sd
        .content
        .filter(|c| c.tag == 0x30)
        .ok_or_else(|| invalid("the signature carries no SpcIndirectDataContent"))?;
    // SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue,
    //                                       messageDigest DigestInfo }
    let (data, rest) =
        tlv(spc.content).map_err(|e| invalid(format!("SpcIndirectDataContent: {e}")))?;
    if let Some(guid) = &subject.sip {
        check_sip(&data, guid)?;
    }
    let (digest_info, _) = expect(rest, 0x30, "the image DigestInfo").map_err(invalid)?;
    let (alg, rest) = tlv(digest_info.content).map_err(|e| invalid(format!("DigestInfo: {e}")))?;
    let alg_oid = algorithm(&alg, "the image digest algorithm").map_err(invalid)?;
    let (claimed, _) = expect(rest, 0x04, "the image digest").map_err(invalid)?;
    let alg = DigestAlg::from_oid(&alg_oid).ok_or_else(|| {
        (
            Verdict::UnverifiableHere,
            format!("the image digest algorithm {alg_oid} is not supported in-process"),
        )
    })?;
    let actual = (subject.digest)(alg).map_err(invalid)?;
    if actual != claimed.content {
        return Err(invalid(format!(
            "the file was modified after signing: its {} {} {} is not the signed {}",
            alg.name(),
            subject.what,
            crate::hex(&actual),
            crate::hex(claimed.content)
        )));
    }
    let [signer] = sd.signers.as_slice() else {
        return Err(invalid(format!(
            "{} signers in one Authenticode signature (exactly one is allowed)",
            sd.signers.len()
        )));
    };
    let leaf = sd
        .certs
        .iter()
        .find(|c| c.matches(signer.issuer, signer.serial))
        .ok_or_else(|| invalid("the signer's certificate is not in the signature"))?;
    if let Some(ct) = signer.attr(OID_CONTENT_TYPE)
        && (ct.tag != 0x06 || oid_text(ct.content) != OID_SPC_INDIRECT_DATA)
    {
        return Err(invalid(
            "the signed contentType is not SpcIndirectDataContent",
        ));
    }
    // The messageDigest covers the SpcIndirectDataContent's content octets (without its tag
    // and length), as Authenticode defines.
    verify_signer(signer, leaf, spc.content, "the signer")?;
    // Who signed is judged before the timestamp; validity once its time is known.
    let chain = build_chain(leaf, &sd.certs, &trust.code);
    let who = leaf.common_name();
    judge_chain(&chain, Purpose::Code, None, "", &who)?;
    // Timestamps and nested signatures, from the unsigned attributes.
    let mut stamp = None;
    for (oid, values) in &signer.unsigned {
        match oid.as_str() {
            OID_RFC3161_COUNTER_SIGNATURE => {
                let v = values
                    .first()
                    .ok_or_else(|| invalid("an empty RFC 3161 attribute"))?;
                stamp = Some(rfc3161(v.whole, signer.signature, &sd.certs, trust)?);
            }
            OID_COUNTER_SIGNATURE => {
                let v = values
                    .first()
                    .ok_or_else(|| invalid("an empty countersignature attribute"))?;
                stamp = Some(countersignature(v, signer.signature, &sd.certs, trust)?);
            }
            OID_NESTED_SIGNATURE if depth == 0 => {
                for v in values {
                    if nested.len() >= MAX_NESTED {
                        return Err(invalid(format!("more than {MAX_NESTED} nested signatures")));
                    }
                    let one = check_signature(v.whole, subject, trust, now, &mut Vec::new(), 1);
                    nested.push(one);
                }
            }
            _ => {}
        }
    }
    let (at, when) = match &stamp {
        Some(s) => (s.at, "when it was timestamped"),
        None => (now, "now (no timestamp)"),
    };
    judge_chain(&chain, Purpose::Code, Some(at), when, &who)?;
    let parsed = leaf.parsed();
    let signer_out = Signer {
        subject: leaf.subject_line(),
        publisher: who,
        issuer: parsed
            .as_ref()
            .map(|c| one_line(c.issuer()))
            .unwrap_or_default(),
        serial: parsed
            .as_ref()
            .map(|c| crate::hex(c.tbs_certificate.raw_serial()).to_ascii_uppercase())
            .unwrap_or_default(),
        cert_sha256: Some(leaf.sha256()),
        signing_time: signer.attr(OID_SIGNING_TIME).and_then(asn1_time).map(gmt),
        timestamp: stamp.as_ref().map(|s| gmt(s.at)),
        timestamp_valid: stamp.is_some(),
        chain: chain.certs.iter().map(Cert::subject_line).collect(),
        team_id: None,
        digest_match: true,
    };
    Ok(Checked {
        signer: signer_out,
        digest: alg,
        anchor: chain.anchor.unwrap_or_default(),
        stamp,
    })
}

/// Verifies the Authenticode signature of the PE file `r` against `trust`, `now` being the
/// time to check an untimestamped chain at (seconds). The publisher and pin are checked after
/// (by the caller, as for `osslsigncode`'s answer).
pub fn verify_pe<R: Read + Seek>(r: &mut R, trust: &Trust, now: i64) -> Outcome {
    let layout = match pe_layout(r) {
        Ok(l) => l,
        Err(e) => return Outcome::new(Verdict::Invalid, format!("not a valid PE file: {e}")),
    };
    let Some((at, size)) = layout.cert_table else {
        return Outcome::new(Verdict::Unsigned, "no Authenticode signature");
    };
    if size > MAX_CERT_TABLE {
        return Outcome::new(
            Verdict::Invalid,
            format!("a certificate table of {size} bytes, more than the {MAX_CERT_TABLE} read"),
        );
    }
    let table = match read_at(
        r,
        at,
        size as usize,
        layout.file_len,
        "the certificate table",
    ) {
        Ok(t) => t,
        Err(e) => return Outcome::new(Verdict::Invalid, e),
    };
    let blob = match first_pkcs7(&table) {
        Ok(b) => b,
        Err(e) => return Outcome::new(Verdict::Invalid, e),
    };
    let mut digest = |alg| pe_digest(r, &layout, alg);
    let mut subject = Subject {
        what: "image digest".to_owned(),
        sip: None,
        digest: &mut digest,
    };
    verify_signed(blob, &mut subject, trust, now)
}

/// Verifies the Authenticode signature `blob` (a PKCS#7 `SignedData`) over `subject`, with its
/// nested signatures, against `trust`, `now` being the time to check an untimestamped chain
/// at: the one check PE files and MSI packages share.
pub fn verify_signed(blob: &[u8], subject: &mut Subject<'_>, trust: &Trust, now: i64) -> Outcome {
    let mut nested = Vec::new();
    let checked = match check_signature(blob, subject, trust, now, &mut nested, 0) {
        Ok(c) => c,
        Err((verdict, why)) => return Outcome::new(verdict, why),
    };
    for (i, n) in nested.iter().enumerate() {
        if let Err((verdict, why)) = n {
            let mut o = Outcome::new(*verdict, format!("nested signature {}: {why}", i + 2));
            o.signer = Some(checked.signer.clone());
            return o;
        }
    }
    let ts = match &checked.stamp {
        Some(s) => format!("timestamped {} by {}", gmt(s.at), s.tsa),
        None => "no timestamp: the chain was checked as valid now".to_owned(),
    };
    let also = if nested.is_empty() {
        String::new()
    } else {
        format!(", and {} nested signature(s)", nested.len())
    };
    let mut outcome = Outcome::new(
        Verdict::Valid,
        format!(
            "signed by {} ({ts}); chain to {}; checked in-process: {} {}, signature, \
             code-signing EKU, chain{also}; revocation not checked (no CRL or OCSP in-process)",
            checked.signer.publisher,
            checked.anchor,
            checked.digest.name(),
            subject.what
        ),
    );
    outcome.signer = Some(checked.signer);
    outcome
}

/// Verifies the PE file at `path` in-process (see [`verify_pe`]).
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
    verify_pe(&mut file, trust, Timestamp::now().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A minimal PE32+ header: MZ, `e_lfanew` = 0x40, PE signature, COFF header with a 240-byte
    /// optional header of 16 directories.
    fn tiny_pe(len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[0] = b'M';
        b[1] = b'Z';
        b[0x3c] = 0x40;
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        b[0x44 + 16..0x44 + 18].copy_from_slice(&240u16.to_le_bytes());
        let opt = 0x58;
        b[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        b[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        for (i, byte) in b.iter_mut().enumerate().skip(0x200) {
            *byte = u8::try_from(i % 251).expect("below 251");
        }
        b
    }

    const OPT: usize = 0x58;
    const SECDIR: usize = OPT + 112 + 32;

    #[test]
    fn the_digest_skips_checksum_and_security_entry_and_pads_to_eight() {
        let pe = tiny_pe(0x203);
        let layout = pe_layout(&mut Cursor::new(&pe)).expect("layout");
        assert_eq!(layout.checksum_at, (OPT + 64) as u64);
        assert_eq!(layout.security_dir_at, SECDIR as u64);
        assert_eq!(layout.cert_table, None);
        // By hand: the bytes around the two holes, then five zero bytes to 0x208.
        let mut expected = Vec::new();
        expected.extend_from_slice(&pe[..OPT + 64]);
        expected.extend_from_slice(&pe[OPT + 68..SECDIR]);
        expected.extend_from_slice(&pe[SECDIR + 8..]);
        expected.extend_from_slice(&[0u8; 5]);
        let want = DigestAlg::Sha256.digest(&expected);
        let got = pe_digest(&mut Cursor::new(&pe), &layout, DigestAlg::Sha256).expect("digest");
        assert_eq!(got, want);
        // The checksum and the security entry do not change it; any other byte does.
        let mut other = pe.clone();
        other[OPT + 64] ^= 0xff;
        other[SECDIR + 1] = 0;
        let same = pe_digest(&mut Cursor::new(&other), &layout, DigestAlg::Sha256).expect("d");
        assert_eq!(same, want);
        other[0x100] ^= 1;
        let changed = pe_digest(&mut Cursor::new(&other), &layout, DigestAlg::Sha256).expect("d");
        assert_ne!(changed, want);
        let sha1 = pe_digest(&mut Cursor::new(&pe), &layout, DigestAlg::Sha1).expect("d");
        assert_eq!(sha1, DigestAlg::Sha1.digest(&expected));
    }

    #[test]
    fn the_certificate_table_is_one_signature_and_nothing_after_it() {
        // A minimal DER value stands for the PKCS#7 blob.
        let der = [0x30u8, 0x03, 0x02, 0x01, 0x00];
        let entry = |revision: u16, kind: u16, body: &[u8]| {
            let mut e = Vec::new();
            e.extend_from_slice(&u32::try_from(8 + body.len()).expect("len").to_le_bytes());
            e.extend_from_slice(&revision.to_le_bytes());
            e.extend_from_slice(&kind.to_le_bytes());
            e.extend_from_slice(body);
            e
        };
        let pad = |mut t: Vec<u8>| {
            t.resize(t.len().div_ceil(8) * 8, 0);
            t
        };
        let good = pad(entry(0x0200, 2, &der));
        assert_eq!(first_pkcs7(&good).expect("one signature"), &der[..]);
        // Zero padding inside the entry's own length (as signers write it) is fine.
        let mut inside = der.to_vec();
        inside.extend_from_slice(&[0, 0, 0]);
        assert!(first_pkcs7(&entry(0x0200, 2, &inside)).is_ok());
        let mut two = good.clone();
        two.extend_from_slice(&good);
        let mut extra_inside = der.to_vec();
        extra_inside.extend_from_slice(&[0xAA; 1100]);
        let mut garbage_pad = good.clone();
        *garbage_pad.last_mut().expect("byte") = 1;
        for (table, says) in [
            (two, "bytes follow the signature in the certificate table"),
            (
                pad(entry(0x0200, 2, &extra_inside)),
                "1100 bytes follow the PKCS#7 signature inside",
            ),
            (pad(entry(0x0100, 2, &der)), "revision 0x0100"),
            (pad(entry(0x0200, 1, &der)), "of type 1"),
            (garbage_pad, "padding is not zeros"),
            (good[..6].to_vec(), "too few for an entry"),
        ] {
            let e = first_pkcs7(&table).expect_err(says);
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn the_certificate_table_is_left_out_and_must_end_the_file() {
        let mut pe = tiny_pe(0x200);
        pe.extend_from_slice(&[0u8; 16]);
        pe[SECDIR..SECDIR + 4].copy_from_slice(&0x200u32.to_le_bytes());
        pe[SECDIR + 4..SECDIR + 8].copy_from_slice(&16u32.to_le_bytes());
        let layout = pe_layout(&mut Cursor::new(&pe)).expect("layout");
        assert_eq!(layout.cert_table, Some((0x200, 16)));
        let unsigned = tiny_pe(0x200);
        let l2 = pe_layout(&mut Cursor::new(&unsigned)).expect("layout");
        assert_eq!(
            pe_digest(&mut Cursor::new(&pe), &layout, DigestAlg::Sha256).expect("d"),
            pe_digest(&mut Cursor::new(&unsigned), &l2, DigestAlg::Sha256).expect("d"),
        );
        // Appended data, a table past the end, or one inside the headers: named errors.
        let mut appended = pe.clone();
        appended.extend_from_slice(b"x");
        let e = pe_layout(&mut Cursor::new(&appended)).expect_err("appended");
        assert!(e.contains("1 bytes follow the certificate table"), "{e}");
        let mut past = pe.clone();
        past[SECDIR + 4..SECDIR + 8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let e = pe_layout(&mut Cursor::new(&past)).expect_err("past");
        assert!(e.contains("lies outside the file"), "{e}");
        let mut inside = pe.clone();
        inside[SECDIR..SECDIR + 4].copy_from_slice(&8u32.to_le_bytes());
        inside[SECDIR + 4..SECDIR + 8].copy_from_slice(&8u32.to_le_bytes());
        assert!(pe_layout(&mut Cursor::new(&inside)).is_err());
        // An entry that is not a PKCS#7 blob, and one that claims more than the table.
        let o = verify_pe(&mut Cursor::new(&pe), &Trust::default(), 0);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.detail);
        let mut long = pe.clone();
        long[0x200..0x204].copy_from_slice(&4096u32.to_le_bytes());
        let o = verify_pe(&mut Cursor::new(&long), &Trust::default(), 0);
        assert_eq!(o.verdict, Verdict::Invalid);
        assert!(o.detail.contains("claims 4096 bytes"), "{}", o.detail);
    }

    #[test]
    fn headers_pointing_outside_the_file_are_named() {
        let mut pe = tiny_pe(0x200);
        pe[0x3c..0x40].copy_from_slice(&0xffff_ff00u32.to_le_bytes());
        let e = pe_layout(&mut Cursor::new(&pe)).expect_err("e_lfanew");
        assert!(e.contains("e_lfanew"), "{e}");
        let e = pe_layout(&mut Cursor::new(b"MZ")).expect_err("short");
        assert!(e.contains("too short"), "{e}");
        let o = verify_pe(
            &mut Cursor::new(b"hello world".to_vec()),
            &Trust::default(),
            0,
        );
        assert_eq!(o.verdict, Verdict::Invalid);
        let o = verify_pe(&mut Cursor::new(tiny_pe(0x200)), &Trust::default(), 0);
        assert_eq!(o.verdict, Verdict::Unsigned);
    }

    #[test]
    fn der_lengths_are_bounded() {
        assert!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(tlv(&[0x30, 0x80]).is_err());
        assert!(tlv(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]).is_err());
        assert!(tlv(&[0x30]).is_err());
        assert_eq!(
            oid_text(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02]),
            OID_SIGNED_DATA
        );
        assert!(signed_data(&[0x30, 0x03, 0x06, 0x01, 0x00]).is_err());
    }

    #[test]
    fn asn1_times_are_read() {
        let g = Tlv {
            tag: 0x18,
            content: b"20261128100000Z",
            whole: &[],
        };
        assert_eq!(asn1_time(&g), Some(1_795_860_000));
        let u = Tlv {
            tag: 0x17,
            content: b"261128100000Z",
            whole: &[],
        };
        assert_eq!(asn1_time(&u), Some(1_795_860_000));
        let f = Tlv {
            tag: 0x18,
            content: b"20261128100000.123Z",
            whole: &[],
        };
        assert_eq!(asn1_time(&f), Some(1_795_860_000));
        let bad = Tlv {
            tag: 0x18,
            content: b"2026112810000xZ",
            whole: &[],
        };
        assert_eq!(asn1_time(&bad), None);
    }
}
