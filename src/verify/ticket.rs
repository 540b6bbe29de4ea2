//! Stapled notarization tickets, read by their structure (not searched for bytes): the one
//! format a disk image's ticket slot, a bundle's `Contents/CodeResources` and a flat
//! package's `t8lr` trailer carry.
//!
//! A ticket, little-endian throughout:
//! - a 16-byte header: the magic `s8ch`, version 1, the length of the certificates, the
//!   length of the content;
//! - the certificates that sign it (one DER `SEQUENCE` of X.509 certificates);
//! - the content: the magic `g8tk`, a `u16` version (2), a `u16` header length (20: the
//!   fields after the magic up to the list), a `u32` count, a `u32` of flags, a `u64` time
//!   (seconds since 1970), then `count` entries of a hash type (`u8`) and a 20-byte CDHash;
//! - the signature over it (DER), the rest of the blob.
//!
//! The signature is Apple's; this module checks that it is there and well formed, not that
//! it verifies: Gatekeeper does that on a Mac.

use std::fmt::Write as _;

/// The hash types a ticket entry may carry (a CodeDirectory's: SHA-1, SHA-256, SHA-256
/// truncated, SHA-384).
const HASH_TYPES: std::ops::RangeInclusive<u8> = 1..=4;

/// The most entries a ticket may list (a large app's ticket names some hundreds).
const MAX_ENTRIES: usize = 1 << 16;

/// A ticket read by its structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// `(hash type, CDHash)`, as listed.
    pub entries: Vec<(u8, [u8; 20])>,
    /// When it was issued (seconds since 1970).
    pub issued: u64,
    /// The blob's length in bytes.
    pub len: usize,
}

impl Ticket {
    /// Whether the ticket's list names `cdhash` (its first 20 bytes).
    pub fn names(&self, cdhash: &[u8]) -> bool {
        cdhash.len() >= 20 && self.entries.iter().any(|(_, h)| h[..] == cdhash[..20])
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?)).ok()
}

/// The length of the DER element at the start of `b` (tag, length and content), when it is
/// a `SEQUENCE` with a definite length.
fn der_sequence_len(b: &[u8]) -> Option<usize> {
    if *b.first()? != 0x30 {
        return None;
    }
    let first = *b.get(1)?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let len = b
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
    (2 + n).checked_add(len)
}

/// Reads a stapled ticket; `Err` says what is not as a ticket's structure requires.
pub fn parse(blob: &[u8]) -> Result<Ticket, String> {
    if blob.get(..4) != Some(b"s8ch".as_slice()) {
        return Err("it does not start with the ticket magic s8ch".into());
    }
    let version = u32_at(blob, 4).ok_or("its header is cut short")?;
    if version != 1 {
        return Err(format!("ticket version {version}, not 1"));
    }
    let certs_len = u32_at(blob, 8).ok_or("its header is cut short")?;
    let content_len = u32_at(blob, 12).ok_or("its header is cut short")?;
    let certs_end = 16usize
        .checked_add(certs_len)
        .filter(|e| *e <= blob.len())
        .ok_or("its certificates run past its end")?;
    let content_end = certs_end
        .checked_add(content_len)
        .filter(|e| *e <= blob.len())
        .ok_or("its content runs past its end")?;
    if der_sequence_len(&blob[16..certs_end]) != Some(certs_len) {
        return Err("its certificates are not one DER sequence of the stated length".into());
    }
    let signature = &blob[content_end..];
    if signature.is_empty() || der_sequence_len(signature) != Some(signature.len()) {
        return Err("its signature is missing or not one DER sequence".into());
    }
    let content = &blob[certs_end..content_end];
    if content.get(..4) != Some(b"g8tk".as_slice()) {
        return Err("its content does not start with g8tk".into());
    }
    let content_version = u16_at(content, 4).ok_or("its content header is cut short")?;
    if content_version != 2 {
        return Err(format!("content version {content_version}, not 2"));
    }
    let header = u16_at(content, 6).ok_or("its content header is cut short")?;
    if header != 20 {
        return Err(format!("content header length {header}, not 20"));
    }
    let count = u32_at(content, 8).ok_or("its content header is cut short")?;
    let issued = content
        .get(16..24)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or("its content header is cut short")?;
    if count == 0 || count > MAX_ENTRIES {
        return Err(format!("it lists {count} hashes"));
    }
    if Some(content.len()) != count.checked_mul(21).and_then(|n| n.checked_add(24)) {
        return Err(format!(
            "its content is {} bytes, not the {count} hashes it announces",
            content.len()
        ));
    }
    let mut entries = Vec::with_capacity(count);
    for entry in content[24..].chunks_exact(21) {
        let kind = entry[0];
        if !HASH_TYPES.contains(&kind) {
            return Err(format!("an entry of unknown hash type {kind}"));
        }
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&entry[1..]);
        entries.push((kind, hash));
    }
    Ok(Ticket {
        entries,
        issued,
        len: blob.len(),
    })
}

