//! Key-aware redaction of structured records (issue 5, and JSON inside JSON strings, Go and
//! Python dumps, configured keys): values under sensitive keys, whatever they look like, with
//! every other byte unchanged and the record still valid JSON.

mod common;

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
    // JSON inside a JSON string, at levels 1 and 2; arrays and nested objects inside.
    (
        r#"{"msg":"{\"password\":\"hunter2secret\",\"user\":\"bob\"}"}"#,
        r#"{"msg":"{\"password\":\"REDACTED:password\",\"user\":\"bob\"}"}"#,
    ),
    (
        r#"{"event":"{\"user\":\"bob\",\"creds\":{\"api_key\":[\"k1\",\"k2\"],\"token\":\"t1\"},\"detail\":\"{\\\"client_secret\\\":\\\"cs2\\\",\\\"n\\\":1}\"}","ok":true}"#,
        r#"{"event":"{\"user\":\"bob\",\"creds\":{\"api_key\":[\"REDACTED:secret\",\"REDACTED:secret\"],\"token\":\"REDACTED:secret\"},\"detail\":\"{\\\"client_secret\\\":\\\"REDACTED:secret\\\",\\\"n\\\":1}\"}","ok":true}"#,
    ),
    // Escapes of the embedded level in its keys and values: `\\u0077` is a `w`.
    (
        r#"{"m":"{\"pass\\u0077ord\":\"a\\\/b\\u0041\",\"url\":\"https:\\/\\/x\"}"}"#,
        r#"{"m":"{\"pass\\u0077ord\":\"REDACTED:password\",\"url\":\"https:\\/\\/x\"}"}"#,
    ),
    // A number inside escaped JSON becomes a word in quotes escaped to its level, so the
    // embedded document stays valid JSON too.
    (
        r#"{"msg":"{\"pin_password\":123456,\"user\":\"bob\"}"}"#,
        r#"{"msg":"{\"pin_password\":\"REDACTED:password\",\"user\":\"bob\"}"}"#,
    ),
    // Escaped JSON in a logfmt value.
    (
        r#"time=1 level=info msg="{\"apiKey\":\"k1\",\"user\":\"bob\"}" ok=true"#,
        r#"time=1 level=info msg="{\"apiKey\":\"REDACTED:secret\",\"user\":\"bob\"}" ok=true"#,
    ),
    // Go `%v` maps: in free text, header slices keep their scheme, values with spaces.
    (
        r#"level=info msg="cfg: map[password:hunter2 user:bob token:abc]""#,
        r#"level=info msg="cfg: map[password:REDACTED:password user:bob token:REDACTED:secret]""#,
    ),
    (
        r#"GET /x headers=map[Accept:[*/*] Authorization:[Bearer abc123] Cookie:[sid=xyz; theme=dark] X-Api-Key:[k9]]"#,
        r#"GET /x headers=map[Accept:[*/*] Authorization:[Bearer REDACTED:secret] Cookie:[sid=REDACTED:session_cookie; theme=REDACTED:session_cookie] X-Api-Key:[REDACTED:secret]]"#,
    ),
    (
        r#"env=map[HOME:/root msg:hello world password:correct horse battery staple user:bob]"#,
        r#"env=map[HOME:/root msg:hello world password:REDACTED:password user:bob]"#,
    ),
    // Go `%#v` maps, with typed values inside.
    (
        r#"cfg map[string]string{"password":"pw9", "user":"bob"} n=map[string]interface {}{"n":5, "client_secret":[]string{"s1", "s2"}, "cfg":main.Cfg{Password:"p2", Port:1}, "ptr":(*main.T)(nil)}"#,
        r#"cfg map[string]string{"password":"REDACTED:password", "user":"bob"} n=map[string]interface {}{"n":5, "client_secret":[]string{"REDACTED:secret", "REDACTED:secret"}, "cfg":main.Cfg{Password:"REDACTED:password", Port:1}, "ptr":(*main.T)(nil)}"#,
    ),
    // Go `%+v` structs, nested.
    (
        r#"got &{Host:db Port:5432 Password:hunter2 Auth:{Token:t0k Secret:} Pin:1234 Timeout:30s}"#,
        r#"got &{Host:db Port:5432 Password:REDACTED:password Auth:{Token:REDACTED:secret Secret:} Pin:1234 Timeout:30s}"#,
    ),
    // Python dicts and calls: either quote, escapes, bytes, tuples, nested calls, numbers.
    (
        r#"{'password': 'hunter2', 'api_key': "abc", 'user': 'bob'}"#,
        r#"{'password': 'REDACTED:password', 'api_key': "REDACTED:secret", 'user': 'bob'}"#,
    ),
    (
        r#"settings: {'DEBUG': False, 'password': 'it\'s', 'api_key': b"abc", 'pins': [1, 2], 'token': SecretStr('**********'), 'x': Config(client_secret='cs'), 'client_secret': ('s1', 's2'), 'pin_password': 1234}"#,
        r#"settings: {'DEBUG': False, 'password': 'REDACTED:password', 'api_key': b"REDACTED:secret", 'pins': [1, 2], 'token': SecretStr('**********'), 'x': Config(client_secret='REDACTED:secret'), 'client_secret': ('REDACTED:secret', 'REDACTED:secret'), 'pin_password': REDACTED:password}"#,
    ),
    (
        r#"loaded Config(password='pw', token='tk', port=5432) and dict(api_key='ak', n=None)"#,
        r#"loaded Config(password='REDACTED:password', token='REDACTED:secret', port=5432) and dict(api_key='REDACTED:secret', n=None)"#,
    ),
    // Dumps inside a JSON string; a truncated one stops at the string's end.
    (
        r#"{"msg":"cfg map[password:inside user:bob] and {'token': 'pt'} &{Secret:sv}"}"#,
        r#"{"msg":"cfg map[password:REDACTED:password user:bob] and {'token': 'REDACTED:secret'} &{Secret:REDACTED:secret}"}"#,
    ),
    (
        r#"{"msg":"map[password:trunc","user":"x"}"#,
        r#"{"msg":"map[password:REDACTED:password","user":"x"}"#,
    ),
    // Prose, placeholders, nulls, empty values, look-alikes and our own words stay.
    (
        r#"password reset for user bob token=<redacted> password: null {'password': None}"#,
        r#"password reset for user bob token=<redacted> password: null {'password': None}"#,
    ),
    (
        r#"headers=map[Accept:[*/*] Authorization:[]] settings: {'DB_USER': 'app', 'DB_PASSWORD': None, 'DEBUG': False}"#,
        r#"headers=map[Accept:[*/*] Authorization:[]] settings: {'DB_USER': 'app', 'DB_PASSWORD': None, 'DEBUG': False}"#,
    ),
    (
        r#"the map[] is empty, {} too, map[string]int{} and &{} and {'a', 'b'} and map[note:the password is secret]"#,
        r#"the map[] is empty, {} too, map[string]int{} and &{} and {'a', 'b'} and map[note:the password is secret]"#,
    ),
    (
        r#"map[password:**** token:<nil> secret:] &{Password:<nil> Token:${TOKEN} ApiKey:true} {'password': '********', 'token': None, 'secret': ''}"#,
        r#"map[password:**** token:<nil> secret:] &{Password:<nil> Token:${TOKEN} ApiKey:true} {'password': '********', 'token': None, 'secret': ''}"#,
    ),
    (
        r#"heatmap[password:x] d = {'token': os.environ['TK']} f = {'token': f'{t}'} m := map[string]int lookup"#,
        r#"heatmap[password:x] d = {'token': os.environ['TK']} f = {'token': f'{t}'} m := map[string]int lookup"#,
    ),
];

