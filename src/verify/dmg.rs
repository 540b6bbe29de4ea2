//! Apple disk images (.dmg) verified in-process on any host: the embedded signature after the
//! image's data (its CodeDirectory covers the content up to the signature and the `koly`
//! trailer), the signer as for Mach-O, and the stapled notarization ticket, read by its
//! structure (`ticket.rs`), whose list must name this CodeDirectory's hash.

use std::path::Path;

use apple_codesign::CodeSigningSlot;
use apple_codesign::dmg::DmgReader;
use x509_certificate::CapturedX509Certificate;

use super::macho::{AppleSignature, Slice, analyze, extra_anchors};
use super::signature::{Expected, Outcome, Verdict};

/// Whether `path` ends with a disk image's `koly` trailer.
pub fn is_dmg(path: &Path) -> bool {
    apple_codesign::dmg::path_is_dmg(path).unwrap_or(false)
}

/// Verifies the disk image at `path`, pinned to `expected`.
pub fn verify(path: &Path, expected: &Expected) -> (Outcome, AppleSignature) {
    let anchors = extra_anchors(expected);
    let mut sig = AppleSignature {
        format: "disk image".into(),
        slices: Vec::new(),
        notarization: "not stapled".into(),
    };
    let read = std::fs::File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|mut f| {
            check_trailer(&mut f)?;
            let reader = DmgReader::new(&mut f).map_err(|e| e.to_string())?;
            Ok((f, reader))
        });
    let (mut file, reader) = match read {
        Ok(v) => v,
        Err(e) => {
            return (
                Outcome::new(Verdict::Invalid, format!("not a readable disk image: {e}")),
                sig,
            );
        }
    };
    let slice = image(
        &mut file,
        &reader,
        expected,
        &anchors,
        &mut sig.notarization,
    );
    let mut outcome = Outcome::new(slice.verdict, slice.detail.clone());
    sig.slices.push(slice);
    outcome.signer = Some(super::macho::signer_of(&sig.slices[0]));
    (outcome, sig)
}

/// The largest embedded signature read (they are tens of KiB with a stapled ticket).
const MAX_SIGNATURE_BYTES: u64 = 16 << 20;

/// The `koly` trailer's signature region judged before the reader loads it into memory: it
/// must lie before the trailer, and be at most [`MAX_SIGNATURE_BYTES`].
fn check_trailer(f: &mut std::fs::File) -> Result<(), String> {
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    let koly = apple_codesign::dmg::KolyTrailer::read_from(f).map_err(|e| e.to_string())?;
    if koly.plist_offset.checked_add(koly.plist_length).is_none() {
        return Err(format!(
            "the koly trailer puts the XML plist at byte {}, {} bytes, past any file",
            koly.plist_offset, koly.plist_length
        ));
    }
    let (offset, size) = (koly.code_signature_offset, koly.code_signature_size);
    if offset == 0 || size == 0 {
        return Ok(());
    }
    let trailer = len.saturating_sub(512);
    if offset.checked_add(size).is_none_or(|end| end > trailer) || size > MAX_SIGNATURE_BYTES {
        return Err(format!(
            "the koly trailer puts the code signature at byte {offset}, {size} bytes, but it \
             must lie before the trailer (byte {trailer}) and be at most {} MiB",
            MAX_SIGNATURE_BYTES >> 20
        ));
    }
    // The region is read here too, to check its counts before the crate parses it (a count
    // no blob could hold makes it reserve memory until the process aborts).
    let mut region = vec![0u8; usize::try_from(size).map_err(|e| e.to_string())?];
    {
        use std::io::{Read as _, Seek as _};
        f.seek(std::io::SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(&mut region))
            .map_err(|e| format!("the code signature at byte {offset}: {e}"))?;
    }
    super::macho::check_superblob(&region, &(0..=16))
        .map_err(|why| format!("the code signature at byte {offset}: {why}"))
}

