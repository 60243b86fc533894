//! Accuracy of LUTBoost on Fashion-MNIST with the quick recipe (development aid; the suite is the
//! real experiment). Baselines are cached under /tmp/compbench-lutboost-cache.
//! `cargo run --release -p compbench-lutboost --example fmnist_accuracy -- MODEL k=v ...`
//! e.g. `-- cnn metric=l1 v=4 c=16 stages=4`.
use std::collections::BTreeMap;
use std::time::Instant;

use compbench_core::{Dataset, Params, Value};
use compbench_lutboost::LUTBOOST;
use compbench_nn::method::{Method, MethodCtx};
use compbench_nn::models::{ModelConfig, ModelKind};
use compbench_nn::train::{TrainConfig, train_baseline};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = ModelKind::parse(args.first().map_or("cnn", |s| s.as_str()))
        .expect("model: mlp, cnn or vit");
    let mut given = BTreeMap::new();
    for a in args.iter().skip(1) {
        let (k, v) = a.split_once('=').expect("k=v");
        let val = v
            .parse::<i64>()
            .map(Value::Int)
            .or_else(|_| v.parse::<f64>().map(Value::Float))
            .unwrap_or(Value::Str(v.into()));
        given.insert(k.to_string(), val);
    }
    let params = Params::resolve(LUTBOOST.params(), &given).expect("params");
    let data = compbench_nn::data::FashionMnist
        .load(&compbench_nn::data::locator(&[]))
        .expect("Fashion-MNIST");
    let model = ModelConfig::new(kind);
    LUTBOOST.check(&params, &model).expect("check");
    let tcfg = TrainConfig::for_model(kind).quick();
    let log = |m: &str| eprintln!("{m}");
    let cache = std::path::PathBuf::from("/tmp/compbench-lutboost-cache");
    let (net, info) =
        train_baseline(&model, &data, &tcfg, 0, Some(&cache), &log).expect("baseline");
    let test = data.test.head(2000);
    let base = net.to_deployed().accuracy(&test);
    let device = compbench_nn::device();
    let t0 = Instant::now();
    let ctx = MethodCtx {
        baseline: &net,
        model: &model,
        data: &data,
        train: &tcfg,
        device: &device,
        seed: 1,
        quick: true,
        log: &log,
    };
    let out = LUTBOOST.apply(&ctx, &params).expect("apply");
    let secs = t0.elapsed().as_secs_f64();
    let acc = out.deployed.accuracy(&test);
    println!(
        "{} {}: baseline {:.2} % (trained {:.0} s), lutboost {:.2} %, drop {:.2} pts, apply {:.0} s, metrics {:?}",
        kind.name(),
        params.label(),
        100.0 * base,
        info.train_s,
        100.0 * acc,
        100.0 * (base - acc),
        secs,
        out.metrics
    );
}
