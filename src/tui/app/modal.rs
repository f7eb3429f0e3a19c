//! Dialogs and overlays: what each holds (everything its draw shows, computed here) and the
//! keys it takes while it is on top.

use super::{App, Effect, Mode};
use crate::action::outcome::ActionOutcome;
use crate::action::{PendingAction, ReserveAction};
use crate::analyze::portmap::MAX_ZOOM;
use crate::model::text::{Block, Described, Line as TextLine};
use crate::model::{Socket, SocketKey};
use crate::tui::keymap::Command;
use crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

#[derive(Debug)]
pub enum Modal {
    Help {
        scroll: u16,
    },
    /// Details of one socket and the processes holding it.
    Detail {
        key: SocketKey,
        scroll: u16,
        /// The socket and what its owners hold, looked up when the pane opens and on each
        /// new snapshot.
        pane: DetailPane,
    },
    Goto(Input),
    /// An action waiting for `y`; `context` says what led to it (an earlier outcome).
    Confirm {
        action: PendingAction,
        context: Vec<String>,
        /// The action's own text, described once when the dialog opens.
        described: Described,
        /// Commands to copy: the action's, then any the context ended with.
        blocks: Vec<Block>,
    },
    /// An action is running.
    Busy(String),
    /// What happened, or why nothing could be done.
    Outcome(ActionOutcome),
    /// The reservation planner: a port list, with the plan computed as it is typed.
    Reserve(ReserveDialog),
    /// Text to read and copy (the why view's commands): nothing to confirm.
    Text {
        title: String,
        lines: Vec<TextLine>,
        blocks: Vec<Block>,
    },
}

/// The detail pane's lookups in the snapshot on screen.
#[derive(Debug, Default)]
pub struct DetailPane {
    /// The socket, or `None` when it closed since the row was selected.
    pub socket: Option<Socket>,
    /// Per owner of the socket (same order): every socket that process holds.
    pub held: Vec<Vec<Socket>>,
    /// Whether processes are hidden from portscope for lack of permission (vs. another PID
    /// namespace or an exit during the scan).
    pub hidden_by_permissions: bool,
    /// Context of the owners (same order, those still running), read by the runtime on request.
    pub processes: Vec<crate::model::process_context::ProcessContext>,
    /// The marks and flags the socket's row shows, each with what it means.
    pub marks: Vec<crate::tui::marks::Mark>,
    /// Whether clients reach the listener (read once when the pane opens).
    pub reach: Option<crate::model::reach::Reachability>,
}

/// The reservation planner: the text typed and the plan for it.
#[derive(Debug)]
pub struct ReserveDialog {
    pub input: Input,
    pub preview: Result<ReserveAction, super::actions::NoPlan>,
}

impl Modal {
    /// A confirmation of `action`, its text described here so the draw only reads it.
    pub fn confirm(action: PendingAction, context: Vec<String>) -> Modal {
        Modal::confirm_after(action, context, Vec::new())
    }

    /// A confirmation that follows an outcome (its lines are the context, its blocks stay
    /// copyable).
    pub fn confirm_after(
        action: PendingAction,
        context: Vec<String>,
        earlier: Vec<Block>,
    ) -> Modal {
        let described = action.describe();
        let mut blocks = described.blocks.clone();
        blocks.extend(earlier);
        Modal::Confirm {
            action,
            context,
            described,
            blocks,
        }
    }
}

impl App {
    /// Puts a dialog or overlay on top: whatever field was being typed into is left.
    pub(super) fn open(&mut self, modal: Modal) {
        self.blocks = super::blocks::BlockView::default();
        let confirm = matches!(modal, Modal::Confirm { .. });
        self.mode = Mode::Modal(modal);
        if confirm {
            self.confirm_opened();
        }
    }

    pub(super) fn close(&mut self) {
        self.mode = Mode::Normal;
    }

    /// Opens the detail pane for `key`.
    pub(super) fn open_detail(&mut self, key: SocketKey) {
        let pane = self.detail_pane(&key);
        self.open(Modal::Detail {
            key,
            scroll: 0,
            pane,
        });
    }

    pub(super) fn open_reserve(&mut self, text: String) {
        let input = Input::new(text);
        let preview = self.reservation_preview(input.value());
        self.open(Modal::Reserve(ReserveDialog { input, preview }));
    }

    fn detail_pane(&self, key: &SocketKey) -> DetailPane {
        let Some(snap) = self.snapshot() else {
            return DetailPane::default();
        };
        let socket = self.find(key).cloned();
        let held = socket.as_ref().map_or_else(Vec::new, |s| {
            s.owners
                .iter()
                .map(|o| snap.sockets_of(o.pid).cloned().collect())
                .collect()
        });
        let marks = socket
            .as_ref()
            .map_or_else(Vec::new, |s| crate::tui::marks::of_socket(snap, s));
        DetailPane {
            socket,
            held,
            hidden_by_permissions: crate::analyze::hidden_by_permissions(snap),
            processes: Vec::new(),
            marks,
            reach: None,
        }
    }

