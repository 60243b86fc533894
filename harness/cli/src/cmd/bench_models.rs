//! `compbench bench models [SUITE] [--json] [--threads N] [--model ID] [--method LABEL]`: whole
//! deployed models, every compressed variant a suite produces against the dense deployed model
//! of the same network, at batch 1 and batch 256, timed in one process with the same threads.
//!
//! How the models are built: the suite's quick grid (first seed), the quick baseline from the
//! runner's cache (trained once), each method applied in quick mode through the runner's own
//! [`compbench_runner::execute::compress`]. Quick mode shortens fine-tuning and calibration, not
//! what is deployed: the kernels, their shapes and formats are the suite's. The speed of a
//! deployed model does not depend on how long it was trained.
//!
//! How they are timed: for each batch size, a round times the dense model and each compressed
//! model in alternating calls (dense, compressed, compressed, dense, …), and the reported
//! seconds are medians over all calls of the rounds, the speedup the median of the calls'
//! paired ratios. On a shared machine the ratio of back-to-back timings is what means
//! something; the absolute seconds are noisy. (Timing the dense model for a while and then the
//! compressed one let a change of machine speed between the two into the ratio: the ViT's
//! `identity` row, the dense model itself, once read 1.20×.)

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use compbench_nn::DeployedModel;
use compbench_nn::bench::{alternating_seconds, median};
use compbench_runner::execute::{self, Baseline};
use compbench_runner::progress::Silent;
use compbench_suite::{Experiment, Mode, Suite};
use serde::Serialize;

use crate::ui;

/// The suite `bench models` uses when none is given (it has every kernel family the issue's
/// speed targets name: LUT-GEMM, W8A8, W4A4, binary).
const DEFAULT_SUITE_FILE: &str = "suites/lut-dla.yaml";
const DEFAULT_SUITE: &str = include_str!("../../../../suites/lut-dla.yaml");

/// Batch sizes every model is timed at: the latency view and the throughput view.
pub const BATCHES: [usize; 2] = [1, 256];

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// Suite whose deployed models to time (default: suites/lut-dla.yaml, built in).
    pub suite: Option<PathBuf>,
    /// A JSON array of rows instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Threads for timing, the same for dense and compressed models (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Only these model labels (repeatable).
    #[arg(long = "model", value_name = "ID")]
    pub models: Vec<String>,
    /// Only these method labels (repeatable; the dense model is always timed).
    #[arg(long = "method", value_name = "LABEL")]
    pub methods: Vec<String>,
    /// Fewer timing rounds and a shorter budget per timing (a smoke test, not for numbers).
    #[arg(long)]
    pub quick: bool,
    /// Extra directory to look for datasets in. Repeatable.
    #[arg(long = "data-dir", value_name = "D")]
    pub data_dirs: Vec<PathBuf>,
}

/// One row of `compbench bench models --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelBenchRow {
    /// Model label in the suite (`cnn`, `vit`).
    pub model: String,
    /// Method label in the suite (`w8a8`, `lut-metric`, ...).
    pub method: String,
    /// Method id (`ptq`, `lutboost`, ...).
    pub method_id: String,
    /// The method's resolved parameters.
    pub params: compbench_core::Params,
    /// The parameters that differ from the method's defaults, `k=v,...`.
    pub params_label: String,
    pub batch: usize,
    /// Median seconds per forward pass of the compressed model.
    pub seconds: f64,
    /// Median seconds per forward pass of the dense model, in calls alternating with its.
    pub dense_seconds: f64,
    /// Median over the alternating calls of (dense call's seconds / compressed call's): close
    /// to, not always equal to, dense_seconds / seconds.
    pub speedup: f64,
    pub threads: usize,
}

/// Timing settings.
#[derive(Debug, Clone, Copy)]
struct Timing {
    rounds: usize,
    /// Seconds each side (dense, compressed) gets per round at batch 1 and at the larger batch.
    budget_small: f64,
    budget_large: f64,
}

