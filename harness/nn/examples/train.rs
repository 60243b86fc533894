//! Train one baseline on Fashion-MNIST and print the `compbench train --json` object.
//! `cargo run --release -p compbench-nn --example train -- cnn [epochs] [threads] [quick]`
//! (the CLI's `compbench train` does the same; this exists for measuring without the CLI).

use compbench_core::Dataset;
use compbench_nn::data::{FashionMnist, locator};
use compbench_nn::models::{ModelConfig, ModelKind};
use compbench_nn::train::{TrainConfig, train_baseline, with_threads};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = ModelKind::parse(args.first().map_or("cnn", |s| s)).expect("mlp|cnn|vit");
    let mut tcfg = TrainConfig::for_model(kind);
    if args.iter().any(|a| a == "quick") {
        tcfg = tcfg.quick();
    }
    if let Some(e) = args.get(1).and_then(|s| s.parse().ok()) {
        tcfg.epochs = e;
    }
    tcfg.threads = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let data = FashionMnist.load(&locator(&[])).expect("Fashion-MNIST");
    let log = |m: &str| eprintln!("{m}");
    let (net, info) =
        train_baseline(&ModelConfig::new(kind), &data, &tcfg, 0, None, &log).expect("training");
    let start = std::time::Instant::now();
    let dep = net.to_deployed();
    let dacc = with_threads(tcfg.threads, || dep.accuracy(&data.test));
    let dep_s = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "model": kind.name(), "epochs": tcfg.epochs, "epoch_s": info.epoch_s, "train_s": info.train_s,
            "test_accuracy": info.test_accuracy, "params": net.num_params(), "threads": tcfg.threads,
            "quick": tcfg.quick, "deployed_accuracy": dacc, "deployed_eval_s": dep_s,
        })
    );
}
