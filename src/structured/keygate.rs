//! The key gate: which lines can hold a sensitive key at all.
//!
//! Most log lines have keys (`ts`, `level`, `trace_id`, `duration_ms`) but no sensitive one, and
//! walking them costs more than the rules' whole scan (measured: the readers took 13 of the 25
//! instructions per byte on clean mixed logs). The gate finds, in one SIMD pass over the block,
//! every byte that can end a key in a form some reader knows, looks back at the few bytes before
//! it and asks whether they can end a sensitive key. Only lines where one can are read.
//!
//! Contract: **no false negatives.** Every reader classifies a key that is followed, after
//! optional spaces or tabs and at most one closing quote, by one of [`TERMINATORS`] (`:` in
//! JSON, Go and Python dicts; `=` in logfmt, Python calls and Java maps; `,` after a quoted
//! key in a Python pair, `('password', 'x')`). A reader's key is sensitive when its normalized
//! form (escapes undone, separators `_ - . space` dropped, lowercased) ends with a word. Such a
//! word is made of ASCII letters and digits (the gate keeps only the alphanumeric tail of an
//! extra key; a key whose tail is shorter than two bytes turns the gate off). So the raw key's
//! last bytes, up to the first byte of that word, are letters, digits and separators, and the
//! gate reads exactly those, backwards from the terminator: the same normalized tail. Escapes
//! are the one way raw bytes and normalized bytes part (a reader decodes `\uXXXX` to its byte
//! and `\x` to `x`): a `\u` among the bytes read, or starting in the five bytes before the one
//! that ends the read (a `\uXXXX` escape is six bytes), makes the line pass. Any other escape
//! decodes to the byte after its backslash, which the read has seen, so the backslash is read
//! past like a separator: the escaped quotes of a document inside a string (`{\"ts\":1}`, every
//! record of a Docker JSON log line) open no line. (The vector prefilters pass any terminator
//! with a backslash in the eight bytes before it.) A new reader
//! must keep to this shape or widen [`TERMINATORS`]; the tests
//! `every_shape_and_key_gives_the_same_findings_gated_and_ungated` and
//! `gated_equals_ungated_on_random_soups` compare gated and ungated results over every form the
//! readers know.

use super::{KEY_BUF, SENSITIVE_EXACT, SENSITIVE_SUFFIXES};

/// The bytes that can follow a key (see the module comment).
pub(super) const TERMINATORS: [u8; 3] = [b':', b'=', b','];

/// The words whose ends a key is tested for, as tables read backwards from a key's end.
#[derive(Debug, Clone)]
pub(super) struct KeyGate {
    /// One row per byte of the longest word (how far back a key is read); see [`EndRow`].
    ends: Vec<EndRow>,
    /// The words, lowercase ASCII letters and digits, at least two bytes each.
    words: Vec<Box<[u8]>>,
    /// Some extra key ends in punctuation (`token:`), which no tail read here can rule out.
    off: bool,
    /// The bytes that can end a key's raw text when it may end a word: the words' last bytes in
    /// both cases, separators, spaces, tabs and the backslash. As nibble tables for the vector
    /// prefilter: byte `b` is in the set when `low[b & 15] & high[b >> 4] != 0`.
    key_end: NibbleSet,
    /// AVX2 was detected at run time: [`KeyGate::next_open`] takes the vector prefilter.
    avx2: bool,
    /// The words' last two bytes as a pair table (as `gate::ByteTables::pair` keys them):
    /// the AVX-512 prefilter's exact-pair test.
    last_pairs: [u8; 128],
    /// AVX-512 with VBMI was detected at run time: [`KeyGate::next_open`] takes the 64-lane
    /// prefilter.
    vbmi: bool,
    /// For each ASCII byte, its [`CLASS_TERMINATOR`], [`CLASS_QUOTE`], [`CLASS_SPECIAL`],
    /// [`CLASS_BACKSLASH`] and [`CLASS_U`] bits: the 64-lane prefilter asks one `vpermi2b` per
    /// vector instead of a compare per byte value (it made 23 compares per 64 bytes before).
    byte_class: [u8; 128],
}

/// The words' bytes `k` from their ends (0: the last), for one `k`.
#[derive(Debug, Clone)]
struct EndRow {
    /// `bytes[c]` has bit `i % 64` set for every word `i` whose byte `k` from its end is `c`.
    /// Zero at [`NOT_KEY`], which no word holds: a byte no key holds ends the read as a
    /// mismatch does.
    bytes: [u64; 128],
    /// Bit `i % 64` set for every word `i` of `k + 1` bytes.
    complete: u64,
}

/// [`KeyGate::byte_class`]: one of [`TERMINATORS`].
const CLASS_TERMINATOR: u8 = 1;
/// [`KeyGate::byte_class`]: a quote that may close a key.
const CLASS_QUOTE: u8 = 2;
/// [`KeyGate::byte_class`]: one of [`KEY_SPECIALS`].
const CLASS_SPECIAL: u8 = 4;
/// [`KeyGate::byte_class`]: the backslash (it is also a special).
const CLASS_BACKSLASH: u8 = 8;
/// [`KeyGate::byte_class`]: `u`, which after a backslash starts a `\uXXXX` escape.
const CLASS_U: u8 = 16;

