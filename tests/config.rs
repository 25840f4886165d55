//! The config file as users run it: real files, real processes, and SIGHUP sent to a binary
//! while it streams.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const KEY: &str = "config test key: 0123456789abcdef0123456789";
const GHP: &str = "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";

/// The binary with a known key and no config file but the ones tests name.
fn bin() -> Command {
    common::tokenscrub(KEY)
}

fn run(cmd: Command, input: &str) -> Output {
    common::run_with_stdin(cmd, input.as_bytes())
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn check(path: &Path) -> Output {
    bin().args(["config", "check"]).arg(path).output().unwrap()
}

#[test]
fn config_check_accepts_the_example_and_names_file_line_field_reason() {
    let dir = tempfile::tempdir().unwrap();
    let example = bin().args(["config", "example"]).output().unwrap();
    assert!(example.status.success());
    let good = write(dir.path(), "good.toml", std::str::from_utf8(&example.stdout).unwrap());
    let out = check(&good);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));

    let cases = [
        (
            "[limits]\nthreads = 2\nmax_lines = 3\n",
            3,
            "limits.max_lines",
            "unknown field",
        ),
        (
            "[structured]\nenabled = \"yes\"\n",
            2,
            "structured.enabled",
            "invalid type",
        ),
        (
            "[allow]\npatterns = [\n  \"sk_test_.*\",\n  \"(unclosed\",\n]\n",
            4,
            "allow.patterns[1]",
            "",
        ),
        (
            "[rules]\ndisable = [\"jwt\", \"no.such_rule\"]\n",
            2,
            "rules.disable[1]",
            "names no rule",
        ),
        (
            "\n[replacement]\ntemplate = \"{kind}\"\n",
            3,
            "replacement.template",
            "{fingerprint}",
        ),
        ("[key]\nid = \"two words\"\n", 2, "key.id", "key id"),
        (
            "[limits]\non_oversize = \"explode\"\n",
            2,
            "limits.on_oversize",
            "unknown variant",
        ),
    ];
    for (i, (text, line, field, reason)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("bad{i}.toml"), text);
        let out = check(&path);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        let expected = format!("{}:{line}: field '{field}': ", path.display());
        assert!(err.contains(&expected), "{text}\nwanted {expected}\ngot {err}");
        assert!(err.contains(reason), "{err}");
    }
}

#[test]
fn config_check_names_a_bad_rule_file_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("rules.d")).unwrap();
    write(
        &dir.path().join("rules.d"),
        "acme.toml",
        "[[rules]]\nid = \"acme.key\"\nkind = \"acme_key\"\ndescription = \"x\"\nanchors = [\"acme_\"]\nregex = '(acme_[a-z'\n",
    );
    let path = write(dir.path(), "c.toml", "[rules]\ndirs = [\"rules.d\"]\n");
    let out = check(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2: field 'rules.dirs[0]'", path.display())),
        "{err}"
    );
    assert!(err.contains("acme.toml") && err.contains("rule 'acme.key'"), "{err}");
}

#[test]
fn the_file_selects_rules_allows_values_and_sets_the_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "c.toml",
        r#"
[rules]
disable = ["github.*"]
[allow]
values = ["AKIAIOSFODNN7EXAMPLE"]
patterns = ['sk_test_[0-9A-Za-z]{24}']
[replacement]
template = "<{kind}|{fingerprint}|{key_id}>"
[key]
id = "k2"
"#,
    );
    let input = format!(
        "gh {GHP}\naws AKIAIOSFODNN7EXAMPLE and AKIAZ3MSJV4WWNKUY2PQ\nstripe sk_test_4eC39HqLyjWDarjtT1zdp7dc\npassword=hunter2secretX9\n"
    );
    let mut cmd = bin();
    cmd.arg("--config").arg(&cfg);
    let text = stdout(&run(cmd, &input));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("gh {GHP}"), "github rules are off");
    assert!(
        lines[1].starts_with("aws AKIAIOSFODNN7EXAMPLE and <aws_access_key_id|"),
        "{text}"
    );
    assert!(lines[1].ends_with("|k2>"), "{text}");
    assert_eq!(
        lines[2], "stripe sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "allowed by pattern"
    );
    assert!(
        lines[3].starts_with("password=<password|") && lines[3].ends_with("|k2>"),
        "{text}"
    );

    // Idempotent under the custom template.
    let mut again = bin();
    again.arg("--config").arg(&cfg);
    assert_eq!(stdout(&run(again, &text)), text);
}

