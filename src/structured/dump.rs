//! Go and Python dumps: the key/value syntax of `fmt` verbs and of `repr`, wherever it sits in
//! a line (free text, a logfmt value, a JSON string).
//!
//! | form | example | value ends |
//! |---|---|---|
//! | Go `%v` map | `map[password:hunter2 user:bob]` | at a space before the next `key:`, or `]` |
//! | Go `%+v` struct | `&{Password:hunter2 User:bob}` | the same, or `}` |
//! | Go `%#v` map | `map[string]string{"password":"x", "n":1}` | Go literal syntax |
//! | Python dict | `{'password': 'hunter2', 'api_key': "abc"}` | Python literal syntax |
//! | Go `%#v` struct | `main.Config{Password:"x", Port:1}`, `&main.Config{...}` | Go literal syntax |
//! | Go `%+v` struct without `&` | `{Password:hunter2 User:bob}` | as `%+v` behind `&` |
//! | Python call | `Config(password='x', token='y')`, `dict(password='x')` | Python literal syntax |
//! | Python pairs | `OrderedDict([('password', 'x'), ('user', 'bob')])` | Python literal syntax |
//!
//! Go's `%v` prints strings raw, so a value may hold spaces: under a sensitive key the value runs
//! over the words that follow until the next `key:` word or the closing bracket; without that
//! bracket in the line, it stops at its first space. A bare value also stops at `"` and `\`, so
//! that a dump inside a JSON string never has a replacement straddle an escape. A slice
//! (`Authorization:[Bearer x]`) is one value; nested maps and structs are judged by their own
//! keys. Python strings take either quote and backslash escapes; lists, tuples, sets and a call's
//! positional arguments under a sensitive key are secrets item by item; `None`, `True`, `False`
//! and `<...>` object reprs are not.
//!
//! A pair counts only when its key and value were read whole; reading stops at the first thing
//! that does not fit the syntax, keeping the pairs before it. In a JSON line, a value that would
//! take in an unescaped `"` is dropped: it would run past the end of the JSON string it is in.
//!
//! Work is bounded: each line has a budget of [`BUDGET_PER_BYTE`] reads per byte (plus a
//! little), shared by every dump read in it; a line crafted so that each marker's reading runs
//! to its end (`map[a:[map[a:[...`) stops being read when the budget is spent, instead of costing
//! time quadratic in its length. The rules still scan it.

use std::cell::Cell;

use super::{Emit, KeyClass, MAX_DEPTH, is_key_byte};

/// Byte reads allowed per byte of a line for all the dumps in it. Well-formed dumps take one or
/// two; the budget only stops input built to make every marker read to the end of the line.
pub(super) const BUDGET_PER_BYTE: usize = 16;

/// The budget of a line of `len` bytes.
pub(super) fn line_budget(len: usize) -> usize {
    BUDGET_PER_BYTE * len + 1024
}

/// What a marker found by [`super::StructuredRules::find`] starts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Form {
    /// `map[`
    GoMap,
    /// `&{`
    GoStruct,
    /// `{'`
    PythonDict,
    /// `{` and a field name: a Go struct body, `%#v` behind its type name or `%+v` bare.
    GoBrace,
    /// The `[` of `([(`: the list of pairs that `OrderedDict([(`, `dict([(` and `dict_items([(`
    /// print.
    PythonPairs,
}

/// A reader over one line, `hay[start..end]`.
pub(super) struct Dump<'a, 'o> {
    emit: Emit<'a, 'o>,
    start: usize,
    end: usize,
    /// The line is a JSON record: findings must not contain an unescaped `"`.
    json_line: bool,
    /// Reading a `%+v` body behind a bare `{`, which text that is not Go also writes: a
    /// sensitive value that starts with a space (`{password: 'x', user: 'bob'}`, JavaScript or
    /// YAML) or reads as a Python format spec (`"{password:>8}"`) ends the read.
    bare_brace: bool,
    /// Byte reads left (see [`BUDGET_PER_BYTE`]); at 0 every read fails.
    budget: Cell<usize>,
}

