//! Key-aware redaction of structured records: a value under a sensitive key (`password`,
//! `apiKey`, `http.request.header.authorization`, ...) is a secret whatever it looks like.
//!
//! The rules find credentials by their shape; a record also says what a value *is*. Three readers
//! visit keys and values, none of which allocates or copies:
//!
//! - **JSON** (`json`): each line that starts with `{` or `[` goes through a byte-level walker
//!   (depth-limited). A string value that itself holds a JSON document (`"{\"password\":...}"`,
//!   and deeper, `\\\"`) is walked too, through a reader that undoes the escapes of each level
//!   on the fly, so the offsets stay those of the line. `Name(key=value, ...)` in such a line is
//!   read as a Python call.
//! - **logfmt / `key=value`** ([`StructuredRules::find`]): the other lines; a double-quoted value
//!   holding escaped JSON is walked as above, and `Name(key=value, ...)` is read as a Python call.
//! - **Go and Python dumps** (`dump`): `map[k:v]` and `map[string]string{"k":"v"}`, `&{Field:v}`
//!   and `{Field:v}`, `main.T{Field:"v"}`, `{'k': 'v'}`, `OrderedDict([('k', 'v')])` and the
//!   calls inside them, wherever they sit in a line. One multi-literal SIMD search over the line
//!   finds their markers, and one `memchr` pass the `{` of Go structs.
//!
//! A line reaches the readers only when the key gate (`keygate`) sees, before some `:`, `=` or
//! `,`, bytes that may end a sensitive key; on most lines of most logs it sees none, and the
//! line costs that one SIMD pass.
//!
//! Values under sensitive keys become findings, which then go through the same overlap
//! resolution as the rules' findings. A vendor rule that matches the same span names the kind;
//! otherwise the key's class does.
//!
//! Why by hand: serde_json would parse into owned values and lose the byte offsets that the
//! rewrite needs; the rewrite must leave every byte outside the secret as it was. The readers
//! accept only well-formed input: a JSON document that does not parse gets no structured
//! findings, and a dump yields findings only for the pairs read before its syntax broke. The
//! rules still scan every line, so nothing is forwarded unscanned.
//!
//! Key matching: escapes are undone, ASCII letters lowercased, and `_`, `-`, `.` and spaces
//! dropped, so `apiKey`, `api-key`, `API_KEY`, `APIKey` and `http.request.header.x_api_key` all
//! read `...apikey`. A key is sensitive when its normalized form *ends with* one of
//! [`SENSITIVE_SUFFIXES`] or *equals* one of [`SENSITIVE_EXACT`] (words too generic as suffixes:
//! `nextToken` is a page cursor, not a credential), or ends with one of the extra keys given at
//! run time ([`StructuredRules::with_extra_keys`]).
//!
//! Values: strings (placeholders such as `****` or `${DB_PASS}`, empty strings and our own
//! replacements are left alone); numbers (replaced in JSON by a word in double quotes, escaped to
//! the level of the document the number is in, so that the record and each document embedded in
//! it stay valid JSON; in Go and Python dumps by the bare word, see below); every string and
//! number of an array (a Python list, tuple or set, a Go `%#v` slice) under a sensitive key; a Go
//! `%v` slice (`Authorization:[Bearer x]`) is one value. An object under a sensitive key is
//! judged by its own keys (`"secret": {"secretName": "tls"}` holds no secret). `true`,
//! `false`, `null`, `None` and `<nil>` are left alone. An `Authorization` value keeps its scheme
//! (`Bearer REDACTED:...`); a `Cookie` value keeps its cookie names, and a `Set-Cookie` value its
//! attributes.
//!
//! What is not done: a number in a Go or Python dump is replaced by the bare word, so the dump no
//! longer reads as the literal it was; dumps are for reading, not parsing.

mod dump;
mod json;
mod keygate;

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

use crate::fingerprint::inside_replacement;
use crate::rules::{Location, RuleSet, StructuredClass};
use crate::scan::Finding;
use crate::validate::is_placeholder;

/// Rules at or above this priority name intrinsic token formats (vendor tokens, JWTs, PEM keys,
/// wrapped credentials), and so does any rule whose kind is not a generic `secret` or
/// `password` (a vendor rule anchored on its variable name, `OKTA_API_TOKEN=`): where one
/// overlaps a structured finding, the rule wins, so a token keeps its vendor kind and its
/// visible prefix (`FlyV1 REDACTED:flyio_token`). Generic header, URL and labelled-field rules
/// yield to the structured finding: it knows where the value ends.
pub const INTRINSIC_PRIORITY: i32 = 50;

/// Merges structured findings into the rules' findings by the policy of
/// [`INTRINSIC_PRIORITY`]. `rule_findings` may be in any order; `structured` is drained.
pub fn merge(rules: &RuleSet, rule_findings: &mut Vec<Finding>, structured: &mut Vec<Finding>) {
    if structured.is_empty() {
        return;
    }
    let intrinsic = |f: &Finding| {
        let rule = &rules.rules()[f.rule as usize];
        rule.priority >= INTRINSIC_PRIORITY || !matches!(rule.kind.as_str(), "secret" | "password")
    };
    // Both sides sorted by start, so each finding meets only the few of the other side that can
    // reach it (a dense block has thousands of findings; pairwise checks would be quadratic).
    rule_findings.sort_unstable_by_key(|f| f.start);
    structured.sort_unstable_by_key(|f| f.start);
    // On an identical span the rule keeps it too: same bytes, and its id says more. A bare
    // number always goes to the structured finding: only it writes the quotes that keep the
    // record valid JSON.
    let rules_side: &[Finding] = rule_findings;
    let rules_longest = longest(rules_side);
    structured.retain(|s| {
        s.quoted.is_some()
            || !overlapping(rules_side, rules_longest, s)
                .any(|r| intrinsic(r) || (r.start == s.start && r.end == s.end))
    });
    if structured.is_empty() {
        return;
    }
    let kept: &[Finding] = structured;
    let kept_longest = longest(kept);
    rule_findings.retain(|r| overlapping(kept, kept_longest, r).next().is_none());
    rule_findings.append(structured);
}

