//! Using tokenscrub as a library: build a redactor once, then redact records with per-thread
//! scratch space (no allocation for records without credentials).
//!
//! Run with `cargo run --example redact_lines`.

use tokenscrub::RedactorBuilder;

fn main() {
    // In production the key comes from --key-file / TOKENSCRUB_KEY and is shared by replicas.
    let redactor = RedactorBuilder::new()
        .build(b"example key, at least thirty-two bytes long")
        .expect("built-in rules compile");
    let mut scratch = redactor.scratch();
    let mut out = Vec::new();
    for record in [
        "GET /cb?code=4/0AX4XfWhYzLk9TlP3pQ2Rz7vN8mB1cD&state=xyz",
        r#"{"user":"heidi","password":"correct horse battery staple"}"#,
        "nothing secret here: trace_id=7cbe6900040c74c025eff77a2bdd3e37",
    ] {
        out.clear();
        let n = redactor.redact_into(record.as_bytes(), &mut scratch, &mut out);
        println!("{n} replaced: {}", String::from_utf8_lossy(&out));
    }
}