/// Lines already redacted: they come out byte for byte.
const ALREADY_REDACTED: &[&str] = &[
    r#"map[password:REDACTED:password:0123456789abcdef] {'password': 'REDACTED:password:0123456789abcdef'} &{Token:REDACTED:secret:0123456789abcdef}"#,
    r#"{"msg":"{\"password\":\"REDACTED:password:0123456789abcdef\"}"} Config(token='REDACTED:secret:0123456789abcdef')"#,
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

/// Parses `text` as JSON, then every string in it that holds a JSON object or array, and so on
/// down: the embedded documents must stay valid too.
fn assert_valid_json_at_every_level(text: &str, context: &str) {
    fn walk(v: &serde_json::Value, context: &str) {
        match v {
            serde_json::Value::String(s) if s.starts_with('{') || s.starts_with('[') => {
                assert_valid_json_at_every_level(s, context)
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, context)),
            serde_json::Value::Object(map) => map.values().for_each(|i| walk(i, context)),
            _ => {}
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{context}: {e} in {text}"));
    walk(&value, context);
}

#[test]
fn escaped_json_stays_valid_at_every_level() {
    let r = redactor();
    let mut checked = 0;
    for (input, _) in CASES {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(input) else {
            continue;
        };
        let embedded = value
            .as_object()
            .is_some_and(|o| o.values().any(|v| v.as_str().is_some_and(|s| s.starts_with('{'))));
        if !embedded {
            continue;
        }
        assert_valid_json_at_every_level(input, "input");
        let out = redact(&r, input);
        assert_valid_json_at_every_level(&out, input);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn already_redacted_lines_are_left_alone() {
    let r = redactor();
    for line in ALREADY_REDACTED {
        assert_eq!(&redact(&r, line), line);
    }
}

#[test]
fn secrets_inside_dumps_are_found_only_by_the_key_aware_pass() {
    // Short, word-like values no shape rule would call a secret: the keys say what they are.
    let on = redactor();
    let off = RedactorBuilder::new()
        .structured(false)
        .build(b"structured test key, at least 32 bytes")
        .unwrap();
    for line in [
        "level=info msg=\"cfg: map[user:bob token:abc]\"",
        "got &{Host:db AccessToken:abc}",
        "settings: {'DEBUG': False, 'api_key': 'abc'}",
        "loaded Config(port=1, token='abc')",
        r#"{"msg":"{\"token\":\"abc\"}"}"#,
    ] {
        assert_eq!(redact(&off, line), line, "the rules alone leave it");
        let out = redact(&on, line);
        assert!(!out.contains("abc") && out.contains("REDACTED:secret:"), "{out}");
    }
}

#[test]
fn configured_keys_are_sensitive_everywhere() {
    let r = RedactorBuilder::new()
        .sensitive_keys(["pin".to_string(), "X-Vault-Token".to_string()])
        .build(b"structured test key, at least 32 bytes")
        .unwrap();
    for (input, expected) in [
        (
            r#"{"card_pin":"1234x","vaultToken":"v1","pinned":true,"spin":"cw"}"#,
            r#"{"card_pin":"REDACTED:secret","vaultToken":"REDACTED:secret","pinned":true,"spin":"REDACTED:secret"}"#,
        ),
        (
            "map[pin:9999 user:bob] pin=4242",
            "map[pin:REDACTED:secret user:bob] pin=REDACTED:secret",
        ),
        (
            "Config(x_vault_token='vt') {'pin': '1'}",
            "Config(x_vault_token='REDACTED:secret') {'pin': 'REDACTED:secret'}",
        ),
        // Built-in classes still come first.
        (r#"{"db_password":"p"}"#, r#"{"db_password":"REDACTED:password"}"#),
    ] {
        assert_eq!(stripped(&r, input), expected, "input: {input}");
    }
    // Without the configuration, the same keys are ordinary.
    assert_eq!(redact(&redactor(), "map[pin:9999]"), "map[pin:9999]");

    // A name too short to be a suffix is an error at build time, with a message to show.
    for bad in ["id", "p-w", ""] {
        let err = RedactorBuilder::new()
            .sensitive_keys([bad.to_string()])
            .build(b"structured test key, at least 32 bytes")
            .unwrap_err();
        assert!(matches!(err, tokenscrub::BuildError::SensitiveKey(_)));
        let message = err.to_string();
        assert!(
            message.contains(&format!("{bad:?}")) && message.contains("at least 3"),
            "{message}"
        );
    }
    // Even with the key-aware pass off.
    assert!(
        RedactorBuilder::new()
            .structured(false)
            .sensitive_keys(["id".to_string()])
            .build(b"structured test key, at least 32 bytes")
            .is_err()
    );
}

#[test]
fn lines_built_to_make_every_dump_read_to_the_end_stay_linear() {
    let r = redactor();
    let n = 100_000;
    for line in [
        "map[a:[x ".repeat(n),
        "map[a:b ".repeat(n),
        "{'a': [".repeat(n),
        "&{A:{".repeat(n),
        "f(a=(1, ".repeat(n),
        format!("{{\"m\":\"{}\"}}", "{\\\"a\\\":".repeat(n)),
        "{A:{".repeat(n),
        "x.T{A:x.T{".repeat(n),
        "OrderedDict([('a', [".repeat(n),
        format!("{{\"m\":\"{}\"}}", "f(a=(".repeat(n)),
    ] {
        let start = std::time::Instant::now();
        assert_eq!(redact(&r, &line), line);
        // Quadratic reading would take minutes here; linear takes milliseconds.
        assert!(start.elapsed() < std::time::Duration::from_secs(20), "{}", &line[..20]);
    }
}

#[test]
fn same_secret_same_word_across_json_and_text() {
    let r = redactor();
    let word = |s: &str| s[s.find("REDACTED:").unwrap()..][..34].to_string();
    let plain = word(&redact(&r, "password=Hunter2x9Secret"));
    for form in [
        r#"{"password":"Hunter2x9Secret"}"#,
        r#"{"m":"{\"password\":\"Hunter2x9Secret\"}"}"#,
        r#"{"m":"{\"a\":\"{\\\"password\\\":\\\"Hunter2x9Secret\\\"}\"}"}"#,
        "cfg map[password:Hunter2x9Secret]",
        "cfg &{Password:Hunter2x9Secret}",
        "cfg {'password': 'Hunter2x9Secret'}",
        "cfg Config(password='Hunter2x9Secret')",
        r#"cfg main.Config{Password:"Hunter2x9Secret"}"#,
        "cfg {Password:Hunter2x9Secret}",
        "cfg OrderedDict([('password', 'Hunter2x9Secret')])",
        r#"{"m":"cfg Config(password='Hunter2x9Secret')"}"#,
    ] {
        assert_eq!(word(&redact(&r, form)), plain, "{form}");
    }
}

#[test]
fn every_path_gives_the_same_output() {
    let r = redactor();
    let input: String = CASES
        .iter()
        .chain(DUMP_FORMS)
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

const BIN_KEY: &str = "structured binary test key, 32 bytes!";

/// Runs the binary (no config file) with `args` over `input`; its standard output.
fn run_bin(args: &[&str], input: &str) -> String {
    let mut cmd = common::tokenscrub(BIN_KEY);
    cmd.arg("--no-config").args(args);
    let out = common::run_with_stdin(cmd, input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `document` embedded `depth` times as the string value of `"msg"`, each level escaped by a real
/// JSON serializer.
fn embedded(document: &serde_json::Value, depth: usize) -> String {
    let mut text = document.to_string();
    for _ in 0..depth {
        text = serde_json::json!({ "msg": text }).to_string();
    }
    text
}

/// Unescapes `line` `depth` times down its `"msg"` strings and parses the document found there.
fn innermost(line: &str, depth: usize) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    for level in 1..=depth {
        let text = value["msg"].as_str().unwrap_or_else(|| panic!("level {level}: {line}"));
        value = serde_json::from_str(text).unwrap_or_else(|e| panic!("level {level} does not parse ({e}): {line}"));
    }
    value
}

#[test]
fn numbers_inside_escaped_json_become_quoted_words_that_parse_at_every_level() {
    let document = serde_json::json!({"pin_password": 1234, "user": "bob", "n": 7, "client_secret": [5, -6.5e2]});
    for depth in 1..=3usize {
        let input = embedded(&document, depth);
        let output = run_bin(&[], &format!("{input}\n"));
        let line = output.strip_suffix('\n').unwrap();
        // The number and nothing else changed, and the quotes are escaped to its level: `\"` at
        // 1, `\\\"` at 2.
        let quote = format!("{}\"", "\\".repeat((1 << depth) - 1));
        let expected = input
            .replace("1234", &format!("{quote}REDACTED:password{quote}"))
            .replace(
                "[5,-650.0]",
                &format!("[{quote}REDACTED:secret{quote},{quote}REDACTED:secret{quote}]"),
            );
        assert_ne!(expected, input, "the serializer wrote the numbers as expected");
        assert_eq!(
            String::from_utf8(strip_fingerprints(line.as_bytes())).unwrap(),
            expected,
            "depth {depth}"
        );

        let inner = innermost(line, depth);
        assert!(
            inner["pin_password"]
                .as_str()
                .unwrap()
                .starts_with("REDACTED:password:"),
            "{inner}"
        );
        assert!(
            inner["client_secret"][1]
                .as_str()
                .unwrap()
                .starts_with("REDACTED:secret:"),
            "{inner}"
        );
        assert_eq!((inner["user"].as_str(), inner["n"].as_u64()), (Some("bob"), Some(7)));

        // A second pass is a no-op, with the default word, a key id and a custom template.
        assert_eq!(run_bin(&[], &output), output, "depth {depth}");
        for args in [&["--key-id", "k2026"][..], &["--replacement", "<{kind}|{fingerprint}>"]] {
            let once = run_bin(args, &format!("{input}\n"));
            innermost(once.trim_end(), depth);
            assert_eq!(run_bin(args, &once), once, "{args:?} depth {depth}");
        }
    }
    // Escaped JSON in a logfmt value: the value's quotes are level 1.
    let output = run_bin(&[], "level=info msg=\"{\\\"pin_password\\\":1234}\" ok=true\n");
    assert!(
        output.starts_with("level=info msg=\"{\\\"pin_password\\\":\\\"REDACTED:password:"),
        "{output}"
    );
    assert!(output.ends_with("\\\"}\" ok=true\n"), "{output}");
}

#[test]
fn code_and_empty_go_fields_are_not_passwords() {
    // An environment lookup is code, and an empty `Password:` followed by the next field with a
    // `${TOKEN}` placeholder holds nothing: byte for byte unchanged.
    let untouched = concat!(
        "{'password': os.environ['PW']}\n",
        "settings = {'db_password': os.environ['DB_PW'], 'user': 'app'}\n",
        "&{Password: Token:${TOKEN}}\n",
        "cfg=&{User:app Password: Token:${TOKEN} Port:5432}\n",
    );
    assert_eq!(run_bin(&[], untouched), untouched);
    // Their neighbours with real values still are.
    let output = run_bin(
        &[],
        "{'password': 'hunter2x'}\n&{Password:hunter2x Token:${TOKEN}}\ndb_password: hunter2x\n",
    );
    assert_eq!(
        String::from_utf8(strip_fingerprints(output.as_bytes())).unwrap(),
        "{'password': 'REDACTED:password'}\n&{Password:REDACTED:password Token:${TOKEN}}\ndb_password: REDACTED:password\n"
    );
}

/// (input, expected output with fingerprints stripped). Each line holds a value no rule would
/// call a secret (`abc`), so only the key-aware pass can find it.
const DUMP_FORMS: &[(&str, &str)] = &[
    // Go `%#v` of a struct outside a map, with and without `&`, nested, at the start of a line.
    (
        r#"cfg main.Config{User:"bob", Password:"hunter2x", Token:"abc", Port:5432}"#,
        r#"cfg main.Config{User:"bob", Password:"REDACTED:password", Token:"REDACTED:secret", Port:5432}"#,
    ),
    (
        r#"&main.Config{User:"bob", DB:main.DB{Token:"abc", Hosts:[]string{"a"}}, T:(*main.T)(nil)}"#,
        r#"&main.Config{User:"bob", DB:main.DB{Token:"REDACTED:secret", Hosts:[]string{"a"}}, T:(*main.T)(nil)}"#,
    ),
    (
        r#"loaded []main.Config{main.Config{Token:"abc"}, main.Config{Token:"def"}}"#,
        r#"loaded []main.Config{main.Config{Token:"REDACTED:secret"}, main.Config{Token:"REDACTED:secret"}}"#,
    ),
    // Go `%+v` of a struct value, without `&`; inside a JSON string too.
    (
        "cfg {User:bob Password:hunter2x Auth:{Token:abc} Port:5432}",
        "cfg {User:bob Password:REDACTED:password Auth:{Token:REDACTED:secret} Port:5432}",
    ),
    ("{User:bob Token:abc}", "{User:bob Token:REDACTED:secret}"),
    (
        r#"{"level":"info","msg":"cfg {User:bob Token:abc}"}"#,
        r#"{"level":"info","msg":"cfg {User:bob Token:REDACTED:secret}"}"#,
    ),
    // A Python call on its own inside a JSON string value, and in a line that starts with `{`.
    (
        r#"{"msg":"loaded Config(user='bob', password='hunter2x', token='abc')"}"#,
        r#"{"msg":"loaded Config(user='bob', password='REDACTED:password', token='REDACTED:secret')"}"#,
    ),
    (
        "{ts=1} loaded Config(user='bob', token='abc')",
        "{ts=1} loaded Config(user='bob', token='REDACTED:secret')",
    ),
    // Python's pairs form of a mapping.
    (
        "OrderedDict([('password', 'hunter2x'), ('user', 'bob'), ('token', 'abc')])",
        "OrderedDict([('password', 'REDACTED:password'), ('user', 'bob'), ('token', 'REDACTED:secret')])",
    ),
    (
        "x = dict([('token', 'abc')]) and dict_items([('api_key', 'k1'), ('n', 1)])",
        "x = dict([('token', 'REDACTED:secret')]) and dict_items([('api_key', 'REDACTED:secret'), ('n', 1)])",
    ),
];

/// Brace and pair look-alikes that are not dumps: byte for byte unchanged.
const NOT_DUMPS: &str = concat!(
    "log.info(\"{user} {password:>8} {token:s}\")\n",
    "render ${token} {{token}} {token} and Config{user=bob, token=abc}\n",
    "func main() {fmt.Println(token)} if ok {return}\n",
    "stack {Token:abc\n",
    "choices=[('password', 'Password'), ('token', 'Token')]\n",
    "{\"msg\":\"{Token:\\\"abc\\\"}\"}\n",
);

#[test]
fn uncovered_dump_forms_are_read_where_the_key_is_visible() {
    let input: String = DUMP_FORMS.iter().map(|(i, _)| format!("{i}\n")).collect();
    let expected: String = DUMP_FORMS.iter().map(|(_, e)| format!("{e}\n")).collect();
    let output = run_bin(&[], &input);
    let shown = String::from_utf8(strip_fingerprints(output.as_bytes())).unwrap();
    for ((got, want), (line, _)) in shown.lines().zip(expected.lines()).zip(DUMP_FORMS) {
        assert_eq!(got, want, "input: {line}");
    }
    assert_eq!(shown.lines().count(), DUMP_FORMS.len());
    // JSON lines stay JSON, and a second pass changes nothing.
    for (out, (line, _)) in output.lines().zip(DUMP_FORMS) {
        if serde_json::from_str::<serde_json::Value>(line).is_ok() {
            serde_json::from_str::<serde_json::Value>(out).unwrap_or_else(|e| panic!("{e}: {out}"));
        }
    }
    assert_eq!(run_bin(&[], &output), output);
    // The rules alone leave some value of each line: the key-aware pass found it.
    let rules_alone = run_bin(&["--no-structured"], &input);
    for (alone, (out, line)) in rules_alone.lines().zip(output.lines().zip(input.lines())) {
        assert!(alone != out && alone.contains("abc"), "input: {line}");
    }

    assert_eq!(run_bin(&[], NOT_DUMPS), NOT_DUMPS);
}

#[test]
fn disabling_a_regex_rule_leaves_the_key_aware_pass_on() {
    // Values no rule would redact (`a`, `short`, `abc`, `xyz`): only the key-aware pass does.
    let input = concat!(
        r#"{"user":"bob","password":"a","apiKey":"short","cookie":"sid=abc","authorization":"Bearer xyz","pin":{"pin_password":12}}"#,
        "\n",
        "cfg &{Password:a Token:abc}\n",
    );
    let expected = concat!(
        r#"{"user":"bob","password":"REDACTED:password","apiKey":"REDACTED:secret","cookie":"sid=REDACTED:session_cookie","authorization":"Bearer REDACTED:secret","pin":{"pin_password":"REDACTED:password"}}"#,
        "\n",
        "cfg &{Password:REDACTED:password Token:REDACTED:secret}\n",
    );
    let shown = |out: &str| String::from_utf8(strip_fingerprints(out.as_bytes())).unwrap();
    let all_on = run_bin(&[], input);
    assert_eq!(shown(&all_on), expected);

    // The regex rules that used to name the pass's kinds, off by id, by pattern, or in the
    // config file's `[rules] disable`: the output is the same.
    for args in [
        &["--disable", "labelled.password_quoted"][..],
        &["--disable", "labelled.*", "--disable", "http.*"],
    ] {
        assert_eq!(run_bin(args, input), all_on, "{args:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[rules]\ndisable = [\"labelled.password_quoted\", \"http.*\"]\n",
    )
    .unwrap();
    let mut cmd = common::tokenscrub(BIN_KEY);
    cmd.arg("--config").arg(&config);
    let out = common::run_with_stdin(cmd, input.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), all_on);

    // A key-aware rule turned off turns off its class only.
    assert_eq!(
        shown(&run_bin(&["--disable", "structured.cookie"], input)),
        expected.replace("sid=REDACTED:session_cookie", "sid=abc")
    );
    // All of them is the pass turned off.
    assert_eq!(
        run_bin(&["--disable", "structured.*"], input),
        run_bin(&["--no-structured"], input)
    );

    // A scan names the pass's own rules, whatever regex rule is off.
    let mut cmd = common::tokenscrub(BIN_KEY);
    cmd.args(["scan", "--no-config", "--disable", "labelled.password_quoted"]);
    let report = String::from_utf8(common::run_with_stdin(cmd, input.as_bytes()).stdout).unwrap();
    for rule in [
        "structured.password",
        "structured.secret",
        "structured.cookie",
        "structured.authorization",
    ] {
        assert!(report.contains(&format!("rule={rule} ")), "{rule}: {report}");
    }
}
