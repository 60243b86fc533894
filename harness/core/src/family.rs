//! The survey's taxonomy of compression methods ("From Algorithm to Hardware", TNNLS 2025):
//! every method belongs to one [`Family`], and a family says what it changes in a network.
//!
//! Methods declare their family (`compbench_nn::Method::family`, or `family:` in an external
//! method's manifest); the runner writes it into every results row (the `family` column), so
//! reports group rows by family from the results table alone.

use std::fmt;

/// What a family of methods changes in a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Changes {
    /// Nothing: the reference network.
    Nothing,
    /// Bits per value: weights and activations stored and computed in fewer bits.
    Bits,
    /// Sparsity: weights removed (one by one or in blocks), work skipped.
    Sparsity,
    /// Model size: a smaller network trained to behave like a larger one.
    ModelSize,
    /// Operations: how the non-linear ops (softmax, GELU, LayerNorm, ReLU) are computed.
    Ops,
    /// Privacy: the server computes on encrypted data.
    Privacy,
}

impl Changes {
    /// One word for tables (`bits`, `sparsity`, `model size`, `ops`, `privacy`, `nothing`).
    pub fn word(self) -> &'static str {
        match self {
            Changes::Nothing => "nothing",
            Changes::Bits => "bits",
            Changes::Sparsity => "sparsity",
            Changes::ModelSize => "model size",
            Changes::Ops => "ops",
            Changes::Privacy => "privacy",
        }
    }
}

/// A family of the survey's taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// The uncompressed reference (`identity`).
    Baseline,
    /// One scale (and zero point) per tensor or channel, each value rounded to a few bits:
    /// PTQ, QAT/LSQ/PACT, binary and ternary weights, k-means weight sharing of scalars.
    ScalarQuantization,
    /// Groups of v weights or activations replaced by the index of a codebook entry
    /// (product quantization, LUTBoost): GEMMs become table look-ups.
    VectorQuantization,
    /// Weights set to zero, one by one or in blocks.
    Pruning,
    /// A smaller student trained against a teacher's outputs.
    Distillation,
    /// Softmax, GELU, LayerNorm, ReLU computed by integer, piecewise-linear or polynomial
    /// approximations.
    NonlinearApproximation,
    /// Inference on encrypted inputs (BFV): private, at a large cost in latency.
    HomomorphicEncryption,
}

impl Family {
    /// Every family, in the order reports list them.
    pub const ALL: [Family; 7] = [
        Family::Baseline,
        Family::ScalarQuantization,
        Family::VectorQuantization,
        Family::Pruning,
        Family::Distillation,
        Family::NonlinearApproximation,
        Family::HomomorphicEncryption,
    ];

    /// The stable id written in results (`family` column) and manifests: kebab-case.
    pub fn id(self) -> &'static str {
        match self {
            Family::Baseline => "baseline",
            Family::ScalarQuantization => "scalar-quantization",
            Family::VectorQuantization => "vector-quantization",
            Family::Pruning => "pruning",
            Family::Distillation => "distillation",
            Family::NonlinearApproximation => "nonlinear-approximation",
            Family::HomomorphicEncryption => "homomorphic-encryption",
        }
    }

    /// The family's name in prose and tables.
    pub fn name(self) -> &'static str {
        match self {
            Family::Baseline => "baseline",
            Family::ScalarQuantization => "scalar quantization",
            Family::VectorQuantization => "vector quantization",
            Family::Pruning => "pruning",
            Family::Distillation => "knowledge distillation",
            Family::NonlinearApproximation => "non-linear approximation",
            Family::HomomorphicEncryption => "homomorphic encryption",
        }
    }

    /// What the family changes in a network.
    pub fn changes(self) -> Changes {
        match self {
            Family::Baseline => Changes::Nothing,
            Family::ScalarQuantization | Family::VectorQuantization => Changes::Bits,
            Family::Pruning => Changes::Sparsity,
            Family::Distillation => Changes::ModelSize,
            Family::NonlinearApproximation => Changes::Ops,
            Family::HomomorphicEncryption => Changes::Privacy,
        }
    }

    /// One sentence: what changes, and how (the taxonomy table's "what it changes" column).
    pub fn describe_change(self) -> &'static str {
        match self {
            Family::Baseline => "nothing: the float network as trained",
            Family::ScalarQuantization => {
                "bits: each weight (and activation) rounded to a few bits on a per-tensor or per-channel grid"
            }
            Family::VectorQuantization => {
                "bits and ops: groups of values become codebook indices; GEMMs become table look-ups"
            }
            Family::Pruning => {
                "sparsity: weights set to zero, singly or in blocks; zero work is skipped"
            }
            Family::Distillation => {
                "model size: a smaller network trained against a teacher's outputs"
            }
            Family::NonlinearApproximation => {
                "ops: softmax, GELU, LayerNorm, ReLU computed by integer, piecewise-linear or polynomial kernels"
            }
            Family::HomomorphicEncryption => {
                "privacy: inference on encrypted inputs, at a cost in latency and ciphertext size"
            }
        }
    }

    /// The family with id `id`.
    pub fn from_id(id: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.id() == id)
    }

    /// The valid ids, comma-separated (for error messages).
    pub fn valid_ids() -> String {
        Family::ALL.map(Family::id).join(", ")
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_kebab_case() {
        for f in Family::ALL {
            assert_eq!(Family::from_id(f.id()), Some(f));
            assert!(
                f.id().chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                f.id()
            );
            assert!(f.describe_change().starts_with(f.changes().word()));
        }
        assert_eq!(Family::from_id("quantization"), None);
        assert!(Family::valid_ids().starts_with("baseline, scalar-quantization"));
    }
}
