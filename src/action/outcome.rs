//! What an action did: the one value every executor returns and the action log records, in a
//! module of its own so the sub-actions (stop, sequence, destroy_set) and the log need not import
//! the executor that calls them.

use super::PendingAction;
use crate::model::text::{Block, Line};
use std::path::PathBuf;

/// What happened, as a fact rather than a styling hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, and it had its effect (the process exited, the value reads back).
    Done,
    /// Carried out, without the effect (a SIGTERM or SIGKILL after which the process still runs).
    NoEffect,
    /// A check failed before acting: nothing was done.
    Refused,
    /// The system refused or failed (permission, kernel support): nothing was done.
    Failed,
}

/// Whether the outcome reached the action log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    /// Appended to this file.
    Yes(PathBuf),
    /// Not logged, and why.
    No(String),
    /// Not an action (an explanation why nothing was offered): nothing to log.
    NotAnAction,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub status: Status,
    pub title: String,
    pub lines: Vec<Line>,
    /// Text to copy or save, after the lines (the commands to run instead, an Ansible task).
    pub blocks: Vec<Block>,
    /// A next step to offer, again behind a confirmation (SIGKILL after an ignored SIGTERM).
    pub follow_up: Option<PendingAction>,
    pub logged: Logged,
}

impl ActionOutcome {
    pub(super) fn new<L: Into<Line>>(
        status: Status,
        title: impl Into<String>,
        lines: Vec<L>,
    ) -> ActionOutcome {
        ActionOutcome {
            status,
            title: title.into(),
            lines: lines.into_iter().map(Into::into).collect(),
            blocks: Vec::new(),
            follow_up: None,
            logged: Logged::NotAnAction,
        }
    }

    pub(super) fn done<L: Into<Line>>(title: impl Into<String>, lines: Vec<L>) -> ActionOutcome {
        ActionOutcome::new(Status::Done, title, lines)
    }

    pub(super) fn failed<L: Into<Line>>(title: impl Into<String>, lines: Vec<L>) -> ActionOutcome {
        ActionOutcome::new(Status::Failed, title, lines)
    }

    /// A message that nothing was done (no action ran; nothing is logged).
    pub fn nothing_done<L: Into<Line>>(title: impl Into<String>, lines: Vec<L>) -> ActionOutcome {
        ActionOutcome::new(Status::Refused, title, lines)
    }

    /// The lines and then each block (its label, its text line by line), as plain text: what a
    /// surface that cannot copy shows, and what the action log records.
    pub fn text_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.lines.iter().map(|l| l.text.clone()).collect();
        for b in &self.blocks {
            out.push(b.label.clone());
            out.extend(b.lines().map(String::from));
        }
        out
    }

    /// The action did what it was for.
    pub fn ok(&self) -> bool {
        self.status == Status::Done
    }
}
