//! Key-aware redaction of JSON records: a value under a sensitive key (`password`, `apiKey`,
//! `http.request.header.authorization`, ...) is a secret whatever it looks like.
//!
//! The rules find credentials by their shape; a JSON record also says what a value *is*. For
//! each line that starts with `{` or `[`, a small byte-level JSON walker (no allocation, no
//! copy, depth-limited) visits every key and value. Values under a sensitive key become
//! findings, which then go through the same overlap resolution as the rules' findings. A vendor
//! rule that matches the same span names the kind; otherwise the key's class does.
//!
//! Why by hand: serde_json would parse into owned values and lose the byte offsets that the
//! rewrite needs; the rewrite must leave every byte outside the secret as it was. The walker
//! accepts only well-formed JSON: a line that is not JSON gets no structured findings and is
//! still scanned by every rule, so nothing is forwarded unscanned.
//!
//! Key matching: the key's JSON escapes are undone, ASCII letters lowercased, and `_`, `-`, `.`
//! and spaces dropped, so `apiKey`, `api-key`, `API_KEY` and `http.request.header.x_api_key` all
//! read `...apikey`. A key is sensitive when its normalized form *ends with* one of
//! [`SENSITIVE_SUFFIXES`] or *equals* one of [`SENSITIVE_EXACT`] (words too generic as suffixes:
//! `nextToken` is a page cursor, not a credential).
//!
//! Values: strings (placeholders such as `****` or `${DB_PASS}`, empty strings and our own
//! replacements are left alone); numbers (replaced by a quoted word, so the record stays valid
//! JSON); every string and number of an array under a sensitive key. An object under a
//! sensitive key is judged by its own keys (`"secret": {"secretName": "tls"}` holds no secret). `true`,
//! `false` and `null` are left alone. An `Authorization` value keeps its scheme
//! (`Bearer REDACTED:...`); a `Cookie` value keeps its cookie names, and a `Set-Cookie` value its
//! attributes.

use crate::fingerprint::inside_replacement;
use crate::rules::{Location, RuleSet};
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
        s.quoted
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
pub const MAX_DEPTH: usize = 64;

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

/// The class of a key as written in JSON (escapes included), if it is sensitive.
pub fn classify_key(raw: &[u8]) -> Option<KeyClass> {
    // A ring of the last KEY_BUF normalized bytes: constant work per byte, however long the key.
    let mut buf = [0u8; KEY_BUF];
    let mut total = 0usize;
    let mut push = |b: u8| {
        if matches!(b, b'_' | b'-' | b'.' | b' ') {
            return;
        }
        buf[total % KEY_BUF] = b.to_ascii_lowercase();
        total += 1;
    };
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\' && i + 1 < raw.len() {
            match raw[i + 1] {
                b'u' if i + 6 <= raw.len() => {
                    let hex = std::str::from_utf8(&raw[i + 2..i + 6]).ok();
                    match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
                        Some(c) if c < 0x80 => push(c as u8),
                        _ => push(b'?'),
                    }
                    i += 6;
                }
                other => {
                    push(other);
                    i += 2;
                }
            }
        } else {
            push(b);
            i += 1;
        }
    }
    let len = total.min(KEY_BUF);
    if total > KEY_BUF {
        buf.rotate_left(total % KEY_BUF);
    }
    let key = &buf[..len];
    SENSITIVE_EXACT
        .iter()
        .find(|(k, _)| key == k.as_bytes())
        .or_else(|| SENSITIVE_SUFFIXES.iter().find(|(k, _)| key.ends_with(k.as_bytes())))
        .map(|(_, class)| *class)
}

/// The rules that name the kind of a structured finding, by class (indices into the rule set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructuredRules {
    password: u32,
    secret: u32,
    authorization: u32,
    basic: u32,
    cookie: u32,
}

