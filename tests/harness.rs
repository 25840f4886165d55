//! One expected output across every path: the slice path (`Redactor::redact`) and the streaming
//! path at tiny and default read sizes, with secrets pushed across every buffer edge by padding,
//! and lines longer than the window so that the overlap logic is exercised.

use std::io::Read;

use tokenscrub::pipe::{PipeConfig, StreamRedactor, run_parallel};
use tokenscrub::{Redactor, RedactorBuilder};

const KEY: &[u8] = b"harness key: 0123456789abcdef0123456789";

fn redactor() -> Redactor {
    RedactorBuilder::new().build(KEY).unwrap()
}

/// Returns at most `chunk` bytes per read, so that every read boundary is exercised.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn stream(s: &mut StreamRedactor<'_>, input: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    s.run(Chunked { data: input, chunk }, &mut out).unwrap();
    out
}

/// Inputs that stress the byte-for-byte promise and multi-line state.
fn edge_cases() -> Vec<Vec<u8>> {
    let jwt =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    vec![
        format!("GET /x?access_token={jwt} HTTP/1.1\r\nAuthorization: Bearer Zm9vYmFyYmF6cXV4MTIzNDU2\r\n").into_bytes(),
        b"\x1b[31mERROR\x1b[0m password=hunter2hunter2 \x00 nul \xff\xfe invalid utf8\n".to_vec(),
        format!("last line without newline token {jwt}").into_bytes(),
        b"key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAU0J8HBlbc/wB3CLSb/FC4lI3WNVomKF11jAf+LhzUIXh\r\nNlY8rfvWR66BkyeQLS==\n-----END RSA PRIVATE KEY-----\nafter 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\n".to_vec(),
        b"\n\n\r\n".to_vec(),
        Vec::new(),
        b"no secrets here, just a trace_id=7cbe6900040c74c025eff77a2bdd3e37 and uuid 75eb5e4e-a1da-4093-bc02-091edcd8640d\n".to_vec(),
        b"postgres://app:s3cr3t-Pa55@db:5432/x and AKIAQJM5MFGYUF2CZZ7Q and xoxb-6111265110-1044535389110-CDh8ReWmfv5p9t4cn4UmpOAc".to_vec(),
    ]
}

/// Every rule example's input, as one more source of realistic lines.
fn example_inputs(r: &Redactor) -> Vec<Vec<u8>> {
    r.rules()
        .rules()
        .iter()
        .flat_map(|rule| rule.spec.examples.iter().map(|e| e.input.clone().into_bytes()))
        .collect()
}

