//! Keys that act on the system: each plans an action and puts it up for confirmation (the
//! executor in `action::exec` carries it out), or says why there is nothing to do.

use super::{App, Modal, View};
use crate::action::outcome::ActionOutcome;
use crate::action::{PendingAction, Sig, plan_close, plan_reservation, plan_signal};
use crate::model::Socket;
use crate::model::text::Block;
use crate::portset::PortSet;
use crate::tui::keymap::Command;
use std::path::PathBuf;

/// Why the reservation planner has no plan for what is typed (shown in its place).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoPlan {
    #[error("no snapshot yet")]
    NoSnapshot,
    #[error(transparent)]
    NotOffered(#[from] crate::action::NotOffered),
    #[error(transparent)]
    Spec(#[from] crate::portset::PortSpecError),
}

impl App {
    /// The socket an action applies to: the selected row, or in the why view the first holder
    /// (for kill, one with a process; for close, an outgoing connection).
    fn action_target(&self, cmd: Command) -> Option<Socket> {
        match self.view {
            View::Listeners | View::Connections => self.selected_socket().cloned(),
            View::Why => {
                let d = self.feed.diagnosis.as_deref()?;
                let pick = |h: &&crate::analyze::why::Holder| match cmd {
                    Command::CloseConn => h.role == crate::analyze::why::Role::Outgoing,
                    _ => !h.socket.kernel_held,
                };
                d.holders
                    .iter()
                    .find(pick)
                    .or(d.holders.first())
                    .map(|h| h.socket.clone())
            }
            View::PortMap | View::Failures => None,
        }
    }

    fn info(&mut self, title: &str, text: String) {
        self.open(Modal::Outcome(ActionOutcome::nothing_done(
            title,
            vec![text],
        )));
    }

    pub(super) fn on_action(&mut self, cmd: Command) {
        let Some(snap) = self.feed.snap.clone() else {
            return;
        };
        let netns = self.actions.netns.clone();
        if self.view == View::Why
            && matches!(cmd, Command::Kill | Command::CloseConn | Command::FixPlan)
        {
            self.why_act(cmd);
            return;
        }
        match cmd {
            Command::Kill | Command::CloseConn => {
                let Some(sock) = self.action_target(cmd) else {
                    self.note =
                        Some("select a socket first (listeners, connections or why view)".into());
                    return;
                };
                // Closing goes through the start namespace's sock_diag: never another's.
                if cmd == Command::CloseConn
                    && let Some(why) = crate::tui::netns_pick::foreign(&snap, &sock)
                {
                    self.info("Not here", why);
                    return;
                }
                let planned = if cmd == Command::Kill {
                    plan_signal(&snap, &sock, Sig::Term, &netns)
                } else {
                    plan_close(&sock, &netns)
                };
                match planned {
                    Ok(action) => self.open(Modal::confirm(action, Vec::new())),
                    Err(why) => self.info("Nothing to do", why.to_string()),
                }
            }
            Command::Reserve | Command::ReserveAtRisk | Command::Undo
                if self.picker.scope != crate::tui::netns_pick::Scope::Start =>
            {
                self.info(
                    "Not here",
                    "reservations apply to the start namespace: press w until it is shown again (or start portscope with --netns PID for another)".into(),
                );
            }
            Command::Reserve => {
                let port = match self.view {
                    View::PortMap => Some(self.map.cursor),
                    View::Why => self.why.request.as_ref().map(|q| q.port),
                    _ => self.selected_socket().map(|s| s.local_port),
                };
                let text = port.map_or_else(String::new, |p| p.to_string());
                self.actions.refresh_boot();
                self.open_reserve(text);
            }
            Command::ReserveAtRisk => {
                let ports = crate::reserve::at_risk_ports(&snap);
                if ports.is_empty() {
                    self.info(
                        "Nothing at risk",
                        "no listener sits inside the ephemeral range unreserved".into(),
                    );
                } else {
                    self.actions.refresh_boot();
                    self.open_reserve(ports.to_string());
                }
            }
            Command::Undo => {
                let Some(journal) = self.actions.journal.clone() else {
                    self.info("Undo", "no data directory for the undo journal".into());
                    return;
                };
                match crate::reserve::plan_undo(&journal, &netns) {
                    Ok(plan) => self.open(Modal::confirm(
                        PendingAction::UndoReservation(plan),
                        Vec::new(),
                    )),
                    Err(e) => self.info("Nothing to undo", e.message),
                }
            }
            _ => {}
        }
    }

    /// The planner's plan for the text typed so far (computed on each change, never by a draw).
    pub(super) fn reservation_preview(
        &self,
        spec: &str,
    ) -> Result<crate::action::ReserveAction, NoPlan> {
        let snap = self.feed.snap.as_deref().ok_or(NoPlan::NoSnapshot)?;
        if !snap.sysctl.known("ip_local_reserved_ports") {
            return Err(crate::action::NotOffered::ReservedUnknown.into());
        }
        let add = PortSet::parse(spec)?;
        let dropin = self
            .actions
            .no_persist
            .is_none()
            .then(|| self.actions.sysctl_dir.join(crate::reserve::DROPIN_NAME));
        let journal = self
            .actions
            .journal
            .clone()
            .unwrap_or_else(|| PathBuf::from("portscope-reserve-journal.json"));
        let mut action = plan_reservation(
            snap,
            &add,
            &PortSet::new(),
            &self.actions.netns,
            dropin,
            self.actions.boot.as_ref(),
            journal,
        );
        action.no_persist.clone_from(&self.actions.no_persist);
        if action.request.dropin.is_some() {
            action.request.boot_seen.clone_from(&self.actions.boot_seen);
        }
        Ok(action)
    }

    /// Enter in the planner: the plan already made for what is typed goes up for confirmation.
    pub(super) fn confirm_reservation(&mut self) {
        let super::Mode::Modal(Modal::Reserve(dialog)) = &self.mode else {
            return;
        };
        match dialog.preview.clone() {
            Err(e) => self.note = Some(e.to_string()),
            Ok(a) if !a.plan.refusals.is_empty() => {
                self.note = Some(format!("refused: {}", a.plan.refusals.join("; ")));
            }
            Ok(a) if a.plan.proposed == a.plan.current => {
                self.note = Some("nothing to change: those ports are already reserved".into());
            }
            Ok(a) if !self.actions.is_root => {
                // Shown whole, for copying or saving: never wrapped into broken commands.
                let mut outcome = ActionOutcome::nothing_done(
                    "Reservation: run as root",
                    vec!["Changing net.ipv4.ip_local_reserved_ports needs root."],
                );
                outcome.blocks.push(Block::new(
                    "Run these instead:",
                    crate::reserve::manual_commands(
                        &a.request.value,
                        &a.request.netns,
                        a.request.dropin.as_deref(),
                    ),
                    "portscope-reservation.sh",
                ));
                let file = a.request.dropin.clone().unwrap_or_default();
                outcome.blocks.push(Block::new(
                    "Or for the fleet (Ansible):",
                    crate::reserve::ansible_task(&a.request.value, &file),
                    "portscope-reservation.yml",
                ));
                self.open(Modal::Outcome(outcome));
            }
            Ok(a) => self.open(Modal::confirm(
                PendingAction::ApplyReservation(a),
                Vec::new(),
            )),
        }
    }
}
