//! The gate: a cheap first stage in front of the anchor automaton.
//!
//! Each anchor is given one *gate*, a 4-byte substring of it (or the whole anchor when it is 3
//! bytes long). The gate stage tests every haystack position for "a gate may start here" with
//! hashed bit tables, and the anchor automaton only walks a short region around each candidate
//! (see `RuleSet::first_anchor` in `scan`). No false negatives: every anchor occurrence holds its
//! gate, and the tables only err towards extra candidates.
//!
//! Why not SIMD (Teddy): the catalogue's 349 anchors need at least 91 distinct 3-byte gates (that
//! many anchors share no 3-byte substring with any other), a greedy cover needs 160, and Teddy
//! refuses more than 64 patterns and degrades past about 40 on lowercase text (measured: three
//! Teddy passes of 54 gates ran at about the automaton's speed). The hashed test has no
//! loop-carried dependency, unlike an automaton walk whose next state waits on the previous
//! load, so positions are tested in parallel by the CPU.
//!
//! Case: a gram is folded by setting bit 0x20 of each byte, on both the gates and the haystack.
//! That maps `A`-`Z` onto `a`-`z` (so ASCII case variants of an anchor hit the same entry) and
//! merges a few other byte pairs, which can only add candidates.

/// log2 of the number of bits of each table: 8 KiB per table, so that the three stay in L1.
const TABLE_BITS: u32 = 16;

/// Gates of all anchors, as three hashed bit sets.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    /// 3-byte prefixes of every gate: the test run at every position.
    prefix3: BitTable,
    /// Gates that are whole 3-byte anchors.
    full3: BitTable,
    /// 4-byte gates.
    full4: BitTable,
    /// The longest anchor, which bounds the region an anchor around a candidate can span.
    pub(crate) max_anchor_len: usize,
}

impl Gate {
    /// Gates for `anchors` (lowercase). `None` when an anchor is shorter than 3 bytes (rule
    /// compilation forbids that, but the gate must never lose a hit).
    pub(crate) fn new(anchors: &[Vec<u8>]) -> Option<Gate> {
        if anchors.is_empty() || anchors.iter().any(|a| a.len() < 3) {
            return None;
        }
        let mut gate = Gate {
            prefix3: BitTable::new(),
            full3: BitTable::new(),
            full4: BitTable::new(),
            max_anchor_len: anchors.iter().map(Vec::len).max().unwrap_or(0),
        };
        for a in anchors {
            let g = gate_of(a);
            let x3 = fold(u32::from_le_bytes([g[0], g[1], g[2], 0])) & 0x00FF_FFFF;
            gate.prefix3.insert(x3);
            if g.len() == 3 {
                gate.full3.insert(x3);
            } else {
                gate.full4.insert(fold(u32::from_le_bytes([g[0], g[1], g[2], g[3]])));
            }
        }
        Some(gate)
    }

    /// True when the folded 4 bytes `x` start a gate.
    #[inline(always)]
    fn full_at(&self, x: u32) -> bool {
        let x3 = x & 0x00FF_FFFF;
        self.prefix3.contains(x3) && (self.full4.contains(x) || self.full3.contains(x3))
    }

    /// The first position in `at..end` where a gate may start, testing only grams that lie
    /// entirely inside `hay[at..end]`.
    #[inline]
    pub(crate) fn next_candidate(&self, hay: &[u8], at: usize, end: usize) -> Option<usize> {
        let hay = &hay[..end];
        if at >= hay.len() {
            return None;
        }
        let mut i = at;
        // Eight positions per step, without a branch per position: one load of 11 bytes, the
        // prefix test ORed over the eight grams; only a hit looks at the positions one by one.
        while i + 11 <= hay.len() {
            let lo = u64::from_le_bytes(hay[i..i + 8].try_into().unwrap_or_default()) | FOLD64;
            let hi = u64::from(fold(u32::from_le_bytes(
                hay[i + 7..i + 11].try_into().unwrap_or_default(),
            )));
            let mut any = 0;
            for k in 0..8 {
                any |= self.prefix3.bit(gram(lo, hi, k) & 0x00FF_FFFF);
            }
            if any != 0 {
                for k in 0..8 {
                    if self.full_at(gram(lo, hi, k)) {
                        return Some(i + k);
                    }
                }
            }
            i += 8;
        }
        // The tail, one position at a time.
        for (k, w) in hay[i..].windows(4).enumerate() {
            if self.full_at(fold(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))) {
                return Some(i + k);
            }
        }
        // The last position with 3 bytes ahead can still hold a 3-byte gate.
        let i = hay.len().checked_sub(3)?;
        if i >= at {
            let x3 = fold(u32::from_le_bytes([hay[i], hay[i + 1], hay[i + 2], 0])) & 0x00FF_FFFF;
            if self.full3.contains(x3) {
                return Some(i);
            }
        }
        None
    }
}

