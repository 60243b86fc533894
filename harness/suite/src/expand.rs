//! Grid expansion: a suite → the experiments it asks for, in a stable order.

use compbench_core::Params;

use crate::{Mode, Suite};

/// One entry at one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub id: String,
    pub label: String,
    pub params: Params,
}

/// One (dataset, model point, seed, method point): trains (or reuses) one baseline, applies one
/// method, and yields one results row per hardware configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// Position in the full expansion (stable for a given suite and mode).
    pub index: usize,
    pub dataset: String,
    pub model: Point,
    pub method: Point,
    /// The model the method distills from (its `teachers:` entry at the mode's single point),
    /// trained on the same dataset and seed as a baseline.
    pub teacher: Option<Point>,
    pub seed: u64,
}

impl Suite {
    /// Seeds of a run: `--seed` if given, else the mode's list.
    pub fn seeds(&self, mode: Mode) -> &[u64] {
        match (mode, &self.quick.seeds) {
            (Mode::Quick, Some(s)) => s,
            _ => &self.seeds,
        }
    }

    /// Batch sizes hardware is priced at in `mode`: the quick block's list in quick mode if it
    /// has one, else the suite's (`[1]` when the suite gives none).
    pub fn hw_batches(&self, mode: Mode) -> &[u64] {
        match (mode, &self.quick.hw_batch) {
            (Mode::Quick, Some(b)) => b,
            _ => &self.hw_batch,
        }
    }

    /// Every experiment, ordered dataset → model → model point → seed → method → method point,
    /// so experiments sharing a baseline are neighbours. A (model, method) pair that the
    /// entries' `methods:` / `models:` lists leave out ([`crate::pairs`]) has none.
    pub fn experiments(&self, mode: Mode, seed_override: Option<u64>) -> Vec<Experiment> {
        let over = seed_override.map(|s| vec![s]);
        let seeds: &[u64] = over.as_deref().unwrap_or_else(|| self.seeds(mode));
        let mut out = Vec::new();
        for dataset in &self.datasets {
            for model in &self.models {
                for mp in model.points(mode) {
                    for &seed in seeds {
                        for method in &self.methods {
                            if !crate::pairs(model, method) {
                                continue;
                            }
                            for p in method.points(mode) {
                                out.push(Experiment {
                                    index: out.len(),
                                    dataset: dataset.clone(),
                                    model: Point {
                                        id: model.id.clone(),
                                        label: model.label.clone(),
                                        params: mp.clone(),
                                    },
                                    method: Point {
                                        id: method.id.clone(),
                                        label: method.label.clone(),
                                        params: p.clone(),
                                    },
                                    teacher: method.teacher.as_ref().and_then(|label| {
                                        let t = self.teachers.iter().find(|t| &t.label == label)?;
                                        Some(Point {
                                            id: t.id.clone(),
                                            label: t.label.clone(),
                                            params: t.points(mode).first()?.clone(),
                                        })
                                    }),
                                    seed,
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Every hardware configuration, in order.
    pub fn hw_configs(&self, mode: Mode) -> Vec<Point> {
        self.hwmodels
            .iter()
            .flat_map(|h| {
                h.points(mode).iter().map(|p| Point {
                    id: h.id.clone(),
                    label: h.label.clone(),
                    params: p.clone(),
                })
            })
            .collect()
    }
}
