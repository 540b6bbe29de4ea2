//! A SHA-256 digest as a value: 32 bytes, written as 64 lower-case hex digits (`Display`,
//! serde), read from 64 hex digits of either case (`FromStr`, serde), so SHA256SUMS, state
//! files and object metadata keep the spelling they always had. Imports nothing of the crate.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

/// A SHA-256 digest. Two digests are equal when their bytes are, whatever case the hex they
/// were read from had.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(sha2::Sha256::digest(bytes).into())
    }

    /// The first 16 hex digits and an ellipsis, where a whole digest does not fit.
    pub fn short(&self) -> String {
        let mut s = self.to_string();
        s.truncate(16);
        s.push('…');
        s
    }

    /// What a `sha2::Sha256` hasher finished with.
    pub fn from_output(output: sha2::digest::Output<sha2::Sha256>) -> Self {
        Self(output.into())
    }
}

impl From<[u8; 32]> for Sha256 {
    fn from(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for Sha256 {
    /// 64 lower-case hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        // Only ASCII digits were written.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// Text that is not a SHA-256 digest: the text (up to 100 characters) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} is not a SHA-256 digest (64 hex digits): {why}")]
pub struct BadSha256 {
    shown: String,
    why: String,
}

impl BadSha256 {
    fn new(input: &str, why: String) -> Self {
        const SHOWN: usize = 100;
        let shown = match input.char_indices().nth(SHOWN) {
            Some((end, _)) => format!("{}…", &input[..end]),
            None => input.to_owned(),
        };
        Self { shown, why }
    }
}

impl FromStr for Sha256 {
    type Err = BadSha256;

    /// 64 hex digits, upper or lower case; nothing around them.
    fn from_str(s: &str) -> Result<Self, BadSha256> {
        if let Some((at, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
            return Err(BadSha256::new(
                s,
                format!("{c:?} at character {} is not a hex digit", at + 1),
            ));
        }
        if s.len() != 64 {
            return Err(BadSha256::new(
                s,
                format!("it has {} digits, not 64", s.len()),
            ));
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
            let nibble = |c: u8| match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                // Checked above: only hex digits remain.
                _ => c.to_ascii_lowercase() - b'a' + 10,
            };
            bytes[i] = (nibble(pair[0]) << 4) | nibble(pair[1]);
        }
        Ok(Self(bytes))
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn it_reads_and_writes_lower_case_hex_and_hashes() {
        let d: Sha256 = EMPTY.parse().expect("a digest");
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d, Sha256::of(b""));
        assert_eq!(
            Sha256::from_output(sha2::Sha256::digest(b"")),
            Sha256::of(b"")
        );
        assert_eq!(d.as_bytes()[0], 0xe3);
        assert_eq!(d.short(), "e3b0c44298fc1c14…");
        assert_eq!(format!("{d:?}"), format!("Sha256({EMPTY})"));
    }

    #[test]
    fn upper_case_is_the_same_digest_and_is_written_back_lower_case() {
        let d: Sha256 = EMPTY.to_ascii_uppercase().parse().expect("a digest");
        assert_eq!(d, Sha256::of(b""));
        assert_eq!(d.to_string(), EMPTY);
    }

    #[test]
    fn a_wrong_length_or_a_non_hex_digit_is_refused_naming_the_input() {
        let short = &EMPTY[..63];
        let e = short.parse::<Sha256>().expect_err("short");
        assert_eq!(
            e.to_string(),
            format!("{short:?} is not a SHA-256 digest (64 hex digits): it has 63 digits, not 64")
        );
        let long = format!("{EMPTY}0");
        assert!(
            long.parse::<Sha256>()
                .expect_err("long")
                .to_string()
                .contains("65 digits")
        );
        let bad = format!("{}g", &EMPTY[..63]);
        assert_eq!(
            bad.parse::<Sha256>().expect_err("g").to_string(),
            format!(
                "{bad:?} is not a SHA-256 digest (64 hex digits): 'g' at character 64 is not a hex digit"
            )
        );
        let spaced = format!(" {EMPTY}");
        assert!(
            spaced
                .parse::<Sha256>()
                .expect_err("space")
                .to_string()
                .contains("' ' at character 1")
        );
        assert!(
            "".parse::<Sha256>()
                .expect_err("empty")
                .to_string()
                .contains("0 digits")
        );
        let huge = "x".repeat(1000);
        let e = huge.parse::<Sha256>().expect_err("huge").to_string();
        assert!(e.len() < 200, "the input is shown cut short: {e}");
    }

    #[test]
    fn serde_is_the_hex_string_it_always_was() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct File {
            name: String,
            sha256: Sha256,
        }
        let old = format!(r#"{{"name":"a.msi","sha256":"{EMPTY}"}}"#);
        let f: File = serde_json::from_str(&old).expect("reads");
        assert_eq!(f.sha256, Sha256::of(b""));
        assert_eq!(serde_json::to_string(&f).expect("json"), old);
        let upper = old.replace(EMPTY, &EMPTY.to_ascii_uppercase());
        assert_eq!(serde_json::from_str::<File>(&upper).expect("reads"), f);
        let e = serde_json::from_str::<File>(r#"{"name":"a","sha256":"abc"}"#).expect_err("bad");
        assert!(
            e.to_string().contains("\"abc\" is not a SHA-256 digest"),
            "{e}"
        );
    }
}
