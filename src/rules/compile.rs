//! Compiling rule specs into an immutable [`RuleSet`].

use std::collections::{BTreeMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_automata::{PatternID, meta};

use super::{Location, RuleError, RuleSpec, StructuredClass};
use crate::checksum::Checksum;
use crate::gate::Gate;
use crate::validate::Validators;

/// Fragments that rule regexes may use, expanded before compiling (see `patterns/README.md`).
const FRAGMENTS: &[(&str, &str)] = &[
    // A token starts where no word character precedes it, or right after a JSON escape such as
    // `\n` (whose `n` is a word character, so `\b` alone would miss `"line\nghp_..."`), or after
    // an ANSI colour code (`\x1b[31m`, ending in the word character `m`), or after a percent-encoded
    // byte (`%3Dghp_...`) or a JSON `\u00XX` escape.
    (
        "%{lb}",
        r"(?:\b{start-half}|\\[nrt]|\\u00[0-9A-Fa-f]{2}|%[0-9A-Fa-f]{2}|\x1b\[[0-9;]{0,16}m)",
    ),
    ("%{rb}", r"\b{end-half}"),
    // The end of a token whose own characters include `-`: the next byte is neither a word
    // character nor `-` (consumed, but never part of the secret), or the line ends.
    ("%{rbh}", r"(?:[^0-9A-Za-z_\-]|(?m:$))"),
    // Between a key and its value in every common rendering: `Key: v`, `"key":"v"`,
    // `\"key\":\"v\"`, `'key': 'v'`, `key=v`, `key="v"`, `Key:[v]` (Go), `Key=[v]` (Java),
    // `"key": ["v"]`, `"key"=>"v"` (Ruby).
    (
        "%{kv}",
        r#"(?:\\{0,7}["'])?(?:[ \t]{0,4}(?:=>|:)[ \t]{0,4}|=|[ \t]{1,4}=[ \t]{1,4})(?:\[[ \t]{0,2})?(?:\\{0,7}["'])?"#,
    ),
];

/// The longest anchor-free stretch a rule regex may match, in bytes. A bound is what lets the
/// streaming path find a credential across an internal buffer edge; see `pipe`.
pub const MAX_RULE_MATCH_LEN: usize = 64 * 1024;

/// A rule ready to run.
#[derive(Debug)]
pub struct CompiledRule {
    /// Unique id.
    pub id: String,
    /// Credential kind.
    pub kind: String,
    /// One-line description.
    pub description: String,
    /// The file the rule came from.
    pub file: String,
    /// Where such a secret sits.
    pub location: Location,
    /// Tie-break on identical spans.
    pub priority: i32,
    /// Matches the first line of a multi-line block.
    pub multiline_block: bool,
    /// Anchors as written.
    pub anchors: Vec<String>,
    /// The class of sensitive keys this rule names for the key-aware pass; `None` for a regex
    /// rule.
    pub structured: Option<StructuredClass>,
    /// Examples and negatives, kept for `rules check`.
    pub spec: RuleSpec,
    /// For a key-aware rule, a regex of no pattern, which matches nothing (it has no anchors
    /// either, so the scanner never runs it).
    pub(crate) regex: meta::Regex,
    pub(crate) secret_group: usize,
    pub(crate) key_group: Option<usize>,
    /// Upper bound of a match's length in bytes.
    pub(crate) max_len: usize,
    pub(crate) validators: Validators,
    pub(crate) checksum: Option<Checksum>,
    /// The secret is base64 of a credential: confirmed by scanning the decoded bytes.
    pub(crate) decode_base64: bool,
    /// A hit of one of this rule's own anchors counts only when a key/value separator follows.
    pub(crate) anchor_then_separator: bool,
}

/// An immutable, compiled rule catalogue with its literal prefilter. Cheap to share across
/// threads (`Send + Sync`); per-thread mutable state lives in [`crate::scan::ScanScratch`].
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    /// All distinct anchors (lowercased) in one automaton.
    pub(crate) prefilter: AhoCorasick,
    /// For each prefilter pattern: the rules to confirm when it is found, each with whether the
    /// pattern is one of the rule's own anchors. This includes the rules of every anchor that a
    /// leftmost-longest search could hide behind this one (an anchor inside it, or one starting
    /// inside it), so that non-overlapping search loses no candidate.
    pub(crate) triggers: Vec<Vec<(u32, bool)>>,
    /// The cheap stage in front of `prefilter`; `None` falls back to walking the automaton alone.
    pub(crate) gate: Option<Gate>,
    /// Bytes a streaming window must keep back: no match is longer than this.
    pub(crate) overlap: usize,
}

