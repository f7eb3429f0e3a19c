//! Making a plan real, all or nothing, even under SIGKILL: the journal entry is written first
//! (pending, with everything needed to put the old state back), then the runtime value of the
//! target namespace (verified by reading it back), then the drop-in, then the entry is marked
//! done. A failing step puts back the steps before it; a kill leaves a pending entry that
//! `undo` rolls back and [`finish`] completes.

use super::fleet::dropin_content;
use super::journal::{self, DropinChange, Entry, EntryState, Journal, NetnsId, NetnsRef};
use super::runtime::{self, shown};
use super::txn::{Change, DropinStep, failpoint};
use crate::collect::sysctl::RESERVED_PORTS;
use crate::collect::{NetnsError, NetnsTarget};
use crate::paths::is_root;
use crate::portset::PortSet;
use crate::safefs::{Bytes, Existing};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Needs root (CAP_NET_ADMIN over the namespace, write access to the sysctl directory).
    NotPermitted,
    /// The namespace named by the user does not exist or is not a namespace.
    BadTarget,
    /// The kernel's value or the journal changed after the plan was made; nothing was done.
    Stale,
    NothingToUndo,
    /// The plan is one the kernel cannot take, or that would leave no ephemeral port.
    Refused,
    /// An earlier apply was interrupted: finish it or roll it back first.
    Unfinished,
    /// Someone else changed what this entry wrote: acting would overwrite their change.
    Conflict,
    /// A step failed; what was changed was put back (the message says whether that worked).
    Failed,
}

/// Why an apply or undo did not happen; the message is a full sentence saying what was changed
/// and put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApplyError {
    pub(super) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApplyError {
            kind,
            message: message.into(),
        }
    }

    pub(super) fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApplyError {}

impl From<NetnsError> for ApplyError {
    fn from(e: NetnsError) -> Self {
        let kind = match e {
            NetnsError::NotFound(_) | NetnsError::NotANetns(_) => ErrorKind::BadTarget,
            NetnsError::NotPermitted(_) => ErrorKind::NotPermitted,
            NetnsError::Other(_) => ErrorKind::Failed,
        };
        ApplyError::new(kind, e.to_string())
    }
}

/// A validated change, ready to run. Built from a [`super::Plan`] so what runs is what was shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyRequest {
    pub netns: NetnsTarget,
    /// The kernel's value the plan was made against; apply refuses if it has changed since.
    pub expected_current: PortSet,
    pub value: PortSet,
    /// Where to persist; `None` changes the runtime value only.
    pub dropin: Option<PathBuf>,
    /// The `--sysctl-root` the drop-in lies under: no link below it is followed.
    pub sysctl_root: Option<PathBuf>,
    pub journal: PathBuf,
    /// Apply even when little or nothing of the ephemeral range stays usable.
    pub force: bool,
    /// The configuration files the plan merged with; apply refuses if they changed since.
    pub boot_seen: Option<super::BootSeen>,
}

impl ApplyRequest {
    pub fn from_plan(
        plan: &super::Plan,
        netns: NetnsTarget,
        dropin: Option<PathBuf>,
        journal: PathBuf,
    ) -> Self {
        ApplyRequest {
            netns,
            expected_current: plan.current.clone(),
            value: plan.proposed.clone(),
            dropin,
            sysctl_root: None,
            journal,
            force: false,
            boot_seen: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub entry: Entry,
    pub journal: PathBuf,
}

pub(super) fn not_permitted() -> ApplyError {
    ApplyError::new(
        ErrorKind::NotPermitted,
        "changing net.ipv4.ip_local_reserved_ports needs root (CAP_NET_ADMIN over the network \
         namespace, and write access to the sysctl.d directory); nothing was changed",
    )
}

pub(super) fn read_runtime() -> Result<PortSet, ApplyError> {
    runtime::read().map_err(|e| ApplyError::failed(format!("cannot read {RESERVED_PORTS}: {e}")))
}

pub fn unfinished_message(e: &Entry, journal: &Path) -> String {
    let who = match e.pid {
        Some(pid) if std::path::Path::new(&format!("/proc/{pid}")).exists() => {
            format!(" by portscope pid {pid}, which may still be running")
        }
        Some(pid) => format!(" by portscope pid {pid}, which is gone"),
        None => String::new(),
    };
    format!(
        "an apply of {} started at {}{who} did not finish (journal {}): roll it back with \
         `portscope reserve undo{}` or complete it with `portscope reserve apply --finish{}`",
        shown(&e.applied_runtime),
        e.at,
        journal.display(),
        flag_for(&e.netns.target),
        flag_for(&e.netns.target),
    )
}

fn flag_for(target: &str) -> String {
    match target {
        "current" => String::new(),
        t => format!(" --netns {}", t.trim_start_matches("pid ")),
    }
}

/// Whether the kernel can take `value` (replacing `previous`) and outgoing connections keep
/// ports to use; the reason when not. Only a change that shrinks the usable ephemeral range is
/// refused for leaving too little of it.
pub fn refusal(
    previous: &PortSet,
    value: &PortSet,
    range: [u16; 2],
    force: bool,
) -> Option<String> {
    if let Some(why) = runtime::too_long(value) {
        return Some(why);
    }
    let [lo, hi] = [range[0].min(range[1]), range[0].max(range[1])];
    let size = u32::from(hi) - u32::from(lo) + 1;
    let usable = size - value.count_in(lo, hi);
    let before = size - previous.count_in(lo, hi);
    if force || usable >= before {
        return None;
    }
    if usable == 0 {
        return Some(format!(
            "this leaves no port of the ephemeral range {lo}-{hi}: every outgoing connection \
             will fail; refused (--force to do it anyway)"
        ));
    }
    if usable < runtime::NEAR_EMPTY_PORTS.min(size) {
        return Some(format!(
            "this leaves {usable} ports of the ephemeral range {lo}-{hi}: every outgoing \
             connection will fail once they are in use; refused (--force to do it anyway)"
        ));
    }
    None
}

fn read_range() -> Option<[u16; 2]> {
    let text = crate::kernel_file::read(crate::collect::sysctl::PORT_RANGE).ok()?;
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) => Some([lo, hi]),
        _ => None,
    }
}

