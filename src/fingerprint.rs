//! Stable keyed fingerprints and the replacement text.
//!
//! A secret becomes `REDACTED:<kind>:<16 hex digits>`, the hex being the first 64 bits of
//! HMAC-SHA256(key, secret). The secret is decoded first (JSON escapes, percent-encoding), so
//! that the same token gives the same word whether it was found in a header, a URL or an
//! escaped JSON string. The word uses only `[A-Za-z0-9_:]`: valid unquoted in URLs, JSON strings,
//! logfmt, header values and CSV; and no rule may match it, which keeps redaction idempotent.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix of every replacement.
pub const REPLACEMENT_PREFIX: &[u8] = b"REDACTED:";

/// Number of hex digits in a replacement (64 bits).
pub const FINGERPRINT_HEX_LEN: usize = 16;

/// Minimum key length in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// Computes fingerprints under one key. Cloning is cheap; the key never appears in `Debug`.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter { key: <hidden> }")
    }
}

/// The key was too short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTooShort(pub usize);

impl std::fmt::Display for KeyTooShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fingerprint key is {} bytes; at least {MIN_KEY_LEN} are required",
            self.0
        )
    }
}

impl std::error::Error for KeyTooShort {}

impl Fingerprinter {
    /// A fingerprinter keyed with `key` (at least [`MIN_KEY_LEN`] bytes).
    pub fn new(key: &[u8]) -> Result<Self, KeyTooShort> {
        if key.len() < MIN_KEY_LEN {
            return Err(KeyTooShort(key.len()));
        }
        Ok(Fingerprinter {
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length"),
        })
    }

    /// The 64-bit fingerprint of a secret, after decoding its escapes. `scratch` is reused.
    pub fn fingerprint(&self, secret: &[u8], scratch: &mut Vec<u8>) -> u64 {
        let decoded = normalize(secret, scratch);
        let mut mac = self.mac.clone();
        mac.update(decoded);
        let digest = mac.finalize().into_bytes();
        u64::from_be_bytes(digest[..8].try_into().expect("32-byte digest"))
    }

    /// A keyed fingerprint of an identifying but non-secret value (a JWT `sub`, a client
    /// address), domain-separated by `label` so that it never equals a secret's fingerprint.
    /// The value is hashed as given: no escape decoding.
    pub fn keyed(&self, label: &str, value: &[u8]) -> u64 {
        let mut mac = self.mac.clone();
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        u64::from_be_bytes(digest[..8].try_into().expect("32-byte digest"))
    }

    /// Appends the replacement word for `secret` of `kind` to `out`.
    pub fn write_replacement(&self, kind: &str, secret: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
        let fp = self.fingerprint(secret, scratch);
        write_replacement_word(kind, fp, out);
    }
}

/// Appends `REDACTED:<kind>:<hex>` to `out`.
pub fn write_replacement_word(kind: &str, fingerprint: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(REPLACEMENT_PREFIX);
    out.extend_from_slice(kind.as_bytes());
    out.push(b':');
    write_fingerprint_hex(fingerprint, out);
}

/// Appends the fingerprint's [`FINGERPRINT_HEX_LEN`] lowercase hex digits to `out`.
pub fn write_fingerprint_hex(fingerprint: u64, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..FINGERPRINT_HEX_LEN).rev() {
        out.push(HEX[((fingerprint >> (i * 4)) & 0xf) as usize]);
    }
}

