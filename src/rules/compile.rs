//! Compiling rule specs into an immutable [`RuleSet`].

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex_automata::meta;
use regex_syntax::hir::{Hir, HirKind};

use super::split::SecretSplit;
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
    pub(crate) regex: LazyRegex,
    pub(crate) secret_group: usize,
    pub(crate) key_group: Option<usize>,
    /// Upper bound of a match's length in bytes.
    pub(crate) max_len: usize,
    /// See [`CompiledRule::lead`]; proved on first use.
    lead: OnceLock<usize>,
    pub(crate) validators: Validators,
    pub(crate) checksum: Option<Checksum>,
    /// The secret is base64 of a credential: confirmed by scanning the decoded bytes.
    pub(crate) decode_base64: bool,
    /// A hit of one of this rule's own anchors counts only when a key/value separator follows.
    pub(crate) anchor_then_separator: bool,
}

/// A rule's regex, parsed and checked at load, built on its first use.
///
/// Why lazy: building the meta regexes of the 180 built-in rules took 29 of the 47 ms of
/// start-up (measured with timers around each phase), and a log stream hits only a handful of
/// rules. A short pipe, or a replica restarted often, should not pay for rules it never runs.
/// Nothing is lost in checking: the pattern is parsed, bounded and its groups found at load, so a
/// bad pattern is still an error at start-up that names the file and rule; a rule from any file
/// other than the embedded catalogue is also built at load (see [`compile_rule`]), so one that
/// parses but does not build (too large) fails there too. The embedded catalogue is built whole by
/// `rules check` and by the test `every_builtin_regex_builds_with_the_groups_found_at_load`.
#[derive(Debug)]
pub(crate) struct LazyRegex {
    /// The patterns (one for a regex rule, none for a key-aware rule).
    hirs: Vec<Hir>,
    built: OnceLock<meta::Regex>,
    /// The DFAs that find the `secret` group without the capture engine, built on first use.
    split: OnceLock<Option<SecretSplit>>,
}

impl LazyRegex {
    fn new(hirs: Vec<Hir>) -> Self {
        LazyRegex {
            hirs,
            built: OnceLock::new(),
            split: OnceLock::new(),
        }
    }

    /// The secret-group split of the one pattern, when it has the shape (see [`SecretSplit`]).
    pub(crate) fn split(&self) -> Option<&SecretSplit> {
        self.split
            .get_or_init(|| match self.hirs.as_slice() {
                [hir] => SecretSplit::new(hir),
                _ => None,
            })
            .as_ref()
    }

    /// The regex, or why it does not build.
    fn build(&self) -> Result<meta::Regex, String> {
        meta::Regex::builder()
            .configure(meta::Regex::config().utf8_empty(false))
            .build_many_from_hir(&self.hirs)
            .map_err(|e| e.to_string())
    }

    /// Builds now; why a regex does not build.
    fn force(&self) -> Result<(), String> {
        if self.built.get().is_none() {
            let regex = self.build()?;
            // Another thread may have won the race; its regex is the same.
            let _ = self.built.set(regex);
        }
        Ok(())
    }

    /// The regex, built on the first call.
    pub(crate) fn get(&self) -> &meta::Regex {
        self.built.get_or_init(|| {
            self.build().expect(
                "a regex that fails to build is refused at load, or is in the embedded catalogue, which is tested",
            )
        })
    }
}

/// The index of the capture group named `name` in a pattern, as the built regex numbers its
/// groups (the HIR's own capture indices; group 0 is the whole match).
pub(super) fn group_index(hir: &Hir, name: &str) -> Option<usize> {
    match hir.kind() {
        HirKind::Capture(cap) if cap.name.as_deref() == Some(name) => Some(cap.index as usize),
        HirKind::Capture(cap) => group_index(&cap.sub, name),
        HirKind::Repetition(rep) => group_index(&rep.sub, name),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().find_map(|h| group_index(h, name)),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => None,
    }
}

/// A rule to confirm when an anchor is found, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Trigger {
    pub(crate) rule: u32,
    pub(crate) when: When,
}

