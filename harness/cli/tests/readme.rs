//! The README's tour works as written: every `compbench …` command it shows is run here, in
//! README order, from a scratch directory (suite and example paths point into the repository).
//! The few that take minutes or need other state are listed in [`NOT_RUN_HERE`] with the
//! reason, so a new README command that is neither run nor listed fails this test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Commands this test does not run, and why.
const NOT_RUN_HERE: &[(&str, &str)] = &[
    (
        "compbench reproduce lut-dla",
        "the full reproduction takes over an hour",
    ),
    (
        "compbench reproduce survey",
        "the full cross-family run takes over an hour",
    ),
    (
        "compbench reproduce lut-dla --quick",
        "minutes of training on real data (CI's smoke suite covers the same pipeline)",
    ),
    (
        "compbench reproduce lpvit --quick",
        "minutes of training a d_model-128 ViT on real data",
    ),
    (
        "compbench run suites/survey-quant.yaml --quick",
        "minutes of training on real data",
    ),
    (
        "compbench reproduce survey --quick",
        "minutes of training on real data",
    ),
    (
        "compbench reproduce all --quick",
        "the three papers' quick runs: several minutes of training on real data",
    ),
    (
        "compbench bench kernels",
        "a timing run that loads every core for tens of seconds",
    ),
    (
        "compbench bench models",
        "compresses every model of the lut-dla suite (quick recipes) before timing: minutes",
    ),
    ("compbench data fetch", "unpacks the dataset into ./data"),
    (
        "compbench results merge",
        "needs shard directories; cli.rs's shards_merge_to_the_whole_run runs it",
    ),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The inline `compbench …` commands of the README, in order, without duplicates.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let mut out: Vec<String> = Vec::new();
    for (i, span) in text.split('`').enumerate() {
        // Odd pieces are inside backticks.
        if i % 2 == 1 && span.starts_with("compbench ") && !out.iter().any(|c| c == span) {
            out.push(span.to_string());
        }
    }
    out
}

#[test]
fn every_readme_command_runs_as_written() {
    let commands = readme_commands();
    assert!(
        commands.iter().any(|c| c.starts_with("compbench hw dse")),
        "the README's commands were not found: {commands:?}"
    );
    for (listed, _) in NOT_RUN_HERE {
        assert!(
            commands.iter().any(|c| c == listed),
            "`{listed}` is no longer in the README: drop it from NOT_RUN_HERE"
        );
    }
    let scratch = tempfile::tempdir().unwrap();
    let root = repo_root();
    let mut ran = 0;
    for cmd in &commands {
        if NOT_RUN_HERE.iter().any(|(c, _)| c == cmd) {
            continue;
        }
        // `results/<suite>/<run>` is the smoke run's directory, which an earlier command made.
        let cmd = cmd.replace("results/<suite>/<run>", "results/smoke/quick");
        let args: Vec<String> = cmd
            .split_whitespace()
            .skip(1)
            .map(|a| {
                if a.starts_with("suites/") || a.starts_with("examples/") {
                    root.join(a).display().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_compbench"))
            .args(&args)
            .current_dir(scratch.path())
            .env("CI", "true")
            .env("COMPBENCH_CACHE", scratch.path().join("cache"))
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "`{cmd}` failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "`{cmd}` printed nothing");
        ran += 1;
    }
    assert!(ran >= 6, "only {ran} README commands ran");
}