/// The gate of one anchor: the anchor itself when 3 bytes long, else its 4-byte substring made
/// of the rarest-looking bytes, so that common words rarely wake the automaton. The weights are
/// a rough prior (English letter frequency; digits and log punctuation in between); measured
/// on the generated benchmark log, this choice gives about 100 candidates per MB, against 77
/// for the best choice by real 4-gram counts and 2,500 for each anchor's first 4 bytes.
fn gate_of(anchor: &[u8]) -> &[u8] {
    if anchor.len() < 4 {
        return anchor;
    }
    let score = |g: &[u8]| g.iter().map(|&b| commonness(b)).sum::<u32>();
    let mut best = &anchor[..4];
    for w in anchor.windows(4).skip(1) {
        if score(w) < score(best) {
            best = w;
        }
    }
    best
}

fn commonness(b: u8) -> u32 {
    const LETTERS_BY_FREQUENCY: &[u8; 26] = b"etaoinsrhldcumfpgwybvkxjqz";
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => {
            let rank = LETTERS_BY_FREQUENCY
                .iter()
                .position(|&l| l == b.to_ascii_lowercase())
                .unwrap_or(25) as u32;
            // 100 for `e` down to 20 for `z`.
            100 - rank * 80 / 25
        }
        b'0'..=b'9' => 50,
        b' ' | b'.' | b'-' | b':' | b'/' | b'"' | b'=' | b',' | b'_' => 70,
        _ => 10,
    }
}

/// The folded 4 bytes at offset `k` (0..8) of the 11 bytes `lo` (bytes 0..8) and `hi` (bytes
/// 7..11).
#[inline(always)]
fn gram(lo: u64, hi: u64, k: usize) -> u32 {
    if k < 5 {
        (lo >> (8 * k)) as u32
    } else {
        ((lo >> (8 * k)) | (hi << (8 * (8 - k) - 8))) as u32
    }
}

const FOLD64: u64 = 0x2020_2020_2020_2020;

/// Sets bit 0x20 of each byte: ASCII case folding for a filter (see the module comment).
#[inline(always)]
fn fold(x: u32) -> u32 {
    x | 0x2020_2020
}

#[derive(Debug, Clone)]
/// A fixed-size array, so that the compiler sees every slot in bounds (no check per lookup).
struct BitTable(Box<[u64; TABLE_WORDS]>);

const TABLE_WORDS: usize = 1 << (TABLE_BITS - 6);

impl BitTable {
    fn new() -> Self {
        BitTable(Box::new([0; TABLE_WORDS]))
    }

    #[inline(always)]
    fn slot(x: u32) -> usize {
        (x.wrapping_mul(0x9E37_79B1) >> (32 - TABLE_BITS)) as usize
    }

    fn insert(&mut self, x: u32) {
        let h = Self::slot(x);
        self.0[h >> 6] |= 1 << (h & 63);
    }

    /// 1 when `x` may be in the set, else 0.
    #[inline(always)]
    fn bit(&self, x: u32) -> u64 {
        let h = Self::slot(x);
        (self.0[h >> 6] >> (h & 63)) & 1
    }

    #[inline(always)]
    fn contains(&self, x: u32) -> bool {
        let h = Self::slot(x);
        self.0[h >> 6] & (1 << (h & 63)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn every_anchor_contains_its_gate() {
        for a in ["eyj", "token", "authorization", "-----begin", "x-amz-credential="] {
            let g = gate_of(a.as_bytes());
            assert!(memchr::memmem::find(a.as_bytes(), g).is_some(), "{a}");
            assert_eq!(g.len(), a.len().min(4));
        }
    }

    #[test]
    fn finds_case_variants_at_every_offset_and_at_the_end() {
        let gate = Gate::new(&anchors(&["authorization", "token=", "eyj"])).unwrap();
        for word in ["AUTHORIZATION", "ToKeN=", "authorization", "EyJ", "eyj"] {
            for pad in 0..9 {
                let hay = format!("{}{word}", "#".repeat(pad));
                let hay = hay.as_bytes();
                let c = gate.next_candidate(hay, 0, hay.len()).expect(word);
                assert!((pad..pad + word.len()).contains(&c), "{word} at {pad}: candidate {c}");
                // Cut just before the word's last byte: the gram may be gone, never a hit after end.
                if let Some(c) = gate.next_candidate(hay, 0, hay.len() - 1) {
                    assert!(c + 3 < hay.len(), "a gram must end inside the span");
                }
            }
        }
    }

    #[test]
    fn refuses_short_anchors() {
        assert!(Gate::new(&anchors(&["ab"])).is_none());
        assert!(Gate::new(&[]).is_none());
    }
}
