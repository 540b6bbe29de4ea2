//! Signing certificates, read in-process: a PKCS#12 file (the Windows PFX, an exported
//! Developer ID identity) with its password, or a public certificate (DER or PEM). What the
//! release gate and the rotation calendar need: whose it is, who issued it, and when it expires.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

/// One certificate, as far as expiry is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// The subject's common name (or the whole subject when it has none).
    pub subject: String,
    pub issuer: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// SHA-256 of the DER: what `[signing] windows_cert_sha256` pins.
    pub sha256: crate::digest::Sha256,
    pub is_ca: bool,
    pub code_signing: bool,
}

/// A signing identity's certificate and the chain that came with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The code-signing (leaf) certificate.
    pub leaf: CertInfo,
    /// The other certificates in the file (intermediates, roots).
    pub chain: Vec<CertInfo>,
}

impl Identity {
    /// The first expiry of the leaf and its chain: signing stops working at the earliest.
    pub fn expires(&self) -> Timestamp {
        self.chain
            .iter()
            .map(|c| c.not_after)
            .chain([self.leaf.not_after])
            .min()
            .unwrap_or(self.leaf.not_after)
    }
}

/// A certificate file that cannot be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CertError {
    pub path: PathBuf,
    pub message: String,
}

fn info(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not X.509: {e}"))?;
    let name = |n: &x509_parser::x509::X509Name<'_>| {
        n.iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map_or_else(|| n.to_string(), str::to_owned)
    };
    let time = |t: x509_parser::time::ASN1Time| {
        Timestamp::from_second(t.timestamp()).map_err(|e| format!("validity out of range: {e}"))
    };
    let code_signing = cert
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|eku| eku.value.code_signing);
    Ok(CertInfo {
        subject: name(cert.subject()),
        issuer: name(cert.issuer()),
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
        sha256: crate::digest::Sha256::of(der),
        is_ca: cert.is_ca(),
        code_signing,
    })
}

/// The DER certificates in `bytes`: PEM blocks, one DER certificate, or a PKCS#12 file opened
/// with `password`.
fn certificates(bytes: &[u8], password: Option<&str>) -> Result<Vec<Vec<u8>>, String> {
    // PEM, perhaps after a text dump of the certificate (as `openssl ca` writes it).
    if memchr::memmem::find(bytes, b"-----BEGIN ").is_some() {
        let mut out = Vec::new();
        for pem in x509_parser::pem::Pem::iter_from_buffer(bytes) {
            let pem = pem.map_err(|e| format!("bad PEM: {e}"))?;
            if pem.label == "CERTIFICATE" {
                out.push(pem.contents);
            }
        }
        if out.is_empty() {
            return Err("PEM without a CERTIFICATE block".to_owned());
        }
        return Ok(out);
    }
    if X509Certificate::from_der(bytes).is_ok() {
        return Ok(vec![bytes.to_vec()]);
    }
    let Some(password) = password else {
        return Err(
            "neither a certificate (DER or PEM) nor, without a password, a PKCS#12 file".to_owned(),
        );
    };
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(bytes, password).map_err(|e| {
        format!("not a certificate, and not a PKCS#12 file this password opens ({e})")
    })?;
    if archive.certs.is_empty() {
        return Err("a PKCS#12 file without certificates".to_owned());
    }
    Ok(archive
        .certs
        .iter()
        .map(|bag| bag.cert.as_der().to_vec())
        .collect())
}

