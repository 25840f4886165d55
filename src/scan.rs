//! Scanning: a literal prefilter over all rule anchors, then each triggered rule's regex, run
//! only on the line around the anchor.
//!
//! Contract (as in regex-automata's prefilters): the prefilter has **no false negatives**. Every
//! match of a rule regex contains one of the rule's anchors (ASCII case-insensitively); the
//! anchors of all rules sit in one Aho-Corasick automaton searched leftmost-longest, and each
//! anchor triggers the rules of every anchor it could hide: always for an anchor inside it, and
//! for one that starts inside it and runs past its end, when the haystack holds that anchor
//! there (see `RuleSet::triggers`). A
//! triggered rule's regex runs on `[anchor - max_len, anchor_end + max_len]`, clamped to the
//! line: rules never match across a line end. The only cross-line construct is a multi-line
//! block (a PEM private key), tracked in [`ScanState`].
//!
//! A line without an anchor costs one pass of the prefilter: no allocation and no regex run.

use std::ops::Range;

use aho_corasick::Input as AcInput;
use memchr::{memchr, memmem, memrchr};
use regex_automata::{Anchored, Input, meta, util::captures::Captures};

use crate::checksum::ChecksumResult;
use crate::fingerprint::inside_replacement;
use crate::rules::{Location, RuleSet, SecretSplit, SplitCache, Trigger, When};

/// A secret found in a haystack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// Start of the secret (byte offset in the haystack).
    pub start: usize,
    /// End of the secret (exclusive).
    pub end: usize,
    /// Index of the rule that names the kind (in [`RuleSet::rules`]).
    pub rule: u32,
    /// Where the secret sits; on identical spans, the most specific location among the rules
    /// that found it.
    pub location: Location,
    /// The rule's checksum verdict.
    pub checksum: ChecksumResult,
    /// `Some(level)`: the span is a bare JSON number under a sensitive key, in a document
    /// embedded `level` times in JSON strings (0: the record itself). Its replacement is written
    /// in double quotes escaped for that level (`"`, `\"`, `\\\"`; see
    /// [`crate::Redactor::write_word`]), so the record and every document embedded in it stay
    /// valid JSON. `None`: the replacement is written as is.
    pub quoted: Option<u8>,
}

/// Lines of a multi-line block still to treat as secret (bounded, so that a missing end marker
/// cannot swallow a whole log).
const MAX_BLOCK_LINES: u32 = 256;

/// State carried from one scanned region to the next: the open multi-line block, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanState {
    block: Option<OpenBlock>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenBlock {
    rule: u32,
    lines_left: u32,
}

impl ScanState {
    /// True while inside a multi-line block (a PEM body).
    pub fn in_block(&self) -> bool {
        self.block.is_some()
    }
}

/// Per-worker mutable scratch: regex caches and buffers. Create one per thread with
/// [`ScanScratch::new`]; it is reused for every scan and never shared.
#[derive(Debug)]
pub struct ScanScratch {
    caches: Vec<Option<RuleCache>>,
    line: LineWindows,
}

/// One rule's search state for one thread.
#[derive(Debug)]
struct RuleCache {
    regex: meta::Cache,
    captures: Captures,
    /// Set when the rule's secret is found without the capture engine (see [`SecretSplit`]).
    split: Option<SplitCache>,
}

/// The regex windows of one line, and what queuing them needs to remember.
#[derive(Debug, Default)]
struct LineWindows {
    windows: Vec<Window>,
    /// For each `anchor_then` rule met on the line: the start of the first hit that is or hides
    /// one of its anchors, whether or not a separator follows (see `push_windows`).
    first_seen: Vec<(u32, usize)>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    rule: u32,
    lo: usize,
    hi: usize,
    /// The end of the anchor hit that triggered the window. Every match holds an occurrence of
    /// one of its rule's anchors, which starts inside a hit that triggers the rule (see
    /// `push_windows`); so a search that would start at or after the end of every such hit
    /// cannot find another match.
    hit_end: usize,
}

impl ScanScratch {
    /// Scratch space for scanning with `rules`.
    pub fn new(rules: &RuleSet) -> Self {
        ScanScratch {
            caches: (0..rules.rules.len()).map(|_| None).collect(),
            line: LineWindows::default(),
        }
    }
}

