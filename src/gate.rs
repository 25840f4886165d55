//! The gate: a cheap first stage in front of the anchor automaton.
//!
//! Each anchor is given one *gate*, a 4-byte substring of it (or the whole anchor when it is 3
//! bytes long). The gate stage tests every haystack position for "a gate may start here" with
//! hashed bit tables; each candidate is then checked exactly against the anchors owning that
//! gate, and the anchor automaton only runs from the first confirmed one (see
//! `RuleSet::first_anchor` in `scan`). No false negatives: every anchor occurrence holds its
//! gate, and the tables only err towards extra candidates.
//!
//! Why not Teddy: the catalogue's 349 anchors need at least 91 distinct 3-byte gates (that
//! many anchors share no 3-byte substring with any other), a greedy cover needs 160, and Teddy
//! refuses more than 64 patterns and degrades past about 40 on lowercase text (measured: three
//! Teddy passes of 54 gates ran at about the automaton's speed). The hashed test has no
//! loop-carried dependency, unlike an automaton walk whose next state waits on the previous
//! load, so positions are tested in parallel: eight per AVX2 gather when the CPU has AVX2
//! (detected at run time), else eight per scalar step.
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
    /// Every anchor under its folded gate: `(key, offset of the gate in the anchor, anchor)`,
    /// sorted by key, where the key is the gate's length in bits 32.. and its folded bytes below.
    /// Lets [`Gate::anchor_at`] confirm a candidate exactly without the automaton.
    owners: Vec<(u64, usize, Vec<u8>)>,
    /// The gates as small byte tables (see [`ByteTables`]): the first test of the AVX-512 path,
    /// and part of [`Gate::full_at`] on every path, so that all paths agree.
    small: ByteTables,
    /// AVX2 was detected at run time: `next_candidate` takes the vector path.
    avx2: bool,
    /// AVX-512 with VBMI was detected at run time: `next_candidate` takes the 64-lane path.
    vbmi: bool,
    /// The 64-lane path also asks the table of bytes 1-3 ([`ByteTables::tri4`]). Worth its lookup
    /// only when the tables are dense: measured in criterion, it made the full catalogue's
    /// clean-log scan faster (4.1 -> 5.6 GiB/s, 182 rules) and 10 rules' slower (7.6-8.0 ->
    /// 5.6-6.4 GiB/s over three runs), where almost nothing passes the other tables anyway.
    vbmi_bytes_1_3: bool,
}