/// What the 64-lane prefilter knows of each byte of a step: bit `k` for the step's byte `k`.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, Default)]
struct ByteMasks {
    /// A quote that may close a key.
    quote: u64,
    /// One of [`KEY_SPECIALS`].
    special: u64,
    /// A backslash.
    backslash: u64,
    /// The byte and the one before it may be a word's last two (see [`last_pair_slot`]).
    last_pair: u64,
    /// The `u` of a `\u`: a backslash before it.
    unicode: u64,
}

/// Bytes that may end a key's raw text without being a word's last byte: the separators the
/// reader drops, the space and tab before a terminator, and the backslash of an escape. After
/// one of them the scalar test must read further.
const KEY_SPECIALS: [u8; 6] = [b'_', b'-', b'.', b' ', b'\t', b'\\'];

/// A set of ASCII bytes as two 16-byte nibble tables, one bit per high nibble: exact, because
/// ASCII has eight high nibbles. Bytes from 0x80 up are never in it.
#[derive(Debug, Clone, Copy, Default)]
struct NibbleSet {
    low: [u8; 16],
    high: [u8; 16],
}

impl NibbleSet {
    fn insert(&mut self, b: u8) {
        if b.is_ascii() {
            self.low[usize::from(b & 15)] |= 1 << (b >> 4);
            self.high[usize::from(b >> 4)] = 1 << (b >> 4);
        }
    }

    #[cfg(test)]
    fn contains(&self, b: u8) -> bool {
        self.low[usize::from(b & 15)] & self.high[usize::from(b >> 4)] != 0
    }
}

impl KeyGate {
    /// The gate for the built-in words and `extra_keys` (normalized).
    pub(super) fn new(extra_keys: &[Box<[u8]>]) -> Self {
        let builtin = SENSITIVE_EXACT
            .iter()
            .chain(SENSITIVE_SUFFIXES)
            .map(|(w, _)| w.as_bytes());
        let extra = extra_keys.iter().map(|k| {
            let tail = k.iter().rev().take_while(|b| b.is_ascii_alphanumeric()).count();
            &k[k.len() - tail..]
        });
        let mut gate = KeyGate {
            ends: Vec::new(),
            words: Vec::new(),
            off: false,
            key_end: NibbleSet::default(),
            avx2: crate::gate::avx2_detected(),
            last_pairs: [0; 128],
            vbmi: crate::gate::vbmi_detected(),
            byte_class: [0; 128],
        };
        for t in TERMINATORS {
            gate.byte_class[usize::from(t)] |= CLASS_TERMINATOR;
        }
        for q in [b'"', b'\''] {
            gate.byte_class[usize::from(q)] |= CLASS_QUOTE;
        }
        for b in KEY_SPECIALS {
            gate.byte_class[usize::from(b)] |= CLASS_SPECIAL;
        }
        gate.byte_class[usize::from(b'\\')] |= CLASS_BACKSLASH;
        gate.byte_class[usize::from(b'u')] |= CLASS_U;
        for b in KEY_SPECIALS {
            gate.key_end.insert(b);
        }
        for word in builtin.chain(extra) {
            if word.len() < 2 {
                gate.off = true;
                continue;
            }
            let bit = 1u64 << (gate.words.len() % 64);
            if gate.ends.len() < word.len() {
                let empty = EndRow {
                    bytes: [0; 128],
                    complete: 0,
                };
                gate.ends.resize(word.len(), empty);
            }
            for (k, &c) in word.iter().rev().enumerate() {
                gate.ends[k].bytes[usize::from(c & 0x7f)] |= bit;
            }
            gate.ends[word.len() - 1].complete |= bit;
            let last = word[word.len() - 1];
            gate.key_end.insert(last);
            gate.key_end.insert(last.to_ascii_uppercase());
            let (byte, bit) = last_pair_slot(last, word[word.len() - 2]);
            gate.last_pairs[byte] |= bit;
            gate.words.push(word.into());
        }
        debug_assert!(gate.ends.len() <= KEY_BUF);
        gate
    }