/// When a [`Trigger`] fires. The order is the order of precedence for one rule: an `Always`
/// entry makes the others moot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum When {
    /// One of the rule's anchors lies inside the one found: it is there.
    Always,
    /// The anchor found is one of the rule's own: always, unless the rule asks for a separator
    /// after it (`anchor_then`).
    Own,
    /// One of the rule's anchors (prefilter pattern `anchor`) may start `offset` bytes into the
    /// one found and run past its end: when the haystack holds it there. Why checked, not
    /// assumed: a one-byte overlap (`access_token` ending in the `n` of `npm_`) would otherwise
    /// run every rule whose anchor starts with `n` at each `access_token`; checking cut the
    /// sample corpus's regex runs from 226,427 to 61,177 (BENCHMARKS.md).
    Overlap { offset: u8, anchor: u32 },
}

/// An immutable, compiled rule catalogue with its literal prefilter. Cheap to share across
/// threads (`Send + Sync`); per-thread mutable state lives in [`crate::scan::ScanScratch`].
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    /// All distinct anchors (lowercased) in one automaton.
    pub(crate) prefilter: AhoCorasick,
    /// For each prefilter pattern: the rules to confirm when it is found, sorted by rule. This
    /// includes the rules of every anchor that a leftmost-longest search could hide behind this
    /// one (an anchor inside it, or one starting inside it), so that non-overlapping search loses
    /// no candidate.
    pub(crate) triggers: Vec<Vec<Trigger>>,
    /// The prefilter's patterns (lowercase), by pattern id.
    pub(crate) anchors: Vec<Vec<u8>>,
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
        let (anchors, anchor_rules): (Vec<Vec<u8>>, Vec<Vec<u32>>) = by_anchor.into_iter().unzip();
        let mut triggers = Vec::with_capacity(anchors.len());
        for a in &anchors {
            let mut set: Vec<Trigger> = Vec::new();
            for (offset, b) in hidden_by(a, &anchors) {
                // An anchor can overlap itself (`nomad-tokenomad-token`): only offset 0 is `Own`.
                let when = if offset == 0 && anchors[b] == *a {
                    When::Own
                } else if offset + anchors[b].len() <= a.len() {
                    When::Always
                } else {
                    When::Overlap {
                        offset: u8::try_from(offset).map_err(|_| RuleError {
                            file: "-".into(),
                            rule: None,
                            reason: format!("anchor {:?} is longer than 255 bytes", String::from_utf8_lossy(a)),
                        })?,
                        anchor: b as u32,
                    }
                };
                set.extend(anchor_rules[b].iter().map(|&rule| Trigger { rule, when }));
            }
            set.sort_unstable();
            set.dedup();
            // A rule with an `Always` entry (sorted first) needs no other.
            set.dedup_by(|later, first| later.rule == first.rule && first.when == When::Always);
            triggers.push(set);
        }
        // A contiguous NFA, not a DFA: the automaton runs only from a confirmed gate candidate to
        // the anchor's end (see `first_anchor`), a few bytes, while building the DFA cost 3.5 ms
        // of start-up.
        let prefilter = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&anchors)
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
            anchors,
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

/// The anchors `b` of `sorted` (sorted, distinct) that `a` hides (see [`hides`]), each with the
/// offset in `a` where it may start, as `(offset, index)`.
///
/// Why not `hides` on every pair: with 365 anchors that took 4.5 ms of start-up. An anchor that
/// starts at `a[i..]` either begins with `a[i..]` or is a prefix of it, so it begins with
/// `a[i..i + 3]` (anchors are at least three bytes): a binary search finds the few that do.
fn hidden_by<'a>(a: &'a [u8], sorted: &'a [Vec<u8>]) -> impl Iterator<Item = (usize, usize)> + 'a {
    (0..a.len()).flat_map(move |i| {
        let head = &a[i..(i + 3).min(a.len())];
        let first = sorted.partition_point(|b| b.as_slice() < head);
        (first..sorted.len())
            .take_while(move |&b| sorted[b].starts_with(head))
            .filter(move |&b| starts_at(a, i, &sorted[b]))
            .map(move |b| (i, b))
    })
}

/// True when an occurrence of `b` can start inside an occurrence of `a` (or be `a` itself), so
/// that a non-overlapping search reporting `a` could skip it.
#[cfg(test)]
fn hides(a: &[u8], b: &[u8]) -> bool {
    (0..a.len()).any(|i| starts_at(a, i, b))
}

