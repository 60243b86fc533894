//! Adding a method and a hardware model the documented way (docs/adding-a-method.md) is enough
//! for both to be listed, validated in a suite and run: nothing else in the tree names plugins.
//!
//! The test copies the workspace into a temporary directory, adds a throwaway method crate with
//! its one registry line (and the registry's dependency on it), adds a throwaway hardware model
//! file with its lines in hwmodels' list, builds that copy and drives its binary. Building the
//! copy takes minutes (15 on 2 cores: the copy's crates, and the dependencies whose features
//! differ between a `--bin` build and the workspace's test build), so `cargo test` skips it and
//! .ci/run runs it alone: `cargo test --release --workspace --test plugin_scaffold -- --ignored`.
//! The inner build shares the target dir: cargo releases its lock once the outer build is done.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Copy the files git knows about (tracked, and untracked but not ignored) from `from` to `to`.
fn copy_tree(from: &Path, to: &Path) {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(from)
        .output()
        .expect("git");
    assert!(out.status.success(), "git ls-files failed");
    for rel in out.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let src = from.join(rel);
        if !src.is_file() {
            continue; // deleted in the work tree
        }
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap();
    }
}

/// Insert `line` after the first line of `file` containing `anchor`.
fn insert_after(file: &Path, anchor: &str, line: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let at = text
        .find(anchor)
        .unwrap_or_else(|| panic!("{}: no `{anchor}`", file.display()));
    let eol = at + text[at..].find('\n').unwrap() + 1;
    let out = format!("{}{line}\n{}", &text[..eol], &text[eol..]);
    std::fs::write(file, out).unwrap();
}

const METHOD_TOML: &str = r#"[package]
name = "compbench-throwaway"
version.workspace = true
edition.workspace = true

[dependencies]
compbench-core.workspace = true
compbench-nn.workspace = true
"#;

const METHOD_RS: &str = r#"use std::collections::BTreeMap;
use compbench_core::{Family, ParamSpec, Params};
use compbench_nn::{Compressed, Method, MethodCtx, MethodError};

pub struct Throwaway;
pub static THROWAWAY: Throwaway = Throwaway;
const PARAMS: &[ParamSpec] = &[ParamSpec::int("knob", 1, 1, 3, "a knob with a range")];

impl Method for Throwaway {
    fn id(&self) -> &'static str { "throwaway" }
    fn describe(&self) -> &'static str { "a method added by the plugin scaffold test" }
    fn family(&self) -> Option<Family> { Some(Family::Pruning) }
    fn params(&self) -> &'static [ParamSpec] { PARAMS }
    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let mut metrics = BTreeMap::new();
        metrics.insert("knob_seen".to_string(), params.int("knob") as f64);
        Ok(Compressed { deployed: ctx.baseline.to_deployed(), metrics, notes: Vec::new() })
    }
}

pub fn all() -> &'static [&'static dyn Method] {
    static ALL: [&dyn Method; 1] = [&THROWAWAY];
    &ALL
}
"#;

const HW_RS: &str = r#"//! A hardware model added by the plugin scaffold test: one cycle and one picojoule per MAC.
use compbench_core::{HwDesign, HwModelEntry, HwReport, Layer, ParamSpec};

pub static THROWAWAY_HW: HwModelEntry = HwModelEntry {
    id: "throwaway-hw",
    describe: "one cycle and one pJ per MAC (plugin scaffold test)",
    params: PARAMS,
    build: |p| Ok(Box::new(PerMac { ghz: p.float("ghz") })),
};
const PARAMS: &[ParamSpec] = &[ParamSpec::float("ghz", 1.0, 0.1, 5.0, "clock")];

struct PerMac { ghz: f64 }