/// True when position `at` of `hay` lies inside a replacement word (`REDACTED:kind:hex`), so that
/// no rule ever matches our own output.
pub fn inside_replacement(hay: &[u8], at: usize) -> bool {
    // A word is at most prefix + kind (<= 64) + ':' + 16 hex long.
    let from = at.saturating_sub(REPLACEMENT_PREFIX.len() + 64 + 1 + FINGERPRINT_HEX_LEN);
    let to = (at + REPLACEMENT_PREFIX.len()).min(hay.len());
    // Built once: `memmem::rfind` builds its searcher on every call, which cost more than the
    // search itself over these ~100 bytes (callgrind: 2,700 -> 1,300 instructions a line of the
    // dense bench).
    static PREFIX: std::sync::LazyLock<memchr::memmem::FinderRev<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::FinderRev::new(REPLACEMENT_PREFIX));
    let Some(rel) = PREFIX.rfind(&hay[from..to]) else {
        return false;
    };
    let start = from + rel;
    let kind_start = start + REPLACEMENT_PREFIX.len();
    let mut i = kind_start;
    while i < hay.len() && (hay[i].is_ascii_lowercase() || hay[i].is_ascii_digit() || hay[i] == b'_') {
        i += 1;
    }
    if i == kind_start || i >= hay.len() || hay[i] != b':' {
        return false;
    }
    let hex_start = i + 1;
    let hex_end = hex_start + FINGERPRINT_HEX_LEN;
    if hex_end > hay.len()
        || !hay[hex_start..hex_end]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return false;
    }
    at >= start && at < hex_end
}

/// Decodes the escapes a logged secret may carry: JSON string escapes (applied repeatedly, for
/// JSON inside JSON) and percent-encoding. Returns `secret` itself when it has neither.
pub fn normalize<'a>(secret: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let has_escape = memchr::memchr(b'\\', secret).is_some();
    let has_percent = memchr::memchr(b'%', secret).is_some();
    if !has_escape && !has_percent {
        return secret;
    }
    scratch.clear();
    scratch.extend_from_slice(secret);
    let mut tmp = Vec::new();
    for _ in 0..4 {
        if memchr::memchr(b'\\', scratch).is_none() {
            break;
        }
        tmp.clear();
        json_unescape(scratch, &mut tmp);
        std::mem::swap(scratch, &mut tmp);
    }
    if memchr::memchr(b'%', scratch).is_some() {
        tmp.clear();
        percent_decode(scratch, &mut tmp);
        std::mem::swap(scratch, &mut tmp);
    }
    scratch
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (hex_val(s[i + 1]), hex_val(s[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

/// One level of JSON string unescaping; an invalid escape is kept as written.
fn json_unescape(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 >= s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let c = s[i + 1];
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            i += 2;
            continue;
        }
        if c == b'u' && i + 6 <= s.len() {
            let h = &s[i + 2..i + 6];
            if let Some(v) = h
                .iter()
                .try_fold(0u32, |acc, &b| hex_val(b).map(|d| acc << 4 | d as u32))
            {
                let ch = char::from_u32(v).unwrap_or('\u{fffd}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += 6;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn same_secret_same_word_across_encodings() {
        let f = Fingerprinter::new(KEY).unwrap();
        let mut s = Vec::new();
        let plain = f.fingerprint(b"ab/cd+ef&g=", &mut s);
        assert_eq!(plain, f.fingerprint(br"ab\/cd+ef\u0026g=", &mut s));
        assert_eq!(plain, f.fingerprint(b"ab%2Fcd%2Bef%26g%3D", &mut s));
        assert_eq!(plain, f.fingerprint(br"ab\\\/cd+ef&g=", &mut s));
        assert_ne!(plain, f.fingerprint(b"ab/cd+ef&g=x", &mut s));
    }

    #[test]
    fn key_matters_and_is_checked() {
        let mut s = Vec::new();
        let a = Fingerprinter::new(KEY).unwrap().fingerprint(b"x", &mut s);
        let b = Fingerprinter::new(b"fedcba9876543210fedcba9876543210")
            .unwrap()
            .fingerprint(b"x", &mut s);
        assert_ne!(a, b);
        assert_eq!(Fingerprinter::new(b"short").unwrap_err(), KeyTooShort(5));
        assert!(!format!("{:?}", Fingerprinter::new(KEY).unwrap()).contains("0123"));
    }

    #[test]
    fn replacement_word_is_recognised() {
        let mut out = b"Bearer ".to_vec();
        write_replacement_word("jwt", 0x5f1c0e2a9b7d3c41, &mut out);
        assert_eq!(out, b"Bearer REDACTED:jwt:5f1c0e2a9b7d3c41");
        for at in 7..out.len() {
            assert!(inside_replacement(&out, at), "{at}");
        }
        assert!(!inside_replacement(&out, 3));
        assert!(!inside_replacement(b"REDACTED: x", 0));
    }
}