/// Whether an occurrence of `b` can start at `a[i]` inside an occurrence of `a`.
fn starts_at(a: &[u8], i: usize, b: &[u8]) -> bool {
    let rest = &a[i..];
    if rest.len() >= b.len() {
        rest.starts_with(b)
    } else {
        // a proper suffix of a is a prefix of b
        i > 0 && b.starts_with(rest)
    }
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
    let secret_group = match group_index(&hir, "secret") {
        Some(g) => g,
        // A block header's secret is the lines after it, not a group.
        None if spec.multiline_block => 0,
        None => return Err(fail("regex has no capture group named 'secret'".into())),
    };
    let key_group = group_index(&hir, "key");
    let regex = LazyRegex::new(vec![hir]);
    if !file.starts_with(super::BUILTIN_PREFIX) {
        regex
            .force()
            .map_err(|e| fail(format!("regex does not compile: {e}")))?;
    }
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
    // The fields read from `spec` are evaluated before the base takes it.
    Ok(CompiledRule {
        multiline_block: spec.multiline_block,
        anchors: spec.anchors.clone(),
        regex,
        secret_group,
        key_group,
        max_len,
        validators,
        checksum,
        decode_base64,
        anchor_then_separator,
        ..CompiledRule::matching_nothing(file, spec, None)
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
    Ok(CompiledRule::matching_nothing(file, spec, Some(class)))
}

impl CompiledRule {
    /// Upper bound of how far before the first occurrence of one of the rule's anchors a match
    /// can start, at most `max_len` (see [`super::lead`]): the left edge of a regex window.
    /// Proved on the rule's first window, not at load: proving all 180 took 7.6 M instructions,
    /// an eighth of start-up (callgrind), and a stream meets few rules.
    pub(crate) fn lead(&self) -> usize {
        *self.lead.get_or_init(|| {
            let lowercase: Vec<Vec<u8>> = self
                .anchors
                .iter()
                .map(|a| a.to_ascii_lowercase().into_bytes())
                .collect();
            let proved = match self.regex.hirs.as_slice() {
                [hir] => super::lead::lead(hir, &lowercase),
                _ => None,
            };
            proved.map_or(self.max_len, |n| n.min(self.max_len))
        })
    }

    /// A rule named by `spec` that matches nothing on its own: a key-aware rule as it is, and
    /// the base that [`compile_rule`] fills in for a regex rule.
    fn matching_nothing(file: String, spec: RuleSpec, structured: Option<StructuredClass>) -> CompiledRule {
        CompiledRule {
            id: spec.id.clone(),
            kind: spec.kind.clone(),
            description: spec.description.clone(),
            file,
            location: spec.location,
            priority: spec.priority,
            multiline_block: false,
            anchors: Vec::new(),
            structured,
            regex: LazyRegex::new(Vec::new()),
            secret_group: 0,
            key_group: None,
            max_len: 0,
            lead: OnceLock::new(),
            validators: Validators::default(),
            checksum: None,
            decode_base64: false,
            anchor_then_separator: false,
            spec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_regex_builds_with_the_groups_found_at_load() {
        let sources = crate::rules::builtin_sources();
        let rules = crate::rules::compile_selected(&sources, &crate::rules::Selection::default()).unwrap();
        let mut regex_rules = 0;
        for rule in rules.rules() {
            assert!(rule.regex.built.get().is_none(), "{} was built at load", rule.id);
            rule.regex.force().unwrap_or_else(|e| panic!("{}: {e}", rule.id));
            if rule.structured.is_some() {
                continue;
            }
            regex_rules += 1;
            let info = rule.regex.get().group_info();
            let secret = info.to_index(regex_automata::PatternID::ZERO, "secret");
            assert_eq!(secret.unwrap_or(0), rule.secret_group, "{}", rule.id);
            assert_eq!(
                info.to_index(regex_automata::PatternID::ZERO, "key"),
                rule.key_group,
                "{}",
                rule.id
            );
        }
        assert!(regex_rules > 150, "{regex_rules} regex rules");
    }

    /// The bound [`super::super::lead`] proves, checked on every match of every example and
    /// negative of the catalogue: an anchor occurrence starts within `lead` bytes of the match's
    /// start and lies inside it.
    #[test]
    fn every_match_in_the_catalogue_samples_holds_an_anchor_within_its_lead() {
        let rules = crate::rules::compile_sources(&crate::rules::builtin_sources()).unwrap();
        let mut checked = 0;
        let mut bounded = 0;
        for rule in rules.rules().iter().filter(|r| r.structured.is_none()) {
            if rule.lead() >= rule.max_len {
                continue;
            }
            bounded += 1;
            let samples = rule.spec.examples.iter().map(|e| &e.input).chain(&rule.spec.negatives);
            for sample in samples {
                let hay = sample.as_bytes();
                for m in rule.regex.get().find_iter(hay) {
                    checked += 1;
                    let found = (m.start()..=(m.start() + rule.lead()).min(m.end())).any(|p| {
                        rule.anchors.iter().any(|a| {
                            hay.get(p..p + a.len())
                                .is_some_and(|w| p + a.len() <= m.end() && w.eq_ignore_ascii_case(a.as_bytes()))
                        })
                    });
                    assert!(
                        found,
                        "{}: lead {} in {sample:?} at {:?}",
                        rule.id,
                        rule.lead(),
                        m.range()
                    );
                }
            }
        }
        assert!(bounded > 100, "{bounded} rules with a bound");
        assert!(checked > 200, "{checked} matches checked");
    }

    fn rule_file(regex: &str) -> String {
        format!(
            "[[rules]]\nid = \"t.big\"\nkind = \"api_key\"\ndescription = \"d\"\nanchors = [\"tok_\"]\nregex = '''{regex}'''\n"
        )
    }

    #[test]
    fn a_rule_file_regex_that_parses_but_does_not_build_fails_at_load() {
        // Each repetition is a state with 64 ranges: about 30 MB of NFA, past the 10 MB limit,
        // while the longest match (60,004 bytes) stays within MAX_RULE_MATCH_LEN.
        let sparse: String = (1u8..128).step_by(2).map(|b| format!("\\x{b:02x}")).collect();
        let source = crate::rules::RuleSource {
            name: "mine.toml".into(),
            text: rule_file(&format!("tok_(?<secret>[{sparse}]{{60000}})")),
        };
        let err = crate::rules::compile_selected(&[source], &crate::rules::Selection::default()).unwrap_err();
        assert_eq!(
            (err.file.as_str(), err.rule.as_deref()),
            ("mine.toml", Some("t.big")),
            "{}",
            err.reason
        );
        assert!(err.reason.starts_with("regex does not compile"), "{}", err.reason);
        // The same regex from a file that is not the embedded catalogue, but small: built at load.
        let source = crate::rules::RuleSource {
            name: "mine.toml".into(),
            text: rule_file("tok_(?<secret>[a-z]{8})"),
        };
        let rules = crate::rules::compile_selected(&[source], &crate::rules::Selection::default()).unwrap();
        assert!(rules.rules()[0].regex.built.get().is_some());
    }

    #[test]
    fn hides_covers_substrings_and_suffix_prefix_overlaps() {
        assert!(hides(b"proxy-authorization", b"authorization"));
        assert!(hides(b"abc", b"bcd"));
        assert!(hides(b"token", b"token"));
        assert!(!hides(b"token", b"secret"));
        assert!(!hides(b"bcd", b"abc"));
        // A longer anchor that starts with this one is found by leftmost-longest itself.
        assert!(!hides(b"tok", b"token"));
        assert!(hides(b"xtok", b"token"));
    }

    #[test]
    fn hidden_by_finds_what_hides_finds_on_the_builtin_anchors() {
        let sources = crate::rules::builtin_sources();
        let rules = crate::rules::compile_selected(&sources, &crate::rules::Selection::default()).unwrap();
        let mut anchors: Vec<Vec<u8>> = rules
            .rules()
            .iter()
            .flat_map(|r| r.anchors.iter().map(|a| a.to_ascii_lowercase().into_bytes()))
            .collect();
        // Short ones too, whose suffixes of one and two bytes take the search's other branch.
        anchors.extend([b"abc".to_vec(), b"bcd".to_vec(), b"cde".to_vec(), b"tok".to_vec()]);
        anchors.sort();
        anchors.dedup();
        let mut pairs = 0;
        for a in &anchors {
            let mut fast: Vec<usize> = hidden_by(a, &anchors).map(|(_, b)| b).collect();
            fast.sort_unstable();
            fast.dedup();
            let slow: Vec<usize> = (0..anchors.len()).filter(|&b| hides(a, &anchors[b])).collect();
            assert_eq!(fast, slow, "{}", String::from_utf8_lossy(a));
            pairs += slow.len();
        }
        assert!(pairs > anchors.len(), "some anchor hides another");
    }
}
