//! `tokenscrub scan` as a user runs it (real files, real processes), and the library's
//! [`Scanner`] against the redactor's own findings at every read size.
//!
//! Every credential here is fake and built at run time; every process test checks that no
//! secret, nor any 8-byte piece of one, reaches stdout or stderr.

mod common;

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use tokenscrub::pipe::PipeConfig;
use tokenscrub::scan::ScanState;
use tokenscrub::scanmode::Scanner;
use tokenscrub::{Redactor, RedactorBuilder};

const KEY: &str = "scan test key: 0123456789abcdef0123456789";

use common::{peak_rss_kib, run_with_stdin};

fn bin() -> Command {
    common::tokenscrub(KEY)
}

fn scan() -> Command {
    let mut c = bin();
    c.arg("scan");
    c
}

/// Deterministic fake material: xorshift over a seed.
struct Fakes(u64);

impl Fakes {
    fn alnum(&mut self, n: usize) -> String {
        const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                SET[(self.0 % SET.len() as u64) as usize] as char
            })
            .collect()
    }

    /// A GitHub classic token shape: `ghp_` and 36 base62 characters (checksum not valid).
    fn ghp(&mut self) -> String {
        format!("ghp_{}", self.alnum(36))
    }

    fn jwt(&mut self) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"{}","exp":4102444800}}"#, self.alnum(12))),
            self.alnum(43)
        )
    }
}

/// Fails if a secret, or any 8-byte piece of one, is in `out`'s stdout or stderr.
fn assert_no_secret(out: &Output, secrets: &[String]) {
    let printed: HashSet<&[u8]> = out.stdout.windows(8).chain(out.stderr.windows(8)).collect();
    for secret in secrets {
        assert!(secret.len() >= 8);
        assert!(
            !secret.as_bytes().windows(8).any(|piece| printed.contains(piece)),
            "a piece of a secret was printed"
        );
    }
}

/// The 1-based (line, byte column) of byte `offset` of `data`.
fn line_col(data: &[u8], offset: usize) -> (u64, u64) {
    let before = &data[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, (offset - line_start) as u64 + 1)
}

fn find(data: &[u8], needle: &str) -> usize {
    data.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .expect("planted")
}

/// `(line, column, fingerprint)` of each JSON line of a scan.
fn json_hits(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// Every replacement word in redacted text, with its 1-based line.
fn redacted_words(text: &[u8]) -> Vec<(u64, String)> {
    let mut words = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = String::from_utf8_lossy(line);
        for (at, _) in line.match_indices("REDACTED:") {
            let rest = &line[at + 9..];
            let kind_len = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap();
            let word_len = 9 + kind_len + 1 + 16;
            assert_eq!(&rest[kind_len..kind_len + 1], ":");
            words.push((i as u64 + 1, line[at..at + word_len].to_string()));
        }
    }
    words
}

/// A log with one of everything: a vendor token on line 1 column 1, a header, a URL password,
/// JSON fields (one a bare number), a JWT after a 1.2 MB line, a multi-line PEM key, CRLF and
/// multi-byte UTF-8 before a secret (columns are bytes).
fn varied_log(f: &mut Fakes) -> (Vec<u8>, Vec<String>) {
    let ghp1 = f.ghp();
    let bearer = f.alnum(40);
    let url_pw = f.alnum(20);
    let json_pw = f.alnum(24);
    let jwt = f.jwt();
    let ghp2 = f.ghp();
    let pem_body: Vec<String> = (0..3).map(|_| STANDARD.encode(f.alnum(45))).collect();
    // Longer than the default window (1 MiB), so it is scanned in windows.
    let long_line = "x".repeat(1_200_000);
    let log = format!(
        "{ghp1} first\n\
         > Authorization: Bearer {bearer}\r\n\
         push https://ci:{url_pw}@git.example.com/x.git\n\
         {{\"user\":\"bob\",\"password\":\"{json_pw}\",\"pin_password\":98765432109,\"ok\":true}}\n\
         {long_line}\n\
         token {jwt} after the long line\n\
         -----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n\
         héllo wörld {ghp2}",
        pem_body.join("\n")
    );
    let mut secrets = vec![ghp1, bearer, url_pw, json_pw, jwt, ghp2];
    secrets.extend(pem_body);
    (log.into_bytes(), secrets)
}

