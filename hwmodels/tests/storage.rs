//! Weight storage apart from compute: codebook-indexed weights (Deep Compression's weight
//! sharing: b-bit indices into a per-layer codebook of f32 values, computed in f32) must cost
//! less memory energy than plain f32 weights on every hardware model, while MACs stay priced
//! at the compute format.

use compbench_core::{Gemm, HwReport, Params, Value, WeightStorage, Workload};
use compbench_hwmodels::workloads;

/// Energy of everything that is not arithmetic or leakage: SRAM, DRAM, weight decode (and, on
/// the LUT accelerator's companion array, its lumped share, whose MAC part is equal in both).
fn memory_pj(r: &HwReport) -> f64 {
    r.energy_breakdown
        .iter()
        .filter(|(n, _)| !matches!(*n, "mac" | "pe_regs" | "compute" | "vector" | "leakage"))
        .map(|(_, v)| v)
        .sum()
}

fn shared(w: &Workload, index_bits: u8) -> Workload {
    let mut s = w.clone();
    for l in &mut s.layers {
        if let Some(g) = l.as_gemm_mut() {
            g.storage = Some(WeightStorage::codebook(
                index_bits,
                1 << index_bits,
                g.weight,
            ));
        }
    }
    s
}

fn designs() -> Vec<(String, Params)> {
    let mut out = Vec::new();
    for m in compbench_hwmodels::all() {
        let params = Params::defaults(m.params());
        // Ciphertext-only models price no plaintext weights (tests/he.rs).
        if m.build(&params).unwrap().prices_he() {
            continue;
        }
        out.push((m.id().to_string(), params));
    }
    let mut fp16 = Params::defaults(compbench_hwmodels::systolic::SYSTOLIC_PARAMS);
    fp16.set("precision", Value::Str("fp16".into()));
    out.push(("systolic fp16".into(), fp16));
    let mut gpu32 = Params::defaults(compbench_hwmodels::gpu::GPU_PARAMS);
    gpu32.set("precision", Value::Str("fp32".into()));
    out.push(("gpu-roofline fp32".into(), gpu32));
    out
}

#[test]
fn codebook_weights_cost_less_memory_energy_than_f32_on_every_model() {
    let models = compbench_hwmodels::all();
    for (name, params) in designs() {
        let id = name.split(' ').next().unwrap();
        let model = models.iter().find(|m| m.id() == id).unwrap();
        let design = model.build(&params).unwrap();
        for base in [workloads::mlp(), workloads::cnn()] {
            let float = design.eval(&base);
            let cb = design.eval(&shared(&base, 4));
            assert!(
                memory_pj(&cb) < memory_pj(&float),
                "{name} on {}: codebook memory {} pJ !< f32 {} pJ",
                base.name,
                memory_pj(&cb),
                memory_pj(&float)
            );
            assert!(
                cb.energy_pj < float.energy_pj || id == "gpu-roofline",
                "{name} on {}: total {} !< {}",
                base.name,
                cb.energy_pj,
                float.energy_pj
            );
            // MACs are priced from the compute format: the same on both.
            assert_eq!(
                cb.energy_breakdown.get("mac"),
                float.energy_breakdown.get("mac"),
                "{name}"
            );
        }
    }
}

#[test]
fn no_storage_prices_exactly_like_storage_in_the_compute_format() {
    for (name, params) in designs() {
        let id = name.split(' ').next().unwrap();
        let model = compbench_hwmodels::all()
            .iter()
            .find(|m| m.id() == id)
            .unwrap();
        let design = model.build(&params).unwrap();
        let base = workloads::cnn();
        let mut explicit = base.clone();
        for l in &mut explicit.layers {
            if let Some(g) = l.as_gemm_mut() {
                g.storage = Some(WeightStorage::plain(g.weight));
            }
        }
        assert_eq!(design.eval(&base), design.eval(&explicit), "{name}");
    }
}

#[test]
fn systolic_moves_indices_at_their_width_and_pays_a_decode_per_weight_read() {
    use compbench_hwmodels::SystolicDesign;
    let d = SystolicDesign::from_params(&Params::default()).unwrap();
    let mut g = Gemm::dense(64, 256, 128, compbench_core::NumFormat::FP32);
    let (_, plain) = d.core.dense_work(&g);
    g.storage = Some(WeightStorage::codebook(
        2,
        4,
        compbench_core::NumFormat::FP32,
    ));
    let (_, cb) = d.core.dense_work(&g);
    // An int8 array holds f32 weights at 8 bits; 2-bit indices are a quarter of that.
    assert_eq!(plain.filter_scale, 1.0);
    assert_eq!(cb.filter_scale, 0.25);
    assert_eq!(cb.filter_reads, plain.filter_reads);
    assert_eq!(plain.decode_pj, 0.0);
    assert!(cb.decode_pj > 0.0);
    // Weight DRAM bytes shrink 4× (plus the 4 × 4-byte codebook).
    let weight_bytes = 256.0 * 128.0;
    assert!(
        (plain.dram_bytes - cb.dram_bytes - 0.75 * weight_bytes + 16.0).abs() < 1e-6,
        "{} vs {}",
        plain.dram_bytes,
        cb.dram_bytes
    );
}
