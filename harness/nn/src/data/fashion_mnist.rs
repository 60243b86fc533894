//! Fashion-MNIST (Xiao et al. 2017): 60k/10k 28×28 grey images, 10 classes, IDX files.

use std::path::{Path, PathBuf};

use compbench_core::data::DataLocator;
use compbench_core::{DataError, Dataset, ImageSplit, Splits};

use super::idx::read_idx;

/// Per-pixel mean and standard deviation of the training images (x/255), the usual constants.
pub const MEAN: f32 = 0.2860;
pub const STD: f32 = 0.3530;

/// The four files, as Debian's `dataset-fashion-mnist` and the upstream repository name them.
/// Each may also be present uncompressed (without `.gz`).
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Subdirectories of a data directory that may hold the files.
const SUBDIRS: [&str; 3] = ["fashion-mnist", "fashion_mnist", ""];

/// The Fashion-MNIST dataset (id `fashion-mnist`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FashionMnist;

impl Dataset for FashionMnist {
    fn id(&self) -> &'static str {
        "fashion-mnist"
    }

    fn describe(&self) -> &'static str {
        "Fashion-MNIST: 60k train / 10k test 28×28 grey images, 10 classes (IDX files, gzip or plain)"
    }

    fn load(&self, locator: &DataLocator) -> Result<Splits, DataError> {
        let dir = find_dir(locator)?;
        load_dir(&dir)
    }
}

/// The first directory (in locator order) holding the training images; errors list every
/// place looked at and name the fetch command.
pub fn find_dir(locator: &DataLocator) -> Result<PathBuf, DataError> {
    let mut searched = Vec::new();
    for base in &locator.dirs {
        for sub in SUBDIRS {
            let dir = if sub.is_empty() {
                base.clone()
            } else {
                base.join(sub)
            };
            if file_in(&dir, FILES[0]).is_some() {
                return Ok(dir);
            }
            searched.push(dir.display().to_string());
        }
    }
    Err(DataError::NotFound {
        dataset: format!("fashion-mnist (file {}[.gz])", FILES[0]),
        searched: searched.join(", "),
    })
}

fn file_in(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_string()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Load the four files from `dir`; a missing or corrupt one is an error naming it.
pub fn load_dir(dir: &Path) -> Result<Splits, DataError> {
    let path = |name: &str| {
        file_in(dir, name).ok_or_else(|| DataError::NotFound {
            dataset: format!("fashion-mnist (file {name}[.gz])"),
            searched: dir.display().to_string(),
        })
    };
    let mut hasher = blake3::Hasher::new();
    let mut load = |img: &str, lab: &str, n: usize| -> Result<ImageSplit, DataError> {
        let (ip, lp) = (path(img)?, path(lab)?);
        let images = read_idx(&ip, &[Some(n), Some(28), Some(28)])?;
        let labels = read_idx(&lp, &[Some(n)])?;
        if let Some(bad) = labels.data.iter().find(|&&l| l >= 10) {
            return Err(DataError::Corrupt {
                path: lp.display().to_string(),
                message: format!(
                    "label {bad} out of range 0..10; re-fetch it with `compbench data fetch`"
                ),
            });
        }
        // Hash decoded bytes, so gzip and plain copies of the same data share cache entries.
        hasher.update(&images.data);
        hasher.update(&labels.data);
        Ok(ImageSplit {
            images: images.data.iter().map(|&b| normalize(b)).collect(),
            labels: labels.data,
            channels: 1,
            height: 28,
            width: 28,
        })
    };
    let train = load(FILES[0], FILES[1], 60_000)?;
    let test = load(FILES[2], FILES[3], 10_000)?;
    Ok(Splits {
        name: "fashion-mnist".to_string(),
        train,
        test,
        classes: 10,
        fingerprint: format!("fashion-mnist:{}", hasher.finalize().to_hex()),
    })
}

/// `(x/255 − mean)/std`.
#[inline]
pub fn normalize(b: u8) -> f32 {
    (b as f32 / 255.0 - MEAN) / STD
}
