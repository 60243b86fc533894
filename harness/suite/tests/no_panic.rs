//! Mutated suites never panic: the same property the cargo-fuzz target (fuzz/) checks, as a
//! deterministic loop that runs under `cargo test` on stable.

mod common;

use common::{GOOD, catalog};
use compbench_core::seed::Rng;
use compbench_suite::{Mode, parse};

/// Tokens that tend to reach interesting paths: YAML syntax, grid shapes, edge numbers.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "\n",
    "  ",
    "~",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "'",
    "\"",
    "#",
    "---\n",
    "...",
    "zip:",
    "params:",
    "label: x",
    "id: ptq",
    "[]",
    "{}",
    "-1",
    "99999999999999999999",
    "1e309",
    ".nan",
    "0x10",
    "true",
    "é",
    "\t",
    "w_bits",
    "quick:",
    "seeds:",
    "hw_batch: ",
    "1.5",
];

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = if s.is_empty() {
            0
        } else {
            rng.below(s.len() + 1)
        };
        match rng.below(4) {
            0 if !s.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                s.splice(at..at, t.chars());
            }
            2 if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] = char::from(rng.below(128) as u8);
            }
            _ => {
                // Duplicate a slice elsewhere (repeats keys, nests structures).
                if !s.is_empty() {
                    let a = rng.below(s.len());
                    let b = (a + rng.below(40)).min(s.len());
                    let piece: Vec<char> = s[a..b].to_vec();
                    s.splice(at..at, piece);
                }
            }
        }
    }
    s.into_iter().collect()
}

#[test]
fn mutated_suites_never_panic() {
    let cat = catalog();
    let mut rng = Rng::new(20261127);
    let iterations: usize = std::env::var("SUITE_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..iterations {
        let src = mutate(&mut rng, GOOD);
        match parse("m.yaml", &src, &cat) {
            Ok(s) => {
                valid += 1;
                let _ = s.experiments(Mode::Full, None);
                let _ = s.experiments(Mode::Quick, Some(3));
            }
            Err(e) => {
                invalid += 1;
                for d in e.iter() {
                    // Every diagnostic has a location unless the file itself is the problem.
                    assert!(d.line > 0 && d.col > 0, "no location for {d} in:\n{src}");
                }
            }
        }
    }
    assert!(
        valid > 0 && invalid > 0,
        "mutations should produce both: {valid} valid, {invalid} invalid"
    );
}
