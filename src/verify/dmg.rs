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
