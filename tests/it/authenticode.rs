//! The in-process Authenticode verifier (`verify::authenticode`) on real files: three vendor
//! binaries signed by Microsoft Trusted Signing, `DigiCert` and Sectigo (fetched by
//! scripts/test.sh), PE files built with mingw-w64 and signed with osslsigncode by the test PKI
//! and by the demo's in-process PKI; tampered, truncated, unsigned and untrusted variants; and
//! thousands of random mutations of a signed file's headers and certificate table, which must
//! never panic. Where osslsigncode is installed the CLI runs both, and they must agree.

use std::io::Cursor;
use std::path::Path;

use release_console::verify::SignatureVerdict as Verdict;
use release_console::verify::authenticode::{Trust, verify_pe};
use release_console::verify::signature::Outcome;

use crate::common::{Pki, sh};

pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn check(bytes: &[u8], trust: &Trust) -> Outcome {
    verify_pe(&mut Cursor::new(bytes), trust, now())
}

pub(crate) fn pinned() -> Trust {
    Trust::load(None).expect("the pinned roots")
}

pub(crate) fn with_ca(ca: &Path) -> Trust {
    Trust::load(Some(ca)).expect("roots and ca_file")
}

/// `verify --json ARGS FILE` with the CLI (which runs osslsigncode too, where installed): the
/// file's artifact entry.
pub(crate) fn cli_verdict(args: &[&str], file: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_release-console"))
        .env_remove("RELEASE_CONSOLE_WORKSPACE")
        .env("HOME", std::env::temp_dir())
        .current_dir(std::env::temp_dir())
        .args(["--json", "verify"])
        .args(args)
        .arg(file)
        .output()
        .expect("run verify");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["artifacts"][0].clone()
}

/// Where the signer's signature value (after an RSA `AlgorithmIdentifier` and the OCTET STRING
/// header) starts: the first one in the file's certificate table is the primary signer's.
fn signature_value_at(bytes: &[u8]) -> usize {
    let table = bytes.len() - cert_table_size(bytes);
    for alg in [0x01u8, 0x0b, 0x0c, 0x0d] {
        let pattern = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, alg, 0x05, 0x00, 0x04, 0x82,
        ];
        if let Some(at) = bytes[table..]
            .windows(pattern.len())
            .position(|w| w == pattern)
        {
            return table + at + pattern.len() + 2;
        }
    }
    panic!("no RSA signature value in the certificate table");
}

/// Where the security directory entry is (PE32+ or PE32).
fn security_dir_at(bytes: &[u8]) -> usize {
    let pe = u32::from_le_bytes(bytes[0x3c..0x40].try_into().expect("4")) as usize;
    let opt = pe + 24;
    let magic = u16::from_le_bytes(bytes[opt..opt + 2].try_into().expect("2"));
    opt + if magic == 0x20b { 112 } else { 96 } + 32
}

fn cert_table_size(bytes: &[u8]) -> usize {
    let at = security_dir_at(bytes);
    u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4")) as usize
}

struct Vendor {
    var: &'static str,
    publisher: &'static str,
    cert_sha256: &'static str,
    root: &'static str,
}

const VENDORS: [Vendor; 3] = [
    Vendor {
        var: "RC_TEST_WINDOWS_TRUSTED_SIGNING_BINARY",
        publisher: "OpenJS Foundation",
        cert_sha256: "6d2d0dafb2184f9b3fc332edfb34831c7f4a9527cda9b337b1a3e46a434772f2",
        root: "Microsoft Identity Verification Root Certificate Authority 2020",
    },
    Vendor {
        var: "RC_TEST_WINDOWS_DIGICERT_BINARY",
        publisher: "OpenJS Foundation",
        cert_sha256: "4ea8727207f2149e4c1b7aeee5362f0bcf6bce58d8183e91f44a4b1c6827604d",
        root: "DigiCert Trusted Root G4",
    },
    Vendor {
        var: "RC_TEST_WINDOWS_SECTIGO_BINARY",
        publisher: "Intel Corporation",
        cert_sha256: "a906ccfc38efbe59b4e3258ca423a4b4e1c2625961cce2d23d4e72bea841de20",
        root: "Sectigo Public Code Signing Root R46",
    },
];

fn vendor_bytes(v: &Vendor) -> (std::path::PathBuf, Vec<u8>) {
    let path = std::env::var(v.var).unwrap_or_else(|_| {
        panic!(
            "{} is not set; run scripts/test.sh, which fetches it",
            v.var
        )
    });
    let bytes = std::fs::read(&path).expect("read the vendor binary");
    (path.into(), bytes)
}

