//! The static lists of methods, hardware models, models and datasets: one line per plugin.