#[test]
fn flags_override_the_file_and_default_locations_are_searched() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("xdg");
    fs::create_dir_all(home.join("tokenscrub")).unwrap();
    write(
        &home.join("tokenscrub"),
        "config.toml",
        "[replacement]\ntemplate = \"[{kind}#{fingerprint}]\"\n[structured]\nenabled = false\n",
    );
    // The number is found only by the key-aware pass, which the file turns off.
    let input = "{\"user\":\"bob\",\"api_key\":12345678901234}\npassword=hunter2secretX9\n";

    // Found through XDG_CONFIG_HOME.
    let mut cmd = bin();
    cmd.env("XDG_CONFIG_HOME", &home);
    let text = stdout(&run(cmd, input));
    assert!(text.contains("password=[password#"), "{text}");
    assert!(text.contains("\"api_key\":12345678901234"), "{text}");

    // A flag wins over the file.
    let mut cmd = bin();
    cmd.env("XDG_CONFIG_HOME", &home)
        .args(["--replacement", "REDACTED:{kind}:{fingerprint}"]);
    let text = stdout(&run(cmd, input));
    assert!(text.contains("password=REDACTED:password:"), "{text}");

    // --no-config ignores it; TOKENSCRUB_CONFIG names another.
    let mut cmd = bin();
    cmd.env("XDG_CONFIG_HOME", &home).arg("--no-config");
    let text = stdout(&run(cmd, input));
    assert!(text.contains("password=REDACTED:password:"), "{text}");
    assert!(!text.contains("12345678901234"), "{text}");
    let other = write(dir.path(), "other.toml", "[key]\nid = \"env1\"\n");
    let mut cmd = bin();
    cmd.env("XDG_CONFIG_HOME", &home).env("TOKENSCRUB_CONFIG", &other);
    let text = stdout(&run(cmd, input));
    assert!(text.contains(":env1\n"), "{text}");

    // A missing named file is an error that names it.
    let out = run(
        {
            let mut c = bin();
            c.args(["--config", "/nonexistent/x.toml"]);
            c
        },
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.toml"));
}

#[test]
fn help_shows_a_default_for_every_option_that_takes_a_value() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    // Each option block runs from its `--name <VALUE>` line to the next option.
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if t.starts_with("--") || t.starts_with("-o, --") {
            blocks.push((t.to_string(), String::new()));
        } else if let Some(last) = blocks.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    let with_value: Vec<_> = blocks.iter().filter(|(head, _)| head.contains('<')).collect();
    assert!(with_value.len() >= 15, "{help}");
    for (head, body) in with_value {
        if head.contains("--output") {
            continue; // standard output is the absence of the option
        }
        assert!(body.contains("[default:"), "no default shown for {head}:\n{body}");
    }
}

/// A running binary fed through a pipe, with its output and stderr read by threads.
struct Streaming {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    errors: Receiver<String>,
}

impl Streaming {
    fn start(config: &Path, extra: &[&str]) -> Self {
        let mut child = bin()
            .arg("--config")
            .arg(config)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let (tx, errors) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Streaming {
            child,
            stdin,
            lines,
            errors,
        }
    }

    fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("an output line")
    }

    fn hup(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    }

    /// Waits (bounded) for a stderr line containing `needle`.
    fn stderr_with(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.errors.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
        panic!(
            "no stderr line with {needle:?}; child exited: {:?}",
            self.child.try_wait()
        );
    }

    fn finish(mut self) -> Vec<String> {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success());
        self.lines.iter().collect()
    }
}

#[test]
fn sighup_reloads_between_lines_and_a_bad_file_keeps_the_old_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "c.toml", "[key]\nid = \"old\"\n");
    let mut s = Streaming::start(&cfg, &["--threads", "1"]);
    s.send(&format!("1 {GHP}\n"));
    assert!(s.line().ends_with(":old"));

    fs::write(
        &cfg,
        "[key]\nid = \"new\"\n[allow]\nvalues = [\"AKIAIOSFODNN7EXAMPLE\"]\n",
    )
    .unwrap();
    s.hup();
    s.stderr_with("reloaded");
    s.send(&format!("2 {GHP} AKIAIOSFODNN7EXAMPLE\n"));
    let line = s.line();
    assert!(
        line.starts_with("2 REDACTED:github_classic:") && line.ends_with(":new AKIAIOSFODNN7EXAMPLE"),
        "{line}"
    );

    // A broken file: the error says where, and the previous config stays in force.
    fs::write(&cfg, "[key]\nid = \"newer\"\nbogus = 1\n").unwrap();
    s.hup();
    let err = s.stderr_with("reload failed");
    assert!(err.contains("keeping the previous configuration"), "{err}");
    assert!(
        err.contains(&format!("{}:3: field 'key.bogus'", cfg.display())),
        "{err}"
    );
    s.send(&format!("3 {GHP}\n"));
    assert!(s.line().ends_with(":new"));
    assert!(s.finish().is_empty());
}