    /// The first terminator in `hay[from..end]` that may end a sensitive key, reading key bytes
    /// back to `lo` at most (the start of the region: its bytes before are not the line's).
    #[inline]
    pub(super) fn next_open(&self, hay: &[u8], lo: usize, from: usize, end: usize) -> Option<usize> {
        if self.off {
            return (from < end).then_some(from);
        }
        let is_open = |t: usize| TERMINATORS.contains(&hay[t]) && self.may_end_sensitive_key(hay, lo, t);
        // The vector paths read up to eight bytes back from each position.
        let mut i = from.max(lo + 8).min(end);
        if let Some(t) = (from..i).find(|&t| is_open(t)) {
            return Some(t);
        }
        #[cfg(target_arch = "x86_64")]
        if self.vbmi {
            // SAFETY: `vbmi` is true only when the CPU said it has AVX-512 F, BW and VBMI (see
            // `gate`); `i >= lo + 8`.
            match unsafe { self.next_open_vbmi(hay, lo, i, end) } {
                Ok(found) => return found,
                Err(rest) => i = rest,
            }
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when the CPU said it has AVX2 (see `gate`); `i >= lo + 8`.
            match unsafe { self.next_open_avx2(hay, lo, i, end) } {
                Ok(found) => return found,
                Err(rest) => i = rest,
            }
        }
        // Sixteen bytes per step: a mask of the terminators among them, then the look-back for
        // each. Why not `memchr3_iter`: its per-match restart costs more than the look-back on
        // records with a terminator every few bytes (measured: 146 instructions per terminator).
        while i + 16 <= end {
            let mask = terminator_mask(hay[i..i + 16].try_into().expect("16 bytes"));
            if let Some(t) = self.first_open(hay, lo, i, u64::from(mask)) {
                return Some(t);
            }
            i += 16;
        }
        (i..end).find(|&t| is_open(t))
    }

    /// The 64-lane prefilter: a terminator passes when the two bytes before it (before its
    /// quote, if a quote precedes it) are, by their low five bits, the last two bytes of a word
    /// ([`KeyGate::last_pairs`], one `vpermi2b`), or when a space, tab, separator or backslash
    /// sits among them (the scalar test reads further then), or the `u` of a `\u` among the
    /// eight bytes before it (an escape may end there). After an escaped quote (`\"`, a key of
    /// a document inside a string) the key's last two bytes are those before the backslash.
    /// Every terminator the scalar test would accept passes. `Err` gives where the next path
    /// takes over. Needs `from >= lo + 8`.
    ///
    /// Each step classifies its 64 bytes once ([`ByteMasks`]) and reads what lies one to eight
    /// bytes before each terminator off those masks, shifted, with the previous step's masks
    /// shifted in: two `vpermi2b` a step (the class and the pair lookup), where a class lookup
    /// per byte offset made five (four class lookups and the pair).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx2")]
    fn next_open_vbmi(&self, hay: &[u8], lo: usize, from: usize, end: usize) -> Result<Option<usize>, usize> {
        use std::arch::x86_64::*;
        let hay = &hay[..end];
        // SAFETY (all loads below): 64 bytes inside `last_pairs` or inside `hay` (`i - 1 >= lo`
        // and `i + 64 <= hay.len()`), without alignment requirement.
        let load = |p: *const u8| unsafe { _mm512_loadu_si512(p.cast::<__m512i>()) };
        let (pairs_lo, pairs_hi) = (load(self.last_pairs.as_ptr()), load(self.last_pairs[64..].as_ptr()));
        let (class_lo, class_hi) = (load(self.byte_class.as_ptr()), load(self.byte_class[64..].as_ptr()));
        let has = |c: __m512i, bit: u8| _mm512_test_epi8_mask(c, _mm512_set1_epi8(bit as i8));
        let bit_of = _mm512_broadcast_i32x4(_mm_setr_epi8(
            1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128,
        ));
        // The masks of the step before, valid when that step was classified.
        let mut before: Option<ByteMasks> = None;
        let mut i = from;
        while i + 64 <= hay.len() {
            let p = hay[i..].as_ptr();
            // SAFETY: see above.
            let v = load(p);
            // `vpermi2b` reads seven bits of each byte: lanes of bytes from 0x80 up are zeroed.
            // Their mask comes from the top bits (`vpmovb2m`), not a compare: compares into a
            // mask register share the one port every lookup here needs.
            let class = _mm512_maskz_permutex2var_epi8(!_mm512_movepi8_mask(v), class_lo, v, class_hi);
            let term = has(class, CLASS_TERMINATOR);
            if term == 0 {
                before = None;
                i += 64;
                continue;
            }
            // SAFETY: see above.
            let previous = load(unsafe { p.sub(1) });
            // `last_pair_slot` for each byte as a word's last and the byte before it as its
            // second: byte ((last & 31) << 2) | ((second & 31) >> 3), bit second & 7.
            let index = _mm512_or_si512(
                _mm512_and_si512(_mm512_slli_epi16::<2>(v), _mm512_set1_epi8(0x7c)),
                _mm512_and_si512(_mm512_srli_epi16::<3>(previous), _mm512_set1_epi8(0x03)),
            );
            let bit = _mm512_shuffle_epi8(bit_of, _mm512_and_si512(previous, _mm512_set1_epi8(7)));
            let prior = before.unwrap_or_else(|| self.masks_before(hay, lo, i));
            let backslash = has(class, CLASS_BACKSLASH);
            let mut step = ByteMasks {
                quote: has(class, CLASS_QUOTE),
                special: has(class, CLASS_SPECIAL),
                backslash,
                last_pair: _mm512_test_epi8_mask(_mm512_permutex2var_epi8(pairs_lo, index, pairs_hi), bit),
                unicode: 0,
            };
            // Bit `t` of `back(m, k)`: the byte `k` before terminator `t` has property `m`.
            let back = |step: &ByteMasks, m: fn(&ByteMasks) -> u64, k: u32| m(step) << k | m(&prior) >> (64 - k);
            let quoted = back(&step, |m| m.quote, 1);
            // A special among the key's last two bytes: after a quote, bytes 2-3 before.
            let (pair, special, escapes) = if backslash | prior.backslash >> 62 | prior.unicode >> 56 == 0 {
                // Most logs have no backslash in a whole step (nor a `\u` in the step's `unicode`):
                // the formulas below with no escaped quote. Computed always, those cost 6% of the
                // bench's clean lines (best of 60), and computing `unicode` always, 2%.
                let pair = (quoted & back(&step, |m| m.last_pair, 2)) | (!quoted & back(&step, |m| m.last_pair, 1));
                let special = back(&step, |m| m.special, 1)
                    | back(&step, |m| m.special, 2)
                    | (quoted & back(&step, |m| m.special, 3));
                (pair, special, 0)
            } else {
                step.unicode = has(class, CLASS_U) & (backslash << 1 | prior.backslash >> 63);
                let back = |m: fn(&ByteMasks) -> u64, k: u32| back(&step, m, k);
                // A quote escaped for a document inside a string (`{\"ts\":1}`): the key ends
                // before its backslash, which the word check reads past; its last two bytes
                // are 3-4 before.
                let escaped = quoted & back(|m| m.backslash, 2);
                let plain = quoted & !escaped;
                let pair = (escaped & back(|m| m.last_pair, 3))
                    | (plain & back(|m| m.last_pair, 2))
                    | (!quoted & back(|m| m.last_pair, 1));
                let special = (escaped & (back(|m| m.special, 3) | back(|m| m.special, 4)))
                    | (!escaped
                        & (back(|m| m.special, 1) | back(|m| m.special, 2) | (quoted & back(|m| m.special, 3))));
                // A `\u` escape may end the key, or stop the word check within five bytes of
                // its start: its `u` lies among the eight bytes before the terminator (see the
                // word check). Other escapes decode to the byte after the backslash, which the
                // pair and special tests see.
                (pair, special, escape_within_8(back(|m| m.unicode, 8), step.unicode))
            };
            let mask = term & (pair | special | escapes);
            if let Some(t) = self.first_open(hay, lo, i, mask) {
                return Ok(Some(t));
            }
            before = Some(step);
            i += 64;
        }
        Err(i)
    }

