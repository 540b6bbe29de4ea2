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
    let len = check_header(&file)?;
    let mut xar = XarReader::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a readable flat package: {e}"))?;
    check_heap(&xar, len)?;
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
    let bytes = read_trailer(path).map_err(|e| format!("{}: {e}", path.display()))?;
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

/// The largest table of contents read, unpacked: a package's is a few KiB.
const MAX_TOC_BYTES: u64 = 8 << 20;
/// How deep its elements may nest, and how many `<file>` records it may hold.
const MAX_TOC_DEPTH: usize = 64;
const MAX_TOC_FILES: usize = 10_000;
/// The largest stapled ticket read (they are a few KiB).
const MAX_TICKET_BYTES: u64 = 1 << 20;

/// The header and the table of contents judged before the XAR reader sees them: it reserves
/// what the header says the table unpacks to, unpacks it without a limit, and parses and
/// copies its file tree recursively. Returns the file's length.
fn check_header(file: &std::fs::File) -> Result<u64, String> {
    use std::io::{Read as _, Seek as _};
    let mut f = file;
    let len = f
        .metadata()
        .map_err(|e| format!("the package cannot be read: {e}"))?
        .len();
    let mut header = [0u8; 28];
    f.read_exact(&mut header)
        .map_err(|_| format!("the package is {len} bytes, shorter than a XAR header (28 bytes)"))?;
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[i..i + 8]);
        u64::from_be_bytes(b)
    };
    let header_size = u64::from(u16::from_be_bytes([header[4], header[5]]));
    let (compressed, unpacked) = (u64_at(8), u64_at(16));
    if &header[..4] != b"xar!" || header_size < 28 || header_size > len {
        return Err(format!(
            "the XAR header (at byte 0) says it is {header_size} bytes, in a file of {len}; \
             not a flat package"
        ));
    }
    if compressed > len - header_size {
        return Err(format!(
            "the XAR header says the table of contents is {compressed} bytes (at byte \
             {header_size}), but only {} follow",
            len - header_size
        ));
    }
    if unpacked > MAX_TOC_BYTES {
        return Err(format!(
            "the XAR header says the table of contents unpacks to {unpacked} bytes, more than \
             the {} MiB a package's may; refusing it",
            MAX_TOC_BYTES >> 20
        ));
    }
    f.seek(std::io::SeekFrom::Start(header_size))
        .map_err(|e| format!("the table of contents: {e}"))?;
    let mut toc = Vec::new();
    flate2::read::ZlibDecoder::new(f.take(compressed))
        .take(MAX_TOC_BYTES + 1)
        .read_to_end(&mut toc)
        .map_err(|e| {
            format!("the table of contents (at byte {header_size}) does not unpack: {e}")
        })?;
    if toc.len() as u64 > MAX_TOC_BYTES {
        return Err(format!(
            "the table of contents unpacks to more than {} MiB; refusing it",
            MAX_TOC_BYTES >> 20
        ));
    }
    check_toc_shape(&toc)?;
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| format!("the package cannot be read: {e}"))?;
    Ok(len)
}

/// How deep the table of contents nests and how many files it lists, within limits.
fn check_toc_shape(toc: &[u8]) -> Result<(), String> {
    let mut reader = quick_xml::Reader::from_reader(toc);
    let mut buf = Vec::new();
    let (mut depth, mut files) = (0usize, 0usize);
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            format!("the table of contents is not well-formed XML at byte {at}: {e}")
        })?;
        match event {
            quick_xml::events::Event::Start(e) => {
                depth += 1;
                files += usize::from(e.local_name().as_ref() == b"file");
                if depth > MAX_TOC_DEPTH {
                    return Err(format!(
                        "the table of contents nests deeper than {MAX_TOC_DEPTH} levels (at \
                         byte {at}); refusing it"
                    ));
                }
            }
            quick_xml::events::Event::Empty(e) => {
                files += usize::from(e.local_name().as_ref() == b"file");
            }
            quick_xml::events::Event::End(_) => depth = depth.saturating_sub(1),
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
        if files > MAX_TOC_FILES {
            return Err(format!(
                "the table of contents lists more than {MAX_TOC_FILES} files; refusing it"
            ));
        }
        buf.clear();
    }
    Ok(())
}

