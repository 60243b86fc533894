//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while rendering a report.
///
/// Every variant names the file it is about, so the CLI can print it as is.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The results table could not be read or queried.
    #[error("{path}: results table: {source}")]
    Table {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },
    /// A results directory has no `rows.parquet`.
    #[error("{path}: no rows.parquet here (run `compbench run SUITE.yaml` first)")]
    NoResults { path: PathBuf },
    /// `env.json` is not a JSON object.
    #[error("{path}: env.json: {message}")]
    Env { path: PathBuf, message: String },
    /// A `suites/references/*.yaml` file is malformed or inconsistent.
    #[error("{path}: {message}")]
    Reference { path: PathBuf, message: String },
    /// A template failed to render (a bug in this crate, not in the input).
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    /// A chart failed to draw (a bug in this crate, not in the input).
    #[error("chart {name}: {message}")]
    Chart { name: String, message: String },
    /// Nothing to render: no results directories, or an empty format list.
    #[error("{0}")]
    Usage(String),
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn table(path: impl Into<PathBuf>, source: polars::error::PolarsError) -> Self {
        Self::Table {
            path: path.into(),
            source,
        }
    }
}
