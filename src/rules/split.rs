//! The `secret` group of a match without the general capture engine.
//!
//! Why: finding a match's groups ran regex-automata's bounded backtracker on the match after the
//! forward and reverse DFAs had found it, and that was the largest single cost on logs that
//! carry credentials (31% of the samples on criterion's dense input; a bearer header's groups
//! cost 865 ns against 283 ns for the match alone). Most rules' patterns have a shape that lets
//! two DFA walks over the match do it instead.
//!
//! The shape: a concatenation `P (?P<secret>S) Q` at the top of the pattern, where `Q` matches
//! only the empty string (look-arounds such as `\b{end-half}`, or nothing). For a match
//! `[s, e)`, the secret ends at `e`, and its start is a *split point*: an `i` where `P` matches
//! `[s, i)` and `S Q` matches `[i, e)` (look-arounds see the whole haystack, as in the full
//! search). The capture engine's parse is at one of them. So when there is exactly one, it is the
//! secret's start; otherwise [`SecretSplit::secret`] says `None` and the caller asks the capture
//! engine. The points are found with two lazy DFAs that report every match: `P` forward from `s`,
//! and `S Q` in reverse from `e`.
//!
//! Hand-written because regex-automata's engines report a match's groups only through the
//! capture engines (the one-pass DFA does not apply: most rules are not one-pass).

use std::ops::Range;

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Anchored, Input, MatchKind};
use regex_syntax::hir::{Hir, HirKind};

/// The two DFAs of one rule (see the module comment).
#[derive(Debug)]
pub(crate) struct SecretSplit {
    /// `P`, forward, reporting every match end. `None`: `P` is empty, the secret is the match.
    prefix: Option<DFA>,
    /// `S Q`, reversed, reporting every match start.
    rest: Option<DFA>,
}

/// Per-thread caches for one [`SecretSplit`].
#[derive(Debug)]
pub(crate) struct SplitCache {
    prefix: Option<Cache>,
    rest: Option<Cache>,
    /// The ends of `P` found in the last walk.
    ends: Vec<NonMaxUsize>,
}

impl SecretSplit {
    /// The split for `hir` when it has the shape above; `None` otherwise, or when a DFA does not
    /// build.
    pub(crate) fn new(hir: &Hir) -> Option<SecretSplit> {
        let items: &[Hir] = match hir.kind() {
            HirKind::Concat(items) => items,
            _ => std::slice::from_ref(hir),
        };
        let k = items
            .iter()
            .position(|h| matches!(h.kind(), HirKind::Capture(cap) if cap.name.as_deref() == Some("secret")))?;
        let HirKind::Capture(secret) = items[k].kind() else {
            return None;
        };
        let suffix = Hir::concat(items[k + 1..].to_vec());
        if suffix.properties().maximum_len() != Some(0) {
            return None;
        }
        if k == 0 {
            return Some(SecretSplit {
                prefix: None,
                rest: None,
            });
        }
        let prefix = Hir::concat(items[..k].to_vec());
        let rest = Hir::concat(
            std::iter::once((*secret.sub).clone())
                .chain(items[k + 1..].iter().cloned())
                .collect(),
        );
        Some(SecretSplit {
            prefix: Some(all_matches_dfa(&prefix, false)?),
            rest: Some(all_matches_dfa(&rest, true)?),
        })
    }

    /// Fresh caches for this split.
    pub(crate) fn create_cache(&self) -> SplitCache {
        SplitCache {
            prefix: self.prefix.as_ref().map(DFA::create_cache),
            rest: self.rest.as_ref().map(DFA::create_cache),
            ends: Vec::new(),
        }
    }

