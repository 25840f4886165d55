//! What a leaked JWT tells a security team: its header and registered claims, decoded without
//! verifying the signature (we hold no keys, and a forged token is as worth reporting as a real
//! one).
//!
//! Identifying claims (`sub`, `email` and its kin) are never kept raw: only their keyed
//! fingerprints, so that the report can group tokens of one subject without naming a person.
//! Every other string claim is cut to [`MAX_CLAIM_LEN`] bytes and itself passed through the
//! redactor, so that a credential smuggled into a claim cannot reach a report.

use serde_json::Value;

use crate::validate::decode_segment;
use crate::{Redactor, Scratch};

/// Longest claim string kept (bytes, cut on a character boundary).
pub const MAX_CLAIM_LEN: usize = 256;

/// Most audiences kept per token.
pub const MAX_AUDIENCES: usize = 8;

/// The revocation-relevant facts of one JWT.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JwtClaims {
    /// Header `alg`.
    pub alg: Option<String>,
    /// Header `kid`.
    pub kid: Option<String>,
    /// `iss`.
    pub iss: Option<String>,
    /// `aud` (a string or an array of strings).
    pub aud: Vec<String>,
    /// `jti`: what most issuers revoke by.
    pub jti: Option<String>,
    /// `exp`, `iat`, `nbf`: seconds since the epoch.
    pub exp: Option<i64>,
    /// Issued at.
    pub iat: Option<i64>,
    /// Not before.
    pub nbf: Option<i64>,
    /// Keyed fingerprint of `sub`.
    pub sub_fingerprint: Option<u64>,
    /// Keyed fingerprint of the e-mail claim (`email`, `upn`, `preferred_username` when it
    /// holds an `@`).
    pub email_fingerprint: Option<u64>,
    /// True for a JWE (encrypted: no readable claims).
    pub encrypted: bool,
}

impl JwtClaims {
    /// True for an unsigned token (`alg: none`, any case).
    pub fn alg_none(&self) -> bool {
        self.alg.as_deref().is_some_and(|a| a.eq_ignore_ascii_case("none"))
    }

    /// `exp - iat`, when both are present and ordered.
    pub fn lifetime_seconds(&self) -> Option<i64> {
        match (self.exp, self.iat) {
            (Some(exp), Some(iat)) if exp >= iat => Some(exp - iat),
            _ => None,
        }
    }

    /// Whether the token could be replayed at `now` (seconds since the epoch): not expired and
    /// not before its `nbf`. A token without `exp` never expires.
    pub fn valid_at(&self, now: i64) -> bool {
        self.exp.is_none_or(|exp| exp > now) && self.nbf.is_none_or(|nbf| nbf <= now)
    }

    /// Seconds of validity left at `now`; `None` for a token without `exp`.
    pub fn valid_for(&self, now: i64) -> Option<i64> {
        self.exp.map(|exp| (exp - now).max(0))
    }
}

/// Decodes a JWT's header and payload. `token` is the raw secret (escapes already undone).
/// Returns `None` when the header is not a JSON object; a JWS whose payload is not JSON keeps
/// its header facts.
/// `scratch` is the redactor's, reused: claims are scanned for credentials.
pub fn decode(token: &[u8], redactor: &Redactor, scratch: &mut Scratch) -> Option<JwtClaims> {
    let mut segments = token.split(|&b| b == b'.');
    let header: Value = serde_json::from_slice(&decode_segment(segments.next()?)?).ok()?;
    let header = header.as_object()?;
    let rest: Vec<&[u8]> = segments.collect();
    let mut claims = JwtClaims {
        alg: header.get("alg").and_then(|v| claim_string(v, redactor, scratch)),
        kid: header.get("kid").and_then(|v| claim_string(v, redactor, scratch)),
        encrypted: rest.len() == 4,
        ..JwtClaims::default()
    };
    if claims.encrypted {
        return Some(claims);
    }
    let Some(payload) = rest
        .first()
        .and_then(|p| decode_segment(p))
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
    else {
        return Some(claims);
    };
    let Some(payload) = payload.as_object() else {
        return Some(claims);
    };
    claims.iss = payload.get("iss").and_then(|v| claim_string(v, redactor, scratch));
    claims.jti = payload.get("jti").and_then(|v| claim_string(v, redactor, scratch));
    claims.aud = match payload.get("aud") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| claim_string(v, redactor, scratch))
            .take(MAX_AUDIENCES)
            .collect(),
        Some(v) => claim_string(v, redactor, scratch).into_iter().collect(),
        None => Vec::new(),
    };
    claims.exp = payload.get("exp").and_then(numeric_date);
    claims.iat = payload.get("iat").and_then(numeric_date);
    claims.nbf = payload.get("nbf").and_then(numeric_date);
    let fingerprint = |label: &str, v: &Value| match v {
        Value::String(s) => redactor.fingerprinter().keyed(label, s.as_bytes()),
        other => redactor.fingerprinter().keyed(label, other.to_string().as_bytes()),
    };
    claims.sub_fingerprint = payload.get("sub").map(|v| fingerprint("jwt-sub", v));
    claims.email_fingerprint = ["email", "upn", "preferred_username", "unique_name"]
        .iter()
        .filter_map(|k| payload.get(*k))
        .find(|v| v.as_str().is_some_and(|s| s.contains('@')))
        .map(|v| {
            fingerprint(
                "jwt-email",
                &Value::String(v.as_str().unwrap_or_default().to_ascii_lowercase()),
            )
        });
    Some(claims)
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional; out-of-range values are dropped.
fn numeric_date(v: &Value) -> Option<i64> {
    let f = v.as_f64()?;
    (f.is_finite() && f.abs() < 1e13).then_some(f as i64)
}

