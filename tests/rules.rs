//! The built-in catalogue passes its own checker, and bad rule files fail with the file, the
//! rule id and the reason.

use std::fs;

use tokenscrub::RedactorBuilder;
use tokenscrub::check::check_rules;
use tokenscrub::rules::{self, RuleSource};

const KEY: &[u8] = b"rules test key: 0123456789abcdef012345";

#[test]
fn builtin_rules_pass_their_examples_and_negatives() {
    let r = RedactorBuilder::new().build(KEY).unwrap();
    let (summary, failures) = check_rules(&r, |_| true);
    let report: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        report.join("\n")
    );
    assert!(summary.rules >= 100, "catalogue has {} rules", summary.rules);
    assert!(summary.examples >= summary.rules);
}

#[test]
fn catalogue_covers_at_least_sixty_vendor_rules() {
    let sources = rules::builtin_sources();
    let vendor: usize = sources
        .iter()
        .filter(|s| s.name.starts_with("builtin:vendor-"))
        .map(|s| rules::parse(s).unwrap().len())
        .sum();
    assert!(vendor >= 60, "{vendor} vendor rules");
}

fn compile_error(text: &str) -> String {
    let source = RuleSource {
        name: "custom/bad.toml".into(),
        text: text.into(),
    };
    let err = RedactorBuilder::new()
        .builtin(false)
        .rules([source])
        .build(KEY)
        .unwrap_err();
    err.to_string()
}

const GOOD: &str = r#"
[[rules]]
id = "acme.key"
kind = "acme_key"
description = "ACME keys"
anchors = ["acme_"]
regex = '''%{lb}(?P<secret>acme_[a-z0-9]{16})%{rb}'''
examples = [{ input = "k=acme_0123456789abcdef", output = "k=REDACTED:acme_key" }]
negatives = ["acme_ prefix"]
"#;

#[test]
fn a_good_custom_rule_loads_and_redacts() {
    let source = RuleSource {
        name: "custom/good.toml".into(),
        text: GOOD.into(),
    };
    let r = RedactorBuilder::new()
        .builtin(false)
        .rules([source])
        .build(KEY)
        .unwrap();
    let out = String::from_utf8(r.redact(b"x acme_0123456789abcdef y")).unwrap();
    assert!(out.starts_with("x REDACTED:acme_key:") && out.ends_with(" y"), "{out}");
    let (_, failures) = check_rules(&r, |_| true);
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn bad_rules_name_file_rule_and_reason() {
    let cases = [
        (
            GOOD.replace("(?P<secret>acme_[a-z0-9]{16})", "(?P<secret>acme_[a-z0-9]+)"),
            "unbounded",
        ),
        (
            GOOD.replace("(?P<secret>acme_[a-z0-9]{16})", "(?P<token>acme_[a-z0-9]{16})"),
            "no capture group named 'secret'",
        ),
        (
            GOOD.replace("(?P<secret>acme_[a-z0-9]{16})", "(?P<secret>acme_[a-z0-9{16})"),
            "regex does not parse",
        ),
        (
            GOOD.replace(r#"anchors = ["acme_"]"#, r#"anchors = ["ac"]"#),
            "at least 3 ASCII bytes",
        ),
        (
            GOOD.replace(r#"kind = "acme_key""#, r#"kind = "Acme Key""#),
            "snake_case",
        ),
        (
            GOOD.replace("[[rules]]", "[[rules]]\nvalidators = [\"luhn\"]"),
            "unknown validator 'luhn'",
        ),
        (format!("{GOOD}{GOOD}"), "duplicate rule id"),
    ];
    for (text, reason) in cases {
        let msg = compile_error(&text);
        assert!(msg.starts_with("custom/bad.toml: rule 'acme.key': "), "{msg}");
        assert!(msg.contains(reason), "expected {reason:?} in {msg}");
    }
    let msg = compile_error("[[rules]]\nid = \"x.y\"\nkind = 3\n");
    assert!(
        msg.starts_with("custom/bad.toml: invalid rule file:") && msg.contains("line 3"),
        "{msg}"
    );
}

#[test]
fn checker_reports_a_wrong_example() {
    let text = GOOD.replace(
        r#"output = "k=REDACTED:acme_key""#,
        r#"output = "k=acme_0123456789abcdef""#,
    );
    let source = RuleSource {
        name: "custom/wrong.toml".into(),
        text,
    };
    let r = RedactorBuilder::new()
        .builtin(false)
        .rules([source])
        .build(KEY)
        .unwrap();
    let (_, failures) = check_rules(&r, |_| true);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].rule, "acme.key");
    assert!(failures[0].what.contains("example 1"));
}

#[test]
fn load_dir_reads_toml_files_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b.toml"), GOOD.replace("acme.key", "acme.b")).unwrap();
    fs::write(dir.path().join("a.toml"), GOOD.replace("acme.key", "acme.a")).unwrap();
    fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let sources = rules::load_dir(dir.path()).unwrap();
    assert_eq!(sources.len(), 2);
    assert!(sources[0].name.ends_with("a.toml") && sources[1].name.ends_with("b.toml"));
    let missing = rules::load_dir(&dir.path().join("nope")).unwrap_err();
    assert!(missing.to_string().contains("cannot read rule directory"));
}

