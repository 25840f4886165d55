//! A region's output as slices of its input: the bytes kept are written from the input buffer
//! itself, between the rendered replacement words, with vectored writes. Nothing outside a
//! secret is copied on its way out. Before, the stream copied every block that held a finding
//! (in a 1-in-200 mix, nearly every block) into an output buffer; in criterion's clean-log
//! bench, which copied every block, that copy was 12-14% of the time.

use std::io::{self, IoSlice, Write};
use std::ops::Range;

/// The replacements of one region, rendered, and where each goes (see
/// [`crate::Redactor::rewrite`]). Reused across regions: [`Rewrite::clear`] keeps the buffers.
#[derive(Debug, Default, Clone)]
pub struct Rewrite {
    /// The replacement words, back to back.
    words: Vec<u8>,
    /// One per replaced secret, in order: the span it replaces and where its word ends in
    /// `words`.
    replaced: Vec<Replaced>,
}

#[derive(Debug, Clone, Copy)]
struct Replaced {
    start: usize,
    end: usize,
    word_end: usize,
}

impl Rewrite {
    /// Forgets every replacement, keeping the buffers.
    pub fn clear(&mut self) {
        self.words.clear();
        self.replaced.clear();
    }

    /// True when nothing is replaced: the region is written as it is.
    pub fn is_empty(&self) -> bool {
        self.replaced.is_empty()
    }

    /// Appends the replacement of `span` (after the spans already pushed), written by `word`.
    pub(crate) fn push(&mut self, span: Range<usize>, word: impl FnOnce(&mut Vec<u8>)) {
        debug_assert!(
            self.replaced.last().is_none_or(|r| r.end <= span.start),
            "spans in order"
        );
        word(&mut self.words);
        self.replaced.push(Replaced {
            start: span.start,
            end: span.end,
            word_end: self.words.len(),
        });
    }

    /// The output of `hay[range]`, piece by piece: kept input slices and replacement words, in
    /// order (some pieces may be empty). Every replaced span must lie inside `range`.
    pub fn pieces<'a>(&'a self, hay: &'a [u8], range: Range<usize>) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut last = range.start;
        let mut word_start = 0;
        self.replaced
            .iter()
            .flat_map(move |r| {
                let kept = &hay[last..r.start];
                let word = &self.words[word_start..r.word_end];
                (last, word_start) = (r.end, r.word_end);
                [kept, word]
            })
            .chain(std::iter::once_with(move || {
                &hay[self.replaced.last().map_or(range.start, |r| r.end)..range.end]
            }))
    }

    /// The length of the output of `hay[range]`.
    pub fn output_len(&self, range: Range<usize>) -> usize {
        let removed: usize = self.replaced.iter().map(|r| r.end - r.start).sum();
        range.len() - removed + self.words.len()
    }

    /// Writes the output of `hay[range]` to `writer` in vectored writes of its pieces, and
    /// returns its length. A writer that writes whole vectors (the command's output does, under
    /// its signal gate) gets the region in one call.
    pub fn write_to<W: Write + ?Sized>(&self, hay: &[u8], range: Range<usize>, writer: &mut W) -> io::Result<usize> {
        let mut slices: Vec<IoSlice<'_>> = self
            .pieces(hay, range.clone())
            .filter(|p| !p.is_empty())
            .map(IoSlice::new)
            .collect();
        write_all_vectored(writer, &mut slices)?;
        Ok(self.output_len(range))
    }

    /// Appends the output of `hay[range]` to `out`.
    pub fn append_to(&self, hay: &[u8], range: Range<usize>, out: &mut Vec<u8>) {
        out.reserve(self.output_len(range.clone()));
        for piece in self.pieces(hay, range) {
            out.extend_from_slice(piece);
        }
    }
}

/// Writes every byte of `slices` (what `Write::write_all_vectored` does; that method is not
/// stable yet).
pub fn write_all_vectored<W: Write + ?Sized>(writer: &mut W, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match writer.write_vectored(slices) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "failed to write whole buffer")),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes per call, one slice at a time (as `Write`'s
    /// default `write_vectored` does).
    struct Trickle {
        out: Vec<u8>,
        step: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn rewrite(spans: &[(usize, usize, &str)]) -> Rewrite {
        let mut r = Rewrite::default();
        for &(s, e, w) in spans {
            r.push(s..e, |out| out.extend_from_slice(w.as_bytes()));
        }
        r
    }

    #[test]
    fn pieces_alternate_kept_bytes_and_words() {
        let hay = b"xxa=SECRET b=S2\nyy";
        let r = rewrite(&[(4, 10, "R1"), (13, 15, "R2")]);
        let pieces: Vec<&[u8]> = r.pieces(hay, 2..16).collect();
        assert_eq!(pieces, [&b"a="[..], b"R1", b" b=", b"R2", b"\n"]);
        assert_eq!(r.output_len(2..16), 10);
        let mut out = Vec::new();
        r.append_to(hay, 2..16, &mut out);
        assert_eq!(out, b"a=R1 b=R2\n");
        // Nothing replaced: the range itself.
        let none = Rewrite::default();
        assert!(none.is_empty());
        assert_eq!(none.pieces(hay, 2..5).collect::<Vec<_>>(), [&b"a=S"[..]]);
    }

    #[test]
    fn adjacent_and_edge_spans_leave_no_bytes_out() {
        let hay = b"AABBcc";
        let r = rewrite(&[(0, 2, "1"), (2, 4, "2")]);
        let mut out = Vec::new();
        r.append_to(hay, 0..6, &mut out);
        assert_eq!(out, b"12cc");
        let r = rewrite(&[(4, 6, "3")]);
        out.clear();
        r.append_to(hay, 0..6, &mut out);
        assert_eq!(out, b"AABB3");
        assert_eq!(r.output_len(0..6), 5);
    }

    #[test]
    fn write_to_survives_short_writes() {
        let hay: Vec<u8> = (0..200u8).collect();
        let r = rewrite(&[(10, 20, "word-one"), (50, 51, ""), (100, 180, "w3")]);
        let mut expected = Vec::new();
        r.append_to(&hay, 5..190, &mut expected);
        for step in [1, 3, 7, 64, 1000] {
            let mut w = Trickle { out: Vec::new(), step };
            let n = r.write_to(&hay, 5..190, &mut w).unwrap();
            assert_eq!(w.out, expected, "step {step}");
            assert_eq!(n, expected.len());
        }
    }

    #[test]
    fn a_writer_that_takes_nothing_is_an_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let r = rewrite(&[(1, 2, "x")]);
        let err = r.write_to(b"abc", 0..3, &mut Full).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }
}
