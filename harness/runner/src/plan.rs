//! What a run will do: the experiments of its shard, their ids and cache keys, its hardware
//! configurations. Pure: no IO, no training.

use std::fmt;
use std::str::FromStr;

use compbench_suite::{Experiment, Mode, Point, Suite};
use serde_json::json;

/// Bump when the meaning of a cached record changes (invalidates every experiment cache).
pub const CACHE_FORMAT: u32 = 1;

/// `--shard I/N`: run experiments whose position in the expansion is `I` modulo `N` (0-based
/// `I`, as Slurm's and Kubernetes' array indices are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn contains(&self, position: usize) -> bool {
        position % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard `{s}`: expected I/N with 0 ≤ I < N, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Settings of one run that change what experiments compute.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    pub mode: Mode,
    /// `--seed S`: replaces the suite's seed list.
    pub seed_override: Option<u64>,
    pub shard: Option<Shard>,
}

impl RunSettings {
    pub fn quick(&self) -> bool {
        self.mode == Mode::Quick
    }

    /// The stable run name under `results/<suite>/`: rerunning the same command lands in the
    /// same directory and resumes. `quick`, `full`, plus `-seedS` and `-shardIofN`.
    pub fn run_name(&self) -> String {
        let mut s = self.mode.name().to_string();
        if let Some(seed) = self.seed_override {
            s.push_str(&format!("-seed{seed}"));
        }
        if let Some(sh) = self.shard {
            s.push_str(&format!("-shard{}of{}", sh.index, sh.count));
        }
        s
    }
}

/// One planned experiment: the suite's description plus its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub experiment: Experiment,
    /// 16 hex chars of blake3 over the experiment's configuration (the `experiment` column).
    pub id: String,
}

/// The experiments of a run (its shard) and its hardware configurations.
#[derive(Debug, Clone)]
pub struct Plan {
    pub settings: RunSettings,
    /// Every experiment of the suite in this mode (all shards).
    pub total: usize,
    pub experiments: Vec<Planned>,
    pub hw_configs: Vec<Point>,
    /// Batch sizes every hardware configuration prices at (the suite's `hw_batch` in this
    /// mode). Not part of any experiment id or cache key: pricing is redone from the journal.
    pub hw_batches: Vec<u64>,
}

impl Plan {
    pub fn new(suite: &Suite, settings: RunSettings) -> Plan {
        let all = suite.experiments(settings.mode, settings.seed_override);
        let total = all.len();
        let experiments = all
            .into_iter()
            .filter(|e| settings.shard.is_none_or(|s| s.contains(e.index)))
            .map(|e| Planned {
                id: experiment_id(&e, settings.mode),
                experiment: e,
            })
            .collect();
        Plan {
            hw_configs: suite.hw_configs(settings.mode),
            hw_batches: suite.hw_batches(settings.mode).to_vec(),
            total,
            experiments,
            settings,
        }
    }
}

/// The configuration that defines an experiment's results, as canonical JSON (maps are
/// ordered: `Params` is a BTreeMap).
fn experiment_doc(e: &Experiment, mode: Mode) -> serde_json::Value {
    let mut doc = json!({
        "dataset": e.dataset,
        "model": { "id": e.model.id, "params": e.model.params },
        "method": { "id": e.method.id, "label": e.method.label, "params": e.method.params },
        "seed": e.seed,
        "mode": mode.name(),
    });
    // Only when there is one, so experiments without a teacher keep their ids.
    if let Some(t) = &e.teacher {
        doc["teacher"] = json!({ "id": t.id, "label": t.label, "params": t.params });
    }
    doc
}

/// The `experiment` column: stable across runs, machines and shards.
pub fn experiment_id(e: &Experiment, mode: Mode) -> String {
    blake3::hash(experiment_doc(e, mode).to_string().as_bytes()).to_hex()[..16].to_string()
}

/// The cache key of an experiment's result: its configuration, the code version, and the
/// identity of the data it ran on (plus the run-wide subsets that change its numbers).
/// Hardware configurations and pricing batches (`hw_batch`) are not part of it: pricing is
/// redone from the cached workload.
pub fn cache_key(
    e: &Experiment,
    mode: Mode,
    data_fingerprint: &str,
    subsets: (Option<usize>, Option<usize>),
) -> String {
    let doc = json!({
        "experiment": experiment_doc(e, mode),
        "data": data_fingerprint,
        "test_subset": subsets.0,
        "train_subset": subsets.1,
        "compbench": env!("CARGO_PKG_VERSION"),
        "format": CACHE_FORMAT,
    });
    blake3::hash(doc.to_string().as_bytes()).to_hex()[..32].to_string()
}
