//! Ctrl-C during `run` and `reproduce`: the first one asks the runner to stop after its
//! running experiments ([`compbench_runner::interrupt`]), which then writes the table of what
//! finished; the command says how far it got and exits 130. A second Ctrl-C exits at once
//! (130); the journal stays valid either way, since each record is one appended line.

/// Exit code of an interrupted command (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Install the SIGINT handler (once per process).
pub fn install() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: `on_sigint` only does async-signal-safe things (atomics, write, _exit).
            unsafe {
                libc::signal(
                    libc::SIGINT,
                    on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
                );
            }
        });
    }
}

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SEEN: AtomicBool = AtomicBool::new(false);
    if SEEN.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe; nothing is half-written that a flush would fix
        // (journal lines are written with one write call each).
        unsafe { libc::_exit(EXIT_INTERRUPTED as libc::c_int) };
    }
    compbench_runner::interrupt::request();
    let msg = b"\ninterrupted: finishing the running experiments, then writing the table; press Ctrl-C again to exit now\n";
    // SAFETY: write(2) is async-signal-safe; the buffer is valid for its length.
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
    }
}
