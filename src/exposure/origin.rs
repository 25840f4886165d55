//! The client origin of a record, for the replay signal: one credential seen from more than one
//! origin was probably copied and used elsewhere.
//!
//! Recognised, in order:
//! - a field whose key names the client address (`remote_addr`, `client_ip`, `x_forwarded_for`,
//!   OTLP's `client.address`, ... in JSON, logfmt or `key: value` form, any case), taking the
//!   first address of a forwarded-for list (the original client);
//! - the first field of a common/combined access log line (`203.0.113.9 - - [...`).
//!
//! Only a value that parses as an IP address counts, so free text never becomes an origin. Runs
//! only on lines that hold a finding.

use std::net::IpAddr;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Keys that name the client's address, lowercase.
pub const ORIGIN_KEYS: &[&str] = &[
    "remote_addr",
    "remote_ip",
    "remoteaddr",
    "remoteip",
    "remote-addr",
    "client_ip",
    "clientip",
    "client-ip",
    "client_addr",
    "client_address",
    "client.address",
    "client.ip",
    "source.address",
    "source.ip",
    "src_ip",
    "x_forwarded_for",
    "x-forwarded-for",
    "xforwardedfor",
    "http.client_ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-real-ip",
    "x_real_ip",
];

/// Finds origins in lines.
#[derive(Debug, Clone)]
pub struct OriginFinder {
    keys: AhoCorasick,
}

impl Default for OriginFinder {
    fn default() -> Self {
        Self::new()
    }
}

impl OriginFinder {
    /// A finder for [`ORIGIN_KEYS`].
    pub fn new() -> Self {
        OriginFinder {
            keys: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(ORIGIN_KEYS)
                .expect("origin keys compile"),
        }
    }

    /// The client address of `line`, if it names one.
    pub fn find(&self, line: &[u8]) -> Option<IpAddr> {
        for m in self.keys.find_iter(line) {
            let before_ok = m.start() == 0 || !is_key_byte(line[m.start() - 1]);
            if !before_ok {
                continue;
            }
            if let Some(ip) = value_after_key(&line[m.end()..]) {
                return Some(ip);
            }
        }
        access_log_client(line)
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// Parses `"key": "1.2.3.4"`, `key=1.2.3.4`, `key: 1.2.3.4, 5.6.7.8`, with the key already
/// consumed.
fn value_after_key(rest: &[u8]) -> Option<IpAddr> {
    let mut i = 0;
    // Closing quote of the key (plain or escaped JSON), then the separator, spaces and an
    // opening quote.
    while i < rest.len() && i < 8 && matches!(rest[i], b'"' | b'\'' | b'\\') {
        i += 1;
    }
    while i < rest.len() && rest[i] == b' ' {
        i += 1;
    }
    if i >= rest.len() || !matches!(rest[i], b'=' | b':') {
        return None;
    }
    i += 1;
    while i < rest.len() && i < 24 && matches!(rest[i], b' ' | b'"' | b'\'' | b'\\' | b'[') {
        i += 1;
    }
    address_at(&rest[i..])
}

/// The address at the start of `s` (IPv4, IPv6, optionally `[v6]:port` or `v4:port`).
fn address_at(s: &[u8]) -> Option<IpAddr> {
    let len = s
        .iter()
        .take(64)
        .take_while(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':'))
        .count();
    let text = std::str::from_utf8(&s[..len]).ok()?;
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    // `1.2.3.4:5678`: an IPv4 address with a port.
    let (host, port) = text.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        return host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

/// The first field of a common/combined log line: `ADDR IDENT USER [date] "request" ...`.
fn access_log_client(line: &[u8]) -> Option<IpAddr> {
    let space = memchr::memchr(b' ', line)?;
    let ip = address_at(&line[..space])?;
    // An access log has the bracketed date within the next few fields.
    let rest = &line[space..line.len().min(space + 128)];
    memchr::memmem::find(rest, b" [").map(|_| ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(line: &str) -> Option<String> {
        OriginFinder::new().find(line.as_bytes()).map(|ip| ip.to_string())
    }

    #[test]
    fn keys_in_every_record_style() {
        assert_eq!(
            find(r#"{"client_ip":"198.51.100.7","token":"x"}"#).as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(
            find(r#"{"Remote_Addr": "2001:db8::1"}"#).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            find("level=info remote_addr=203.0.113.5:51234 msg=x").as_deref(),
            Some("203.0.113.5")
        );
        assert_eq!(
            find("X-Forwarded-For: 192.0.2.1, 10.0.0.1").as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(
            find(r#"{\"client.address\":\"192.0.2.44\"}"#).as_deref(),
            Some("192.0.2.44")
        );
    }

    #[test]
    fn access_log_first_field() {
        let line = r#"203.0.113.9 - - [22/Nov/2026:10:00:00 +0000] "GET /?token=abc HTTP/1.1" 200 12"#;
        assert_eq!(find(line).as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn no_origin_in_free_text() {
        assert_eq!(find("remote_addr is unknown; token=abc"), None);
        assert_eq!(find("1.2.3.4 is a version, not a client"), None);
        assert_eq!(find("myclient_ip=1.2.3.4"), None, "key must start at a boundary");
        assert_eq!(find("client_ip=999.1.1.1"), None);
    }
}