    /// The [`ByteMasks`] of the eight bytes before `i`, as the step ending there would have
    /// them (in bits 56-63), for a step whose predecessor was not classified. Needs
    /// `i >= lo + 8` (the pair of the byte three before `i` reads the one four before). A `u` at
    /// `i - 8` has no backslash before it when `i - 9` is before `lo`: an escape is within a
    /// line.
    #[cfg(target_arch = "x86_64")]
    fn masks_before(&self, hay: &[u8], lo: usize, i: usize) -> ByteMasks {
        let class = |at: usize| self.byte_class.get(usize::from(hay[at])).copied().unwrap_or(0);
        let mut m = ByteMasks::default();
        for k in 1..=8 {
            let here = class(i - k);
            let bit = 1 << (64 - k);
            let set = |mask: &mut u64, class_bit: u8| {
                if here & class_bit != 0 {
                    *mask |= bit;
                }
            };
            set(&mut m.quote, CLASS_QUOTE);
            set(&mut m.special, CLASS_SPECIAL);
            set(&mut m.backslash, CLASS_BACKSLASH);
            if here & CLASS_U != 0 && i - k > lo && class(i - k - 1) & CLASS_BACKSLASH != 0 {
                m.unicode |= bit;
            }
            // Up to the key's last byte before an escaped quote (`\"` before the terminator).
            if k <= 3 {
                let (byte_index, byte_bit) = last_pair_slot(hay[i - k], hay[i - k - 1]);
                if self.last_pairs[byte_index] & byte_bit != 0 {
                    m.last_pair |= bit;
                }
            }
        }
        m
    }

