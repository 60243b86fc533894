//! Time encode and look-up separately at one shape, on 1 and 2 threads (development aid).
//! `cargo run --release -p compbench-lutboost --example profile_lut -- V C METRIC BITS`
use compbench_lutboost::Isa;
use compbench_lutboost::bench::median_seconds;
use compbench_lutboost::bench::{BenchCase, random_layer};
use compbench_lutboost::encode::Codes;
use compbench_lutboost::metric::VqMetric;
use compbench_lutboost::table::TableBits;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let v = a.get(1).map_or(8, |s| s.parse().unwrap());
    let c = a.get(2).map_or(16, |s| s.parse().unwrap());
    let metric = a
        .get(3)
        .and_then(|s| VqMetric::parse(s))
        .unwrap_or(VqMetric::L2);
    let bits = match a.get(4).map(|s| s.as_str()) {
        Some("16") => TableBits::I16,
        Some("32") => TableBits::F32,
        _ => TableBits::I8,
    };
    let bc = BenchCase {
        m: 256,
        k: 512,
        n: 512,
        v,
        c,
        metric,
        bits,
    };
    let (layer, x) = random_layer(bc, 1);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            for isa in Isa::available() {
                let mut codes = Codes::default();
                let te = median_seconds(0.3, || layer.enc.encode_with(isa, &x, bc.m, &mut codes));
                let mut out = vec![0.0; bc.m * bc.n];
                let ta = median_seconds(0.3, || layer.accumulate_with(isa, &codes, &mut out));
                println!(
                    "threads {threads} {isa:?}: encode {:.3} ms, lookup {:.3} ms",
                    te * 1e3,
                    ta * 1e3
                );
            }
        });
    }
}
