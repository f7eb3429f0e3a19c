//! Making a plan real, all or nothing: the runtime value of the target namespace (verified by
//! reading it back), the persistent drop-in, and the journal entry that lets `undo` put both back.
//! When a step fails, every earlier step is reverted before the error is returned.

use super::atomic;
use super::fleet::dropin_content;
use super::journal::{self, DropinChange, Entry, Journal, NetnsRef};
use super::plan::Plan;
use crate::collect::netns::current_inode;
use crate::collect::sysctl::RESERVED_PORTS;
use crate::collect::{NetnsError, NetnsTarget};
use crate::portset::PortSet;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Needs root (CAP_NET_ADMIN over the namespace, write access to the sysctl directory).
    NotPermitted,
    /// The namespace named by the user does not exist or is not a namespace.
    BadTarget,
    /// The kernel's value changed after the plan was made; nothing was done.
    Stale,
    NothingToUndo,
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
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApplyError {
            kind,
            message: message.into(),
        }
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

/// A validated change, ready to run. Built from a [`Plan`] so what runs is what was shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyRequest {
    pub netns: NetnsTarget,
    /// The kernel's value the plan was made against; apply refuses if it has changed since.
    pub expected_current: PortSet,
    pub value: PortSet,
    /// Where to persist; `None` changes the runtime value only.
    pub dropin: Option<PathBuf>,
    pub journal: PathBuf,
}

impl ApplyRequest {
    pub fn from_plan(
        plan: &Plan,
        netns: NetnsTarget,
        dropin: Option<PathBuf>,
        journal: PathBuf,
    ) -> Self {
        ApplyRequest {
            netns,
            expected_current: plan.current.clone(),
            value: plan.proposed.clone(),
            dropin,
            journal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub entry: Entry,
    pub journal: PathBuf,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn not_permitted() -> ApplyError {
    ApplyError::new(
        ErrorKind::NotPermitted,
        "changing net.ipv4.ip_local_reserved_ports needs root (CAP_NET_ADMIN over the network \
         namespace, and write access to the sysctl.d directory); nothing was changed",
    )
}

/// The reserved-ports list of the calling thread's namespace.
fn read_runtime() -> io::Result<PortSet> {
    let text = std::fs::read_to_string(RESERVED_PORTS)?;
    PortSet::parse(text.trim()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Replaces the list in one write: the kernel parses one buffer, and an empty write is ignored
/// (only a lone newline clears the list).
fn write_runtime(value: &PortSet) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(RESERVED_PORTS)?;
    let buf = format!("{value}\n");
    let n = f.write(buf.as_bytes())?;
    if n != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("the kernel took {n} of {} bytes", buf.len()),
        ));
    }
    Ok(())
}

/// Sets the runtime value and checks the kernel holds exactly that.
fn set_runtime(value: &PortSet) -> Result<(), String> {
    write_runtime(value).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => {
            format!("writing {RESERVED_PORTS} was refused ({e}): root is needed")
        }
        _ => format!("writing \"{value}\" to {RESERVED_PORTS} failed: {e}"),
    })?;
    let back = read_runtime().map_err(|e| format!("reading {RESERVED_PORTS} back failed: {e}"))?;
    if &back != value {
        return Err(format!(
            "the kernel holds \"{back}\" after writing \"{value}\" (read-back differs)"
        ));
    }
    Ok(())
}

fn shown(p: &PortSet) -> String {
    if p.is_empty() {
        "(none)".into()
    } else {
        p.to_string()
    }
}

/// The steps already done, to be reverted newest first.
#[derive(Default)]
struct Rollback {
    runtime: Option<PortSet>,
    dropin: Option<(PathBuf, Option<String>)>,
}

impl Rollback {
    /// Reverts and turns `what` (the failure) into the error, saying what was put back or, when
    /// putting back failed too, exactly what is left and how to fix it.
    fn fail(self, what: String) -> ApplyError {
        let mut restored = Vec::new();
        let mut left = Vec::new();
        if let Some((path, previous)) = &self.dropin {
            match atomic::restore(path, previous.as_deref()) {
                Ok(()) => restored.push(format!("{} as it was", path.display())),
                Err(e) => left.push(format!(
                    "{} could not be put back ({e}); {}",
                    path.display(),
                    match previous {
                        Some(_) => "its previous content is in the undo journal's last entry",
                        None => "it did not exist before: delete it",
                    }
                )),
            }
        }
        if let Some(previous) = &self.runtime {
            match set_runtime(previous) {
                Ok(()) => restored.push(format!("runtime value {}", shown(previous))),
                Err(e) => left.push(format!(
                    "the runtime value could not be put back ({e}); set it with: \
                     sysctl -w net.ipv4.ip_local_reserved_ports={previous}"
                )),
            }
        }
        let message = if !left.is_empty() {
            format!("{what}; {}", left.join("; "))
        } else if restored.is_empty() {
            format!("{what}; nothing was changed")
        } else {
            format!(
                "{what}; put back {}: nothing was changed",
                restored.join(" and ")
            )
        };
        ApplyError::new(ErrorKind::Failed, message)
    }
}