fn longest(findings: &[Finding]) -> usize {
    findings.iter().map(|x| x.end - x.start).max().unwrap_or(0)
}

/// The findings of `sorted` (by start; none longer than `longest`) that overlap `f`.
fn overlapping<'a>(sorted: &'a [Finding], longest: usize, f: &'a Finding) -> impl Iterator<Item = &'a Finding> + 'a {
    let below = sorted.partition_point(|x| x.start < f.end);
    sorted[..below]
        .iter()
        .rev()
        .take_while(move |x| x.start + longest > f.start)
        .filter(move |x| x.end > f.start)
}

/// Deepest nesting walked; deeper records get no structured findings (the rules still run).
/// A document embedded in a string counts one level more than the string.
pub const MAX_DEPTH: usize = 64;

/// Deepest JSON-in-a-string embedding walked (`"{\"a\":\"{\\\"b\\\":...}\"}"` is 2). A value
/// at level 3 is escaped four times over, as many rounds as the fingerprint's decoding undoes, so
/// the same secret gets the same word at every level walked.
pub const MAX_ESCAPE_DEPTH: u8 = 3;

/// What a sensitive key holds, which decides the kind and how the value is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    /// A password.
    Password,
    /// A token, key or other secret.
    Secret,
    /// An HTTP `Authorization` value: the scheme is kept.
    Authorization,
    /// A `Cookie` header: every cookie value is a secret.
    Cookie,
    /// A `Set-Cookie` header: the first cookie's value is a secret, attributes are kept.
    SetCookie,
}

/// Normalized key suffixes that make a key sensitive, with their class.
pub const SENSITIVE_SUFFIXES: &[(&str, KeyClass)] = &[
    ("password", KeyClass::Password),
    ("passwd", KeyClass::Password),
    ("passphrase", KeyClass::Password),
    ("proxyauthorization", KeyClass::Authorization),
    ("authorization", KeyClass::Authorization),
    ("setcookie", KeyClass::SetCookie),
    ("cookie", KeyClass::Cookie),
    ("secret", KeyClass::Secret),
    ("apikey", KeyClass::Secret),
    ("accesstoken", KeyClass::Secret),
    ("refreshtoken", KeyClass::Secret),
    ("idtoken", KeyClass::Secret),
    ("authtoken", KeyClass::Secret),
    ("sessiontoken", KeyClass::Secret),
    ("bearertoken", KeyClass::Secret),
    ("apitoken", KeyClass::Secret),
    ("privatekey", KeyClass::Secret),
    ("secretkey", KeyClass::Secret),
    ("clientsecret", KeyClass::Secret),
    ("secretaccesskey", KeyClass::Secret),
];

/// Normalized keys sensitive only as a whole word.
/// Words that were considered and left out: `auth` (`"auth": "enabled"`; Docker's and npm's
/// `auth` values have their own rule), `pwd` (a shell's working directory), `pass` (`"pass": true`
/// in test reports) and `credentials` (often a profile name).
pub const SENSITIVE_EXACT: &[(&str, KeyClass)] = &[("token", KeyClass::Secret), ("xauthtoken", KeyClass::Secret)];

/// Longest normalized key kept for matching (its last bytes: matching is by suffix).
const KEY_BUF: usize = 64;

/// Shortest extra key accepted (normalized): shorter suffixes (`id`, `pw`) would catch far more
/// than credentials.
pub const MIN_EXTRA_KEY_LEN: usize = 3;

/// A key's normalized form, kept as a ring of its last [`KEY_BUF`] bytes: constant work per byte,
/// however long the key.
struct KeyNorm {
    buf: [u8; KEY_BUF],
    total: usize,
}

impl KeyNorm {
    fn new() -> Self {
        KeyNorm {
            buf: [0; KEY_BUF],
            total: 0,
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        if matches!(b, b'_' | b'-' | b'.' | b' ') {
            return;
        }
        self.buf[self.total % KEY_BUF] = b.to_ascii_lowercase();
        self.total += 1;
    }

    /// Feeds a key as written inside a JSON (or Go, or Python) string: one level of escapes is
    /// undone; a `\u` escape of a non-ASCII character reads as a byte no key contains.
    fn push_escaped(&mut self, raw: &[u8]) {
        let mut i = 0;
        while i < raw.len() {
            let b = raw[i];
            if b == b'\\' && i + 1 < raw.len() {
                match raw[i + 1] {
                    b'u' if i + 6 <= raw.len() => {
                        let hex = std::str::from_utf8(&raw[i + 2..i + 6]).ok();
                        match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
                            Some(c) if c < 0x80 => self.push(c as u8),
                            _ => self.push(b'?'),
                        }
                        i += 6;
                    }
                    other => {
                        self.push(other);
                        i += 2;
                    }
                }
            } else {
                self.push(b);
                i += 1;
            }
        }
    }

    /// The normalized key (its last [`KEY_BUF`] bytes).
    fn key(&mut self) -> &[u8] {
        if self.total > KEY_BUF {
            self.buf.rotate_left(self.total % KEY_BUF);
            self.total = KEY_BUF;
        }
        &self.buf[..self.total]
    }
}

