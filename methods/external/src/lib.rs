//! compbench-external: compression methods in any language, run as external processes.
//!
//! A researcher writes a program (Python, Julia, a shell script...) that reads one JSON
//! request on stdin and writes one JSON response on stdout, plus a `manifest.yaml` that
//! declares its id, command and parameters. The harness then runs it like a native method:
//! suites are validated against the manifest's parameter ranges before anything runs, the
//! returned weights become deployed kernels (accuracy is measured on them), the per-layer
//! fields become Workload IR priced on every hardware model, and results are cached and
//! resumed by the runner. The protocol is specified in docs/external-methods.md.
//!
//! Code map:
//! * [`manifest`]: the manifest schema, checks, and its [`ParamSpec`](compbench_core::ParamSpec)s
//!   (plus the harness's own `timeout_s`).
//! * [`protocol`]: request and response messages of protocol version 1.
//! * [`npy`]: `.npy` writer for the data files.
//! * [`process`]: spawning with a timeout, stdout and stderr captured on threads.
//! * [`method`]: [`ExternalMethod`] (the [`Method`] impl) and the response checks.
//! * [`kernel`]: [`kernel::codebook_gemm`] (indices + codebook, computed in f32) and
//!   [`kernel::declared_gemm`] (verified integer widths, measured block sparsity), both nn's
//!   `AnnotatedGemm` over the dense kernel.
//! * [`discover`]: where the registry finds manifests.
//!
//! Invariants:
//! * Nothing a method returns is trusted: tensors are checked for presence, dtype, shape and
//!   finiteness; a declared codebook or integer width is checked against the values; sparsity
//!   is measured from the zeros, not read from the response. Every error names the method and
//!   the field, and carries the tail of the process's stderr.
//! * A process runs in its manifest's directory, in a fresh temporary work directory that is
//!   removed afterwards, and is killed (only it, by its handle) when `timeout_s` passes.
//! * The test split is never written for a method.

pub mod kernel;
pub mod manifest;
pub mod method;
pub mod npy;
pub mod process;
pub mod protocol;

use std::path::{Path, PathBuf};

use compbench_nn::Method;

pub use manifest::{Manifest, PROTOCOL_VERSION};
pub use method::{BrokenManifest, ExternalMethod};

/// Environment variable listing plugin directories (`:`-separated, like PATH).
pub const PLUGINS_ENV: &str = "COMPBENCH_PLUGINS";

/// The directory scanned when [`PLUGINS_ENV`] is not set, relative to the working directory.
pub const DEFAULT_PLUGINS_DIR: &str = "plugins";

/// Name of a method's manifest inside its directory.
pub const MANIFEST_FILE: &str = "manifest.yaml";

/// The plugin directories: [`PLUGINS_ENV`] when set, else `./plugins` when it exists.
pub fn plugin_dirs() -> Vec<PathBuf> {
    match std::env::var_os(PLUGINS_ENV) {
        Some(v) => std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => {
            let d = PathBuf::from(DEFAULT_PLUGINS_DIR);
            if d.is_dir() { vec![d] } else { Vec::new() }
        }
    }
}

/// Manifests under `dirs`: a directory holding `manifest.yaml` is one method; otherwise each
/// of its subdirectories holding one is (in name order). A path to a `.yaml` file is a manifest.
pub fn manifest_paths(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        if d.is_file() {
            out.push(d.clone());
            continue;
        }
        let own = d.join(MANIFEST_FILE);
        if own.is_file() {
            out.push(own);
            continue;
        }
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        let mut subs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path().join(MANIFEST_FILE)))
            .filter(|p| p.is_file())
            .collect();
        subs.sort();
        out.extend(subs);
    }
    out
}

/// Load one manifest as a registry entry: the method, or a [`BrokenManifest`] named after its
/// directory that carries the error.
pub fn load(path: &Path) -> &'static dyn Method {
    match Manifest::load(path) {
        Ok(manifest) => Box::leak(Box::new(ExternalMethod { manifest })),
        Err(error) => {
            let id = path
                .parent()
                .and_then(|d| d.file_name())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            Box::leak(Box::new(BrokenManifest {
                id: Box::leak(id.into_boxed_str()),
                error: Box::leak(error.into_boxed_str()),
            }))
        }
    }
}

/// Every external method found in [`plugin_dirs`], for the registry (called once per process).
pub fn discover() -> Vec<&'static dyn Method> {
    manifest_paths(&plugin_dirs())
        .iter()
        .map(|p| load(p))
        .collect()
}