    /// The vector prefilter: 32 positions per step, each a terminator whose previous byte (or,
    /// after a quote, the byte before that) is in [`KeyGate::key_end`]; only those go through
    /// the scalar test, which would return false for all the others (see `key_end`). `Err` gives
    /// where the scalar path takes over (fewer than 32 bytes left). Needs `from >= lo + 2`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn next_open_avx2(&self, hay: &[u8], lo: usize, from: usize, end: usize) -> Result<Option<usize>, usize> {
        use std::arch::x86_64::*;
        let hay = &hay[..end];
        let set = |t: [u8; 16]| {
            // SAFETY: reads the 16 bytes of `t`, without alignment requirement.
            _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t.as_ptr().cast::<__m128i>()) })
        };
        let (low, high) = (set(self.key_end.low), set(self.key_end.high));
        let nibble = _mm256_set1_epi8(15);
        let in_key_end = |v: __m256i| {
            let l = _mm256_shuffle_epi8(low, _mm256_and_si256(v, nibble));
            let h = _mm256_shuffle_epi8(high, _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble));
            // A byte with its top bit set selects zero in `high`'s shuffle: never in the set.
            _mm256_xor_si256(
                _mm256_cmpeq_epi8(_mm256_and_si256(l, h), _mm256_setzero_si256()),
                _mm256_set1_epi8(-1),
            )
        };
        let eq = |v: __m256i, b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
        let mut i = from;
        while i + 32 <= hay.len() {
            // SAFETY: `i - 2 >= lo` and `i + 32 <= hay.len()`: the three loads read inside `hay`.
            let (v0, v1, v2) = unsafe {
                let p = hay.as_ptr().add(i);
                (
                    _mm256_loadu_si256(p.cast::<__m256i>()),
                    _mm256_loadu_si256(p.sub(1).cast::<__m256i>()),
                    _mm256_loadu_si256(p.sub(2).cast::<__m256i>()),
                )
            };
            let [a, b, c] = TERMINATORS;
            let term = _mm256_or_si256(_mm256_or_si256(eq(v0, a), eq(v0, b)), eq(v0, c));
            let quote1 = _mm256_or_si256(eq(v1, b'"'), eq(v1, b'\''));
            let key_end = _mm256_or_si256(in_key_end(v1), _mm256_and_si256(quote1, in_key_end(v2)));
            let backslashes = |v: __m256i| u64::from(_mm256_movemask_epi8(eq(v, b'\\')) as u32);
            // SAFETY: `i - 8 >= lo`, inside `hay`.
            let before = unsafe { _mm256_loadu_si256(hay.as_ptr().add(i - 8).cast::<__m256i>()) };
            let escapes = escape_within_8(backslashes(before), backslashes(v0)) as u32;
            let passing = _mm256_movemask_epi8(_mm256_and_si256(term, key_end)) as u32 | escapes;
            let mask = passing & _mm256_movemask_epi8(term) as u32;
            if let Some(t) = self.first_open(hay, lo, i, u64::from(mask)) {
                return Ok(Some(t));
            }
            i += 32;
        }
        Err(i)
    }

    /// The first terminator `base + k`, for bit `k` set in `mask`, that may end a sensitive key.
    #[inline(always)]
    fn first_open(&self, hay: &[u8], lo: usize, base: usize, mut mask: u64) -> Option<usize> {
        while mask != 0 {
            let t = base + mask.trailing_zeros() as usize;
            if self.may_end_sensitive_key(hay, lo, t) {
                return Some(t);
            }
            mask &= mask - 1;
        }
        None
    }

    /// True when the bytes before the terminator at `t` may end a sensitive key. Inlined into
    /// the vector loops that call it for each terminator they pass: as a call it saved and
    /// restored registers each time (best of 60, `examples/best_of.rs`: clean logs 3.12-3.18 ->
    /// 3.25-3.26 GB/s, one credential per 200 lines 1.74 -> 1.77-1.78).
    #[inline(always)]
    fn may_end_sensitive_key(&self, hay: &[u8], lo: usize, t: usize) -> bool {
        let before = &hay[lo..t];
        let mut k = before.len();
        while k > 0 && matches!(before[k - 1], b' ' | b'\t') {
            k -= 1;
        }
        if k > 0 && matches!(before[k - 1], b'"' | b'\'') {
            k -= 1;
        } else if hay[t] == b',' {
            // Only a quoted key is followed by a comma.
            return false;
        }
        let key = &before[..k];
        if key.is_empty() {
            return false;
        }
        // The normalized tail, read backwards against all words at once: each byte keeps the
        // words that have it at that place from their end. Most keys fail at their first or
        // second byte (`ts`, `level`, `trace_id`); `duration` fails at its sixth against
        // `authorization`. Index loops, not iterator chains: this runs for many terminators. A
        // byte no key holds ends the read through the rows' zero entries, without a branch of
        // its own.
        //
        // Escapes: a reader decodes `\uXXXX` to its byte and `\x` to `x`. So a backslash is
        // skipped like a separator, unless a `u` follows it: the byte after it, already read,
        // is what it decodes to (and of `\\`, the backslash it decodes to is no key's byte: the
        // key has no word across it, and reading on only errs towards passing). That is also
        // how a quote escaped for a document inside a string (`{\"ts\":1}`, every record of a
        // Docker JSON log line) is read past.
        let mut live = u64::MAX;
        let mut n = 0;
        let mut j = key.len();
        while j > 0 {
            j -= 1;
            let c = NORMALIZED[usize::from(key[j])];
            if c == SEPARATOR || c == BACKSLASH {
                if c == BACKSLASH && key.get(j + 1) == Some(&b'u') {
                    return true;
                }
                continue;
            }
            let Some(row) = self.ends.get(n) else { break };
            live &= row.bytes[usize::from(c & 0x7f)];
            if live == 0 {
                break;
            }
            // With more than 64 words the bits are shared, so this errs towards passing.
            if live & row.complete != 0 {
                return true;
            }
            n += 1;
        }
        // The byte that ended the read may be part of a `\u` escape (`passwor\u0064`) that
        // decodes to a byte of the key: then only the decoding tells. (It is a backslash only
        // where the read stopped at the longest word's length.)
        key[j] == b'\\' || unicode_escape_near(key, j)
    }
}