/// Number of built-in key words: [`SENSITIVE_EXACT`] first, then [`SENSITIVE_SUFFIXES`].
const WORDS: usize = SENSITIVE_EXACT.len() + SENSITIVE_SUFFIXES.len();
const _: () = assert!(WORDS <= 32, "the word sets below are u32 bit masks");

const fn word(i: usize) -> &'static [u8] {
    if i < SENSITIVE_EXACT.len() {
        SENSITIVE_EXACT[i].0.as_bytes()
    } else {
        SENSITIVE_SUFFIXES[i - SENSITIVE_EXACT.len()].0.as_bytes()
    }
}

/// For each byte, the built-in words whose `back`-th byte from the end it is (bit `i`: word `i`).
const fn words_by_byte(back: usize) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < WORDS {
        let w = word(i);
        assert!(w.len() >= 2);
        table[w[w.len() - back] as usize] |= 1 << i;
        i += 1;
    }
    table
}

static BY_LAST: [u32; 256] = words_by_byte(1);
static BY_SECOND_LAST: [u32; 256] = words_by_byte(2);

/// The built-in class of a normalized key. Only the words that end with the key's last two bytes
/// are compared (most keys have none: `trace_id`, `status`), in list order, exact words first.
fn builtin_class(key: &[u8]) -> Option<KeyClass> {
    let n = key.len();
    if n < 2 {
        return None;
    }
    let mut candidates = BY_LAST[key[n - 1] as usize] & BY_SECOND_LAST[key[n - 2] as usize];
    while candidates != 0 {
        let i = candidates.trailing_zeros() as usize;
        candidates &= candidates - 1;
        if i < SENSITIVE_EXACT.len() {
            if key == SENSITIVE_EXACT[i].0.as_bytes() {
                return Some(SENSITIVE_EXACT[i].1);
            }
        } else {
            let (suffix, class) = SENSITIVE_SUFFIXES[i - SENSITIVE_EXACT.len()];
            if key.ends_with(suffix.as_bytes()) {
                return Some(class);
            }
        }
    }
    None
}

/// True when the key as written (escapes included) is certainly not sensitive by the built-in
/// lists: no word ends with its last two normalized bytes. Most keys (`ts`, `level`, `trace_id`)
/// are decided so from their last few bytes, without normalizing the rest.
#[inline]
// `contains` would call memchr, whose set-up costs more than the few bytes looked at here.
#[allow(clippy::manual_contains)]
fn surely_not_builtin(raw: &[u8]) -> bool {
    let mut last = [0u8; 2];
    let mut n = 0;
    let mut i = raw.len();
    while i > 0 && n < 2 {
        i -= 1;
        let b = raw[i];
        if !matches!(b, b'_' | b'-' | b'.' | b' ') {
            last[n] = b.to_ascii_lowercase();
            n += 1;
        }
    }
    // An escape (`\u0077`, `\/`) starts at most five bytes before the bytes read: with a
    // backslash that close, only the full decoding tells.
    let window = &raw[i.saturating_sub(5)..];
    let escaped = match window.len() {
        // The usual case, as one word: does any of the last 8 bytes equal `\`?
        7 | 8 if raw.len() >= 8 => {
            let word = u64::from_le_bytes(raw[raw.len() - 8..].try_into().expect("8 bytes"));
            let x = word ^ 0x5c5c_5c5c_5c5c_5c5c;
            x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0
        }
        _ => window.iter().any(|&b| b == b'\\'),
    };
    !escaped && (n < 2 || BY_LAST[last[0] as usize] & BY_SECOND_LAST[last[1] as usize] == 0)
}

/// The class of a key as written in JSON (escapes included), if it is sensitive by the built-in
/// key lists.
pub fn classify_key(raw: &[u8]) -> Option<KeyClass> {
    if surely_not_builtin(raw) {
        return None;
    }
    let mut norm = KeyNorm::new();
    norm.push_escaped(raw);
    builtin_class(norm.key())
}

/// An extra sensitive key that cannot be used (see [`normalize_sensitive_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitiveKeyError {
    /// The key as given.
    pub key: String,
    /// Why it was refused.
    pub reason: String,
}

impl std::fmt::Display for SensitiveKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sensitive key {:?}: {}", self.key, self.reason)
    }
}

impl std::error::Error for SensitiveKeyError {}

/// Checks an extra sensitive key name and returns its normalized form (ASCII letters lowercased,
/// `_ - .` and spaces dropped), the form keys are matched in: `X-Vault-Token` becomes
/// `xvaulttoken` and then matches `x_vault_token`, `vaultToken`... as a suffix. Refused: names
/// that normalize to fewer than [`MIN_EXTRA_KEY_LEN`] bytes (`id`, `_-_`), to more than 64 (only
/// a key's last 64 normalized bytes are kept), and names with non-ASCII or control characters.
pub fn normalize_sensitive_key(key: &str) -> Result<Vec<u8>, SensitiveKeyError> {
    let refuse = |reason: String| SensitiveKeyError {
        key: key.to_string(),
        reason,
    };
    if let Some(c) = key.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        return Err(refuse(format!(
            "{c:?} is not allowed: key names are matched as printable ASCII"
        )));
    }
    let mut norm = KeyNorm::new();
    key.bytes().for_each(|b| norm.push(b));
    if norm.total > KEY_BUF {
        return Err(refuse(format!(
            "longer than {KEY_BUF} bytes once normalized; give its last part"
        )));
    }
    let normalized = norm.key().to_vec();
    if normalized.len() < MIN_EXTRA_KEY_LEN {
        return Err(refuse(format!(
            "normalizes to {:?} (lowercased, without `_ - .` and spaces); at least {MIN_EXTRA_KEY_LEN} characters are needed",
            String::from_utf8_lossy(&normalized)
        )));
    }
    Ok(normalized)
}

