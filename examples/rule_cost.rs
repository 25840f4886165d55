//! Where scan time goes, rule by rule: redacts FILE once with each rule alone and prints the
//! rules that cost the most, with their finding counts. Usage:
//!
//! ```text
//! cargo run --release --example rule_cost -- FILE [TOP]
//! ```

use std::time::Instant;

use tokenscrub::RedactorBuilder;
use tokenscrub::rules::Selection;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: rule_cost FILE [TOP]");
    let top: usize = args.next().map_or(20, |n| n.parse().expect("TOP is a number"));
    let input = std::fs::read(&path).expect("readable input");
    let key = b"rule_cost example key, not a secret!";
    let all = RedactorBuilder::new().build(key).expect("the catalogue builds");
    let mut costs = Vec::new();
    let mut out = Vec::with_capacity(input.len() * 2);
    for rule in all.rules().rules() {
        let one = RedactorBuilder::new()
            .structured(false)
            .select(Selection {
                enable: vec![rule.id.clone()],
                disable: Vec::new(),
            })
            .build(key)
            .expect("one rule builds");
        let mut scratch = one.scratch();
        out.clear();
        one.redact_into(&input, &mut scratch, &mut out); // warm the caches
        out.clear();
        let started = Instant::now();
        let found = one.redact_into(&input, &mut scratch, &mut out);
        costs.push((started.elapsed(), rule.id.clone(), found));
    }
    costs.sort_by_key(|c| std::cmp::Reverse(c.0));
    let total: f64 = costs.iter().map(|c| c.0.as_secs_f64()).sum();
    println!(
        "{} rules alone on {} ({} bytes): {total:.3} s in all",
        costs.len(),
        path,
        input.len()
    );
    for (elapsed, id, found) in costs.iter().take(top) {
        let share = 100.0 * elapsed.as_secs_f64() / total;
        println!(
            "{:>9.3} ms {share:>5.1}%  {id:<40} {found} findings",
            elapsed.as_secs_f64() * 1e3
        );
    }
}