/// True when a `\u` starts in the five bytes before `key[j]`: a `\uXXXX` escape may then
/// cover `key[j]`. As two zero-byte tests of one word where eight bytes end at `j` (a loop
/// over the bytes was one branch each).
#[inline(always)]
fn unicode_escape_near(key: &[u8], j: usize) -> bool {
    let Some(first) = j.checked_sub(7) else {
        return (j.saturating_sub(5)..j).any(|b| key[b] == b'\\' && key[b + 1] == b'u');
    };
    let word = u64::from_le_bytes(key[first..=j].try_into().expect("8 bytes"));
    let backslashes = zero_bytes(word ^ 0x5c5c_5c5c_5c5c_5c5c);
    let us = zero_bytes(word ^ 0x7575_7575_7575_7575);
    // A backslash in bytes 2..=6 of the word (`key[j - 5..j]`) with a `u` after it.
    backslashes & us >> 8 & 0x0080_8080_8080_0000 != 0
}

/// The top bit of each zero byte of `x`, exactly (no carry between bytes).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// How the key reader sees a byte: a separator (dropped), a backslash (an escape), a byte no key
/// word holds, or else the byte lowercased (ASCII letters and digits).
static NORMALIZED: [u8; 256] = {
    let mut table = [NOT_KEY; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
            b'_' | b'-' | b'.' | b' ' => SEPARATOR,
            b'\\' => BACKSLASH,
            _ if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => NOT_KEY,
        };
        b += 1;
    }
    table
};
const NOT_KEY: u8 = 0;
const SEPARATOR: u8 = 1;
const BACKSLASH: u8 = 2;

/// Bit `k` set when a backslash sits among the eight bytes before position `k` of a step:
/// `before` has a bit per byte from eight bytes before the step, `at` one per byte of the step.
#[inline(always)]
fn escape_within_8(before: u64, at: u64) -> u64 {
    // Bit j of `all` is byte j - 8 of the step.
    let all = u128::from(before) | u128::from(at) << 8;
    let spread2 = all | all >> 1;
    let spread4 = spread2 | spread2 >> 2;
    (spread4 | spread4 >> 4) as u64
}

/// Byte and bit of [`KeyGate::last_pairs`] for a word ending in `second`, `last`.
fn last_pair_slot(last: u8, second: u8) -> (usize, u8) {
    (
        usize::from(((last & 31) << 2) | ((second & 31) >> 3)),
        1 << (second & 7),
    )
}