    /// The secret of the match `m` of the rule's whole pattern in `hay`, when exactly one split
    /// point exists (see the module comment); `None` when the capture engine must decide.
    pub(crate) fn secret(&self, cache: &mut SplitCache, hay: &[u8], m: Range<usize>) -> Option<Range<usize>> {
        let (Some(prefix), Some(rest)) = (&self.prefix, &self.rest) else {
            return Some(m);
        };
        let (Some(prefix_cache), Some(rest_cache)) = (&mut cache.prefix, &mut cache.rest) else {
            return None;
        };
        let input = Input::new(hay).span(m.clone()).anchored(Anchored::Yes);
        // Every end of `P` from `m.start`, ascending.
        let ends = &mut cache.ends;
        ends.clear();
        let mut sid = prefix.start_state_forward(prefix_cache, &input).ok()?;
        let mut dead = false;
        for at in m.clone() {
            sid = prefix.next_state(prefix_cache, sid, hay[at]).ok()?;
            if sid.is_match() {
                // Matches are reported one byte late: this one ends before `at`.
                ends.push(NonMaxUsize::new(at)?);
            } else if sid.is_dead() {
                dead = true;
                break;
            } else if sid.is_quit() {
                return None;
            }
        }
        if !dead {
            sid = match hay.get(m.end) {
                Some(&b) => prefix.next_state(prefix_cache, sid, b).ok()?,
                None => prefix.next_eoi_state(prefix_cache, sid).ok()?,
            };
            if sid.is_quit() {
                return None;
            }
            if sid.is_match() {
                ends.push(NonMaxUsize::new(m.end)?);
            }
        }
        if ends.is_empty() {
            return None;
        }
        // Every start of `S Q` ending at `m.end`, descending, checked against the ends.
        let mut found = None;
        let mut is_split = |start: usize| -> bool {
            if ends
                .binary_search(&NonMaxUsize::new(start).expect("below usize::MAX"))
                .is_ok()
            {
                if found.is_some() {
                    return false;
                }
                found = Some(start);
            }
            true
        };
        let mut sid = rest.start_state_reverse(rest_cache, &input).ok()?;
        let mut dead = false;
        for at in m.clone().rev() {
            sid = rest.next_state(rest_cache, sid, hay[at]).ok()?;
            if sid.is_match() {
                // Reported one byte late, going backwards: this start is the byte after `at`.
                if !is_split(at + 1) {
                    return None;
                }
            } else if sid.is_dead() {
                dead = true;
                break;
            } else if sid.is_quit() {
                return None;
            }
        }
        if !dead {
            sid = match m.start.checked_sub(1) {
                Some(before) => rest.next_state(rest_cache, sid, hay[before]).ok()?,
                None => rest.next_eoi_state(rest_cache, sid).ok()?,
            };
            if sid.is_quit() {
                return None;
            }
            if sid.is_match() && !is_split(m.start) {
                return None;
            }
        }
        found.map(|start| start..m.end)
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
        (split.secret(&mut split.create_cache(), hay.as_bytes(), m), want)
    }

    #[test]
    fn a_unique_split_gives_the_capture_engines_secret() {
        let (got, want) = both(
            r"(?i:bearer)[ \t]{1,4}(?P<secret>[A-Za-z0-9._~+/-]{6,})",
            "x Bearer   abc.def-123 y",
        );
        assert_eq!(got, Some(want));
        let (got, want) = both(
            r"(?:\b{start-half}|\\n)(?P<secret>ghp_[a-z]{4})\b{end-half}",
            r"a\nghp_abcd b",
        );
        assert_eq!(got, Some(want));
        // The secret's characters include the prefix's: still one split, as the prefix's end
        // is fixed.
        let (got, want) = both(r"[?&]token=(?P<secret>[^&\s]+)", "GET /x?token=a=b&c=d");
        assert_eq!(got, Some(want));
    }

    #[test]
    fn an_ambiguous_split_is_left_to_the_capture_engine() {
        // `x` may be the prefix's or the secret's: two split points.
        let (got, _) = both(r"a x?(?P<secret>x?[0-9]+)", "a x12");
        assert_eq!(got, None);
    }

    #[test]
    fn only_a_secret_followed_by_look_arounds_has_the_shape() {
        assert!(SecretSplit::new(&hir(r"k=(?P<secret>[a-z]+)\b")).is_some());
        assert!(SecretSplit::new(&hir(r#"k="(?P<secret>[a-z]+)""#)).is_none());
        assert!(SecretSplit::new(&hir(r"(?:a|k=(?P<secret>[a-z]+))")).is_none());
    }

    /// On every match of every catalogue example and negative, the split's secret is the
    /// capture engine's whenever the split gives one, and it gives one for most.
    #[test]
    fn the_catalogue_s_secrets_by_split_equal_the_capture_engine_s() {
        let rules = crate::rules::compile_sources(&crate::rules::builtin_sources()).unwrap();
        let (mut shaped, mut decided, mut matches) = (0, 0, 0);
        for rule in rules
            .rules()
            .iter()
            .filter(|r| r.structured.is_none() && !r.multiline_block)
        {
            let Some(split) = rule.regex.split() else { continue };
            shaped += 1;
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
                    if let Some(got) = split.secret(&mut cache, hay, m.range()) {
                        decided += 1;
                        assert_eq!(Some(got), want, "{} on {sample:?}", rule.id);
                    }
                }
            }
        }
        assert!(shaped > 100, "{shaped} rules have the shape");
        assert!(decided * 10 > matches * 9, "{decided} of {matches} matches split");
    }

    #[test]
    fn a_secret_at_the_start_is_the_match() {
        let (got, want) = both(r"(?P<secret>sk-[a-z]{4})\b{end-half}", "key sk-abcd.");
        assert_eq!(got, Some(want));
    }
}