impl StructuredRules {
    /// Picks the naming rules from `rules`: the labelled password and secret rules, the bearer
    /// header rule and the session-cookie rule. `None` if the catalogue lacks them (a rule set
    /// built without the built-in catalogue): then there is no structured pass.
    pub fn from_rules(rules: &RuleSet) -> Option<Self> {
        let find = |id: &str| rules.rules().iter().position(|r| r.id == id).map(|i| i as u32);
        Some(StructuredRules {
            password: find("labelled.password_quoted")?,
            secret: find("labelled.secret_quoted")?,
            authorization: find("http.authorization_bearer")?,
            basic: find("http.authorization_basic")?,
            cookie: find("http.session_cookie")?,
        })
    }

    fn rule(&self, class: KeyClass) -> (u32, Location) {
        match class {
            KeyClass::Password => (self.password, Location::Field),
            KeyClass::Secret => (self.secret, Location::Field),
            KeyClass::Authorization => (self.authorization, Location::Header),
            KeyClass::Cookie | KeyClass::SetCookie => (self.cookie, Location::Header),
        }
    }

    /// Appends the structured findings of every JSON line of `hay[range]` to `out`.
    pub fn find(&self, hay: &[u8], range: std::ops::Range<usize>, out: &mut Vec<Finding>) {
        let region = &hay[range.clone()];
        // Blocks with neither a JSON record nor a `key=value` pair: one SIMD pass rules them out.
        if memchr::memchr3(b'{', b'[', b'=', region).is_none() {
            return;
        }
        let mut line_start = range.start;
        while line_start < range.end {
            let line_end = memchr::memchr(b'\n', &hay[line_start..range.end]).map_or(range.end, |i| line_start + i);
            let first = hay[line_start..line_end]
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .map(|i| line_start + i);
            if let Some(first) = first
                && matches!(hay[first], b'{' | b'[')
            {
                let before = out.len();
                let mut walker = Walker {
                    hay,
                    pos: first,
                    end: line_end,
                    rules: self,
                    out,
                };
                let ok = walker.value(None, 0).is_some() && walker.only_whitespace_left();
                if !ok {
                    // Not (only) JSON: the rules alone decide.
                    out.truncate(before);
                }
            } else if first.is_some() {
                self.logfmt(hay, line_start, line_end, out);
            }
            line_start = line_end + 1;
        }
    }
}

impl StructuredRules {
    /// `key=value` pairs (logfmt, and the `k=v` of most text logs): a value under a sensitive
    /// key, bare (up to a space or comma) or double-quoted, is a secret. The key must start the
    /// line or follow a space, tab or comma, so `?a=1&password=...` is left to the URL rules.
    fn logfmt(&self, hay: &[u8], start: usize, end: usize, out: &mut Vec<Finding>) {
        let mut walker = Walker {
            hay,
            pos: start,
            end,
            rules: self,
            out,
        };
        let mut i = start;
        while let Some(rel) = memchr::memchr(b'=', &hay[i..end]) {
            let eq = i + rel;
            i = eq + 1;
            let mut k = eq;
            while k > start && eq - k < 64 && is_key_byte(hay[k - 1]) {
                k -= 1;
            }
            let at_boundary = k == start || matches!(hay[k - 1], b' ' | b'\t' | b',');
            if k == eq || !at_boundary {
                continue;
            }
            let key = &hay[k..eq];
            // In free text, `secret=tls-cert` and `token=refresh` name things as often as they
            // hold them: bare `secret` and `token` are left to the rules and their validators.
            if key.eq_ignore_ascii_case(b"secret") || key.eq_ignore_ascii_case(b"token") {
                continue;
            }
            let Some(class) = classify_key(key) else {
                continue;
            };
            if eq + 1 < end && hay[eq + 1] == b'\'' {
                let vs = eq + 2;
                let Some(len) = memchr::memchr(b'\'', &hay[vs.min(end)..end]) else {
                    continue;
                };
                i = vs + len + 1;
                walker.secret_string(class, vs, vs + len);
            } else if eq + 1 < end && matches!(hay[eq + 1], b'[' | b'{' | b'(') {
                // A nested structure (`X-API-Key=[v]` in a Java map dump): left to the rules.
                continue;
            } else if eq + 1 < end && hay[eq + 1] == b'"' {
                walker.pos = eq + 1;
                let Some((vs, ve)) = walker.string() else {
                    return;
                };
                i = walker.pos;
                walker.secret_string(class, vs, ve);
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
                walker.secret_string(class, vs, ve);
            }
        }
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

struct Walker<'a, 'o> {
    hay: &'a [u8],
    pos: usize,
    end: usize,
    rules: &'a StructuredRules,
    out: &'o mut Vec<Finding>,
}

impl Walker<'_, '_> {
    fn skip_ws(&mut self) {
        while self.pos < self.end && matches!(self.hay[self.pos], b' ' | b'\t' | b'\r' | b'\n') {
            self.pos += 1;
        }
    }

    fn only_whitespace_left(&mut self) -> bool {
        self.skip_ws();
        self.pos == self.end
    }

    fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.hay[self.pos])
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        (self.peek()? == b).then(|| self.pos += 1)
    }

