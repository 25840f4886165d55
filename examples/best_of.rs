//! Best-of-N throughput of the scan core on one file, for comparing two builds of a small change
//! on a shared, noisy machine: other tenants only ever slow a run down, so the fastest of many
//! short runs is the steadiest figure (criterion's mean moves by 10-20% here from one run to the
//! next). Each run redacts the file `REPS` times with `redact_to` into a sink, as the stream
//! does, in blocks of `BLOCK` bytes cut at line ends.
//!
//! ```text
//! python3 scripts/gen-bench-lines.py 0 | head -2400 > clean.log   # the criterion bench's clean lines
//! cargo run --release --example best_of -- clean.log [BLOCK=262144] [RUNS=60] [MB_PER_RUN=20]
//! ```

use std::io::sink;
use std::time::Instant;

use tokenscrub::RedactorBuilder;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: best_of FILE [BLOCK] [RUNS] [MB_PER_RUN]");
    let number = |arg: Option<String>, default: usize| arg.map_or(default, |a| a.parse().expect("a number"));
    let block = number(args.next(), 256 * 1024).max(1);
    let runs = number(args.next(), 60).max(1);
    let mb_per_run = number(args.next(), 20).max(1);
    let input = std::fs::read(&path).expect("readable input");
    let redactor = RedactorBuilder::new()
        .build(b"best_of example key, not a secret!!")
        .expect("the catalogue builds");
    let mut blocks = Vec::new();
    let mut rest = &input[..];
    while !rest.is_empty() {
        let cut = match rest.len() > block {
            true => rest[..block]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1),
            false => rest.len(),
        };
        let (head, tail) = rest.split_at(cut);
        blocks.push(head);
        rest = tail;
    }
    let mut scratch = redactor.scratch();
    let reps = (mb_per_run * 1_000_000).div_ceil(input.len().max(1));
    let mut best = f64::MAX;
    let mut found = 0;
    for _ in 0..runs {
        let start = Instant::now();
        found = 0;
        for _ in 0..reps {
            for block in &blocks {
                found += redactor
                    .redact_to(block, &mut scratch, &mut sink())
                    .expect("a sink takes all");
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{path}: {} bytes in blocks of {block}, {reps} passes a run, best of {runs}: {:.3} GB/s ({} findings a run)",
        input.len(),
        (reps * input.len()) as f64 / best / 1e9,
        found
    );
}
