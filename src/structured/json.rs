//! The JSON walker, over a document written as is or escaped inside JSON strings.
//!
//! A document embedded in a string (`{"msg":"{\"password\":\"x\"}"}`) is walked where it lies:
//! a [`Text`] reader hands the walker the document's own characters with the escapes of every
//! enclosing level undone on the fly, and the raw offsets where each starts. No buffer, no copy;
//! a finding's span is the raw bytes of the value, escapes included, and the replacement word
//! (`[A-Za-z0-9_:]` only) needs no escaping at any level, so every level stays valid. A number
//! becomes a string: its finding carries the level, and the quotes around the word are written
//! escaped to it (`\"` at level 1).
//!
//! Level 0 is the line itself ([`Plain`], the hot path, with `memchr` over strings); level `n`
//! ([`Escaped`]) is a document in a string of level `n - 1`. At level 1 a quote is `\"`, at
//! level 2 `\\\"`, and so on.

use super::{Emit, KeyClass, KeyNorm, MAX_DEPTH, MAX_ESCAPE_DEPTH};

/// How a document is written in the line.
pub(super) trait Text: Copy {
    /// The escape level: 0 for a document written as is.
    fn level(self) -> u8;
    /// The document's character at raw position `pos` (before `end`) and the raw position after
    /// it; `None` at `end` or on a broken escape. Characters beyond ASCII that a `\u` escape
    /// writes read as `0x80`: the walker only needs to see ASCII structure.
    fn at(self, hay: &[u8], pos: usize, end: usize) -> Option<(u8, usize)>;
    /// From just after a string's opening quote: the raw end of its content and the raw position
    /// after its closing quote.
    fn string_end(self, hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)>;
    /// The class of the key whose raw content is `hay[start..end]`.
    fn classify(self, emit: &Emit<'_, '_>, start: usize, end: usize) -> Option<KeyClass>;
}

/// A document written as is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plain;

impl Text for Plain {
    #[inline(always)]
    fn level(self) -> u8 {
        0
    }

    #[inline(always)]
    fn at(self, hay: &[u8], pos: usize, end: usize) -> Option<(u8, usize)> {
        (pos < end).then(|| (hay[pos], pos + 1))
    }

    #[inline]
    fn string_end(self, hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
        let mut i = start;
        loop {
            let rel = memchr::memchr2(b'"', b'\\', &hay[i..end])?;
            i += rel;
            if hay[i] == b'\\' {
                i += 2;
                if i > end {
                    return None;
                }
            } else {
                return Some((i, i + 1));
            }
        }
    }

    #[inline]
    fn classify(self, emit: &Emit<'_, '_>, start: usize, end: usize) -> Option<KeyClass> {
        emit.rules.classify(&emit.hay[start..end])
    }
}

/// A document escaped `self.0` times (1 ..= [`MAX_ESCAPE_DEPTH`]) inside JSON strings.
#[derive(Debug, Clone, Copy)]
pub(super) struct Escaped(u8);

/// The character of level `level` at raw `pos`, and the raw position after it.
fn decode(hay: &[u8], pos: usize, end: usize, level: u8) -> Option<(u8, usize)> {
    let raw = *hay[..end].get(pos)?;
    // Anything but a backslash or a quote is itself at every level.
    if level == 0 || !matches!(raw, b'\\' | b'"') {
        return Some((raw, pos + 1));
    }
    let (c, p) = decode(hay, pos, end, level - 1)?;
    if c != b'\\' {
        // A bare quote would have ended the enclosing string: not part of this document.
        return (c != b'"').then_some((c, p));
    }
    let (e, p) = decode(hay, p, end, level - 1)?;
    let c = match e {
        b'"' | b'\\' | b'/' => e,
        b'b' => 8,
        b'f' => 12,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => {
            let (mut v, mut p) = (0u32, p);
            for _ in 0..4 {
                let (h, q) = decode(hay, p, end, level - 1)?;
                v = v << 4 | (h as char).to_digit(16)?;
                p = q;
            }
            return Some((if v < 0x80 { v as u8 } else { 0x80 }, p));
        }
        _ => return None,
    };
    Some((c, p))
}

impl Text for Escaped {
    fn level(self) -> u8 {
        self.0
    }

    fn at(self, hay: &[u8], pos: usize, end: usize) -> Option<(u8, usize)> {
        decode(hay, pos, end, self.0)
    }

    fn string_end(self, hay: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
        let mut i = start;
        loop {
            // A run without a backslash or a quote is plain characters at every level.
            i += memchr::memchr2(b'"', b'\\', &hay[i..end])?;
            let (c, next) = decode(hay, i, end, self.0)?;
            match c {
                b'"' => return Some((i, next)),
                b'\\' => i = decode(hay, next, end, self.0)?.1,
                _ => i = next,
            }
        }
    }

    fn classify(self, emit: &Emit<'_, '_>, start: usize, end: usize) -> Option<KeyClass> {
        // The key's own escapes are one level further in.
        let mut norm = KeyNorm::new();
        let mut i = start;
        while i < end {
            let (c, next) = decode(emit.hay, i, end, self.0 + 1)?;
            norm.push(c);
            i = next;
        }
        emit.rules.class_of(&mut norm)
    }
}

/// A double-quoted string of the line at `quote` (its opening quote): its content span (escapes
/// included) and the position after its closing quote.
pub(super) fn string_at(hay: &[u8], quote: usize, end: usize) -> Option<(usize, usize, usize)> {
    let (content_end, after) = Plain.string_end(hay, quote + 1, end)?;
    Some((quote + 1, content_end, after))
}

