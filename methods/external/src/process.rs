//! Running the method's process: request on stdin, response from stdout, stderr kept, a
//! timeout that stops a hung process.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most stderr kept with a failure (its tail: the end is where the traceback is).
pub const STDERR_KEPT: usize = 8192;

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Why a process gave no usable output.
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started.
    Spawn(String),
    /// Stopped after the timeout; stderr so far.
    Timeout { seconds: u64, stderr: String },
    /// Exited unsuccessfully.
    Exit { status: String, stderr: String },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Spawn(m) => write!(f, "{m}"),
            RunError::Timeout { seconds, stderr } => write!(
                f,
                "timed out after {seconds} s (parameter timeout_s) and was stopped; stderr:\n{}",
                shown(stderr)
            ),
            RunError::Exit { status, stderr } => {
                write!(f, "exited with {status}; stderr:\n{}", shown(stderr))
            }
        }
    }
}

fn shown(stderr: &str) -> &str {
    if stderr.trim().is_empty() {
        "(empty)"
    } else {
        stderr
    }
}

/// The last [`STDERR_KEPT`] bytes of `bytes` as text.
pub fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(STDERR_KEPT);
    let text = String::from_utf8_lossy(&bytes[start..]).into_owned();
    if start > 0 {
        format!("[... {start} bytes cut ...]\n{text}")
    } else {
        text
    }
}

type Drained = (Arc<Mutex<Vec<u8>>>, std::thread::JoinHandle<()>);

/// Read `pipe` to its end on a thread, into a buffer readable at any time.
fn drain(mut pipe: impl Read + Send + 'static) -> Drained {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&buf);
    let handle = std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if let Ok(mut v) = b.lock() {
                v.extend_from_slice(&chunk[..n]);
            }
        }
    });
    (buf, handle)
}

/// Run `command` in `dir` with `stdin_data` on its stdin; stop it after `timeout`.
/// Program names with a `/` are resolved against `dir`, others on PATH.
pub fn run(
    command: &[String],
    dir: &Path,
    stdin_data: &[u8],
    timeout: Duration,
) -> Result<Finished, RunError> {
    let program = &command[0];
    let mut child = Command::new(program)
        .args(&command[1..])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            RunError::Spawn(format!(
                "cannot start `{}` in {}: {e}",
                command.join(" "),
                dir.display()
            ))
        })?;
    // Pipes are drained on their own threads so a chatty process cannot block on a full pipe.
    let mut stdin = child.stdin.take().expect("piped");
    let input = stdin_data.to_vec();
    let writer = std::thread::spawn(move || {
        // A method that exits without reading stdin closes the pipe; that is its business.
        let _ = stdin.write_all(&input);
    });
    let out_buf = drain(child.stdout.take().expect("piped"));
    let err_buf = drain(child.stderr.take().expect("piped"));
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                // Stop only the process we started (by its handle), then reap it.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Spawn(format!("waiting for the process: {e}")));
            }
        }
    };
    drop(writer); // never joined: a blocked write ends when the process does
    // Readers are not joined: a grandchild that inherited the pipes may outlive a killed
    // process. Wait briefly for the pipes to close (the last output is read by then).
    let grace = Duration::from_secs(if status.is_some() { 5 } else { 1 });
    let deadline = Instant::now() + grace;
    while (!out_buf.1.is_finished() || !err_buf.1.is_finished()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stdout = out_buf.0.lock().map(|b| b.clone()).unwrap_or_default();
    let stderr = tail(&err_buf.0.lock().map(|b| b.clone()).unwrap_or_default());
    match status {
        None => Err(RunError::Timeout {
            seconds: timeout.as_secs(),
            stderr,
        }),
        Some(s) if !s.success() => Err(RunError::Exit {
            status: s.to_string(),
            stderr,
        }),
        Some(_) => Ok(Finished { stdout, stderr }),
    }
}
