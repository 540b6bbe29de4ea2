//! The demo's throwaway PKI, made in-process (`rcgen` on aws-lc-rs, the crypto library the
//! crate already builds for rustls and Sparkle; `p12-keystore` for the PFX), so the demo signs
//! on every OS with no `openssl` on `PATH`: a root CA, the one code-signing certificate it
//! issues, and the PKCS#12 file the builders sign with. The CA's private key only ever lives
//! in memory and is dropped once the certificate is issued.

use jiff::{SignedDuration, Timestamp};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256,
};

/// The common name of the demo CA.
pub const CA_CN: &str = "WireTuner Demo Root CA (throwaway)";
/// The common name of the demo signing certificate.
pub const LEAF_CN: &str = "WireTuner Demo (throwaway certificate)";
/// The organization of both.
pub const ORGANIZATION: &str = "release-console demo";
/// How long the CA is valid from when it is made.
pub const CA_VALIDITY: SignedDuration = SignedDuration::from_hours(3650 * 24);
/// How long the signing certificate is valid from when it is made.
pub const LEAF_VALIDITY: SignedDuration = SignedDuration::from_hours(825 * 24);

/// The demo's signing material, as the files hold it.
pub struct Material {
    /// The CA's certificate (PEM): what `[signing] ca_file` trusts.
    pub ca_pem: String,
    /// The signing certificate (PEM): what `[signing] windows_certificate` names.
    pub leaf_pem: String,
    /// SHA-256 of the signing certificate's DER: what `[signing] windows_cert_sha256` pins.
    pub leaf_sha256: crate::digest::Sha256,
    /// The signing certificate, its private key and the CA's certificate as PKCS#12, under
    /// `password`.
    pub pfx: Vec<u8>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("leaf_sha256", &self.leaf_sha256)
            .field("pfx", &format_args!("<{} bytes>", self.pfx.len()))
            .finish_non_exhaustive()
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn
}

fn validity(
    params: &mut CertificateParams,
    now: Timestamp,
    lasts: SignedDuration,
) -> Result<(), String> {
    let at = |t: Timestamp| {
        time::OffsetDateTime::from_unix_timestamp(t.as_second())
            .map_err(|e| format!("the validity {t}: {e}"))
    };
    let until = now
        .checked_add(lasts)
        .map_err(|e| format!("the validity from {now}: {e}"))?;
    params.not_before = at(now)?;
    params.not_after = at(until)?;
    Ok(())
}