impl Timing {
    fn new(quick: bool) -> Timing {
        if quick {
            Timing {
                rounds: 1,
                budget_small: 0.02,
                budget_large: 0.05,
            }
        } else {
            Timing {
                rounds: 3,
                budget_small: 0.1,
                budget_large: 0.4,
            }
        }
    }

    fn budget(&self, batch: usize) -> f64 {
        if batch == 1 {
            self.budget_small
        } else {
            self.budget_large
        }
    }
}

/// A network's dense model and its compressed variants.
struct Network {
    label: String,
    /// The first [`BATCHES`]-max test images (real inputs: LUT codes depend on the data).
    input: Vec<f32>,
    dense: DeployedModel,
    variants: Vec<(Experiment, DeployedModel)>,
}

fn load_suite(path: Option<&PathBuf>) -> anyhow::Result<Suite> {
    match path {
        Some(p) => super::load_suite_or_exit2(p),
        None => compbench_suite::parse(
            DEFAULT_SUITE_FILE,
            DEFAULT_SUITE,
            &compbench_registry::catalog(),
        )
        .map_err(|errors| {
            super::print_suite_errors(&errors);
            anyhow::anyhow!("the built-in {DEFAULT_SUITE_FILE} does not validate")
        }),
    }
}

/// Build every network's dense and compressed deployed models (quick mode, first seed).
fn build(suite: &Suite, args: &ModelsArgs) -> anyhow::Result<Vec<Network>> {
    let seed = suite.seeds(Mode::Quick).first().copied().unwrap_or(0);
    let mut experiments = suite.experiments(Mode::Quick, Some(seed));
    experiments.retain(|e| args.models.is_empty() || args.models.contains(&e.model.label));
    for m in &args.models {
        if !suite.models.iter().any(|x| &x.label == m) {
            return ui::invalid(format!("the suite has no model `{m}`"));
        }
    }
    for m in &args.methods {
        if !suite.methods.iter().any(|x| &x.label == m) {
            return ui::invalid(format!("the suite has no method labelled `{m}`"));
        }
    }
    let results_root = std::path::Path::new(super::RESULTS_DIR);
    let cache_dir = compbench_runner::default_cache_dir(results_root);
    std::fs::create_dir_all(&cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let locator = compbench_nn::data::locator(&args.data_dirs);
    let mut data = std::collections::BTreeMap::new();
    let mut networks: Vec<Network> = Vec::new();
    let mut baselines: std::collections::BTreeMap<String, Arc<Baseline>> = Default::default();
    let mut seen = BTreeSet::new();
    for e in experiments {
        if !data.contains_key(&e.dataset) {
            let ds = compbench_registry::dataset(&e.dataset)?;
            let mut splits = ds.load(&locator)?;
            if let Some(n) = suite.quick.test_subset {
                splits.test = splits.test.head(n);
            }
            data.insert(e.dataset.clone(), splits);
        }
        let splits = &data[&e.dataset];
        let key = execute::baseline_key(&e);
        if !baselines.contains_key(&key) {
            eprintln!(
                "baseline {} (quick, cached after the first run)",
                e.model.label
            );
            let b = execute::train_baseline(
                &e,
                splits,
                true,
                suite.quick.train_subset,
                &cache_dir,
                &Silent,
            )
            .map_err(anyhow::Error::msg)?;
            let images = BATCHES.into_iter().max().unwrap_or(1);
            if splits.test.len() < images {
                anyhow::bail!(
                    "{}: the test split has {} images, timing needs {images}",
                    e.dataset,
                    splits.test.len()
                );
            }
            networks.push(Network {
                label: e.model.label.clone(),
                input: splits.test.head(images).images,
                dense: b.net.to_deployed(),
                variants: Vec::new(),
            });
            baselines.insert(key.clone(), b);
        }
        // The identity method deploys the dense model itself: keep it, it shows the noise.
        if !args.methods.is_empty() && !args.methods.contains(&e.method.label) {
            continue;
        }
        if !seen.insert((
            e.model.label.clone(),
            e.method.label.clone(),
            e.method.params.label(),
        )) {
            continue;
        }
        let name = execute::experiment_name(&e);
        eprintln!("compressing {name}");
        let c = execute::compress(&e, &baselines[&key], None, splits, true, &Silent)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("building {name}"))?;
        let net = networks
            .iter_mut()
            .find(|n| n.label == e.model.label)
            .expect("network pushed with its baseline");
        net.variants.push((e, c.deployed));
    }
    Ok(networks)
}

