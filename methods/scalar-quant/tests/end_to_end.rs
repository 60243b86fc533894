//! End to end on tiny synthetic data: a briefly trained baseline through `ptq`, `qat` and
//! `binary`; accuracy measured through the deployed integer kernels; IR formats per layer.

use std::collections::BTreeMap;

use burn::module::Module;
use compbench_core::{NumFormat, Params, Value};
use compbench_nn::data::Synthetic;
use compbench_nn::models::{ModelConfig, ModelKind, Network};
use compbench_nn::train::{TrainConfig, fit_dense};
use compbench_nn::{Method, MethodCtx};
use compbench_scalar_quant::{BINARY, PTQ, QAT};

fn run(method: &dyn Method, ctx: &MethodCtx, given: &[(&str, Value)]) -> compbench_nn::Compressed {
    let given: BTreeMap<String, Value> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let p = Params::resolve(method.params(), &given).unwrap();
    method.check(&p, ctx.model).unwrap();
    method
        .apply(ctx, &p)
        .unwrap_or_else(|e| panic!("{}: {e}", method.id()))
}

#[test]
fn methods_run_end_to_end_on_synthetic_data() {
    let splits = Synthetic::new(1024, 256, 7).generate();
    let device = compbench_nn::device();
    for kind in [ModelKind::Mlp, ModelKind::Cnn] {
        let cfg = ModelConfig::new(kind);
        let recipe = TrainConfig {
            epochs: 1,
            batch_size: 64,
            threads: 2,
            ..TrainConfig::for_model(kind)
        };
        let net = Network::new(&cfg, &device, 3);
        let (net, _) = fit_dense(net, &recipe, &splits.train, &device, 3, &|_| {});
        let net = net.valid();
        let float_acc = net.to_deployed().accuracy(&splits.test);
        let tune = TrainConfig {
            train_subset: Some(256),
            ..recipe.clone()
        };
        let ctx = MethodCtx {
            baseline: &net,
            model: &cfg,
            data: &splits,
            train: &tune,
            device: &device,
            seed: 1,
            quick: true,
            log: &|_| {},
        };

        let w8a8 = run(&PTQ, &ctx, &[]);
        let acc8 = w8a8.deployed.accuracy(&splits.test);
        assert!(
            (acc8 - float_acc).abs() <= 0.02,
            "{kind:?}: W8A8 {acc8} vs float {float_acc}"
        );
        let wl = w8a8.deployed.workload(1);
        let gemms: Vec<_> = wl
            .gemms()
            .map(|(l, g)| (l.name.clone(), g.act, g.weight))
            .collect();
        let n = gemms.len();
        assert_eq!(gemms[0].1, NumFormat::FP32, "first layer stays float");
        assert_eq!(gemms[n - 1].2, NumFormat::FP32, "last layer stays float");
        for (_, act, w) in &gemms[1..n - 1] {
            assert_eq!((*act, *w), (NumFormat::Int(8), NumFormat::Int(8)));
        }

        let lsq = run(
            &QAT,
            &ctx,
            &[
                ("w_bits", Value::Int(4)),
                ("a_bits", Value::Int(4)),
                ("epochs", Value::Int(1)),
            ],
        );
        let acc_lsq = lsq.deployed.accuracy(&splits.test);
        assert!(
            acc_lsq > 0.5,
            "{kind:?}: LSQ W4A4 {acc_lsq} (float {float_acc})"
        );
        assert!(
            lsq.deployed
                .workload(1)
                .gemms()
                .any(|(_, g)| g.act == NumFormat::Int(4) && g.weight == NumFormat::Int(4))
        );

        let pact = run(
            &QAT,
            &ctx,
            &[
                ("scheme", Value::Str("pact".into())),
                ("epochs", Value::Int(1)),
            ],
        );
        assert!(pact.deployed.accuracy(&splits.test) > 0.3);

        let bnn = run(
            &BINARY,
            &ctx,
            &[
                ("binary_activations", Value::Bool(true)),
                ("epochs", Value::Int(1)),
            ],
        );
        let kinds: Vec<&str> = bnn
            .deployed
            .gemm_layers()
            .iter()
            .map(|(_, k)| k.kind())
            .collect();
        assert_eq!(
            kinds[1..kinds.len() - 1]
                .iter()
                .filter(|k| **k == "xnor")
                .count(),
            kinds.len() - 2,
            "{kinds:?}"
        );
        let acc_b = bnn.deployed.accuracy(&splits.test);
        assert!(acc_b > 0.2, "{kind:?}: binary {acc_b}");
        assert!(bnn.metrics["bits_per_weight"] < w8a8.metrics["bits_per_weight"]);
        eprintln!(
            "{kind:?}: float {float_acc:.3} W8A8 {acc8:.3} LSQ-W4A4 {acc_lsq:.3} BNN {acc_b:.3}"
        );
    }
}
