//! One run per results directory at a time.
//!
//! An exclusive `File::try_lock` on `<dir>/.lock`, held for the whole run and released by the
//! OS when the process exits, however it exits (so a killed run never leaves a stale lock).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = ".lock";

/// Held while a run writes a results directory.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "results directory {dir} is in use by another compbench run{holder}; wait for it, or pass a different --out"
    )]
    Busy { dir: String, holder: String },
    #[error("cannot create {dir}: {source}")]
    Create { dir: String, source: std::io::Error },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl RunLock {
    /// Take the lock of `dir` (created if needed) or fail at once if another process holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        // A directory we cannot create or write into is the user's problem to fix, and says
        // so (not "cannot lock": the lock file is an implementation detail).
        let create = |source| LockError::Create {
            dir: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(create)?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    create(e)
                }
                _ => io(e),
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" ({holder})")
                };
                return Err(LockError::Busy {
                    dir: dir.display().to_string(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Who holds it, for the other process's message. Best effort.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "pid {}", std::process::id());
        let _ = file.flush();
        Ok(RunLock { _file: file, path })
    }
}