/// Makes the CA (RSA 2048, `CA:TRUE` and `keyCertSign, cRLSign`, both critical, valid
/// [`CA_VALIDITY`]) and the signing certificate it issues (RSA 2048, `CA:FALSE` and
/// `digitalSignature`, both critical, extended key usage `codeSigning`, valid
/// [`LEAF_VALIDITY`]), both from `now`, with key identifiers; and the PFX under `password`.
pub fn make(now: Timestamp, password: &str) -> Result<Material, String> {
    let key = || KeyPair::generate_for(&PKCS_RSA_SHA256).map_err(|e| format!("an RSA key: {e}"));

    let mut ca = CertificateParams::default();
    ca.distinguished_name = name(CA_CN);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.use_authority_key_identifier_extension = true;
    validity(&mut ca, now, CA_VALIDITY)?;
    let ca = CertifiedIssuer::self_signed(ca, key()?)
        .map_err(|e| format!("the demo CA's certificate: {e}"))?;

    let mut leaf = CertificateParams::default();
    leaf.distinguished_name = name(LEAF_CN);
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    leaf.use_authority_key_identifier_extension = true;
    validity(&mut leaf, now, LEAF_VALIDITY)?;
    let leaf_key = key()?;
    let leaf = leaf
        .signed_by(&leaf_key, &ca)
        .map_err(|e| format!("the demo signing certificate: {e}"))?;

    let leaf_sha256 = crate::digest::Sha256::of(leaf.der());
    let p12 = |e: p12_keystore::error::Error| format!("the demo PFX: {e}");
    let chain = p12_keystore::PrivateKeyChain::new(
        leaf_sha256.as_bytes().to_vec(),
        p12_keystore::PrivateKey::from_der(&leaf_key.serialize_der()).map_err(p12)?,
        [
            p12_keystore::Certificate::from_der(leaf.der()).map_err(p12)?,
            p12_keystore::Certificate::from_der(ca.der()).map_err(p12)?,
        ],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(LEAF_CN, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let pfx = store.writer(password).write().map_err(p12)?;

    Ok(Material {
        ca_pem: ca.pem(),
        leaf_pem: leaf.pem(),
        leaf_sha256,
        pfx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::ParsedExtension;
    use x509_parser::prelude::{FromDer, X509Certificate};
    use x509_parser::public_key::PublicKey;

    fn der(pem: &str) -> Vec<u8> {
        let blocks: Vec<_> = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("PEM");
        assert_eq!(blocks.len(), 1, "one certificate: {pem}");
        assert_eq!(blocks[0].label, "CERTIFICATE");
        blocks[0].contents.clone()
    }

    /// The subject's attributes in order, as (short name, value).
    fn names(n: &x509_parser::x509::X509Name<'_>) -> Vec<(String, String)> {
        n.iter_attributes()
            .map(|a| {
                let oid = a.attr_type();
                let short = if *oid == x509_parser::oid_registry::OID_X509_COMMON_NAME {
                    "CN"
                } else if *oid == x509_parser::oid_registry::OID_X509_ORGANIZATION_NAME {
                    "O"
                } else {
                    "other"
                };
                (short.to_owned(), a.as_str().expect("text").to_owned())
            })
            .collect()
    }

    fn key_ids(c: &X509Certificate<'_>) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let mut ski = None;
        let mut aki = None;
        for ext in c.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    aki = a.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                _ => {}
            }
        }
        (ski, aki)
    }

    fn rsa_bits(c: &X509Certificate<'_>) -> usize {
        match c.public_key().parsed().expect("public key") {
            PublicKey::RSA(rsa) => rsa.key_size(),
            other => panic!("not RSA: {other:?}"),
        }
    }

    /// `issuer` signed `cert` (SHA-256 with RSA), checked with aws-lc-rs.
    fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
        assert_eq!(
            cert.signature_algorithm.algorithm,
            x509_parser::oid_registry::OID_PKCS1_SHA256WITHRSA
        );
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            issuer.public_key().subject_public_key.data.as_ref(),
        )
        .verify(
            cert.tbs_certificate.as_ref(),
            cert.signature_value.data.as_ref(),
        )
        .is_ok()
    }

    #[test]
    fn the_demo_ca_and_certificate_have_the_properties_the_openssl_commands_gave_them() {
        let now: Timestamp = "2026-12-04T18:59:47Z".parse().expect("now");
        let m = make(now, "pw").expect("made");
        let (ca_der, leaf_der) = (der(&m.ca_pem), der(&m.leaf_pem));
        let (_, ca) = X509Certificate::from_der(&ca_der).expect("CA");
        let (_, leaf) = X509Certificate::from_der(&leaf_der).expect("leaf");
        let at = |t: Timestamp| t.as_second();

        // The CA: self-signed, CA:TRUE and keyCertSign + cRLSign (both critical), 10 years.
        let demo = |cn: &str| {
            vec![
                ("CN".to_owned(), cn.to_owned()),
                ("O".to_owned(), ORGANIZATION.to_owned()),
            ]
        };
        assert_eq!(names(ca.subject()), demo(CA_CN));
        assert_eq!(names(ca.issuer()), demo(CA_CN));
        assert_eq!(rsa_bits(&ca), 2048);
        assert!(signed_by(&ca, &ca), "self-signed");
        let bc = ca.basic_constraints().expect("bc").expect("CA has bc");
        assert!(bc.critical && bc.value.ca && bc.value.path_len_constraint.is_none());
        let ku = ca.key_usage().expect("ku").expect("CA has ku");
        assert!(ku.critical && ku.value.key_cert_sign() && ku.value.crl_sign());
        assert_eq!(ku.value.flags.count_ones(), 2, "only those: {}", ku.value);
        assert!(ca.extended_key_usage().expect("eku").is_none());
        assert_eq!(ca.validity().not_before.timestamp(), at(now));
        assert_eq!(ca.validity().not_after.timestamp(), at(now) + 3650 * 86_400);
        let (ca_key_id, ca_authority) = key_ids(&ca);
        assert!(
            ca_key_id.is_some() && ca_authority == ca_key_id,
            "{ca_key_id:?} {ca_authority:?}"
        );

        // The signing certificate: issued by the CA, CA:FALSE and digitalSignature (both
        // critical), codeSigning, 825 days.
        assert_eq!(names(leaf.subject()), demo(LEAF_CN));
        assert_eq!(names(leaf.issuer()), demo(CA_CN));
        assert_eq!(rsa_bits(&leaf), 2048);
        assert!(signed_by(&leaf, &ca), "issued by the demo CA");
        assert!(!signed_by(&leaf, &leaf), "and not by itself");
        let bc = leaf.basic_constraints().expect("bc").expect("leaf has bc");
        assert!(bc.critical && !bc.value.ca);
        let ku = leaf.key_usage().expect("ku").expect("leaf has ku");
        assert!(ku.critical && ku.value.digital_signature());
        assert_eq!(ku.value.flags.count_ones(), 1, "only that: {}", ku.value);
        let eku = leaf
            .extended_key_usage()
            .expect("eku")
            .expect("leaf has eku");
        assert!(!eku.critical && eku.value.code_signing);
        assert!(!eku.value.any && eku.value.other.is_empty());
        assert!(!eku.value.server_auth && !eku.value.client_auth && !eku.value.time_stamping);
        assert_eq!(leaf.validity().not_before.timestamp(), at(now));
        assert_eq!(
            leaf.validity().not_after.timestamp(),
            at(now) + 825 * 86_400
        );
        let (leaf_key_id, leaf_authority) = key_ids(&leaf);
        assert!(leaf_key_id.is_some() && leaf_key_id != ca_key_id);
        assert_eq!(
            leaf_authority, ca_key_id,
            "the authority key id is the CA's"
        );
        assert_eq!(m.leaf_sha256, crate::digest::Sha256::of(&leaf_der));

        // The PFX, as the release gate and the builders read it: the signing certificate with
        // the CA behind it, under the password and no other.
        let id =
            crate::verify::certs::identity(std::path::Path::new("demo.pfx"), &m.pfx, Some("pw"))
                .expect("the PFX opens");
        assert_eq!(id.leaf.sha256, m.leaf_sha256);
        assert!(id.leaf.code_signing && !id.leaf.is_ca);
        assert_eq!(id.leaf.subject, LEAF_CN);
        assert_eq!(id.leaf.issuer, CA_CN);
        assert_eq!(
            id.chain.iter().map(|c| c.sha256).collect::<Vec<_>>(),
            [crate::digest::Sha256::of(&ca_der)]
        );
        assert!(
            crate::verify::certs::identity(std::path::Path::new("demo.pfx"), &m.pfx, Some("other"))
                .is_err()
        );
        // Its private key is the signing certificate's.
        let store = p12_keystore::KeyStore::from_pkcs12(
            &m.pfx,
            "pw",
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .expect("PFX");
        let (_, chain) = store.private_key_chain().expect("a key with its chain");
        let key = KeyPair::try_from(chain.key().as_der()).expect("an RSA key");
        assert_eq!(
            rcgen::PublicKeyData::subject_public_key_info(&key),
            leaf.public_key().raw
        );
    }

    #[test]
    fn each_demo_gets_its_own_keys() {
        let now = Timestamp::now();
        let (a, b) = (make(now, "pw").expect("a"), make(now, "pw").expect("b"));
        assert_ne!(a.ca_pem, b.ca_pem);
        assert_ne!(a.leaf_sha256, b.leaf_sha256);
    }
}