impl RuleSet {
    /// Appends to `out` every finding in `hay[range]` (offsets are into `hay`; bytes of `hay`
    /// outside `range` are context for look-around only). Findings may overlap: see
    /// [`resolve_overlaps`].
    pub fn scan(
        &self,
        hay: &[u8],
        range: Range<usize>,
        state: &mut ScanState,
        scratch: &mut ScanScratch,
        out: &mut Vec<Finding>,
    ) {
        self.scan_at_depth(hay, range, state, scratch, out, false);
    }

    /// `nested` is true while confirming a decoded wrapping: wrappings do not nest further.
    fn scan_at_depth(
        &self,
        hay: &[u8],
        range: Range<usize>,
        state: &mut ScanState,
        scratch: &mut ScanScratch,
        out: &mut Vec<Finding>,
        nested: bool,
    ) {
        if scratch.caches.len() != self.rules.len() {
            *scratch = ScanScratch::new(self);
        }
        let end = range.end;
        let mut pos = range.start;
        while pos < end {
            if state.block.is_some() {
                pos = self.block_lines(hay, pos, end, state, out);
                continue;
            }
            let Some(m) = self.first_anchor(hay, pos, end) else {
                break;
            };
            let line_lo = memrchr(b'\n', &hay[range.start..m.start()]).map_or(range.start, |i| range.start + i + 1);
            let line_hi = memchr(b'\n', &hay[m.end()..end]).map_or(end, |i| m.end() + i);
            self.line_windows(hay, m, line_lo..line_hi, &mut scratch.line);
            let line_findings = out.len();
            self.confirm_line(hay, line_hi, state, scratch, out, nested);
            // Each line's findings in their final order, so that the whole list comes out
            // sorted (lines come in order) and `resolve_overlaps` sorts it in one pass instead
            // of `n log n` comparisons (callgrind, dense bench: 66,039 -> 63,501 instructions a
            // line).
            out[line_findings..].sort_unstable_by(|a, b| self.finding_order(a, b));
            pos = line_hi + 1;
        }
    }

    /// The first anchor hit in `hay[pos..end]`: exactly `self.prefilter.find` over that span
    /// (same leftmost-longest match), but the automaton only runs once a gate candidate is
    /// confirmed to hold an anchor.
    ///
    /// Why it is exact. Write `r = max_anchor_len`. Every anchor occurrence inside the span
    /// holds its gate at `c = s + off` (`s` its start, `off <= r - 3` the gate's offset in the
    /// anchor), and `c` is a candidate of `next_candidate` (no false negatives). Candidates are
    /// examined in increasing order and `anchor_at` tells exactly whether an occurrence inside
    /// the span has its gate at `c`. At the first `c` where one does, no occurrence has its gate
    /// before `c`, so none starts before `lo = max(pos, c - (r - 3))` (one starting earlier would
    /// have its gate before `c`). The automaton's first match from `lo` is therefore its first
    /// match from `pos`, and it exists (the confirmed anchor lies in `[lo, end)`).
    fn first_anchor(&self, hay: &[u8], pos: usize, end: usize) -> Option<aho_corasick::Match> {
        let Some(gate) = &self.gate else {
            return self.prefilter.find(AcInput::new(hay).span(pos..end));
        };
        let reach = gate.max_anchor_len;
        let mut at = pos;
        while let Some(c) = gate.next_candidate(hay, at, end) {
            if gate.anchor_at(hay, c, pos, end) {
                let lo = c.saturating_sub(reach - 3).max(pos);
                return self.prefilter.find(AcInput::new(hay).span(lo..end));
            }
            at = c + 1;
        }
        None
    }

    /// The regex windows of the line `line`, whose first anchor hit is `m`, into `out`
    /// (replacing what was there).
    fn line_windows(&self, hay: &[u8], m: aho_corasick::Match, line: Range<usize>, out: &mut LineWindows) {
        out.windows.clear();
        out.first_seen.clear();
        self.push_windows(hay, m, line.clone(), out);
        // The rest of the line goes through the gate too: `first_anchor` returns exactly what
        // the automaton would, without walking every byte of a long line after one hit.
        let mut p = m.end();
        while p < line.end {
            let Some(m) = self.first_anchor(hay, p, line.end) else {
                break;
            };
            self.push_windows(hay, m, line.clone(), out);
            p = m.end();
        }
    }

