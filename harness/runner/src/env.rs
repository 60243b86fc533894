//! The machine and code a run used: written to env.json and into every row.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Environment columns of the results table (docs/results-schema.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub git_hash: String,
    pub rustc: String,
    pub cpu: String,
    pub threads: i64,
    pub os: String,
    pub compbench_version: String,
}

impl Environment {
    /// Collect it now. `threads` is the run's worker count.
    pub fn collect(threads: usize) -> Environment {
        Environment::with_commit(threads, git_commit())
    }

    /// Collect it now, with the commit given: a run reads its commit once, when it starts, so
    /// that env.json and the rows name the same code even when the checkout changes while the
    /// run goes on.
    pub fn with_commit(threads: usize, commit: Option<(String, bool)>) -> Environment {
        Environment {
            git_hash: provenance(
                commit.as_ref().map(|(h, _)| h.as_str()),
                commit.as_ref().is_some_and(|(_, d)| *d),
            ),
            rustc: env!("COMPBENCH_RUSTC").to_string(),
            cpu: cpu_model(),
            threads: threads as i64,
            os: os_name(),
            compbench_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// A commit as a `git_hash` cell (env.json's and every row's): the hash, with `-dirty` when
/// the work tree had changes, or `unknown` outside a repository or without git.
pub(crate) fn provenance(commit: Option<&str>, dirty: bool) -> String {
    match commit {
        Some(h) if dirty => format!("{h}-dirty"),
        Some(h) => h.to_string(),
        None => "unknown".to_string(),
    }
}

/// `git rev-parse HEAD` of the working directory and whether tracked files have uncommitted
/// changes; `None` outside a repository or without git.
pub fn git_commit() -> Option<(String, bool)> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(h) if !h.is_empty() => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            Some((h, dirty))
        }
        _ => None,
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    match pretty {
        Some(p) => format!("{} {} ({p})", std::env::consts::OS, std::env::consts::ARCH),
        None => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// Now, as RFC 3339 UTC with seconds (`2026-11-27T14:03:09Z`).
pub fn now_rfc3339() -> String {
    rfc3339(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// Seconds since the Unix epoch → RFC 3339 UTC (Howard Hinnant's civil-from-days).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    /// env.json names the commit the run started from, as given, not the checkout's HEAD now.
    #[test]
    fn environment_names_the_given_commit() {
        use super::Environment;
        let at = |c: Option<(&str, bool)>| {
            Environment::with_commit(2, c.map(|(h, d)| (h.to_string(), d))).git_hash
        };
        assert_eq!(at(Some(("0123abc", false))), "0123abc");
        assert_eq!(at(Some(("0123abc", true))), "0123abc-dirty");
        assert_eq!(at(None), "unknown");
    }
}
