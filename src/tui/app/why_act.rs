//! The why view's actions: K and D act on the selected cause as a whole (every connection of a
//! worker, every TIME_WAIT of the port), F offers the whole plan as one confirmed sequence.

use super::{App, Modal};
use crate::action::destroy_set::plan_destroy_cause;
use crate::action::from_plan::{plan_step, runnable};
use crate::action::outcome::ActionOutcome;
use crate::action::sequence::SequenceAction;
use crate::action::{NotOffered, PendingAction};
use crate::analyze::why::CauseKind;
use crate::analyze::why::RemedyKind;
use crate::model::text::{Block, Line as TextLine};
use crate::tui::keymap::Command;

impl App {
    /// Up and down pick the cause; past the last one (or with none) they scroll on.
    pub(crate) fn why_move(&mut self, delta: isize) {
        let n = self.feed.diagnosis.as_ref().map_or(0, |d| d.causes.len());
        let next = self
            .why
            .cause
            .saturating_add_signed(delta)
            .min(n.saturating_sub(1));
        if n == 0 || next == self.why.cause {
            self.why_scroll_by(delta);
        } else {
            self.why.cause = next;
            self.why.scroll = 0;
        }
    }

    pub(crate) fn why_scroll_by(&mut self, delta: isize) {
        self.why.scroll =
            self.why
                .scroll
                .saturating_add_signed(i16::try_from(delta).unwrap_or(if delta < 0 {
                    i16::MIN
                } else {
                    i16::MAX
                }));
    }

    fn why_info(&mut self, title: &str, lines: Vec<String>) {
        self.open(Modal::Outcome(ActionOutcome::nothing_done(title, lines)));
    }

    fn why_confirm(&mut self, planned: Result<PendingAction, NotOffered>, context: Vec<String>) {
        match planned {
            Ok(action) => self.open(Modal::confirm(action, context)),
            Err(why) => self.why_info("Nothing to do", vec![why.to_string()]),
        }
    }

    /// The commands of the diagnosis on screen (the plan's, else every remedy's, then the
    /// selected cause's other ones), each whole in a block to copy or write to a file.
    pub(super) fn why_commands(&mut self) {
        let Some(d) = self.feed.diagnosis.clone() else {
            self.note = Some("no diagnosis yet: type a port first".into());
            return;
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut blocks = Vec::new();
        let cause = d.causes.get(self.why.cause);
        let remedies = if d.plan.is_empty() {
            &d.remedies
        } else {
            &d.plan
        };
        for r in remedies
            .iter()
            .chain(cause.into_iter().flat_map(|c| c.remedies.iter()))
        {
            if r.command.is_empty() || seen.contains(&r.command.as_str()) {
                continue;
            }
            seen.push(&r.command);
            blocks.push(Block::new(
                format!("{}. {}", blocks.len() + 1, r.text),
                r.command.clone(),
                format!("portscope-fix-{}.sh", d.port),
            ));
        }
        if blocks.is_empty() {
            self.note = Some("no commands in this diagnosis".into());
            return;
        }
        self.open(Modal::Text {
            title: format!("Commands for {} port {}", d.proto, d.port),
            lines: vec![TextLine::note(
                "each shown whole, as it is to be run; nothing here is run by portscope",
            )],
            blocks,
        });
    }

    pub(crate) fn why_act(&mut self, cmd: Command) {
        let (Some(d), Some(snap)) = (self.feed.diagnosis.clone(), self.feed.snap.clone()) else {
            self.note = Some("type a port first (e)".into());
            return;
        };
        let netns = self.actions.netns.clone();
        let journal = self.actions.journal.clone();
        if cmd == Command::FixPlan {
            if d.would_bind() {
                self.why_info(
                    "Nothing to fix",
                    vec!["the port binds now (the kernel's probe succeeded)".into()],
                );
                return;
            }
            let req = d.request();
            let (mut steps, mut manual) = (Vec::new(), Vec::new());
            for r in &d.plan {
                if !runnable(r) {
                    if r.action != RemedyKind::StartService {
                        manual.push(if r.command.is_empty() {
                            r.change.clone().unwrap_or_else(|| r.text.clone())
                        } else {
                            r.command.clone()
                        });
                    }
                    continue;
                }
                match plan_step(r, &d, &snap, &netns, journal.clone()) {
                    Ok(a) => steps.push(a),
                    Err(e) => manual.push(e.to_string()),
                }
            }
            if steps.is_empty() {
                let mut lines =
                    vec!["portscope cannot carry out any step of this plan itself:".into()];
                lines.extend(manual);
                self.why_info("Fix by hand", lines);
                return;
            }
            self.open(Modal::confirm(
                PendingAction::Sequence(SequenceAction {
                    steps,
                    manual,
                    req,
                    netns,
                }),
                Vec::new(),
            ));
            return;
        }
        let Some(c) = d.causes.get(self.why.cause) else {
            self.note = Some("nothing in the way".into());
            return;
        };
        let context = vec![format!("cause: {}", c.summary)];
        if c.hidden && c.pids.is_empty() {
            let look = c
                .remedies
                .iter()
                .find(|r| r.action == RemedyKind::SeeOwner)
                .map_or_else(String::new, |r| r.command.clone());
            self.why_info(
                "Hidden",
                vec![
                    "portscope cannot see the process behind this cause: run as root to see it"
                        .into(),
                    look,
                ],
            );
            return;
        }
        match cmd {
            Command::Kill => {
                if matches!(c.kind, CauseKind::TimeWait | CauseKind::Closing) {
                    let key = self.keymap.label(Command::CloseConn);
                    self.why_info(
                        "No process",
                        vec![format!(
                            "the kernel holds these sockets, no process: press {key} to destroy them"
                        )],
                    );
                    return;
                }
                let planned = match c.remedies.iter().find(|r| r.action == RemedyKind::Kill) {
                    Some(r) => {
                        let mut r = r.clone();
                        r.cause = Some(self.why.cause);
                        plan_step(&r, &d, &snap, &netns, journal)
                    }
                    None => Err(crate::action::NotOffered::NoProcessToSignal),
                };
                self.why_confirm(planned, context);
            }
            _ => {
                // The dialog names the cause itself.
                let planned = plan_destroy_cause(&d, self.why.cause, &netns);
                self.why_confirm(planned, Vec::new());
            }
        }
    }
}