    /// New data under an open dialog: its lookups and plan are redone against it.
    pub(super) fn refresh_modal(&mut self) {
        let key = match &self.mode {
            Mode::Modal(Modal::Detail { key, .. }) => Some(*key),
            _ => None,
        };
        if let Some(key) = key {
            let mut fresh = self.detail_pane(&key);
            if let Mode::Modal(Modal::Detail { pane, .. }) = &mut self.mode {
                // The contexts read stay until the next read answers, for owners still there
                // (same pid and start time).
                let owners = fresh.socket.as_ref().map(|s| s.owners.clone());
                fresh.processes = std::mem::take(&mut pane.processes)
                    .into_iter()
                    .filter(|c| {
                        owners.as_ref().is_some_and(|o| {
                            o.iter()
                                .any(|o| o.pid == c.pid && o.start_time == c.start.ticks)
                        })
                    })
                    .collect();
                fresh.reach = pane.reach.take();
                *pane = fresh;
            }
        }
        let spec = match &self.mode {
            Mode::Modal(Modal::Reserve(d)) => Some(d.input.value().to_string()),
            _ => None,
        };
        if let Some(spec) = spec {
            let fresh = self.reservation_preview(&spec);
            if let Mode::Modal(Modal::Reserve(d)) = &mut self.mode {
                d.preview = fresh;
            }
        }
    }

    pub(super) fn on_modal_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        if let Some(effects) = self.on_block_key(ev) {
            return effects;
        }
        let cmd = self.keymap.command(&ev);
        let max = self.measured.overlay_max_scroll.get();
        let Mode::Modal(modal) = &mut self.mode else {
            return Vec::new();
        };
        match modal {
            Modal::Goto(input) => match cmd {
                Some(Command::Back) => self.close(),
                Some(Command::Open) => match crate::portset::parse_port(input.value()) {
                    Ok(p) => {
                        self.map.cursor = p;
                        self.map.zoom = MAX_ZOOM;
                        self.close();
                    }
                    Err(e) => self.note = Some(format!("{e}")),
                },
                _ => {
                    input.handle_event(&Event::Key(ev));
                }
            },
            Modal::Confirm { .. } => {
                // A y typed ahead, or in the burst that opened the dialog, is not an answer:
                // the dialog stays, unanswered (see burst.rs).
                if matches!(ev.code, KeyCode::Char('y' | 'Y')) && !self.confirm_armed() {
                    self.note = Some(
                        "y ignored: it came with the keys that opened this dialog; read it, \
                         then press y"
                            .into(),
                    );
                    return Vec::new();
                }
                // Only an explicit y acts; everything else (n, esc, enter) is the default No
                // (but for the block keys, taken above: c, w, tab and the arrows).
                if matches!(ev.code, KeyCode::Char('y' | 'Y'))
                    && let Mode::Modal(Modal::Confirm { action, .. }) =
                        std::mem::replace(&mut self.mode, Mode::Normal)
                {
                    let title = action.describe().title;
                    self.open(Modal::Busy(title));
                    return vec![Effect::Execute(Box::new(action))];
                }
                self.close();
                self.note = Some("cancelled: nothing was done".into());
            }
            Modal::Busy(_) => {}
            Modal::Outcome(_) | Modal::Text { .. } => {
                if matches!(cmd, Some(Command::Back | Command::Open | Command::Quit)) {
                    self.close();
                }
            }
            Modal::Reserve(dialog) => match cmd {
                Some(Command::Back) => self.close(),
                Some(Command::Open) => self.confirm_reservation(),
                _ => {
                    if dialog.input.handle_event(&Event::Key(ev)).is_some() {
                        let spec = dialog.input.value().to_string();
                        let fresh = self.reservation_preview(&spec);
                        if let Mode::Modal(Modal::Reserve(d)) = &mut self.mode {
                            d.preview = fresh;
                        }
                    }
                }
            },
            Modal::Help { scroll } | Modal::Detail { scroll, .. } => {
                // Never past the last line: the last draw measured how far that is.
                match cmd {
                    Some(Command::Up) => *scroll = scroll.saturating_sub(1),
                    Some(Command::Down) => *scroll = scroll.saturating_add(1).min(max),
                    Some(Command::PageUp) => *scroll = scroll.saturating_sub(10),
                    Some(Command::PageDown) => *scroll = scroll.saturating_add(10).min(max),
                    Some(Command::Top) => *scroll = 0,
                    Some(Command::Bottom) => *scroll = max,
                    // As in less, htop and k9s: q closes the overlay, it does not quit.
                    Some(Command::Quit | Command::Back | Command::Open | Command::Help) => {
                        self.close();
                    }
                    _ => {}
                }
            }
        }
        Vec::new()
    }
}
