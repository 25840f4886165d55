//! The `secret` group of a match without the general capture engine.
//!
//! Why: finding a match's groups ran regex-automata's bounded backtracker on the match after the
//! forward and reverse DFAs had found it, and that was the largest single cost on logs that
//! carry credentials (31% of the samples on criterion's dense input; a bearer header's groups
//! cost 865 ns against 283 ns for the match alone). Most rules' patterns have a shape that lets
//! two DFA walks over the match do it instead.
//!
//! The shape: a concatenation `P (?P<secret>S) Q` at the top of the pattern. For a match
//! `[s, e)`, the secret's start is a *split point*: an `i` where `P` matches `[s, i)` and `S Q`
//! matches `[i, e)` (look-arounds see the whole haystack, as in the full search). The capture
//! engine's parse is at one of them. So when there is exactly one, it is the secret's start;
//! otherwise [`SecretSplit::secret`] says `None` and the caller asks the capture engine. The
//! points are found with two lazy DFAs that report every match: `P` forward from `s`, and `S Q`
//! in reverse from `e` (needed only when `P` ends at more than one point: a match has a split
//! point, so `P`'s one end is it). The secret's end is found the same way between `S` and `Q`
//! (it is `e` when `Q` matches only the empty string: look-arounds such as `\b{end-half}`, or
//! nothing). A pattern with a `key` group (read by a validator) gets the same when it starts with
//! that group, `(?P<key>K) B (?P<secret>S) Q`: the key ends at the one point of
//! `[s, secret start)` where `K` and `B` meet (`labelled.*`, the rules that match most often).
//!
//! Hand-written because regex-automata's engines report a match's groups only through the
//! capture engines (the one-pass DFA does not apply: most rules are not one-pass).

use std::ops::Range;

use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Hir, HirKind};

/// The DFAs of one rule (see the module comment).
#[derive(Debug)]
pub(crate) struct SecretSplit {
    /// `P` forward and `S Q` reversed, each reporting every match. `None`: `P` is empty, the
    /// secret starts where the match does.
    secret: Option<Cut>,
    /// `S` forward and `Q` reversed. `None`: `Q` matches only the empty string, the secret ends
    /// where the match does.
    end: Option<Cut>,
    /// For a pattern that starts with a `key` group, `(?P<key>K) B (?P<secret>S) Q`: `K` forward
    /// and `B` reversed, cutting the part before the secret the same way.
    key: Option<Cut>,
}

/// Two DFAs that cut a span in two: `left` forward from its start, `right` in reverse from its
/// end, both reporting every match.
#[derive(Debug)]
struct Cut {
    left: DFA,
    right: DFA,
}

/// Per-thread caches for one [`SecretSplit`].
#[derive(Debug)]
pub(crate) struct SplitCache {
    secret: Option<(Cache, Cache)>,
    end: Option<(Cache, Cache)>,
    key: Option<(Cache, Cache)>,
    /// The ends of the left part found in the last walk.
    ends: Vec<usize>,
}

impl SecretSplit {
    /// The split for `hir` when it has the shape above; `None` otherwise, or when a DFA does not
    /// build. A `key` group anywhere must be the pattern's first item.
    pub(crate) fn new(hir: &Hir) -> Option<SecretSplit> {
        let items: &[Hir] = match hir.kind() {
            HirKind::Concat(items) => items,
            _ => std::slice::from_ref(hir),
        };
        let named =
            |h: &Hir, name: &str| matches!(h.kind(), HirKind::Capture(cap) if cap.name.as_deref() == Some(name));
        let k = items.iter().position(|h| named(h, "secret"))?;
        let HirKind::Capture(secret) = items[k].kind() else {
            return None;
        };
        let suffix = Hir::concat(items[k + 1..].to_vec());
        let end = match suffix.properties().maximum_len() {
            Some(0) => None,
            _ => Some(Cut::new(&secret.sub, &suffix)?),
        };
        let key = match super::compile::group_index(hir, "key").is_some() {
            false => None,
            true => {
                let HirKind::Capture(key) = items.first()?.kind() else {
                    return None;
                };
                if !named(&items[0], "key") || k == 0 {
                    return None;
                }
                Some(Cut::new(&key.sub, &Hir::concat(items[1..k].to_vec()))?)
            }
        };
        let secret = match k {
            0 => None,
            _ => {
                let rest = std::iter::once((*secret.sub).clone()).chain(items[k + 1..].iter().cloned());
                Some(Cut::new(
                    &Hir::concat(items[..k].to_vec()),
                    &Hir::concat(rest.collect()),
                )?)
            }
        };
        Some(SecretSplit { secret, end, key })
    }

