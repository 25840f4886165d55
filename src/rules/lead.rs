//! How far before its anchor a rule's match can start: the left edge of a regex window.
//!
//! A triggered rule's regex runs on a window around the anchor hit. Without more knowledge the
//! window reaches `max_len` bytes to the left (a match as long as the rule allows could end at
//! the anchor), and since most rules allow kilobytes, that is the whole line before the anchor:
//! every rule an anchor triggers walked its lazy DFA from the line's start (measured: a bearer
//! line of 116 bytes cost 260-480 ns per rule that did not match, 7 such rules per line).
//!
//! Most rules say more. `(?i:authorization)%{kv}...` can only start with its anchor;
//! `%{lb}(?P<secret>gh[pousr]_...)` starts at most 19 bytes (the longest `%{lb}`, an ANSI colour
//! code) before it. [`lead`] proves such a bound from the pattern: an upper bound on where, in any
//! string the pattern matches, the first occurrence of one of the rule's anchors may start.
//! Every match then starts at most that many bytes before an anchor occurrence, and the scanner
//! starts the window there (see `scan`'s `push_windows`).

use regex_syntax::hir::{Class, Hir, HirKind};

/// Work allowed for one pattern's proof, in steps; a pattern needing more gets no bound (the
/// window then reaches `max_len`, as before), which is safe, only slower.
const BUDGET: u32 = 20_000;

/// A class wider than this many distinct bytes (ASCII case folded) is not branched on: an
/// anchor is a literal, and `[A-Za-z0-9]` is no part of one.
const MAX_CLASS_BRANCHES: usize = 8;

/// An upper bound `L` such that every string `hir` matches holds an occurrence of one of
/// `anchors` (lowercase; compared ASCII case-insensitively) starting at most `L` bytes from its
/// start. `None` when no bound is proved: an unbounded repetition before the anchor
/// (`[A-Za-z0-9_]*token`), a branch without an anchor, or a pattern too large to prove within
/// [`BUDGET`].
pub(crate) fn lead(hir: &Hir, anchors: &[Vec<u8>]) -> Option<usize> {
    let mut budget = BUDGET;
    lead_of(&[Piece::Hir(hir)], anchors, &mut budget)
}