    /// A value; `sensitive` is the class of the key it sits under (inherited into arrays).
    fn value(&mut self, sensitive: Option<KeyClass>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                self.skip_ws();
                if self.peek()? == b'}' {
                    self.pos += 1;
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
                    let class = classify_key(&self.hay[key_start..key_end]);
                    self.expect(b':')?;
                    self.value(class, depth + 1)?;
                    self.skip_ws();
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b'}' => {
                            self.pos += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                self.skip_ws();
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.value(sensitive, depth + 1)?;
                    self.skip_ws();
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => {
                let (start, end) = self.string()?;
                if let Some(class) = sensitive {
                    self.secret_string(class, start, end);
                }
                Some(())
            }
            b'-' | b'0'..=b'9' => {
                let start = self.pos;
                while self.pos < self.end
                    && matches!(self.hay[self.pos], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.pos += 1;
                }
                if let Some(class) = sensitive {
                    let (rule, location) = self.rules.rule(class);
                    self.push(start, self.pos, rule, location, true);
                }
                Some(())
            }
            _ => {
                for word in [&b"true"[..], b"false", b"null"] {
                    if self.hay[self.pos..self.end].starts_with(word) {
                        self.pos += word.len();
                        return Some(());
                    }
                }
                None
            }
        }
    }

    /// A string at `pos` (on its opening quote); returns its content span (escapes included).
    fn string(&mut self) -> Option<(usize, usize)> {
        let start = self.pos + 1;
        let mut i = start;
        loop {
            let rel = memchr::memchr2(b'"', b'\\', &self.hay[i..self.end])?;
            i += rel;
            if self.hay[i] == b'\\' {
                i += 2;
                if i > self.end {
                    return None;
                }
            } else {
                self.pos = i + 1;
                return Some((start, i));
            }
        }
    }

    fn push(&mut self, start: usize, end: usize, rule: u32, location: Location, quoted: bool) {
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
            rule,
            location,
            checksum: crate::checksum::ChecksumResult::None,
            quoted,
        });
    }

    /// The secret parts of a string value under a key of `class`.
    fn secret_string(&mut self, class: KeyClass, start: usize, end: usize) {
        let (rule, location) = self.rules.rule(class);
        let value = &self.hay[start..end];
        match class {
            KeyClass::Password | KeyClass::Secret => self.push(start, end, rule, location, false),
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
                let rule = if value[..scheme].eq_ignore_ascii_case(b"basic") {
                    self.rules.basic
                } else {
                    rule
                };
                self.push(start + skip, end, rule, location, false);
            }
            KeyClass::Cookie | KeyClass::SetCookie => {
                let mut piece_start = start;
                while piece_start < end {
                    let piece_end = memchr::memchr(b';', &self.hay[piece_start..end]).map_or(end, |i| piece_start + i);
                    if let Some(eq) = memchr::memchr(b'=', &self.hay[piece_start..piece_end]) {
                        self.push(piece_start + eq + 1, piece_end, rule, location, false);
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
}
