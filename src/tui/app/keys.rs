//! Key dispatch: decided once, on the input mode, then per command for the views.

use super::{App, Effect, Modal, Mode, View, parse_bind};
use crate::tui::keymap::Command;
use crossterm::event::{Event, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

impl App {
    pub(super) fn on_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        self.note = None;
        // A quit key that is not typing quits from fields and dialogs too (not while an action
        // runs: its outcome must be seen).
        if self.keymap.is_quit_anywhere(&ev) && !matches!(self.mode, Mode::Modal(Modal::Busy(_))) {
            return vec![Effect::Quit];
        }
        match self.mode {
            Mode::Normal => self.on_view_key(ev),
            Mode::Filter => self.on_filter_key(ev),
            Mode::WhyInput => self.on_why_key(ev),
            Mode::Modal(_) => self.on_modal_key(ev),
        }
    }

    fn on_view_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        // The why view with an empty field and no question invites a port: a digit typed there
        // starts the field with it, as a person reading "type the port" does (tab and shift-tab still change
        // view; once a port is asked, digits change view as everywhere).
        if self.view == View::Why
            && self.why.input.value().is_empty()
            && self.why.request.is_none()
            && self.why.connect.is_none()
            && let crossterm::event::KeyCode::Char(c) = ev.code
            && c.is_ascii_digit()
            && (ev.modifiers - crossterm::event::KeyModifiers::SHIFT).is_empty()
        {
            self.why.input = Input::new(c.to_string());
            self.why.error = None;
            self.mode = Mode::WhyInput;
            return Vec::new();
        }
        match self.keymap.command(&ev) {
            Some(cmd) => {
                if let Some(why) = super::habits::unavailable(self, cmd) {
                    self.note = Some(why);
                    return Vec::new();
                }
                self.on_command(cmd)
            }
            None => {
                self.note = Some(super::habits::unknown(&ev));
                Vec::new()
            }
        }
    }

    /// Typing into the filter of the view on screen: esc clears it, enter keeps it.
    fn on_filter_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        match self.keymap.command(&ev) {
            Some(Command::Back) => {
                if let Some(f) = self.filter_mut() {
                    *f = Input::default();
                }
                self.mode = Mode::Normal;
                self.recompute();
            }
            Some(Command::Open) => self.mode = Mode::Normal,
            _ => {
                if self
                    .filter_mut()
                    .and_then(|f| f.handle_event(&Event::Key(ev)))
                    .is_some()
                {
                    self.recompute();
                }
            }
        }
        Vec::new()
    }

    fn on_why_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        match self.keymap.command(&ev) {
            Some(Command::Back) => {
                self.mode = Mode::Normal;
                self.why.error = None;
                Vec::new()
            }
            Some(Command::Open) if self.why.input.value().trim_start().starts_with("--connect") => {
                let text = self.why.input.value().trim_start()["--connect".len()..].trim();
                match crate::target::parse_connect(text) {
                    Ok(t) => {
                        self.mode = Mode::Normal;
                        (self.why.error, self.why.request, self.feed.diagnosis) =
                            (None, None, None);
                        self.why.connect = Some(t);
                        self.why.scroll = 0;
                        vec![Effect::Watch(None)]
                    }
                    Err(e) => {
                        self.why.error = Some(format!("--connect: {e}"));
                        Vec::new()
                    }
                }
            }
            Some(Command::Open) => match parse_bind(self.why.input.value()) {
                Ok(req) => {
                    self.mode = Mode::Normal;
                    self.why.error = None;
                    self.why.connect = None;
                    self.why.request = Some(req.clone());
                    self.feed.diagnosis = None;
                    self.why.scroll = 0;
                    self.why.cause = 0;
                    vec![Effect::Watch(Some(req)), Effect::RefreshNow]
                }
                Err(e) => {
                    self.why.error = Some(e.to_string());
                    Vec::new()
                }
            },
            _ => {
                self.why.input.handle_event(&Event::Key(ev));
                Vec::new()
            }
        }
    }

    fn on_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Quit => return vec![Effect::Quit],
            Command::Help => self.open(Modal::Help { scroll: 0 }),
            Command::NextView => self.switch(View::ALL[(self.view.index() + 1) % View::ALL.len()]),
            Command::PrevView => {
                self.switch(View::ALL[(self.view.index() + View::ALL.len() - 1) % View::ALL.len()]);
            }
            Command::ViewListeners => self.switch(View::Listeners),
            Command::ViewConnections => self.switch(View::Connections),
            Command::ViewPortMap => self.switch(View::PortMap),
            Command::ViewWhy => self.switch(View::Why),
            Command::ViewFailures => self.switch(View::Failures),
            Command::Up => self.move_by(-1),
            Command::Down => self.move_by(1),
            Command::PageUp => self.move_page(-1),
            Command::PageDown => self.move_page(1),
            Command::Top => self.move_to(0),
            Command::Bottom => self.move_to(usize::MAX),
            Command::Left if self.view == View::Connections => {
                self.fold(Some(false));
            }
            Command::Right if self.view == View::Connections => {
                self.fold(Some(true));
            }
            Command::Left => self.map_move(-1),
            Command::Right => self.map_move(1),
            Command::Filter => {
                // A new search, as `/` does in less and vim: typing a port replaces the last one.
                if let Some(f) = self.filter_mut() {
                    *f = Input::default();
                    self.mode = Mode::Filter;
                    self.recompute();
                }
            }
            Command::Freeze => {
                if let Some(data) = self.feed.toggle_freeze() {
                    self.apply(data);
                }
            }
            Command::NextMatch | Command::PrevMatch => {
                match super::habits::step_match(self, cmd == Command::NextMatch) {
                    Ok(row) => self.set_row(row),
                    Err(note) => self.note = Some(note),
                }
            }
            Command::Earlier => self.note = super::time_travel::step(self, true),
            Command::Later => self.note = super::time_travel::step(self, false),
            Command::Refresh => return vec![Effect::RefreshNow],
            // Enter on a group folds or unfolds it; on a socket it opens the detail.
            Command::Open if self.view == View::Connections && self.fold(None) => {}
            Command::Open => match self.view {
                View::Listeners | View::Connections => {
                    if let Some(key) = self.selected_socket().map(crate::model::Socket::key) {
                        self.open_detail(key);
                    }
                }
                View::PortMap => self.zoom(1),
                View::Why => self.mode = Mode::WhyInput,
                View::Failures => self.open_refusal(),
            },
            Command::Back => {
                if !self.filter_text().is_empty() {
                    if let Some(f) = self.filter_mut() {
                        *f = Input::default();
                    }
                    self.recompute();
                } else if self.view == View::PortMap {
                    self.zoom(-1);
                }
            }
            Command::Sort => match self.view {
                View::Listeners => {
                    self.listeners.sort = self.listeners.sort.next();
                    self.recompute();
                }
                View::Connections => self.cycle_conn_sort(),
                View::PortMap | View::Why | View::Failures => {}
            },
            Command::SortReverse => self.reverse_conn_sort(),
            Command::Group => self.cycle_conn_group(),
            Command::ZoomIn => self.zoom(1),
            Command::ZoomOut => self.zoom(-1),
            Command::Goto => {
                if self.view == View::PortMap {
                    self.open(Modal::Goto(Input::default()));
                }
            }
            Command::EditPort => {
                if self.view == View::Why {
                    self.mode = Mode::WhyInput;
                }
            }
            Command::Netns if self.replay => {
                self.note = Some("a replay shows the namespaces it recorded".into());
            }
            Command::Netns => {
                let scope = self.picker.advance();
                self.note = Some(
                    self.picker
                        .title()
                        .unwrap_or_else(|| "netns: the start namespace".into()),
                );
                return vec![Effect::Scope(scope), Effect::RefreshNow];
            }
            // Only shows text: allowed in a replay too.
            Command::CopyCommands => self.why_commands(),
            Command::Report => return self.report_effect(),
            Command::Kill
            | Command::CloseConn
            | Command::Reserve
            | Command::ReserveAtRisk
            | Command::FixPlan
            | Command::Undo => {
                if matches!(cmd, Command::Kill | Command::CloseConn | Command::Reserve)
                    && let Some(why) = self.group_row_note(&self.keymap.label(cmd))
                {
                    self.note = Some(why);
                } else if self.replay {
                    self.note = Some(
                        "actions are disabled in a replay: this is a recording, not the live system"
                            .into(),
                    );
                } else {
                    self.on_action(cmd);
                }
            }
        }
        Vec::new()
    }
}
