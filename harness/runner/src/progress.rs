//! What a run reports while it works. The runner never prints: the CLI turns these events
//! into a progress bar or plain log lines.

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// The plan is known: `total` experiments in this shard, `cached` of them already done.
    Planned {
        total: usize,
        cached: usize,
        baselines: usize,
        hw_configs: usize,
        /// Batch sizes each hardware configuration is priced at.
        hw_batches: &'a [u64],
    },
    DataLoaded {
        dataset: &'a str,
        train: usize,
        test: usize,
    },
    BaselineStarted {
        name: &'a str,
    },
    BaselineFinished {
        name: &'a str,
        accuracy: Option<f64>,
        error: Option<&'a str>,
        seconds: f64,
    },
    ExperimentStarted {
        name: &'a str,
    },
    ExperimentFinished {
        name: &'a str,
        accuracy: Option<f64>,
        error: Option<&'a str>,
        seconds: f64,
    },
    /// A message from training or a method (epoch losses, calibration steps).
    Log {
        scope: &'a str,
        message: &'a str,
    },
}

/// Receives events from worker threads.
pub trait Observer: Sync {
    fn event(&self, event: &Event);
}

/// Ignores everything (tests, library use).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event) {}
}
