//! The in-process MSI Authenticode verifier (`verify::msi`, over `verify::cfb`) on real
//! packages: an MSI built with wixl, signed with osslsigncode by the test PKI with and without
//! `-add-msi-dse` (timestamped by its built-in TSA) and by the demo's in-process PKI; a modified
//! stream, modified metadata, unsigned and untrusted variants; compound files broken on
//! purpose (a FAT loop, a directory cycle, a size past the file, cut short); and thousands of
//! random mutations, which must never panic. Where osslsigncode is installed the CLI runs both,
//! and they must agree.

use std::io::Cursor;
use std::path::Path;

use release_console::verify::SignatureVerdict as Verdict;
use release_console::verify::authenticode::Trust;
use release_console::verify::msi::verify_msi;
use release_console::verify::signature::Outcome;

use crate::authenticode::{Rng, cli_verdict, now, pinned, with_ca};
use crate::common::{Pki, sh};

fn check(bytes: &[u8], trust: &Trust) -> Outcome {
    verify_msi(&mut Cursor::new(bytes), "app.msi", trust, now())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A version 3 compound file's layout, read the plain way (these files are wixl's and
/// osslsigncode's, 512-byte sectors, one to 109 FAT sectors).
struct Layout {
    fat: Vec<u32>,
    dir: Vec<u32>,
}

fn sector_at(s: u32) -> usize {
    (s as usize + 1) * 512
}

impl Layout {
    fn of(b: &[u8]) -> Self {
        assert_eq!(u32_at(b, 0x1a) & 0xffff, 3, "a version 3 compound file");
        let num_fat = u32_at(b, 0x2c) as usize;
        let fat_sectors: Vec<u32> = (0..num_fat).map(|i| u32_at(b, 0x4c + 4 * i)).collect();
        let fat: Vec<u32> = fat_sectors
            .iter()
            .flat_map(|&s| (0..128).map(move |i| (s, i)))
            .map(|(s, i)| u32_at(b, sector_at(s) + 4 * i))
            .collect();
        let mut dir = vec![u32_at(b, 0x30)];
        while let Some(&next) = fat.get(*dir.last().expect("one") as usize) {
            if next >= 0xffff_fffa {
                break;
            }
            dir.push(next);
        }
        Self { fat, dir }
    }

    /// Where directory entry `id` starts in the file.
    fn entry(&self, id: u32) -> usize {
        sector_at(self.dir[id as usize / 4]) + (id as usize % 4) * 128
    }

    /// The directory entry named `name`.
    fn find(&self, b: &[u8], name: &str) -> u32 {
        let raw: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        (0..u32::try_from(self.dir.len() * 4).expect("small"))
            .find(|&id| {
                let at = self.entry(id);
                b[at..at + raw.len()] == raw[..] && b[at + raw.len()] == 0
            })
            .unwrap_or_else(|| panic!("no entry {name:?}"))
    }
}

/// The FAT entry of sector `s`: where it is in the file (FAT sectors from the header).
fn fat_entry(b: &[u8], s: u32) -> usize {
    let fat_sector = u32_at(b, 0x4c + 4 * (s as usize / 128));
    sector_at(fat_sector) + 4 * (s as usize % 128)
}

/// The test PKI with `valid.msi` (`-add-msi-dse`), `plain.msi` (without) and `evil.msi`.
fn signed() -> Pki {
    let pki = Pki::new();
    pki.sign("leaf.pfx", "app.msi", &pki.path("valid.msi"));
    pki.sign("evil.pfx", "app.msi", &pki.path("evil.msi"));
    sh(
        &pki.path(""),
        "osslsigncode sign -pkcs12 leaf.pfx -pass pw -h sha384 -TSA-certs tsa-chain.pem \
         -TSA-key tsa.key -in app.msi -out plain.msi >/dev/null",
    );
    pki
}

fn read(pki: &Pki, name: &str) -> Vec<u8> {
    std::fs::read(pki.path(name)).expect("read")
}

#[test]
fn msi_signed_with_and_without_dse_is_valid_in_process_and_osslsigncode_agrees() {
    let pki = signed();
    let ca = pki.path("ca.pem");
    for (name, alg, dse) in [
        ("valid.msi", "SHA-256", true),
        ("plain.msi", "SHA-384", false),
    ] {
        let o = check(&read(&pki, name), &with_ca(&ca));
        assert_eq!(o.verdict, Verdict::Valid, "{name}: {}", o.detail);
        let s = o.signer.as_ref().expect("signer");
        assert_eq!(s.publisher, "WireTuner Inc");
        assert_eq!(s.issuer, "/CN=Test Root CA/O=Test");
        assert_eq!(
            s.cert_sha256.map(|d| d.to_string()),
            Some(pki.leaf_fingerprint())
        );
        assert!(s.timestamp_valid, "{name}: {}", o.detail);
        for words in [
            format!("checked in-process: {alg} MSI digest (every stream and storage"),
            "chain to \"Test Root CA\" ([signing] ca_file)".to_owned(),
            "revocation not checked".to_owned(),
            "timestamped".to_owned(),
        ] {
            assert!(o.detail.contains(&words), "{name}: {}", o.detail);
        }
        assert_eq!(
            o.detail.contains("MsiDigitalSignatureEx metadata pre-hash"),
            dse,
            "{name}: {}",
            o.detail
        );
        // The CLI: in-process, and osslsigncode where installed, agreeing.
        let ca_arg = ca.to_str().expect("utf-8");
        let v = cli_verdict(
            &["--expect-publisher", "WireTuner Inc", "--ca-file", ca_arg],
            &pki.path(name),
        );
        assert_eq!(v["signature"], "valid", "{v:#}");
        if release_console::os::find_program("osslsigncode").is_some() {
            assert!(
                v["detail"].as_str().is_some_and(
                    |d| d.contains("the in-process check agrees (MSI digest, signature")
                ),
                "{v:#}"
            );
        }
        // As on Windows without osslsigncode.exe: the in-process answer alone.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_release-console"))
            .env_remove("RELEASE_CONSOLE_WORKSPACE")
            .env("HOME", std::env::temp_dir())
            .env("PATH", pki.path("no-tools"))
            .current_dir(std::env::temp_dir())
            .args(["--json", "verify", "--expect-publisher", "WireTuner Inc"])
            .args(["--ca-file", ca_arg])
            .arg(pki.path(name))
            .output()
            .expect("run verify");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let v = &report["artifacts"][0];
        assert_eq!(v["signature"], "valid", "{v:#}");
        assert!(
            v["detail"]
                .as_str()
                .is_some_and(|d| d.contains("MSI digest") && !d.contains("osslsigncode")),
            "{v:#}"
        );
        // Another publisher pinned: a valid signature by the wrong signer.
        let v = cli_verdict(
            &["--expect-publisher", "Someone Else", "--ca-file", ca_arg],
            &pki.path(name),
        );
        assert_eq!(v["signature"], "identity_mismatch", "{v:#}");
    }
}

#[test]
fn a_nested_msi_signature_is_verified_too() {
    let pki = signed();
    // A second signature (another signer, another digest) nested in the first.
    sh(
        &pki.path(""),
        "osslsigncode sign -nest -pkcs12 other.pfx -pass pw -h sha256 -in plain.msi \
         -out nested.msi >/dev/null",
    );
    let trust = with_ca(&pki.path("ca.pem"));
    let o = check(&read(&pki, "nested.msi"), &trust);
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.detail);
    assert!(
        o.detail.contains("and 1 nested signature(s)"),
        "{}",
        o.detail
    );
    assert_eq!(o.signer.expect("signer").publisher, "WireTuner Inc");
    // The nested signer under an untrusted root: the whole is not valid.
    sh(
        &pki.path(""),
        "osslsigncode sign -nest -pkcs12 evil.pfx -pass pw -h sha256 -in plain.msi \
         -out nested-evil.msi >/dev/null",
    );
    let o = check(&read(&pki, "nested-evil.msi"), &trust);
    assert_eq!(o.verdict, Verdict::Untrusted, "{}", o.detail);
    assert!(o.detail.starts_with("nested signature 2: "), "{}", o.detail);
}

