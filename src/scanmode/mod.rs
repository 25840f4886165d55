//! Report-only scanning (`tokenscrub scan`): where the credentials are, never what they are.
//!
//! [`Scanner`] runs the streaming path of [`crate::pipe`] (the same line buffer, overlapping
//! windows for long lines and multi-line state) without rewriting anything, and hands each
//! finding to a visitor as a [`Hit`]: its line, byte column, rule, kind, location, checksum
//! verdict and fingerprint. The findings are exactly those that redaction replaces, and the
//! fingerprint renders to the word redaction writes. A hit holds no byte of the secret.
//!
//! [`run`] is the command on top: it walks directories (honouring `.gitignore`-style files,
//! following symbolic links on request), reads gzip transparently, scans files on several
//! threads, and writes one [`Format`] line per hit, in input order.
//!
//! ```
//! use tokenscrub::RedactorBuilder;
//! use tokenscrub::pipe::PipeConfig;
//! use tokenscrub::scanmode::Scanner;
//!
//! let redactor = RedactorBuilder::new().build(b"an example key of at least 32 bytes!").unwrap();
//! let mut scanner = Scanner::new(&redactor, PipeConfig::default());
//! let log = b"ok\ncurl -H 'Authorization: Bearer abcdEFGH1234ijklMNOP5678'\n";
//! let mut hits = Vec::new();
//! scanner
//!     .scan(&log[..], |hit| {
//!         hits.push((hit.line, hit.column, hit.kind.to_string()));
//!         Ok::<(), std::convert::Infallible>(())
//!     })
//!     .unwrap();
//! assert_eq!(hits, [(2, 32, "secret".to_string())]);
//! ```

use std::fmt;
use std::io::{self, Read, Write};

use memchr::memchr_iter;

use crate::checksum::ChecksumResult;
use crate::pipe::{PipeConfig, Region, RegionScanner};
use crate::redact::Redactor;
use crate::replacement::Replacement;
use crate::rules::Location;

mod files;

pub use files::{FileError, Options, STDIN_NAME, Summary, run};

/// One credential found by a scan: where it is and what it is. Never the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// Byte offset of the secret's first byte in the stream (after decompression).
    pub offset: u64,
    /// Line of the secret's first byte, from 1.
    pub line: u64,
    /// Byte column of the secret's first byte within its line, from 1.
    pub column: u64,
    /// The id of the rule that names the kind.
    pub rule: &'a str,
    /// The credential kind, as in the replacement word.
    pub kind: &'a str,
    /// Where the secret sits.
    pub location: Location,
    /// The rule's checksum verdict.
    pub checksum: ChecksumResult,
    /// The keyed fingerprint: redaction writes it as `REDACTED:<kind>:<16 hex>`.
    pub fingerprint: u64,
    /// The replacement form in force (the configured template and key id).
    pub replacement: &'a Replacement,
}

impl Hit<'_> {
    /// Appends the replacement word redaction writes for this secret (without the quotes a
    /// bare JSON number gets) to `out`.
    pub fn write_word(&self, out: &mut Vec<u8>) {
        self.replacement.write(self.kind, self.fingerprint, out);
    }
}

/// Why a scan stopped early.
#[derive(Debug)]
pub enum StreamError<E> {
    /// Reading (or decompressing) the input failed.
    Read(io::Error),
    /// The visitor returned an error.
    Visit(E),
}

impl<E> From<io::Error> for StreamError<E> {
    fn from(e: io::Error) -> Self {
        StreamError::Read(e)
    }
}

impl<E: fmt::Display> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Read(e) => e.fmt(f),
            StreamError::Visit(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for StreamError<E> {}

/// Line and column bookkeeping over the bytes of a stream, in order.
///
/// Invariant: `line` is the line of the byte at the stream offset reached so far, and
/// `line_start` the offset of that line's first byte.
#[derive(Debug)]
struct LinePosition {
    line: u64,
    line_start: u64,
}

impl LinePosition {
    fn new() -> Self {
        LinePosition { line: 1, line_start: 0 }
    }

    /// Moves past `bytes`, which start at stream offset `at`.
    fn advance(&mut self, bytes: &[u8], at: u64) {
        let mut last = None;
        for i in memchr_iter(b'\n', bytes) {
            self.line += 1;
            last = Some(i);
        }
        if let Some(i) = last {
            self.line_start = at + i as u64 + 1;
        }
    }
}

/// A reusable report-only scanner (one per thread): the streaming path's buffer and scratch,
/// plus line bookkeeping. Memory stays bounded by the window and read sizes of its
/// [`PipeConfig`], whatever the line length.
#[derive(Debug)]
pub struct Scanner<'r> {
    redactor: &'r Redactor,
    regions: RegionScanner<'r>,
    fingerprints: Vec<u64>,
}