/// What a stapled ticket says about `cdhashes` (all must be named): the notarization line
/// of the report, or why the staple is not a ticket for this code.
pub fn judge(blob: &[u8], cdhashes: &[Vec<u8>], what: &str) -> Result<String, String> {
    let ticket =
        parse(blob).map_err(|e| format!("the stapled blob is not a notarization ticket: {e}"))?;
    if cdhashes.is_empty() || !cdhashes.iter().all(|h| ticket.names(h)) {
        let mut listed = String::new();
        for (_, h) in ticket.entries.iter().take(4) {
            let _ = write!(listed, " {}", crate::hex(h));
        }
        return Err(format!(
            "the stapled notarization ticket is for other code: it does not name {what} (it \
             lists{listed}{})",
            if ticket.entries.len() > 4 { " ..." } else { "" }
        ));
    }
    Ok(format!(
        "a ticket naming {what} is stapled; its Apple signature is checked on macOS only"
    ))
}

/// Builds a ticket's bytes (for tests): `certs` (a DER sequence), the entries, `signature`
/// (DER).
#[cfg(test)]
pub(crate) fn build(certs: &[u8], entries: &[(u8, [u8; 20])], signature: &[u8]) -> Vec<u8> {
    let mut content = b"g8tk".to_vec();
    content.extend_from_slice(&2u16.to_le_bytes());
    content.extend_from_slice(&20u16.to_le_bytes());
    content.extend_from_slice(&u32::try_from(entries.len()).unwrap_or(0).to_le_bytes());
    content.extend_from_slice(&0u32.to_le_bytes());
    content.extend_from_slice(&1_764_000_000u64.to_le_bytes());
    for (kind, h) in entries {
        content.push(*kind);
        content.extend_from_slice(h);
    }
    let mut out = b"s8ch".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&u32::try_from(certs.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&u32::try_from(content.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(certs);
    out.extend_from_slice(&content);
    out.extend_from_slice(signature);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERTS: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
    const SIG: &[u8] = &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02];

    #[test]
    fn a_well_formed_ticket_names_its_listed_cdhashes() {
        let a = [0xaa; 20];
        let b = [0xbb; 20];
        let blob = build(CERTS, &[(2, a), (2, b)], SIG);
        let t = parse(&blob).expect("a ticket");
        assert_eq!(t.entries, vec![(2, a), (2, b)]);
        assert_eq!(t.issued, 1_764_000_000);
        assert!(t.names(&b));
        assert!(!t.names(&[0xcc; 20]));
        let line = judge(&blob, &[a.to_vec()], "this CDHash").expect("named");
        assert!(
            line.contains("its Apple signature is checked on macOS only"),
            "{line}"
        );
        assert!(!line.contains("notarized"), "{line}");
    }

    #[test]
    fn a_blob_that_merely_contains_the_cdhash_is_not_a_ticket() {
        let h = [0x11; 20];
        // The old shape: magic, version, then the hash and anything.
        let loose = [b"s8ch\x01\x00\x00\x00".as_slice(), &h, b"ticket body"].concat();
        let e = judge(&loose, &[h.to_vec()], "this CDHash").expect_err("not a ticket");
        assert!(e.contains("not a notarization ticket"), "{e}");
        // A well-formed ticket with the hash only in its certificates is for other code.
        let certs = [&[0x30, 22, 0x04, 20][..], &h].concat();
        let blob = build(&certs, &[(2, [0x22; 20])], SIG);
        let e = judge(&blob, &[h.to_vec()], "this CDHash").expect_err("other code");
        assert!(e.contains("is for other code"), "{e}");
        // Cut short, a wrong count, an unknown hash type, no signature.
        let good = build(CERTS, &[(2, h)], SIG);
        assert!(parse(&good[..good.len() - 1]).is_err());
        let mut count = good.clone();
        count[16 + CERTS.len() + 8] = 2;
        assert!(parse(&count).is_err());
        let mut kind = good.clone();
        kind[16 + CERTS.len() + 24] = 9;
        assert!(parse(&kind).expect_err("type").contains("hash type 9"));
        assert!(parse(&build(CERTS, &[(2, h)], &[])).is_err());
    }
}