/// How many 4-byte gates make the byte tables dense enough for [`Gate::vbmi_bytes_1_3`]: the
/// bench's first 10 rules have 36, its first 60 have 146, the full catalogue 317.
const DENSE_GATES: usize = 64;

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
            owners: Vec::with_capacity(anchors.len()),
            small: ByteTables::default(),
            avx2: avx2_detected(),
            vbmi: vbmi_detected(),
            vbmi_bytes_1_3: false,
        };
        let shares = gram_shares(anchors);
        for a in anchors {
            let off = gate_offset(a, &shares);
            let g = &a[off..(off + 4).min(a.len())];
            let x3 = fold(u32::from_le_bytes([g[0], g[1], g[2], 0])) & 0x00FF_FFFF;
            gate.prefix3.insert(x3);
            let key = if g.len() == 3 {
                gate.full3.insert(x3);
                gate.small.insert3(x3);
                3 << 32 | u64::from(x3)
            } else {
                let x4 = fold(u32::from_le_bytes([g[0], g[1], g[2], g[3]]));
                gate.full4.insert(x4);
                gate.small.insert4(x4);
                4 << 32 | u64::from(x4)
            };
            gate.owners.push((key, off, a.clone()));
        }
        gate.owners.sort_unstable();
        let mut grams: Vec<u64> = gate.owners.iter().map(|o| o.0).filter(|key| key >> 32 == 4).collect();
        grams.dedup();
        gate.vbmi_bytes_1_3 = grams.len() >= DENSE_GATES;
        Some(gate)
    }

    /// True when an anchor whose gate starts at `c` occurs, ASCII case-insensitively, entirely
    /// inside `hay[pos..end]`. Exact: it compares the anchors themselves, so a candidate from
    /// [`Gate::next_candidate`] that is only a hash collision or a fold artefact is dropped here
    /// instead of costing an automaton walk.
    pub(crate) fn anchor_at(&self, hay: &[u8], c: usize, pos: usize, end: usize) -> bool {
        let hay = &hay[..end];
        let owned = |key: u64| {
            let first = self.owners.partition_point(|o| o.0 < key);
            self.owners[first..]
                .iter()
                .take_while(|o| o.0 == key)
                .any(|(_, off, a)| {
                    c.checked_sub(*off)
                        .filter(|&s| s >= pos)
                        .and_then(|s| hay.get(s..s + a.len()))
                        .is_some_and(|w| w.eq_ignore_ascii_case(a))
                })
        };
        let gram = |n: usize| {
            hay.get(c..c + n).map(|w| {
                let mut b = [0; 4];
                b[..n].copy_from_slice(w);
                fold(u32::from_le_bytes(b)) & (u32::MAX >> (8 * (4 - n)))
            })
        };
        gram(4).is_some_and(|x| owned(4 << 32 | u64::from(x))) || gram(3).is_some_and(|x| owned(3 << 32 | u64::from(x)))
    }

    /// True when the folded 4 bytes `x` start a gate.
    #[inline(always)]
    fn full_at(&self, x: u32) -> bool {
        self.small.may_start(x) && self.hashed_at(x)
    }

    /// [`Gate::full_at`] without the byte tables, for a position that passed them already.
    #[inline(always)]
    fn hashed_at(&self, x: u32) -> bool {
        let x3 = x & 0x00FF_FFFF;
        self.prefix3.contains(x3) && (self.full4.contains(x) || self.full3.contains(x3))
    }

    /// The first position in `at..end` where a gate may start, testing only grams that lie
    /// entirely inside `hay[at..end]`.
    ///
    /// Contract (as for regex-automata's prefilters): **no false negatives**. Every position
    /// where a gate starts is returned (case-folded as described in the module comment); extra
    /// positions may be returned. The vector and scalar paths return the same position for the
    /// same input: they test the same bits of the same tables, only more positions per step
    /// (checked by the property test below).
    #[inline]
    pub(crate) fn next_candidate(&self, hay: &[u8], at: usize, end: usize) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if self.vbmi {
            // SAFETY: `vbmi` is true only when the CPU said it has AVX-512 F, BW and VBMI (and so
            // AVX2) when this gate was built, on this process's CPU.
            return unsafe {
                if self.vbmi_bytes_1_3 {
                    self.next_candidate_vbmi::<true>(hay, at, end)
                } else {
                    self.next_candidate_vbmi::<false>(hay, at, end)
                }
            };
        }
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only when `is_x86_feature_detected!("avx2")` said so when
            // this gate was built, on this process's CPU.
            return unsafe { self.next_candidate_avx2(hay, at, end) };
        }
        self.next_candidate_scalar(hay, at, end)
    }

    /// The vector path: 32 positions per step. Each position's 3-byte prefix is hashed in an
    /// AVX2 lane (the same fold and multiplicative hash as [`BitTable::slot`]) and its table bit
    /// fetched with a gather (one per eight positions), so a chunk without a prefix hit costs a
    /// few vector instructions per eight positions instead of eight scalar hash-and-load
    /// sequences. Positions whose bit is set go through the same [`Gate::full_at`] as the
    /// scalar path; the last positions (fewer than 40 bytes left) are left to the scalar path.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn next_candidate_avx2(&self, hay: &[u8], at: usize, end: usize) -> Option<usize> {
        let hay = &hay[..end];
        let table = &self.prefix3.0;
        let eight = |o: usize| prefix_hits_avx2(table, hay[o..o + 16].try_into().unwrap_or(&[0; 16]));
        let mut i = at;
        while i + 40 <= hay.len() {
            let hits = eight(i) | eight(i + 8) << 8 | eight(i + 16) << 16 | eight(i + 24) << 24;
            // `i + 31 + 4 <= i + 40 <= hay.len()`: every gram of the step is inside the span.
            if let Some(p) = self.first_full::<false>(hay, i, u64::from(hits)) {
                return Some(p);
            }
            i += 32;
        }
        self.next_candidate_scalar(hay, i, hay.len())
    }

    /// The 64-lane path: [`ByteTables::may_start`] for 62 positions at a time, each table a
    /// `vpermi2b` lookup, without a gather; only positions that pass go through
    /// [`Gate::full_at`] (which asks the byte tables again, then the hashed ones). Measured with
    /// `scripts/gate-model.py`, 0.5-2.1% of positions pass the byte tables (see [`ByteTables`]).
    ///
    /// Each table is looked up once per byte lane, with the slot of the bytes at that lane and
    /// the next one or two: the pair tables `a`, `b` and `d` share one slot (bytes `j, j + 1`) and
    /// the triple tables one slot (bytes `j..j + 3`). Position `j` asks `b` at lane `j + 1` and
    /// `d` at `j + 2` (its bytes 1-2 and 2-3), so their masks are shifted down instead of
    /// computing a slot from other loads: in the compiled function (`objdump -d`, the
    /// `BYTES_1_3` instance) 14 shuffle-port operations (`vpermi2b`, `vpshufb`, `vptestmb`)
    /// where there were 17, and 11 other vector operations where there were 27. The last two
    /// lanes lack the lanes after
    /// them, so a step covers 62 positions. The last positions (fewer than 66 bytes left) go to
    /// the AVX2 path.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx2")]
    fn next_candidate_vbmi<const BYTES_1_3: bool>(&self, hay: &[u8], at: usize, end: usize) -> Option<usize> {
        use std::arch::x86_64::*;
        /// Positions a step tests: lanes whose bytes 1-3 lie in lanes of the same loads.
        const STEP: usize = 62;
        let hay = &hay[..end];
        // SAFETY (all loads below): each reads 64 bytes inside a 128-byte table or inside `hay`
        // (`i + 2 + 64 <= i + 66 <= hay.len()`), without alignment requirement.
        let load = |p: *const u8| unsafe { _mm512_loadu_si512(p.cast::<__m512i>()) };
        let table = |t: &[u8; 128]| (load(t.as_ptr()), load(t[64..].as_ptr()));
        let t = &self.small;
        let (a, b, d) = (table(&t.a), table(&t.b), table(&t.d));
        let (tri, tri3, tri4) = (table(&t.tri), table(&t.tri3), table(&t.tri4));
        let bit_of = _mm512_broadcast_i32x4(_mm_setr_epi8(
            1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128,
        ));
        let mask = |m: i8| _mm512_set1_epi8(m);
        let look = |(lo, hi): (__m512i, __m512i), index: __m512i, bit: __m512i| {
            _mm512_test_epi8_mask(_mm512_permutex2var_epi8(lo, index, hi), bit)
        };
        let mut i = at;
        while i + STEP + 4 <= hay.len() {
            let p = hay[i..].as_ptr();
            // SAFETY: `p + 2 + 64 <= hay.as_ptr() + hay.len()`, see above.
            let (v0, v1, v2) = unsafe { (load(p), load(p.add(1)), load(p.add(2))) };
            // The 16-bit shifts move bits across bytes; the masks drop them. Each index and bit
            // is the one `ByteTables::pair` or `ByteTables::triple` computes for the bytes at
            // lanes `j, j + 1` or `j, j + 1, j + 2`.
            let pair_index = _mm512_or_si512(
                _mm512_and_si512(_mm512_slli_epi16::<2>(v0), mask(0x7c)),
                _mm512_and_si512(_mm512_srli_epi16::<3>(v1), mask(0x03)),
            );
            let pair_bit = _mm512_shuffle_epi8(bit_of, _mm512_and_si512(v1, mask(7)));
            let tri_index = _mm512_xor_si512(
                _mm512_xor_si512(
                    _mm512_and_si512(_mm512_slli_epi16::<2>(v0), mask(0x7c)),
                    _mm512_and_si512(v1, mask(0x1f)),
                ),
                _mm512_and_si512(_mm512_slli_epi16::<1>(v2), mask(0x3e)),
            );
            let tri_bit = _mm512_shuffle_epi8(
                bit_of,
                _mm512_and_si512(_mm512_xor_si512(v2, _mm512_srli_epi16::<2>(v1)), mask(7)),
            );
            let bytes_1_2 = look(b, pair_index, pair_bit) >> 1;
            let bytes_2_3 = look(d, pair_index, pair_bit) >> 2;
            let bytes_2_3 = if BYTES_1_3 {
                bytes_2_3 & look(tri4, tri_index, tri_bit) >> 1
            } else {
                bytes_2_3
            };
            // Without the table of bytes 1-3 more positions pass here; `full_at` asks it.
            let hits = look(a, pair_index, pair_bit)
                & bytes_1_2
                & look(tri, tri_index, tri_bit)
                & (bytes_2_3 | look(tri3, tri_index, tri_bit))
                & ((1 << STEP) - 1);
            // `i + 61 + 4 <= i + 66 <= hay.len()`: every gram of the step is inside the span.
            // With the table of bytes 1-3, `hits` has asked every byte table `full_at` would.
            if let Some(p) = self.first_full::<BYTES_1_3>(hay, i, hits) {
                return Some(p);
            }
            i += STEP;
        }
        self.next_candidate_avx2(hay, i, hay.len())
    }

    /// The first position `base + k`, for bit `k` set in `hits`, where [`Gate::full_at`] holds.
    /// Every gram `hay[base + k..base + k + 4]` must lie inside `hay`. `BYTES_TESTED`: every
    /// position in `hits` passed [`ByteTables::may_start`] already, so only the hashed tables
    /// are asked (the bench's clean logs have about one such false candidate a line; skipping
    /// the byte tables measured +1-2%, best of 60 runs on 268 KB).
    #[inline(always)]
    fn first_full<const BYTES_TESTED: bool>(&self, hay: &[u8], base: usize, mut hits: u64) -> Option<usize> {
        while hits != 0 {
            let p = base + hits.trailing_zeros() as usize;
            // One load, not four (the slice is inside `hay`: see above).
            let gram = fold(u32::from_le_bytes(hay[p..p + 4].try_into().expect("4 bytes")));
            let full = if BYTES_TESTED {
                debug_assert!(self.small.may_start(gram));
                self.hashed_at(gram)
            } else {
                self.full_at(gram)
            };
            if full {
                return Some(p);
            }
            hits &= hits - 1;
        }
        None
    }

    /// The scalar path; also the reference the vector path is tested against.
    #[inline]
    fn next_candidate_scalar(&self, hay: &[u8], at: usize, end: usize) -> Option<usize> {
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

/// The gate of one anchor among `anchors` (see [`gate_offset`]).
#[cfg(test)]
fn gate_of<'a>(anchor: &'a [u8], anchors: &[Vec<u8>]) -> &'a [u8] {
    let off = gate_offset(anchor, &gram_shares(anchors));
    &anchor[off..(off + 4).min(anchor.len())]
}

