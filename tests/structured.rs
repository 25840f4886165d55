//! Key-aware redaction of JSON records (issue 5): values under sensitive keys, whatever they
//! look like, with every other byte unchanged and the record still valid JSON.

use tokenscrub::check::strip_fingerprints;
use tokenscrub::pipe::{PipeConfig, StreamRedactor, run_parallel};
use tokenscrub::{Redactor, RedactorBuilder};

fn redactor() -> Redactor {
    RedactorBuilder::new()
        .build(b"structured test key, at least 32 bytes")
        .unwrap()
}

fn redact(r: &Redactor, input: &str) -> String {
    String::from_utf8(r.redact(input.as_bytes())).unwrap()
}

fn stripped(r: &Redactor, input: &str) -> String {
    String::from_utf8(strip_fingerprints(redact(r, input).as_bytes())).unwrap()
}

/// (input, expected output with fingerprints stripped to `REDACTED:<kind>`)
const CASES: &[(&str, &str)] = &[
    (
        r#"{"user":"bob","password":"a","apiKey":"short","ok":true,"n":1}"#,
        r#"{"user":"bob","password":"REDACTED:password","apiKey":"REDACTED:secret","ok":true,"n":1}"#,
    ),
    (
        r#"{"API_KEY":"x y z","api-key":"q","x-api-key":"w","refreshToken":"r","id_token":"i","private_key":"k"}"#,
        r#"{"API_KEY":"REDACTED:secret","api-key":"REDACTED:secret","x-api-key":"REDACTED:secret","refreshToken":"REDACTED:secret","id_token":"REDACTED:secret","private_key":"REDACTED:secret"}"#,
    ),
    (
        r#"{"attributes":{"http.request.header.authorization":"Bearer abc","http.request.header.proxy-authorization":"Basic dXNlcjpwYXNz"}}"#,
        r#"{"attributes":{"http.request.header.authorization":"Bearer REDACTED:secret","http.request.header.proxy-authorization":"Basic REDACTED:auth_basic"}}"#,
    ),
    (
        r#"{"req":{"headers":{"cookie":"sid=abc; theme=dark","set-cookie":"sid=zz; Path=/; HttpOnly"}}}"#,
        r#"{"req":{"headers":{"cookie":"sid=REDACTED:session_cookie; theme=REDACTED:session_cookie","set-cookie":"sid=REDACTED:session_cookie; Path=/; HttpOnly"}}}"#,
    ),
    // Numbers become quoted words; arrays of strings are redacted element by element.
    (
        r#"[{"pin_password": 123456, "client_secret": ["s1", "s2"], "secrets": 3}]"#,
        r#"[{"pin_password": "REDACTED:password", "client_secret": ["REDACTED:secret", "REDACTED:secret"], "secrets": 3}]"#,
    ),
    // Escapes in keys and values; the fingerprint is of the decoded value.
    (
        r#"{"pass\u0077ord":"a\/b\u0041","msg":"ok"}"#,
        r#"{"pass\u0077ord":"REDACTED:password","msg":"ok"}"#,
    ),
    // Placeholders, null, booleans, empty strings and non-sensitive look-alikes stay.
    (
        r#"{"password":"****","token":null,"has_password":true,"secret":"","nextToken":"page2","password_policy":"strong","secret":{"secretName":"tls"}}"#,
        r#"{"password":"****","token":null,"has_password":true,"secret":"","nextToken":"page2","password_policy":"strong","secret":{"secretName":"tls"}}"#,
    ),
    // A vendor token under a sensitive key keeps its own kind.
    (
        r#"{"token":"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"}"#,
        r#"{"token":"REDACTED:github_classic"}"#,
    ),
    // logfmt and `key=value`: bare, double- and single-quoted values; settings and names stay.
    (
        r#"level=info password=a msg="login ok" apiKey="x y" db.password=p1,user=bob client_secret='q r'"#,
        r#"level=info password=REDACTED:password msg="login ok" apiKey="REDACTED:secret" db.password=REDACTED:password,user=bob client_secret='REDACTED:secret'"#,
    ),
    (
        "secret=false password=null nextToken=abc mounted secret=tls-cert authorization=Bearer",
        "secret=false password=null nextToken=abc mounted secret=tls-cert authorization=Bearer",
    ),
    // A vendor rule keeps its kind and visible prefix inside a sensitive value.
    (
        r#"FLY_API_TOKEN="FlyV1 fm2_lJPECAAAAAAAAMpQxBBh0Y2ZuMzFRPT0Bq3h4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg""#,
        r#"FLY_API_TOKEN="FlyV1 REDACTED:flyio_token""#,
    ),
    // Not JSON: the rules alone decide.
    (r#"{"password": "unterminated"#, r#"{"password": "REDACTED:password"#),
];

#[test]
fn sensitive_values_are_redacted_whatever_they_look_like() {
    let r = redactor();
    for (input, expected) in CASES {
        assert_eq!(&stripped(&r, input), expected, "input: {input}");
    }
}

#[test]
fn output_stays_valid_json_and_redaction_is_idempotent() {
    let r = redactor();
    for (input, _) in CASES {
        let out = redact(&r, input);
        if serde_json::from_str::<serde_json::Value>(input).is_ok() {
            serde_json::from_str::<serde_json::Value>(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
        }
        assert_eq!(redact(&r, &out), out);
    }
}

#[test]
fn same_secret_same_word_across_json_and_text() {
    let r = redactor();
    let a = redact(&r, r#"{"password":"Hunter2x9Secret"}"#);
    let b = redact(&r, "password=Hunter2x9Secret");
    let word = |s: &str| s[s.find("REDACTED:").unwrap()..][..34].to_string();
    assert_eq!(word(&a), word(&b));
}

#[test]
fn every_path_gives_the_same_output() {
    let r = redactor();
    let input: String = CASES
        .iter()
        .map(|(i, _)| format!("{i}\n"))
        .collect::<String>()
        .repeat(3);
    let expected = r.redact(input.as_bytes());
    for read_size in [1, 7, 64, 4096] {
        let config = PipeConfig {
            read_size,
            ..PipeConfig::default()
        };
        let mut out = Vec::new();
        StreamRedactor::new(&r, config).run(input.as_bytes(), &mut out).unwrap();
        assert_eq!(out, expected, "read_size {read_size}");
        let mut out = Vec::new();
        run_parallel(&r, config, 2, input.as_bytes(), &mut out).unwrap();
        assert_eq!(out, expected, "threads, read_size {read_size}");
    }
}

#[test]
fn deep_or_huge_records_do_not_crash() {
    let r = redactor();
    let deep = format!("{}\"password\":\"x\"{}", "{\"a\":".repeat(500), "}".repeat(500));
    let out = redact(&r, &deep);
    assert_eq!(out.len(), deep.len(), "too deep for the walker: left to the rules");
    let wide = format!("{{{}\"password\":\"y\"}}", "\"k\":\"v\",".repeat(100_000));
    assert!(redact(&r, &wide).contains("\"password\":\"REDACTED:password:"));
}

#[test]
fn the_structured_pass_can_be_turned_off() {
    let r = RedactorBuilder::new()
        .structured(false)
        .build(b"structured test key, at least 32 bytes")
        .unwrap();
    let input = r#"{"apiKey":"short"}"#;
    assert_eq!(redact(&r, input), input);
}