#[test]
fn a_modified_stream_or_metadata_is_invalid_and_unsigned_or_untrusted_are_named() {
    let pki = signed();
    let ca = pki.path("ca.pem");
    let trust = with_ca(&ca);
    let bytes = read(&pki, "valid.msi");
    // A byte of the embedded cabinet (a stream in regular sectors).
    let cab = bytes
        .windows(4)
        .position(|w| w == b"MSCF")
        .expect("the cabinet");
    let mut m = bytes.clone();
    m[cab + 100] ^= 0x01;
    let o = check(&m, &trust);
    assert_eq!(o.verdict, Verdict::Invalid, "{}", o.detail);
    assert!(
        o.detail
            .contains("the file was modified after signing: its SHA-256 MSI digest"),
        "{}",
        o.detail
    );
    let dir = pki.path("modified.msi");
    std::fs::write(&dir, &m).expect("write");
    let ca_arg = ca.to_str().expect("utf-8");
    let v = cli_verdict(
        &["--expect-publisher", "WireTuner Inc", "--ca-file", ca_arg],
        &dir,
    );
    assert_eq!(v["signature"], "invalid", "{v:#}");

    // A stream's modification time: covered by MsiDigitalSignatureEx, not by the plain
    // signature (both verifiers agree on each).
    for (name, verdict) in [
        ("valid.msi", Verdict::Invalid),
        ("plain.msi", Verdict::Valid),
    ] {
        let mut m = read(&pki, name);
        let layout = Layout::of(&m);
        let at = layout.entry(layout.find(&m, "\u{5}SummaryInformation"));
        m[at + 0x6c] ^= 0x01;
        let o = check(&m, &trust);
        assert_eq!(o.verdict, verdict, "{name}: {}", o.detail);
        if verdict == Verdict::Invalid {
            assert!(
                o.detail.contains("metadata pre-hash"),
                "{name}: {}",
                o.detail
            );
        }
        let out = pki.path(&format!("touched-{name}"));
        std::fs::write(&out, &m).expect("write");
        let v = cli_verdict(
            &["--expect-publisher", "WireTuner Inc", "--ca-file", ca_arg],
            &out,
        );
        let want = if verdict == Verdict::Valid {
            "valid"
        } else {
            "invalid"
        };
        assert_eq!(v["signature"], want, "{name}: {v:#}");
    }

    // Unsigned; signed under an untrusted root; and the test CA not trusted at all.
    let o = check(&read(&pki, "app.msi"), &trust);
    assert_eq!(o.verdict, Verdict::Unsigned, "{}", o.detail);
    let v = cli_verdict(&["--ca-file", ca_arg], &pki.path("app.msi"));
    assert_eq!(v["signature"], "unsigned", "{v:#}");
    let o = check(&read(&pki, "evil.msi"), &trust);
    assert_eq!(o.verdict, Verdict::Untrusted, "{}", o.detail);
    assert!(
        o.detail.contains("self-signed \"Untrusted Root\""),
        "{}",
        o.detail
    );
    let o = check(&bytes, &pinned());
    assert_eq!(o.verdict, Verdict::Untrusted, "{}", o.detail);
    assert!(
        o.detail
            .contains("does not build to a pinned Windows code-signing root"),
        "{}",
        o.detail
    );
    let v = cli_verdict(
        &["--expect-publisher", "WireTuner Inc", "--ca-file", ca_arg],
        &pki.path("evil.msi"),
    );
    assert_eq!(v["signature"], "untrusted", "{v:#}");
}

