//! AWS Signature Version 4 for requests signed in headers (S3 and any S3-compatible store,
//! the AWS JSON APIs): the canonical request, the string to sign, the derived key and the
//! `Authorization` header, as AWS documents them. Every header the caller sets is signed, so a
//! server checks `x-amz-checksum-sha256` and `x-amz-content-sha256` as part of the signature.

use hmac::{KeyInit as _, Mac as _};
use jiff::Timestamp;
use sha2::Digest as _;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The SHA-256 of an empty payload, for requests without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Who signs: an access key and its secret (and a session token for temporary credentials).
/// `Debug` shows the access key only.
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    secret_key: String,
    session_token: Option<String>,
}

impl Credentials {
    pub fn new(access_key: String, secret_key: String, session_token: Option<String>) -> Self {
        Self {
            access_key,
            secret_key,
            session_token,
        }
    }

    /// The session token, sent as `x-amz-security-token`.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where a request is signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    /// `s3`, `monitoring`, `secretsmanager`, ...
    pub service: String,
}

/// Percent-encodes `s` as `SigV4` asks: every byte but `A-Z a-z 0-9 - _ . ~` (and `/` when
/// `keep_slash`, for paths) as `%XX` in upper case.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string in `SigV4`'s canonical form (sorted, every key and value encoded); the same
/// string must be the one sent.
pub fn canonical_query(pairs: &[(&str, &str)]) -> String {
    let mut enc: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    enc.sort();
    enc.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The key that signs requests of `date` (`YYYYMMDD`) in `scope`.
pub fn signing_key(secret: &str, date: &str, scope: &Scope) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, scope.region.as_bytes());
    let k = hmac(&k, scope.service.as_bytes());
    hmac(&k, b"aws4_request")
}

/// A request to sign: the path as sent (already encoded with [`uri_encode`]), its canonical
/// query, and the headers it will carry (`host` among them).
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    /// Lower-case hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_sha256: &'a str,
}

/// The canonical request of `req` and its signed-header list.
pub fn canonical_request(req: &Request<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), v)
        })
        .collect();
    headers.sort();
    let mut canonical_headers = String::new();
    for (k, v) in &headers {
        canonical_headers.push_str(&format!("{k}:{v}\n"));
    }
    let signed = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let path = if req.path.is_empty() { "/" } else { req.path };
    let canonical = format!(
        "{}\n{path}\n{}\n{canonical_headers}\n{signed}\n{}",
        req.method, req.query, req.payload_sha256
    );
    (canonical, signed)
}

/// `x-amz-date`'s form of `at`.
pub fn amz_date(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// The `Authorization` header of `req` (whose headers must already hold `x-amz-date` with
/// `at`, and `x-amz-security-token` when the credentials have a session token).
pub fn authorization(
    req: &Request<'_>,
    creds: &Credentials,
    scope: &Scope,
    at: Timestamp,
) -> String {
    let date = at.strftime("%Y%m%d").to_string();
    let (canonical, signed) = canonical_request(req);
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{}",
        amz_date(at),
        crate::hex(&sha2::Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(&creds.secret_key, &date, scope);
    let signature = crate::hex(&hmac(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed}, Signature={signature}",
        creds.access_key
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_creds() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            Some("a-session-token".into()),
        )
    }

    /// The worked example of AWS's "Create a signed AWS API request" guide (IAM `ListUsers`,
    /// 2015-08-30T12:36:00Z): its canonical request hash, derived key and signature.
    #[test]
    fn aws_documented_example_signs_to_the_documented_signature() {
        let at: Timestamp = "2015-08-30T12:36:00Z".parse().expect("time");
        let headers = vec![
            (
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ),
            ("Host".to_owned(), "iam.amazonaws.com".to_owned()),
            ("X-Amz-Date".to_owned(), amz_date(at)),
        ];
        let query = canonical_query(&[("Version", "2010-05-08"), ("Action", "ListUsers")]);
        assert_eq!(query, "Action=ListUsers&Version=2010-05-08");
        let req = Request {
            method: "GET",
            path: "/",
            query: &query,
            headers: &headers,
            payload_sha256: EMPTY_SHA256,
        };
        let (canonical, signed) = canonical_request(&req);
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            crate::hex(&sha2::Sha256::digest(canonical.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let scope = Scope {
            region: "us-east-1".into(),
            service: "iam".into(),
        };
        assert_eq!(
            crate::hex(&signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "20150830",
                &scope
            )),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        assert_eq!(
            authorization(&req, &example_creds(), &scope, at),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn encoding_keeps_only_unreserved_bytes() {
        assert_eq!(uri_encode("a b/c~d*é", true), "a%20b/c~d%2A%C3%A9");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(
            canonical_query(&[("uploadId", "x+y/z"), ("partNumber", "2")]),
            "partNumber=2&uploadId=x%2By%2Fz"
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        let text = format!("{:?}", example_creds());
        assert!(!text.contains("EXAMPLEKEY"), "{text}");
        assert!(!text.contains("a-session-token"), "{text}");
        assert!(text.contains("AKIDEXAMPLE"), "{text}");
    }
}
