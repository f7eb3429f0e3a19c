//! Signals while the UI holds the terminal. A thread (signal-hook's iterator: the handler only
//! writes to a pipe, no code of ours runs in signal context) turns each signal into a message
//! for the UI thread, which owns the terminal and restores it:
//! - SIGTERM, SIGHUP, SIGINT, SIGQUIT: restore, then exit with 128 + the signal.
//! - SIGTSTP: restore, stop (SIGSTOP); on continuing, re-enter and redraw.
//! - SIGCONT (also after a SIGSTOP sent by someone else): re-enter and redraw.
//!
//! In raw mode ctrl-c and ctrl-z are keys, not signals; these come from `kill`, a closed
//! terminal or a supervisor.

use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};
use signal_hook::iterator::Signals;
use std::time::Duration;

/// What a signal asks of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    Terminate(i32),
    Suspend,
    Resume,
}

pub const TERMINATING: [i32; 4] = [SIGTERM, SIGHUP, SIGINT, SIGQUIT];

/// The exit status for a terminating signal, as a shell reports it.
pub fn exit_status(sig: i32) -> u8 {
    u8::try_from(128 + sig).unwrap_or(u8::MAX)
}

/// How long the UI thread gets to restore the terminal before this thread does it and exits.
const GRACE: Duration = Duration::from_secs(2);

/// Starts the signal thread; `send` hands an event to the UI thread (false once it is gone).
pub fn spawn(
    send: impl Fn(SignalEvent) -> bool + Send + 'static,
) -> std::io::Result<signal_hook::iterator::Handle> {
    let mut signals = Signals::new(
        TERMINATING
            .iter()
            .copied()
            .chain([SIGTSTP, SIGCONT])
            .collect::<Vec<_>>(),
    )?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let event = match sig {
                    SIGTSTP => SignalEvent::Suspend,
                    SIGCONT => SignalEvent::Resume,
                    s => SignalEvent::Terminate(s),
                };
                let delivered = send(event);
                if let SignalEvent::Terminate(s) = event {
                    // The UI thread restores and returns; if it is stuck (a blocked write to a
                    // hung terminal), do it from here rather than hang on after the signal.
                    if delivered {
                        std::thread::sleep(GRACE); // a deadline, not synchronisation
                    }
                    super::terminal::leave();
                    std::process::exit(i32::from(exit_status(s)));
                }
            }
        })?;
    Ok(handle)
}

/// Stops the process (as SIGTSTP's default would) after the terminal was restored; returns
/// once the process is continued.
pub fn stop_self() {
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
}
