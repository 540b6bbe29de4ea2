//! The Apple test PKI and fixtures signed with it (Mach-O files, app bundles, stapled
//! tickets, zipped apps), shared by the Apple verification tests (`apple`) and the publish
//! tests (`publish`).

use std::path::{Path, PathBuf};
use std::process::Command;

use apple_codesign::cryptography::InMemoryPrivateKey;
use apple_codesign::{
    AppleCertificate as _, CodeSignatureFlags, MachOSigner, SettingsScope, SigningSettings,
};
use axum::Router;
use axum::body::Bytes;
use serde_json::Value;
use x509_certificate::CapturedX509Certificate;

use crate::common::{self, sh};

/// The team of the Developer ID fixtures.
pub const TEAM: &str = "ABCDE12345";

/// `release-console --json verify ARGS... PATH`.
pub fn verify(path: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let out = common::bin()
        .env("HOME", std::env::temp_dir())
        .current_dir(std::env::temp_dir())
        .args(["--json", "verify"])
        .args(args)
        .arg(path)
        .output()
        .expect("run verify");
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), json)
}

/// The test PKI: a root (the workspace's trust anchor, never Apple's), Developer ID and Apple
/// Development leaves with Apple's extension OIDs, a self-signed Developer ID look-alike, and
/// a TSA.
pub struct ApplePki {
    dir: tempfile::TempDir,
}

/// Apple's profiles (by their extension OIDs) and `openssl ts` settings, added to the shared
/// test PKI configuration (`common::OPENSSL_CNF`: the CA, code-signing leaf and TSA sections).
pub const APPLE_CNF: &str = r"
[v3_devid_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
1.2.840.113635.100.6.2.6 = critical,ASN1:NULL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_not_ca]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
1.2.840.113635.100.6.2.6 = critical,ASN1:NULL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_devid]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
1.2.840.113635.100.6.1.13 = critical,ASN1:NULL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_installer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = 1.2.840.113635.100.4.13
1.2.840.113635.100.6.1.14 = critical,ASN1:NULL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_installer_unmarked]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = 1.2.840.113635.100.4.13
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_dev]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
1.2.840.113635.100.6.1.2 = critical,ASN1:NULL
1.2.840.113635.100.6.1.12 = critical,ASN1:NULL
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tsa]
default_tsa = tsa1
[tsa1]
dir = .
serial = ./tsaserial
crypto_device = builtin
signer_cert = ./tsa.pem
signer_key = ./tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
";