/// Every region the table of contents points at (its checksum, signatures, files' data) lies
/// inside the heap: the XAR reader reserves a signature's or checksum's recorded size before
/// reading it.
fn check_heap<R>(xar: &XarReader<R>, len: u64) -> Result<(), String>
where
    R: std::io::Read + std::io::Seek + std::fmt::Debug,
{
    fn inside(what: &str, offset: u64, size: u64, heap: u64) -> Result<(), String> {
        match offset.checked_add(size) {
            Some(end) if end <= heap => Ok(()),
            _ => Err(format!(
                "{what} is recorded at heap offset {offset}, {size} bytes, past the heap's end \
                 ({heap} bytes); refusing the package"
            )),
        }
    }
    fn files(list: &[apple_xar::table_of_contents::File], heap: u64) -> Result<(), String> {
        for f in list {
            if let Some(d) = &f.data {
                let name = f.names.last().map_or("a file", String::as_str);
                inside(&format!("the data of {name}"), d.offset, d.length, heap)?;
            }
            files(&f.files, heap)?;
        }
        Ok(())
    }
    let heap = len.saturating_sub(xar.heap_start_offset());
    let toc = xar.table_of_contents();
    inside("the checksum", toc.checksum.offset, toc.checksum.size, heap)?;
    for sig in toc.signatures() {
        inside("a signature", sig.offset, sig.size, heap)?;
    }
    files(&toc.files, heap)
}