#[test]
fn crafted_compound_files_get_a_clear_error() {
    let pki = signed();
    let bytes = read(&pki, "valid.msi");
    let layout = Layout::of(&bytes);
    let trust = with_ca(&pki.path("ca.pem"));
    let mut cases: Vec<(&str, Vec<u8>, String)> = Vec::new();
    // The directory's chain loops back onto its first sector.
    let mut b = bytes.clone();
    let last = *layout.dir.last().expect("a directory sector");
    let at = fat_entry(&b, last);
    put32(&mut b, at, layout.dir[0]);
    cases.push((
        "FAT loop",
        b,
        format!("the directory: sector {} is used twice", layout.dir[0]),
    ));
    // A stream's chain looping: the cabinet's second sector points back to its first.
    let mut b = bytes.clone();
    let cab_sector =
        u32::try_from(bytes.windows(4).position(|w| w == b"MSCF").expect("cab") / 512 - 1)
            .expect("small");
    let second = layout.fat[cab_sector as usize];
    let at = fat_entry(&b, second);
    put32(&mut b, at, cab_sector);
    cases.push((
        "stream loop",
        b,
        format!("sector {cab_sector} is used twice"),
    ));
    // The root's first child made its own right sibling.
    let mut b = bytes.clone();
    let child = u32_at(&b, layout.entry(0) + 0x4c);
    let at = layout.entry(child) + 0x48;
    put32(&mut b, at, child);
    cases.push((
        "directory cycle",
        b,
        format!("directory entry {child} is reached twice"),
    ));
    // A size past the end of the file.
    let mut b = bytes.clone();
    let at = layout.entry(layout.find(&b, "\u{5}SummaryInformation")) + 0x78;
    put32(&mut b, at, 0x7fff_0000);
    cases.push((
        "size past the file",
        b,
        "stream \"\\u{5}SummaryInformation\" claims 2147418112 bytes, more than the file's"
            .to_owned(),
    ));
    // Cut short: half, and just the header.
    cases.push((
        "truncated",
        bytes[..bytes.len() / 2].to_vec(),
        "the file is truncated".to_owned(),
    ));
    cases.push((
        "header only",
        bytes[..600].to_vec(),
        "claims 1 FAT sectors, but the file (600 bytes) holds 0 sectors".to_owned(),
    ));
    cases.push((
        "not a compound file",
        b"MZ and then some".to_vec(),
        "too short for its 512-byte header".to_owned(),
    ));
    for (case, b, says) in cases {
        let o = check(&b, &trust);
        assert_eq!(o.verdict, Verdict::Invalid, "{case}: {}", o.detail);
        assert!(
            o.detail
                .starts_with("app.msi is not a readable MSI (compound file): "),
            "{case}: {}",
            o.detail
        );
        assert!(
            o.detail.contains(&says),
            "{case}: wanted {says:?}: {}",
            o.detail
        );
    }
}

