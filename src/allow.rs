//! Allowlists: secrets that are never redacted, such as vendors' documented example keys
//! (`AKIAIOSFODNN7EXAMPLE`) that test suites log on purpose.
//!
//! An entry is an exact value or a regex that must match the *whole* secret (a partial match
//! would let far more through than its author meant). Both are compared with the secret as
//! decoded for fingerprinting (JSON escapes and percent-encoding undone), so an entry written
//! once covers the token in a header, a URL and an escaped JSON string alike. The check runs
//! only on findings, never on clean bytes.

use std::collections::HashSet;

use regex_automata::meta::Regex;

use crate::fingerprint::normalize;

/// Values and patterns never redacted. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    values: HashSet<Box<[u8]>>,
    patterns: Option<Regex>,
}

/// A pattern that does not compile: its index in the list and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern {
    /// Index in the pattern list.
    pub index: usize,
    /// The regex compiler's message.
    pub reason: String,
}

impl Allowlist {
    /// An allowlist of exact `values` and whole-secret `patterns`.
    pub fn new(values: &[String], patterns: &[String]) -> Result<Self, BadPattern> {
        let anchored: Vec<String> = patterns.iter().map(|p| format!(r"\A(?:{p})\z")).collect();
        for (index, pattern) in anchored.iter().enumerate() {
            Regex::new(pattern).map_err(|e| BadPattern {
                index,
                reason: e.to_string(),
            })?;
        }
        let patterns = if anchored.is_empty() {
            None
        } else {
            Some(Regex::new_many(&anchored).map_err(|e| BadPattern {
                index: 0,
                reason: e.to_string(),
            })?)
        };
        Ok(Allowlist {
            values: values.iter().map(|v| v.as_bytes().into()).collect(),
            patterns,
        })
    }

    /// True when nothing is allowed (the redactor then skips the check).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.patterns.is_none()
    }

    /// True when `secret` (as found, escapes and all) is allowed. `decode` is scratch space.
    pub fn allows(&self, secret: &[u8], decode: &mut Vec<u8>) -> bool {
        let secret = normalize(secret, decode);
        self.values.contains(secret) || self.patterns.as_ref().is_some_and(|p| p.is_match(secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(values: &[&str], patterns: &[&str]) -> Allowlist {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Allowlist::new(&s(values), &s(patterns)).unwrap()
    }

    #[test]
    fn exact_values_and_whole_matches() {
        let a = list(&["AKIAIOSFODNN7EXAMPLE"], &["sk_test_[0-9a-zA-Z]{8,}"]);
        let d = &mut Vec::new();
        assert!(a.allows(b"AKIAIOSFODNN7EXAMPLE", d));
        assert!(!a.allows(b"AKIAIOSFODNN7EXAMPLF", d));
        assert!(a.allows(b"sk_test_abcdEFGH1234", d));
        // A pattern must cover the whole secret.
        assert!(!a.allows(b"xsk_test_abcdEFGH1234", d));
        assert!(!a.allows(b"sk_test_abcdEFGH1234!", d));
        // Escaped forms are compared decoded.
        assert!(a.allows(br"AKIAIOSFODNN7EXAMPL\u0045", d));
        assert!(!list(&[], &[]).allows(b"x", d));
        assert!(list(&[], &[]).is_empty());
    }

    #[test]
    fn bad_pattern_is_named_by_index() {
        let e = Allowlist::new(&[], &["ok".into(), "(unclosed".into()]).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(!e.reason.is_empty());
    }
}