/// How many of `anchors` hold each folded 4-byte gram.
fn gram_shares(anchors: &[Vec<u8>]) -> std::collections::HashMap<u32, u32> {
    let mut shares = std::collections::HashMap::new();
    for a in anchors {
        let mut grams: Vec<u32> = a
            .windows(4)
            .map(|w| fold(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
            .collect();
        grams.sort_unstable();
        grams.dedup();
        for g in grams {
            *shares.entry(g).or_insert(0) += 1;
        }
    }
    shares
}

/// Extra score of a gram for each other anchor that holds it.
const SHARE_PENALTY: u32 = 20;

/// Where the gate of `anchor` starts in it: the anchor itself when 3 bytes long, else its 4-byte
/// substring made of the rarest-looking bytes, so that common words rarely wake the automaton.
/// The weights are a rough prior (English letter frequency; digits and log punctuation in
/// between), plus [`SHARE_PENALTY`] for each other anchor holding the gram: a gram that many
/// anchors share is a generic word part (`key=` in `api_key=`, `access_key=`, ...), common in
/// logs whatever its letters. Measured with `scripts/gate-model.py` (candidates per MB): the benchmark
/// log 101 without the penalty, 98 with it; logfmt lines with `key=orders:17`, 2,237 and 0;
/// the sample corpus's negatives, 10,270 and 8,988. For comparison, the best choice by real
/// 4-gram counts gave 77 on the benchmark log, and each anchor's first 4 bytes 2,500.
fn gate_offset(anchor: &[u8], shares: &std::collections::HashMap<u32, u32>) -> usize {
    if anchor.len() < 4 {
        return 0;
    }
    let score = |w: &[u8]| {
        let shared = shares
            .get(&fold(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
            .copied()
            .unwrap_or(1);
        w.iter().map(|&b| commonness(b)).sum::<u32>() + SHARE_PENALTY * shared.saturating_sub(1)
    };
    let mut best = 0;
    for (i, w) in anchor.windows(4).enumerate().skip(1) {
        if score(w) < score(&anchor[best..best + 4]) {
            best = i;
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

/// The multiplier of the tables' hash (Fibonacci hashing); shared by the scalar and vector paths.
const HASH_MUL: u32 = 0x9E37_79B1;

/// One bit per position (bit `k` for the 3-byte prefix at `bytes[k..k + 3]`, `k` in 0..8): the
/// prefix table's bit for it, computed for all eight in AVX2 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn prefix_hits_avx2(table: &[u64; TABLE_WORDS], bytes: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;

    // Lane `j` of the low half takes bytes j..j+3 (positions 0..4), lane `j` of the high half
    // bytes j+4..j+7 (positions 4..8); each lane's fourth byte is zeroed (-128 selects zero), so
    // a lane holds the 3-byte prefix exactly as the scalar path masks it.
    let shuffle = _mm256_setr_epi8(
        0, 1, 2, -128, 1, 2, 3, -128, 2, 3, 4, -128, 3, 4, 5, -128, //
        4, 5, 6, -128, 5, 6, 7, -128, 6, 7, 8, -128, 7, 8, 9, -128,
    );
    let low5 = _mm256_set1_epi32(31);
    // SAFETY: `bytes` is 16 readable bytes; the load has no alignment requirement.
    let bytes = unsafe { _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>()) };
    let grams = _mm256_or_si256(
        _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(bytes), shuffle),
        _mm256_set1_epi32(0x0020_2020),
    );
    let slot =
        _mm256_srli_epi32::<{ 32 - TABLE_BITS as i32 }>(_mm256_mullo_epi32(grams, _mm256_set1_epi32(HASH_MUL as i32)));
    // The table read as 32-bit words: little-endian, so bit `h` of the table (bit `h % 64` of
    // `u64` word `h / 64`) is bit `h % 32` of 32-bit word `h / 32`.
    // SAFETY: `slot < 2^TABLE_BITS`, so every index `slot / 32` is below `2^TABLE_BITS / 32`,
    // the number of 32-bit words in `table` (`TABLE_WORDS` u64 words).
    let word = unsafe { _mm256_i32gather_epi32::<4>(table.as_ptr().cast::<i32>(), _mm256_srli_epi32::<5>(slot)) };
    // Move bit `slot % 32` to the sign bit, then collect the eight sign bits.
    let bit = _mm256_sllv_epi32(word, _mm256_sub_epi32(low5, _mm256_and_si256(slot, low5)));
    _mm256_movemask_ps(_mm256_castsi256_ps(bit)) as u32
}

/// Six 1024-bit tables of the gates, keyed by the low five bits of each byte (which ASCII case
/// does not change, and which some other bytes share: the tables only err towards passing), in
/// 128 bytes each, the size one AVX-512 `vpermi2b` looks up:
///
/// - `a`: bytes 0-1 of every gate, `b`: bytes 1-2, `d`: bytes 2-3 of the 4-byte gates;
/// - `tri`: a hash of bytes 0-2 of every gate, `tri3`: the same for the 3-byte gates, `tri4`:
///   the same hash of bytes 1-3 of the 4-byte gates.
///
/// Letter pairs alone let 11-14% of log positions through (`or`, `in`, ...); with the triple
/// hash of bytes 0-2 and the pair of bytes 2-3, 2.1-3.2%, about as many as match a gate's first
/// three bytes exactly; with the triple of bytes 1-3 as well, 0.5-0.9% on the bench's generated
/// logs and 1.6-2.1% on the sample corpus, whose lines are dense with gate words
/// (`scripts/gate-model.py`). Those positions are what the scalar check costs. Much of what
/// still passes is the five bits' collisions: a digit shares its low five bits with one of the
/// letters `p` to `y`.
#[derive(Debug, Clone)]
struct ByteTables {
    a: [u8; 128],
    b: [u8; 128],
    d: [u8; 128],
    tri: [u8; 128],
    tri3: [u8; 128],
    tri4: [u8; 128],
}

impl Default for ByteTables {
    fn default() -> Self {
        ByteTables {
            a: [0; 128],
            b: [0; 128],
            d: [0; 128],
            tri: [0; 128],
            tri3: [0; 128],
            tri4: [0; 128],
        }
    }
}

/// A table byte and the bit in it.
type Slot = (usize, u8);

impl ByteTables {
    /// The slot of the byte pair `(x, y)` (the low byte of each).
    #[inline(always)]
    fn pair(x: u32, y: u32) -> Slot {
        ((((x & 31) << 2) | ((y & 31) >> 3)) as usize, 1 << (y & 7))
    }

    /// The slot of the bytes `(x, y, z)`: a hash of their low five bits that byte lanes can
    /// compute with 16-bit shifts and masks.
    #[inline(always)]
    fn triple(x: u32, y: u32, z: u32) -> Slot {
        let (x, y, z) = (x & 31, y & 31, z & 31);
        (((x << 2) ^ y ^ (z << 1)) as usize, 1 << ((z ^ (y >> 2)) & 7))
    }

    fn set(table: &mut [u8; 128], (byte, bit): Slot) {
        table[byte] |= bit;
    }

    fn has(table: &[u8; 128], (byte, bit): Slot) -> bool {
        table[byte] & bit != 0
    }

    fn insert_prefix(&mut self, x: u32) {
        Self::set(&mut self.a, Self::pair(x, x >> 8));
        Self::set(&mut self.b, Self::pair(x >> 8, x >> 16));
        Self::set(&mut self.tri, Self::triple(x, x >> 8, x >> 16));
    }

    /// Adds a 3-byte gate (bytes in the low 24 bits).
    fn insert3(&mut self, x3: u32) {
        self.insert_prefix(x3);
        Self::set(&mut self.tri3, Self::triple(x3, x3 >> 8, x3 >> 16));
    }

    /// Adds a 4-byte gate.
    fn insert4(&mut self, x4: u32) {
        self.insert_prefix(x4);
        Self::set(&mut self.d, Self::pair(x4 >> 16, x4 >> 24));
        Self::set(&mut self.tri4, Self::triple(x4 >> 8, x4 >> 16, x4 >> 24));
    }

    /// False when no gate can start with the 4 bytes `x` (little-endian).
    #[inline(always)]
    fn may_start(&self, x: u32) -> bool {
        let tri = Self::triple(x, x >> 8, x >> 16);
        Self::has(&self.a, Self::pair(x, x >> 8))
            && Self::has(&self.b, Self::pair(x >> 8, x >> 16))
            && Self::has(&self.tri, tri)
            && ((Self::has(&self.d, Self::pair(x >> 16, x >> 24))
                && Self::has(&self.tri4, Self::triple(x >> 8, x >> 16, x >> 24)))
                || Self::has(&self.tri3, tri))
    }
}

/// True when the 64-lane path may run on this CPU.
pub(crate) fn vbmi_detected() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
            && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// True when the vector path may run on this CPU.
pub(crate) fn avx2_detected() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

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
        (x.wrapping_mul(HASH_MUL) >> (32 - TABLE_BITS)) as usize
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
            let g = gate_of(a.as_bytes(), &[a.as_bytes().to_vec()]);
            assert!(memchr::memmem::find(a.as_bytes(), g).is_some(), "{a}");
            assert_eq!(g.len(), a.len().min(4));
        }
    }

    #[test]
    fn a_gram_many_anchors_share_is_not_their_gate() {
        let family = anchors(&["access_key=", "secret_key=", "master_key=", "signing_key="]);
        // Alone, `_key` is the rarest-looking gram of `access_key=`.
        assert_eq!(gate_of(b"access_key=", &family[..1]), b"_key");
        let shares = gram_shares(&family);
        for a in &family {
            let off = gate_offset(a, &shares);
            let gate = &a[off..off + 4];
            assert!(gate != b"_key" && gate != b"key=", "{}", String::from_utf8_lossy(a));
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

    /// The catalogue's anchors, lowercased, as `RuleSet::compile` passes them.
    fn catalogue_anchors() -> Vec<Vec<u8>> {
        let rules = crate::rules::compile_sources(&crate::rules::builtin_sources()).unwrap();
        let mut a: Vec<Vec<u8>> = rules
            .rules
            .iter()
            .flat_map(|r| r.anchors.iter().map(|a| a.to_ascii_lowercase().into_bytes()))
            .collect();
        a.sort();
        a.dedup();
        a
    }

    /// Every candidate from `at` to `end`, in order, by repeated calls (as `first_anchor` does).
    fn all_candidates(next: impl Fn(usize) -> Option<usize>) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(c) = next(at) {
            out.push(c);
            at = c + 1;
        }
        out
    }

    #[cfg(target_arch = "x86_64")]
    mod vector {
        use super::*;
        use proptest::prelude::*;
        use std::sync::OnceLock;

        fn anchors() -> &'static [Vec<u8>] {
            static ANCHORS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
            ANCHORS.get_or_init(catalogue_anchors)
        }

        fn gate() -> &'static Gate {
            static GATE: OnceLock<Gate> = OnceLock::new();
            GATE.get_or_init(|| Gate::new(anchors()).unwrap())
        }

        fn anchor() -> impl Strategy<Value = Vec<u8>> {
            (0..anchors().len(), any::<u64>()).prop_map(|(i, case)| {
                // Random ASCII case per byte: the gate folds case, so every variant must hit.
                let mut a = anchors()[i].clone();
                for (k, b) in a.iter_mut().enumerate() {
                    if case >> (k % 64) & 1 == 1 {
                        *b = b.to_ascii_uppercase();
                    }
                }
                a
            })
        }

        /// Filler from log-like bytes, plus any byte at all (high bytes, NUL, bytes that fold
        /// onto letters).
        fn filler(max: usize) -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(
                prop_oneof![
                    4 => proptest::sample::select(b"etaoinsrhldcumfpgwybvkxjqzETAOIN0123456789 =:\"_-./,\n".to_vec()),
                    1 => any::<u8>(),
                ],
                0..max,
            )
        }

        /// `anchor` at `pad` among `head` and `tail` bytes, the span cut `cut` bytes short: from
        /// each of `starts(pad)` (clamped to the span), and over all candidates, `path` returns
        /// what the scalar path returns; the anchor gets a candidate, and the exact check confirms
        /// it at its gate.
        #[allow(clippy::too_many_arguments)]
        fn same_as_scalar(
            path: impl Fn(&[u8], usize, usize) -> Option<usize>,
            starts: impl Fn(usize) -> Vec<usize>,
            pad: usize,
            head: &[u8],
            anchor: &[u8],
            tail: &[u8],
            cut: usize,
        ) -> Result<(), TestCaseError> {
            let gate = gate();
            let mut hay = head[..pad.min(head.len())].to_vec();
            hay.resize(pad, b'x');
            hay.extend_from_slice(anchor);
            hay.extend_from_slice(tail);
            let end = hay.len() - cut.min(tail.len());
            for at in starts(pad) {
                let at = at.min(end);
                prop_assert_eq!(
                    path(&hay, at, end),
                    gate.next_candidate_scalar(&hay, at, end),
                    "from {}",
                    at
                );
            }
            let vector = all_candidates(|at| path(&hay, at, end));
            let scalar = all_candidates(|at| gate.next_candidate_scalar(&hay, at, end));
            prop_assert_eq!(&vector, &scalar);
            let gated = vector.iter().any(|&c| (pad..pad + anchor.len()).contains(&c));
            prop_assert!(
                gated,
                "anchor {:?} at {} has no candidate",
                String::from_utf8_lossy(anchor),
                pad
            );
            let lower = anchor.to_ascii_lowercase();
            let off = gate.owners.iter().find(|o| o.2 == lower).map(|o| o.1).unwrap();
            prop_assert!(gate.anchor_at(&hay, pad + off, pad, end));
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// The vector path returns what the scalar path returns, from every start, for an
            /// anchor at every alignment (pad 0..34) among random bytes, and finds the anchor.
            #[test]
            fn vector_path_equals_scalar_path(
                pad in 0usize..34,
                head in filler(34),
                a in anchor(),
                tail in filler(80),
                cut in 0usize..8,
            ) {
                prop_assume!(std::arch::is_x86_feature_detected!("avx2"));
                // SAFETY: AVX2 was detected just above.
                let avx2 = |hay: &[u8], at, end| unsafe { gate().next_candidate_avx2(hay, at, end) };
                same_as_scalar(avx2, |pad| (0..=pad).collect(), pad, &head, &a, &tail, cut)?;
            }

            /// The 64-lane path returns what the scalar path returns, for an anchor at every
            /// alignment of its 62-byte step (pad 0..70) and spans long enough to run the loop.
            #[test]
            fn vbmi_path_equals_scalar_path(
                pad in 0usize..70,
                head in filler(70),
                a in anchor(),
                tail in filler(160),
                cut in 0usize..8,
            ) {
                prop_assume!(vbmi_detected());
                // SAFETY: AVX-512 VBMI was detected just above.
                let vbmi = |hay: &[u8], at, end| unsafe { gate().next_candidate_vbmi::<true>(hay, at, end) };
                same_as_scalar(vbmi, |pad| vec![0, pad / 2, pad], pad, &head, &a, &tail, cut)?;
                // SAFETY: as above.
                let sparse = |hay: &[u8], at, end| unsafe { gate().next_candidate_vbmi::<false>(hay, at, end) };
                same_as_scalar(sparse, |pad| vec![0, pad / 2, pad], pad, &head, &a, &tail, cut)?;
            }
        }
    }

    #[test]
    fn refuses_short_anchors() {
        assert!(Gate::new(&anchors(&["ab"])).is_none());
        assert!(Gate::new(&[]).is_none());
    }
}
