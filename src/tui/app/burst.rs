//! Keys a person did not mean for a dialog: a paste, and keys typed ahead.
//!
//! A paste is text for the field that has focus (bracketed paste tells it apart from typing);
//! elsewhere it is ignored, so pasting `7000\nKy` can never close a filter, open the kill
//! dialog and confirm it. A confirmation takes no `y` that arrived in the same burst of input
//! as the key that opened it, nor within [`READ_TIME`] after it opened: a person reads before
//! answering. The runtime marks each burst ([`App::begin_burst`]) and wakes the screen when the
//! dialog becomes answerable ([`App::wake_at`]); tests that drive `update` directly and never
//! mark a burst are not guarded.

use super::{App, Modal, Mode};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::time::{Duration, Instant};

/// How long a confirmation waits before it takes `y`.
pub const READ_TIME: Duration = Duration::from_millis(400);

/// The longest paste taken into a field: a port list or a filter is short; a 100 KB paste is a
/// mistake, and is cut, with a note.
const MAX_PASTE: usize = 4096;

/// Input bursts as the runtime marked them, and the burst a confirmation opened in.
#[derive(Debug, Clone, Default)]
pub struct Bursts {
    seq: u64,
    at: Option<Instant>,
    confirm_opened: Option<(u64, Instant)>,
}

impl App {
    /// The runtime calls this before the messages it received together (one read of input
    /// and whatever else was queued): they are one burst.
    pub fn begin_burst(&mut self, now: Instant) {
        self.bursts.seq += 1;
        self.bursts.at = Some(now);
    }

    /// A confirmation was opened: remember in which burst.
    pub(super) fn confirm_opened(&mut self) {
        self.bursts.confirm_opened = self.bursts.at.map(|at| (self.bursts.seq, at));
    }

    /// Whether the open confirmation may take `y` now.
    pub fn confirm_armed(&self) -> bool {
        match (self.bursts.confirm_opened, self.bursts.at) {
            (Some((seq, opened)), Some(now)) => {
                self.bursts.seq > seq && now.saturating_duration_since(opened) >= READ_TIME
            }
            _ => true,
        }
    }

    /// When the screen should be drawn again without input: the moment the open confirmation
    /// becomes answerable.
    pub fn wake_at(&self) -> Option<Instant> {
        if !matches!(self.mode, Mode::Modal(Modal::Confirm { .. })) || self.confirm_armed() {
            return None;
        }
        self.bursts.confirm_opened.map(|(_, at)| at + READ_TIME)
    }

    /// Pasted text: typed into the field that has focus, as text only (a newline or a control
    /// character becomes a space: it never submits or escapes); ignored anywhere else.
    pub(super) fn paste(&mut self, text: &str) -> Vec<super::Effect> {
        let field = matches!(
            self.mode,
            Mode::Filter | Mode::WhyInput | Mode::Modal(Modal::Reserve(_) | Modal::Goto(_))
        );
        if !field {
            self.note = Some("paste ignored: no text field has focus".into());
            return Vec::new();
        }
        let mut effects = Vec::new();
        for c in text.chars().take(MAX_PASTE) {
            let c = if c.is_control() { ' ' } else { c };
            effects.extend(self.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)));
        }
        if text.chars().count() > MAX_PASTE {
            self.note = Some(format!("paste cut to its first {MAX_PASTE} characters"));
        }
        effects
    }
}