/// The end of the file a stapled ticket would be in: its last 16 bytes (the `t8lr` trailer)
/// and, when they are a ticket's trailer, the ticket before them; never the whole package.
fn read_trailer(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Read as _, Seek as _};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let Some(start) = len.checked_sub(16) else {
        return Ok(Vec::new());
    };
    let mut trailer = [0u8; 16];
    f.seek(std::io::SeekFrom::Start(start))?;
    f.read_exact(&mut trailer)?;
    let ticket = u64::from(u32::from_le_bytes([
        trailer[8],
        trailer[9],
        trailer[10],
        trailer[11],
    ]));
    if &trailer[..4] != b"t8lr" || ticket > start || ticket > MAX_TICKET_BYTES {
        return Ok(trailer.to_vec());
    }
    f.seek(std::io::SeekFrom::Start(start - ticket))?;
    let mut tail = Vec::new();
    f.take(ticket + 16).read_to_end(&mut tail)?;
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(size: u16, compressed: u64, unpacked: u64) -> Vec<u8> {
        let mut h = b"xar!".to_vec();
        h.extend_from_slice(&size.to_be_bytes());
        h.extend_from_slice(&1u16.to_be_bytes());
        h.extend_from_slice(&compressed.to_be_bytes());
        h.extend_from_slice(&unpacked.to_be_bytes());
        h.extend_from_slice(&1u32.to_be_bytes());
        h
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).expect("zlib");
        z.finish().expect("zlib")
    }

    fn check(bytes: &[u8]) -> (Verdict, String) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hostile.pkg");
        std::fs::write(&path, bytes).expect("write");
        let (outcome, _) = verify(&path, &Expected::default());
        (outcome.verdict, outcome.detail)
    }

    #[test]
    fn a_72_byte_package_claiming_a_huge_table_of_contents_is_an_error_not_an_abort() {
        // The report's file: the XAR reader reserved 2^62 bytes and the process aborted.
        let mut bytes = header(28, 44, 1 << 62);
        bytes.extend_from_slice(&[0u8; 44]);
        assert_eq!(bytes.len(), 72);
        let (verdict, detail) = check(&bytes);
        assert_eq!(verdict, Verdict::Invalid, "{detail}");
        assert!(
            detail.contains("unpacks to 4611686018427387904 bytes, more than the 8 MiB"),
            "{detail}"
        );
    }

    #[test]
    fn hostile_headers_and_tables_of_contents_are_errors_naming_what() {
        // A header shorter than its own fields (the reader subtracted 28 from it).
        let (v, d) = check(&header(4, 0, 0));
        assert_eq!(v, Verdict::Invalid);
        assert!(d.contains("says it is 4 bytes"), "{d}");
        // A table of contents longer than the file.
        let (_, d) = check(&header(28, 1000, 10));
        assert!(
            d.contains("is 1000 bytes (at byte 28), but only 0 follow"),
            "{d}"
        );
        // A zlib bomb: a small header figure, a table that unpacks without end.
        let bomb = zlib(&vec![b' '; 9 << 20]);
        let mut bytes = header(28, bomb.len() as u64, 100);
        bytes.extend_from_slice(&bomb);
        let (_, d) = check(&bytes);
        assert!(d.contains("unpacks to more than 8 MiB"), "{d}");
        // Deep nesting.
        let deep = format!(
            "<xar><toc>{}{}</toc></xar>",
            "<file>".repeat(5000),
            "</file>".repeat(5000)
        );
        let toc = zlib(deep.as_bytes());
        let mut bytes = header(28, toc.len() as u64, deep.len() as u64);
        bytes.extend_from_slice(&toc);
        let (_, d) = check(&bytes);
        assert!(d.contains("nests deeper than 64 levels"), "{d}");
        // A checksum, or a file's data, recorded far past the end of the heap (the reader
        // reserved the checksum's size; the offsets overflowed).
        let toc_with = |checksum_size: u64, data_offset: u64| {
            format!(
                "<?xml version=\"1.0\"?><xar><toc><checksum style=\"sha1\"><offset>0</offset>\
                 <size>{checksum_size}</size></checksum><creation-time>x</creation-time>\
                 <file id=\"1\"><name>Distribution</name><type>file</type><data><length>4\
                 </length><offset>{data_offset}</offset><size>4</size><encoding \
                 style=\"application/octet-stream\"/><extracted-checksum style=\"sha1\">00\
                 </extracted-checksum><archived-checksum style=\"sha1\">00</archived-checksum>\
                 </data></file></toc></xar>"
            )
        };
        for (toc_xml, want) in [
            (
                toc_with(1 << 62, 20),
                "the checksum is recorded at heap offset 0, 4611686018427387904 bytes, past the \
                 heap's end (24 bytes)",
            ),
            (
                toc_with(20, u64::MAX - 1),
                "the data of Distribution is recorded at heap offset 18446744073709551614",
            ),
        ] {
            let toc = zlib(toc_xml.as_bytes());
            let mut bytes = header(28, toc.len() as u64, toc_xml.len() as u64);
            bytes.extend_from_slice(&toc);
            bytes.extend_from_slice(&[0u8; 24]);
            let (v, d) = check(&bytes);
            assert_eq!(v, Verdict::Invalid, "{d}");
            assert!(d.contains(want), "{d}");
        }
    }

    #[test]
    fn the_trailer_is_read_from_the_end_without_reading_the_package() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.pkg");
        let mut bytes = vec![0u8; 100];
        bytes.extend_from_slice(b"TICKET");
        bytes.extend_from_slice(b"t8lr\x01\x00\x02\x00");
        bytes.extend_from_slice(&6u32.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 4]);
        std::fs::write(&path, &bytes).expect("write");
        let tail = read_trailer(&path).expect("read");
        assert_eq!(tail.len(), 22);
        assert_eq!(stapled_ticket(&tail), Some(b"TICKET".as_slice()));
        // A trailer claiming more than the file holds.
        let n = bytes.len();
        bytes[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        let tail = read_trailer(&path).expect("read");
        assert_eq!(tail.len(), 16);
        assert_eq!(stapled_ticket(&tail), None);
    }
}
