//! Experiment scheduling, cache, resume, results table.