/// A piece of a concatenation: a pattern, or the bytes left of a literal whose first bytes were
/// taken (an anchor may start inside a literal: `access_token=` holds `token=`).
#[derive(Clone, Copy)]
enum Piece<'h> {
    Hir(&'h Hir),
    Bytes(&'h [u8]),
}

/// [`lead`] of the concatenation of `seq`.
fn lead_of(seq: &[Piece<'_>], anchors: &[Vec<u8>], budget: &mut u32) -> Option<usize> {
    *budget = budget.checked_sub(1)?;
    if starts_with_anchor(seq, &mut Vec::new(), anchors, budget) {
        return Some(0);
    }
    let (&first, rest) = seq.split_first()?;
    let hir = match first {
        Piece::Bytes([]) => return lead_of(rest, anchors, budget),
        // One byte, then the rest of the literal.
        Piece::Bytes([_, tail @ ..]) => {
            return Some(1 + lead_of(&joined([Piece::Bytes(tail)], rest), anchors, budget)?);
        }
        Piece::Hir(hir) => hir,
    };
    match hir.kind() {
        HirKind::Literal(lit) => lead_of(&joined([Piece::Bytes(&lit.0)], rest), anchors, budget),
        HirKind::Concat(subs) => lead_of(&joined(subs.iter().map(Piece::Hir), rest), anchors, budget),
        HirKind::Capture(cap) => lead_of(&joined([Piece::Hir(&cap.sub)], rest), anchors, budget),
        // Each branch followed by the rest has a bound; the largest holds for all.
        HirKind::Alternation(branches) => branches.iter().try_fold(0, |bound, b| {
            Some(bound.max(lead_of(&joined([Piece::Hir(b)], rest), anchors, budget)?))
        }),
        // Whatever `hir` matches is at most `n` bytes, then the rest's bound applies.
        _ => Some(hir.properties().maximum_len()? + lead_of(rest, anchors, budget)?),
    }
}

/// True when every string the concatenation of `seq` matches, written after the bytes
/// `prefix` (lowercase), starts with one of `anchors`. False when that is not proved.
fn starts_with_anchor(seq: &[Piece<'_>], prefix: &mut Vec<u8>, anchors: &[Vec<u8>], budget: &mut u32) -> bool {
    if anchors.iter().any(|a| prefix.starts_with(a)) {
        return true;
    }
    if !anchors.iter().any(|a| a.starts_with(prefix)) {
        return false;
    }
    let Some(b) = budget.checked_sub(1) else {
        return false;
    };
    *budget = b;
    let Some((&first, rest)) = seq.split_first() else {
        return false;
    };
    // Whether the rest holds after `bytes` are appended to the prefix.
    let mut after = |bytes: &[u8], rest: &[Piece<'_>], budget: &mut u32| {
        let len = prefix.len();
        prefix.extend(bytes.iter().map(u8::to_ascii_lowercase));
        let holds = starts_with_anchor(rest, prefix, anchors, budget);
        prefix.truncate(len);
        holds
    };
    let hir = match first {
        Piece::Bytes(bytes) => return after(bytes, rest, budget),
        Piece::Hir(hir) => hir,
    };
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => after(&[], rest, budget),
        HirKind::Literal(lit) => after(&lit.0, rest, budget),
        HirKind::Class(Class::Bytes(class)) => {
            let mut folded: Vec<u8> = class
                .iter()
                .flat_map(|r| r.start()..=r.end())
                .map(|b| b.to_ascii_lowercase())
                .collect();
            folded.sort_unstable();
            folded.dedup();
            folded.len() <= MAX_CLASS_BRANCHES && folded.into_iter().all(|b| after(&[b], rest, budget))
        }
        HirKind::Concat(subs) => {
            starts_with_anchor(&joined(subs.iter().map(Piece::Hir), rest), prefix, anchors, budget)
        }
        HirKind::Capture(cap) => starts_with_anchor(&joined([Piece::Hir(&cap.sub)], rest), prefix, anchors, budget),
        HirKind::Alternation(branches) => branches
            .iter()
            .all(|b| starts_with_anchor(&joined([Piece::Hir(b)], rest), prefix, anchors, budget)),
        // Repetitions and Unicode classes (the parser is configured without Unicode) end the
        // literal run: not proved.
        HirKind::Class(Class::Unicode(_)) | HirKind::Repetition(_) => false,
    }
}

fn joined<'h>(head: impl IntoIterator<Item = Piece<'h>>, rest: &[Piece<'h>]) -> Vec<Piece<'h>> {
    head.into_iter().chain(rest.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead_of_pattern(pattern: &str, anchors: &[&str]) -> Option<usize> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap();
        let anchors: Vec<Vec<u8>> = anchors.iter().map(|a| a.as_bytes().to_vec()).collect();
        lead(&hir, &anchors)
    }

    #[test]
    fn a_pattern_starting_with_its_anchor_in_any_case_has_no_lead() {
        assert_eq!(
            lead_of_pattern("(?i:authorization):[ ]*(?P<s>[a-z]+)", &["authorization"]),
            Some(0)
        );
        assert_eq!(
            lead_of_pattern(
                "(?P<s>gh[pousr]_[0-9A-Za-z]{36})",
                &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
            ),
            Some(0)
        );
    }

    #[test]
    fn bounded_context_before_the_anchor_is_counted() {
        // The longest branch before the anchor: `\x1b[` + 16 + `m` = 19 bytes.
        assert_eq!(
            lead_of_pattern(
                r"(?:\b|\\[nrt]|%[0-9A-F]{2}|\x1b\[[0-9;]{0,16}m)ghp_[a-z]{4}",
                &["ghp_"]
            ),
            Some(19)
        );
        // Anchors inside alternation branches, at different places.
        assert_eq!(
            lead_of_pattern("[?&](?:access_token|token|jwt)=", &["token=", "jwt="]),
            Some(8)
        );
    }

    #[test]
    fn no_bound_without_proof() {
        // An unbounded run before the anchor.
        assert_eq!(lead_of_pattern("[a-z_]*token=[a-z]+", &["token="]), None);
        // A branch without any anchor.
        assert_eq!(lead_of_pattern("(?:token|secret)=[a-z]+", &["token="]), None);
        // A class wider than the anchor's byte: `[pq]` may be `q`.
        assert_eq!(lead_of_pattern("gh[pq]_x", &["ghp_"]), None);
        // The anchor only after a repetition.
        assert_eq!(lead_of_pattern("(?:ab){2}token", &["token"]), Some(4));
        assert_eq!(lead_of_pattern("x+token", &["token"]), None);
    }

    #[test]
    fn an_anchor_spanning_several_pieces_is_found() {
        // `(?i:bearer)` is six classes; `to` `ken` two literals around a look-around.
        assert_eq!(lead_of_pattern(r"(?i:bearer)\s+x", &["bearer"]), Some(0));
        assert_eq!(lead_of_pattern(r"to\bken", &["token"]), Some(0));
    }
}