/// A claim as kept in reports: strings (or numbers) only, cut to [`MAX_CLAIM_LEN`], with any
/// credential inside redacted.
fn claim_string(v: &Value, redactor: &Redactor, scratch: &mut Scratch) -> Option<String> {
    let text = match v {
        Value::String(s) => s.as_str(),
        Value::Number(_) => return Some(v.to_string()),
        _ => return None,
    };
    let mut end = text.len().min(MAX_CLAIM_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut redacted = Vec::with_capacity(end);
    redactor.redact_into(&text.as_bytes()[..end], scratch, &mut redacted);
    Some(String::from_utf8_lossy(&redacted).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &[u8], redactor: &Redactor) -> Option<JwtClaims> {
        super::decode(token, redactor, &mut redactor.scratch())
    }
    use crate::RedactorBuilder;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt(header: &str, payload: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJlX2J5dGVz",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    fn redactor() -> Redactor {
        RedactorBuilder::new()
            .build(b"test key test key test key test key")
            .unwrap()
    }

    #[test]
    fn registered_claims_and_fingerprinted_identity() {
        let r = redactor();
        let token = jwt(
            r#"{"alg":"RS256","kid":"key-7","typ":"JWT"}"#,
            r#"{"iss":"https://idp.example.com","aud":["api","web"],"sub":"alice","email":"alice@example.com","jti":"j-42","exp":2000000000,"iat":1999996400.5,"nbf":1999996400}"#,
        );
        let c = decode(token.as_bytes(), &r).unwrap();
        assert_eq!(c.alg.as_deref(), Some("RS256"));
        assert_eq!(c.kid.as_deref(), Some("key-7"));
        assert_eq!(c.iss.as_deref(), Some("https://idp.example.com"));
        assert_eq!(c.aud, vec!["api", "web"]);
        assert_eq!(c.jti.as_deref(), Some("j-42"));
        assert_eq!(
            (c.exp, c.iat, c.nbf),
            (Some(2_000_000_000), Some(1_999_996_400), Some(1_999_996_400))
        );
        assert_eq!(c.lifetime_seconds(), Some(3600));
        assert!(c.valid_at(1_999_999_000));
        assert_eq!(c.valid_for(1_999_999_000), Some(1000));
        assert!(!c.valid_at(2_000_000_000));
        assert!(!c.valid_at(1_999_996_399), "before nbf");
        assert!(!c.alg_none());
        // Identity only as fingerprints, stable per key and distinct per value.
        let again = decode(token.as_bytes(), &r).unwrap();
        assert_eq!(c.sub_fingerprint, again.sub_fingerprint);
        assert!(c.sub_fingerprint.is_some() && c.email_fingerprint.is_some());
        assert_ne!(c.sub_fingerprint, c.email_fingerprint);
        assert!(!format!("{c:?}").contains("alice"));
    }

    #[test]
    fn alg_none_without_expiry_is_live_forever() {
        let c = decode(jwt(r#"{"alg":"none"}"#, r#"{"sub":"x"}"#).as_bytes(), &redactor()).unwrap();
        assert!(c.alg_none());
        assert!(c.valid_at(i64::MAX / 2));
        assert_eq!(c.valid_for(0), None);
        assert_eq!(c.lifetime_seconds(), None);
    }

    #[test]
    fn a_credential_inside_a_claim_is_redacted() {
        let leaked = "ghp_1234567890abcdefghijABCDEFGHIJ123456";
        let c = decode(
            jwt(
                r#"{"alg":"HS256"}"#,
                &format!(r#"{{"iss":"token={leaked}","aud":"a"}}"#),
            )
            .as_bytes(),
            &redactor(),
        )
        .unwrap();
        let iss = c.iss.unwrap();
        assert!(!iss.contains(leaked), "{iss}");
        assert!(iss.contains("REDACTED:"), "{iss}");
    }

    #[test]
    fn long_claims_are_cut_and_bad_payloads_keep_the_header() {
        let long = "é".repeat(300);
        let c = decode(
            jwt(r#"{"alg":"HS256"}"#, &format!(r#"{{"iss":"{long}"}}"#)).as_bytes(),
            &redactor(),
        )
        .unwrap();
        assert!(c.iss.unwrap().len() <= MAX_CLAIM_LEN);
        let c = decode(jwt(r#"{"alg":"HS256"}"#, "not json").as_bytes(), &redactor()).unwrap();
        assert_eq!(c.alg.as_deref(), Some("HS256"));
        assert_eq!(c.iss, None);
        assert!(decode(b"bm90IGpzb24.e30.sig", &redactor()).is_none());
    }
}