/// Applies the request: runtime value, drop-in, journal entry. Either all three happen or none.
pub fn apply(req: &ApplyRequest) -> Result<ApplyOutcome, ApplyError> {
    if !is_root() {
        return Err(not_permitted());
    }
    let _lock = journal::lock(&req.journal).map_err(|e| ApplyError::new(ErrorKind::Failed, e))?;
    let mut journal =
        Journal::load(&req.journal).map_err(|e| ApplyError::new(ErrorKind::Failed, e))?;
    req.netns.run_in(|| apply_here(req, &mut journal))?
}

/// The transaction, on a thread inside the target namespace (files are unaffected by setns of the
/// network namespace, so the drop-in and journal are the host's).
fn apply_here(req: &ApplyRequest, journal: &mut Journal) -> Result<ApplyOutcome, ApplyError> {
    let netns = NetnsRef {
        target: req.netns.describe(),
        inode: current_inode(),
    };
    let previous = read_runtime().map_err(|e| {
        ApplyError::new(
            ErrorKind::Failed,
            format!("cannot read {RESERVED_PORTS}: {e}"),
        )
    })?;
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
    let dropin_previous = match &req.dropin {
        Some(path) => Some(atomic::read_optional(path).map_err(|e| {
            ApplyError::new(
                ErrorKind::Failed,
                format!("cannot read {}: {e}; nothing was changed", path.display()),
            )
        })?),
        None => None,
    };
    let at = jiff::Timestamp::now();
    // Armed before the write: a refused write leaves the old list, but a read-back mismatch
    // means the kernel took something, so the previous value goes back in every case.
    let mut rollback = Rollback {
        runtime: Some(previous.clone()),
        dropin: None,
    };
    if let Err(e) = set_runtime(&req.value) {
        return Err(rollback.fail(e));
    }

    let dropin = match (&req.dropin, dropin_previous) {
        (Some(path), Some(prev)) => {
            let written = dropin_content(&req.value, at);
            if let Err(e) = atomic::write(path, &written, 0o644) {
                return Err(
                    rollback.fail(format!("cannot write the drop-in {}: {e}", path.display()))
                );
            }
            rollback.dropin = Some((path.clone(), prev.clone()));
            Some(DropinChange {
                path: path.clone(),
                previous: prev,
                written,
            })
        }
        _ => None,
    };

    let entry = Entry {
        at,
        netns,
        previous_runtime: previous,
        applied_runtime: req.value.clone(),
        dropin,
    };
    journal.entries.push(entry.clone());
    if let Err(e) = journal.save(&req.journal) {
        return Err(rollback.fail(e));
    }
    Ok(ApplyOutcome {
        entry,
        journal: req.journal.clone(),
    })
}

/// What `undo` would do: the newest journal entry for the namespace, and how things stand now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoPlan {
    pub netns: NetnsTarget,
    pub journal: PathBuf,
    pub entry: Entry,
    pub runtime_now: PortSet,
    /// The drop-in's content now, when the entry changed one (`None`: the file is gone).
    pub dropin_now: Option<String>,
    /// Entries left for this namespace after this one.
    pub remaining: usize,
    /// Changes made by someone else since the apply, which undo will overwrite.
    pub warnings: Vec<String>,
}