impl ApplePki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("pki");
        std::fs::write(
            dir.path().join("ca.cnf"),
            format!("{}{APPLE_CNF}", common::OPENSSL_CNF),
        )
        .expect("cnf");
        sh(
            dir.path(),
            &format!(
                r#"
            req() {{ openssl req -config ca.cnf "$@" 2>/dev/null; }}
            x509() {{ openssl x509 -req -days 825 -extfile ca.cnf "$@" 2>/dev/null; }}
            req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=Test Apple-like Root/O=Test" -extensions v3_ca
            leaf() {{
              req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
              x509 -in "$1.csr" -CA "${{4:-devca}}.pem" -CAkey "${{4:-devca}}.key" -CAcreateserial -out "$1.pem" -extensions "$3"
              openssl pkcs8 -topk8 -nocrypt -in "$1.key" -outform DER -out "$1.p8"
            }}
            leaf devca "/CN=Test Developer ID Certification Authority/O=Test" v3_devid_ca ca
            leaf notca "/CN=Test Not A CA/O=Test" v3_not_ca ca
            leaf direct "/UID={TEAM}/CN=Developer ID Application: WireTuner Inc ({TEAM})/OU={TEAM}/O=WireTuner Inc/C=US" v3_devid ca
            leaf rogue "/UID={TEAM}/CN=Developer ID Application: WireTuner Inc ({TEAM})/OU={TEAM}/O=WireTuner Inc/C=US" v3_devid notca
            openssl ecparam -name prime256v1 -genkey -noout -out ticket.key
            leaf devid "/UID={TEAM}/CN=Developer ID Application: WireTuner Inc ({TEAM})/OU={TEAM}/O=WireTuner Inc/C=US" v3_devid
            leaf other "/UID=ZZZZZ99999/CN=Developer ID Application: Someone Else (ZZZZZ99999)/OU=ZZZZZ99999/O=Someone Else/C=US" v3_devid
            leaf installer "/UID={TEAM}/CN=Developer ID Installer: WireTuner Inc ({TEAM})/OU={TEAM}/O=WireTuner Inc/C=US" v3_installer
            leaf unmarked "/UID={TEAM}/CN=Developer ID Installer: WireTuner Inc ({TEAM})/OU={TEAM}/O=WireTuner Inc/C=US" v3_installer_unmarked
            leaf dev "/UID={TEAM}/CN=Apple Development: Dev Person ({TEAM})/OU={TEAM}/O=WireTuner Inc/C=US" v3_dev
            leaf tsa "/CN=Test TSA" v3_tsa ca
            req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem -days 365 -subj "/CN=Developer ID Application: WireTuner Inc ({TEAM})/OU={TEAM}" -extensions v3_devid
            openssl pkcs8 -topk8 -nocrypt -in self.key -outform DER -out self.p8
            echo 01 > tsaserial
            "#
            ),
        );
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cert(&self, name: &str) -> CapturedX509Certificate {
        let pem = std::fs::read(self.path(&format!("{name}.pem"))).expect("pem");
        CapturedX509Certificate::from_pem(pem).expect("certificate")
    }

    /// The certificates above `name` that a signature carries: the Developer ID intermediate
    /// and the root, or what the odd leaves were issued by.
    pub fn chain(&self, name: &str) -> Vec<CapturedX509Certificate> {
        let above: &[&str] = match name {
            "self" => &[],
            "direct" => &["ca"],
            "rogue" => &["notca", "ca"],
            _ => &["devca", "ca"],
        };
        above.iter().map(|c| self.cert(c)).collect()
    }

    /// A notarization ticket as Apple's are laid out (`s8ch` header, certificates, `g8tk`
    /// content listing `cdhashes` as SHA-256 entries, an ECDSA signature), signed here with a
    /// test key: only Apple's own tickets pass Gatekeeper on a Mac.
    pub fn ticket(&self, cdhashes: &[&[u8]]) -> Vec<u8> {
        let mut content = b"g8tk".to_vec();
        content.extend_from_slice(&2u16.to_le_bytes());
        content.extend_from_slice(&20u16.to_le_bytes());
        content.extend_from_slice(&u32::try_from(cdhashes.len()).expect("count").to_le_bytes());
        content.extend_from_slice(&0u32.to_le_bytes());
        content.extend_from_slice(&1_764_000_000u64.to_le_bytes());
        for h in cdhashes {
            content.push(2);
            content.extend_from_slice(&h[..20]);
        }
        std::fs::write(self.path("ticket.content"), &content).expect("content");
        sh(
            self.dir.path(),
            "openssl dgst -sha256 -sign ticket.key -out ticket.sig ticket.content",
        );
        let signature = std::fs::read(self.path("ticket.sig")).expect("sig");
        let cert = self.cert("ca");
        let der = cert.constructed_data();
        let len = u16::try_from(der.len()).expect("len").to_be_bytes();
        let certs = [&[0x30, 0x82, len[0], len[1]][..], der].concat();
        let mut out = b"s8ch".to_vec();
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&u32::try_from(certs.len()).expect("len").to_le_bytes());
        out.extend_from_slice(&u32::try_from(content.len()).expect("len").to_le_bytes());
        [out, certs, content, signature].concat()
    }

    pub fn key(&self, name: &str) -> InMemoryPrivateKey {
        InMemoryPrivateKey::from_pkcs8_der(
            std::fs::read(self.path(&format!("{name}.p8"))).expect("key"),
        )
        .expect("pkcs8")
    }

    /// `verify PATH --json` with this PKI's root as the trust anchor and `team` pinned.
    pub fn verify_pinned(&self, path: &Path, team: &str) -> Value {
        let ca = self.path("ca.pem");
        let args = [
            "--ca-file",
            ca.to_str().expect("utf-8"),
            "--expect-team-id",
            team,
        ];
        verify(path, &args).1
    }

    /// An RFC 3161 server on loopback answering with `openssl ts -reply`; its URL.
    pub fn tsa(&self) -> String {
        let dir = self.dir.path().to_owned();
        let app = Router::new().fallback(move |body: Bytes| {
            let dir = dir.clone();
            async move {
                let q = tempfile::NamedTempFile::new_in(&dir).expect("query");
                std::fs::write(q.path(), &body).expect("query");
                let out = Command::new("openssl")
                    .args(["ts", "-reply", "-config", "ca.cnf", "-queryfile"])
                    .arg(q.path())
                    .args(["-chain", "ca.pem", "-out", "-"])
                    .current_dir(&dir)
                    .output()
                    .expect("openssl ts");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (
                    [("content-type", "application/timestamp-reply")],
                    out.stdout,
                )
            }
        });
        format!("http://{}/", common::serve(app))
    }
}

