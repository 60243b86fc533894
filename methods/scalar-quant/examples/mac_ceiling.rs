//! The ceiling an exact 8-bit GEMM can reach over f32 on this CPU, measured, not assumed.
//!
//! Without AVX-512 VNNI, the cheapest exact u8×i8 dot product on AVX2 is `vpmaddubsw` (32 byte
//! products summed in adjacent pairs into i16) followed by `vpmaddwd` against ones (widen to
//! i32, because 8-bit pair sums leave no headroom to accumulate in i16) and `vpaddd`: two
//! multiply-unit instructions per 32 MACs. f32 needs four `vfmadd231ps` per 32 MACs. Which is
//! faster depends on how many of each the core issues per cycle, so this example times
//! register-resident loops of each (independent accumulators, no loads, one thread) and
//! prints MACs per nanosecond and the ratio: an upper bound for `int8` W8A8 over dense f32 in
//! `compbench bench kernels`, before any activation quantization, epilogue or memory traffic.
//! The same loop with i16 accumulation (`vpmaddubsw` + `vpaddw`, exact only for narrow grids such
//! as W4A4) shows why low-bit GEMMs go past it.
//!
//! `cargo run --release -p compbench-scalar-quant --example mac_ceiling`

use std::hint::black_box;
use std::time::Instant;

#[cfg(target_arch = "x86_64")]
mod loops {
    // The loops are written in assembly because the compiler rightly hoists a multiply of
    // loop-invariant operands out of an intrinsics loop, which would time only the adds.
    use std::arch::asm;

    /// `iters` times the body, after the setup; every ymm register is clobbered.
    macro_rules! register_loop {
        ($iters:expr, [$($setup:literal),* $(,)?], [$($body:literal),* $(,)?]) => {
            // SAFETY: only registers are touched; the caller checked AVX2 (and FMA).
            unsafe {
                asm!(
                    $($setup,)*
                    "2:",
                    $($body,)*
                    "dec {n}",
                    "jnz 2b",
                    n = inout(reg) $iters => _,
                    out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                    out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                    out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                    out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                    options(nostack, nomem),
                );
            }
        };
    }

    /// f32: 12 independent FMA chains of 8 lanes per iteration = 96 MACs.
    pub fn fma(iters: u64) {
        register_loop!(
            iters,
            ["vxorps ymm14, ymm14, ymm14", "vxorps ymm15, ymm15, ymm15"],
            [
                "vfmadd231ps ymm0, ymm14, ymm15",
                "vfmadd231ps ymm1, ymm14, ymm15",
                "vfmadd231ps ymm2, ymm14, ymm15",
                "vfmadd231ps ymm3, ymm14, ymm15",
                "vfmadd231ps ymm4, ymm14, ymm15",
                "vfmadd231ps ymm5, ymm14, ymm15",
                "vfmadd231ps ymm6, ymm14, ymm15",
                "vfmadd231ps ymm7, ymm14, ymm15",
                "vfmadd231ps ymm8, ymm14, ymm15",
                "vfmadd231ps ymm9, ymm14, ymm15",
                "vfmadd231ps ymm10, ymm14, ymm15",
                "vfmadd231ps ymm11, ymm14, ymm15",
            ]
        );
    }

    /// Exact 8-bit: 6 × (`vpmaddubsw` 32 MACs → `vpmaddwd` with ones → `vpaddd`) = 192 MACs.
    pub fn int8_exact(iters: u64) {
        register_loop!(
            iters,
            [
                "vpxor ymm14, ymm14, ymm14",
                "vpxor ymm15, ymm15, ymm15",
                "vpcmpeqw ymm13, ymm13, ymm13",
                "vpsrlw ymm13, ymm13, 15",
            ],
            [
                "vpmaddubsw ymm6, ymm14, ymm15",
                "vpmaddwd ymm6, ymm6, ymm13",
                "vpaddd ymm0, ymm0, ymm6",
                "vpmaddubsw ymm7, ymm14, ymm15",
                "vpmaddwd ymm7, ymm7, ymm13",
                "vpaddd ymm1, ymm1, ymm7",
                "vpmaddubsw ymm8, ymm14, ymm15",
                "vpmaddwd ymm8, ymm8, ymm13",
                "vpaddd ymm2, ymm2, ymm8",
                "vpmaddubsw ymm9, ymm14, ymm15",
                "vpmaddwd ymm9, ymm9, ymm13",
                "vpaddd ymm3, ymm3, ymm9",
                "vpmaddubsw ymm10, ymm14, ymm15",
                "vpmaddwd ymm10, ymm10, ymm13",
                "vpaddd ymm4, ymm4, ymm10",
                "vpmaddubsw ymm11, ymm14, ymm15",
                "vpmaddwd ymm11, ymm11, ymm13",
                "vpaddd ymm5, ymm5, ymm11",
            ]
        );
    }

    /// Narrow grids: 6 × (`vpmaddubsw` + i16 `vpaddw`), the widening amortized away. 192 MACs.
    pub fn int8_i16(iters: u64) {
        register_loop!(
            iters,
            ["vpxor ymm14, ymm14, ymm14", "vpxor ymm15, ymm15, ymm15"],
            [
                "vpmaddubsw ymm6, ymm14, ymm15",
                "vpaddw ymm0, ymm0, ymm6",
                "vpmaddubsw ymm7, ymm14, ymm15",
                "vpaddw ymm1, ymm1, ymm7",
                "vpmaddubsw ymm8, ymm14, ymm15",
                "vpaddw ymm2, ymm2, ymm8",
                "vpmaddubsw ymm9, ymm14, ymm15",
                "vpaddw ymm3, ymm3, ymm9",
                "vpmaddubsw ymm10, ymm14, ymm15",
                "vpaddw ymm4, ymm4, ymm10",
                "vpmaddubsw ymm11, ymm14, ymm15",
                "vpaddw ymm5, ymm5, ymm11",
            ]
        );
    }

    pub const MACS_F32: u64 = 12 * 8;
    pub const MACS_I8: u64 = 6 * 32;
}

/// Best of five: the loops are register-resident, so the minimum is the issue-rate bound.
fn macs_per_ns(macs_per_iter: u64, mut run: impl FnMut(u64)) -> f64 {
    let iters = 20_000_000;
    run(iters / 10);
    (0..5)
        .map(|_| {
            let t = Instant::now();
            run(iters);
            (iters * macs_per_iter) as f64 / t.elapsed().as_nanos() as f64
        })
        .fold(0.0, f64::max)
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            println!("this CPU has no AVX2+FMA: nothing to measure");
            return;
        }
        let f32_rate = macs_per_ns(loops::MACS_F32, |n| loops::fma(black_box(n)));
        let exact = macs_per_ns(loops::MACS_I8, |n| loops::int8_exact(black_box(n)));
        let narrow = macs_per_ns(loops::MACS_I8, |n| loops::int8_i16(black_box(n)));
        println!("one thread, register-resident loops (MACs per ns):");
        println!("  f32 FMA                         {f32_rate:7.1}");
        println!(
            "  8-bit exact (maddubs+madd+add)  {exact:7.1}   {:.2}× f32: the W8A8 ceiling",
            exact / f32_rate
        );
        println!(
            "  8-bit i16 acc (maddubs+add)     {narrow:7.1}   {:.2}× f32: narrow grids (W4A4)",
            narrow / f32_rate
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    println!("x86_64 only");
}