impl<'a, 'o> Dump<'a, 'o> {
    /// A reader over the line `hay[start..end]` with `budget` byte reads.
    pub(super) fn new(emit: Emit<'a, 'o>, start: usize, end: usize, budget: usize) -> Self {
        let hay = emit.hay;
        let json_line = hay[start..end]
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'{' | b'['))
            .is_some_and(|b| *b == b'"')
            && matches!(
                hay[start..end].iter().find(|b| !b.is_ascii_whitespace()),
                Some(b'{' | b'[')
            );
        Dump {
            emit,
            start,
            end,
            json_line,
            bare_brace: false,
            budget: Cell::new(budget),
        }
    }

    /// The reads left, for the next reader of the same line.
    pub(super) fn budget_left(&self) -> usize {
        self.budget.get()
    }

    /// Takes `n` reads from the budget; false (and the budget emptied) if there are not so many.
    fn spend(&self, n: usize) -> bool {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(n));
        left >= n
    }

    /// The end of a scan from `i`: the line's end, or sooner if the budget runs out.
    fn scan_end(&self, i: usize) -> usize {
        self.end.min(i.saturating_add(self.budget.get()))
    }

    /// Reads the form whose marker is at `at`; returns where it ended, if it was read whole.
    pub(super) fn form(&mut self, form: Form, at: usize) -> Option<usize> {
        match form {
            // `heatmap[3]` is an index, not a map.
            Form::GoMap if at > self.start && is_ident_byte(self.emit.hay[at - 1]) => None,
            Form::GoMap => self.go_map(at, 0),
            Form::GoStruct => self.go_plain(at + 2, b'}', 0),
            Form::PythonDict => self.py_brace(at, None, 0),
            Form::GoBrace => self.go_brace(at),
            Form::PythonPairs => self.py_pairs(at),
        }
    }

    /// The arguments of a Python call whose `(` is at `paren`; returns the end of the call.
    pub(super) fn python_call(&mut self, paren: usize) -> Option<usize> {
        self.py_args(paren, None, 0)
    }

    // ----- reading helpers

    fn b(&self, i: usize) -> Option<u8> {
        (i < self.end && self.spend(1)).then(|| self.emit.hay[i])
    }

    fn starts(&self, i: usize, lit: &[u8]) -> bool {
        i <= self.end && self.emit.hay[i..self.end].starts_with(lit)
    }

    fn skip_spaces(&self, mut i: usize) -> usize {
        while self.b(i) == Some(b' ') {
            i += 1;
        }
        i
    }

    /// End of a key word (`[A-Za-z0-9_.-]`, at most 128 bytes) starting at `i`.
    fn key_end(&self, i: usize) -> usize {
        self.run_end(i.min(self.end), 128, is_key_byte)
    }

    fn ident_end(&self, i: usize) -> usize {
        self.run_end(i.min(self.end), usize::MAX, |c| is_ident_byte(c) || c == b'.')
    }

    fn number_end(&self, i: usize) -> usize {
        let more = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'+' | b'-');
        self.run_end((i + 1).min(self.end), usize::MAX, more)
    }

    /// The end of the run of bytes from `i` (at most `max`) that `more` accepts; the bytes read
    /// are spent.
    fn run_end(&self, i: usize, max: usize, more: impl Fn(u8) -> bool) -> usize {
        let limit = self.scan_end(i).min(i.saturating_add(max));
        let len = self.emit.hay[i..limit].iter().take_while(|&&c| more(c)).count();
        self.spend(len);
        i + len
    }

    /// A string quoted with `q` at `i`, backslash escapes included: (content start, content end,
    /// position after the closing quote).
    fn quoted(&self, i: usize, q: u8) -> Option<(usize, usize, usize)> {
        let hay = self.emit.hay;
        let mut j = i + 1;
        loop {
            let from = j.min(self.end);
            let rel = memchr::memchr2(q, b'\\', &hay[from..self.scan_end(from)]);
            if !self.spend(rel.map_or(usize::MAX, |r| r + 1)) {
                return None;
            }
            j = from + rel?;
            if hay[j] == b'\\' {
                j += 2;
            } else {
                return Some((i + 1, j, j + 1));
            }
        }
    }

    /// The position after the match of the bracket at `i` (`[`, `{`, `(` or `<`; only brackets of
    /// its own kind are counted); `None` if the line ends first.
    fn balanced(&self, i: usize) -> Option<usize> {
        let open = self.b(i)?;
        let close = match open {
            b'[' => b']',
            b'{' => b'}',
            b'(' => b')',
            _ => b'>',
        };
        let mut depth = 0usize;
        for (k, &c) in self.emit.hay[i..self.scan_end(i)].iter().enumerate() {
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    self.spend(k + 1);
                    return Some(i + k + 1);
                }
            }
        }
        self.spend(usize::MAX);
        None
    }

    /// False when `hay[s..e]` holds a `"` that no backslash escapes (in a JSON line: the end of
    /// the JSON string the dump sits in).
    fn inside_one_string(&self, s: usize, e: usize) -> bool {
        let hay = self.emit.hay;
        memchr::memchr_iter(b'"', &hay[s..e]).all(|q| {
            let backslashes = hay[s..s + q].iter().rev().take_while(|b| **b == b'\\').count();
            backslashes % 2 == 1
        })
    }

    fn secret(&mut self, class: KeyClass, s: usize, e: usize) {
        if self.json_line && !self.inside_one_string(s, e) {
            return;
        }
        self.emit.secret_string(class, s, e);
    }

    // ----- Go

    /// `map[` at `at`: `%v` (`map[k:v k2:v2]`) or `%#v` (`map[string]string{"k":"v"}`).
    fn go_map(&mut self, at: usize, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let type_end = self.go_type_end(at);
        if self.b(type_end) == Some(b'{') && self.emit.hay[at + 4..type_end].contains(&b']') {
            return self.go_composite(type_end, None, depth);
        }
        self.go_plain(at + 4, b']', depth)
    }

    /// End of a Go type name at `i` (`map[string]interface {}`, `[]string`, `*main.T`).
    fn go_type_end(&self, mut i: usize) -> usize {
        loop {
            if self.starts(i, b"interface {}") {
                i += 12;
            } else if self.starts(i, b"struct {}") {
                i += 9;
            } else if self
                .b(i)
                .is_some_and(|c| is_ident_byte(c) || matches!(c, b'.' | b'*' | b'[' | b']'))
            {
                i += 1;
            } else {
                return i;
            }
        }
    }

    /// A struct body whose `{` is at `brace`. Behind a package-qualified type name
    /// (`main.Config{`, `&main.Config{`) it is `%#v`, read like the structs inside a `%#v` map.
    /// With nothing of a name before it, it is `%+v` (`{User:bob Password:x}`): such a brace is
    /// weaker evidence than `&{`, so its pairs count only if the body is read whole. Behind any
    /// other word (`Config{user=bob}`, Java's `toString`) it is not a Go dump.
    fn go_brace(&mut self, brace: usize) -> Option<usize> {
        let hay = self.emit.hay;
        let name = hay[self.start..brace]
            .iter()
            .rev()
            .take_while(|&&c| is_ident_byte(c) || c == b'.')
            .count();
        if name > 0 {
            let qualified = hay[brace - name..brace].contains(&b'.');
            return if qualified {
                self.go_composite(brace, None, 0)
            } else {
                None
            };
        }
        let before = self.emit.out.len();
        self.bare_brace = true;
        let after = self.go_plain(brace + 1, b'}', 0);
        self.bare_brace = false;
        if after.is_none() {
            self.emit.out.truncate(before);
        }
        after
    }

    /// `%v` / `%+v` pairs `key:value` separated by spaces, up to `closer`.
    fn go_plain(&mut self, mut i: usize, closer: u8, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        loop {
            let c = self.b(i)?;
            if c == closer {
                return Some(i + 1);
            }
            match c {
                b' ' => i += 1,
                b'"' | b'\\' => return None,
                b'm' if self.starts(i, b"map[") => i = self.go_map(i, depth + 1)?,
                _ => {
                    let k = self.key_end(i);
                    if k > i && self.b(k) == Some(b':') {
                        let class = self.emit.rules.classify(&self.emit.hay[i..k]);
                        i = self.go_value(k + 1, closer, class, depth)?;
                    } else {
                        // A word of the previous value (`%v` prints strings raw).
                        i = self.go_skip(i, closer)?;
                    }
                }
            }
        }
    }

    /// One word or bracketed group at `i`, left unread.
    fn go_skip(&self, i: usize, closer: u8) -> Option<usize> {
        match self.b(i)? {
            b'[' | b'{' => self.balanced(i),
            _ => Some(self.word_end(i, closer).max(i + 1)),
        }
    }

    /// End of a bare `%v` word at `i`.
    fn word_end(&self, i: usize, closer: u8) -> usize {
        self.run_end(i.min(self.end), usize::MAX, |c| {
            c != closer && !matches!(c, b' ' | b'\t' | b'"' | b'\\')
        })
    }

    fn go_value(&mut self, vs: usize, closer: u8, class: Option<KeyClass>, depth: usize) -> Option<usize> {
        match self.b(vs) {
            None => Some(vs),
            Some(b'[') => {
                let after = self.balanced(vs)?;
                let (cs, ce) = (vs + 1, after - 1);
                if self.starts(cs, b"map[") || self.b(cs) == Some(b'{') {
                    self.go_elements(cs, depth + 1)?;
                } else if let Some(class) = class {
                    // A slice is one value: `Authorization:[Bearer x]` keeps its scheme.
                    self.secret(class, cs, ce);
                }
                Some(after)
            }
            Some(b'{') => self.go_plain(vs + 1, b'}', depth + 1),
            Some(b'm') if self.starts(vs, b"map[") => self.go_map(vs, depth + 1),
            Some(_) => {
                let first = self.word_end(vs, closer);
                let Some(class) = class else {
                    return Some(first);
                };
                let end = self.go_extend(first, closer);
                let hay = self.emit.hay;
                if self.bare_brace && end > vs && (hay[vs] == b' ' || is_format_spec(&hay[vs..end])) {
                    return None;
                }
                self.secret(class, vs, end);
                Some(end)
            }
        }
    }

    /// A sensitive `%v` value that ended at a space at `first` runs on over the words that are
    /// not `key:`, if the closing bracket is then in sight; else it is its first word.
    fn go_extend(&self, first: usize, closer: u8) -> usize {
        let mut e = first;
        while self.b(e) == Some(b' ') {
            let t = e + 1;
            match self.b(t) {
                None => break,
                Some(c) if c == closer => return e,
                _ => {}
            }
            let k = self.key_end(t);
            if k > t && self.b(k) == Some(b':') {
                return e;
            }
            let next = self.word_end(t, closer);
            if next == t {
                break;
            }
            e = next;
        }
        if self.b(e) == Some(closer) { e } else { first }
    }

    /// The items of a slice of maps or structs (`[map[a:b] map[c:d]]`), from after its `[`.
    fn go_elements(&mut self, mut i: usize, depth: usize) -> Option<usize> {
        loop {
            match self.b(i)? {
                b']' => return Some(i + 1),
                b' ' => i += 1,
                b'{' => i = self.go_plain(i + 1, b'}', depth)?,
                b'm' if self.starts(i, b"map[") => i = self.go_map(i, depth)?,
                _ => i = self.go_skip(i, b']')?,
            }
        }
    }

    /// A `%#v` composite literal body from its `{` at `brace`. `positional` is `Some(class)` for
    /// a slice, whose items inherit the class of the key it is under; maps and structs are
    /// judged by their own keys.
    fn go_composite(&mut self, brace: usize, positional: Option<Option<KeyClass>>, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut i = brace + 1;
        if self.b(i)? == b'}' {
            return Some(i + 1);
        }
        loop {
            i = match positional {
                Some(class) => self.go_literal(i, class, depth + 1)?,
                None => {
                    let (class, after) = if self.b(i)? == b'"' {
                        let (s, e, after) = self.quoted(i, b'"')?;
                        (self.emit.rules.classify(&self.emit.hay[s..e]), after)
                    } else {
                        let k = self.key_end(i);
                        if k == i {
                            return None;
                        }
                        (self.emit.rules.classify(&self.emit.hay[i..k]), k)
                    };
                    if self.b(after)? != b':' {
                        return None;
                    }
                    self.go_literal(after + 1, class, depth + 1)?
                }
            };
            match self.b(i)? {
                b',' => i = self.skip_spaces(i + 1),
                b'}' => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// A `%#v` value at `i`.
    fn go_literal(&mut self, i: usize, class: Option<KeyClass>, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.b(i)? {
            q @ (b'"' | b'`') => {
                let (s, e, after) = if q == b'"' {
                    self.quoted(i, q)?
                } else {
                    let len = memchr::memchr(b'`', &self.emit.hay[i + 1..self.end])?;
                    (i + 1, i + 1 + len, i + 2 + len)
                };
                if let Some(class) = class {
                    self.secret(class, s, e);
                }
                Some(after)
            }
            b'-' | b'0'..=b'9' => {
                let e = self.number_end(i);
                if let Some(class) = class {
                    self.secret(class, i, e);
                }
                Some(e)
            }
            // `(*main.T)(nil)`, `(*main.T)(0xc000010000)`
            b'(' => {
                let e = self.balanced(i)?;
                if self.b(e) == Some(b'(') {
                    self.balanced(e)
                } else {
                    Some(e)
                }
            }
            b'&' => self.go_literal(i + 1, class, depth + 1),
            _ => {
                let t = self.go_type_end(i);
                let name = &self.emit.hay[i..t];
                if t == i {
                    return None;
                }
                if matches!(name, b"nil" | b"true" | b"false") {
                    return Some(t);
                }
                match self.b(t)? {
                    b'{' => {
                        let positional = name.starts_with(b"[").then_some(class);
                        self.go_composite(t, positional, depth)
                    }
                    // A conversion: `interface {}(nil)`, `time.Duration(5000000000)`.
                    b'(' => self.balanced(t),
                    _ => None,
                }
            }
        }
    }

    // ----- Python

    /// A Python literal at `i` under a key of `class`.
    fn py_value(&mut self, i: usize, class: Option<KeyClass>, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let hay = self.emit.hay;
        let c = self.b(i)?;
        match c {
            b'\'' | b'"' => {
                let (s, e, after) = self.quoted(i, c)?;
                if let Some(class) = class {
                    self.secret(class, s, e);
                }
                Some(after)
            }
            b'-' | b'0'..=b'9' => {
                let e = self.number_end(i);
                if let Some(class) = class {
                    self.secret(class, i, e);
                }
                Some(e)
            }
            b'[' => self.py_seq(i + 1, b']', class, depth + 1),
            b'(' => self.py_seq(i + 1, b')', class, depth + 1),
            b'{' => self.py_brace(i, class, depth + 1),
            b'<' => self.balanced(i),
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let t = self.ident_end(i);
                let name = &hay[i..t];
                // b'...', rb'...', u'...'
                if name.len() <= 2
                    && name.iter().all(|b| b"bBrRuU".contains(b))
                    && matches!(self.b(t), Some(b'\'' | b'"'))
                {
                    return self.py_value(t, class, depth);
                }
                if self.b(t) == Some(b'(') {
                    return self.py_args(t, class, depth + 1);
                }
                matches!(
                    name,
                    b"None" | b"True" | b"False" | b"Ellipsis" | b"NotImplemented" | b"inf" | b"nan"
                )
                .then_some(t)
            }
            _ => None,
        }
    }

    /// The items of a list or tuple from after its opening bracket, up to `close`.
    fn py_seq(&mut self, i: usize, close: u8, class: Option<KeyClass>, depth: usize) -> Option<usize> {
        let mut i = self.skip_spaces(i);
        if self.b(i)? == close {
            return Some(i + 1);
        }
        loop {
            i = self.py_value(i, class, depth)?;
            i = self.skip_spaces(i);
            match self.b(i)? {
                b',' => {
                    i = self.skip_spaces(i + 1);
                    // `(1,)`
                    if self.b(i)? == close {
                        return Some(i + 1);
                    }
                }
                c if c == close => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// A dict (or set) whose `{` is at `at`. A set's items inherit `class`; a dict's values take
    /// their key's.
    fn py_brace(&mut self, at: usize, class: Option<KeyClass>, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut i = self.skip_spaces(at + 1);
        if self.b(i)? == b'}' {
            return Some(i + 1);
        }
        loop {
            let item = i;
            let key = match self.b(i)? {
                q @ (b'\'' | b'"') => {
                    let (s, e, after) = self.quoted(i, q)?;
                    i = after;
                    Some((s, e))
                }
                _ => {
                    i = self.py_value(i, None, depth + 1)?;
                    None
                }
            };
            let colon = self.skip_spaces(i);
            if self.b(colon)? == b':' {
                let key_class = key.and_then(|(s, e)| self.emit.rules.classify(&self.emit.hay[s..e]));
                i = self.py_value(self.skip_spaces(colon + 1), key_class, depth + 1)?;
            } else if class.is_some() {
                self.py_value(item, class, depth + 1)?;
            }
            i = self.skip_spaces(i);
            match self.b(i)? {
                b',' => i = self.skip_spaces(i + 1),
                b'}' => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// The list of `(key, value)` pairs whose `[` is at `open` (`OrderedDict([('password',
    /// 'x'), ('user', 'bob')])`): a value takes the class of its key, which must be a string.
    /// Only as the argument of a call whose name says it holds a mapping (`OrderedDict`,
    /// `dict`, `dict_items`): other lists of pairs (`choices=[('password', 'Password')]`) are
    /// not key and value.
    fn py_pairs(&mut self, open: usize) -> Option<usize> {
        let hay = self.emit.hay;
        let name_len = hay[self.start..open - 1]
            .iter()
            .rev()
            .take_while(|&&c| is_ident_byte(c))
            .count();
        let name = &hay[open - 1 - name_len..open - 1];
        if !(name.ends_with(b"Dict") || name.ends_with(b"dict") || name.ends_with(b"_items")) {
            return None;
        }
        let mut i = self.skip_spaces(open + 1);
        if self.b(i)? == b']' {
            return Some(i + 1);
        }
        loop {
            if self.b(i)? != b'(' {
                return None;
            }
            i = self.skip_spaces(i + 1);
            let q = self.b(i)?;
            if !matches!(q, b'\'' | b'"') {
                return None;
            }
            let (s, e, after) = self.quoted(i, q)?;
            let class = self.emit.rules.classify(&self.emit.hay[s..e]);
            i = self.skip_spaces(after);
            if self.b(i)? != b',' {
                return None;
            }
            i = self.py_value(self.skip_spaces(i + 1), class, 1)?;
            i = self.skip_spaces(i);
            if self.b(i)? != b')' {
                return None;
            }
            i = self.skip_spaces(i + 1);
            match self.b(i)? {
                b',' => i = self.skip_spaces(i + 1),
                b']' => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// A call's arguments from its `(` at `paren`: `key=value` takes the key's class, a
    /// positional argument inherits `class` (`'token': Token('x')`).
    fn py_args(&mut self, paren: usize, class: Option<KeyClass>, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut i = self.skip_spaces(paren + 1);
        if self.b(i)? == b')' {
            return Some(i + 1);
        }
        loop {
            let k = self.ident_end(i);
            if k > i && self.b(k) == Some(b'=') && self.b(k + 1) != Some(b'=') {
                let key_class = self.emit.rules.classify(&self.emit.hay[i..k]);
                i = self.py_value(k + 1, key_class, depth + 1)?;
            } else {
                i = self.py_value(i, class, depth + 1)?;
            }
            i = self.skip_spaces(i);
            match self.b(i)? {
                b',' => i = self.skip_spaces(i + 1),
                b')' => return Some(i + 1),
                _ => return None,
            }
        }
    }
}

/// True for a Python format spec with something besides a width (`>8`, `.2f`, `s`, `08x`):
/// `[[fill]align][sign][z][#][0][width][grouping][.precision][type]`.
fn is_format_spec(v: &[u8]) -> bool {
    let align = |b: u8| matches!(b, b'<' | b'>' | b'^' | b'=');
    let mut i = match v {
        [_, a, ..] if align(*a) => 2,
        [a, ..] if align(*a) => 1,
        _ => 0,
    };
    let skip = |i: &mut usize, ok: &dyn Fn(u8) -> bool| {
        while *i < v.len() && ok(v[*i]) {
            *i += 1;
        }
    };
    skip(&mut i, &|b| matches!(b, b'+' | b'-' | b' ' | b'z' | b'#'));
    skip(&mut i, &|b| b.is_ascii_digit());
    skip(&mut i, &|b| matches!(b, b',' | b'_'));
    if v.get(i) == Some(&b'.') {
        i += 1;
        skip(&mut i, &|b| b.is_ascii_digit());
    }
    if v.get(i).is_some_and(|b| b"bcdeEfFgGnosxX%".contains(b)) {
        i += 1;
    }
    i == v.len() && !v.iter().all(u8::is_ascii_digit)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::is_format_spec;

    #[test]
    fn format_specs_are_told_from_values() {
        for spec in [">8", "<10", "*^12", ".2f", "s", "08x", "+,d", "_.3%", "=+#010.4e"] {
            assert!(is_format_spec(spec.as_bytes()), "{spec}");
        }
        for value in ["8", "1234", "bob", "s3cr3t", "hunter2", "t0k", "abc", ".env", ">8x9"] {
            assert!(!is_format_spec(value.as_bytes()), "{value}");
        }
    }
}