/// A small arm64 executable, signed as `how` says.
#[derive(Clone, Copy)]
pub enum How<'a> {
    AdHoc,
    /// Signed with a certificate of the PKI, with or without a timestamp.
    With {
        cert: &'a str,
        tsa: Option<&'a str>,
    },
}

pub fn signed(pki: &ApplePki, how: How<'_>) -> Vec<u8> {
    signed_claiming(pki, how, None)
}

/// As [`signed`], with the CodeDirectory claiming `team` instead of the certificate's.
pub fn signed_claiming(pki: &ApplePki, how: How<'_>, team: Option<&str>) -> Vec<u8> {
    let unsigned = apple_codesign::macho_builder::MachOBuilder::new_aarch64(2)
        .write_macho()
        .expect("a Mach-O");
    let signer = MachOSigner::new(&unsigned).expect("signer");
    let key;
    let mut settings = SigningSettings::default();
    settings.set_binary_identifier(SettingsScope::Main, "com.wiretuner.app");
    settings.set_code_signature_flags(SettingsScope::Main, CodeSignatureFlags::RUNTIME);
    if let How::With { cert, tsa } = how {
        key = pki.key(cert);
        settings.set_signing_key(&key, pki.cert(cert));
        for c in pki.chain(cert) {
            settings.chain_certificate(c);
        }
        // As codesign does: the CodeDirectory names the certificate's team (the crate does it
        // only for certificates it knows as Apple's).
        if let Some(team) = team
            .map(str::to_owned)
            .or_else(|| pki.cert(cert).apple_team_id())
        {
            settings.set_team_id(team);
        }
        if let Some(url) = tsa {
            settings.set_time_stamp_url(url).expect("tsa url");
        }
    }
    let mut out = Vec::new();
    signer
        .write_signed_binary(&settings, &mut out)
        .expect("sign");
    out
}

