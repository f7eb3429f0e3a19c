//! Feeds the Failures view, on its own thread: a recorder's log named in the config (`[recorder]
//! log = FILE`, re-read when it grows or is turned over), or else a flight recorder of its own,
//! live (root). Started when the view is first shown, never before: the live recorder loads
//! BPF programs host-wide.

use super::app::{Msg, RecorderState};
use crate::watch::failures::{FailureOptions, FailureReport};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Starts the feed; `send` returns false once the UI is gone, which ends the thread.
pub fn start(log: Option<PathBuf>, send: impl Fn(Msg) -> bool + Send + 'static) {
    // Without a thread (the system is out of them) the view stays at "starting": nothing else
    // depends on it.
    let _ = std::thread::Builder::new()
        .name("failures".into())
        .spawn(move || match log {
            Some(path) => follow_log(&path, &send),
            None => live(&send),
        });
}

fn follow_log(path: &Path, send: &dyn Fn(Msg) -> bool) {
    if !send(Msg::Recorder(RecorderState::Log(path.to_path_buf()))) {
        return;
    }
    let mut seen: Option<(u64, std::time::SystemTime)> = None;
    loop {
        let now = std::fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)));
        if now != seen {
            seen = now;
            let msg = match crate::history::log::read(path) {
                Ok(loaded) => Msg::Refused {
                    list: loaded.refused,
                    replace: true,
                },
                Err(e) => Msg::Recorder(RecorderState::Unavailable(format!(
                    "cannot read the recorder's log: {e}"
                ))),
            };
            if !send(msg) {
                return;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn live(send: &dyn Fn(Msg) -> bool) {
    let opts = FailureOptions {
        ports: Vec::new(),
        proto: None,
        until: None,
    };
    let result = crate::watch::failures::run(&opts, &mut |r| match r {
        FailureReport::Source(info) => {
            let mut detail = info.detail.clone();
            for n in &info.notes {
                detail.push_str("; ");
                detail.push_str(n);
            }
            send(Msg::Recorder(RecorderState::Live {
                since: jiff::Timestamp::now(),
                detail,
            }))
        }
        FailureReport::Refused(x) => send(Msg::Refused {
            list: vec![x.clone()],
            replace: false,
        }),
        FailureReport::Lost(n) => send(Msg::RefusedLost(n)),
    });
    if let Err(e) = result {
        send(Msg::Recorder(RecorderState::Unavailable(format!(
            "{e}; or name a recorder's log in the config: [recorder] log = \"/var/lib/portscope/failures.log\""
        ))));
    }
}