/// The rule that names the findings of one class of keys, and where such a value sits.
#[derive(Debug, Clone, Copy)]
struct Naming {
    /// Index into the rule set.
    rule: u32,
    location: Location,
}

/// The rules that name the kind of a structured finding, by class, and the run-time
/// configuration of the pass. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StructuredRules {
    /// The rule set's key-aware rule of each class (`structured = "password"`, ...). `None`
    /// where the set has none (its rule was turned off): values of that class get no findings,
    /// and the other classes are not affected.
    password: Option<Naming>,
    secret: Option<Naming>,
    authorization: Option<Naming>,
    basic: Option<Naming>,
    cookie: Option<Naming>,
    /// Extra sensitive key suffixes, normalized (see [`normalize_sensitive_key`]); their class is
    /// [`KeyClass::Secret`]. Empty unless configured: the built-in path never looks at it then.
    extra_keys: Arc<[Box<[u8]>]>,
    /// The markers of the dumps, in the order of [`DUMP_MARKERS`].
    dump_markers: AhoCorasick,
    /// Which lines can hold a sensitive key, by the built-in and extra keys.
    key_gate: Arc<keygate::KeyGate>,
}

/// What starts a dump: `map[` (found by its `p[`), `&{`, `{'`, and the `([(` of the list of
/// pairs that `OrderedDict` and its kin print (`OrderedDict([(`; the name is checked by the
/// reader). One searcher for all the markers (a SIMD "Teddy" scan where the CPU has one) costs
/// about half of three `memmem` passes. It looks for their first two bytes, so those must be
/// rare: with `Dict([(` as a marker, every `di` of the text would be a candidate to check.
const DUMP_MARKERS: [(&str, dump::Form); 4] = [
    ("p[", dump::Form::GoMap),
    ("&{", dump::Form::GoStruct),
    ("{'", dump::Form::PythonDict),
    ("([(", dump::Form::PythonPairs),
];

/// The first `{` in `hay[pos..end]` followed by a letter or `_`: a Go struct body whose first
/// field name follows, `%#v` behind its type name (`main.Config{User:"bob"}`) or `%+v` without
/// `&` (`{User:bob}`). Searched apart from [`DUMP_MARKERS`]: as 53 more literals they would
/// make that search three times as costly (a 16-bucket SIMD scan instead of an 8-bucket one),
/// while one `memchr` pass costs little, even on JSON lines full of `{"`.
fn next_go_brace(hay: &[u8], mut pos: usize, end: usize) -> Option<usize> {
    while pos < end {
        let brace = pos + memchr::memchr(b'{', &hay[pos..end])?;
        if brace + 1 < end && (hay[brace + 1].is_ascii_alphabetic() || hay[brace + 1] == b'_') {
            return Some(brace);
        }
        pos = brace + 1;
    }
    None
}

impl StructuredRules {
    /// Picks the naming rules from `rules`: its key-aware rules (`patterns/structured.toml`),
    /// one per class, each selected like any rule. They are rules of their own, not the regex
    /// rules of the same kinds, so that turning a regex rule off (`labelled.password_quoted`)
    /// leaves the key-aware pass as it is. `None` if the set has none (all turned off, or a set
    /// built without the built-in catalogue): then there is no structured pass.
    pub fn from_rules(rules: &RuleSet) -> Option<Self> {
        let naming = |class: StructuredClass| {
            let rule = rules.rules().iter().position(|r| r.structured == Some(class))?;
            Some(Naming {
                rule: rule as u32,
                location: rules.rules()[rule].location,
            })
        };
        let (password, secret, authorization, basic, cookie) = (
            naming(StructuredClass::Password),
            naming(StructuredClass::Secret),
            naming(StructuredClass::Authorization),
            naming(StructuredClass::BasicAuth),
            naming(StructuredClass::Cookie),
        );
        if [password, secret, authorization, basic, cookie]
            .iter()
            .all(Option::is_none)
        {
            return None;
        }
        Some(StructuredRules {
            password,
            secret,
            authorization,
            basic,
            cookie,
            extra_keys: Arc::new([]),
            key_gate: Arc::new(keygate::KeyGate::new(&[])),
            dump_markers: AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .match_kind(MatchKind::LeftmostFirst)
                .build(DUMP_MARKERS.map(|(m, _)| m))
                .expect("short literals"),
        })
    }

    /// Adds sensitive key names (from a configuration file): each is checked and normalized by
    /// [`normalize_sensitive_key`] and then matched as a suffix, like [`SENSITIVE_SUFFIXES`], with
    /// the class [`KeyClass::Secret`]. A built-in match comes first (`db_password` stays a
    /// password). The first bad name is the error.
    pub fn with_extra_keys<S: AsRef<str>>(
        mut self,
        keys: impl IntoIterator<Item = S>,
    ) -> Result<Self, SensitiveKeyError> {
        let mut all: Vec<Box<[u8]>> = self.extra_keys.iter().cloned().collect();
        for key in keys {
            let normalized = normalize_sensitive_key(key.as_ref())?.into_boxed_slice();
            if !all.contains(&normalized) {
                all.push(normalized);
            }
        }
        self.key_gate = Arc::new(keygate::KeyGate::new(&all));
        self.extra_keys = all.into();
        Ok(self)
    }

