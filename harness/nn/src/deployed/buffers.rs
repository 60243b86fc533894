//! Recycled activation buffers for the deployed graph.
//!
//! Why: every GEMM output used to be a fresh zeroed `Vec` (tens of MB per ViT block at batch
//! 256), and zeroing fresh memory plus its page faults took ~7 % of the deployed ViT's time.
//! Kernels fully overwrite their outputs (the [`super::GemmKernel::forward`] contract), so a
//! recycled buffer's stale contents are never read.

use std::cell::RefCell;

/// Buffers kept per thread (a transformer block returns five at once).
const KEEP: usize = 8;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// `len` floats with unspecified contents, for an output that is fully overwritten.
pub(crate) fn take(len: usize) -> Vec<f32> {
    let reused = FREE.with(|free| {
        let mut free = free.borrow_mut();
        // The smallest buffer already `len` long (nothing to fill), else the longest one.
        let fit = (0..free.len())
            .filter(|&i| free[i].len() >= len)
            .min_by_key(|&i| free[i].len())
            .or_else(|| (0..free.len()).max_by_key(|&i| free[i].len()));
        fit.map(|i| free.swap_remove(i))
    });
    let mut v = reused.unwrap_or_default();
    if v.len() >= len {
        v.truncate(len);
    } else {
        v.resize(len, 0.0);
    }
    v
}

/// Hand a buffer back for [`take`] on this thread.
pub(crate) fn give(v: Vec<f32>) {
    FREE.with(|free| {
        let mut free = free.borrow_mut();
        if free.len() < KEEP {
            free.push(v);
        }
    })
}
