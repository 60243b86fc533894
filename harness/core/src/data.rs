//! Image-classification data as plain buffers, and the dataset extension point.
//!
//! The loaders (files, gzip, IDX) live in compbench-nn; this module only says what a loaded
//! dataset is, so methods, runner and tests agree on it.

use std::path::PathBuf;

/// One split: `n` images of `channels × height × width` f32 pixels (already normalized), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSplit {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ImageSplit {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn pixels_per_image(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn image(&self, i: usize) -> &[f32] {
        let p = self.pixels_per_image();
        &self.images[i * p..(i + 1) * p]
    }

    /// The first `n` examples (or all of them), e.g. a calibration subset or a `--quick` test set.
    pub fn head(&self, n: usize) -> ImageSplit {
        let n = n.min(self.len());
        let p = self.pixels_per_image();
        ImageSplit {
            images: self.images[..n * p].to_vec(),
            labels: self.labels[..n].to_vec(),
            channels: self.channels,
            height: self.height,
            width: self.width,
        }
    }
}

/// Train and test splits of one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    pub name: String,
    pub train: ImageSplit,
    pub test: ImageSplit,
    pub classes: usize,
    /// Identity of the bytes the splits came from (hash of files or generator config); part of
    /// every cache key.
    pub fingerprint: String,
}

/// Where datasets are looked up, in order: `--data-dir`, `$COMPBENCH_DATA`, ./data,
/// /usr/share/datasets.
#[derive(Debug, Clone, Default)]
pub struct DataLocator {
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(
        "dataset `{dataset}` not found; looked in: {searched}. Run `compbench data fetch` (or `sudo apt-get install dataset-fashion-mnist`)"
    )]
    NotFound { dataset: String, searched: String },
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A dataset the runner can load by id.
pub trait Dataset: Sync {
    fn id(&self) -> &'static str;
    fn describe(&self) -> &'static str;
    fn load(&self, locator: &DataLocator) -> Result<Splits, DataError>;
}
