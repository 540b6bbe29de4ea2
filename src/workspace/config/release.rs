//! The product and how its installers are built, signed and gated: `[product]`, `platforms`,
//! `[pipeline]`, `[signing]`, `[findings]`.

use serde::{Deserialize, Serialize};

use super::SecretSetting;

/// The product being released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Display name, also used in installer names (`WireTuner-0.1.0.dmg`).
    pub name: String,
    /// Prefix of release tags: `v` gives `v0.1.0`.
    #[serde(default = "default_release_prefix")]
    pub release_prefix: String,
}

pub(super) fn default_release_prefix() -> String {
    "v".to_owned()
}

/// A platform the product ships on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    Macos,
    Windows,
    Linux,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Macos, Platform::Windows, Platform::Linux];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Macos => "macos",
            Platform::Windows => "windows",
            Platform::Linux => "linux",
        }
    }

    /// The name a person reads: `macOS`, `Windows`, `Linux`.
    pub fn title(self) -> &'static str {
        match self {
            Platform::Macos => "macOS",
            Platform::Windows => "Windows",
            Platform::Linux => "Linux",
        }
    }

    /// The platform named `name` (`macos`, `windows`, `linux`, any case).
    pub fn parse(name: &str) -> Option<Platform> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The platform an installer is for, by its file name: a disk image, a flat package or a
    /// zipped app (`NAME.app.zip`) is macOS's; an MSI or an EXE is Windows'; a Debian or RPM
    /// package or an `AppImage` is Linux's. Anything else (checksums, signatures, archives of
    /// other things) is no installer.
    pub fn of_installer(name: &str) -> Option<Platform> {
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
        match ext {
            "dmg" | "pkg" => Some(Platform::Macos),
            "zip" if lower.contains(".app.") => Some(Platform::Macos),
            "msi" | "exe" => Some(Platform::Windows),
            "deb" | "rpm" | "appimage" => Some(Platform::Linux),
            _ => None,
        }
    }
}

/// `[pipeline]`: which installer pipelines to run and what goes into them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Pipeline definition, relative to the workspace (or absolute).
    pub definition: String,
    /// Platforms `pipeline run` builds by default.
    pub platforms: Vec<String>,
    /// What goes into the installer (the Flutter build output in real use).
    pub payload_dir: String,
    /// The Flutter app, for builders that run `flutter build` (relative to the workspace or
    /// absolute).
    pub app_dir: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            definition: "packaging/pipelines/default.toml".to_owned(),
            platforms: ["macos", "windows", "windows-on-linux"]
                .map(str::to_owned)
                .to_vec(),
            payload_dir: "payload".to_owned(),
            app_dir: ".".to_owned(),
        }
    }
}

/// `[signing]`: the identities releases must be signed with, and where the signing
/// certificate comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// Variable holding the path of the Windows code-signing PFX.
    pub windows_pfx_path_env: String,
    /// Variable holding its password.
    pub windows_pfx_password_env: String,
    /// Where the password is instead: `env:NAME`, `keyring:NAME` or
    /// `aws-sm:SECRET-ID[#json-key]` (e.g. `aws-sm:/wiretuner/signing/windows#pfx_password`).
    /// The builder still gets it as `$WINDOWS_PFX_PASSWORD`, in its environment only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub windows_pfx_password_secret: String,
    /// Subject common name of the Windows code-signing certificate.
    pub windows_publisher: String,
    /// Optional SHA-256 fingerprint pin of that certificate (hex, any case, colons allowed:
    /// read with [`Self::windows_cert_pin`]).
    pub windows_cert_sha256: String,
    /// Apple Developer Team ID.
    pub apple_team_id: String,
    /// Certificates (PEM), relative to the workspace, trusted for Authenticode besides Windows'
    /// pinned code-signing roots (and for Apple besides Apple's roots); empty: those roots only.
    pub ca_file: String,
    /// The Windows signing certificate (public: DER or PEM), relative to the workspace, for
    /// machines without the PFX; its expiry gates releases. Empty: the PFX, when it is here.
    pub windows_certificate: String,
    /// The Apple Developer ID certificate (DER/PEM, or a PKCS#12 export whose password is in
    /// `apple_certificate_password_env`), relative to the workspace; its expiry gates releases.
    pub apple_certificate: String,
    /// Variable holding the password of `apple_certificate` when it is a PKCS#12 file.
    pub apple_certificate_password_env: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub apple_certificate_password_secret: String,
    /// A signing certificate that expires within this many days blocks the release gate: 0
    /// to [`MAX_DAYS`](super::MAX_DAYS).
    pub min_valid_days: u32,
    /// A throwaway demo PFX (relative to the workspace; password [`DEMO_PFX_PASSWORD`]) that
    /// the Windows builders sign with when no PFX is in the environment. The demo workspace
    /// makes its own, with a CA that only this workspace trusts; never set it for a real
    /// product.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub demo_certificate: String,
}