    /// Queues, for one anchor hit `m` on the line `line` (hits are given in order), a regex
    /// window for each rule it triggers.
    fn push_windows(&self, hay: &[u8], m: aho_corasick::Match, line: Range<usize>, out: &mut LineWindows) {
        let LineWindows { windows, first_seen } = out;
        let (s, e, lo, hi) = (m.start(), m.end(), line.start, line.end);
        let mut pushed = None;
        for &Trigger { rule: r, when } in &self.triggers[m.pattern().as_usize()] {
            if pushed == Some(r) {
                continue;
            }
            let rule = &self.rules[r as usize];
            let fires = match when {
                When::Always => true,
                When::Own => !rule.anchor_then_separator || separator_follows(&hay[e..hi]),
                When::Overlap { offset, anchor } => {
                    let anchor = &self.anchors[anchor as usize];
                    let at = s + usize::from(offset);
                    hay[at..hi].len() >= anchor.len() && hay[at..at + anchor.len()].eq_ignore_ascii_case(anchor)
                }
            };
            // An occurrence is there: the hit itself (`Own`, fired or not), or one it hides.
            let seen_from = if rule.anchor_then_separator && (fires || when == When::Own) {
                match first_seen.iter().find(|&&(x, _)| x == r) {
                    Some(&(_, start)) => start,
                    None => {
                        first_seen.push((r, s));
                        s
                    }
                }
            } else {
                s
            };
            if !fires {
                continue;
            }
            pushed = Some(r);
            // The left edge. Every match is at most `max_len` long and holds an occurrence of one
            // of the rule's anchors that starts at or after `s` (this hit, or one it hides) and
            // before `e`, so it starts at or after `s - max_len`; the rule's first anchor
            // occurrence in the match starts at most `lead` bytes after the match. Without
            // `anchor_then` that occurrence is one that triggers, at or after `s` (the hit that
            // triggers it starts no later): the match starts at or after `s - lead`. With it, the
            // occurrence that triggers may be a later one (`tokenfoo_token=x`), but the first one
            // starts at or after `seen_from`, the first hit on the line that is or hides one: that
            // hit comes no later than this one, since hits do not overlap.
            let reach = if rule.anchor_then_separator {
                s.saturating_sub(rule.max_len)
                    .max(seen_from.saturating_sub(rule.lead()))
            } else {
                s.saturating_sub(rule.lead())
            };
            windows.push(Window {
                rule: r,
                lo: reach.max(lo),
                hi: (e + rule.max_len).min(hi),
                hit_end: e,
            });
        }
    }

    /// Runs each triggered rule once per merged window of one line.
    fn confirm_line(
        &self,
        hay: &[u8],
        line_hi: usize,
        state: &mut ScanState,
        scratch: &mut ScanScratch,
        out: &mut Vec<Finding>,
        nested: bool,
    ) {
        let windows = &mut scratch.line.windows;
        windows.sort_unstable_by_key(|w| (w.rule, w.lo));
        let mut i = 0;
        while i < windows.len() {
            let Window {
                rule,
                lo,
                mut hi,
                mut hit_end,
            } = windows[i];
            i += 1;
            while i < windows.len() && windows[i].rule == rule && windows[i].lo <= hi {
                hi = hi.max(windows[i].hi);
                hit_end = hit_end.max(windows[i].hit_end);
                i += 1;
            }
            let compiled = &self.rules[rule as usize];
            if nested && compiled.decode_base64 {
                continue;
            }
            let regex = compiled.regex.get();
            // A block header has no secret group: it takes the capture engine.
            let split = match compiled.multiline_block {
                false => compiled.regex.split(),
                true => None,
            };
            let cache = scratch.caches[rule as usize].get_or_insert_with(|| RuleCache {
                regex: regex.create_cache(),
                captures: regex.create_captures(),
                split: split.map(SecretSplit::create_cache),
            });
            let mut input = Input::new(hay).span(lo..hi);
            loop {
                let m = match (split, &mut cache.split) {
                    (Some(split), Some(split_cache)) => {
                        let Some(m) = regex.search_with(&mut cache.regex, &input) else {
                            break;
                        };
                        let found = match split.secret(split_cache, hay, m.range()) {
                            Some((secret, key)) => self.confirm_span(rule, hay, secret, key),
                            None => {
                                // More than one way to cut the match: the capture engine decides,
                                // on the match alone, as `search_captures_with` would have.
                                let exact = input.clone().span(m.range()).anchored(Anchored::Pattern(m.pattern()));
                                regex.search_captures_with(&mut cache.regex, &exact, &mut cache.captures);
                                self.confirm(rule, hay, &cache.captures)
                            }
                        };
                        out.extend(found);
                        m
                    }
                    _ => {
                        let caps = &mut cache.captures;
                        regex.search_captures_with(&mut cache.regex, &input, caps);
                        let Some(m) = caps.get_match() else { break };
                        if compiled.multiline_block {
                            // The header line of a block; the body follows unless the end marker
                            // is here.
                            if memmem::find(&hay[m.end()..line_hi], b"-----END").is_none() {
                                state.block = Some(OpenBlock {
                                    rule,
                                    lines_left: MAX_BLOCK_LINES,
                                });
                            }
                        } else if let Some(f) = self.confirm(rule, hay, caps) {
                            out.push(f);
                        }
                        m
                    }
                };
                let next = if m.end() > m.start() { m.end() } else { m.end() + 1 };
                if next >= hi || next >= hit_end {
                    break;
                }
                input.set_start(next);
            }
        }
    }