#[test]
fn lines_and_columns_are_one_based_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (log, secrets) = varied_log(&mut Fakes(7));
    let path = dir.path().join("app.log");
    fs::write(&path, &log).unwrap();
    let out = scan().arg("--format").arg("json").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_secret(&out, &secrets);
    let hits = json_hits(&out.stdout);
    let at = |h: &Value| (h["line"].as_u64().unwrap(), h["column"].as_u64().unwrap());
    // Line 1, column 1.
    assert_eq!(at(&hits[0]), (1, 1));
    assert_eq!(hits[0]["kind"], "github_classic");
    // Every planted secret is reported where it starts, in order.
    let mut expected: Vec<(u64, u64)> = secrets.iter().map(|s| line_col(&log, find(&log, s))).collect();
    expected.push(line_col(&log, find(&log, "98765432109")));
    expected.sort();
    let got: Vec<(u64, u64)> = hits.iter().map(at).collect();
    assert_eq!(got, expected);
    // After the long line (line 5), and after multi-byte characters (byte columns).
    assert!(got.contains(&(6, 7)), "{got:?}");
    assert_eq!(*got.last().unwrap(), (12, "héllo wörld ".len() as u64 + 1));
}

#[test]
fn fingerprints_are_the_words_redaction_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (log, secrets) = varied_log(&mut Fakes(11));
    let sample = fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample.log")).unwrap();
    for (name, data) in [("varied.log", &log), ("sample.log", &sample)] {
        let path = dir.path().join(name);
        fs::write(&path, data).unwrap();
        let redacted = bin().arg(&path).output().unwrap();
        assert!(redacted.status.success());
        let words = redacted_words(&redacted.stdout);
        assert!(words.len() >= 10, "{name}: {} words", words.len());

        let out = scan().args(["--format", "json"]).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_no_secret(&out, &secrets);
        let got: Vec<(u64, String)> = json_hits(&out.stdout)
            .iter()
            .map(|h| {
                (
                    h["line"].as_u64().unwrap(),
                    h["fingerprint"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, words, "{name}: same findings, same words, same lines");

        // The text format carries the same words.
        let text = scan().arg(&path).output().unwrap();
        let text = String::from_utf8(text.stdout).unwrap();
        assert_eq!(text.lines().count(), words.len());
        for (line, (n, word)) in text.lines().zip(&words) {
            let prefix = format!("{}:{n}:", path.display());
            assert!(line.starts_with(&prefix), "{line}");
            assert!(line.contains(&format!(" fingerprint={word} ")), "{line}");
        }
    }
}

#[test]
fn text_and_json_formats() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fakes(3);
    let ghp = f.ghp();
    let path = dir.path().join("a.log");
    fs::write(&path, format!("ok\n  url=https://u:{}@h/ {ghp}\n", f.alnum(16))).unwrap();

    let out = scan().arg(&path).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let p = path.display();
    assert!(
        lines[0].starts_with(&format!(
            "{p}:2:17: rule=url.userinfo_password kind=password location=url fingerprint=REDACTED:password:"
        )),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(" checksum=none"), "{}", lines[0]);
    assert!(
        lines[1].starts_with(&format!(
            "{p}:2:37: rule=github.classic kind=github_classic location=text fingerprint=REDACTED:github_classic:"
        )),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(" checksum=invalid"), "{}", lines[1]);

    let out = scan().args(["--format", "json"]).arg(&path).output().unwrap();
    let hits = json_hits(&out.stdout);
    assert_eq!(hits.len(), 2);
    for hit in &hits {
        let keys: Vec<&str> = hit.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "file",
                "line",
                "column",
                "rule",
                "kind",
                "location",
                "fingerprint",
                "checksum"
            ]
        );
        assert_eq!(hit["file"], path.to_str().unwrap());
        assert_eq!(hit["line"], 2);
    }
    assert_eq!(hits[0]["column"], 17);
    assert_eq!(hits[1]["column"], 37);
    assert_eq!(hits[1]["rule"], "github.classic");
    assert_eq!(hits[1]["location"], "text");
    assert_eq!(hits[1]["checksum"], "invalid");
    assert_eq!(hits[0]["kind"], "password");
    assert_eq!(hits[0]["location"], "url");
}

