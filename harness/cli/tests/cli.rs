//! End-to-end tests of the `compbench` binary on the synthetic dataset: exit codes, resume
//! after SIGKILL, the results-directory lock, shards + merge.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn suite_text(name: &str, seeds: usize, epochs: usize) -> String {
    let seeds: Vec<String> = (0..seeds).map(|s| s.to_string()).collect();
    format!(
        "schema_version: 1\nname: {name}\nmodels:\n  - id: mlp\n    params: {{ epochs: {epochs} }}\ndatasets: [synthetic]\n\
         methods:\n  - id: identity\nhwmodels:\n  - id: systolic\n    label: int8-systolic\n    params: {{ rows: 16, cols: 16 }}\n\
         seeds: [{}]\n",
        seeds.join(", ")
    )
}

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_compbench"));
        c.args(args)
            .current_dir(self.path())
            .env("CI", "true")
            .env("COMPBENCH_CACHE", self.path().join("cache"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn journal_records(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("experiments.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn csv_rows(dir: &Path) -> Vec<Vec<String>> {
    // Our cells contain no commas or newlines except quoted ones in cpu/os; split on the
    // header's positions is enough for the `experiment` column (third).
    std::fs::read_to_string(dir.join("rows.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn validate_exit_codes_and_messages() {
    let sb = Sandbox::new();
    let good = sb.write("good.yaml", &suite_text("good", 2, 1));
    let bad = sb.write(
        "bad.yaml",
        &suite_text("bad", 2, 1).replace("- id: identity", "- id: idnetity"),
    );
    let out = sb.run(&["validate", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 experiments"),
        "{}",
        text(&out.stdout)
    );
    let out = sb.run(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "bad.yaml:8:9: methods[0].id: unknown method `idnetity` (valid ids are: identity"
        ),
        "{err}"
    );
    // `run` refuses it before any work, also with exit 2.
    let out = sb.run(&["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !sb.path().join("results").exists(),
        "nothing may be written for an invalid suite"
    );
    // Pricing batches are counted when there is more than batch 1.
    let batched = sb.write(
        "batched.yaml",
        &suite_text("batched", 2, 1).replace("seeds:", "hw_batch: [1, 16]\nseeds:"),
    );
    let out = sb.run(&["validate", batched.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("× 1 hardware configuration(s) × 2 pricing batches (1, 16)"),
        "{}",
        text(&out.stdout)
    );
    assert!(!text(&sb.run(&["validate", good.to_str().unwrap()]).stdout).contains("batch"));
    // JSON for scripts.
    let out = sb.run(&["validate", "--json", bad.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["valid"], false);
    assert_eq!(v[0]["errors"][0]["field"], "methods[0].id");
}

#[test]
fn killed_run_resumes_without_losing_or_duplicating_rows() {
    let sb = Sandbox::new();
    let n = 8;
    let suite = sb.write("resume.yaml", &suite_text("resume", n, 3));
    let out = sb.path().join("out");
    let args = [
        "run",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "1",
    ];
    let mut child = sb
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Kill it (SIGKILL) once a couple of experiments are journaled.
    let t0 = Instant::now();
    let mut contended = false;
    loop {
        let done = journal_records(&out).len();
        if done >= 1 && !contended {
            // While it runs, a second run into the same directory is refused (exit 2).
            let second = sb.run(&args);
            assert_eq!(second.status.code(), Some(2), "{}", text(&second.stderr));
            assert!(
                text(&second.stderr).contains("in use by another compbench run"),
                "{}",
                text(&second.stderr)
            );
            contended = true;
        }
        if done >= 2 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be killed"
        );
        assert!(t0.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = journal_records(&out).len();
    assert!(
        before < n,
        "kill landed after the run finished ({before} records)"
    );
    assert!(
        !out.join("rows.parquet").exists(),
        "the killed run never got to write its table"
    );

    // The same command again completes the rest.
    let again = sb.run(&args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let stdout = text(&again.stdout);
    assert!(stdout.contains(&format!("{before} cached")), "{stdout}");

    let records = journal_records(&out);
    let mut keys: Vec<&str> = records.iter().map(|r| r["key"].as_str().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "every experiment journaled exactly once");
    assert_eq!(records.len(), n, "no experiment ran twice");
    let rows = csv_rows(&out);
    assert_eq!(rows.len(), n, "one row per experiment × 1 hardware config");
    let mut exps: Vec<&str> = rows.iter().map(|r| r[2].as_str()).collect();
    exps.sort();
    exps.dedup();
    assert_eq!(exps.len(), n);

    // A third run is all cache hits.
    let third = sb.run(&args);
    assert!(third.status.success());
    assert!(
        text(&third.stdout).contains(&format!("{n} cached, 0 ran")),
        "{}",
        text(&third.stdout)
    );
}

#[test]
fn shards_merge_to_the_whole_run() {
    let sb = Sandbox::new();
    let suite = sb.write("sh.yaml", &suite_text("sh", 3, 1));
    let s = suite.to_str().unwrap();
    let whole = sb.run(&["run", s, "--jobs", "2"]);
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let whole_dir = sb.path().join("results/sh/full");
    for i in 0..2 {
        let out = sb.run(&["run", s, "--shard", &format!("{i}/2"), "--jobs", "2"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let merged = sb.run(&[
        "results",
        "merge",
        "results/sh/full-shard0of2",
        "results/sh/full-shard1of2",
    ]);
    assert!(merged.status.success(), "{}", text(&merged.stderr));
    let merged_dir = sb.path().join("results/sh/merged");
    let ids = |d: &Path| {
        let mut v: Vec<String> = csv_rows(d).into_iter().map(|r| r[2].clone()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&merged_dir), ids(&whole_dir));
    assert_eq!(ids(&whole_dir).len(), 3);
    // Bad shard syntax is invalid input.
    let out = sb.run(&["run", s, "--shard", "2/2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_and_reproduce_list_work() {
    let sb = Sandbox::new();
    let out = sb.run(&["list", "methods", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.as_array().unwrap().iter().any(|m| m["id"] == "identity"));
    let out = sb.run(&["list", "hwmodels"]);
    assert!(text(&out.stdout).contains("systolic"));
    let out = sb.run(&["reproduce", "--list"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("lpvit"));
    // Outside the repository the paper's suite files are missing: refused before any work.
    let out = sb.run(&["reproduce", "lpvit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("suites/lpvit.yaml: not found"),
        "{}",
        text(&out.stderr)
    );
}

/// Send SIGINT to a spawned binary (what Ctrl-C in a terminal does).
#[cfg(unix)]
fn sigint(child: &std::process::Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill -INT failed");
}

#[cfg(unix)]
fn wait_for_records(out: &Path, n: usize, child: &mut std::process::Child) {
    let t0 = Instant::now();
    while journal_records(out).len() < n {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it could be interrupted"
        );
        assert!(t0.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every journal line is a whole record (nothing torn).
fn journal_is_valid(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("experiments.jsonl")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    for l in &lines {
        serde_json::from_str::<serde_json::Value>(l).expect("a whole journal line");
    }
    lines.len()
}

#[cfg(unix)]
#[test]
fn ctrl_c_finishes_cleanly_writes_the_table_and_resumes() {
    let sb = Sandbox::new();
    let n = 8;
    let suite = sb.write("int.yaml", &suite_text("int", n, 3));
    let out = sb.path().join("out");
    let args = [
        "run",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "1",
    ];
    let mut child = sb
        .cmd(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_records(&out, 1, &mut child);
    sigint(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let done = journal_is_valid(&out);
    assert!((1..n).contains(&done), "{done} of {n} journaled: {stderr}");
    assert!(
        stderr.contains(&format!(
            "interrupted: {done} of {n} done; run the same command to resume"
        )),
        "{stderr}"
    );
    // The table of what finished is written.
    assert_eq!(csv_rows(&out).len(), done);

    // The same command resumes and completes the rest.
    let again = sb.run(&args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains(&format!("{done} cached, {} ran", n - done)),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(journal_is_valid(&out), n);
}

#[cfg(unix)]
#[test]
fn a_second_ctrl_c_exits_at_once_with_a_valid_journal() {
    let sb = Sandbox::new();
    let n = 8;
    let suite = sb.write("int2.yaml", &suite_text("int2", n, 3));
    let out = sb.path().join("out");
    let args = [
        "run",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "1",
    ];
    let mut child = sb
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_records(&out, 1, &mut child);
    sigint(&child);
    std::thread::sleep(Duration::from_millis(50));
    sigint(&child);
    let t0 = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "it did not exit at once"
    );
    let done = journal_is_valid(&out);
    assert!(done < n);
    let again = sb.run(&args);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(journal_is_valid(&out), n);
}

#[test]
fn a_torn_journal_line_is_reported_once_and_compacted() {
    let sb = Sandbox::new();
    let suite = sb.write("torn.yaml", &suite_text("torn", 2, 1));
    let out = sb.path().join("out");
    let args = [
        "run",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    assert!(sb.run(&args).status.success());
    // Keep the first record and tear the second, as a kill mid-write would.
    let path = out.join("experiments.jsonl");
    let journal = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    assert_eq!(lines.len(), 2);
    std::fs::write(&path, format!("{}\n{}", lines[0], &lines[1][..20])).unwrap();

    let second = sb.run(&args);
    assert!(second.status.success(), "{}", text(&second.stderr));
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains("dropped 1 torn journal line(s)") && stderr.contains("1 experiment(s) ran"),
        "{stderr}"
    );
    assert_eq!(journal_is_valid(&out), 2, "compacted: two whole records");
    let third = sb.run(&args);
    assert!(third.status.success());
    assert!(
        !text(&third.stderr).contains("torn journal line"),
        "{}",
        text(&third.stderr)
    );
}

#[cfg(unix)]
#[test]
fn a_read_only_results_directory_says_cannot_create() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let suite = sb.write("ro.yaml", &suite_text("ro", 1, 1));
    let ro = sb.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"x").is_ok() {
        eprintln!("skipped: this user (root?) can write into a read-only directory");
        return;
    }
    let out = ro.join("run");
    let r = sb.run(&[
        "run",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = text(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot create {}", out.display())),
        "{stderr}"
    );
    assert!(!stderr.contains(".lock"), "{stderr}");
}

#[test]
fn hw_eval_refuses_a_gemm_whose_size_overflows() {
    let sb = Sandbox::new();
    let r = sb.run(&[
        "hw",
        "eval",
        "--model",
        "systolic",
        "--gemm",
        "99999999999,99999999,9999999",
    ]);
    let stderr = text(&r.stderr);
    assert!(!r.status.success(), "{}", text(&r.stdout));
    assert!(
        stderr.contains("--gemm `99999999999,99999999,9999999`: too large")
            && stderr.contains("M·K·N = 99999999999 × 99999999 × 9999999 overflows 64 bits"),
        "{stderr}"
    );
    assert!(
        r.stdout.is_empty(),
        "no numbers are printed: {}",
        text(&r.stdout)
    );
}

/// A SCALE-Sim user compares traffic, not only cycles: `hw eval --json` carries the access
/// counts under SCALE-Sim's names (values checked against its golden trace in
/// hwmodels/tests/systolic.rs).
#[test]
fn hw_eval_json_carries_scalesim_access_counts() {
    let sb = Sandbox::new();
    let r = sb.run(&[
        "hw",
        "eval",
        "--model",
        "systolic",
        "--param",
        "dataflow=ws",
        "--gemm",
        "3025,363,96",
        "--json",
    ]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let counts = &v["breakdown"]["counts"];
    assert_eq!(counts["sram_ifmap_reads"], 3_294_225.0, "{v}");
    assert_eq!(counts["sram_filter_reads"], 34_848.0, "{v}");
    assert_eq!(counts["sram_ofmap_writes"], 3_484_800.0, "{v}");
    assert_eq!(counts["folds"], 36.0, "{v}");
    assert!(counts["dram_ifmap_bytes"].as_f64().unwrap() > 0.0, "{v}");
    assert!((counts["mapping_efficiency"].as_f64().unwrap() - 0.945_312_5).abs() < 1e-12);
}

/// `bench models --json`: one row per compressed variant (identity included, the dense model
/// itself) and batch, each with both sides' times and their paired ratio. Structure only; the
/// ratios are timings, which tests do not judge.
#[test]
fn bench_models_json_has_a_paired_row_per_variant_and_batch() {
    let sb = Sandbox::new();
    let suite = sb.write(
        "bm.yaml",
        &suite_text("bm", 1, 1).replace(
            "  - id: identity\n",
            "  - id: identity\n  - id: ptq\n    label: w8a8\n    params: { w_bits: 8, a_bits: 8 }\n",
        ),
    );
    let out = sb.run(&[
        "bench",
        "models",
        suite.to_str().unwrap(),
        "--quick",
        "--json",
        "--threads",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut seen: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["batch"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    let want: Vec<(String, u64)> = [
        ("identity", 1),
        ("identity", 256),
        ("w8a8", 1),
        ("w8a8", 256),
    ]
    .iter()
    .map(|(m, b)| (m.to_string(), *b))
    .collect();
    assert_eq!(seen, want, "{rows:?}");
    for r in &rows {
        for field in ["seconds", "dense_seconds", "speedup"] {
            let v = r[field].as_f64().unwrap();
            assert!(v.is_finite() && v > 0.0, "{field} of {r}");
        }
        assert_eq!(r["model"], "mlp");
        assert_eq!(r["threads"], 1);
    }
}