/// Applies the request: journal (pending), runtime value, drop-in, journal (done).
pub fn apply(req: &ApplyRequest) -> Result<ApplyOutcome, ApplyError> {
    if !is_root() {
        return Err(not_permitted());
    }
    let _lock = journal::lock(&req.journal).map_err(|e| ApplyError::failed(e.to_string()))?;
    req.netns.run_in(|| apply_here(req))?
}

/// The transaction, on a thread inside the target namespace (files are unaffected by setns of the
/// network namespace, so the drop-in and journal are the host's).
fn apply_here(req: &ApplyRequest) -> Result<ApplyOutcome, ApplyError> {
    let _ns = journal::lock_netns().map_err(|e| ApplyError::failed(e.to_string()))?;
    let mut journal = Journal::load(&req.journal).map_err(|e| ApplyError::failed(e.to_string()))?;
    let id = NetnsId::current();
    if let Some(i) = journal
        .last_for(&id)
        .map_err(|e| ApplyError::failed(e.to_string()))?
        && journal.entries[i].state == EntryState::Pending
    {
        return Err(ApplyError::new(
            ErrorKind::Unfinished,
            format!(
                "{}; nothing was changed",
                unfinished_message(&journal.entries[i], &req.journal)
            ),
        ));
    }
    let previous = read_runtime()?;
    if previous != req.expected_current {
        return Err(ApplyError::new(
            ErrorKind::Stale,
            format!(
                "the reserved ports changed since the plan was made (now {}, planned against {}); \
                 nothing was changed: plan again",
                shown(&previous),
                shown(&req.expected_current)
            ),
        ));
    }
    if let Some(changed) = req
        .boot_seen
        .as_ref()
        .and_then(super::BootSeen::changed_since)
    {
        return Err(ApplyError::new(
            ErrorKind::Stale,
            format!("{changed}; nothing was changed: plan again"),
        ));
    }
    if let Some(why) = refusal(
        &previous,
        &req.value,
        read_range().unwrap_or([32768, 60999]),
        req.force,
    ) {
        return Err(ApplyError::new(
            ErrorKind::Refused,
            format!("{why}; nothing was changed"),
        ));
    }
    let at = jiff::Timestamp::now();
    let written = dropin_content(&req.value, at);
    let (step, dropin) = match &req.dropin {
        None => (None, None),
        Some(path) => {
            let (dir, name) = journal::open_parent(path, req.sysctl_root.as_deref())
                .map_err(|e| ApplyError::failed(format!("{e}; nothing was changed")))?;
            // A killed earlier write may have left a temporary file; it is ours to remove.
            let _ = dir.remove_leftovers(&name);
            let from = dir
                .inspect(&name)
                .map_err(|e| ApplyError::failed(format!("{e}; nothing was changed")))?;
            let change = DropinChange {
                path: path.clone(),
                root: req.sysctl_root.clone(),
                previous: from.clone(),
                written: written.clone(),
            };
            let to = Existing::File {
                content: Bytes(written.clone().into_bytes()),
                mode: 0o644,
            };
            (
                Some(DropinStep {
                    dir,
                    name,
                    from,
                    to,
                }),
                Some(change),
            )
        }
    };
    let entry = Entry {
        at,
        netns: NetnsRef::new(req.netns.describe(), id),
        previous_runtime: previous.clone(),
        applied_runtime: req.value.clone(),
        dropin,
        state: EntryState::Pending,
        pid: Some(std::process::id()),
    };
    journal.entries.push(entry.clone());
    journal
        .save(&req.journal)
        .map_err(|e| ApplyError::failed(format!("{e}; nothing was changed")))?;
    failpoint("apply:after-journal");

    let change = Change {
        runtime_from: previous,
        runtime_to: req.value.clone(),
        dropin: step,
        tag: "apply",
    };
    if let Err(f) = change.run() {
        return Err(ApplyError::failed(forget_pending(
            &mut journal,
            &req.journal,
            f.message,
            f.clean,
        )));
    }
    let done = Entry {
        state: EntryState::Done,
        pid: None,
        ..entry
    };
    if let Some(last) = journal.entries.last_mut() {
        *last = done.clone();
    }
    journal.save(&req.journal).map_err(|e| {
        ApplyError::failed(format!(
            "the change is made, but {e}: the journal still marks it unfinished, so `portscope \
             reserve undo` rolls it back and `portscope reserve apply --finish` keeps it"
        ))
    })?;
    Ok(ApplyOutcome {
        entry: done,
        journal: req.journal.clone(),
    })
}