    /// The class of a key as written (one level of escapes included), by the built-in lists and
    /// then the extra keys.
    #[inline]
    pub fn classify(&self, raw: &[u8]) -> Option<KeyClass> {
        if self.extra_keys.is_empty() && surely_not_builtin(raw) {
            return None;
        }
        self.classify_normalized(raw)
    }

    #[inline(never)]
    fn classify_normalized(&self, raw: &[u8]) -> Option<KeyClass> {
        let mut norm = KeyNorm::new();
        norm.push_escaped(raw);
        self.class_of(&mut norm)
    }

    fn class_of(&self, norm: &mut KeyNorm) -> Option<KeyClass> {
        let key = norm.key();
        builtin_class(key).or_else(|| {
            if self.extra_keys.is_empty() {
                return None;
            }
            self.extra_keys
                .iter()
                .any(|k| key.ends_with(k))
                .then_some(KeyClass::Secret)
        })
    }

    /// The rule that names a value of `class` (an `Authorization` value of the Basic scheme is
    /// named by the `basic` rule instead, see [`Emit::secret_string`]).
    fn naming(&self, class: KeyClass) -> Option<Naming> {
        match class {
            KeyClass::Password => self.password,
            KeyClass::Secret => self.secret,
            KeyClass::Authorization => self.authorization,
            KeyClass::Cookie | KeyClass::SetCookie => self.cookie,
        }
    }

    /// Appends the structured findings of every line of `hay[range]` to `out`. Only lines where
    /// the key gate sees a possible sensitive key are read (see [`keygate`]).
    pub fn find(&self, hay: &[u8], range: std::ops::Range<usize>, out: &mut Vec<Finding>) {
        let mut emit = Emit { hay, rules: self, out };
        let mut from = range.start;
        while from < range.end
            && let Some(t) = self.key_gate.next_open(hay, range.start, from, range.end)
        {
            let line_start = memchr::memrchr(b'\n', &hay[range.start..t]).map_or(range.start, |i| range.start + i + 1);
            let line_end = memchr::memchr(b'\n', &hay[t..range.end]).map_or(range.end, |i| t + i);
            self.read_line(emit.reborrow(), line_start, line_end);
            from = line_end + 1;
        }
    }