#[test]
fn exit_codes_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fakes(5);
    let ghp = f.ghp();
    let clean = dir.path().join("clean.log");
    let dirty = dir.path().join("dirty.log");
    let bad_gz = dir.path().join("bad.log.gz");
    fs::write(&clean, "nothing to see: trace_id=7cbe6900040c74c025eff77a2bdd3e37\n").unwrap();
    fs::write(&dirty, format!("token {ghp}\n")).unwrap();
    fs::write(&bad_gz, b"\x1f\x8b\x08\x00this is not deflate").unwrap();
    let missing = dir.path().join("missing.log");

    let out = scan().arg(&clean).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());

    let out = scan().arg(&clean).arg(&dirty).output().unwrap();
    assert_eq!(out.status.code(), Some(1));

    // Errors name the file, the other files are still scanned, and the status is 2.
    let out = scan().arg(&missing).arg(&bad_gz).arg(&dirty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(err.contains(&format!("cannot read {}", missing.display())), "{err}");
    assert!(err.contains(&format!("cannot read {}", bad_gz.display())), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with(&format!("{}:1:7: ", dirty.display())), "{text}");
    assert_no_secret(&out, &[ghp]);

    // Flags are checked before anything is scanned.
    let out = scan().args(["--format", "yaml"]).arg(&dirty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn directories_are_walked_in_order_honouring_gitignore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut f = Fakes(9);
    let mut secrets = Vec::new();
    for rel in [
        "b.log",
        "a.log",
        "sub/z.log",
        "sub/build/out.log",
        ".env",
        ".hidden/c.log",
        ".git/config",
        "ignored/x.log",
        "sub/trace.tmp",
        "kept.tmp",
    ] {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let secret = f.ghp();
        fs::write(&path, format!("{secret}\n")).unwrap();
        secrets.push(secret);
    }
    fs::write(root.join(".gitignore"), "ignored/\n*.tmp\n!kept.tmp\n").unwrap();
    fs::write(root.join("sub/.ignore"), "build/\n").unwrap();

    let files = |out: &Output| -> Vec<String> {
        String::from_utf8(out.stdout.clone())
            .unwrap()
            .lines()
            .map(|l| l.split(":1:1: ").next().unwrap().to_string())
            .collect()
    };
    let out = scan().arg(root).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_secret(&out, &secrets);
    let r = root.display();
    assert_eq!(
        files(&out),
        [".env", ".hidden/c.log", "a.log", "b.log", "kept.tmp", "sub/z.log"].map(|p| format!("{r}/{p}"))
    );

    // A file named explicitly is scanned even if an ignore file excludes it.
    let out = scan().arg(root.join("ignored/x.log")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));

    let out = scan().arg("--no-ignore").arg(root).output().unwrap();
    assert_eq!(
        files(&out),
        [
            ".env",
            ".hidden/c.log",
            "a.log",
            "b.log",
            "ignored/x.log",
            "kept.tmp",
            "sub/build/out.log",
            "sub/trace.tmp",
            "sub/z.log"
        ]
        .map(|p| format!("{r}/{p}"))
    );
}