impl RuleSet {
    /// Compiles specs (each paired with its file name). Fails on the first bad rule.
    pub fn compile(specs: Vec<(String, RuleSpec)>) -> Result<RuleSet, RuleError> {
        let mut rules: Vec<CompiledRule> = Vec::with_capacity(specs.len());
        let mut ids = HashSet::new();
        for (file, spec) in specs {
            if !ids.insert(spec.id.clone()) {
                return Err(RuleError {
                    file,
                    rule: Some(spec.id),
                    reason: "duplicate rule id".into(),
                });
            }
            if let Some(class) = spec.structured
                && let Some(other) = rules.iter().find(|r| r.structured == Some(class))
            {
                return Err(RuleError {
                    file,
                    rule: Some(spec.id),
                    reason: format!(
                        "key-aware class '{}' is already named by rule '{}'",
                        class.as_str(),
                        other.id
                    ),
                });
            }
            rules.push(compile_rule(file, spec)?);
        }
        if rules.len() > u32::MAX as usize {
            return Err(RuleError {
                file: "-".into(),
                rule: None,
                reason: "too many rules".into(),
            });
        }

        // anchor (lowercase) -> rules
        let mut by_anchor: BTreeMap<Vec<u8>, Vec<u32>> = BTreeMap::new();
        for (i, rule) in rules.iter().enumerate() {
            for a in &rule.anchors {
                by_anchor
                    .entry(a.to_ascii_lowercase().into_bytes())
                    .or_default()
                    .push(i as u32);
            }
        }
        let anchors: Vec<Vec<u8>> = by_anchor.keys().cloned().collect();
        let mut triggers = Vec::with_capacity(anchors.len());
        for a in &anchors {
            let mut set: Vec<(u32, bool)> = Vec::new();
            for b in &anchors {
                if hides(a, b) {
                    set.extend(by_anchor[b].iter().map(|&r| (r, a == b)));
                }
            }
            // A rule reached both as its own anchor and through a hidden one: keep the
            // unconditional entry (`false` sorts first).
            set.sort_unstable();
            set.dedup_by_key(|(r, _)| *r);
            triggers.push(set);
        }
        let prefilter = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&anchors)
            .or_else(|_| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&anchors)
            })
            .map_err(|e| RuleError {
                file: "-".into(),
                rule: None,
                reason: format!("prefilter: {e}"),
            })?;
        let gate = Gate::new(&anchors);
        let overlap = rules.iter().map(|r| r.max_len).max().unwrap_or(0) + 16;
        Ok(RuleSet {
            rules,
            prefilter,
            triggers,
            gate,
            overlap,
        })
    }

    /// The compiled rules, in load order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The longest match any rule can produce, plus look-around margin.
    pub fn overlap(&self) -> usize {
        self.overlap
    }
}

/// True when an occurrence of `b` can start inside an occurrence of `a` (or be `a` itself), so
/// that a non-overlapping search reporting `a` could skip it.
fn hides(a: &[u8], b: &[u8]) -> bool {
    if a == b || memchr::memmem::find(a, b).is_some() {
        return true;
    }
    // a proper suffix of a is a prefix of b
    (1..a.len()).any(|i| {
        let suf = &a[i..];
        suf.len() < b.len() && b.starts_with(suf)
    })
}

fn expand_fragments(regex: &str) -> String {
    let mut out = regex.to_string();
    for (name, body) in FRAGMENTS {
        out = out.replace(name, body);
    }
    out
}