/// Looks up what `undo` would restore, without changing anything.
pub fn plan_undo(journal_path: &Path, netns: &NetnsTarget) -> Result<UndoPlan, ApplyError> {
    let journal = Journal::load(journal_path).map_err(|e| ApplyError::new(ErrorKind::Failed, e))?;
    let (inode, runtime_now) = netns.run_in(|| (current_inode(), read_runtime()))?;
    let runtime_now = runtime_now.map_err(|e| {
        ApplyError::new(
            ErrorKind::Failed,
            format!("cannot read {RESERVED_PORTS}: {e}"),
        )
    })?;
    let Some(idx) = journal.last_for(inode) else {
        let others = journal.entries.len();
        let mut targets: Vec<&str> = journal
            .entries
            .iter()
            .map(|e| e.netns.target.as_str())
            .collect();
        targets.sort_unstable();
        targets.dedup();
        return Err(ApplyError::new(
            ErrorKind::NothingToUndo,
            if others == 0 {
                format!(
                    "nothing to undo: the journal {} has no applied change",
                    journal_path.display()
                )
            } else {
                format!(
                    "nothing to undo in network namespace {} (inode {inode}); the journal {} \
                     holds {others} change(s) for other namespaces ({}): select one with --netns",
                    netns.describe(),
                    journal_path.display(),
                    targets.join(", ")
                )
            },
        ));
    };
    let entry = journal.entries[idx].clone();
    let remaining = journal.entries[..idx]
        .iter()
        .filter(|e| e.netns.inode == inode)
        .count();
    let mut warnings = Vec::new();
    if runtime_now != entry.applied_runtime {
        warnings.push(format!(
            "the runtime value changed since portscope set it (now {}, portscope set {}); \
             undo replaces it with {}",
            shown(&runtime_now),
            shown(&entry.applied_runtime),
            shown(&entry.previous_runtime)
        ));
    }
    let dropin_now = match &entry.dropin {
        Some(d) => {
            let now = atomic::read_optional(&d.path).map_err(|e| {
                ApplyError::new(
                    ErrorKind::Failed,
                    format!("cannot read {}: {e}", d.path.display()),
                )
            })?;
            if now.as_deref() != Some(d.written.as_str()) {
                warnings.push(format!(
                    "{} was changed since portscope wrote it; undo replaces it with what was \
                     there before",
                    d.path.display()
                ));
            }
            now
        }
        None => None,
    };
    Ok(UndoPlan {
        netns: netns.clone(),
        journal: journal_path.to_path_buf(),
        entry,
        runtime_now,
        dropin_now,
        remaining,
        warnings,
    })
}

/// Restores the state before the apply recorded in `plan.entry` and drops that entry. Refuses
/// when the journal or the kernel moved on since `plan_undo` (someone else applied or undid).
pub fn undo(plan: &UndoPlan) -> Result<Entry, ApplyError> {
    if !is_root() {
        return Err(not_permitted());
    }
    let _lock = journal::lock(&plan.journal).map_err(|e| ApplyError::new(ErrorKind::Failed, e))?;
    let mut journal =
        Journal::load(&plan.journal).map_err(|e| ApplyError::new(ErrorKind::Failed, e))?;
    plan.netns.run_in(|| undo_here(plan, &mut journal))?
}

fn undo_here(plan: &UndoPlan, journal: &mut Journal) -> Result<Entry, ApplyError> {
    let stale = |what: &str| {
        ApplyError::new(
            ErrorKind::Stale,
            format!("{what} changed since the undo was shown; nothing was changed: run undo again"),
        )
    };
    let idx = match journal.last_for(current_inode()) {
        Some(i) if journal.entries[i] == plan.entry => i,
        _ => return Err(stale("the undo journal")),
    };
    let now = read_runtime().map_err(|e| {
        ApplyError::new(
            ErrorKind::Failed,
            format!("cannot read {RESERVED_PORTS}: {e}"),
        )
    })?;
    if now != plan.runtime_now {
        return Err(stale("the runtime value"));
    }
    let entry = journal.entries.remove(idx);
    let mut rollback = Rollback {
        runtime: Some(now),
        dropin: None,
    };
    if let Err(e) = set_runtime(&entry.previous_runtime) {
        return Err(rollback.fail(e));
    }
    if let Some(d) = &entry.dropin {
        let current = match atomic::read_optional(&d.path) {
            Ok(c) => c,
            Err(e) => {
                return Err(rollback.fail(format!("cannot read {}: {e}", d.path.display())));
            }
        };
        if let Err(e) = atomic::restore(&d.path, d.previous.as_deref()) {
            return Err(rollback.fail(format!("cannot restore {}: {e}", d.path.display())));
        }
        rollback.dropin = Some((d.path.clone(), current));
    }
    if let Err(e) = journal.save(&plan.journal) {
        return Err(rollback.fail(e));
    }
    Ok(entry)
}
