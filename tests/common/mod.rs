//! What every test of the binary shares: starting it isolated from the user's setup, feeding it
//! standard input, and reading its peak memory.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The binary keyed with `key`, reading no config file but the ones a test names, and with no
/// state directory of the user's.
pub fn tokenscrub(key: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenscrub"));
    c.env("TOKENSCRUB_KEY", key)
        .env("XDG_CONFIG_HOME", "/nonexistent/tokenscrub-test")
        .env_remove("TOKENSCRUB_CONFIG")
        .env_remove("XDG_STATE_HOME");
    c
}

/// The peak resident set of process `pid` so far, in KiB (`VmHWM` in `/proc/PID/status`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Runs `cmd` with `input` on standard input (written from a thread, so a large input cannot
/// deadlock against a full stdout pipe) and collects its output.
pub fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}