    /// Every reader, on the line `hay[start..end]`.
    fn read_line(&self, mut emit: Emit<'_, '_>, start: usize, end: usize) {
        let hay = emit.hay;
        let first = hay[start..end]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|i| start + i);
        if let Some(first) = first
            && matches!(hay[first], b'{' | b'[')
        {
            json::walk_line(emit.reborrow(), first, end);
            // `{"msg":"loaded Config(token='x')"}`: the logfmt pass, which finds calls
            // elsewhere, does not read these lines.
            self.python_calls(emit.reborrow(), start, end);
        } else if first.is_some() {
            self.logfmt(emit.reborrow(), start, end);
        }
        self.dumps(emit, start..end);
    }

    /// All lines, ungated: the reference the gate is tested against.
    #[cfg(test)]
    fn find_ungated(&self, hay: &[u8], range: std::ops::Range<usize>, out: &mut Vec<Finding>) {
        let mut emit = Emit { hay, rules: self, out };
        let mut line_start = range.start;
        while line_start < range.end {
            let line_end = memchr::memchr(b'\n', &hay[line_start..range.end]).map_or(range.end, |i| line_start + i);
            self.read_line(emit.reborrow(), line_start, line_end);
            line_start = line_end + 1;
        }
    }

    /// Go and Python dumps, wherever they sit in `range` (one line, or several).
    fn dumps(&self, mut emit: Emit<'_, '_>, range: std::ops::Range<usize>) {
        let hay = emit.hay;
        let mut pos = range.start;
        // The line of the last hit, [start, end), and the reading budget left for it.
        let mut line = (range.start, range.start);
        let mut budget = 0;
        // The next hit of each search at or after `pos` (`None`: there is none).
        let mut marker = self.next_marker(hay, pos, range.end);
        let mut brace = next_go_brace(hay, pos, range.end);
        loop {
            // The earlier of the two; a marker on the same byte (`{'`) is never a brace's.
            let (start, form) = match (marker, brace) {
                (Some(m), Some(b)) if b < m.0 => (b, dump::Form::GoBrace),
                (Some(m), _) => m,
                (None, Some(b)) => (b, dump::Form::GoBrace),
                (None, None) => return,
            };
            let mut at = start;
            if at >= line.1 {
                let start = memchr::memrchr(b'\n', &hay[line.1..at]).map_or(line.1, |i| line.1 + i + 1);
                let end = memchr::memchr(b'\n', &hay[at..range.end]).map_or(range.end, |i| at + i);
                line = (start, end);
                budget = dump::line_budget(end - start);
            }
            let mut skip = false;
            match form {
                dump::Form::GoMap if at < line.0 + 2 || &hay[at - 2..at] != b"ma" => skip = true,
                dump::Form::GoMap => at -= 2,
                // The list's `[`, after the call's `(`.
                dump::Form::PythonPairs => at += 1,
                _ => {}
            }
            pos = start + 1;
            if !skip {
                let mut reader = dump::Dump::new(emit.reborrow(), line.0, line.1, budget);
                let after = reader.form(form, at);
                budget = reader.budget_left();
                pos = after.unwrap_or(pos).max(pos);
            }
            if marker.is_some_and(|m| m.0 < pos) {
                marker = self.next_marker(hay, pos, range.end);
            }
            if brace.is_some_and(|b| b < pos) {
                brace = next_go_brace(hay, pos, range.end);
            }
        }
    }

    /// The first of [`DUMP_MARKERS`] in `hay[pos..end]`: its start and its form.
    fn next_marker(&self, hay: &[u8], pos: usize, end: usize) -> Option<(usize, dump::Form)> {
        if pos >= end {
            return None;
        }
        let m = self.dump_markers.find(Input::new(hay).span(pos..end))?;
        Some((m.start(), DUMP_MARKERS[m.pattern().as_usize()].1))
    }

    /// The Python call reprs of a line the logfmt pass does not read (one that starts with `{`
    /// or `[`): each `Name(key=` starts one. The line is read as a JSON line, so a value that
    /// would take in an unescaped `"` is dropped. Found by their `(`, which such lines hold
    /// more rarely than `=` (base64 padding, URL queries).
    fn python_calls(&self, mut emit: Emit<'_, '_>, start: usize, end: usize) {
        let hay = emit.hay;
        let mut i = start;
        let mut budget = dump::line_budget(end - start);
        while let Some(rel) = memchr::memchr(b'(', &hay[i..end]) {
            let paren = i + rel;
            i = paren + 1;
            if paren == start || !is_key_byte(hay[paren - 1]) {
                continue;
            }
            let key_end = i + hay[i..end.min(i + 64)].iter().take_while(|&&b| is_key_byte(b)).count();
            if key_end == i || key_end >= end || hay[key_end] != b'=' {
                continue;
            }
            let mut reader = dump::Dump::new(emit.reborrow(), start, end, budget);
            if let Some(after) = reader.python_call(paren) {
                i = after;
            }
            budget = reader.budget_left();
        }
    }

    /// `key=value` pairs (logfmt, and the `k=v` of most text logs): a value under a sensitive
    /// key, bare (up to a space or comma) or double-quoted, is a secret. The key must start the
    /// line or follow a space, tab or comma, so `?a=1&password=...` is left to the URL rules.
    /// Two forms inside: a double-quoted value that holds escaped JSON (`msg="{\"a\":1}"`) is
    /// walked, and a key right after `Name(` starts a Python call repr (`Config(token='x')`).
    fn logfmt(&self, mut emit: Emit<'_, '_>, start: usize, end: usize) {
        let hay = emit.hay;
        let mut i = start;
        // Reads left for the Python calls of the line (see `dump::BUDGET_PER_BYTE`).
        let mut call_budget = dump::line_budget(end - start);
        while let Some(rel) = memchr::memchr(b'=', &hay[i..end]) {
            let eq = i + rel;
            i = eq + 1;
            let mut k = eq;
            while k > start && eq - k < 64 && is_key_byte(hay[k - 1]) {
                k -= 1;
            }
            if k == eq {
                continue;
            }
            let at_boundary = k == start || matches!(hay[k - 1], b' ' | b'\t' | b',');
            if !at_boundary {
                // `Config(password='x', token='y')`, `dict(password='x')`: a Python call repr.
                if hay[k - 1] == b'(' && k - 1 > start && is_key_byte(hay[k - 2]) {
                    let mut name = k - 1;
                    while name > start && is_key_byte(hay[name - 1]) {
                        name -= 1;
                    }
                    let mut reader = dump::Dump::new(emit.reborrow(), name, end, call_budget);
                    if let Some(after) = reader.python_call(k - 1) {
                        i = after;
                    }
                    call_budget = reader.budget_left();
                }
                continue;
            }
            let key = &hay[k..eq];
            // In free text, `secret=tls-cert` and `token=refresh` name things as often as they
            // hold them: bare `secret` and `token` are left to the rules and their validators.
            let class = if key.eq_ignore_ascii_case(b"secret") || key.eq_ignore_ascii_case(b"token") {
                None
            } else {
                self.classify(key)
            };
            let Some(class) = class else {
                // `msg="{\"user\":\"bob\",\"password\":\"...\"}"`: JSON in a quoted value.
                if eq + 2 < end && hay[eq + 1] == b'"' && matches!(hay[eq + 2], b'{' | b'[') {
                    let Some((vs, ve, after)) = json::string_at(hay, eq + 1, end) else {
                        return;
                    };
                    json::walk_embedded(emit.reborrow(), vs, ve, 1, 1);
                    i = after;
                }
                continue;
            };
            if eq + 1 < end && hay[eq + 1] == b'\'' {
                let vs = eq + 2;
                let Some(len) = memchr::memchr(b'\'', &hay[vs.min(end)..end]) else {
                    continue;
                };
                i = vs + len + 1;
                emit.secret_string(class, vs, vs + len);
            } else if eq + 1 < end && matches!(hay[eq + 1], b'[' | b'{' | b'(') {
                // A nested structure (`X-API-Key=[v]` in a Java map dump): left to the rules.
                continue;
            } else if eq + 1 < end && hay[eq + 1] == b'"' {
                let Some((vs, ve, after)) = json::string_at(hay, eq + 1, end) else {
                    return;
                };
                i = after;
                emit.secret_string(class, vs, ve);
            } else {
                let vs = eq + 1;
                let ve = hay[vs..end]
                    .iter()
                    .position(|b| matches!(b, b' ' | b'\t' | b',' | b'\r' | b';' | b'&' | b']' | b'}' | b')'))
                    .map_or(end, |p| vs + p);
                i = ve;
                let value = &hay[vs..ve];
                // A bare `authorization=Bearer` holds only the scheme: the header rules see the
                // rest. Booleans and nulls are settings, not secrets.
                let word = |w: &[u8]| value.eq_ignore_ascii_case(w);
                if class == KeyClass::Authorization
                    || [&b"true"[..], b"false", b"null", b"nil", b"none", b"yes", b"no"]
                        .iter()
                        .any(|w| word(w))
                {
                    continue;
                }
                emit.secret_string(class, vs, ve);
            }
        }
    }
}