/// The password of a demo certificate: public, since the certificate proves nothing outside
/// the demo workspace that made it.
pub const DEMO_PFX_PASSWORD: &str = "demo-only";

impl SigningConfig {
    /// `windows_cert_sha256` as a digest: `None` when empty; colons (`AB:CD:…`) and the case
    /// do not matter.
    pub fn windows_cert_pin(
        &self,
    ) -> Result<Option<crate::digest::Sha256>, crate::digest::BadSha256> {
        let pin = self.windows_cert_sha256.trim();
        if pin.is_empty() {
            return Ok(None);
        }
        pin.replace(':', "").parse().map(Some)
    }
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            windows_pfx_path_env: "WINDOWS_PFX_PATH".to_owned(),
            windows_pfx_password_env: "WINDOWS_PFX_PASSWORD".to_owned(),
            windows_pfx_password_secret: String::new(),
            windows_publisher: String::new(),
            windows_cert_sha256: String::new(),
            apple_team_id: String::new(),
            ca_file: String::new(),
            windows_certificate: String::new(),
            apple_certificate: String::new(),
            apple_certificate_password_env: "APPLE_CERTIFICATE_PASSWORD".to_owned(),
            apple_certificate_password_secret: String::new(),
            min_valid_days: 30,
            demo_certificate: String::new(),
        }
    }
}

/// `[findings]`: which scanner findings block a release, and how long a risk may be accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FindingsConfig {
    /// Severities that block until fixed or accepted (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`,
    /// `UNKNOWN`).
    pub block: Vec<String>,
    /// The longest a risk acceptance may run: 1 to [`MAX_DAYS`](super::MAX_DAYS).
    pub max_acceptance_days: u32,
    /// Whether a finding the scanner itself suppressed (VEX, ignore files) counts as accepted.
    pub scanner_suppressions_accept: bool,
}

impl Default for FindingsConfig {
    fn default() -> Self {
        Self {
            block: vec!["CRITICAL".to_owned(), "HIGH".to_owned()],
            max_acceptance_days: 90,
            scanner_suppressions_accept: false,
        }
    }
}

impl SigningConfig {
    /// The Windows PFX (its path, then its password) and the Apple certificate's password.
    pub fn secret_settings(&self) -> Vec<SecretSetting> {
        let windows = if self.demo_certificate.is_empty() {
            "signing Windows installers"
        } else {
            "signing Windows installers (until it is set, the demo's throwaway certificate signs)"
        };
        vec![
            SecretSetting::new(
                "signing",
                "windows_pfx_path_env",
                &self.windows_pfx_path_env,
                "Windows code-signing PFX file (its path)",
            )
            .path()
            .needed(false, windows),
            SecretSetting::new(
                "signing",
                "windows_pfx_password_env",
                &self.windows_pfx_password_env,
                "Windows code-signing PFX password",
            )
            .with_source(
                "windows_pfx_password_secret",
                &self.windows_pfx_password_secret,
            )
            .needed(false, windows),
            SecretSetting::new(
                "signing",
                "apple_certificate_password_env",
                &self.apple_certificate_password_env,
                "Apple certificate password (PKCS#12 export)",
            )
            .with_source(
                "apple_certificate_password_secret",
                &self.apple_certificate_password_secret,
            )
            .needed(
                false,
                "reading the Apple certificate when it is a PKCS#12 file",
            ),
        ]
    }
}