impl<'r> Scanner<'r> {
    /// A scanner with the given sizes (the window is raised to the rule set's minimum, as for
    /// redaction).
    pub fn new(redactor: &'r Redactor, config: PipeConfig) -> Self {
        Scanner {
            redactor,
            regions: RegionScanner::new(redactor, config),
            fingerprints: Vec::new(),
        }
    }

    /// Scans `reader` to its end and calls `visit` with each hit, in stream order. Returns the
    /// bytes read. Multi-line state and line numbers start fresh for each call.
    pub fn scan<R: Read, E>(
        &mut self,
        reader: R,
        mut visit: impl FnMut(&Hit<'_>) -> Result<(), E>,
    ) -> Result<u64, StreamError<E>> {
        let Scanner {
            redactor,
            regions,
            fingerprints,
        } = self;
        let redactor: &Redactor = redactor;
        let mut position = LinePosition::new();
        regions.run(reader, |region: Region<'_>| -> Result<(), StreamError<E>> {
            let Region {
                offset,
                hay,
                range,
                findings,
                decode,
            } = region;
            let mut pos = range.start;
            if !findings.is_empty() {
                redactor.fingerprints(hay, findings, decode, fingerprints);
            }
            for (f, &fingerprint) in findings.iter().zip(fingerprints.iter()) {
                position.advance(&hay[pos..f.start], offset + pos as u64);
                pos = f.start;
                let at = offset + f.start as u64;
                let rule = redactor.rule(f);
                let hit = Hit {
                    offset: at,
                    line: position.line,
                    column: at - position.line_start + 1,
                    rule: &rule.id,
                    kind: &rule.kind,
                    location: f.location,
                    checksum: f.checksum,
                    fingerprint,
                    replacement: redactor.replacement(),
                };
                visit(&hit).map_err(StreamError::Visit)?;
            }
            position.advance(&hay[pos..range.end], offset + pos as u64);
            Ok(())
        })
    }
}

/// How hits are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per hit, grep-friendly:
    /// `FILE:LINE:COLUMN: rule=ID kind=KIND location=LOCATION fingerprint=REDACTED:KIND:HEX checksum=valid|invalid|none`.
    #[default]
    Text,
    /// One JSON object per line, with the fields `file`, `line`, `column`, `rule`, `kind`,
    /// `location`, `fingerprint` and `checksum` (the same values as the text format).
    Json,
}

/// A JSON line, in field order.
#[derive(serde::Serialize)]
struct JsonHit<'a> {
    file: &'a str,
    line: u64,
    column: u64,
    rule: &'a str,
    kind: &'a str,
    location: &'a str,
    fingerprint: &'a str,
    checksum: &'a str,
}

impl Format {
    /// Writes one line for `hit`, found in `file`. `word` is a reusable buffer.
    pub fn write_hit<W: Write>(self, out: &mut W, file: &str, hit: &Hit<'_>, word: &mut Vec<u8>) -> io::Result<()> {
        word.clear();
        hit.write_word(word);
        let fingerprint = std::str::from_utf8(word).expect("a replacement word is ASCII");
        match self {
            Format::Text => writeln!(
                out,
                "{file}:{}:{}: rule={} kind={} location={} fingerprint={fingerprint} checksum={}",
                hit.line,
                hit.column,
                hit.rule,
                hit.kind,
                hit.location.as_str(),
                hit.checksum.as_str(),
            ),
            Format::Json => {
                let row = JsonHit {
                    file,
                    line: hit.line,
                    column: hit.column,
                    rule: hit.rule,
                    kind: hit.kind,
                    location: hit.location.as_str(),
                    fingerprint,
                    checksum: hit.checksum.as_str(),
                };
                serde_json::to_writer(&mut *out, &row)?;
                out.write_all(b"\n")
            }
        }
    }
}
