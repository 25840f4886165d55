//! The replacement template: how a fingerprint is written in place of a secret.
//!
//! The default is `REDACTED:{kind}:{fingerprint}` (see [`crate::fingerprint`]); with a key id it
//! becomes `REDACTED:{kind}:{fingerprint}:{key_id}`, so that words made under a rotated key can
//! be told apart. A custom template must keep `{kind}` and `{fingerprint}`, and may only use
//! bytes that need no escaping in JSON strings, URLs, logfmt and header values, so that a
//! replacement never breaks the record around it.
//!
//! Redaction must stay idempotent under any template: a rule must never match our own words.
//! The default form is recognised inside the scanner (`inside_replacement`); a custom template
//! is recognised here, by a regex built from it, and only around findings (rare), so it costs
//! the clean path nothing.

use regex_automata::meta::Regex;

use crate::fingerprint::{FINGERPRINT_HEX_LEN, write_fingerprint_hex, write_replacement_word};

/// The longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 32;

/// The longest template, in bytes (placeholders included).
const MAX_TEMPLATE_LEN: usize = 128;

/// The longest kind name the recogniser accepts (rule kinds are snake_case and short).
const MAX_KIND_LEN: usize = 64;

/// Bytes a template's literal text may use: none needs escaping in a JSON string, a URL query,
/// a logfmt value or a header value, and none is a field separator there.
fn is_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_:.-<>[]()*!~|@+#".contains(&b)
}

/// Checks a key id: 1 to 32 bytes of `[A-Za-z0-9_.-]`.
pub fn check_key_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_KEY_ID_LEN {
        return Err(format!("a key id is 1 to {MAX_KEY_ID_LEN} bytes long"));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c))) {
        return Err(format!(
            "a key id may use only letters, digits, '_', '.' and '-' (found {c:?})"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Box<[u8]>),
    Kind,
    Fingerprint,
    KeyId,
}

/// A custom template, parsed.
#[derive(Debug, Clone)]
struct Template {
    parts: Vec<Part>,
    key_id: Box<[u8]>,
    /// Matches any word this template can write (any kind, any fingerprint, any key id).
    recogniser: Regex,
    /// The longest word it can write.
    max_len: usize,
}

/// How fingerprints are written. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Replacement {
    /// `None`: the default `REDACTED:{kind}:{fingerprint}`.
    template: Option<std::sync::Arc<Template>>,
}

/// The default template, as users write it.
pub const DEFAULT_TEMPLATE: &str = "REDACTED:{kind}:{fingerprint}";

/// The default template when a key id is set.
pub const DEFAULT_TEMPLATE_WITH_KEY_ID: &str = "REDACTED:{kind}:{fingerprint}:{key_id}";

impl Replacement {
    /// The replacement for `template` (default when `None`) and an optional key id. Errors say
    /// what is wrong with the template, in words fit for a config error.
    pub fn new(template: Option<&str>, key_id: Option<&str>) -> Result<Self, String> {
        if let Some(id) = key_id {
            check_key_id(id)?;
        }
        let template = match (template, key_id) {
            (None | Some(DEFAULT_TEMPLATE), None) => return Ok(Replacement::default()),
            (None, Some(_)) => DEFAULT_TEMPLATE_WITH_KEY_ID,
            (Some(t), _) => t,
        };
        let parts = parse(template)?;
        let has_key_id = parts.contains(&Part::KeyId);
        match (has_key_id, key_id) {
            (true, None) => return Err("the template shows {key_id} but no key id is set".into()),
            (false, Some(_)) => {
                return Err("a key id is set but the template does not show it: add {key_id}".into());
            }
            _ => {}
        }
        let mut pattern = String::new();
        let mut max_len = 0;
        for part in &parts {
            match part {
                Part::Literal(text) => {
                    let text = std::str::from_utf8(text).expect("literal bytes are ASCII");
                    pattern.push_str(&regex_syntax::escape(text));
                    max_len += text.len();
                }
                Part::Kind => {
                    pattern.push_str(&format!("[a-z0-9_]{{1,{MAX_KIND_LEN}}}"));
                    max_len += MAX_KIND_LEN;
                }
                Part::Fingerprint => {
                    pattern.push_str(&format!("[0-9a-f]{{{FINGERPRINT_HEX_LEN}}}"));
                    max_len += FINGERPRINT_HEX_LEN;
                }
                Part::KeyId => {
                    pattern.push_str(&format!("[A-Za-z0-9_.-]{{1,{MAX_KEY_ID_LEN}}}"));
                    max_len += MAX_KEY_ID_LEN;
                }
            }
        }
        let recogniser = Regex::new(&pattern).map_err(|e| format!("template cannot be recognised: {e}"))?;
        Ok(Replacement {
            template: Some(std::sync::Arc::new(Template {
                parts,
                key_id: key_id.unwrap_or_default().as_bytes().into(),
                recogniser,
                max_len,
            })),
        })
    }

    /// True for the default form (recognised by the scanner itself).
    pub fn is_default(&self) -> bool {
        self.template.is_none()
    }

    /// Appends the word for a secret of `kind` with `fingerprint` to `out`.
    pub fn write(&self, kind: &str, fingerprint: u64, out: &mut Vec<u8>) {
        let Some(template) = &self.template else {
            write_replacement_word(kind, fingerprint, out);
            return;
        };
        for part in &template.parts {
            match part {
                Part::Literal(text) => out.extend_from_slice(text),
                Part::Kind => out.extend_from_slice(kind.as_bytes()),
                Part::Fingerprint => write_fingerprint_hex(fingerprint, out),
                Part::KeyId => out.extend_from_slice(&template.key_id),
            }
        }
    }