fn compile_rule(file: String, spec: RuleSpec) -> Result<CompiledRule, RuleError> {
    let fail = |reason: String| RuleError {
        file: file.clone(),
        rule: Some(spec.id.clone()),
        reason,
    };
    if spec.id.is_empty()
        || !spec
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(fail("id must be non-empty lowercase [a-z0-9._-]".into()));
    }
    if spec.kind.is_empty()
        || !spec
            .kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(fail(format!(
            "kind '{}' must be non-empty snake_case [a-z0-9_]",
            spec.kind
        )));
    }
    if let Some(class) = spec.structured {
        return compile_key_aware(file, spec, class);
    }
    if spec.anchors.is_empty() {
        return Err(fail(
            "no anchors: every rule needs at least one literal for the prefilter".into(),
        ));
    }
    for a in &spec.anchors {
        if a.len() < 3 || !a.is_ascii() {
            return Err(fail(format!("anchor {a:?} must be at least 3 ASCII bytes")));
        }
    }
    let pattern = expand_fragments(&spec.regex);
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&pattern)
        .map_err(|e| fail(format!("regex does not parse:\n{e}")))?;
    // Large counted repetitions ({1,4096}) make one NFA state per count and thrash the lazy
    // DFA, so rules write `+` and state `max_len` instead; the engine enforces it by never
    // looking further than `max_len` from an anchor.
    let max_len = match (hir.properties().maximum_len(), spec.max_len) {
        (Some(n), Some(m)) => n.min(m),
        (Some(n), None) => n,
        (None, Some(m)) => m,
        (None, None) => {
            return Err(fail(
                "regex is unbounded (uses +, * or {n,}): set max_len, the longest match in bytes".into(),
            ));
        }
    };
    if max_len > MAX_RULE_MATCH_LEN {
        return Err(fail(format!(
            "the longest match is {max_len} bytes; the limit is {MAX_RULE_MATCH_LEN}"
        )));
    }
    let regex = meta::Regex::builder()
        .configure(meta::Regex::config().utf8_empty(false))
        .build_from_hir(&hir)
        .map_err(|e| fail(format!("regex does not compile: {e}")))?;
    let info = regex.group_info();
    let secret_group = match info.to_index(PatternID::ZERO, "secret") {
        Some(g) => g,
        // A block header's secret is the lines after it, not a group.
        None if spec.multiline_block => 0,
        None => return Err(fail("regex has no capture group named 'secret'".into())),
    };
    let key_group = info.to_index(PatternID::ZERO, "key");
    let validators = Validators::from_spec(&spec.validators, spec.min_entropy).map_err(fail)?;
    if validators.sensitive_key && key_group.is_none() {
        return Err(fail(
            "validator 'sensitive_key' needs a capture group named 'key'".into(),
        ));
    }
    let checksum = match &spec.checksum {
        None => None,
        Some(name) => Some(Checksum::from_name(name).ok_or_else(|| fail(format!("unknown checksum '{name}'")))?),
    };
    let decode_base64 = match spec.decode.as_deref() {
        None => false,
        Some("base64") => true,
        Some(other) => return Err(fail(format!("unknown decode '{other}' (known: base64)"))),
    };
    let anchor_then_separator = match spec.anchor_then.as_deref() {
        None => false,
        Some("separator") => true,
        Some(other) => return Err(fail(format!("unknown anchor_then '{other}' (known: separator)"))),
    };
    Ok(CompiledRule {
        id: spec.id.clone(),
        kind: spec.kind.clone(),
        description: spec.description.clone(),
        file,
        location: spec.location,
        priority: spec.priority,
        multiline_block: spec.multiline_block,
        anchors: spec.anchors.clone(),
        structured: None,
        regex,
        secret_group,
        key_group,
        max_len,
        validators,
        checksum,
        decode_base64,
        anchor_then_separator,
        spec,
    })
}

/// A rule of the key-aware pass: it names the findings of one class of sensitive keys, and has
/// nothing that matches on its own.
fn compile_key_aware(file: String, spec: RuleSpec, class: StructuredClass) -> Result<CompiledRule, RuleError> {
    let matching = [
        ("regex", !spec.regex.is_empty()),
        ("anchors", !spec.anchors.is_empty()),
        ("max_len", spec.max_len.is_some()),
        ("decode", spec.decode.is_some()),
        ("anchor_then", spec.anchor_then.is_some()),
        ("validators", !spec.validators.is_empty()),
        ("min_entropy", spec.min_entropy.is_some()),
        ("checksum", spec.checksum.is_some()),
        ("multiline_block", spec.multiline_block),
    ];
    if let Some((field, _)) = matching.iter().find(|(_, set)| *set) {
        return Err(RuleError {
            file,
            rule: Some(spec.id),
            reason: format!(
                "a key-aware rule (structured = \"{}\") finds its values by their keys: it takes no {field}",
                class.as_str()
            ),
        });
    }
    let nothing: [&str; 0] = [];
    Ok(CompiledRule {
        id: spec.id.clone(),
        kind: spec.kind.clone(),
        description: spec.description.clone(),
        file,
        location: spec.location,
        priority: spec.priority,
        multiline_block: false,
        anchors: Vec::new(),
        structured: Some(class),
        regex: meta::Regex::new_many(&nothing).expect("a regex of no pattern"),
        secret_group: 0,
        key_group: None,
        max_len: 0,
        validators: Validators::default(),
        checksum: None,
        decode_base64: false,
        anchor_then_separator: false,
        spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_covers_substrings_and_suffix_prefix_overlaps() {
        assert!(hides(b"proxy-authorization", b"authorization"));
        assert!(hides(b"abc", b"bcd"));
        assert!(hides(b"token", b"token"));
        assert!(!hides(b"token", b"secret"));
        assert!(!hides(b"bcd", b"abc"));
    }
}
