//! Sparkle's `EdDSA` signatures: `sparkle:edSignature` on the appcast's enclosure is the Ed25519
//! signature (base64) of the whole installer, checked by the app against its `SUPublicEDKey`.
//! The private key is the 32-byte seed that Sparkle 2's `generate_keys -x` exports (base64),
//! read from the variable or keyring entry `[publish] sparkle_ed_key_env` names.

use std::path::Path;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;

use super::DeployError;
use crate::workspace::Workspace;

/// Ed25519 reads the message twice, so the installer is held in memory while it is signed:
/// bigger files are refused rather than filling it.
pub const MAX_SIGNED_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// An Ed25519 signing key. `Debug` shows only its public key.
pub struct EdKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for EdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdKey")
            .field("public", &self.public_b64())
            .finish_non_exhaustive()
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl EdKey {
    /// From the base64 seed Sparkle exports; `var` names where it came from, for errors.
    pub fn from_base64(text: &str, var: &str) -> Result<Self, DeployError> {
        let bytes = b64().decode(text.trim()).map_err(|_| {
            DeployError::Invalid(format!(
                "${var} is not base64 (export the key with Sparkle's `generate_keys -x FILE`)"
            ))
        })?;
        let seed: [u8; 32] = match bytes.len() {
            32 => bytes
                .as_slice()
                .try_into()
                .map_err(|_| DeployError::Invalid(format!("${var}: not a 32-byte Ed25519 seed")))?,
            64 => {
                return Err(DeployError::Invalid(format!(
                    "${var} holds a 64-byte legacy Sparkle key; export the 32-byte seed with \
                     Sparkle 2's `generate_keys -x FILE`"
                )));
            }
            n => {
                return Err(DeployError::Invalid(format!(
                    "${var} holds {n} bytes, not a 32-byte Ed25519 seed"
                )));
            }
        };
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| DeployError::Invalid(format!("${var}: not a usable Ed25519 seed")))?;
        Ok(Self { pair })
    }

    /// The public key as Sparkle's `SUPublicEDKey` (base64).
    pub fn public_b64(&self) -> String {
        b64().encode(self.pair.public_key().as_ref())
    }

    pub fn sign(&self, bytes: &[u8]) -> String {
        b64().encode(self.pair.sign(bytes).as_ref())
    }

    /// The signature of the file at `path`, made over bytes whose SHA-256 is `sha256` (the one
    /// its verification hashed): the bytes are read once, hashed and signed from the same
    /// buffer, and refused when they are not the verified ones.
    pub fn sign_verified(
        &self,
        path: &Path,
        sha256: &crate::digest::Sha256,
    ) -> Result<String, DeployError> {
        let size = std::fs::metadata(path)
            .map_err(|e| DeployError::Invalid(format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_SIGNED_BYTES {
            return Err(DeployError::Invalid(format!(
                "{}: {} bytes is more than the {} GiB an EdDSA signature is made of here",
                path.display(),
                size,
                MAX_SIGNED_BYTES >> 30
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| DeployError::Invalid(format!("read {}: {e}", path.display())))?;
        let got = crate::digest::Sha256::of(&bytes);
        if got != *sha256 {
            return Err(DeployError::Invalid(format!(
                "{}: its bytes now have SHA-256 {got}, not the verified {}: it changed since its \
                 verification, so it is neither signed nor published (verify it again)",
                path.display(),
                sha256
            )));
        }
        Ok(self.sign(&bytes))
    }
}

/// The workspace's Sparkle key, if one is configured; checked against `[publish]
/// sparkle_public_key` when that is set (an appcast signed with another key than the app's is
/// rejected by every copy of the app).
pub fn key(ws: &Workspace) -> Result<Option<EdKey>, DeployError> {
    let cfg = &ws.config().publish;
    let Some(secret) = crate::workspace::secrets::resolve(
        &cfg.sparkle_ed_key_env,
        &cfg.sparkle_ed_key_secret,
        &ws.config().aws,
    )
    .map_err(DeployError::Invalid)?
    else {
        return Ok(None);
    };
    let key = EdKey::from_base64(secret.expose(), &cfg.sparkle_ed_key_env)?;
    let expected = cfg.sparkle_public_key.trim();
    if !expected.is_empty() && key.public_b64() != expected {
        return Err(DeployError::Invalid(format!(
            "${} is the key of public key {}, not the app's SUPublicEDKey {expected} \
             ([publish] sparkle_public_key)",
            cfg.sparkle_ed_key_env,
            key.public_b64()
        )));
    }
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032, section 7.1, TEST 1: the empty message.
    #[test]
    fn rfc_8032_test_vector_1() {
        let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let seed: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&seed[i..i + 2], 16).expect("hex"))
            .collect();
        let key = EdKey::from_base64(&b64().encode(&seed), "K").expect("key");
        let public = b64().decode(key.public_b64()).expect("b64");
        assert_eq!(
            crate::hex(&public),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = b64().decode(key.sign(b"")).expect("b64");
        assert_eq!(
            crate::hex(&sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(!format!("{key:?}").contains("9d61"), "Debug shows no seed");
    }

    #[test]
    fn only_the_verified_bytes_are_signed() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("W.app.zip");
        std::fs::write(&f, b"verified bytes").expect("write");
        let key = EdKey::from_base64(&b64().encode([7u8; 32]), "K").expect("key");
        let sha = crate::digest::Sha256::of(b"verified bytes");
        assert_eq!(
            key.sign_verified(&f, &sha).expect("signed"),
            key.sign(b"verified bytes")
        );
        std::fs::write(&f, b"verified bytez").expect("write");
        let e = key.sign_verified(&f, &sha).expect_err("changed");
        assert!(
            e.to_string().contains(&sha.to_string())
                && e.to_string()
                    .contains(&crate::sha256_hex(b"verified bytez")),
            "{e}"
        );
    }

    #[test]
    fn keys_that_are_not_a_seed_are_named() {
        let e = EdKey::from_base64("not base64!", "SPARKLE_ED_PRIVATE_KEY").expect_err("bad");
        assert!(e.to_string().contains("generate_keys -x"), "{e}");
        let e = EdKey::from_base64(&b64().encode([0u8; 64]), "K").expect_err("legacy");
        assert!(e.to_string().contains("64-byte legacy"), "{e}");
        let e = EdKey::from_base64(&b64().encode([0u8; 5]), "K").expect_err("short");
        assert!(e.to_string().contains("5 bytes"), "{e}");
    }
}