#[test]
fn vendor_binaries_are_valid_in_process_and_osslsigncode_agrees() {
    let trust = pinned();
    for v in &VENDORS {
        let (path, bytes) = vendor_bytes(v);
        let o = check(&bytes, &trust);
        assert_eq!(o.verdict, Verdict::Valid, "{}: {}", v.var, o.detail);
        let s = o.signer.as_ref().expect("signer");
        assert_eq!(s.publisher, v.publisher);
        assert_eq!(
            s.cert_sha256.map(|d| d.to_string()).as_deref(),
            Some(v.cert_sha256)
        );
        assert!(s.timestamp_valid, "{}: {}", v.var, o.detail);
        assert!(
            s.chain
                .last()
                .is_some_and(|c| c.contains(&format!("/CN={}", v.root))),
            "{}: {:?}",
            v.var,
            s.chain
        );
        for words in [
            format!("chain to {} (a Windows root, pinned by SHA-256)", v.root),
            "revocation not checked".to_owned(),
            "timestamped".to_owned(),
        ] {
            assert!(o.detail.contains(&words), "{}: {}", v.var, o.detail);
        }
        // The CLI runs osslsigncode too where it is installed: both answers agree.
        let a = cli_verdict(&["--expect-publisher", v.publisher], &path);
        assert_eq!(a["signature"], "valid", "{a:#}");
        if release_console::os::find_program("osslsigncode").is_some() {
            assert!(
                a["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("the in-process check agrees")),
                "{a:#}"
            );
        }
    }
}

#[test]
fn a_flipped_byte_in_the_code_or_the_signature_is_invalid() {
    let trust = pinned();
    for v in &VENDORS {
        let (_, bytes) = vendor_bytes(v);
        let mut code = bytes.clone();
        code[bytes.len() / 3] ^= 0x01;
        let o = check(&code, &trust);
        assert_eq!(o.verdict, Verdict::Invalid, "{}: {}", v.var, o.detail);
        assert!(o.detail.contains("modified after signing"), "{}", o.detail);
        let mut sig = bytes.clone();
        sig[signature_value_at(&bytes) + 17] ^= 0x01;
        let o = check(&sig, &trust);
        assert_eq!(o.verdict, Verdict::Invalid, "{}: {}", v.var, o.detail);
        assert!(
            o.detail
                .contains("signature over the signed attributes does not verify"),
            "{}",
            o.detail
        );
    }
}

#[test]
fn test_pki_signatures_valid_with_ca_file_untrusted_without_and_unsigned_or_cut_short() {
    let pki = Pki::new();
    let art = tempfile::tempdir().expect("art");
    let a = |n: &str| art.path().join(n);
    pki.sign("leaf.pfx", "app.exe", &a("valid.exe"));
    pki.sign("evil.pfx", "app.exe", &a("evil.exe"));
    sh(
        &pki.path(""),
        "openssl req -config ca.cnf -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem \
         -days 30 -subj '/CN=WireTuner Inc' -extensions v3_leaf 2>/dev/null && \
         openssl pkcs12 -export -out self.pfx -inkey self.key -in self.pem -passout pass:pw",
    );
    pki.sign("self.pfx", "app.exe", &a("self.exe"));
    let ca = pki.path("ca.pem");
    let read = |n: &str| std::fs::read(a(n)).expect("read");

    let o = check(&read("valid.exe"), &with_ca(&ca));
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.detail);
    let s = o.signer.as_ref().expect("signer");
    assert_eq!(s.publisher, "WireTuner Inc");
    assert_eq!(s.subject, "/CN=WireTuner Inc/O=WireTuner Inc/C=US");
    assert_eq!(s.issuer, "/CN=Test Root CA/O=Test");
    assert_eq!(
        s.chain,
        [
            "/CN=WireTuner Inc/O=WireTuner Inc/C=US",
            "/CN=Test Root CA/O=Test"
        ]
    );
    assert_eq!(
        s.cert_sha256.map(|d| d.to_string()),
        Some(pki.leaf_fingerprint())
    );
    assert!(s.timestamp_valid, "{}", o.detail);
    assert!(
        o.detail
            .contains("chain to \"Test Root CA\" ([signing] ca_file)"),
        "{}",
        o.detail
    );

    // Only the pinned roots: the test CA is not one of them.
    let o = check(&read("valid.exe"), &pinned());
    assert_eq!(o.verdict, Verdict::Untrusted, "{}", o.detail);
    assert!(
        o.detail
            .contains("does not build to a pinned Windows code-signing root"),
        "{}",
        o.detail
    );
    for (name, words) in [
        ("evil.exe", "self-signed \"Untrusted Root\""),
        ("self.exe", "self-signed \"WireTuner Inc\""),
    ] {
        let o = check(&read(name), &with_ca(&ca));
        assert_eq!(o.verdict, Verdict::Untrusted, "{name}: {}", o.detail);
        assert!(o.detail.contains(words), "{name}: {}", o.detail);
    }
    let o = check(
        &std::fs::read(pki.path("app.exe")).expect("read"),
        &with_ca(&ca),
    );
    assert_eq!(o.verdict, Verdict::Unsigned, "{}", o.detail);

    // The certificate table cut short, the directory still claiming all of it; and the
    // directory agreeing with a cut-short table.
    let bytes = read("valid.exe");
    let cut = &bytes[..bytes.len() - 100];
    let o = check(cut, &with_ca(&ca));
    assert_eq!(o.verdict, Verdict::Invalid, "{}", o.detail);
    assert!(o.detail.contains("certificate table"), "{}", o.detail);
    let mut short = cut.to_vec();
    let at = security_dir_at(&short);
    let size = u32::try_from(cert_table_size(&bytes) - 100).expect("a small table");
    short[at + 4..at + 8].copy_from_slice(&size.to_le_bytes());
    let o = check(&short, &with_ca(&ca));
    assert_eq!(o.verdict, Verdict::Invalid, "{}", o.detail);

    // The CLI agrees (in-process and osslsigncode both).
    let ca_arg = ca.to_str().expect("utf-8");
    let v = cli_verdict(
        &["--expect-publisher", "WireTuner Inc", "--ca-file", ca_arg],
        &a("valid.exe"),
    );
    assert_eq!(v["signature"], "valid", "{v:#}");
    let v = cli_verdict(
        &["--expect-publisher", "WireTuner Inc", "--ca-file", ca_arg],
        &a("self.exe"),
    );
    assert_eq!(v["signature"], "untrusted", "{v:#}");
}

