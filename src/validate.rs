//! Validators: cheap checks a candidate secret must pass after its regex matched.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The validators a rule asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Validators {
    pub jwt: bool,
    pub not_placeholder: bool,
    pub token_like: bool,
    pub sensitive_key: bool,
    pub basic_auth: bool,
    pub min_entropy: Option<f64>,
}

impl Validators {
    pub(crate) fn from_spec(names: &[String], min_entropy: Option<f64>) -> Result<Self, String> {
        let mut v = Validators {
            min_entropy,
            ..Default::default()
        };
        for name in names {
            match name.as_str() {
                "jwt" => v.jwt = true,
                "not_placeholder" => v.not_placeholder = true,
                "token_like" => v.token_like = true,
                "sensitive_key" => v.sensitive_key = true,
                "basic_auth" => v.basic_auth = true,
                other => {
                    return Err(format!(
                        "unknown validator '{other}' (known: jwt, not_placeholder, token_like, sensitive_key, basic_auth)"
                    ));
                }
            }
        }
        if let Some(e) = min_entropy
            && !(0.0..=8.0).contains(&e)
        {
            return Err(format!("min_entropy {e} is outside 0..=8 bits per byte"));
        }
        Ok(v)
    }

    /// True when `secret` (and `key`, the labelled field name if the rule captures one) pass.
    pub(crate) fn accept(&self, secret: &[u8], key: Option<&[u8]>) -> bool {
        if self.not_placeholder && is_placeholder(secret) {
            return false;
        }
        if self.token_like && !token_like(secret) {
            return false;
        }
        if self.sensitive_key && key.is_some_and(is_insensitive_key) {
            return false;
        }
        if let Some(min) = self.min_entropy
            && shannon_entropy(secret) < min
        {
            return false;
        }
        if self.basic_auth && !is_basic_credentials(secret) {
            return false;
        }
        if self.jwt && !is_jwt(secret) {
            return false;
        }
        true
    }
}

/// Values that stand in for a secret rather than being one: empty, masked, templated, null.
pub fn is_placeholder(v: &[u8]) -> bool {
    let v = v.trim_ascii();
    // "[FILTERED]" cut short by a value class that stops at ']' is still a placeholder.
    let v = v.strip_prefix(b"[").unwrap_or(v);
    let v = v.strip_suffix(b"]").unwrap_or(v);
    if v.is_empty() {
        return true;
    }
    // masked: "****", "xxxxxx", "sk_live_****3H2X", "••••" (UTF-8 bullets are non-ASCII: caught below)
    // `memchr` to each first byte, not a window compare at every byte: a real secret holds
    // neither, and this runs for every match of most rules.
    let holds = |needle: &[u8]| memchr::memchr_iter(needle[0], v).any(|i| v[i..].starts_with(needle));
    if holds(b"***")
        || v.iter()
            .all(|&b| b == b'x' || b == b'X' || b == b'*' || b == b'.' || b == b'#' || b == b'-')
    {
        return true;
    }
    if holds("•".as_bytes()) {
        return true;
    }
    // templated: ${VAR}, {{ var }}, <password>, %(pw)s, $VAR, %VAR%
    if v.starts_with(b"${")
        || v.starts_with(b"{{")
        || v.starts_with(b"<")
        || v.starts_with(b"%(")
        || v.starts_with(b"#{")
    {
        return true;
    }
    if v[0] == b'$'
        && v[1..]
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return true;
    }
    if v.len() > 2 && v[0] == b'%' && v[v.len() - 1] == b'%' {
        return true;
    }
    const WORDS: &[&[u8]] = &[
        b"null",
        b"nil",
        b"none",
        b"undefined",
        b"true",
        b"false",
        b"redacted",
        b"filtered",
        b"hidden",
        b"masked",
        b"removed",
        b"n/a",
        b"omitted",
        b"bearer",
        b"basic",
        b"token",
        b"digest",
        b"negotiate",
        b"ntlm",
        b"flyv1",
        b"ssws",
        b"apikey",
        b"your_api_key",
        b"your-api-key",
        b"your_token",
        b"xxx",
        b"todo",
        b"tbd",
        b"example",
        b"sensitive",
    ];
    WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
}

