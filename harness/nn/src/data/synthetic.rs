//! A seeded synthetic image-classification set for tests: each class is a fixed random pattern
//! of bright rectangles, each example that pattern shifted by up to one pixel plus Gaussian
//! noise. Small models learn it to well above chance in one short epoch, so tests can check
//! that training works without the real data.

use compbench_core::data::DataLocator;
use compbench_core::seed::{Rng, derive};
use compbench_core::{DataError, Dataset, ImageSplit, Splits};

/// Synthetic dataset (id `synthetic`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Synthetic {
    pub train: usize,
    pub test: usize,
    pub classes: usize,
    /// Standard deviation of the per-pixel noise (pattern pixels are ±1-ish).
    pub noise: f32,
    pub seed: u64,
}

impl Synthetic {
    pub const DEFAULT: Synthetic = Synthetic {
        train: 2048,
        test: 512,
        classes: 10,
        noise: 0.5,
        seed: 0,
    };

    pub fn new(train: usize, test: usize, seed: u64) -> Synthetic {
        Synthetic {
            train,
            test,
            seed,
            ..Synthetic::DEFAULT
        }
    }

    /// Generate the splits (no IO).
    pub fn generate(&self) -> Splits {
        const H: usize = 28;
        let templates: Vec<Vec<f32>> = (0..self.classes)
            .map(|c| {
                let mut rng = Rng::new(derive(
                    self.seed,
                    &["synthetic", "template", &c.to_string()],
                ));
                let mut t = vec![-0.5f32; H * H];
                for _ in 0..3 {
                    let (y0, x0) = (rng.below(H - 8), rng.below(H - 8));
                    let (hh, ww) = (3 + rng.below(6), 3 + rng.below(6));
                    for y in y0..y0 + hh {
                        for x in x0..x0 + ww {
                            t[y * H + x] = 1.5;
                        }
                    }
                }
                t
            })
            .collect();
        let split = |n: usize, which: &str| {
            let mut rng = Rng::new(derive(self.seed, &["synthetic", which]));
            let mut images = Vec::with_capacity(n * H * H);
            let mut labels = Vec::with_capacity(n);
            for _ in 0..n {
                let c = rng.below(self.classes);
                let (dy, dx) = (rng.below(3) as isize - 1, rng.below(3) as isize - 1);
                for y in 0..H as isize {
                    for x in 0..H as isize {
                        let (sy, sx) = (y - dy, x - dx);
                        let base = if (0..H as isize).contains(&sy) && (0..H as isize).contains(&sx)
                        {
                            templates[c][sy as usize * H + sx as usize]
                        } else {
                            -0.5
                        };
                        images.push(base + self.noise * rng.normal());
                    }
                }
                labels.push(c as u8);
            }
            ImageSplit {
                images,
                labels,
                channels: 1,
                height: H,
                width: H,
            }
        };
        Splits {
            name: "synthetic".to_string(),
            train: split(self.train, "train"),
            test: split(self.test, "test"),
            classes: self.classes,
            fingerprint: format!(
                "synthetic-v1:{}:{}:{}:{}:{}",
                self.train, self.test, self.classes, self.noise, self.seed
            ),
        }
    }
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic::DEFAULT
    }
}

impl Dataset for Synthetic {
    fn id(&self) -> &'static str {
        "synthetic"
    }

    fn describe(&self) -> &'static str {
        "seeded synthetic 28×28 images (class patterns + noise), for tests; no files needed"
    }

    fn load(&self, _locator: &DataLocator) -> Result<Splits, DataError> {
        Ok(self.generate())
    }
}
