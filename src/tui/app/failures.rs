//! The Failures view's state: the refused bind() and connect() calls the flight recorder saw,
//! newest first, live (a recorder started when the view is first opened) or from a recorder's
//! log named in the config. Enter opens one refusal's why at that moment: what the recorder
//! found then, not what holds the port now.

use super::{App, Modal, View};
use crate::model::text::{Block, Line as TextLine};
use crate::watch::failures::{Call, Refusal};
use std::collections::VecDeque;

/// At most this many refusals are kept on screen (the log keeps them all).
pub const KEPT: usize = 1000;

/// Where the view's refusals come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecorderState {
    /// Not asked for yet: the recorder starts when the view is first opened (it loads BPF
    /// programs host-wide, so merely starting the TUI does not).
    #[default]
    NotStarted,
    Starting,
    /// Live, in this process, since then (its first line: what it sees).
    Live {
        since: jiff::Timestamp,
        detail: String,
    },
    /// Read from a recorder's log, re-read as it grows.
    Log(std::path::PathBuf),
    /// Neither: why, and what would make it work.
    Unavailable(String),
}

#[derive(Debug, Default)]
pub struct FailuresView {
    /// Newest first.
    pub list: VecDeque<Refusal>,
    pub selected: usize,
    pub offset: usize,
    pub state: RecorderState,
    /// Refusals the kernel could not deliver, as the recorder counted them.
    pub lost: u64,
    /// `[recorder] log` of the config: read instead of recording live.
    pub log: Option<std::path::PathBuf>,
}

impl FailuresView {
    /// Adds refusals (oldest first, as they arrive), keeping the cursor on the same one.
    pub fn push(&mut self, new: Vec<Refusal>) {
        let n = new.len();
        for r in new {
            self.list.push_front(r);
        }
        if self.selected > 0 {
            self.selected += n;
        }
        self.list.truncate(KEPT);
        self.selected = self.selected.min(self.list.len().saturating_sub(1));
    }

    /// Replaces the list with a log's refusals (oldest first), newest first on screen.
    pub fn replace(&mut self, all: Vec<Refusal>) {
        let kept = all.into_iter().rev().take(KEPT).collect();
        self.list = kept;
        self.selected = self.selected.min(self.list.len().saturating_sub(1));
    }

    pub fn move_by(&mut self, delta: isize) {
        let last = self.list.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }
}

impl App {
    /// Enter on a refusal: the why the recorder worked out at that moment, with the commands
    /// that ask again now and that show the port's history around it.
    pub(super) fn open_refusal(&mut self) {
        let Some(r) = self.failures.list.get(self.failures.selected).cloned() else {
            self.note = Some("no refused call to open".into());
            return;
        };
        let lines: Vec<TextLine> = crate::watch::failures::text::lines(&r, None);
        let mut blocks = Vec::new();
        if let Some(q) = &r.request {
            let proto = q.proto.map(|p| format!("/{p}")).unwrap_or_default();
            let ask = match r.call {
                // The address as asked: a bind to one address conflicts differently from a
                // wildcard's.
                Call::Bind if !q.address.is_unspecified() => format!(
                    "portscope why {}{proto}",
                    crate::model::Endpoint(q.address, q.port)
                ),
                Call::Bind => format!("portscope why {}{proto}", q.port),
                Call::Connect => format!(
                    "portscope why --connect {}",
                    crate::model::Endpoint(q.address, q.port)
                ),
            };
            blocks.push(Block::new(
                "ask again now",
                ask,
                format!("portscope-why-{}.sh", q.port),
            ));
            if let super::failures::RecorderState::Log(path) = &self.failures.state {
                blocks.push(Block::new(
                    "who held it around then",
                    format!(
                        "portscope history {} --port {} --at {}",
                        crate::model::shell::shell_quote(&path.to_string_lossy()),
                        q.port,
                        r.time
                    ),
                    format!("portscope-history-{}.sh", q.port),
                ));
            }
        }
        self.open(Modal::Text {
            title: format!(
                "Why {}() was refused at {}",
                r.call.as_str(),
                crate::watch::text::clock(r.time)
            ),
            lines,
            blocks,
        });
    }

    /// The effect that starts the recorder, the first time the view is shown.
    pub(super) fn recorder_wanted(&mut self) -> bool {
        if self.view == View::Failures
            && self.failures.state == RecorderState::NotStarted
            && !self.replay
        {
            self.failures.state = RecorderState::Starting;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(port: u16) -> Refusal {
        serde_json::from_value(serde_json::json!({
            "time": "2026-12-07T03:12:05Z", "call": "bind", "errno": "EADDRINUSE", "pid": 1,
            "tid": 1, "comm": "x", "uid": 0, "user": "root", "why": "held",
            "request": {"family": "ipv4", "address": "0.0.0.0", "port": port, "proto": "tcp",
                        "options": {"known": false}},
        }))
        .expect("refusal")
    }

    #[test]
    fn new_refusals_go_on_top_and_the_cursor_stays_on_the_one_it_was_on() {
        let mut v = FailuresView::default();
        v.push(vec![r(1), r(2)]);
        assert_eq!(v.list[0].port(), Some(2));
        v.move_by(1);
        assert_eq!(v.list[v.selected].port(), Some(1));
        v.push(vec![r(3)]);
        assert_eq!(v.list[v.selected].port(), Some(1));
        v.push((0..u16::try_from(KEPT).unwrap() + 10).map(r).collect());
        assert_eq!(v.list.len(), KEPT);
        assert!(v.selected < KEPT);
    }
}
