//! Datasets: Fashion-MNIST from IDX files, a seeded synthetic set for tests, `data fetch`.
//!
//! Pixels are normalized to `(x/255 − mean)/std` here, once, so every consumer (training,
//! deployed inference, calibration) sees the same numbers.

pub mod fashion_mnist;
pub mod fetch;
pub mod idx;
pub mod synthetic;

use std::path::PathBuf;

use compbench_core::data::DataLocator;
use compbench_core::seed::Rng;
use compbench_core::{Dataset, ImageSplit};

pub use fashion_mnist::FashionMnist;
pub use fetch::{FetchError, fetch};
pub use synthetic::Synthetic;

/// The standard lookup order: `--data-dir` values, `$COMPBENCH_DATA`, `./data`,
/// `/usr/share/datasets` (Debian's `dataset-fashion-mnist` installs there).
pub fn locator(data_dirs: &[PathBuf]) -> DataLocator {
    let mut dirs: Vec<PathBuf> = data_dirs.to_vec();
    if let Some(env) = std::env::var_os("COMPBENCH_DATA")
        && !env.is_empty()
    {
        dirs.push(PathBuf::from(env));
    }
    dirs.push(PathBuf::from("data"));
    dirs.push(PathBuf::from("/usr/share/datasets"));
    DataLocator { dirs }
}

/// The datasets this crate provides, by id.
pub fn all() -> &'static [&'static dyn Dataset] {
    static FASHION: FashionMnist = FashionMnist;
    static SYNTHETIC: Synthetic = Synthetic::DEFAULT;
    static ALL: [&dyn Dataset; 2] = [&FASHION, &SYNTHETIC];
    &ALL
}

/// A seeded random subset of `n` examples (all of them, shuffled, if `n ≥ len`): calibration
/// sets for PTQ and k-means. Independent of the split's order beyond the seed.
pub fn calibration_subset(split: &ImageSplit, n: usize, seed: u64) -> ImageSplit {
    let mut idx: Vec<usize> = (0..split.len()).collect();
    Rng::new(seed).shuffle(&mut idx);
    idx.truncate(n.min(split.len()));
    gather(split, &idx)
}

/// The examples at `idx`, in that order.
pub fn gather(split: &ImageSplit, idx: &[usize]) -> ImageSplit {
    let p = split.pixels_per_image();
    let mut images = Vec::with_capacity(idx.len() * p);
    let mut labels = Vec::with_capacity(idx.len());
    for &i in idx {
        images.extend_from_slice(split.image(i));
        labels.push(split.labels[i]);
    }
    ImageSplit {
        images,
        labels,
        channels: split.channels,
        height: split.height,
        width: split.width,
    }
}
