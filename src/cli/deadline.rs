//! `check --timeout`: a monitoring plugin answers within its time or says UNKNOWN (Nagios plugin
//! guidelines, "Plugin timeout"), so a hung /proc read or a slow namespace never leaves the
//! monitor waiting or reads as CRITICAL.
//!
//! A watchdog thread waits on a channel with the deadline as its timeout: disarmed (the check
//! finished first) it ends; expired, it prints the plugin's UNKNOWN and exits the process with
//! status 3. Disarming joins the thread, so the two answers can never both be printed.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// The check's default time when `--timeout` is not given: beside Nagios's own service check
/// timeout (60s) with room to spare, plus any `--sample` the check was asked to take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Deadline {
    disarm: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Deadline {
    /// Starts the watchdog: after `after`, UNKNOWN and exit 3 unless disarmed first.
    pub fn start(after: Duration) -> Deadline {
        let (disarm, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("check-timeout".into())
            .spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(after) {
                    let shown = crate::action::grace::span(after);
                    super::out::print_unknown(&format!(
                        "timed out after {shown} (--timeout); nothing was judged"
                    ));
                    std::process::exit(i32::from(super::out::EXIT_UNKNOWN));
                }
            });
        Deadline {
            disarm,
            // Without a watchdog thread the check simply runs without a timeout.
            thread: thread.ok(),
        }
    }

    /// The check is done: stop the watchdog (or wait while it ends the process).
    pub fn disarm(mut self) {
        let _ = self.disarm.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
