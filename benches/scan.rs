//! Scan throughput on generated inputs. Each bench asserts its expected redaction count, so a
//! fast wrong answer fails; engine build time is measured apart from scan time.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokenscrub::RedactorBuilder;
use tokenscrub::rules::{self, RuleSet};
use tokenscrub::scan::{ScanScratch, ScanState};

const KEY: &[u8] = b"bench key: 0123456789abcdef0123456789";

/// Realistic log lines without credentials (JSON, logfmt, access logs, trace ids).
fn clean_lines() -> Vec<String> {
    (0..200)
        .map(|i| match i % 4 {
            0 => format!(
                r#"{{"ts":"2026-11-22T00:00:{:02}.123Z","level":"info","msg":"request done","trace_id":"7cbe6900040c74c025eff77a2bdd{i:04x}","status":200,"duration_ms":{i}}}"#,
                i % 60
            ),
            1 => format!("10.0.0.{} - - [22/Nov/2026:00:00:12 +0000] \"GET /api/v1/orders/{i}?page=2 HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"", i % 255),
            2 => format!("time=2026-11-22T00:00:10Z level=info msg=\"cache hit\" key=orders:{i} component=billing duration={i}ms"),
            _ => format!("Nov 22 00:00:00 web-01 app[{i}]: processed job 75eb5e4e-a1da-4093-bc02-091edcd8{i:04x} in {i}ms"),
        })
        .collect()
}

fn input(lines: usize, secret_every: usize) -> (Vec<u8>, usize) {
    let clean = clean_lines();
    let mut out = Vec::new();
    let mut secrets = 0;
    for i in 0..lines {
        if secret_every > 0 && i % secret_every == 0 {
            out.extend_from_slice(format!("GET /x?access_token=Zm9vYmFyYmF6cXV4{i:08} HTTP/1.1 Authorization: Bearer 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\n").as_bytes());
            secrets += 2;
        } else {
            out.extend_from_slice(clean[i % clean.len()].as_bytes());
            out.push(b'\n');
        }
    }
    (out, secrets)
}

fn bench(c: &mut Criterion) {
    c.bench_function("build_redactor", |b| {
        b.iter(|| black_box(RedactorBuilder::new().build(KEY).unwrap()))
    });

    // The scan core as the stream runs it: findings, fingerprints and replacement words, with the
    // kept bytes handed to the writer as slices of the input (here a sink, so no system call).
    let redactor = RedactorBuilder::new().build(KEY).unwrap();
    let mut group = c.benchmark_group("scan");
    for (name, every) in [("clean", 0), ("one_per_200_lines", 200), ("dense", 1)] {
        let (data, expected) = input(50_000, every);
        let mut scratch = redactor.scratch();
        let mut out = Vec::with_capacity(data.len());
        assert_eq!(
            redactor.redact_to(&data, &mut scratch, &mut out).unwrap(),
            expected,
            "{name}"
        );
        assert_eq!(out, redactor.redact(&data), "{name}: the slices make the same output");
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    redactor
                        .redact_to(black_box(&data), &mut scratch, &mut std::io::sink())
                        .unwrap(),
                )
            })
        });
    }
    group.finish();

    // The same with the output copied into one buffer (`redact_into`), as a library caller
    // that wants the bytes gets it.
    let mut group = c.benchmark_group("scan_into_buffer");
    for (name, every) in [("clean", 0), ("one_per_200_lines", 200)] {
        let (data, expected) = input(50_000, every);
        let mut scratch = redactor.scratch();
        let mut out = Vec::with_capacity(data.len());
        assert_eq!(redactor.redact_into(&data, &mut scratch, &mut out), expected, "{name}");
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                black_box(redactor.redact_into(black_box(&data), &mut scratch, &mut out))
            })
        });
    }
    group.finish();

    // Rule-count scaling: the same clean logs under the first 10, 60 and all rules. Anchors share
    // one automaton, so cost should grow with anchor hits, not with the number of rules.
    let specs: Vec<_> = rules::builtin_sources()
        .iter()
        .flat_map(|s| rules::parse(s).unwrap())
        .collect();
    let (clean, _) = input(50_000, 0);
    let mut group = c.benchmark_group("rule_count");
    group.throughput(Throughput::Bytes(clean.len() as u64));
    for n in [10, 60, specs.len()] {
        let set = RuleSet::compile(specs[..n].to_vec()).unwrap();
        let mut scratch = ScanScratch::new(&set);
        let mut found = Vec::new();
        set.scan(
            &clean,
            0..clean.len(),
            &mut ScanState::default(),
            &mut scratch,
            &mut found,
        );
        assert!(found.is_empty(), "{n} rules: clean input has no credential");
        group.bench_function(format!("{n}_rules_clean"), |b| {
            b.iter(|| {
                found.clear();
                set.scan(
                    black_box(&clean),
                    0..clean.len(),
                    &mut ScanState::default(),
                    &mut scratch,
                    &mut found,
                );
                black_box(found.len())
            })
        });
    }
    group.finish();

    // One 100 MB line with a token every MiB, through the streaming path (windows + overlap).
    let mut line = Vec::with_capacity(100 << 20);
    for _ in 0..100 {
        let start = line.len();
        line.extend_from_slice(b"GET /a?b=c ");
        line.extend_from_slice(b"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 ");
        while line.len() - start < (1 << 20) {
            line.extend_from_slice(b"lorem ipsum dolor sit amet consectetur adipiscing elit ");
        }
    }
    line.push(b'\n');
    let mut group = c.benchmark_group("long_line");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(line.len() as u64));
    let mut stream = tokenscrub::pipe::StreamRedactor::new(&redactor, tokenscrub::pipe::PipeConfig::default());
    group.bench_function("100mb_single_line", |b| {
        b.iter(|| {
            let stats = stream.run(black_box(&line[..]), std::io::sink()).unwrap();
            assert_eq!(stats.secrets, 100);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
