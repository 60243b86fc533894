//! (layer, design) evaluations per second, one thread. Target: ≥ 10^6 /s.

use std::hint::black_box;

use compbench_core::{HwDesign, Params};
use compbench_hwmodels::workloads;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn eval_layers(c: &mut Criterion) {
    let designs: Vec<(&str, Box<dyn HwDesign>)> = compbench_hwmodels::all()
        .iter()
        .map(|m| {
            (
                m.id(),
                m.build(&Params::defaults(m.params()))
                    .expect("defaults build"),
            )
        })
        .collect();
    let mut group = c.benchmark_group("eval_layer");
    for name in ["cnn-lut", "vit-lut"] {
        let w = workloads::builtin(name).expect("built-in");
        for (id, d) in &designs {
            group.throughput(Throughput::Elements(w.layers.len() as u64));
            group.bench_function(format!("{id}/{name}"), |b| {
                b.iter(|| {
                    let mut cycles = 0.0;
                    for layer in &w.layers {
                        cycles += d.eval_layer(black_box(layer)).cycles;
                    }
                    cycles
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, eval_layers);
criterion_main!(benches);