/// Runs `cmd` to its end, or fails the test (killing it) if it takes longer than `limit`: a
/// hang must fail, not stall the suite.
fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The report of `scan --threads N` over a tree of many files is byte for byte that of
/// `--threads 1`: files in walk order, hits in file order, the same errors in the same order,
/// the same status. Two dense files have reports far over the 64 KiB a worker may hold before
/// its file's turn to print: one early (the others run ahead of it), one late.
#[test]
fn threads_give_the_one_thread_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    let mut f = Fakes(43);
    let mut secrets = Vec::new();
    // (path, hits) of every file of the tree with findings; sorted, the walk order.
    let mut expected: Vec<(String, usize)> = Vec::new();
    let write = |rel: &str, data: &[u8]| {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        path.display().to_string()
    };
    let log = |f: &mut Fakes, secrets: &mut Vec<String>, lines: usize, every: usize| {
        let mut text = String::new();
        let mut hits = 0;
        for i in 0..lines {
            if every > 0 && i % every == every - 1 {
                let ghp = f.ghp();
                text.push_str(&format!("{i} push token {ghp} ok\n"));
                secrets.push(ghp);
                hits += 1;
            } else {
                text.push_str(&format!(
                    "{i} GET /health 200 trace_id=7cbe6900040c74c025eff77a2bdd3e37\n"
                ));
            }
        }
        (text, hits)
    };
    for i in 0..120 {
        // Every third file is clean; the others have 1 to 9 hits.
        let every = if i % 3 == 0 { 0 } else { 2 + i % 7 };
        let (text, hits) = log(&mut f, &mut secrets, 10 + i % 13, every);
        let path = write(&format!("d{}/f{i:03}.log", i % 7), text.as_bytes());
        if hits > 0 {
            expected.push((path, hits));
        }
    }
    for rel in ["d0/a-dense.log", "d6/zz-dense.log"] {
        let (text, hits) = log(&mut f, &mut secrets, 3000, 1);
        expected.push((write(rel, text.as_bytes()), hits));
    }
    let (text, hits) = log(&mut f, &mut secrets, 40, 4);
    expected.push((write("d3/rotated.log.1.gz", &gzip(text.as_bytes())), hits));
    // Cut short: its first hits are reported, then an error names it.
    let (text, _) = log(&mut f, &mut secrets, 200, 5);
    let mut broken = gzip(text.as_bytes());
    broken.truncate(broken.len() - 12);
    let broken_path = write("d4/broken.log.gz", &broken);
    // Unreadable, unless the tests run as root (who reads it anyway).
    let (text, hits) = log(&mut f, &mut secrets, 5, 1);
    let locked = write("d5/locked.log", text.as_bytes());
    fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let locked_readable = fs::read(&locked).is_ok();
    if locked_readable {
        expected.push((locked.clone(), hits));
    }
    // A socket cannot be opened as a file, even by root: an error while scanning, not walking.
    let socket = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let missing = dir.path().join("missing.log");
    let (text, last_hits) = log(&mut f, &mut secrets, 3, 1);
    let last = dir.path().join("last.log");
    fs::write(&last, text).unwrap();

    let run = |threads: &str| {
        let mut cmd = scan();
        cmd.args(["--threads", threads])
            .arg(&root)
            .arg(&socket)
            .arg(&missing)
            .arg(&last);
        let out = output_within(cmd, Duration::from_secs(60));
        assert_no_secret(&out, &secrets);
        out
    };
    let one = run("1");
    assert_eq!(one.status.code(), Some(2));
    // The one-thread report is the expected one: files in walk order, each hit once.
    let report = String::from_utf8(one.stdout.clone()).unwrap();
    let mut files: Vec<(String, usize)> = Vec::new();
    for line in report.lines() {
        let file = line.split(':').next().unwrap();
        match files.last_mut() {
            Some((last, n)) if last == file => *n += 1,
            _ => files.push((file.to_string(), 1)),
        }
    }
    let broken_at = files
        .iter()
        .position(|(p, _)| *p == broken_path)
        .expect("hits before the cut");
    let broken_hits = files[broken_at].1;
    assert!(broken_hits < 40, "{broken_hits}");
    expected.push((broken_path.clone(), broken_hits));
    expected.sort();
    expected.push((last.display().to_string(), last_hits));
    assert_eq!(files, expected);
    let errors = String::from_utf8(one.stderr.clone()).unwrap();
    let mut expected_errors = vec![
        format!("tokenscrub: cannot read {}: ", missing.display()),
        format!("tokenscrub: cannot read {broken_path}: "),
    ];
    if !locked_readable {
        expected_errors.push(format!("tokenscrub: cannot read {locked}: "));
    }
    expected_errors.push(format!("tokenscrub: cannot read {}: ", socket.display()));
    assert_eq!(errors.lines().count(), expected_errors.len(), "{errors}");
    for (line, start) in errors.lines().zip(&expected_errors) {
        assert!(line.starts_with(start.as_str()), "{line}\nexpected {start}");
    }

    for threads in ["2", "2", "3", "8", "0"] {
        let many = run(threads);
        assert!(
            many.stdout == one.stdout,
            "--threads {threads}: the report differs from --threads 1"
        );
        assert_eq!(
            String::from_utf8_lossy(&many.stderr),
            String::from_utf8_lossy(&one.stderr),
            "--threads {threads}"
        );
        assert_eq!(many.status.code(), Some(2));
    }
}