fn image(
    file: &mut std::fs::File,
    reader: &DmgReader,
    expected: &Expected,
    anchors: &[CapturedX509Certificate],
    notarization: &mut String,
) -> Slice {
    let mut out = super::macho::unsigned("disk image".into());
    let Some(signature) = super::macho::embedded(reader.embedded_signature(), &mut out) else {
        return out;
    };
    let mut problems = Vec::new();
    if let Ok(Some(cd)) = signature.code_directory() {
        // The content up to the signature is the one code "page".
        match reader.digest_content_with(cd.digest_type, file) {
            Ok(d) if cd.code_digests.first().is_some_and(|c| c.data == d.data) => {}
            Ok(_) => problems.push("the image's content does not match its digest".to_owned()),
            Err(e) => problems.push(format!("the image's content cannot be read: {e}")),
        }
        // The trailer, and every special slot the signature carries.
        match reader.koly().digest_for_code_directory(cd.digest_type) {
            Ok(d)
                if cd
                    .slot_digest(CodeSigningSlot::RepSpecific)
                    .is_some_and(|c| c.data.as_ref() == d.as_slice()) => {}
            Ok(_) => problems.push("the koly trailer does not match its digest".to_owned()),
            Err(e) => problems.push(format!("the koly trailer cannot be digested: {e}")),
        }
        for (slot, want) in cd.slot_digests() {
            if *slot == CodeSigningSlot::RepSpecific || want.data.iter().all(|b| *b == 0) {
                continue;
            }
            match signature.find_slot(*slot) {
                Some(entry) => match entry.digest_with(cd.digest_type) {
                    Ok(got) if got.as_slice() == want.data.as_ref() => {}
                    _ => problems.push(format!("the {slot:?} slot does not match its digest")),
                },
                None => problems.push(format!("the {slot:?} slot is missing")),
            }
        }
    }
    let mut slice = analyze(out, &signature, problems, expected, anchors);
    // The ticket: stapled, and naming this CDHash.
    let cdhash = slice.cdhash.as_deref().and_then(|h| {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()
    });
    let Some(ticket) = signature.find_slot(CodeSigningSlot::Ticket) else {
        *notarization = "not stapled".into();
        if slice.verdict == Verdict::Valid {
            slice.verdict = Verdict::Untrusted;
            slice.detail = format!(
                "{}; but no notarization ticket is stapled (xcrun stapler staple)",
                slice.detail
            );
        }
        return slice;
    };
    // The slot is a blob wrapper (magic 0xfade0b01, its length, then the ticket).
    let judged = match ticket.data.get(..4) {
        Some([0xfa, 0xde, 0x0b, 0x01]) => super::ticket::judge(
            ticket.data.get(8..).unwrap_or_default(),
            &cdhash.into_iter().collect::<Vec<_>>(),
            "this CDHash",
        ),
        _ => Err("the ticket slot does not hold a wrapped blob".to_owned()),
    };
    match judged {
        Ok(line) => {
            if slice.verdict == Verdict::Valid {
                slice.detail = format!("{}; {line}", slice.detail);
            }
            *notarization = line;
        }
        Err(why) => {
            notarization.clone_from(&why);
            slice.verdict = Verdict::Invalid;
            slice.detail = format!(
                "{why} (CDHash {})",
                slice.cdhash.as_deref().unwrap_or("unknown")
            );
        }
    }
    slice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_region_past_the_trailer_or_huge_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hostile.dmg");
        let image = |offset: u64, size: u64| {
            let mut bytes = vec![0u8; 1000];
            let mut koly = vec![0u8; 512];
            koly[..4].copy_from_slice(b"koly");
            // code_signature_offset and _size follow the XML plist's offset and length.
            koly[296..304].copy_from_slice(&offset.to_be_bytes());
            koly[304..312].copy_from_slice(&size.to_be_bytes());
            bytes.extend_from_slice(&koly);
            std::fs::write(&path, &bytes).expect("write");
            let (outcome, _) = verify(&path, &Expected::default());
            outcome
        };
        let o = image(10, u64::MAX - 5);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.detail);
        assert!(
            o.detail
                .contains("puts the code signature at byte 10, 18446744073709551610 bytes"),
            "{}",
            o.detail
        );
        let o = image(500, 600);
        assert!(
            o.detail.contains("before the trailer (byte 1000)"),
            "{}",
            o.detail
        );
    }

    #[test]
    fn a_signature_claiming_more_blobs_than_it_holds_is_an_error_not_an_abort() {
        // 1 KiB of data, a SuperBlob of 64 bytes at 0x100 whose count is 0xffffffff (the crate
        // would reserve 32 GiB for its index and abort), then the koly trailer.
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("count.dmg");
        let mut bytes = vec![0u8; 1024];
        bytes[0x100..0x104].copy_from_slice(&[0xfa, 0xde, 0x0c, 0xc0]);
        bytes[0x104..0x140].fill(0xff);
        let mut koly = vec![0u8; 512];
        koly[..4].copy_from_slice(b"koly");
        koly[296..304].copy_from_slice(&0x100u64.to_be_bytes());
        koly[304..312].copy_from_slice(&64u64.to_be_bytes());
        bytes.extend_from_slice(&koly);
        std::fs::write(&path, &bytes).expect("write");
        let (o, _) = verify(&path, &Expected::default());
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.detail);
        assert!(
            o.detail.contains("the code signature at byte 256")
                && o.detail.contains("claims 4294967295 blobs"),
            "{}",
            o.detail
        );
        // A CodeDirectory whose page size is 2^17: not one a disk image uses.
        let mut blob = vec![0u8; 64];
        blob[..4].copy_from_slice(&[0xfa, 0xde, 0x0c, 0xc0]);
        blob[8..12].copy_from_slice(&1u32.to_be_bytes());
        blob[16..20].copy_from_slice(&20u32.to_be_bytes());
        blob[20..24].copy_from_slice(&[0xfa, 0xde, 0x0c, 0x02]);
        blob[20 + 39] = 17;
        assert!(
            crate::verify::macho::check_superblob(&blob, &(0..=16))
                .is_err_and(|e| e.contains("page size is 2^17")),
        );
        blob[20 + 39] = 0;
        assert_eq!(
            crate::verify::macho::check_superblob(&blob, &(0..=16)),
            Ok(())
        );
        assert!(
            crate::verify::macho::check_superblob(&blob, &crate::verify::macho::MACHO_PAGE_SIZES)
                .is_err_and(|e| e.contains("page size is 2^0")),
        );
    }
}