#[test]
fn the_demos_own_signing_of_an_msi_is_valid_with_its_ca_file() {
    let made = release_console::demo::signing::make(jiff::Timestamp::now(), "pw").expect("pki");
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(d.join("demo.pfx"), &made.pfx).expect("pfx");
    std::fs::write(d.join("ca.pem"), &made.ca_pem).expect("ca");
    std::fs::copy(pki.path("app.msi"), d.join("app.msi")).expect("copy");
    sh(
        d,
        "osslsigncode sign -pkcs12 demo.pfx -pass pw -h sha256 -add-msi-dse -in app.msi \
         -out signed.msi >/dev/null",
    );
    let bytes = std::fs::read(d.join("signed.msi")).expect("read");
    let trust = with_ca(&d.join("ca.pem"));
    let o = check(&bytes, &trust);
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.detail);
    let s = o.signer.as_ref().expect("signer");
    assert_eq!(s.publisher, release_console::demo::signing::LEAF_CN);
    assert_eq!(s.cert_sha256, Some(made.leaf_sha256));
    assert!(o.detail.contains("no timestamp"), "{}", o.detail);
    // Untimestamped, the chain is checked now: ten years on, the leaf has expired.
    let later = verify_msi(
        &mut Cursor::new(&bytes),
        "signed.msi",
        &trust,
        now() + 10 * 365 * 86_400,
    );
    assert_eq!(later.verdict, Verdict::Untrusted, "{}", later.detail);
}

