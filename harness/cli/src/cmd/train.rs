//! `compbench train --model mlp|cnn|vit [--epochs N] [--threads T] [--quick] [--no-cache] [--json]`:
//! train (or load from the cache) one float baseline on Fashion-MNIST and report it.

use std::path::PathBuf;

use anyhow::Context;
use compbench_core::Dataset;
use compbench_nn::data::{FashionMnist, locator};
use compbench_nn::models::{ModelConfig, ModelKind};
use compbench_nn::train::{TrainConfig, train_baseline};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Model to train: mlp, cnn or vit.
    #[arg(long, value_parser = ["mlp", "cnn", "vit"])]
    pub model: String,
    /// Override the recipe's epoch count.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The quick recipe (1 epoch on 12 800 examples); for smoke tests, not for numbers.
    #[arg(long)]
    pub quick: bool,
    /// Train even if a cached checkpoint exists (and do not write one).
    #[arg(long)]
    pub no_cache: bool,
    /// Baseline cache directory (default: the one `compbench run` uses, `$COMPBENCH_CACHE` or
    /// results/.cache, so a baseline trained by either command serves both).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Seed of initialization and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TrainArgs, data_dirs: &[PathBuf]) -> anyhow::Result<()> {
    let kind =
        ModelKind::parse(&args.model).with_context(|| format!("unknown model `{}`", args.model))?;
    let cfg = ModelConfig::new(kind);
    let mut tcfg = TrainConfig::for_model(kind);
    if args.quick {
        tcfg = tcfg.quick();
    }
    if let Some(e) = args.epochs {
        tcfg.epochs = e;
    }
    tcfg.threads = args.threads.unwrap_or(0);
    let data = FashionMnist.load(&locator(data_dirs))?;
    let quiet = args.json;
    let log = move |m: &str| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let cache_dir = args.cache_dir.clone().unwrap_or_else(|| {
        compbench_runner::default_cache_dir(std::path::Path::new(super::RESULTS_DIR))
    });
    let cache = (!args.no_cache).then_some(cache_dir.as_path());
    let (net, info) = train_baseline(&cfg, &data, &tcfg, args.seed, cache, &log)?;
    let out = serde_json::json!({
        "model": kind.name(),
        "epochs": tcfg.epochs,
        "epoch_s": info.epoch_s,
        "train_s": info.train_s,
        "test_accuracy": info.test_accuracy,
        "params": net.num_params(),
        "threads": if tcfg.threads == 0 { rayon_threads() } else { tcfg.threads },
        "quick": tcfg.quick,
        "cached": info.cached,
    });
    if args.json {
        println!("{out}");
    } else {
        println!(
            "{}: test accuracy {:.2} %, {} epochs, {:.1} s/epoch, {:.0} s total{}",
            kind.name(),
            100.0 * info.test_accuracy,
            tcfg.epochs,
            info.epoch_s,
            info.train_s,
            if info.cached { " (cached)" } else { "" }
        );
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
