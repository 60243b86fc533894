//! `compbench data fetch`: unpack Debian's `dataset-fashion-mnist` into a data directory
//! without root (`apt-get download` + `dpkg-deb -x`). Never downloads from anywhere else.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::fashion_mnist::FILES;

/// What to run by hand when fetching cannot be done here.
pub const MANUAL: &str = "sudo apt-get install dataset-fashion-mnist   (installs /usr/share/datasets/fashion-mnist), \
or: apt-get download dataset-fashion-mnist && dpkg-deb -x dataset-fashion-mnist_*.deb x && \
cp x/usr/share/datasets/fashion-mnist/*.gz <data-dir>/fashion-mnist/";

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{command}` failed: {message}. Run instead: {MANUAL}")]
    Tool { command: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the package did not contain {file}. Run instead: {MANUAL}")]
    Missing { file: String },
}

/// Fetch the four IDX files into `dest/fashion-mnist/` and return that directory.
pub fn fetch(dest: &Path) -> Result<PathBuf, FetchError> {
    let out_dir = dest.join("fashion-mnist");
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| FetchError::Io { path, source }
    };
    std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
    let tmp = dest.join(format!(".fetch-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let result = fetch_into(&tmp, &out_dir);
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| out_dir)
}

fn fetch_into(tmp: &Path, out_dir: &Path) -> Result<(), FetchError> {
    run(Command::new("apt-get")
        .args(["download", "dataset-fashion-mnist"])
        .current_dir(tmp))?;
    let deb = std::fs::read_dir(tmp)
        .map_err(|e| FetchError::Io {
            path: tmp.display().to_string(),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| FetchError::Tool {
            command: "apt-get download dataset-fashion-mnist".into(),
            message:
                "no .deb was written (is the package in your apt sources? try `apt-get update`)"
                    .into(),
        })?;
    let x = tmp.join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x))?;
    let src = x.join("usr/share/datasets/fashion-mnist");
    for name in FILES {
        let file = format!("{name}.gz");
        let from = src.join(&file);
        if !from.is_file() {
            return Err(FetchError::Missing { file });
        }
        let to = out_dir.join(&file);
        std::fs::copy(&from, &to).map_err(|e| FetchError::Io {
            path: to.display().to_string(),
            source: e,
        })?;
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<(), FetchError> {
    let command = format!("{cmd:?}").replace('"', "");
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(FetchError::Tool {
            command,
            message: format!(
                "{}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        }),
        Err(e) => Err(FetchError::Tool {
            command,
            message: format!("could not start it ({e})"),
        }),
    }
}