#[test]
fn sighup_while_streaming_loses_repeats_and_reorders_nothing() {
    for threads in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = write(dir.path(), "c.toml", "[key]\nid = \"a\"\n");
        let mut s = Streaming::start(&cfg, &["--threads", threads, "--read-size", "4096"]);
        const LINES: usize = 40_000;
        let stdin = s.stdin.take().unwrap();
        // The writer stops at each quarter mark until the reload it asks for is done, so that
        // lines are in flight on both sides of every reload however fast the machine is.
        let (mark_tx, marks) = mpsc::channel::<usize>();
        let (ack_tx, acks) = mpsc::channel::<()>();
        let writer = std::thread::spawn(move || {
            let mut stdin = stdin;
            let mut block = String::new();
            for i in 0..LINES {
                block.push_str(&format!("{i} token {GHP} ok\n"));
                if i % 500 == 499 {
                    stdin.write_all(block.as_bytes()).unwrap();
                    block.clear();
                }
                if i == LINES / 4 || i == LINES / 2 {
                    mark_tx.send(i).unwrap();
                    acks.recv().unwrap();
                }
            }
            stdin.write_all(block.as_bytes()).unwrap();
        });
        let mut reloads = 0;
        for _ in marks.iter() {
            let id = if reloads == 0 { "b" } else { "c" };
            fs::write(&cfg, format!("[key]\nid = \"{id}\"\n")).unwrap();
            s.hup();
            s.stderr_with("reloaded");
            reloads += 1;
            ack_tx.send(()).unwrap();
        }
        writer.join().unwrap();
        assert_eq!(reloads, 2);
        let lines = s.finish();
        assert_eq!(lines.len(), LINES, "threads {threads}");
        let mut last_id = 'a';
        for (i, line) in lines.iter().enumerate() {
            let prefix = format!("{i} token REDACTED:github_classic:");
            assert!(line.starts_with(&prefix), "line {i} out of order or unredacted: {line}");
            let id = line.strip_suffix(" ok").unwrap().chars().last().unwrap();
            assert!(id >= last_id, "line {i}: key id went back from {last_id} to {id}");
            last_id = id;
        }
        assert_eq!(last_id, 'c', "threads {threads}");
    }
}

#[test]
fn oversize_lines_are_dropped_with_a_marker_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "c.toml",
        "[limits]\nmax_line = 200\non_oversize = \"drop\"\n",
    );
    let report = dir.path().join("report.json");
    let long_text = format!("x {GHP} {}", "y".repeat(300));
    let long_json = format!("{{\"msg\":\"{}\",\"token\":\"{GHP}\"}}", "z".repeat(300));
    let input = format!(
        "short 1\n{long_text}\nshort 2\n{long_json}\nshort 3\n{}",
        "w".repeat(250)
    );
    for threads in ["1", "2"] {
        let mut cmd = bin();
        cmd.arg("--config")
            .arg(&cfg)
            .args(["--threads", threads, "--read-size", "64", "--report"])
            .arg(&report);
        let text = stdout(&run(cmd, &input));
        assert!(!text.contains(GHP));
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert_eq!(lines[0], "short 1");
        assert_eq!(lines[1], "[tokenscrub: dropped a line of 343 bytes, over max_line 200]");
        assert_eq!(lines[2], "short 2");
        let marker: serde_json::Value = serde_json::from_str(lines[3]).unwrap();
        assert_eq!(marker["reason"], "oversize");
        assert_eq!(marker["bytes"], long_json.len());
        assert_eq!(lines[4], "short 3");
        assert_eq!(lines[5], "[tokenscrub: dropped a line of 250 bytes, over max_line 200]");
        let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        let failed: u64 = report["fail_closed"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["reason"] == "oversize")
            .map(|f| f["count"].as_u64().unwrap())
            .sum();
        assert_eq!(failed, 3, "{report}");
    }

    // The default policy scans long lines and still counts them.
    let mut cmd = bin();
    cmd.args(["--max-line", "200", "--report"]).arg(&report);
    let text = stdout(&run(cmd, &input));
    assert!(text.contains("x REDACTED:github_classic:") && !text.contains(GHP));
    assert_eq!(text.lines().count(), 6);
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert!(report["fail_closed"].to_string().contains("oversize"), "{report}");
}

#[test]
fn extra_sensitive_keys_from_the_file_are_redacted_whatever_their_value() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "c.toml", "[structured]\nsensitive_keys = [\"ssn\"]\n");
    let input = "{\"user\":\"bob\",\"user_SSN\":\"123-45-6789\"}\nmsg=ok patient.ssn=987-65-4321\n";
    let mut cmd = bin();
    cmd.arg("--config").arg(&cfg);
    let text = stdout(&run(cmd, input));
    assert!(!text.contains("123-45-6789") && !text.contains("987-65-4321"), "{text}");
    assert!(text.starts_with("{\"user\":\"bob\",\"user_SSN\":\"REDACTED:"), "{text}");
    serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap()).unwrap();
    // Without the file, the same values pass.
    assert_eq!(stdout(&run(bin(), input)), input);

    let bad = write(
        dir.path(),
        "bad.toml",
        "[structured]\nsensitive_keys = [\"ok_key\", \"x\"]\n",
    );
    let out = check(&bad);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2: field 'structured.sensitive_keys[1]'", bad.display())),
        "{err}"
    );
}
