//! Exposure outputs as a user gets them: `--summary`, `--report`, `--metrics-listen` scraped over
//! loopback during a run, `--otlp-metrics` pushed to a loopback receiver, and SIGTERM. Every
//! test also checks that no known secret, and no raw identifying claim, appears in any output.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

const KEY: &str = "exposure test key: 0123456789abcdef0123";
const GHP: &str = "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";
const SUB: &str = "subject-alice-4711";
const EMAIL: &str = "alice.secret@example.com";

fn bin() -> Command {
    common::tokenscrub(KEY)
}

fn jwt(header: &str, payload: &str) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJlX2J5dGVzX2hlcmVfMTIzNDU",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    )
}

/// A token valid until 2100, one expired in 1970 (alg none), and a GitHub token.
fn tokens() -> (String, String) {
    let live = jwt(
        r#"{"alg":"RS256","kid":"key-2026"}"#,
        &format!(
            r#"{{"iss":"https://idp.example.com","aud":["api"],"sub":"{SUB}","email":"{EMAIL}","jti":"jti-77","iat":4102441200,"exp":4102444800}}"#
        ),
    );
    let dead = jwt(r#"{"alg":"none"}"#, r#"{"iss":"legacy","iat":100,"exp":1000}"#);
    (live, dead)
}

fn sample_log() -> String {
    let (live, dead) = tokens();
    format!(
        "203.0.113.9 - - [22/Nov/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 1 Authorization: Bearer {live}\n\
         {{\"client_ip\":\"198.51.100.7\",\"msg\":\"Authorization: Bearer {live}\"}}\n\
         plain line\n\
         legacy token={dead}\n\
         push with {GHP} from ci"
    )
}

fn secrets() -> Vec<String> {
    let (live, dead) = tokens();
    vec![live, dead, GHP.to_string(), SUB.to_string(), EMAIL.to_string()]
}

fn assert_no_secret(what: &str, text: &str) {
    for s in secrets() {
        assert!(!text.contains(&s), "{what} contains a secret: {s}");
    }
}

fn run(args: &[&str], input: &str) -> Output {
    let mut cmd = bin();
    cmd.args(args);
    common::run_with_stdin(cmd, input.as_bytes())
}

fn read_report(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    assert_no_secret("report", &text);
    serde_json::from_str(&text).unwrap()
}

#[test]
fn report_lists_each_credential_with_claims_in_revocation_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for threads in ["1", "2"] {
        let path = dir.path().join(format!("report-{threads}.json"));
        let out = run(
            &["--threads", threads, "--report", path.to_str().unwrap()],
            &sample_log(),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_no_secret("stdout", &String::from_utf8_lossy(&out.stdout));
        reports.push(read_report(&path));
    }
    let r = &reports[0];
    assert_eq!(r["schema"], "tokenscrub.exposure.v1");
    assert_eq!(r["complete"], true);
    let t = &r["totals"];
    assert_eq!(t["records"], 5, "four newlines and a last line without one");
    assert_eq!(t["bytes"], sample_log().len());
    assert_eq!(t["findings"], 4);
    assert_eq!(t["unique_credentials"], 3);
    assert_eq!(t["live_jwts"], 1);
    assert_eq!(t["jwt_alg_none"], 1);
    assert_eq!(t["multi_origin_credentials"], 1);

    let creds = r["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 3);
    // The live JWT heads the revocation list.
    let live = &creds[0];
    assert_eq!(live["kind"], "jwt");
    assert_eq!(live["count"], 2);
    assert_eq!(live["origins"], 2, "access-log client and client_ip");
    assert_eq!(live["sources"], serde_json::json!(["stdin"]));
    let claims = &live["jwt"];
    assert_eq!(claims["valid_when_seen"], true);
    assert_eq!(claims["alg"], "RS256");
    assert_eq!(claims["kid"], "key-2026");
    assert_eq!(claims["iss"], "https://idp.example.com");
    assert_eq!(claims["aud"], serde_json::json!(["api"]));
    assert_eq!(claims["jti"], "jti-77");
    assert_eq!(claims["lifetime_seconds"], 3600);
    assert!(claims["sub_fingerprint"].as_str().unwrap().len() == 16);
    assert!(claims["email_fingerprint"].as_str().unwrap().len() == 16);
    assert!(live["fingerprint"].as_str().unwrap().starts_with("REDACTED:jwt:"));

    let github = creds.iter().find(|c| c["kind"] == "github_classic").unwrap();
    assert_eq!(github["origins"], 0);
    let dead = creds.iter().find(|c| c["jwt"]["alg_none"] == true).unwrap();
    assert_eq!(dead["jwt"]["valid_when_seen"], false);
    assert_eq!(dead["jwt"]["expired_at_report"], true);

    // The same fingerprint words as the redacted output, whatever the thread count.
    let strip = |v: &Value| {
        let mut v = v.clone();
        v["generated_at"] = Value::Null;
        for c in v["credentials"].as_array_mut().unwrap() {
            c["first_seen"] = Value::Null;
            c["last_seen"] = Value::Null;
            if c.get("jwt").is_some() {
                c["jwt"]["valid_for_seconds"] = Value::Null;
            }
        }
        v
    };
    assert_eq!(strip(&reports[0]), strip(&reports[1]));
}

#[test]
fn report_fingerprints_match_the_redacted_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let out = run(&["--report", path.to_str().unwrap()], &sample_log());
    let text = String::from_utf8(out.stdout).unwrap();
    let report = read_report(&path);
    for c in report["credentials"].as_array().unwrap() {
        assert!(text.contains(c["fingerprint"].as_str().unwrap()), "{c}");
    }
}

#[test]
fn summary_is_a_table_by_kind_on_stderr() {
    let out = run(&["--summary"], &sample_log());
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_no_secret("summary", &err);
    assert!(err.contains("5 records"), "{err}");
    assert!(err.contains("4 findings, 3 unique credentials"), "{err}");
    let jwt_row: Vec<&str> = err
        .lines()
        .find(|l| l.trim_start().starts_with("jwt "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(jwt_row, ["jwt", "3", "2", "1", "1"], "{err}");
    assert!(
        err.lines().any(|l| l.trim_start().starts_with("github_classic")),
        "{err}"
    );
}

#[test]
fn sources_are_input_files_or_the_source_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    std::fs::write(&a, format!("x {GHP}\nclean\n")).unwrap();
    std::fs::write(&b, "clean\nclean").unwrap();
    let path = dir.path().join("r.json");
    let out = bin()
        .args([
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--report",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = read_report(&path);
    let sources = r["sources"].as_array().unwrap();
    let records =
        |p: &std::path::Path| sources.iter().find(|s| s["name"] == p.to_str().unwrap()).unwrap()["records"].clone();
    assert_eq!(records(&a), 2);
    assert_eq!(records(&b), 2);
    assert_eq!(r["credentials"][0]["sources"], serde_json::json!([a.to_str().unwrap()]));

    let out = bin()
        .args([
            a.to_str().unwrap(),
            "--source",
            "payments",
            "--report",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = read_report(&path);
    assert_eq!(r["sources"][0]["name"], "payments");
}

fn wait_for_stdout_line(child: &mut Child) -> BufReader<std::process::ChildStdout> {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.contains("REDACTED:"), "{line}");
    stdout
}

#[test]
fn sigterm_writes_a_valid_report_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    let mut child = bin()
        .args(["--report", path.to_str().unwrap(), "--threads", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("deploy {GHP}\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    // The line came out: it was counted.
    let _stdout = wait_for_stdout_line(&mut child);
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    let r = read_report(&path);
    assert_eq!(r["complete"], false);
    assert_eq!(r["totals"]["findings"], 1);
    assert_eq!(r["credentials"][0]["kind"], "github_classic");
    drop(stdin);
}

/// A bounded HTTP GET over loopback; returns (status line, body).
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The value of a sample line `name{labels} value` whose text contains every `needle`.
fn sample(text: &str, name: &str, needles: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn metrics_endpoint_is_scraped_during_a_run() {
    let mut child = bin()
        .args(["--metrics-listen", "127.0.0.1:0", "--source", "edge"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut notice = String::new();
    stderr.read_line(&mut notice).unwrap();
    let addr = notice
        .trim()
        .strip_prefix("tokenscrub: serving metrics on http://")
        .and_then(|s| s.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{notice}"))
        .to_string();

    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(sample_log().as_bytes()).unwrap();
    stdin.write_all(b"\n").unwrap();
    stdin.flush().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    for _ in 0..5 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
    }

    // The process is still running (stdin open): scrape until the last line is counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let (status, body) = http_get(&addr, "/metrics");
        assert!(status.contains("200"), "{status}");
        if sample(&body, "tokenscrub_findings_total", &[r#"kind="github_classic""#]) == Some(1.0) {
            break body;
        }
        assert!(Instant::now() < deadline, "findings never counted:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_no_secret("metrics", &text);
    assert_eq!(
        sample(&text, "tokenscrub_records_total", &[r#"source="edge""#]),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &text,
            "tokenscrub_findings_total",
            &[r#"kind="jwt""#, r#"location="header""#, r#"source="edge""#]
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tokenscrub_credentials_unique", &[r#"kind="jwt""#]),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "tokenscrub_credentials_multi_origin", &[r#"kind="jwt""#]),
        Some(1.0)
    );
    assert_eq!(sample(&text, "tokenscrub_jwt_live", &[]), Some(1.0));
    assert_eq!(sample(&text, "tokenscrub_jwt_alg_none", &[]), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "tokenscrub_findings_validated_total",
            &[r#"validation="checksum_valid""#]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "tokenscrub_jwt_lifetime_seconds_count", &[]), Some(2.0));
    assert_eq!(
        sample(&text, "tokenscrub_jwt_lifetime_seconds_bucket", &[r#"le="300.0""#]),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "tokenscrub_jwt_lifetime_seconds_bucket", &[r#"le="900.0""#]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "tokenscrub_jwt_lifetime_seconds_bucket", &[r#"le="3600.0""#]),
        Some(2.0)
    );
    assert!(text.contains("# TYPE tokenscrub_findings counter"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
    assert!(http_get(&addr, "/other").0.contains("404"));

    drop(stdin);
    assert!(child.wait().unwrap().success());
}

/// Reads one HTTP/1.1 request with a Content-Length body; answers 200.
fn receive_post(listener: &TcpListener) -> (String, Vec<u8>) {
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut stream = reader.into_inner();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    (request_line, body)
}

#[test]
fn otlp_metrics_are_pushed_to_a_loopback_receiver() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
    use prost::Message;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/metrics", listener.local_addr().unwrap());
    let receiver = std::thread::spawn(move || receive_post(&listener));
    let out = run(&["--otlp-metrics", &url, "--otlp-interval", "60"], &sample_log());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (request_line, body) = receiver.join().unwrap();
    assert!(request_line.starts_with("POST /v1/metrics "), "{request_line}");
    assert_no_secret("OTLP body", &String::from_utf8_lossy(&body));

    let request = ExportMetricsServiceRequest::decode(body.as_slice()).unwrap();
    let metrics: Vec<_> = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect();
    let sum_of = |name: &str| -> i64 {
        let m = metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        let points = match m.data.as_ref().unwrap() {
            Data::Sum(s) => &s.data_points,
            Data::Gauge(g) => &g.data_points,
            other => panic!("{name}: {other:?}"),
        };
        points
            .iter()
            .map(|p| match p.value {
                Some(Number::AsInt(v)) => v,
                Some(Number::AsDouble(v)) => v as i64,
                None => 0,
            })
            .sum()
    };
    assert_eq!(sum_of("tokenscrub_findings"), 4);
    assert_eq!(sum_of("tokenscrub_records"), 5);
    assert_eq!(sum_of("tokenscrub_jwt_live"), 1);
    assert_eq!(sum_of("tokenscrub_credentials_multi_origin"), 1);
    let lifetime = metrics.iter().find(|m| m.name == "tokenscrub_jwt_lifetime").unwrap();
    match lifetime.data.as_ref().unwrap() {
        Data::Histogram(h) => assert_eq!(h.data_points.iter().map(|p| p.count).sum::<u64>(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_exposure_flag_means_no_exposure_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().current_dir(dir.path()).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}
