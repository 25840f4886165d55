//! The binary as a user runs it: real processes, pipes and files.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const KEY: &str = "cli test key: 0123456789abcdef0123456789";
const GHP: &str = "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";

use common::{peak_rss_kib, run_with_stdin};

fn bin() -> Command {
    common::tokenscrub(KEY)
}

#[test]
fn bytes_outside_secrets_pass_unchanged() {
    let clean: &[u8] = b"\x1b[32mINFO\x1b[0m ok\r\nnul\x00byte \xff\xfe not utf8\ntrace 7cbe6900040c74c025eff77a2bdd3e37\r\nno final newline";
    let out = run_with_stdin(bin(), clean);
    assert!(out.status.success());
    assert_eq!(out.stdout, clean);

    let dirty = format!("a\r\nx {GHP}\r\n\x1b[31m{GHP}\x1b[0m");
    let out = run_with_stdin(bin(), dirty.as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(GHP));
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    assert_eq!(lines[0], "a");
    assert!(lines[1].starts_with("x REDACTED:github_classic:"));
    assert!(lines[2].starts_with("\x1b[31mREDACTED:github_classic:") && lines[2].ends_with("\x1b[0m"));
}

#[test]
fn files_are_read_in_order_and_output_can_go_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, o) = (
        dir.path().join("a.log"),
        dir.path().join("b.log"),
        dir.path().join("out.log"),
    );
    fs::write(&a, format!("first {GHP}\n")).unwrap();
    fs::write(&b, "second\n").unwrap();
    let out = bin().arg(&a).arg(&b).arg("-o").arg(&o).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = fs::read_to_string(&o).unwrap();
    assert!(
        text.starts_with("first REDACTED:github_classic:") && text.ends_with("\nsecond\n"),
        "{text}"
    );
}

#[test]
fn unreadable_file_is_a_clear_error() {
    let out = bin().arg("/nonexistent/app.log").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read /nonexistent/app.log"), "{err}");
}

#[test]
fn broken_pipe_exits_quietly() {
    let mut child = bin()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let line = format!("line with {GHP} and some padding to make it longer\n");
        for _ in 0..200_000 {
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout); // the reader goes away, like `| head -c 100`
    let status = child.wait().unwrap();
    writer.join().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "exit {status:?}, stderr {err}");
    assert!(err.is_empty(), "stderr: {err}");
}

