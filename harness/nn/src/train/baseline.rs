//! Trained float baselines, cached on disk so each trains once per machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use compbench_core::Splits;
use serde::{Deserialize, Serialize};

use super::{TrainConfig, checkpoint, evaluate, fit_dense};
use crate::hooks::DenseHooks;
use crate::models::{ModelConfig, Network};

/// Facts about a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineInfo {
    pub test_accuracy: f64,
    /// Training wall time (of the run that produced the checkpoint, when cached).
    pub train_s: f64,
    /// Mean seconds per epoch.
    pub epoch_s: f64,
    pub epochs: usize,
    pub params: usize,
    /// True when loaded from the cache instead of trained now.
    pub cached: bool,
    /// The cache key (hex), also the checkpoint's file stem.
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid model configuration: {0}")]
    Config(#[from] compbench_core::ParamError),
    #[error("baseline cache {path}: {message}")]
    Cache { path: String, message: String },
}

/// blake3 of (model config, data fingerprint, seed, recipe without `threads`, crate version).
pub fn baseline_cache_key(
    cfg: &ModelConfig,
    data: &Splits,
    tcfg: &TrainConfig,
    seed: u64,
) -> String {
    let doc = serde_json::json!({
        "model": cfg,
        "data": data.fingerprint,
        "seed": seed,
        "train": tcfg,
        "version": env!("CARGO_PKG_VERSION"),
        "format": 1,
    });
    blake3::hash(doc.to_string().as_bytes()).to_hex()[..32].to_string()
}

fn checkpoint_path(dir: &Path, cfg: &ModelConfig, key: &str) -> PathBuf {
    dir.join("baselines")
        .join(format!("{}-{key}.safetensors", cfg.kind.name()))
}

/// Train `cfg` on `data.train` with `tcfg` (or load it from `cache_dir`), and measure test
/// accuracy. The returned network lives on the plain (non-autodiff) flex device.
pub fn train_baseline(
    cfg: &ModelConfig,
    data: &Splits,
    tcfg: &TrainConfig,
    seed: u64,
    cache_dir: Option<&Path>,
    log: &(dyn Fn(&str) + Sync),
) -> Result<(Network, BaselineInfo), TrainError> {
    cfg.validate()?;
    let device = Device::flex();
    let key = baseline_cache_key(cfg, data, tcfg, seed);
    let fresh = Network::new(
        &ModelConfig {
            classes: data.classes,
            ..cfg.clone()
        },
        &device,
        seed,
    );
    if let Some(dir) = cache_dir {
        let path = checkpoint_path(dir, cfg, &key);
        if path.is_file() {
            match load_cached(fresh.clone(), &path) {
                Ok((net, mut info)) => {
                    log(&format!(
                        "baseline {} loaded from {}",
                        cfg.label(),
                        path.display()
                    ));
                    info.cached = true;
                    return Ok((net, info));
                }
                // A damaged cache entry is retrained, not fatal.
                Err(e) => log(&format!("ignoring damaged cache entry: {e}")),
            }
        }
    }
    log(&format!(
        "training baseline {} ({} epochs{})",
        cfg.label(),
        tcfg.epochs,
        if tcfg.quick { ", quick" } else { "" }
    ));
    let start = Instant::now();
    let (net, tlog) = fit_dense(fresh, tcfg, &data.train, &device, seed, log);
    let train_s = start.elapsed().as_secs_f64();
    let net = net.valid();
    let test_accuracy = super::with_threads(tcfg.threads, || {
        evaluate(|x| net.forward(x, &DenseHooks), &data.test, &device)
    });
    let info = BaselineInfo {
        test_accuracy,
        train_s,
        epoch_s: tlog.epoch_s(),
        epochs: tcfg.epochs,
        params: net.num_params(),
        cached: false,
        key: key.clone(),
    };
    log(&format!(
        "baseline {}: test accuracy {:.2} %",
        cfg.label(),
        100.0 * test_accuracy
    ));
    if let Some(dir) = cache_dir {
        let path = checkpoint_path(dir, cfg, &key);
        let mut meta = BTreeMap::new();
        meta.insert(
            "info".to_string(),
            serde_json::to_string(&info).expect("serializable"),
        );
        meta.insert(
            "model".to_string(),
            serde_json::to_string(cfg).expect("serializable"),
        );
        meta.insert(
            "train".to_string(),
            serde_json::to_string(tcfg).expect("serializable"),
        );
        checkpoint::save(&net, &path, meta).map_err(|e| TrainError::Cache {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    }
    Ok((net, info))
}

fn load_cached(fresh: Network, path: &Path) -> Result<(Network, BaselineInfo), String> {
    let meta = checkpoint::metadata(path)?;
    let info: BaselineInfo = serde_json::from_str(meta.get("info").ok_or("no `info` metadata")?)
        .map_err(|e| e.to_string())?;
    let net = checkpoint::load(fresh, path)?;
    Ok((net, info))
}