/// Walks the JSON record `hay[first..end]` (a line from its first non-blank byte). A line that is
/// not (only) JSON gets no findings: the rules alone decide.
pub(super) fn walk_line(emit: Emit<'_, '_>, first: usize, end: usize) {
    walk(Plain, emit, first, end, 0);
}

/// Walks the document of level `level` (1 ..) embedded in the string content `hay[start..end]`,
/// `depth` levels of nesting down. A string that does not hold (only) a JSON document gets no
/// findings from it.
pub(super) fn walk_embedded(emit: Emit<'_, '_>, start: usize, end: usize, level: u8, depth: usize) {
    if level <= MAX_ESCAPE_DEPTH {
        walk(Escaped(level), emit, start, end, depth);
    }
}

fn walk<T: Text>(text: T, emit: Emit<'_, '_>, start: usize, end: usize, depth: usize) {
    let before = emit.out.len();
    let mut walker = Walker {
        text,
        pos: start,
        end,
        emit,
    };
    let ok = walker.value(None, depth).is_some() && walker.only_whitespace_left();
    if !ok {
        walker.emit.out.truncate(before);
    }
}

struct Walker<'a, 'o, T> {
    text: T,
    pos: usize,
    end: usize,
    emit: Emit<'a, 'o>,
}

impl<T: Text> Walker<'_, '_, T> {
    #[inline(always)]
    fn at(&self) -> Option<(u8, usize)> {
        self.text.at(self.emit.hay, self.pos, self.end)
    }

    fn peek(&self) -> Option<u8> {
        self.at().map(|(c, _)| c)
    }

    fn skip_ws(&mut self) {
        while let Some((b' ' | b'\t' | b'\r' | b'\n', next)) = self.at() {
            self.pos = next;
        }
    }

    fn only_whitespace_left(&mut self) -> bool {
        self.skip_ws();
        self.pos == self.end
    }

    /// Consumes `b` after optional whitespace.
    fn expect(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        let (c, next) = self.at()?;
        (c == b).then(|| self.pos = next)
    }

    /// A value; `sensitive` is the class of the key it sits under (inherited into arrays).
    fn value(&mut self, sensitive: Option<KeyClass>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        let (c, next) = self.at()?;
        match c {
            b'{' => {
                self.pos = next;
                if self.expect(b'}').is_some() {
                    return Some(());
                }
                loop {
                    self.skip_ws();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let (key_start, key_end) = self.string()?;
                    // An object under a sensitive key is judged by its own keys: a Kubernetes
                    // `secret: {secretName: ...}` names a secret, it does not hold one.
                    let class = self.text.classify(&self.emit, key_start, key_end);
                    self.expect(b':')?;
                    self.value(class, depth + 1)?;
                    self.skip_ws();
                    let (c, next) = self.at()?;
                    self.pos = next;
                    match c {
                        b',' => {}
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.pos = next;
                if self.expect(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.value(sensitive, depth + 1)?;
                    self.skip_ws();
                    let (c, next) = self.at()?;
                    self.pos = next;
                    match c {
                        b',' => {}
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'"' => {
                let (start, end) = self.string()?;
                match sensitive {
                    Some(class) => self.emit.secret_string(class, start, end),
                    // Braces are never escaped, so the first raw byte tells at any level.
                    None if start < end && matches!(self.emit.hay[start], b'{' | b'[' | b' ') => {
                        self.embedded(start, end, depth)
                    }
                    None => {}
                }
                Some(())
            }
            b'-' | b'0'..=b'9' => {
                let start = self.pos;
                while let Some((b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9', next)) = self.at() {
                    self.pos = next;
                }
                if let Some(class) = sensitive {
                    // The word goes in quotes escaped to this document's level, so that it
                    // stays valid JSON once its enclosing strings are unescaped.
                    self.emit.number(class, start, self.pos, Some(self.text.level()));
                }
                Some(())
            }
            _ => {
                for word in [&b"true"[..], b"false", b"null"] {
                    if self.word(word) {
                        return Some(());
                    }
                }
                None
            }
        }
    }

    /// Consumes `word` if the text continues with it.
    fn word(&mut self, word: &[u8]) -> bool {
        let mut pos = self.pos;
        for &w in word {
            match self.text.at(self.emit.hay, pos, self.end) {
                Some((c, next)) if c == w => pos = next,
                _ => return false,
            }
        }
        self.pos = pos;
        true
    }

    /// A string at `pos` (on its opening quote); returns its raw content span (escapes included).
    fn string(&mut self) -> Option<(usize, usize)> {
        let (_, start) = self.at()?;
        let (content_end, after) = self.text.string_end(self.emit.hay, start, self.end)?;
        self.pos = after;
        Some((start, content_end))
    }

    /// A string value not under a sensitive key: if it holds a JSON object or array, walks it.
    #[cold]
    fn embedded(&mut self, start: usize, end: usize, depth: usize) {
        let hay = self.emit.hay;
        let first = hay[start..end].iter().find(|b| **b != b' ');
        if matches!(first, Some(b'{' | b'[')) {
            walk_embedded(self.emit.reborrow(), start, end, self.text.level() + 1, depth + 1);
        }
    }
}

/// [`decode`], for the unit tests of the parent module.
#[cfg(test)]
pub(super) fn decode_for_tests(hay: &[u8], pos: usize, end: usize, level: u8) -> Option<(u8, usize)> {
    decode(hay, pos, end, level)
}