    /// Body lines of an open block: the trailing base64 run of each line is secret, up to the
    /// end marker. Returns where scanning resumes.
    fn block_lines(
        &self,
        hay: &[u8],
        mut pos: usize,
        end: usize,
        state: &mut ScanState,
        out: &mut Vec<Finding>,
    ) -> usize {
        while pos < end {
            let Some(block) = state.block else { return pos };
            let line_hi = memchr(b'\n', &hay[pos..end]).map_or(end, |i| pos + i);
            let line = &hay[pos..line_hi];
            let (body_end, resume) = match memmem::find(line, b"-----END") {
                Some(i) => {
                    state.block = None;
                    (pos + i, pos + i)
                }
                None => {
                    let lines_left = block.lines_left - 1;
                    state.block = (lines_left > 0).then_some(OpenBlock { lines_left, ..block });
                    (line_hi, line_hi + 1)
                }
            };
            let rule = block.rule;
            let mut stop = body_end;
            while stop > pos && matches!(hay[stop - 1], b'\r' | b' ' | b'\t') {
                stop -= 1;
            }
            let mut start = stop;
            while start > pos && is_base64_byte(hay[start - 1]) {
                start -= 1;
            }
            if start < stop && !inside_replacement(hay, start) {
                out.push(Finding {
                    start,
                    end: stop,
                    rule,
                    location: self.rules[rule as usize].location,
                    checksum: ChecksumResult::None,
                    quoted: None,
                });
            }
            pos = resume;
            if state.block.is_none() {
                return pos;
            }
        }
        pos
    }
}

impl RuleSet {
    /// Turns one regex match of `rule` into a finding if its secret passes every check: not
    /// empty, not our own replacement word, the rule's validators, and for a wrapping rule, a
    /// credential inside. The one place where a match becomes a finding.
    pub(crate) fn confirm(&self, rule: u32, hay: &[u8], caps: &Captures) -> Option<Finding> {
        let compiled = &self.rules[rule as usize];
        let secret = caps.get_group(compiled.secret_group)?.range();
        let key = compiled.key_group.and_then(|g| caps.get_group(g)).map(|k| k.range());
        self.confirm_span(rule, hay, secret, key)
    }

    /// [`RuleSet::confirm`] with the secret's span (and the key's, for a rule that has a key
    /// group) already found.
    fn confirm_span(&self, rule: u32, hay: &[u8], s: Range<usize>, key: Option<Range<usize>>) -> Option<Finding> {
        let compiled = &self.rules[rule as usize];
        let secret = &hay[s.clone()];
        let key = key.map(|k| &hay[k]);
        let accepted = !secret.is_empty()
            && !inside_replacement(hay, s.start)
            && compiled.validators.accept(secret, key)
            && (!compiled.decode_base64 || self.wraps_credential(secret));
        accepted.then(|| Finding {
            start: s.start,
            end: s.end,
            rule,
            location: compiled.location,
            checksum: compiled.checksum.map_or(ChecksumResult::None, |c| c.verify(secret)),
            quoted: None,
        })
    }

    /// True when `wrapped` is base64 whose decoded bytes hold a credential by the other rules.
    /// Runs only for candidates that already carry an encoded vendor prefix, so the allocation
    /// here is off the clean path.
    pub(crate) fn wraps_credential(&self, wrapped: &[u8]) -> bool {
        let Some(decoded) = crate::validate::decode_base64(wrapped) else {
            return false;
        };
        let mut scratch = ScanScratch::new(self);
        let mut found = Vec::new();
        self.scan_at_depth(
            &decoded,
            0..decoded.len(),
            &mut ScanState::default(),
            &mut scratch,
            &mut found,
            true,
        );
        !found.is_empty()
    }
}