/// Looks like a generated token rather than a word: a letter and a digit, or long, mixed-case
/// and varied.
pub fn token_like(v: &[u8]) -> bool {
    let digit = v.iter().any(u8::is_ascii_digit);
    let lower = v.iter().any(u8::is_ascii_lowercase);
    let upper = v.iter().any(u8::is_ascii_uppercase);
    if digit && (lower || upper) {
        return true;
    }
    // `Module::TypeName` is a path, not a token.
    v.len() >= 20 && lower && upper && shannon_entropy(v) >= 3.9 && memchr::memmem::find(v, b"::").is_none()
}

/// Shannon entropy in bits per byte.
///
/// Computed as `log2(n) - (1/n) * sum(c * log2(c))` over the byte counts `c`: a byte seen once
/// adds nothing, so a generated token of mostly distinct bytes costs a few `log2` calls instead
/// of one per distinct byte (measured: the per-byte `log2` was 15% of the time a GitHub token
/// took to confirm).
pub fn shannon_entropy(v: &[u8]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in v {
        counts[usize::from(b)] += 1;
    }
    // Each distinct byte's term once: taking its count clears it for its later occurrences.
    let mut sum = 0.0;
    for &b in v {
        let c = std::mem::take(&mut counts[usize::from(b)]);
        if c > 1 {
            let c = f64::from(c);
            sum += c * c.log2();
        }
    }
    let n = v.len() as f64;
    n.log2() - sum / n
}

/// Field names that end like a sensitive key but hold no secret (pagination cursors and such).
fn is_insensitive_key(key: &[u8]) -> bool {
    const PREFIXES: &[&[u8]] = &[
        b"page",
        b"next",
        b"prev",
        b"previous",
        b"continuation",
        b"cursor",
        b"sync",
        b"pagination",
        b"resume",
        b"start",
        b"end",
        b"last",
        b"first",
        b"max",
        b"min",
        b"num",
        b"total",
        b"count",
        b"csrf",
        b"xsrf",
        b"public",
        b"cancellation",
        b"idempotency",
        b"request",
        b"trace",
    ];
    // Compare ignoring case and separators (`page_token`, `pageToken`, `PAGE-TOKEN`), without
    // allocating: this runs on every match of a labelled rule.
    let key = key
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase);
    PREFIXES.iter().any(|p| {
        let mut k = key.clone();
        p.iter().all(|&c| k.next() == Some(c))
    })
}

const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 that decodes to printable `user:password` text (RFC 7617).
pub fn is_basic_credentials(v: &[u8]) -> bool {
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(v) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&decoded) else {
        return false;
    };
    text.find(':').is_some_and(|i| i > 0) && !text.chars().any(char::is_control)
}

const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes standard base64 (padding optional), after undoing JSON-escaped slashes.
pub(crate) fn decode_base64(v: &[u8]) -> Option<Vec<u8>> {
    let mut tmp = Vec::new();
    let v = crate::fingerprint::normalize(v, &mut tmp);
    B64_LENIENT.decode(v).ok()
}

/// Decodes one base64url JWT segment (padding optional).
pub fn decode_segment(seg: &[u8]) -> Option<Vec<u8>> {
    B64URL.decode(seg).ok()
}