/// While the first file is slow (a FIFO the test holds open), the lines of the files behind it
/// wait within a bounded budget (4 MiB a thread): the 170 MB report of those files is not
/// buffered, and nothing is printed before the first file's hits. Of three workers, one waits
/// on the FIFO, one scans a dense file (an 88 MB report), one runs ahead through small files.
#[test]
fn a_slow_first_file_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("0-slow.log");
    if !Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
        eprintln!("skipped: `mkfifo` is not available");
        return;
    }
    // Long names make long report lines (about 1.1 KB each).
    let deep = (0..4).fold(dir.path().join("logs"), |p, i| p.join(format!("{i}").repeat(250)));
    fs::create_dir_all(&deep).unwrap();
    let mut f = Fakes(47);
    let mut hits = 0;
    for i in 0..1500 {
        // 50 hits (55 KB of report, under what a worker may hold); file 3 has 80,000 (88 MB).
        let n = if i == 3 { 80_000 } else { 50 };
        let text: String = (0..n).map(|_| format!("t {}\n", f.ghp())).collect();
        fs::write(deep.join(format!("f{i:04}.log")), text).unwrap();
        hits += n;
    }
    let mut child = scan()
        .args(["--threads", "3"])
        .arg(&fifo)
        .arg(dir.path().join("logs"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let printed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let printed = std::sync::Arc::clone(&printed);
        let mut stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let (mut first, mut lines, mut buf) = (Vec::new(), 0, vec![0; 1 << 16]);
            loop {
                let n = stdout.read(&mut buf).unwrap();
                if n == 0 {
                    break (first, lines);
                }
                if first.len() < 4096 {
                    first.extend_from_slice(&buf[..n]);
                }
                lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
                printed.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    // Opening blocks until the scan opens the FIFO to read it.
    let mut writer = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // Wait until the workers are idle (their CPU time stops growing): blocked behind the
    // FIFO, or, were nothing bounded, done with everything else.
    let started = Instant::now();
    let mut ticks = cpu_ticks(pid);
    loop {
        std::thread::sleep(Duration::from_millis(400));
        let now = cpu_ticks(pid);
        if now == ticks {
            break;
        }
        ticks = now;
        assert!(started.elapsed() < Duration::from_secs(120), "never idle");
    }
    let peak = peak_rss_kib(pid).unwrap();
    assert_eq!(
        printed.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "printed before the first file"
    );
    let ghp = f.ghp();
    writeln!(writer, "slow {ghp}").unwrap();
    drop(writer);
    let (first, lines) = reader.join().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(lines, hits + 1);
    let first = String::from_utf8_lossy(&first);
    assert!(
        first.starts_with(&format!("{}:1:6: ", fifo.display())),
        "{}",
        &first[..200]
    );
    assert!(!first.contains(&ghp[4..16]));
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB while the first file was held");
}

/// User plus system CPU time of process `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name, from the state (field 3): utime is field
    // 14, stime field 15.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The files of a text report, in order, one entry per hit.
fn report_files(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

/// Symbolic links inside a walked directory, to directories and to files, are followed only
/// with --follow; a link named on the command line is always followed.
#[test]
fn links_are_followed_only_with_follow() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fakes(53);
    let mut secrets = Vec::new();
    let mut plant = |path: &Path| {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let ghp = f.ghp();
        fs::write(path, format!("t {ghp}\n")).unwrap();
        secrets.push(ghp);
    };
    let (outside, tree) = (dir.path().join("outside"), dir.path().join("tree"));
    plant(&outside.join("deep.log"));
    plant(&outside.join("note.log"));
    plant(&tree.join("plain.log"));
    symlink("../outside", tree.join("linked")).unwrap();
    symlink("../outside/note.log", tree.join("note-link.log")).unwrap();
    let t = tree.display();

    let out = scan().arg(&tree).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(report_files(&out), [format!("{t}/plain.log")]);

    for follow in ["--follow", "-L"] {
        let out = scan().arg(follow).arg(&tree).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_no_secret(&out, &secrets);
        assert_eq!(
            report_files(&out),
            ["linked/deep.log", "linked/note.log", "note-link.log", "plain.log"].map(|p| format!("{t}/{p}"))
        );
    }

    // Named on the command line, a link is read without --follow.
    let out = scan()
        .arg(tree.join("linked"))
        .arg(tree.join("note-link.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report_files(&out),
        ["linked/deep.log", "linked/note.log", "note-link.log"].map(|p| format!("{t}/{p}"))
    );
}

/// With --follow, a link loop is reported as an error that names the link, and the walk goes
/// on: the scan ends, every file is reported once, and the status is 2.
#[test]
fn link_loops_are_reported_not_followed() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let mut f = Fakes(59);
    let secrets = [f.ghp(), f.ghp()];
    fs::create_dir_all(tree.join("a")).unwrap();
    fs::create_dir_all(tree.join("b")).unwrap();
    fs::write(tree.join("a/one.log"), format!("t {}\n", secrets[0])).unwrap();
    fs::write(tree.join("b/two.log"), format!("t {}\n", secrets[1])).unwrap();
    // To the walk's root, and to the directory the link is in.
    symlink("..", tree.join("a/up")).unwrap();
    symlink(".", tree.join("b/self")).unwrap();
    let t = tree.display();

    let mut cmd = scan();
    cmd.args(["--follow", "--threads", "2"]).arg(&tree);
    let out = output_within(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2));
    assert_no_secret(&out, &secrets);
    assert_eq!(
        report_files(&out),
        ["a/one.log", "b/two.log"].map(|p| format!("{t}/{p}"))
    );
    let errors = String::from_utf8(out.stderr).unwrap();
    let errors: Vec<&str> = errors.lines().collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (error, link) in errors.iter().zip(["a/up", "b/self"]) {
        assert!(
            error.starts_with(&format!(
                "tokenscrub: while walking {t}: File system loop found: {t}/{link} points to an ancestor "
            )),
            "{error}"
        );
    }

    // Without --follow the links are not walked at all.
    let out = scan().arg(&tree).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty());
    assert_eq!(
        report_files(&out),
        ["a/one.log", "b/two.log"].map(|p| format!("{t}/{p}"))
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_is_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fakes(13);
    let (a, b) = (f.ghp(), f.ghp());
    let plain = format!("one\ntwo {a}\n");
    // Two gzip members (as `cat x.gz y.gz` makes); the second starts mid-line.
    let mut multi = gzip(plain.as_bytes());
    multi.extend(gzip(format!("three\nfour {b}\n").as_bytes()));
    let named = dir.path().join("app.log.gz");
    let unnamed = dir.path().join("app.log.1");
    fs::write(&named, &multi).unwrap();
    fs::write(&unnamed, &multi).unwrap();
    let plain_path = dir.path().join("plain.log");
    fs::write(&plain_path, &plain).unwrap();

    for path in [&named, &unnamed] {
        let out = scan().args(["--format", "json"]).arg(path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        assert_no_secret(&out, &[a.clone(), b.clone()]);
        let hits = json_hits(&out.stdout);
        let at: Vec<(u64, u64)> = hits
            .iter()
            .map(|h| (h["line"].as_u64().unwrap(), h["column"].as_u64().unwrap()))
            .collect();
        assert_eq!(at, [(2, 5), (4, 6)]);
    }
    // The same fingerprint as the plain file gives.
    let fp = |path: &Path| {
        json_hits(&scan().args(["--format", "json"]).arg(path).output().unwrap().stdout)[0]["fingerprint"].clone()
    };
    assert_eq!(fp(&named), fp(&plain_path));

    // gzip on standard input too.
    let out = run_with_stdin(scan(), &multi);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
}

#[test]
fn standard_input_when_no_path() {
    let mut f = Fakes(17);
    let ghp = f.ghp();
    let out = run_with_stdin(scan(), format!("a\nb {ghp}\n").as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_no_secret(&out, &[ghp]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("-:2:3: rule=github.classic "), "{text}");

    let mut cmd = scan();
    cmd.args(["--format", "json"]);
    let out = run_with_stdin(cmd, b"clean\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

/// One line of about `len` bytes, dense with secrets of three shapes (fixed and variable
/// length) every 1 to 97 bytes, so that window cuts fall inside secrets. Returns the line and
/// each secret's 1-based column.
fn dense_line(f: &mut Fakes, len: usize) -> (String, Vec<(u64, String)>) {
    let mut line = String::new();
    let mut planted = Vec::new();
    let mut step = 17;
    while line.len() < len {
        line.push_str(&"a".repeat(step));
        line.push(' ');
        let (secret, prefix) = match planted.len() % 3 {
            0 => (f.ghp(), ""),
            1 => (f.jwt(), "Bearer "),
            _ => (f.alnum(32), "access_token="),
        };
        line.push_str(prefix);
        planted.push((line.len() as u64 + 1, secret.clone()));
        line.push_str(&secret);
        line.push(' ');
        step = (step * 7 + 13) % 97 + 1;
    }
    (line, planted)
}

/// A line far longer than the window is scanned in overlapping windows: every secret, whatever
/// its place relative to the cuts, is reported once, at its column, with redaction's word.
#[test]
fn secrets_across_window_cuts_are_found_once() {
    let dir = tempfile::tempdir().unwrap();
    // The window is raised to twice the rules' overlap (about 128 KiB): several windows' worth.
    let (line, planted) = dense_line(&mut Fakes(19), 600_000);
    let log = format!("before\n{line}\nafter\n");
    let path = dir.path().join("long.log");
    fs::write(&path, &log).unwrap();
    let secrets: Vec<String> = planted.iter().map(|(_, s)| s.clone()).collect();
    let expected: Vec<(u64, u64)> = planted.iter().map(|&(col, _)| (2, col)).collect();
    for read_size in ["4093", "65521"] {
        let small = ["--max-window", "1", "--read-size", read_size];
        let out = scan()
            .args(small)
            .args(["--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_no_secret(&out, &secrets);
        let hits = json_hits(&out.stdout);
        let got: Vec<(u64, u64)> = hits
            .iter()
            .map(|h| (h["line"].as_u64().unwrap(), h["column"].as_u64().unwrap()))
            .collect();
        assert!(
            got == expected,
            "read size {read_size}: {} hits, {} planted",
            got.len(),
            expected.len()
        );

        let redacted = bin().args(small).arg(&path).output().unwrap();
        let words: Vec<String> = redacted_words(&redacted.stdout).into_iter().map(|(_, w)| w).collect();
        let fps: Vec<&str> = hits.iter().map(|h| h["fingerprint"].as_str().unwrap()).collect();
        assert!(
            fps == words,
            "read size {read_size}: fingerprints differ from redaction's words"
        );
    }
}

/// A single 96 MiB line is scanned in bounded memory, and columns stay right far into it.
#[test]
fn one_huge_line_keeps_memory_bounded() {
    const LINE_MIB: usize = 96;
    let mut f = Fakes(23);
    let ghp = f.ghp();
    let mut child = scan()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let mut chunk = vec![b'x'; 1 << 20];
    chunk[999] = b' ';
    chunk[1000..1000 + ghp.len()].copy_from_slice(ghp.as_bytes());
    chunk[1000 + ghp.len()] = b' ';
    let started = Instant::now();
    let mut peak = 0;
    for _ in 0..LINE_MIB {
        stdin.write_all(&chunk).unwrap();
        peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
        assert!(started.elapsed() < Duration::from_secs(300), "too slow");
    }
    stdin.write_all(b"\n").unwrap();
    peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
    drop(stdin);
    let text = reader.join().unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    let columns: Vec<String> = text.lines().map(|l| l.split(':').nth(2).unwrap().to_string()).collect();
    let expected: Vec<String> = (0..LINE_MIB).map(|i| ((i << 20) + 1001).to_string()).collect();
    assert_eq!(columns, expected);
    assert!(!text.contains(&ghp[..12]));
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
}

/// Input large enough for a progress bar, but stderr is a pipe: nothing is drawn.
#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut f = Fakes(29);
    let ghp = f.ghp();
    let size = 80u64 << 20;
    {
        // Sparse: 80 MiB of NUL bytes (one long line) without writing them.
        let file = fs::File::create(&path).unwrap();
        file.set_len(size).unwrap();
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        writeln!(file, " {ghp}").unwrap();
    }
    let out = scan().arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("{}:1:{}: ", path.display(), size + 2)),
        "{text}"
    );
}

/// On a terminal (a pseudo-terminal from util-linux `script`, when installed), the same scan
/// draws a progress bar on stderr, and the bar names files but never prints a secret.
#[test]
fn progress_bar_when_stderr_is_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let ghp = Fakes(41).ghp();
    fs::File::create(&path).unwrap().set_len(80 << 20).unwrap();
    writeln!(fs::OpenOptions::new().append(true).open(&path).unwrap(), " {ghp}").unwrap();
    let report = dir.path().join("report.txt");
    let command = format!(
        "'{}' scan '{}' > '{}'",
        env!("CARGO_BIN_EXE_tokenscrub"),
        path.display(),
        report.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TOKENSCRUB_KEY", KEY)
        .env_remove("XDG_STATE_HOME")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(terminal.contains("/80.00 MiB"), "{terminal}");
    assert!(terminal.contains("big.log"), "{terminal}");
    assert_no_secret(&out, &[ghp]);
    let text = fs::read_to_string(&report).unwrap();
    assert!(
        text.starts_with(&format!("{}:1:{}: ", path.display(), (80 << 20) + 2)),
        "{text}"
    );
}

/// When the reader of the report goes away, the scan stops quietly, still failing the gate.
#[test]
fn broken_pipe_still_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.log");
    let mut f = Fakes(31);
    let lines: String = (0..20_000).map(|_| format!("t {}\n", f.ghp())).collect();
    fs::write(&path, lines).unwrap();
    let mut child = scan()
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The library scanner reports exactly the redactor's findings (the same places, the same
/// fingerprints), with line and column recomputed here from the offsets, at every read size.
#[test]
fn scanner_agrees_with_the_redactor_at_every_read_size() {
    let redactor: Redactor = RedactorBuilder::new().build(KEY.as_bytes()).unwrap();
    let mut cases: Vec<Vec<u8>> = redactor
        .rules()
        .rules()
        .iter()
        .flat_map(|rule| rule.spec.examples.iter().map(|e| e.input.clone().into_bytes()))
        .collect();
    let mut f = Fakes(37);
    cases.push(varied_log(&mut f).0);
    cases.push(b"\n\n\r\n".to_vec());
    cases.push(Vec::new());
    let all: Vec<u8> = cases.iter().flat_map(|c| c.iter().copied().chain([b'\n'])).collect();
    cases.push(all);
    cases.push(dense_line(&mut f, 300_000).0.into_bytes());
    let mut scratch = redactor.scratch();
    let (mut decode, mut fps) = (Vec::new(), Vec::new());
    // Window 0 is raised to the smallest the rules allow, so long lines are cut many times.
    for (read_size, window) in [(1, 1 << 20), (7, 0), (4096, 0), (4096, 1 << 20), (256 << 10, 1 << 20)] {
        let mut scanner = Scanner::new(
            &redactor,
            PipeConfig {
                read_size,
                window,
                ..PipeConfig::default()
            },
        );
        for case in &cases {
            if read_size == 1 && case.len() > 20_000 {
                continue;
            }
            redactor.find(case, 0..case.len(), &mut ScanState::default(), &mut scratch);
            let findings = redactor.findings(&scratch);
            redactor.fingerprints(case, findings, &mut decode, &mut fps);
            let expected: Vec<(u64, u64, u64, u64)> = findings
                .iter()
                .zip(&fps)
                .map(|(f, &fp)| {
                    let (line, col) = line_col(case, f.start);
                    (f.start as u64, line, col, fp)
                })
                .collect();
            let mut got = Vec::new();
            let bytes = scanner
                .scan(&case[..], |hit| {
                    got.push((hit.offset, hit.line, hit.column, hit.fingerprint));
                    Ok::<(), std::convert::Infallible>(())
                })
                .unwrap();
            assert_eq!(bytes, case.len() as u64);
            assert!(
                got == expected,
                "read size {read_size}, window {window}: {:?}",
                String::from_utf8_lossy(&case[..case.len().min(200)])
            );
        }
    }
}