const KEY_AWARE: &str = r#"
[[rules]]
id = "acme.key_aware"
kind = "acme_secret"
description = "Values under secret keys"
structured = "secret"
examples = [{ input = '{"apiKey":"short"}', output = '{"apiKey":"REDACTED:acme_secret"}' }]
negatives = ['{"nextToken":"page2"}']
"#;

#[test]
fn key_aware_rules_name_the_structured_pass_and_are_checked_through_it() {
    let rules = |text: &str| RuleSource {
        name: "custom/aware.toml".into(),
        text: text.into(),
    };
    // Without the built-in catalogue, a file's key-aware rule turns the pass on for its class.
    let r = RedactorBuilder::new()
        .builtin(false)
        .rules([rules(KEY_AWARE)])
        .build(KEY)
        .unwrap();
    let out = String::from_utf8(r.redact(br#"{"apiKey":"short","password":"pw"}"#)).unwrap();
    assert!(out.starts_with(r#"{"apiKey":"REDACTED:acme_secret:"#), "{out}");
    assert!(out.ends_with(r#""password":"pw"}"#), "only its class: {out}");
    let (summary, failures) = check_rules(&r, |_| true);
    assert!(failures.is_empty() && summary.examples == 1, "{failures:?}");

    // An example the key-aware pass does not give, or a negative it changes, fails the check.
    let wrong = KEY_AWARE
        .replace(
            r#"{"apiKey":"short"}', output = '{"apiKey":"REDACTED:acme_secret"}'"#,
            r#"{"key":"short"}', output = '{"key":"short"}'"#,
        )
        .replace(r#"'{"nextToken":"page2"}'"#, r#"'{"token":"t"}'"#);
    let r = RedactorBuilder::new()
        .builtin(false)
        .rules([rules(&wrong)])
        .build(KEY)
        .unwrap();
    let (_, failures) = check_rules(&r, |_| true);
    let report: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(
        report
            .iter()
            .any(|f| f.contains("example 1: the rule alone does not match it")),
        "{report:?}"
    );
    assert!(
        report.iter().any(|f| f.contains("negative 1: the rule matches")),
        "{report:?}"
    );

    // A key-aware rule matches nothing itself, and names one class once.
    for (text, reason) in [
        (
            KEY_AWARE.replace(
                "structured = \"secret\"",
                "structured = \"secret\"\nregex = 'x(?P<secret>y)'",
            ),
            "custom/bad.toml: rule 'acme.key_aware': a key-aware rule (structured = \"secret\") finds its values by their keys: it takes no regex",
        ),
        (
            KEY_AWARE.replace(
                "structured = \"secret\"",
                "structured = \"secret\"\nvalidators = [\"token_like\"]",
            ),
            "it takes no validators",
        ),
        (
            format!("{KEY_AWARE}{}", KEY_AWARE.replace("acme.key_aware", "acme.again")),
            "rule 'acme.again': key-aware class 'secret' is already named by rule 'acme.key_aware'",
        ),
        (KEY_AWARE.replace("\"secret\"", "\"pin\""), "unknown variant `pin`"),
    ] {
        let msg = compile_error(&text);
        assert!(msg.contains(reason), "expected {reason:?} in {msg}");
    }
    // And the built-in catalogue already names every class.
    assert!(compile_error_with_builtin(KEY_AWARE).contains("is already named by rule 'structured.secret'"));
}

fn compile_error_with_builtin(text: &str) -> String {
    let source = RuleSource {
        name: "custom/bad.toml".into(),
        text: text.into(),
    };
    RedactorBuilder::new()
        .rules([source])
        .build(KEY)
        .unwrap_err()
        .to_string()
}