/// True when `rest` starts with a key/value separator (`:` or `=`), after at most 12 bytes of
/// closing quotes, escapes and blanks: `key=`, `"key": `, `\"key\":`, `'key' =>`, `Key:[`.
/// Twelve is what `%{kv}` allows there: up to seven backslashes, a quote, four blanks.
fn separator_follows(rest: &[u8]) -> bool {
    rest.iter()
        .take(13)
        .find(|b| !matches!(b, b'"' | b'\'' | b'\\' | b' ' | b'\t'))
        .is_some_and(|&b| b == b':' || b == b'=')
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// Sorts findings and drops overlaps, deterministically: the earliest start wins; on equal
/// starts the longest; on identical spans the highest rule priority names the kind (ties: the
/// rule loaded first), and the location is the most specific one any of them reported (a vendor
/// token found inside an `Authorization` header is a `github_classic` in a `header`).
pub fn resolve_overlaps(rules: &RuleSet, findings: &mut Vec<Finding>) {
    if findings.len() < 2 {
        return;
    }
    // In one pass when the scan left them in order, as it does line by line.
    findings.sort_unstable_by(|a, b| rules.finding_order(a, b));
    let mut kept = 0;
    for i in 0..findings.len() {
        let f = findings[i];
        if kept > 0 {
            let last = &mut findings[kept - 1];
            if f.start == last.start && f.end == last.end {
                if last.location == Location::Text {
                    last.location = f.location;
                }
                continue;
            }
            if f.start < last.end {
                continue;
            }
        }
        findings[kept] = f;
        kept += 1;
    }
    findings.truncate(kept);
}

impl RuleSet {
    /// The order of findings that [`resolve_overlaps`] keeps: by start; on equal starts the
    /// longest; on identical spans the highest priority, then the rule loaded first.
    fn finding_order(&self, a: &Finding, b: &Finding) -> std::cmp::Ordering {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(
                self.rules[b.rule as usize]
                    .priority
                    .cmp(&self.rules[a.rule as usize].priority),
            )
            .then(a.rule.cmp(&b.rule))
    }
}

/// The slow, obviously-correct reference: every rule's regex over every whole line, no
/// prefilter and no windows, then the same overlap resolution. Multi-line blocks are not
/// modelled. Tests compare the fast path against it; it is not meant for production use.
#[doc(hidden)]
pub fn reference_find(rules: &RuleSet, hay: &[u8]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut line_start = 0;
    while line_start <= hay.len() {
        let line_end = memchr(b'\n', &hay[line_start..]).map_or(hay.len(), |i| line_start + i);
        for (r, rule) in rules.rules.iter().enumerate() {
            if rule.multiline_block {
                continue;
            }
            let regex = rule.regex.get();
            let mut cache = regex.create_cache();
            let mut caps = regex.create_captures();
            let mut input = Input::new(hay).span(line_start..line_end);
            loop {
                regex.search_captures_with(&mut cache, &input, &mut caps);
                let Some(m) = caps.get_match() else { break };
                if m.end() - m.start() <= rule.max_len {
                    out.extend(rules.confirm(r as u32, hay, &caps));
                }
                let next = m.end().max(m.start() + 1);
                if next >= line_end {
                    break;
                }
                input.set_start(next);
            }
        }
        line_start = line_end + 1;
    }
    resolve_overlaps(rules, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use crate::rules::{RuleSet, builtin_sources, compile_sources};
    use aho_corasick::Input as AcInput;

    fn catalogue() -> RuleSet {
        compile_sources(&builtin_sources()).unwrap()
    }

    fn anchors(rules: &RuleSet) -> Vec<String> {
        let mut a: Vec<String> = rules
            .rules
            .iter()
            .flat_map(|r| r.anchors.iter().map(|a| a.to_ascii_lowercase()))
            .collect();
        a.sort();
        a.dedup();
        a
    }

    /// The gated search must equal the automaton's own search on every span.
    fn assert_same(rules: &RuleSet, hay: &[u8], pos: usize, end: usize) {
        let want = rules.prefilter.find(AcInput::new(hay).span(pos..end));
        let got = rules.first_anchor(hay, pos, end);
        assert_eq!(got, want, "span {pos}..{end} of {:?}", String::from_utf8_lossy(hay));
    }

    fn case_variants(a: &str) -> [String; 3] {
        let alternate = a
            .chars()
            .enumerate()
            .map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c })
            .collect();
        [a.to_string(), a.to_ascii_uppercase(), alternate]
    }

    /// The rules that get a regex window on `line` (one line, no newline).
    fn triggered(rules: &RuleSet, line: &str) -> Vec<String> {
        let hay = line.as_bytes();
        let mut line_windows = super::LineWindows::default();
        if let Some(m) = rules.first_anchor(hay, 0, hay.len()) {
            rules.line_windows(hay, m, 0..hay.len(), &mut line_windows);
        }
        let mut ids: Vec<String> = line_windows
            .windows
            .iter()
            .map(|w| rules.rules[w.rule as usize].id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    #[test]
    fn an_anchor_starting_inside_another_and_running_past_it_triggers_its_rules() {
        let rules = catalogue();
        let words = anchors(&rules);
        let mut overlaps = 0;
        for a in &words {
            for b in &words {
                // Every way `b` can start inside `a` and end after it.
                for i in 1..a.len() {
                    if b.len() <= a.len() - i || !b.starts_with(&a[i..]) {
                        continue;
                    }
                    overlaps += 1;
                    let line = format!("{}{b}", &a[..i]);
                    let got = triggered(&rules, &line);
                    for rule in rules
                        .rules
                        .iter()
                        .filter(|r| r.anchors.iter().any(|x| x.eq_ignore_ascii_case(b)))
                    {
                        assert!(got.contains(&rule.id), "{} not triggered on {line:?}", rule.id);
                    }
                }
            }
        }
        assert!(overlaps > 100, "{overlaps} overlapping pairs");
    }

    #[test]
    fn an_anchor_that_could_overlap_another_only_triggers_it_when_it_is_there() {
        let rules = catalogue();
        // `access_token` ends with the `n` that starts `npm_`.
        assert!(!triggered(&rules, "GET /x?access_token=abc").contains(&"npm.token".to_string()));
        assert!(triggered(&rules, "GET /x?access_tokenpm_abc").contains(&"npm.token".to_string()));
    }

    /// A rule file's text: one rule `t.rule` with the anchor `tok`.
    fn rule_text(extra: &str, regex: &str) -> String {
        format!(
            "[[rules]]\nid = \"t.rule\"\nkind = \"api_key\"\ndescription = \"d\"\nanchors = [\"tok\"]\n{extra}\nregex = '''{regex}'''\nmax_len = 64\n"
        )
    }

    fn rules_of(text: String) -> RuleSet {
        compile_sources(&[crate::rules::RuleSource {
            name: "t.toml".into(),
            text,
        }])
        .unwrap()
    }

    fn one_rule(extra: &str, regex: &str) -> RuleSet {
        rules_of(rule_text(extra, regex))
    }

    fn secrets(rules: &RuleSet, line: &str) -> Vec<String> {
        let mut found = Vec::new();
        rules.scan(
            line.as_bytes(),
            0..line.len(),
            &mut super::ScanState::default(),
            &mut super::ScanScratch::new(rules),
            &mut found,
        );
        found.iter().map(|f| line[f.start..f.end].to_string()).collect()
    }

    #[test]
    fn a_window_starts_where_the_rule_can_start_before_its_anchor() {
        // Up to 5 bytes before the anchor: proved, and the window starts there.
        let rules = one_rule("", "(?P<secret>[0-9]{0,5}tok_[a-z]{8})");
        assert_eq!(rules.rules[0].lead(), 5);
        assert_eq!(secrets(&rules, "filler 12345tok_abcdefgh"), ["12345tok_abcdefgh"]);
        assert_eq!(secrets(&rules, "filler 0123456tok_abcdefgh"), ["23456tok_abcdefgh"]);
        assert_eq!(
            secrets(&rules, "x 9tok_abcdefgh 12tok_ijklmnop"),
            ["9tok_abcdefgh", "12tok_ijklmnop"]
        );
    }

    #[test]
    fn with_anchor_then_the_window_reaches_back_to_the_rules_first_occurrence_on_the_line() {
        // The match starts at a `tok` that no separator follows; only the second `tok` triggers.
        let rules = one_rule(
            "anchor_then = \"separator\"",
            "(?i:tok)[a-z]{0,8}(?i:tok)=(?P<secret>[a-z0-9]{8,})",
        );
        assert_eq!(rules.rules[0].lead(), 0);
        assert_eq!(secrets(&rules, "x toktok=abcdefgh12"), ["abcdefgh12"]);
        assert_eq!(secrets(&rules, "x TOKabcTok=abcdefgh12 y"), ["abcdefgh12"]);
        // Another rule's hit before it on the line does not move the window.
        let both = rules_of(format!(
            "{}\n[[rules]]\nid = \"t.other\"\nkind = \"api_key\"\ndescription = \"d\"\nanchors = [\"zzz_\"]\nregex = '''zzz_(?P<secret>[0-9]{{9}})'''\n",
            rule_text(
                "anchor_then = \"separator\"",
                "(?i:tok)[a-z]{0,8}(?i:tok)=(?P<secret>[a-z0-9]{8,})"
            )
        ));
        let line = "zzz_ toktok=abcdefgh12";
        assert_eq!(secrets(&both, line), ["abcdefgh12"]);
        let mut line_windows = super::LineWindows::default();
        let m = both.first_anchor(line.as_bytes(), 0, line.len()).unwrap();
        both.line_windows(line.as_bytes(), m, 0..line.len(), &mut line_windows);
        let window = line_windows
            .windows
            .iter()
            .find(|w| both.rules[w.rule as usize].id == "t.rule")
            .unwrap();
        assert_eq!(window.lo, line.find("tok").unwrap());
    }

    #[test]
    fn a_window_is_searched_again_after_a_match_while_a_hit_lies_ahead() {
        // Two hits, two matches: the search goes on after the first match ends before the last
        // hit does.
        let rules = one_rule("", "tok_(?P<secret>[a-z]{4})");
        assert_eq!(secrets(&rules, "tok_abcd tok_efgh"), ["abcd", "efgh"]);
        assert_eq!(secrets(&rules, "tok_abcdtok_efgh"), ["abcd", "efgh"]);
    }

    #[test]
    fn anchor_then_counts_a_separator_as_far_as_kv_allows() {
        let rules = catalogue();
        let token = "N7g8wBHxfX9mJ78mcVj6hKoDE1Hw";
        // `%{kv}`: seven backslashes and a quote, four blanks, then the colon.
        let line = format!(r#"x authorization\\\\\\\"    : Bearer {token}"#);
        assert!(secrets(&rules, &line).contains(&token.to_string()), "{line}");
        assert!(triggered(&rules, &line).contains(&"http.authorization_bearer".to_string()));
        assert!(
            !triggered(&rules, "authorization failed for user x").contains(&"http.authorization_bearer".to_string())
        );
    }

    #[test]
    fn catalogue_has_a_gate() {
        assert!(catalogue().gate.is_some());
    }

    #[test]
    fn every_anchor_in_every_case_at_every_offset_and_span_edge() {
        let rules = catalogue();
        for a in anchors(&rules) {
            for v in case_variants(&a) {
                for pad in [0, 1, 2, 3, 5, 31, 32, 33] {
                    let hay = format!("{}{v}{}", "x".repeat(pad), "y".repeat(pad % 4));
                    let hay = hay.as_bytes();
                    let got = rules.first_anchor(hay, 0, hay.len());
                    assert!(got.is_some(), "{v:?} after {pad} bytes");
                    for pos in 0..=pad.min(3) {
                        for end in hay.len().saturating_sub(3)..=hay.len() {
                            if pos <= end {
                                assert_same(&rules, hay, pos, end);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn random_mixes_of_anchors_and_filler_match_the_automaton() {
        let rules = catalogue();
        let words = anchors(&rules);
        let filler = [
            "the ", "key", "tok", "=", ":", " ", "\n", "ab", "aut", "secre", "passw", "gh", "xo",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..3000 {
            let mut hay = String::new();
            for _ in 0..next(12) {
                if next(3) == 0 {
                    hay.push_str(&case_variants(&words[next(words.len())])[next(3)]);
                } else {
                    hay.push_str(filler[next(filler.len())]);
                }
            }
            let hay = hay.as_bytes();
            let pos = next(hay.len() + 1);
            let end = pos + next(hay.len() - pos + 1);
            assert_same(&rules, hay, pos, end);
            assert_same(&rules, hay, 0, hay.len());
        }
    }
}