/// After a failed change: drop its pending entry when everything is back as it was, and say
/// what the journal now holds.
fn forget_pending(journal: &mut Journal, path: &Path, message: String, clean: bool) -> String {
    if !clean {
        return format!(
            "{message}; the journal keeps the unfinished entry: `portscope reserve undo` puts \
             back what it can"
        );
    }
    journal.entries.pop();
    match journal.save(path) {
        Ok(()) => message,
        Err(e) => format!(
            "{message} (but {e}: the journal keeps an unfinished entry, which `portscope reserve \
             undo` clears)"
        ),
    }
}

/// Completes an apply that was interrupted: sets what the pending entry recorded, unless
/// someone changed the drop-in since (then refuses, changing nothing).
pub fn finish(journal_path: &Path, netns: &NetnsTarget) -> Result<Entry, ApplyError> {
    if !is_root() {
        return Err(not_permitted());
    }
    let _lock = journal::lock(journal_path).map_err(|e| ApplyError::failed(e.to_string()))?;
    netns.run_in(|| {
        let _ns = journal::lock_netns().map_err(|e| ApplyError::failed(e.to_string()))?;
        let mut journal =
            Journal::load(journal_path).map_err(|e| ApplyError::failed(e.to_string()))?;
        let id = NetnsId::current();
        let idx = match journal
            .last_for(&id)
            .map_err(|e| ApplyError::failed(e.to_string()))?
        {
            Some(i) if journal.entries[i].state == EntryState::Pending => i,
            _ => {
                return Err(ApplyError::new(
                    ErrorKind::NothingToUndo,
                    "no unfinished apply for this network namespace: nothing to finish",
                ));
            }
        };
        let entry = journal.entries[idx].clone();
        let now = read_runtime()?;
        let target = now.union(&entry.added()).difference(&entry.removed());
        let step = match &entry.dropin {
            None => None,
            Some(d) => {
                let (dir, name) = d.open().map_err(|e| ApplyError::failed(e.to_string()))?;
                let _ = dir.remove_leftovers(&name);
                let from = dir
                    .inspect(&name)
                    .map_err(|e| ApplyError::failed(e.to_string()))?;
                if from.content() != Some(d.written.as_bytes()) && from != d.previous {
                    return Err(ApplyError::new(
                        ErrorKind::Conflict,
                        format!(
                            "{} was changed by someone else since the apply started (it is {}): \
                             finishing would overwrite that; nothing was changed",
                            d.path.display(),
                            from.describe()
                        ),
                    ));
                }
                let to = Existing::File {
                    content: Bytes(d.written.clone().into_bytes()),
                    mode: 0o644,
                };
                let to = if from.content() == Some(d.written.as_bytes()) {
                    from.clone()
                } else {
                    to
                };
                Some(DropinStep {
                    dir,
                    name,
                    from,
                    to,
                })
            }
        };
        let change = Change {
            runtime_from: now,
            runtime_to: target,
            dropin: step,
            tag: "finish",
        };
        change.run().map_err(|f| ApplyError::failed(f.message))?;
        let done = Entry {
            state: EntryState::Done,
            pid: None,
            ..entry
        };
        journal.entries[idx] = done.clone();
        journal
            .save(journal_path)
            .map_err(|e| ApplyError::failed(format!("the change is made, but {e}")))?;
        Ok(done)
    })?
}