/// Bit `i` set when `bytes[i]` is one of [`TERMINATORS`].
#[inline(always)]
fn terminator_mask(bytes: &[u8; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads exactly the 16 bytes of
        // `bytes` and has no alignment requirement.
        unsafe {
            let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let [a, b, c] = TERMINATORS.map(|t| _mm_cmpeq_epi8(v, _mm_set1_epi8(t as i8)));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), c)) as u32
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| TERMINATORS.contains(b))
            .fold(0, |m, (i, _)| m | 1 << i)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::StructuredRules;
    use super::*;

    fn rules() -> StructuredRules {
        static RULES: std::sync::OnceLock<StructuredRules> = std::sync::OnceLock::new();
        RULES
            .get_or_init(|| {
                let rules = crate::rules::compile_sources(&crate::rules::builtin_sources()).unwrap();
                StructuredRules::from_rules(&rules).unwrap()
            })
            .clone()
    }

    fn spans(rules: &StructuredRules, hay: &[u8], gated: bool) -> Vec<(usize, usize, u32, Option<u8>)> {
        let mut out = Vec::new();
        if gated {
            rules.find(hay, 0..hay.len(), &mut out);
        } else {
            rules.find_ungated(hay, 0..hay.len(), &mut out);
        }
        let mut spans: Vec<_> = out.iter().map(|f| (f.start, f.end, f.rule, f.quoted)).collect();
        spans.sort_unstable();
        spans
    }

    /// Keys the readers classify, in the shapes the gate must not miss: escapes, separators,
    /// case, spaces before the terminator.
    const SENSITIVE: &[&str] = &[
        "password",
        "Password",
        "db_password",
        "pass\\u0077ord",
        "p\\u0061ssword",
        "passwor\\u0064",
        "API_KE\\u0059",
        "passwor_d",
        "\\u0070assword",
        "api_key",
        "X-Api-Key",
        "apiKey",
        "API_KEY_",
        "access.token",
        "token",
        "Authorization",
        "set-cookie",
        "client secret",
        "secret_",
        "x_vault_token",
        "card_pin",
    ];

    const OTHER: &[&str] = &[
        "ts",
        "level",
        "trace_id",
        "key",
        "duration",
        "passenger",
        "tokens",
        "msg",
        "user",
        "status",
        "pin2",
    ];

    /// Record shapes, `K` the key and `V` the value.
    const SHAPES: &[&str] = &[
        r#"{"K":"V"}"#,
        r#"{"a":1,"K" : "V","b":[1,2]}"#,
        r#"{"K":1234}"#,
        r#"{"K":["V","W"]}"#,
        r#"{"msg":"{\"K\":\"V\"}"}"#,
        r#"{"msg":"{\\\"K\\\":\\\"V\\\"}"}"#,
        "time=1 K=V other=x",
        "K=V",
        r#"K="V" a=1"#,
        "msg=\"{\\\"K\\\":\\\"V\\\"}\"",
        "got map[K:V user:bob]",
        r#"map[string]string{"K":"V"}"#,
        "cfg &{User:bob K:V}",
        "{'K': 'V', 'u': 1}",
        "Config(K='V', user='bob')",
        "dict(K=\"V\")",
        "K\t= V",
        r#"cfg main.Config{User:"bob", K:"V"}"#,
        "cfg {User:bob K:V}",
        r#"{"msg":"loaded Config(K='V')"}"#,
        "OrderedDict([('K', 'V'), ('u', 'b')])",
    ];

    fn line(shape: &str, key: &str, value: &str) -> String {
        shape.replace('K', key).replace('V', value)
    }

    #[test]
    fn every_shape_and_key_gives_the_same_findings_gated_and_ungated() {
        let plain = rules();
        let extra = plain.clone().with_extra_keys(["vault-token", "pin"]).unwrap();
        for rules in [&plain, &extra] {
            for shape in SHAPES {
                for key in SENSITIVE.iter().chain(OTHER) {
                    // A line before it, of every length around the vector paths' 32 and 64
                    // bytes, so that the record sits at every alignment of their steps.
                    for pad in (0..72).chain([130, 200]) {
                        let hay = format!(
                            "{}\n{}",
                            "level=info ".repeat(pad / 11 + 1)[..pad].trim_end(),
                            line(shape, key, "s3cr3tVal")
                        );
                        let gated = spans(rules, hay.as_bytes(), true);
                        assert_eq!(gated, spans(rules, hay.as_bytes(), false), "{hay}");
                    }
                }
            }
        }
        // The comparison above must see findings at all, or it proves nothing.
        let hay = line(SHAPES[0], "password", "s3cr3tVal");
        assert_eq!(spans(&plain, hay.as_bytes(), true).len(), 1);
    }

    #[test]
    fn lines_without_sensitive_keys_are_not_read() {
        let gate = KeyGate::new(&[]);
        let clean = br#"{"ts":"2026-11-22T00:00:10Z","level":"info","trace_id":"7cbe","duration_ms":3}
time=2026 level=info msg="cache hit" key=orders:17 component=billing duration=3ms
{"log":"{\"ts\":\"2026-11-22\",\"msg\":\"{\\\"key\\\":1}\"}\n","stream":"stdout"}"#;
        assert_eq!(gate.next_open(clean, 0, 0, clean.len()), None);
        for open in [
            &br#"{"ts":1,"password":"x"}"#[..],
            b"a=1 api_key=x",
            br#"{"log":"{\"password\":\"x\"}"}"#,
            br#"{"log":"{\"msg\":\"{\\\"apiKey\\\":1}\"}"}"#,
            // The escapes that may decode to a key's byte.
            br#"{"log":"{\"passwor\u0064\":\"x\"}"}"#,
            br#"{"log":"{\"p\u0061ssword\":\"x\"}"}"#,
            br#"{"passwor\d":"x"}"#,
        ] {
            assert!(
                gate.next_open(open, 0, 0, open.len()).is_some(),
                "{}",
                String::from_utf8_lossy(open)
            );
        }
    }

    /// A key whose last bytes, quote or escape sit in the step before its terminator's, at
    /// every offset from the step's start, after a step with terminators (whose masks are
    /// carried) and after one without (whose masks are not): every path stops at the key.
    #[test]
    fn keys_across_a_step_boundary_open_on_every_path() {
        let gate = KeyGate::new(&[b"pin".to_vec().into_boxed_slice()]);
        let paths = [
            KeyGate {
                vbmi: false,
                avx2: false,
                ..gate.clone()
            },
            KeyGate {
                vbmi: false,
                ..gate.clone()
            },
            gate,
        ];
        for filler in [&b"x"[..], b"a=1 "] {
            for key in [
                &br#""pin":"#[..],
                // Escaped quotes: a key of a document inside a string.
                br#"\"pin\":"#,
                br#"\"pi\u006e\":"#,
                b"pin=",
                b"p_i_n =",
                br#""pi\u006e":"#,
                b"'pin',",
                b"Pin\t=",
            ] {
                for offset in 0..80 {
                    let mut hay: Vec<u8> = filler.iter().copied().cycle().take(64 + offset).collect();
                    hay.push(b' ');
                    hay.extend_from_slice(key);
                    let t = hay.len() - 1;
                    hay.extend(filler.iter().copied().cycle().take(100));
                    for path in &paths {
                        let from = t.saturating_sub(key.len() + 70);
                        let open = path.next_open(&hay, 0, from, hay.len());
                        assert!(
                            open.is_some_and(|o| o <= t),
                            "{} at {offset}",
                            String::from_utf8_lossy(key)
                        );
                        assert_eq!(opens(path, &hay), opens(&paths[0], &hay));
                    }
                }
            }
        }
    }

    #[test]
    fn an_extra_key_ending_in_punctuation_turns_the_gate_off() {
        let gate = KeyGate::new(&[b"token:".to_vec().into_boxed_slice()]);
        assert_eq!(gate.next_open(b"ts=1", 0, 0, 4), Some(0));
        let gate = KeyGate::new(&[b"vault/token".to_vec().into_boxed_slice()]);
        assert_eq!(gate.next_open(b"ts=1", 0, 0, 4), None);
        assert_eq!(gate.next_open(b"a/token=1", 0, 0, 9), Some(7));
    }

    #[test]
    fn an_escape_just_before_the_bytes_read_opens_the_line() {
        // The longest word is this extra key: the read stops inside the `\u006d` escape, whose
        // decoded `m` completes it.
        let rules = rules().with_extra_keys(["my-very-long-pin-number"]).unwrap();
        let hay = br#"{"\u006dyverylongpinnumber":"x1"}"#;
        assert_eq!(spans(&rules, hay, true).len(), 1);
        assert_eq!(spans(&rules, hay, true), spans(&rules, hay, false));
    }

    #[test]
    fn the_nibble_set_is_exact() {
        let gate = KeyGate::new(&[b"pin".to_vec().into_boxed_slice()]);
        for b in 0..=255u8 {
            let expected = matches!(b, b'_' | b'-' | b'.' | b' ' | b'\t' | b'\\')
                || gate
                    .words
                    .iter()
                    .any(|w| w.last().is_some_and(|l| l.eq_ignore_ascii_case(&b)));
            assert_eq!(gate.key_end.contains(b), expected, "{b:#x}");
        }
    }

    /// Random soups of record fragments, keys, escapes and separators, at every offset of the
    /// vector path: the gated pass finds exactly what the ungated one does.
    fn soup() -> impl Strategy<Value = Vec<u8>> {
        let pieces: Vec<&'static str> = SENSITIVE
            .iter()
            .chain(OTHER)
            .copied()
            .chain([
                "{",
                "}",
                "[",
                "]",
                "(",
                ")",
                "\"",
                "'",
                ":",
                "=",
                ",",
                " ",
                "\t",
                "\\",
                "\\\"",
                "\\\\\\\"",
                "map[",
                "&{",
                "{'",
                "Config(",
                "\n",
                "_",
                "-",
                ".",
                "\\u0061",
                "x",
                "12",
                "true",
                "s3cr3t",
                "Bearer ",
                // Longer than a vector step, without a terminator: the next step's look-back
                // starts from bytes it classifies itself.
                "loremipsumdolorsitametconsecteturadipiscingelitseddoeiusmodtemporincididunt",
            ])
            .collect();
        proptest::collection::vec(proptest::sample::select(pieces), 0..60).prop_map(|v| v.concat().into_bytes())
    }

    /// Every terminator `next_open` stops at, from the start of `hay`.
    fn opens(gate: &KeyGate, hay: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(t) = gate.next_open(hay, 0, from, hay.len()) {
            out.push(t);
            from = t + 1;
        }
        out
    }

    proptest! {
        /// The word test finds a `\u` exactly where the byte loop does.
        #[test]
        fn unicode_escape_near_is_the_byte_loop(
            key in proptest::collection::vec(prop_oneof![Just(b'\\'), Just(b'u'), any::<u8>()], 1..24)
        ) {
            for j in 0..key.len() {
                let expected = (j.saturating_sub(5)..j).any(|b| key[b] == b'\\' && key[b + 1] == b'u');
                prop_assert_eq!(unicode_escape_near(&key, j), expected, "{:?} at {}", key, j);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The AVX-512, AVX2 and scalar paths stop at the same terminators: the vector
        /// prefilters only skip terminators the scalar test rejects.
        #[test]
        fn every_path_stops_at_the_same_terminators(hay in soup(), pad in 0usize..70) {
            let mut hay = hay;
            hay.splice(0..0, std::iter::repeat_n(b'x', pad));
            let fast = KeyGate::new(&[b"pin".to_vec().into_boxed_slice()]);
            let expected = opens(&KeyGate { vbmi: false, avx2: false, ..fast.clone() }, &hay);
            prop_assert_eq!(&opens(&KeyGate { vbmi: false, ..fast.clone() }, &hay), &expected);
            prop_assert_eq!(&opens(&fast, &hay), &expected);
        }
        #[test]
        fn gated_equals_ungated_on_random_soups(hay in soup(), shape in 0..SHAPES.len(), key in 0..SENSITIVE.len()) {
            let rules = rules();
            let record = line(SHAPES[shape], SENSITIVE[key], "zz9Secret");
            let mut with_record = hay.clone();
            with_record.extend_from_slice(record.as_bytes());
            for hay in [hay, with_record] {
                prop_assert_eq!(spans(&rules, &hay, true), spans(&rules, &hay, false), "{}", String::from_utf8_lossy(&hay));
            }
        }
    }
}