    /// Fresh caches for this split.
    pub(crate) fn create_cache(&self) -> SplitCache {
        let caches = |cut: &Cut| (cut.left.create_cache(), cut.right.create_cache());
        SplitCache {
            secret: self.secret.as_ref().map(caches),
            end: self.end.as_ref().map(caches),
            key: self.key.as_ref().map(caches),
            ends: Vec::new(),
        }
    }

    /// The secret of the match `m` of the rule's whole pattern in `hay`, and its key for a
    /// pattern with a key group, when each has exactly one split point (see the module
    /// comment); `None` when the capture engine must decide.
    #[allow(clippy::type_complexity)]
    pub(crate) fn secret(
        &self,
        cache: &mut SplitCache,
        hay: &[u8],
        m: Range<usize>,
    ) -> Option<(Range<usize>, Option<Range<usize>>)> {
        let start = match (&self.secret, &mut cache.secret) {
            (None, _) => m.start,
            (Some(cut), Some(caches)) => cut.unique(caches, &mut cache.ends, hay, m.clone())?,
            (Some(_), None) => return None,
        };
        let key = match (&self.key, &mut cache.key) {
            (None, _) => None,
            (Some(cut), Some(caches)) => Some(m.start..cut.unique(caches, &mut cache.ends, hay, m.start..start)?),
            (Some(_), None) => return None,
        };
        let end = match (&self.end, &mut cache.end) {
            (None, _) => m.end,
            (Some(cut), Some(caches)) => cut.unique(caches, &mut cache.ends, hay, start..m.end)?,
            (Some(_), None) => return None,
        };
        Some((start..end, key))
    }
}

impl Cut {
    fn new(left: &Hir, right: &Hir) -> Option<Cut> {
        Some(Cut {
            left: all_matches_dfa(left, false)?,
            right: all_matches_dfa(right, true)?,
        })
    }

    /// The one `i` in `span` where `left` matches `hay[span.start..i]` and `right` matches
    /// `hay[i..span.end]`; `None` when there is none, more than one, or a DFA gives up.
    fn unique(
        &self,
        (lc, rc): &mut (Cache, Cache),
        ends: &mut Vec<usize>,
        hay: &[u8],
        span: Range<usize>,
    ) -> Option<usize> {
        let input = Input::new(hay).span(span.clone()).anchored(Anchored::Yes);
        // Every end of `left`, ascending.
        ends.clear();
        let left = &self.left;
        let mut sid = left.start_state_forward(lc, &input).ok()?;
        let mut dead = false;
        for at in span.clone() {
            match step(left, lc, &mut sid, Some(hay[at]))? {
                // Matches are reported one byte late: this one ends before `at`.
                Step::Match => ends.push(at),
                Step::Dead => {
                    dead = true;
                    break;
                }
                Step::Other => {}
            }
        }
        // The byte after the span (the look-ahead), or the haystack's end.
        if !dead && matches!(step(left, lc, &mut sid, hay.get(span.end).copied())?, Step::Match) {
            ends.push(span.end);
        }
        let &lowest = ends.first()?;
        // One end of `left`: it is the cut, no reverse walk needed. The span is a match of
        // `left right` (of the whole pattern, or of the part the previous cut left), so some `i`
        // has `left` matching `[start, i)` and `right` matching `[i, end)`, and that `i` is an
        // end of `left`. Most matches have one (`%{lb}` before a vendor token, one blank after
        // `Bearer`), and the reverse walk over the secret was most of a cut's cost (callgrind,
        // dense bench line: 8,289 -> 2,478 instructions in cuts, 63,511 -> 57,697 in all).
        if ends.len() == 1 {
            return Some(lowest);
        }
        // Every start of `right` from the first end up, descending, checked against the ends (a
        // start below the first end cannot be a cut: the walk stops there).
        let mut found = None;
        let mut is_cut = |start: usize| -> bool {
            if ends.binary_search(&start).is_ok() {
                if found.is_some() {
                    return false;
                }
                found = Some(start);
            }
            true
        };
        let right = &self.right;
        let mut sid = right.start_state_reverse(rc, &input).ok()?;
        let mut dead = false;
        for at in (lowest..span.end).rev() {
            match step(right, rc, &mut sid, Some(hay[at]))? {
                // Reported one byte late, going backwards: this start is the byte after `at`.
                Step::Match if !is_cut(at + 1) => return None,
                Step::Dead => {
                    dead = true;
                    break;
                }
                Step::Match | Step::Other => {}
            }
        }
        // The byte before `lowest`: inside the span, or the look-behind before it, or the
        // haystack's start.
        let before = lowest.checked_sub(1).map(|b| hay[b]);
        if !dead && matches!(step(right, rc, &mut sid, before)?, Step::Match) && !is_cut(lowest) {
            return None;
        }
        found
    }
}