/// `[A-Za-z0-9_.-]`, as a table: the logfmt pass asks for every byte before each `=`.
static KEY_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
        b += 1;
    }
    table
};

#[inline(always)]
fn is_key_byte(b: u8) -> bool {
    KEY_BYTES[b as usize]
}

/// Where the readers put their findings: the line, the rules that name the kinds, the output.
struct Emit<'a, 'o> {
    hay: &'a [u8],
    rules: &'a StructuredRules,
    out: &'o mut Vec<Finding>,
}

impl<'a> Emit<'a, '_> {
    fn reborrow(&mut self) -> Emit<'a, '_> {
        Emit {
            hay: self.hay,
            rules: self.rules,
            out: &mut *self.out,
        }
    }

    fn push(&mut self, start: usize, end: usize, naming: Naming, quoted: Option<u8>) {
        let value = &self.hay[start..end];
        // A value that holds one of our replacement words was redacted already (idempotence).
        if start >= end
            || is_placeholder(value)
            || inside_replacement(self.hay, start)
            || memchr::memmem::find(value, crate::fingerprint::REPLACEMENT_PREFIX).is_some()
        {
            return;
        }
        self.out.push(Finding {
            start,
            end,
            rule: naming.rule,
            location: naming.location,
            checksum: crate::checksum::ChecksumResult::None,
            quoted,
        });
    }

    /// A number under a key of `class`; `quoted` asks for the replacement in double quotes of
    /// that escape level (see [`Finding::quoted`]).
    fn number(&mut self, class: KeyClass, start: usize, end: usize, quoted: Option<u8>) {
        if let Some(naming) = self.rules.naming(class) {
            self.push(start, end, naming, quoted);
        }
    }

    /// The secret parts of a string value under a key of `class`.
    fn secret_string(&mut self, class: KeyClass, start: usize, end: usize) {
        let value = &self.hay[start..end];
        match class {
            KeyClass::Password | KeyClass::Secret => {
                if let Some(naming) = self.rules.naming(class) {
                    self.push(start, end, naming, None);
                }
            }
            KeyClass::Authorization => {
                // `Bearer x`, `Basic x`, `AWS4-HMAC-SHA256 Credential=...`: keep the scheme.
                let scheme = value
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                    .count();
                let spaces = value[scheme..].iter().take_while(|b| **b == b' ').count();
                let skip = if scheme > 0 && spaces > 0 && scheme + spaces < value.len() {
                    scheme + spaces
                } else {
                    0
                };
                // Basic credentials are a kind of their own, as the header rules name them.
                let naming = if value[..scheme].eq_ignore_ascii_case(b"basic") {
                    self.rules.basic
                } else {
                    self.rules.authorization
                };
                if let Some(naming) = naming {
                    self.push(start + skip, end, naming, None);
                }
            }
            KeyClass::Cookie | KeyClass::SetCookie => {
                let Some(naming) = self.rules.naming(class) else {
                    return;
                };
                let mut piece_start = start;
                while piece_start < end {
                    let piece_end = memchr::memchr(b';', &self.hay[piece_start..end]).map_or(end, |i| piece_start + i);
                    if let Some(eq) = memchr::memchr(b'=', &self.hay[piece_start..piece_end]) {
                        self.push(piece_start + eq + 1, piece_end, naming, None);
                    }
                    if class == KeyClass::SetCookie {
                        break;
                    }
                    piece_start = piece_end + 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_styles() {
        for k in [
            "password",
            "Password",
            "db_password",
            "userPassword",
            "pass\\u0077ord",
            "apiKey",
            "api-key",
            "API_KEY",
            "x-api-key",
            "http.request.header.authorization",
            "Proxy-Authorization",
            "client_secret",
            "access_token",
            "refreshToken",
            "id_token",
            "private_key",
            "set-cookie",
            "Cookie",
            "token",
            "passwd",
            "X-Auth-Token",
        ] {
            assert!(classify_key(k.as_bytes()).is_some(), "{k}");
        }
        for k in [
            "nextToken",
            "token_type",
            "password_policy",
            "passwordLength",
            "key",
            "secretName",
            "author",
            "tokens_used",
            "cookies_enabled",
            "auth",
            "PWD",
            "pass",
        ] {
            assert_eq!(classify_key(k.as_bytes()), None, "{k}");
        }
        assert_eq!(
            classify_key(b"http.request.header.authorization"),
            Some(KeyClass::Authorization)
        );
        assert_eq!(classify_key(b"Set-Cookie"), Some(KeyClass::SetCookie));
        // Longer than the ring: only the suffix counts.
        let long = format!("{}_client_secret", "x".repeat(KEY_BUF * 3 + 5));
        assert_eq!(classify_key(long.as_bytes()), Some(KeyClass::Secret));
        assert_eq!(
            classify_key(format!("{}_note", "x".repeat(KEY_BUF * 2)).as_bytes()),
            None
        );
    }

    /// The obvious reading of the key lists: normalize the whole key, then compare with every
    /// word in list order.
    fn reference_class(raw: &[u8]) -> Option<KeyClass> {
        let mut norm = KeyNorm::new();
        norm.push_escaped(raw);
        let key = norm.key().to_vec();
        SENSITIVE_EXACT
            .iter()
            .find(|(k, _)| key == k.as_bytes())
            .or_else(|| SENSITIVE_SUFFIXES.iter().find(|(k, _)| key.ends_with(k.as_bytes())))
            .map(|(_, class)| *class)
    }

    #[test]
    fn fast_classification_agrees_with_the_reference() {
        let mut keys: Vec<String> = Vec::new();
        let words = SENSITIVE_EXACT.iter().chain(SENSITIVE_SUFFIXES).map(|(w, _)| *w);
        let others = [
            "ts",
            "level",
            "trace_id",
            "region",
            "duration",
            "token_type",
            "x",
            "",
            "_",
            "a.b",
        ];
        for w in words.map(str::to_string).chain(others.iter().map(|s| s.to_string())) {
            let upper = w.to_uppercase();
            let mut head = w.clone();
            let escaped_last = match head.pop() {
                Some(c) => format!("{head}\\u{:04x}", c as u32),
                None => String::new(),
            };
            let escaped_first = w.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
            for v in [
                w.clone(),
                upper,
                format!("my_{w}"),
                format!("{w}_"),
                format!("{w}s"),
                format!("x{w}"),
                escaped_last,
                escaped_first,
                format!("{w}\\/"),
                format!("{}{w}", "q".repeat(KEY_BUF)),
            ] {
                keys.push(v);
            }
        }
        for k in &keys {
            assert_eq!(classify_key(k.as_bytes()), reference_class(k.as_bytes()), "{k}");
        }
    }

    fn structured_rules() -> StructuredRules {
        let rules = crate::rules::compile_sources(&crate::rules::builtin_sources()).unwrap();
        StructuredRules::from_rules(&rules).unwrap()
    }

    #[test]
    fn extra_keys_are_normalized_checked_and_matched_as_suffixes() {
        assert_eq!(normalize_sensitive_key("X-Vault-Token").unwrap(), b"xvaulttoken");
        assert_eq!(normalize_sensitive_key("pin").unwrap(), b"pin");
        for bad in ["", "id", "_-.", "p_w", "a b", "pässword", "tab\tkey"] {
            let e = normalize_sensitive_key(bad).unwrap_err();
            assert_eq!(e.key, bad);
            assert!(e.to_string().starts_with("sensitive key"), "{e}");
        }
        assert!(normalize_sensitive_key(&"k".repeat(KEY_BUF + 1)).is_err());
        assert!(normalize_sensitive_key(&"k".repeat(KEY_BUF)).is_ok());

        let plain = structured_rules();
        let rules = plain.clone().with_extra_keys(["vault-token", "PIN", "pin"]).unwrap();
        assert_eq!(rules.extra_keys.len(), 2, "duplicates are dropped");
        for k in ["vaultToken", "X_VAULT_TOKEN", "card.pin", "PIN", "pass\\u0077ord"] {
            assert!(rules.classify(k.as_bytes()).is_some(), "{k}");
        }
        assert_eq!(rules.classify(b"cardPin"), Some(KeyClass::Secret));
        // Built-in classes come first.
        assert_eq!(rules.classify(b"db_password"), Some(KeyClass::Password));
        for k in ["pinned", "vault", "token_type", "spinach"] {
            assert_eq!(rules.classify(k.as_bytes()), None, "{k}");
        }
        assert_eq!(plain.classify(b"vaultToken"), None);
        assert!(plain.clone().with_extra_keys(["ok_key", "id"]).is_err());
    }

    fn find(rules: &StructuredRules, line: &str) -> Vec<String> {
        let mut out = Vec::new();
        rules.find(line.as_bytes(), 0..line.len(), &mut out);
        out.sort_by_key(|f| f.start);
        out.dedup();
        out.iter().map(|f| line[f.start..f.end].to_string()).collect()
    }

    #[test]
    fn embedded_json_is_walked_at_every_level() {
        let r = structured_rules();
        let level1 = r#"{"msg":"{\"password\":\"pw1\",\"user\":\"bob\"}"}"#;
        assert_eq!(find(&r, level1), ["pw1"]);
        let level2 = r#"{"a":"{\"b\":\"{\\\"api_key\\\":\\\"k2\\\"}\"}"}"#;
        assert_eq!(find(&r, level2), ["k2"]);
        // Escapes in the embedded key, at its own level.
        let key_escape = r#"{"m":"{\"pass\\u0077ord\":\"pw\\/3\"}"}"#;
        assert_eq!(find(&r, key_escape), [r"pw\\/3"]);
        // Not a document: nothing from the string.
        assert!(find(&r, r#"{"m":"[INFO] {\"password\":\"x1\"}"}"#).is_empty());
        assert!(find(&r, r#"{"m":"{\"password\":\"x1\""}"#).is_empty());
        // Beyond MAX_ESCAPE_DEPTH: left to the rules.
        let mut deep = r#"{\"password\":\"deep\"}"#.to_string();
        for _ in 0..MAX_ESCAPE_DEPTH {
            deep = format!("{{\"a\":\"{}\"}}", deep.replace('\\', "\\\\").replace('"', "\\\""));
        }
        assert!(find(&r, &format!(r#"{{"m":"{deep}"}}"#)).is_empty());
    }

    #[test]
    fn escaped_reader_decodes_each_level() {
        let hay = br#"a\"b\\\"c\u0041"#;
        let mut chars = Vec::new();
        let mut i = 0;
        while let Some((c, next)) = json::decode_for_tests(hay, i, hay.len(), 1) {
            chars.push(c);
            i = next;
        }
        assert_eq!(chars, b"a\"b\\\"cA");
        // At level 2, `\\\"` is one quote.
        assert_eq!(json::decode_for_tests(br#"\\\""#, 0, 4, 2), Some((b'"', 4)));
        assert_eq!(json::decode_for_tests(br#"\x"#, 0, 2, 1), None);
    }
}