    /// True when position `at` of `hay` lies inside a word a custom template can write (false
    /// for the default form, which the scanner recognises on its own).
    pub fn covers(&self, hay: &[u8], at: usize) -> bool {
        let Some(template) = &self.template else {
            return false;
        };
        let from = at.saturating_sub(template.max_len);
        let to = (at + template.max_len).min(hay.len());
        template
            .recogniser
            .find_iter(&hay[from..to])
            .any(|m| from + m.start() <= at && at < from + m.end())
    }
}

/// Equal when both write the same words.
impl PartialEq for Replacement {
    fn eq(&self, other: &Replacement) -> bool {
        match (&self.template, &other.template) {
            (None, None) => true,
            (Some(a), Some(b)) => a.parts == b.parts && a.key_id == b.key_id,
            _ => false,
        }
    }
}

impl Eq for Replacement {}

fn parse(template: &str) -> Result<Vec<Part>, String> {
    if template.len() > MAX_TEMPLATE_LEN {
        return Err(format!("a template is at most {MAX_TEMPLATE_LEN} bytes long"));
    }
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let close = after
                .find('}')
                .ok_or_else(|| "unclosed '{' in the template".to_string())?;
            let part = match &after[..close] {
                "kind" => Part::Kind,
                "fingerprint" => Part::Fingerprint,
                "key_id" => Part::KeyId,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{other}}} (known: {{kind}}, {{fingerprint}}, {{key_id}})"
                    ));
                }
            };
            if parts.contains(&part) {
                return Err(format!("placeholder {{{}}} appears twice", &after[..close]));
            }
            if matches!(parts.last(), Some(p) if !matches!(p, Part::Literal(_))) {
                return Err("placeholders must be separated by literal text".into());
            }
            parts.push(part);
            rest = &after[close + 1..];
            continue;
        }
        let end = rest.find('{').unwrap_or(rest.len());
        let literal = &rest[..end];
        if let Some(c) = literal.chars().find(|c| !c.is_ascii() || !is_literal_byte(*c as u8)) {
            return Err(format!(
                "the template may not use {c:?}: it would need escaping in JSON, URLs or logfmt (allowed: letters, digits and _:.-<>[]()*!~|@+#)"
            ));
        }
        parts.push(Part::Literal(literal.as_bytes().into()));
        rest = &rest[end..];
    }
    for (needed, name) in [(Part::Kind, "{kind}"), (Part::Fingerprint, "{fingerprint}")] {
        if !parts.contains(&needed) {
            return Err(format!("the template must show {name}"));
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_fingerprint_word() {
        let r = Replacement::new(None, None).unwrap();
        assert!(r.is_default());
        let mut out = Vec::new();
        r.write("jwt", 0x5f1c0e2a9b7d3c41, &mut out);
        assert_eq!(out, b"REDACTED:jwt:5f1c0e2a9b7d3c41");
        assert!(Replacement::new(Some(DEFAULT_TEMPLATE), None).unwrap().is_default());
    }

    #[test]
    fn key_id_extends_the_default() {
        let r = Replacement::new(None, Some("k2026-11")).unwrap();
        let mut out = b"x=".to_vec();
        r.write("jwt", 0x5f1c0e2a9b7d3c41, &mut out);
        assert_eq!(out, b"x=REDACTED:jwt:5f1c0e2a9b7d3c41:k2026-11");
        for at in 2..out.len() {
            assert!(r.covers(&out, at), "{at}");
        }
        assert!(!r.covers(&out, 1));
    }

    #[test]
    fn custom_template_written_and_recognised() {
        let r = Replacement::new(Some("[{kind}#{fingerprint}]"), None).unwrap();
        let mut out = b"password=".to_vec();
        r.write("password", 0xabc, &mut out);
        assert_eq!(out, b"password=[password#0000000000000abc]");
        assert!(r.covers(&out, 9));
        assert!(r.covers(&out, out.len() - 1));
        assert!(!r.covers(&out, 8));
    }

    #[test]
    fn bad_templates_say_why() {
        let err = |t: &str, id: Option<&str>| Replacement::new(Some(t), id).unwrap_err();
        assert!(err("REDACTED:{kind}", None).contains("{fingerprint}"));
        assert!(err("{fingerprint}", None).contains("{kind}"));
        assert!(err("<{kind}:{fp}>", None).contains("unknown placeholder {fp}"));
        assert!(err("\"{kind}:{fingerprint}\"", None).contains("'\"'"));
        assert!(err("{kind} {fingerprint}", None).contains("' '"));
        assert!(err("{kind}{fingerprint}", None).contains("separated"));
        assert!(err("{kind}:{fingerprint}:{kind}", None).contains("twice"));
        assert!(err("{kind}:{fingerprint", None).contains("unclosed"));
        assert!(err("{kind}:{fingerprint}:{key_id}", None).contains("no key id"));
        assert!(err("{kind}:{fingerprint}", Some("k1")).contains("add {key_id}"));
        assert!(Replacement::new(None, Some("bad id")).unwrap_err().contains("' '"));
        assert!(Replacement::new(None, Some("")).is_err());
    }
}