/// What a state reached by [`step`] says.
enum Step {
    Match,
    Dead,
    Other,
}

/// One transition: on `byte`, or at the haystack's edge when `None`. `None` when the DFA gave up
/// (its cache thrashed) or met a byte it quits on: the caller falls back to the capture engine.
#[inline(always)]
fn step(dfa: &DFA, cache: &mut Cache, sid: &mut LazyStateID, byte: Option<u8>) -> Option<Step> {
    *sid = match byte {
        Some(b) => dfa.next_state(cache, *sid, b).ok()?,
        None => dfa.next_eoi_state(cache, *sid).ok()?,
    };
    match () {
        _ if sid.is_match() => Some(Step::Match),
        _ if sid.is_dead() => Some(Step::Dead),
        _ if sid.is_quit() => None,
        _ => Some(Step::Other),
    }
}

/// A lazy DFA of `hir` that reports every match (not only the leftmost-first one), forward or in
/// reverse, without capture states.
fn all_matches_dfa(hir: &Hir, reverse: bool) -> Option<DFA> {
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .reverse(reverse)
                .utf8(false)
                .which_captures(WhichCaptures::None),
        )
        .build_from_hir(hir)
        .ok()?;
    DFA::builder()
        .configure(DFA::config().match_kind(MatchKind::All))
        .build_from_nfa(nfa)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hir(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap()
    }

    /// The secret by the split, and by the capture engine, of the first match in `hay`.
    fn both(pattern: &str, hay: &str) -> (Option<Range<usize>>, Range<usize>) {
        let h = hir(pattern);
        let split = SecretSplit::new(&h).expect("the shape");
        let regex = regex_automata::meta::Regex::builder().build_from_hir(&h).unwrap();
        let mut caps = regex.create_captures();
        regex.captures(hay.as_bytes(), &mut caps);
        let want = caps.get_group_by_name("secret").unwrap().range();
        let m = caps.get_match().unwrap().range();
        (
            split
                .secret(&mut split.create_cache(), hay.as_bytes(), m)
                .map(|(s, _)| s),
            want,
        )
    }

    /// The split decides the first match in `hay`, as the capture engine does.
    fn assert_cut(pattern: &str, hay: &str) {
        let (got, want) = both(pattern, hay);
        assert_eq!(got, Some(want), "{pattern} on {hay:?}");
    }

    #[test]
    fn a_unique_split_gives_the_capture_engines_secret() {
        assert_cut(
            r"(?i:bearer)[ \t]{1,4}(?P<secret>[A-Za-z0-9._~+/-]{6,})",
            "x Bearer   abc.def-123 y",
        );
        assert_cut(
            r"(?:\b{start-half}|\\n)(?P<secret>ghp_[a-z]{4})\b{end-half}",
            r"a\nghp_abcd b",
        );
        // The secret's characters include the prefix's: still one split, as the prefix's end
        // is fixed.
        assert_cut(r"[?&]token=(?P<secret>[^&\s]+)", "GET /x?token=a=b&c=d");
    }

    #[test]
    fn an_ambiguous_split_is_left_to_the_capture_engine() {
        // `x` may be the prefix's or the secret's: two split points.
        let (got, _) = both(r"a x?(?P<secret>x?[0-9]+)", "a x12");
        assert_eq!(got, None);
    }

    #[test]
    fn only_a_secret_group_at_the_top_has_the_shape() {
        assert!(SecretSplit::new(&hir(r"k=(?P<secret>[a-z]+)\b")).is_some());
        assert!(SecretSplit::new(&hir(r#"k="(?P<secret>[a-z]+)""#)).is_some());
        assert!(SecretSplit::new(&hir(r"(?:a|k=(?P<secret>[a-z]+))")).is_none());
        // A key group must come first.
        assert!(SecretSplit::new(&hir(r"(?P<key>[a-z]+)=(?P<secret>[a-z]+)")).is_some());
        assert!(SecretSplit::new(&hir(r"x(?P<key>[a-z]+)=(?P<secret>[a-z]+)")).is_none());
    }

    /// On every match of every catalogue example and negative, the split's secret is the
    /// capture engine's (and so its key) whenever the split gives one, and it gives one for most.
    #[test]
    fn the_catalogue_s_secrets_by_split_equal_the_capture_engine_s() {
        let rules = crate::rules::compile_sources(&crate::rules::builtin_sources()).unwrap();
        let (mut shaped, mut decided, mut matches, mut keyed) = (0, 0, 0, 0);
        for rule in rules
            .rules()
            .iter()
            .filter(|r| r.structured.is_none() && !r.multiline_block)
        {
            let Some(split) = rule.regex.split() else {
                continue;
            };
            shaped += 1;
            keyed += usize::from(rule.key_group.is_some());
            let regex = rule.regex.get();
            let mut caps = regex.create_captures();
            let mut cache = split.create_cache();
            let samples = rule.spec.examples.iter().map(|e| &e.input).chain(&rule.spec.negatives);
            for sample in samples {
                let hay = sample.as_bytes();
                for m in regex.find_iter(hay) {
                    matches += 1;
                    let exact = Input::new(hay).span(m.range()).anchored(Anchored::Yes);
                    regex.search_captures(&exact, &mut caps);
                    let want = caps.get_group(rule.secret_group).map(|g| g.range());
                    let want_key = rule.key_group.and_then(|g| caps.get_group(g)).map(|g| g.range());
                    if let Some((got, key)) = split.secret(&mut cache, hay, m.range()) {
                        decided += 1;
                        assert_eq!(Some(got), want, "{} on {sample:?}", rule.id);
                        assert_eq!(key, want_key, "{} key on {sample:?}", rule.id);
                    }
                }
            }
        }
        assert!(shaped > 100, "{shaped} rules have the shape");
        assert!(keyed >= 3, "{keyed} rules with a key group have the shape");
        let labelled = rules.rules().iter().find(|r| r.id == "labelled.secret").unwrap();
        assert!(labelled.regex.split().is_some());
        assert!(decided * 10 > matches * 9, "{decided} of {matches} matches split");
    }

    #[test]
    fn a_secret_followed_by_more_ends_at_the_cut_before_it() {
        assert_cut(r#"k=\\{0,3}"(?P<secret>[^"\\]+)\\{0,3}""#, r#"a k=\"abc\" b"#);
        assert_cut(r"tok_(?P<secret>[a-z]{4})(?:[^a-z_]|$)", "x tok_abcd.");
    }

    #[test]
    fn a_secret_at_the_start_is_the_match() {
        assert_cut(r"(?P<secret>sk-[a-z]{4})\b{end-half}", "key sk-abcd.");
    }
}