/// Reads the signing identity in `bytes` (named `path` in errors): the leaf is the certificate
/// for code signing that is not a CA (or else the first that is not a CA).
pub fn identity(path: &Path, bytes: &[u8], password: Option<&str>) -> Result<Identity, CertError> {
    let err = |message: String| CertError {
        path: path.to_owned(),
        message,
    };
    let mut all = certificates(bytes, password)
        .map_err(err)?
        .iter()
        .map(|der| info(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let leaf = all
        .iter()
        .position(|c| c.code_signing && !c.is_ca)
        .or_else(|| all.iter().position(|c| !c.is_ca))
        .ok_or_else(|| err("only CA certificates, no signing certificate".to_owned()))?;
    let leaf = all.remove(leaf);
    Ok(Identity { leaf, chain: all })
}

/// Reads the signing identity in the file at `path`.
pub fn read_identity(path: &Path, password: Option<&str>) -> Result<Identity, CertError> {
    let bytes = std::fs::read(path).map_err(|e| CertError {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    identity(path, &bytes, password)
}

/// Why a configured certificate file is not read: no file at the path `key` = `value` names.
fn missing_message(ws: &crate::workspace::Workspace, key: &str, value: &str) -> String {
    use crate::workspace::CONFIG_FILE;
    let value = value.trim();
    match ws.shared() {
        Some(shared) if !Path::new(value).is_absolute() => format!(
            "no such file: {key} = \"{value}\" in {}/{CONFIG_FILE} names it, relative to this \
             console's copy of the shared workspace ({}), and the bucket carries only the \
             configuration and the log, not the files it names; put the file there on this \
             machine, or set {key} to a path every machine has",
            shared.url(),
            ws.root().display()
        ),
        _ => format!(
            "no such file: {key} = \"{value}\" in {} names it",
            ws.root().join(CONFIG_FILE).display()
        ),
    }
}

/// What became of looking for one signing certificate.
#[derive(Debug, Clone)]
pub enum Found {
    Read(Identity),
    Failed(CertError),
    /// Not configured, or not on this machine: why.
    NotHere(String),
}

/// One of the workspace's signing certificates.
#[derive(Debug, Clone)]
pub struct SigningCert {
    /// `windows` or `apple`.
    pub which: &'static str,
    /// Where it was looked for, e.g. `$WINDOWS_PFX_PATH (/secure/wt.pfx)`.
    pub source: String,
    pub found: Found,
}

/// The signing certificates of the platforms the workspace ships for: the Windows PFX named by
/// `[signing] windows_pfx_path_env` (opened with its password), else the public
/// `windows_certificate`; the Apple `apple_certificate`.
pub fn signing_certificates(ws: &crate::workspace::Workspace) -> Vec<SigningCert> {
    use crate::workspace::config::Platform;
    use crate::workspace::secrets;
    let cfg = ws.config();
    let s = &cfg.signing;
    let mut out = Vec::new();
    let file = |name: &str| {
        let p = Path::new(name.trim());
        if p.is_absolute() {
            p.to_owned()
        } else {
            ws.root().join(p)
        }
    };
    // A configured file that is not there is said in words: which setting names it, in which
    // configuration, and (on a shared workspace, whose bucket carries no such file) where this
    // console looks for it.
    let configured = |key: &str, value: &str, path: &Path, password: Option<&str>| {
        read_identity(path, password).map_or_else(
            |e| match std::fs::symlink_metadata(path) {
                Err(cause) if cause.kind() == std::io::ErrorKind::NotFound => {
                    Found::Failed(CertError {
                        path: path.to_owned(),
                        message: missing_message(ws, key, value),
                    })
                }
                _ => Found::Failed(e),
            },
            Found::Read,
        )
    };
    if cfg.platforms.contains(&Platform::Windows) {
        let pfx = std::env::var(&s.windows_pfx_path_env)
            .ok()
            .filter(|v| !v.trim().is_empty());
        out.push(if let Some(pfx) = pfx {
            let path = PathBuf::from(pfx);
            let found = match cfg.windows_pfx_password() {
                Ok(Some(password)) => match read_identity(&path, Some(password.expose())) {
                    Ok(id) => Found::Read(id),
                    Err(_) if !path.exists() => Found::Failed(CertError {
                        path: path.clone(),
                        message: format!(
                            "no such file: ${} names it on this machine",
                            s.windows_pfx_path_env
                        ),
                    }),
                    Err(e) => Found::Failed(e),
                },
                Ok(None) => Found::Failed(CertError {
                    path: path.clone(),
                    message: format!(
                        "its password ${} is not set (nor in the keyring)",
                        s.windows_pfx_password_env
                    ),
                }),
                Err(e) => Found::Failed(CertError {
                    path: path.clone(),
                    message: format!("its password: {e}"),
                }),
            };
            SigningCert {
                which: "windows",
                source: format!("${} ({})", s.windows_pfx_path_env, path.display()),
                found,
            }
        } else if !s.windows_certificate.trim().is_empty() {
            let path = file(&s.windows_certificate);
            SigningCert {
                which: "windows",
                source: format!("[signing] windows_certificate ({})", path.display()),
                found: configured(
                    "[signing] windows_certificate",
                    &s.windows_certificate,
                    &path,
                    None,
                ),
            }
        } else {
            SigningCert {
                which: "windows",
                source: String::new(),
                found: Found::NotHere(format!(
                    "${} is not set and [signing] windows_certificate is empty",
                    s.windows_pfx_path_env
                )),
            }
        });
    }
    if cfg.platforms.contains(&Platform::Macos) {
        out.push(if s.apple_certificate.trim().is_empty() {
            SigningCert {
                which: "apple",
                source: String::new(),
                found: Found::NotHere("[signing] apple_certificate is empty".to_owned()),
            }
        } else {
            let path = file(&s.apple_certificate);
            let pkcs12 = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"));
            let password = pkcs12
                .then(|| {
                    secrets::resolve(
                        &s.apple_certificate_password_env,
                        &s.apple_certificate_password_secret,
                        &cfg.aws,
                    )
                    .ok()
                    .flatten()
                })
                .flatten();
            SigningCert {
                which: "apple",
                source: format!("[signing] apple_certificate ({})", path.display()),
                found: configured(
                    "[signing] apple_certificate",
                    &s.apple_certificate,
                    &path,
                    password.as_ref().map(secrets::Secret::expose),
                ),
            }
        });
    }
    out
}