#[test]
fn slice_and_stream_agree_at_every_read_size() {
    let r = redactor();
    let mut cases = edge_cases();
    cases.extend(example_inputs(&r));
    let mut streams: Vec<(usize, StreamRedactor<'_>)> = [1, 2, 3, 7, 64, 4096, PipeConfig::default().read_size]
        .into_iter()
        .map(|n| {
            (
                n,
                StreamRedactor::new(
                    &r,
                    PipeConfig {
                        read_size: n,
                        ..PipeConfig::default()
                    },
                ),
            )
        })
        .collect();
    for case in &cases {
        let expected = r.redact(case);
        for (chunk, s) in &mut streams {
            for read_chunk in [*chunk, 1, 5] {
                assert_eq!(
                    stream(s, case, read_chunk),
                    expected,
                    "read_size {chunk}, chunk {read_chunk}, input {:?}",
                    String::from_utf8_lossy(case)
                );
            }
        }
    }
}

#[test]
fn secrets_straddle_every_read_boundary() {
    let r = redactor();
    let mut s = StreamRedactor::new(
        &r,
        PipeConfig {
            read_size: 16,
            ..PipeConfig::default()
        },
    );
    for case in edge_cases() {
        for pad in 0..34 {
            let mut input = vec![b'.'; pad];
            input.extend_from_slice(&case);
            let expected = r.redact(&input);
            for chunk in [1, 7, 16] {
                assert_eq!(stream(&mut s, &input, chunk), expected, "pad {pad} chunk {chunk}");
            }
        }
    }
}

/// A line much longer than the window is scanned in overlapping windows: every secret must be
/// found whatever its offset relative to the cuts, and the output must equal the slice path's.
#[test]
fn long_lines_are_scanned_in_overlapping_windows() {
    let r = redactor();
    let secrets = [
        "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",
        "access_token=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "https://u:p4ssw0rd-x@h/",
    ];
    let mut s = StreamRedactor::new(
        &r,
        PipeConfig {
            read_size: 4093,
            window: 0,
            ..PipeConfig::default()
        },
    );
    let window = s.config().window;
    let mut line = Vec::new();
    let mut step = 997;
    let mut planted = 0;
    while line.len() < 4 * window {
        line.extend(std::iter::repeat_n(b'a', step));
        line.push(b' ');
        line.extend_from_slice(secrets[planted % secrets.len()].as_bytes());
        line.push(b' ');
        planted += 1;
        step = (step * 7 + 13) % 9973 + 1;
    }
    line.push(b'\n');
    let expected = r.redact(&line);
    let got = stream(&mut s, &line, 65536);
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "streamed long line differs from the slice path");
    let replaced = got.windows(9).filter(|w| w == b"REDACTED:").count();
    assert_eq!(replaced, planted, "every planted secret is replaced exactly once");
    for sec in secrets {
        let needle = &sec.as_bytes()[sec.len() - 12..];
        assert!(!got.windows(needle.len()).any(|w| w == needle), "{sec} leaked");
    }
}

/// The threaded path writes exactly what the sequential path writes: blocks come back in input
/// order, and a PEM key cut across blocks is still redacted line by line.
#[test]
fn threaded_path_agrees_with_slice_path() {
    let r = redactor();
    let mut cases = edge_cases();
    cases.extend(example_inputs(&r));
    // One input holding every case, so that many blocks are in flight at once.
    let all: Vec<u8> = cases
        .iter()
        .flat_map(|c| c.iter().copied().chain(std::iter::once(b'\n')))
        .collect();
    cases.push(all.clone());
    cases.push(all.repeat(20));
    for case in &cases {
        let expected = r.redact(case);
        for (threads, read_size, chunk) in [(2, 64, 7), (3, 4096, 1000), (2, 256 * 1024, 1 << 20), (4, 1, 1)] {
            if read_size == 1 && case.len() > 5000 {
                continue;
            }
            let mut out = Vec::new();
            let config = PipeConfig {
                read_size,
                ..PipeConfig::default()
            };
            run_parallel(&r, config, threads, Chunked { data: case, chunk }, &mut out).unwrap();
            assert!(
                out == expected,
                "threads {threads} read {read_size}: {:?}",
                String::from_utf8_lossy(case)
            );
        }
    }
}

#[test]
fn threaded_path_scans_long_lines_in_windows() {
    let r = redactor();
    let secret = "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";
    let mut input = b"short line before\n".to_vec();
    for i in 0..60 {
        input.extend(std::iter::repeat_n(b'a', 4000 + i * 97));
        input.push(b' ');
        input.extend_from_slice(secret.as_bytes());
        input.push(b' ');
    }
    input.extend_from_slice(b"\nshort line after\n");
    let expected = r.redact(&input);
    let mut out = Vec::new();
    let config = PipeConfig {
        read_size: 8192,
        window: 0,
        ..PipeConfig::default()
    };
    run_parallel(
        &r,
        config,
        2,
        Chunked {
            data: &input,
            chunk: 8192,
        },
        &mut out,
    )
    .unwrap();
    assert!(out == expected, "threaded long line differs");
    assert_eq!(out.windows(9).filter(|w| *w == b"REDACTED:").count(), 60);
}