/// Time every variant of every network against its dense model.
fn time_all(networks: &[Network], t: Timing, threads: usize) -> Vec<ModelBenchRow> {
    let mut rows = Vec::new();
    for net in networks {
        for &batch in &BATCHES {
            let [c, h, w] = net.dense.input;
            let input = &net.input[..batch * c * h * w];
            let mut pairs = vec![Vec::new(); net.variants.len()];
            for round in 0..t.rounds {
                eprintln!(
                    "timing {} at batch {batch}, round {} of {}",
                    net.label,
                    round + 1,
                    t.rounds
                );
                for (i, (_, model)) in net.variants.iter().enumerate() {
                    pairs[i].extend(time_pairs(&net.dense, model, input, batch, t.budget(batch)));
                }
            }
            for ((e, _), p) in net.variants.iter().zip(&pairs) {
                let dense_seconds = median(p.iter().map(|x| x.0).collect());
                let seconds = median(p.iter().map(|x| x.1).collect());
                let speedup = median(p.iter().map(|x| x.0 / x.1).collect());
                let specs = compbench_registry::method(&e.method.id)
                    .map(|m| m.params())
                    .unwrap_or(&[]);
                rows.push(ModelBenchRow {
                    model: net.label.clone(),
                    method: e.method.label.clone(),
                    method_id: e.method.id.clone(),
                    params: e.method.params.clone(),
                    params_label: execute::non_default_label(&e.method.params, specs),
                    batch,
                    seconds,
                    dense_seconds,
                    speedup,
                    threads,
                });
            }
        }
    }
    rows
}

/// (dense, compressed) seconds of paired forward passes filling about `2 × budget` seconds,
/// after a warm-up call of each ([`alternating_seconds`]).
fn time_pairs(
    dense: &DeployedModel,
    comp: &DeployedModel,
    x: &[f32],
    batch: usize,
    budget: f64,
) -> Vec<(f64, f64)> {
    let forward = |m: &DeployedModel| {
        std::hint::black_box(m.forward(std::hint::black_box(x), batch));
    };
    let warm = alternating_seconds(1, || forward(dense), || forward(comp));
    let one = warm[0].0 + warm[0].1;
    let pairs = ((2.0 * budget / one.max(1e-9)) as usize).clamp(5, 1000);
    alternating_seconds(pairs, || forward(dense), || forward(comp))
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<ExitCode> {
    let suite = load_suite(args.suite.as_ref())?;
    let networks = build(&suite, args)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("cannot start the timing threads")?;
    let threads = pool.current_num_threads();
    let rows = pool.install(|| time_all(&networks, Timing::new(args.quick), threads));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = vec![
        [
            "model", "method", "params", "batch", "time", "dense", "speedup",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in &rows {
        t.push(vec![
            r.model.clone(),
            r.method.clone(),
            if r.params_label.is_empty() {
                "—".into()
            } else {
                r.params_label.clone()
            },
            r.batch.to_string(),
            seconds(r.seconds),
            seconds(r.dense_seconds),
            format!("{:.2}×", r.speedup),
        ]);
    }
    print!("{}", ui::table(&t));
    println!(
        "{threads} thread(s); times are medians over {} round(s) of alternating dense/compressed calls, the speedup the median of their paired ratios",
        Timing::new(args.quick).rounds
    );
    Ok(ExitCode::SUCCESS)
}

fn seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.1} µs", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}