#[test]
fn the_demos_own_signing_is_valid_with_its_ca_file() {
    let made = release_console::demo::signing::make(jiff::Timestamp::now(), "pw").expect("pki");
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(d.join("demo.pfx"), &made.pfx).expect("pfx");
    std::fs::write(d.join("ca.pem"), &made.ca_pem).expect("ca");
    std::fs::copy(pki.path("app.exe"), d.join("app.exe")).expect("copy");
    sh(
        d,
        "osslsigncode sign -pkcs12 demo.pfx -pass pw -h sha256 -in app.exe -out signed.exe >/dev/null",
    );
    let o = check(
        &std::fs::read(d.join("signed.exe")).expect("read"),
        &with_ca(&d.join("ca.pem")),
    );
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.detail);
    let s = o.signer.as_ref().expect("signer");
    assert_eq!(s.publisher, release_console::demo::signing::LEAF_CN);
    assert_eq!(s.cert_sha256, Some(made.leaf_sha256));
    assert!(!s.timestamp_valid);
    assert!(o.detail.contains("no timestamp"), "{}", o.detail);
    // Untimestamped, the chain is checked now: ten years on, the leaf has expired.
    let later = verify_pe(
        &mut Cursor::new(std::fs::read(d.join("signed.exe")).expect("read")),
        &with_ca(&d.join("ca.pem")),
        now() + 10 * 365 * 86_400,
    );
    assert_eq!(later.verdict, Verdict::Untrusted, "{}", later.detail);
    assert!(
        later.detail.contains("is not valid now"),
        "{}",
        later.detail
    );
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below n")
    }
}

#[test]
fn random_mutations_of_headers_and_certificate_table_never_panic() {
    let pki = Pki::new();
    let out = pki.path("signed.exe");
    pki.sign("leaf.pfx", "app.exe", &out);
    let bytes = std::fs::read(&out).expect("read");
    let trust = with_ca(&pki.path("ca.pem"));
    let table = bytes.len() - cert_table_size(&bytes);
    let header_end = 1024.min(table);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut verdicts = std::collections::BTreeMap::new();
    for round in 0..3000 {
        let mut m = bytes.clone();
        for _ in 0..=rng.below(4) {
            let at = if rng.below(2) == 0 {
                rng.below(header_end)
            } else {
                table + rng.below(bytes.len() - table)
            };
            match rng.below(4) {
                0 => m[at] ^= 1 << rng.below(8),
                1 => m[at] = 0xff,
                2 => m[at] = 0,
                _ => m[at] = rng.next().to_le_bytes()[0],
            }
        }
        if rng.below(20) == 0 {
            m.truncate(rng.below(m.len()));
        }
        let o = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&m, &trust)))
            .unwrap_or_else(|_| panic!("round {round} panicked"));
        assert!(
            !o.detail.is_empty(),
            "round {round}: a verdict without words"
        );
        *verdicts.entry(o.verdict.as_str()).or_insert(0) += 1;
    }
    // Most mutations break it; a few hit bytes no check covers (padding, unsigned fields).
    assert!(
        verdicts.get("invalid").copied().unwrap_or(0) > 1000,
        "{verdicts:?}"
    );
}
