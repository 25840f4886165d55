//! Property test: the fast path (prefilter, windows around anchors, streaming) finds exactly
//! what a slow, obviously-correct reference finds (every rule over every whole line). The
//! key-aware structured pass is off here: the reference models the rules only.

use proptest::prelude::*;
use tokenscrub::RedactorBuilder;
use tokenscrub::pipe::{PipeConfig, StreamRedactor};
use tokenscrub::scan::{ScanState, reference_find};

const KEY: &[u8] = b"reference key: 0123456789abcdef0123456789";

/// Pieces of realistic log lines: credentials in several renderings, near-misses, filler.
const PIECES: &[&str] = &[
    "Authorization: Bearer ",
    "authorization=",
    "\"authorization\":\"Bearer ",
    "x-api-key: ",
    "password=",
    "\"client_secret\": \"",
    "?access_token=",
    "&token=",
    "https://user:",
    "@host/",
    "token ",
    "Basic ",
    "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",
    "AKIAQJM5MFGYUF2CZZ7Q",
    "glpat-bwguDIEI-FVaCwvMUcb_",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIzNDU2",
    "sk_live_DL7gH3JmOfhwWkKzRvFLmtHy",
    "AIzaSyCmJNCa9PHAVvBGHXlWeuezXo1fMq2NBhC",
    "xoxb-6111265110-1044535389110-CDh8ReWmfv5p9t4cn4UmpOAc",
    "Zm9vYmFyYmF6cXV4MTIzNDU2",
    "hunter2",
    "c3ZjOnBhc3N3b3Jk",
    "7cbe6900040c74c025eff77a2bdd3e37",
    "75eb5e4e-a1da-4093-bc02-091edcd8640d",
    "pageToken=Cg8CexL9kpdXJYcTxhV63qUUrrz",
    "REDACTED:jwt:0123456789abcdef",
    " ",
    "\"",
    "'",
    ",",
    ";",
    "&",
    "=",
    ":",
    "\\n",
    "\\\"",
    "\\/",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "\r\n",
    "\t",
    "%2F",
    "abc",
    "Bearer",
    // Anchors the prefilter may drop unless a separator follows, and the separators themselves.
    "secret_key",
    "apikey",
    "_key",
    "api-key",
    "token",
    "Authorization",
    "password",
    "db_pass",
    "credentials",
    " = ",
    "=>",
    "\\\":\\\"",
];

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(0..PIECES.len(), 0..24)
        .prop_map(|ix| ix.into_iter().flat_map(|i| PIECES[i].bytes()).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_matches_reference(input in line_strategy()) {
        let r = RedactorBuilder::new().structured(false).build(KEY).unwrap();
        let mut scratch = r.scratch();
        let mut state = ScanState::default();
        r.find(&input, 0..input.len(), &mut state, &mut scratch);
        let fast: Vec<_> = r.findings(&scratch).iter().map(|f| (f.start, f.end, f.rule)).collect();
        let slow: Vec<_> = reference_find(r.rules(), &input).iter().map(|f| (f.start, f.end, f.rule)).collect();
        prop_assert_eq!(fast, slow, "input {:?}", String::from_utf8_lossy(&input));
    }

    #[test]
    fn stream_matches_slice(input in line_strategy(), chunk in 1usize..40) {
        let r = RedactorBuilder::new().build(KEY).unwrap();
        let mut s = StreamRedactor::new(&r, PipeConfig { read_size: chunk, ..PipeConfig::default() });
        let mut out = Vec::new();
        s.run(&input[..], &mut out).unwrap();
        prop_assert_eq!(out, r.redact(&input));
    }
}
