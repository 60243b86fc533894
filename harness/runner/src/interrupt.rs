//! A cooperative stop request for [`crate::run`] (the CLI's first Ctrl-C sets it).
//!
//! Once it is set the run starts no new baseline or experiment; the running ones finish and
//! are journaled whole, and the table of everything finished is written as usual, so the
//! journal stays valid and the same command resumes. The summary counts what was not run.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Ask the current run to stop after its running experiments. Async-signal-safe (one atomic
/// store), so a signal handler may call it.
pub fn request() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