/// A JWS (3 segments) or JWE (5 segments) compact token whose header decodes to a JSON object
/// naming `alg` (JWE also `enc`). Unsigned `alg: none` tokens have an empty third segment.
pub fn is_jwt(token: &[u8]) -> bool {
    let mut segs = token.split(|&b| b == b'.');
    let Some(header) = segs.next() else { return false };
    let rest: Vec<&[u8]> = segs.collect();
    if !(rest.len() == 2 || rest.len() == 4) {
        return false;
    }
    let Some(h) = decode_segment(header) else { return false };
    let h = h.trim_ascii();
    if h.first() != Some(&b'{') || h.last() != Some(&b'}') || memchr::memmem::find(h, b"\"alg\"").is_none() {
        return false;
    }
    if rest.len() == 4 {
        // JWE: header, encrypted key (empty for "dir"), iv, ciphertext, tag
        return memchr::memmem::find(h, b"\"enc\"").is_some() && !rest[2].is_empty() && !rest[1].is_empty();
    }
    // JWS: payload must be present; an empty signature only with alg none
    !rest[0].is_empty()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The textbook form, one term per distinct byte: the reference for [`shannon_entropy`].
    fn entropy_by_probabilities(v: &[u8]) -> f64 {
        let mut counts = [0u32; 256];
        for &b in v {
            counts[usize::from(b)] += 1;
        }
        let n = v.len() as f64;
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| -(f64::from(c) / n) * (f64::from(c) / n).log2())
            .sum()
    }

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert_eq!(shannon_entropy(b"abab"), 1.0);
        assert_eq!(shannon_entropy(b"abcdefgh"), 3.0);
        assert_eq!(shannon_entropy(b"aabbccddeeffgghh"), 3.0);
        assert!((shannon_entropy(b"aab") - 0.918_295_834_054_489_6).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn entropy_equals_the_textbook_form(v in proptest::collection::vec(any::<u8>(), 1..300)) {
            let (fast, reference) = (shannon_entropy(&v), entropy_by_probabilities(&v));
            prop_assert!((fast - reference).abs() < 1e-9, "{fast} vs {reference}");
        }

        #[test]
        fn entropy_equals_the_textbook_form_on_small_alphabets(v in "[a-d0-2]{1,80}") {
            let v = v.as_bytes();
            let (fast, reference) = (shannon_entropy(v), entropy_by_probabilities(v));
            prop_assert!((fast - reference).abs() < 1e-9, "{fast} vs {reference}");
        }
    }

    #[test]
    fn placeholders() {
        for p in [
            "",
            "****",
            "<redacted>",
            "${DB_PASS}",
            "null",
            "[FILTERED]",
            "sk_live_****3H2X",
            "xxxxxxxx",
            "{{ pw }}",
            "$PASSWORD",
            "%PW%",
        ] {
            assert!(is_placeholder(p.as_bytes()), "{p}");
        }
        for s in ["hunter2!x", "Z_%4Ese~zA$J!W~1MfTHG", "ab*cd", "r3Ves%23C711mSURbLgg_"] {
            assert!(!is_placeholder(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn jwt_structure() {
        // {"alg":"HS256","typ":"JWT"} . {"sub":"1"} . sig
        let jws = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert!(is_jwt(jws));
        // alg none, empty signature
        assert!(is_jwt(b"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."));
        // a cursor: one segment
        assert!(!is_jwt(b"eyJpZCI6MTg3Mjk1LCJ0cyI6MTc5NTMxMTgxN30"));
        // header without alg
        assert!(!is_jwt(b"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln"));
    }

    #[test]
    fn token_likeness() {
        assert!(token_like(b"nxNe5soTmF7bcrvdFpbchUBFDUFN7itO"));
        assert!(!token_like(b"authentication"));
        assert!(!token_like(b"AuthenticationRequired"));
        assert!(!token_like(b"cpuid_aes_sha::InitToken"));
    }

    #[test]
    fn insensitive_keys_ignore_case_and_separators() {
        for k in [
            "pageToken",
            "page_token",
            "NEXT-TOKEN",
            "csrf_token",
            "public_key",
            "x.request.token",
        ] {
            assert!(is_insensitive_key(k.as_bytes()) != k.starts_with('x'), "{k}");
        }
        for k in ["access_token", "api_key", "DB_PASSWORD", "pag", "token"] {
            assert!(!is_insensitive_key(k.as_bytes()), "{k}");
        }
    }
}