#[test]
fn random_mutations_of_a_signed_msi_never_panic() {
    let pki = signed();
    let bytes = read(&pki, "valid.msi");
    let layout = Layout::of(&bytes);
    let trust = with_ca(&pki.path("ca.pem"));
    // Where mutations hurt: the header, the FAT, the directory, and anywhere.
    let fat_sector = u32_at(&bytes, 0x4c);
    let regions: Vec<(usize, usize)> = std::iter::once((0, 512))
        .chain(std::iter::once((sector_at(fat_sector), 512)))
        .chain(layout.dir.iter().map(|&s| (sector_at(s), 512)))
        .chain(std::iter::once((0, bytes.len())))
        .collect();
    let path = Path::new("mutated.msi");
    let mut rng = Rng(0x0d5e_c0de_1234_5678);
    let mut verdicts = std::collections::BTreeMap::new();
    for round in 0..3000 {
        let mut m = bytes.clone();
        for _ in 0..=rng.below(4) {
            let (from, len) = regions[rng.below(regions.len())];
            let at = from + rng.below(len);
            match rng.below(5) {
                0 => m[at] ^= 1 << rng.below(8),
                1 => m[at] = 0xff,
                2 => m[at] = 0,
                3 if at + 4 <= m.len() => {
                    // A sector id or size: a small number, or a special one.
                    let v = [0u32, 1, 2, 0xffff_fffe, 0xffff_ffff, 0x7fff_ffff][rng.below(6)];
                    m[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
                _ => m[at] = rng.next().to_le_bytes()[0],
            }
        }
        if rng.below(20) == 0 {
            m.truncate(rng.below(m.len()));
        }
        let o = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            verify_msi(
                &mut Cursor::new(&m),
                &path.display().to_string(),
                &trust,
                now(),
            )
        }))
        .unwrap_or_else(|_| panic!("round {round} panicked"));
        assert!(
            !o.detail.is_empty(),
            "round {round}: a verdict without words"
        );
        *verdicts.entry(o.verdict.as_str()).or_insert(0) += 1;
    }
    // Most mutations break it; some hit bytes no check covers (unused sectors, padding).
    assert!(
        verdicts.get("invalid").copied().unwrap_or(0) > 1000,
        "{verdicts:?}"
    );
}

/// A signed package with bytes past its compound file (CVE-2020-1464, "GlueBall": a JAR or
/// script appended to a signed MSI) is invalid, as appended data after a PE's certificate
/// table is: the signature does not cover them.
#[test]
fn data_appended_after_a_signed_msi_is_invalid() {
    let pki = signed();
    let trust = with_ca(&pki.path("ca.pem"));
    let bytes = read(&pki, "valid.msi");
    assert_eq!(check(&bytes, &trust).verdict, Verdict::Valid);
    for extra in [1usize, 511, 512, 4096] {
        let mut m = bytes.clone();
        m.extend(std::iter::repeat_n(b'P', extra));
        let o = check(&m, &trust);
        assert_eq!(o.verdict, Verdict::Invalid, "{extra}: {}", o.detail);
        assert!(
            o.detail.contains("not covered by the signature"),
            "{}",
            o.detail
        );
    }
}

/// Bytes hidden where the compound file says nothing is (no signature covers them, and a ZIP
/// reader finds an end record anywhere near the end): FAT entries for sectors past the end,
/// and directory entries no storage reaches, must be free ones.
#[test]
fn data_hidden_in_free_fat_and_directory_entries_is_invalid() {
    let pki = signed();
    let trust = with_ca(&pki.path("ca.pem"));
    let bytes = read(&pki, "valid.msi");
    let layout = Layout::of(&bytes);
    let sectors = u32::try_from(bytes.len() / 512 - 1).expect("small");
    assert!(
        layout.fat.len() > sectors as usize,
        "the last FAT sector has entries past the file"
    );
    let eocd = b"PK\x05\x06\0\0\0\0";
    let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut m = bytes.clone();
    let at = fat_entry(&m, sectors);
    m[at..at + 8].copy_from_slice(eocd);
    cases.push((m, "past the file's"));
    // A directory entry no storage reaches: the last of the directory's, after the tree's.
    let last = u32::try_from(layout.dir.len() * 4 - 1).expect("small");
    let at = layout.entry(last);
    assert_eq!(bytes[at + 0x42], 0, "the directory's last entry is free");
    let mut m = bytes.clone();
    m[at..at + 8].copy_from_slice(eocd);
    cases.push((m, "is in no storage and is not a free entry"));
    for (m, says) in cases {
        let o = check(&m, &trust);
        assert_eq!(o.verdict, Verdict::Invalid, "{says}: {}", o.detail);
        assert!(o.detail.contains(says), "{says}: {}", o.detail);
    }
}