/// `WireTuner.app` signed by the crate's bundle signer with the Developer ID fixture.
/// A signed WireTuner.app; with `nested`, it holds `Contents/Frameworks/libengine.dylib` signed
/// beforehand as that says and sealed as it is (excluded from re-signing).
pub fn signed_app(pki: &ApplePki, dir: &Path, tsa: &str, nested: Option<How<'_>>) -> PathBuf {
    let src = dir.join("src/WireTuner.app/Contents");
    std::fs::create_dir_all(src.join("MacOS")).expect("MacOS");
    std::fs::create_dir_all(src.join("Resources")).expect("Resources");
    std::fs::write(
        src.join("Info.plist"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\"><dict><key>CFBundleExecutable</key><string>WireTuner</string><key>CFBundleIdentifier</key><string>com.wiretuner.app</string><key>CFBundlePackageType</key><string>APPL</string><key>CFBundleVersion</key><string>1.4.0</string></dict></plist>\n",
    )
    .expect("Info.plist");
    let exe = apple_codesign::macho_builder::MachOBuilder::new_aarch64(2)
        .write_macho()
        .expect("a Mach-O");
    std::fs::write(src.join("MacOS/WireTuner"), exe).expect("exe");
    std::fs::write(src.join("Resources/app.json"), b"{\"flutter\": true}").expect("resource");
    let key = pki.key("devid");
    let mut settings = SigningSettings::default();
    settings.set_signing_key(&key, pki.cert("devid"));
    for c in pki.chain("devid") {
        settings.chain_certificate(c);
    }
    settings.set_team_id(TEAM);
    settings.set_time_stamp_url(tsa).expect("tsa");
    settings.set_code_signature_flags(SettingsScope::Main, CodeSignatureFlags::RUNTIME);
    if let Some(how) = nested {
        std::fs::create_dir_all(src.join("Frameworks")).expect("Frameworks");
        std::fs::write(src.join("Frameworks/libengine.dylib"), signed(pki, how)).expect("dylib");
        settings
            .add_path_exclusion("Contents/Frameworks/libengine.dylib")
            .expect("exclusion");
    }
    let dest = dir.join("signed/WireTuner.app");
    apple_codesign::BundleSigner::new_from_path(dir.join("src/WireTuner.app"))
        .expect("bundle")
        .write_signed_bundle(&dest, &settings)
        .expect("sign the bundle");
    dest
}

/// Staples a ticket naming the executable's CDHash (`Contents/CodeResources`).
pub fn staple(pki: &ApplePki, app: &Path) {
    let ticket = pki.ticket(&[&exe_cdhash(app)]);
    std::fs::write(app.join("Contents/CodeResources"), ticket).expect("staple");
}

pub fn exe_cdhash(app: &Path) -> Vec<u8> {
    use apple_codesign::Blob as _;
    let data = std::fs::read(app.join("Contents/MacOS/WireTuner")).expect("exe");
    let file = apple_codesign::MachFile::parse(&data).expect("mach-o");
    let m = file.iter_macho().next().expect("slice");
    let sig = m.code_signature().expect("sig").expect("signed");
    let cd = sig.code_directory().expect("cd").expect("cd");
    let mut d = cd.digest_with(cd.digest_type).expect("digest");
    d.truncate(20);
    d
}

/// Zips `app` (folders, files and links, as `ditto -c -k --keepParent` does) into `out`.
pub fn zip_app(app: &Path, out: &Path, extra_link: Option<(&str, &str)>) {
    use std::io::Write as _;
    let mut w = zip::ZipWriter::new(std::fs::File::create(out).expect("zip"));
    let opts = zip::write::SimpleFileOptions::default();
    let base = app.parent().expect("parent");
    let mut stack = vec![app.to_owned()];
    while let Some(dir) = stack.pop() {
        let rel = dir
            .strip_prefix(base)
            .expect("rel")
            .to_string_lossy()
            .into_owned();
        w.add_directory(format!("{rel}/"), opts).expect("dir");
        let mut entries: Vec<_> = std::fs::read_dir(&dir).expect("read").flatten().collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .expect("rel")
                .to_string_lossy()
                .into_owned();
            if p.is_dir() {
                stack.push(p);
            } else {
                w.start_file(rel, opts).expect("file");
                w.write_all(&std::fs::read(&p).expect("read"))
                    .expect("write");
            }
        }
    }
    if let Some((name, target)) = extra_link {
        w.add_symlink(name, target, opts).expect("link");
    }
    w.finish().expect("zip");
}