impl HwDesign for PerMac {
    fn eval_layer(&self, layer: &Layer) -> HwReport {
        let macs = layer.as_gemm().map_or(0, |g| g.macs()) as f64 * layer.repeats as f64;
        let mut r = HwReport::zero(self.area_um2());
        r.cycles = macs;
        r.latency_s = macs / (self.ghz * 1e9);
        r.energy_pj = macs;
        r.macs = macs;
        r.peak_macs_per_cycle = 1.0;
        r
    }
    fn area_um2(&self) -> f64 { 1.0 }
}
"#;

const SUITE: &str = "schema_version: 1
name: scaffold
models:
  - id: mlp
    params: { epochs: 1 }
datasets: [synthetic]
methods:
  - id: throwaway
    params: { knob: [1, 3] }
hwmodels:
  - id: throwaway-hw
seeds: [0]
";

#[test]
#[ignore = "copies and builds the workspace (minutes); run it alone with --ignored"]
fn a_method_and_a_hwmodel_added_the_documented_way_list_validate_and_run() {
    let root = workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    copy_tree(&root, &ws);

    // A method: one crate + one registry line + the registry's dependency.
    std::fs::create_dir_all(ws.join("methods/throwaway/src")).unwrap();
    std::fs::write(ws.join("methods/throwaway/Cargo.toml"), METHOD_TOML).unwrap();
    std::fs::write(ws.join("methods/throwaway/src/lib.rs"), METHOD_RS).unwrap();
    insert_after(
        &ws.join("harness/registry/src/lib.rs"),
        "// One line per method crate:",
        "            .chain(compbench_throwaway::all().iter().copied())",
    );
    insert_after(
        &ws.join("harness/registry/Cargo.toml"),
        "# One line per method crate",
        "compbench-throwaway = { path = \"../../methods/throwaway\" }",
    );
    // A hardware model: one file + one line in hwmodels' list.
    std::fs::write(ws.join("hwmodels/src/throwaway.rs"), HW_RS).unwrap();
    insert_after(
        &ws.join("hwmodels/src/lib.rs"),
        "// One line per hardware model",
        "    throwaway::THROWAWAY_HW,",
    );

    // Build the copy into the shared target dir (dependencies are reused); the copy's binary
    // replaces target/release/compbench, so keep the real one and put it back afterwards.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let real_bin = target.join("release/compbench");
    let saved = std::fs::read(&real_bin).ok();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "compbench"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    let bin = tmp.path().join("compbench-scaffold");
    let copied = std::fs::copy(&real_bin, &bin);
    if let Some(bytes) = saved {
        std::fs::write(&real_bin, bytes).unwrap();
    }
    assert!(status.success(), "the scaffolded workspace does not build");
    copied.unwrap();

    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .args(args)
            .current_dir(&ws)
            .env("CI", "true")
            .env("COMPBENCH_CACHE", tmp.path().join("cache"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, listed) = run(&["list", "methods"]);
    assert_eq!(code, Some(0), "{listed}");
    assert!(listed.contains("throwaway"), "{listed}");
    let (_, listed) = run(&["list", "hwmodels"]);
    assert!(listed.contains("throwaway-hw"), "{listed}");

    std::fs::write(ws.join("scaffold.yaml"), SUITE).unwrap();
    let (code, out) = run(&["validate", "scaffold.yaml"]);
    assert_eq!(code, Some(0), "{out}");
    std::fs::write(ws.join("bad.yaml"), SUITE.replace("[1, 3]", "7")).unwrap();
    let (code, out) = run(&["validate", "bad.yaml"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("bad.yaml:") && out.contains("knob"), "{out}");

    let (code, out) = run(&["run", "scaffold.yaml", "--quick", "--out", "out"]);
    assert_eq!(code, Some(0), "{out}");
    let rows = std::fs::read_to_string(ws.join("out/rows.csv")).unwrap();
    assert_eq!(rows.lines().count(), 3, "{rows}");
    assert!(
        rows.contains("throwaway-hw")
            && rows.contains("method_knob_seen")
            && rows.contains(",pruning,"),
        "{rows}"
    );
}