#[test]
fn live_tail_lines_arrive_before_input_ends() {
    let mut child = bin().stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    for i in 0..3 {
        writeln!(stdin, "event {i} token={GHP}").unwrap();
        stdin.flush().unwrap();
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("line not forwarded while input stays open");
        assert!(
            line.starts_with(&format!("event {i} token=REDACTED:github_classic:")),
            "{line}"
        );
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn default_key_is_generated_once_with_mode_0600_and_reused() {
    let home = tempfile::tempdir().unwrap();
    let run = || {
        let mut c = bin();
        c.env_remove("TOKENSCRUB_KEY").env("HOME", home.path());
        run_with_stdin(c, format!("{GHP}\n").as_bytes())
    };
    let first = run();
    assert!(first.status.success());
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("shared key") && err.lines().count() == 1, "{err}");
    let key_path = home.path().join(".local/state/tokenscrub/key");
    let meta = fs::metadata(&key_path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let key = fs::read_to_string(&key_path).unwrap();
    assert!(!err.contains(key.trim()), "the notice must not print the key");
    let second = run();
    assert_eq!(first.stdout, second.stdout, "the stored key is reused");
    let with_env = run_with_stdin(bin(), format!("{GHP}\n").as_bytes());
    assert_ne!(
        first.stdout, with_env.stdout,
        "a different key gives a different fingerprint"
    );
}

#[test]
fn key_file_and_short_keys() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let mut c = bin();
    c.env_remove("TOKENSCRUB_KEY").arg("--key-file").arg(&key_file);
    let from_file = run_with_stdin(c, format!("{GHP}\n").as_bytes());
    let from_env = run_with_stdin(bin(), format!("{GHP}\n").as_bytes());
    assert!(from_file.status.success());
    assert_eq!(
        from_file.stdout, from_env.stdout,
        "the trailing newline of a key file is not part of the key"
    );

    let mut c = bin();
    c.env("TOKENSCRUB_KEY", "too short");
    let out = run_with_stdin(c, b"x\n");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TOKENSCRUB_KEY") && err.contains("at least 32"), "{err}");
    assert!(!err.contains("too short"), "the key text is never printed");
}

#[test]
fn rules_list_and_check() {
    let out = bin().args(["rules", "list"]).output().unwrap();
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(list.lines().count() >= 100);
    assert!(
        list.lines()
            .any(|l| l.starts_with("github.classic ") && l.contains("github_classic"))
    );

    let out = bin().args(["rules", "check"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": 0 failures"));

    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("acme.toml"),
        "[[rules]]\nid = \"acme.key\"\nkind = \"acme_key\"\ndescription = \"d\"\nanchors = [\"acme_\"]\nregex = '''(?P<secret>acme_[a-z]+)'''\n",
    )
    .unwrap();
    let out = bin().args(["rules", "check"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("acme.toml: rule 'acme.key':") && err.contains("unbounded"),
        "{err}"
    );
}

fn write_acme_rules(dir: &Path) {
    fs::write(
        dir.join("acme.toml"),
        r#"[[rules]]
id = "acme.key"
kind = "acme_key"
description = "ACME internal keys"
anchors = ["acme_"]
regex = '''%{lb}(?P<secret>acme_[a-z0-9]{16})%{rb}'''
examples = [{ input = "k=acme_0123456789abcdef", output = "k=REDACTED:acme_key" }]
"#,
    )
    .unwrap();
}

#[test]
fn patterns_dir_adds_rules() {
    let dir = tempfile::tempdir().unwrap();
    write_acme_rules(dir.path());
    let mut c = bin();
    c.arg("--patterns").arg(dir.path());
    let out = run_with_stdin(c, b"key acme_0123456789abcdef end\n");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("key REDACTED:acme_key:") && text.ends_with(" end\n"),
        "{text}"
    );
    let out = bin().args(["rules", "check"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A single 100 MB line holding secrets is redacted with bounded memory.
#[test]
fn one_huge_line_keeps_memory_bounded() {
    const LINE_MB: usize = 100;
    let mut child = bin().stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 20];
        let (mut total, mut replaced, mut leaked, mut tail) = (0usize, 0usize, 0usize, Vec::new());
        loop {
            let n = stdout.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            replaced += tail.windows(9).filter(|w| *w == b"REDACTED:").count();
            leaked += tail.windows(12).filter(|w| *w == &GHP.as_bytes()[..12]).count();
            total += n;
            let keep = tail.len().saturating_sub(64);
            tail.drain(..keep);
            replaced -= tail.windows(9).filter(|w| *w == b"REDACTED:").count();
            leaked -= tail.windows(12).filter(|w| *w == &GHP.as_bytes()[..12]).count();
        }
        replaced += tail.windows(9).filter(|w| *w == b"REDACTED:").count();
        (total, replaced, leaked)
    });
    let chunk: Vec<u8> = {
        let mut c = vec![b'x'; 1 << 20];
        c[1000..1000 + GHP.len()].copy_from_slice(GHP.as_bytes());
        c[1000 - 1] = b' ';
        c[1000 + GHP.len()] = b' ';
        c
    };
    let started = Instant::now();
    let mut peak = 0;
    for _ in 0..LINE_MB {
        stdin.write_all(&chunk).unwrap();
        peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
        assert!(started.elapsed() < Duration::from_secs(300), "too slow");
    }
    stdin.write_all(b"\n").unwrap();
    peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
    drop(stdin);
    let (total, replaced, leaked) = counter.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(leaked, 0);
    assert_eq!(replaced, LINE_MB, "one secret per MiB");
    assert!(total > LINE_MB << 20);
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
}

/// A consumer slower than the input (a shipper under back-pressure) must not make finished
/// blocks pile up in memory: blocks in flight are bounded.
#[test]
fn slow_consumer_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.log");
    let line = format!(
        "2026-11-22T00:00:01Z INFO request done trace_id=7cbe6900040c74c025eff77a2bdd3e37 status=200 token={GHP}\n"
    );
    // Twice the memory bound, read far faster than the consumer below takes it.
    let lines = (128 << 20) / line.len();
    fs::write(&path, line.repeat(lines)).unwrap();
    let mut child = bin()
        .args(["--threads", "2"])
        .stdin(fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut peak, mut reads) = (0usize, 0u64, 0u32);
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        reads += 1;
        if reads % 16 == 0 {
            peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(20)); // about 50 MB/s
        }
    }
    assert!(child.wait().unwrap().success());
    let expected_line = line.len() - GHP.len() + "REDACTED:github_classic:0123456789abcdef".len();
    assert_eq!(total, lines * expected_line);
    assert!(peak > 0 && peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn no_structured_turns_the_key_aware_pass_off() {
    let input = b"{\"apiKey\":\"short\"}\n";
    let on = run_with_stdin(bin(), input);
    assert!(String::from_utf8_lossy(&on.stdout).contains("REDACTED:secret:"));
    let mut cmd = bin();
    cmd.arg("--no-structured");
    let off = run_with_stdin(cmd, input);
    assert_eq!(off.stdout, input);
}
