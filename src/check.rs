//! The rule checker: runs every rule's examples and negatives through the full redactor. One
//! checker serves `cargo test` and `tokenscrub rules check`.

use regex_automata::Input;

use crate::fingerprint::{FINGERPRINT_HEX_LEN, REPLACEMENT_PREFIX};
use crate::redact::Redactor;
use crate::rules::CompiledRule;

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    /// The rule file.
    pub file: String,
    /// The rule id.
    pub rule: String,
    /// What went wrong.
    pub what: String,
}

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: rule '{}': {}", self.file, self.rule, self.what)
    }
}

/// Counts of what was checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Rules checked.
    pub rules: usize,
    /// Examples run.
    pub examples: usize,
    /// Negatives run.
    pub negatives: usize,
}

/// Checks the rules for which `select` is true (all rules of the redactor take part in the
/// redaction). For each example: the full redactor gives the expected output, the rule alone
/// matches it, every match of the rule contains an anchor, and redacting the output again
/// changes nothing. For each negative: neither the rule alone nor the full redactor changes it.
/// A key-aware rule (`structured = ...`) is "alone" the key-aware pass's findings it names.
/// Rules without an example fail: a rule nobody has seen work is not trusted.
pub fn check_rules(redactor: &Redactor, select: impl Fn(&CompiledRule) -> bool) -> (CheckSummary, Vec<CheckFailure>) {
    let mut failures = Vec::new();
    let mut summary = CheckSummary::default();
    for rule in redactor.rules().rules().iter().filter(|r| select(r)) {
        summary.rules += 1;
        let mut fail = |what: String| {
            failures.push(CheckFailure {
                file: rule.file.clone(),
                rule: rule.id.clone(),
                what,
            })
        };
        if rule.spec.examples.is_empty() {
            fail("has no examples".into());
        }
        for (i, ex) in rule.spec.examples.iter().enumerate() {
            summary.examples += 1;
            let out = redactor.redact(ex.input.as_bytes());
            let shown = strip_fingerprints(&out);
            let base_ok = shown == ex.output.as_bytes();
            if !base_ok {
                fail(format!(
                    "example {}: expected\n    {}\n  got\n    {}",
                    i + 1,
                    ex.output,
                    String::from_utf8_lossy(&shown)
                ));
            }
            // The same example at the end of a line (LF and CRLF) must give the same result: a
            // rule whose boundary needs the next byte must see it across the line end.
            for eol in ["\n", "\r\n"].into_iter().filter(|_| base_ok) {
                let with_eol = redactor.redact(format!("{}{eol}", ex.input).as_bytes());
                if strip_fingerprints(&with_eol) != format!("{}{eol}", ex.output).as_bytes() {
                    fail(format!("example {}: differs when followed by {:?}", i + 1, eol));
                }
            }
            let again = redactor.redact(&out);
            if again != out {
                fail(format!("example {}: redacting the output again changes it", i + 1));
            }
            let alone = isolated_matches(redactor, rule, ex.input.as_bytes());
            if alone.is_empty() && !rule.multiline_block {
                fail(format!("example {}: the rule alone does not match it", i + 1));
            }
            for (ms, me) in alone.into_iter().filter(|_| rule.structured.is_none()) {
                let m = &ex.input.as_bytes()[ms..me];
                if !rule.anchors.iter().any(|a| contains_ignore_case(m, a.as_bytes())) {
                    fail(format!("example {}: a match contains none of the anchors", i + 1));
                }
            }
        }
        for (i, neg) in rule.spec.negatives.iter().enumerate() {
            summary.negatives += 1;
            if !rule.multiline_block && !isolated_matches(redactor, rule, neg.as_bytes()).is_empty() {
                fail(format!("negative {}: the rule matches {:?}", i + 1, neg));
            }
            let out = redactor.redact(neg.as_bytes());
            if out != neg.as_bytes() {
                fail(format!(
                    "negative {}: changed to {:?}",
                    i + 1,
                    String::from_utf8_lossy(&out)
                ));
            }
        }
    }
    (summary, failures)
}

/// Whole-match spans of the rule's accepted matches in `hay`, ignoring the prefilter. For a
/// key-aware rule, the spans of the key-aware pass's findings that it names.
fn isolated_matches(redactor: &Redactor, rule: &CompiledRule, hay: &[u8]) -> Vec<(usize, usize)> {
    let rules = redactor.rules();
    let index = rules
        .rules()
        .iter()
        .position(|r| std::ptr::eq(r, rule))
        .expect("rule of this redactor") as u32;
    if rule.structured.is_some() {
        let mut findings = Vec::new();
        if let Some(pass) = redactor.structured() {
            pass.find(hay, 0..hay.len(), &mut findings);
        }
        return findings
            .iter()
            .filter(|f| f.rule == index)
            .map(|f| (f.start, f.end))
            .collect();
    }
    let regex = rule.regex.get();
    let mut cache = regex.create_cache();
    let mut caps = regex.create_captures();
    let mut input = Input::new(hay);
    let mut found = Vec::new();
    loop {
        regex.search_captures_with(&mut cache, &input, &mut caps);
        let Some(m) = caps.get_match() else { break };
        if rules.confirm(index, hay, &caps).is_some() {
            found.push((m.start(), m.end()));
        }
        let next = m.end().max(m.start() + 1);
        if next > hay.len() {
            break;
        }
        input.set_start(next);
    }
    found
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Rewrites each `REDACTED:<kind>:<hex>` as `REDACTED:<kind>`, the form examples are written in.
pub fn strip_fingerprints(out: &[u8]) -> Vec<u8> {
    let mut result = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if out[i..].starts_with(REPLACEMENT_PREFIX) {
            let mut j = i + REPLACEMENT_PREFIX.len();
            while j < out.len() && (out[j].is_ascii_lowercase() || out[j].is_ascii_digit() || out[j] == b'_') {
                j += 1;
            }
            let hex_end = j + 1 + FINGERPRINT_HEX_LEN;
            if j < out.len()
                && out[j] == b':'
                && hex_end <= out.len()
                && out[j + 1..hex_end].iter().all(u8::is_ascii_hexdigit)
            {
                result.extend_from_slice(&out[i..j]);
                i = hex_end;
                continue;
            }
        }
        result.push(out[i]);
        i += 1;
    }
    result
}
