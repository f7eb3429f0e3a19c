//! Undoing an apply: exactly what its journal entry changed, and nothing anybody else set.
//!
//! The runtime value is merged three ways: ports the entry added come out, ports it removed go
//! back, ports someone else added or removed since stay as they are. The drop-in is put back
//! only while it still holds what portscope wrote; a drop-in someone edited since is never
//! overwritten: undo stops, changing nothing, even under `--yes`. Undo is idempotent, so an undo
//! killed halfway is finished by running it again; a pending entry (an apply that was killed)
//! is rolled back the same way.

use super::apply::{ApplyError, ErrorKind, not_permitted, read_runtime, unfinished_message};
use super::journal::{self, Entry, EntryState, Journal, NetnsId};
use super::runtime::shown;
use super::txn::{Change, DropinStep};
use crate::collect::NetnsTarget;
use crate::paths::is_root;
use crate::portset::PortSet;
use crate::safefs::Existing;
use std::path::{Path, PathBuf};

/// What `undo` would do: the newest journal entry for the namespace, and how things stand now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoPlan {
    pub netns: NetnsTarget,
    pub journal: PathBuf,
    pub entry: Entry,
    pub runtime_now: PortSet,
    /// The runtime value after the undo: now, less what the entry added, plus what it removed.
    pub runtime_after: PortSet,
    /// The drop-in now, when the entry changed one.
    pub dropin_now: Option<Existing>,
    /// Whether undo puts the drop-in's previous state back.
    pub dropin_restore: bool,
    /// Entries left for this namespace after this one.
    pub remaining: usize,
    /// Changes made by someone else since the apply, which undo keeps.
    pub warnings: Vec<String>,
    /// Why undo cannot happen without overwriting someone else's change.
    pub blocked: Option<String>,
}

impl UndoPlan {
    /// What undo does to the drop-in, in words; `None` when the entry did not write one.
    pub fn dropin_effect(&self) -> Option<String> {
        let d = self.entry.dropin.as_ref()?;
        let path = d.path.display();
        Some(if self.dropin_restore {
            match &d.previous {
                Existing::File { .. } => format!("{path}: its previous content put back"),
                Existing::Symlink { target } => {
                    format!("{path}: the symbolic link to {} put back", target.display())
                }
                Existing::Absent => format!("{path}: removed (it did not exist before)"),
            }
        } else {
            format!("{path}: left as it is (it already is as it was before)")
        })
    }
}

/// What undoing `entry` does to `runtime_now` and `dropin_now`.
fn derive(entry: &Entry, runtime_now: &PortSet, dropin_now: Option<&Existing>) -> Derived {
    let runtime_after = runtime_now
        .difference(&entry.added())
        .union(&entry.removed());
    let mut warnings = Vec::new();
    if runtime_now != &entry.applied_runtime && entry.state == EntryState::Done {
        warnings.push(format!(
            "the runtime value changed since portscope set it (now {}, portscope set {}); undo \
             takes out only what that apply added and puts back what it removed, keeping the \
             other changes: {}",
            shown(runtime_now),
            shown(&entry.applied_runtime),
            shown(&runtime_after)
        ));
    }
    let mut blocked = None;
    let mut dropin_restore = false;
    if let (Some(d), Some(now)) = (&entry.dropin, dropin_now) {
        if now == &d.previous {
            // Already as it was (a pending apply that never got there, an undo run twice).
        } else if now.content() == Some(d.written.as_bytes()) {
            dropin_restore = true;
        } else {
            blocked = Some(format!(
                "{} was changed by someone else since portscope wrote it (it is now {}); undo \
                 would overwrite that change, so it changes nothing: edit the file by hand, or \
                 remove the change there first",
                d.path.display(),
                now.describe()
            ));
        }
    }
    Derived {
        runtime_after,
        dropin_restore,
        warnings,
        blocked,
    }
}

struct Derived {
    runtime_after: PortSet,
    dropin_restore: bool,
    warnings: Vec<String>,
    blocked: Option<String>,
}

fn read_dropin(entry: &Entry) -> Result<Option<Existing>, ApplyError> {
    match &entry.dropin {
        None => Ok(None),
        Some(d) => {
            let (dir, name) = d.open().map_err(|e| ApplyError::failed(e.to_string()))?;
            dir.inspect(&name)
                .map(Some)
                .map_err(|e| ApplyError::failed(e.to_string()))
        }
    }
}

fn nothing_to_undo(
    journal: &Journal,
    path: &Path,
    netns: &NetnsTarget,
    id: &NetnsId,
) -> ApplyError {
    let others = journal.entries.len();
    let mut targets: Vec<&str> = journal
        .entries
        .iter()
        .map(|e| e.netns.target.as_str())
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let recycled = journal.entries.iter().any(|e| e.netns.inode == id.inode);
    ApplyError::new(
        ErrorKind::NothingToUndo,
        if others == 0 {
            format!(
                "nothing to undo: the journal {} has no applied change",
                path.display()
            )
        } else if recycled {
            format!(
                "nothing to undo in {}: the journal's entries for inode {} \
                 belong to a namespace that no longer exists (its inode was reused)",
                netns.phrase(),
                id.inode
            )
        } else {
            format!(
                "nothing to undo in {} (inode {}); the journal {} holds {others} \
                 change(s) for other namespaces ({}): select one with --netns",
                netns.phrase(),
                id.inode,
                path.display(),
                targets.join(", ")
            )
        },
    )
}

/// Looks up what `undo` would restore, without changing anything.
pub fn plan_undo(journal_path: &Path, netns: &NetnsTarget) -> Result<UndoPlan, ApplyError> {
    let journal = Journal::load(journal_path).map_err(|e| ApplyError::failed(e.to_string()))?;
    let (id, runtime_now) = netns.run_in(|| (NetnsId::current(), read_runtime()))?;
    let runtime_now = runtime_now?;
    let Some(idx) = journal
        .last_for(&id)
        .map_err(|e| ApplyError::failed(e.to_string()))?
    else {
        return Err(nothing_to_undo(&journal, journal_path, netns, &id));
    };
    let entry = journal.entries[idx].clone();
    let dropin_now = read_dropin(&entry)?;
    let d = derive(&entry, &runtime_now, dropin_now.as_ref());
    let mut warnings = d.warnings;
    if entry.state == EntryState::Pending {
        warnings.insert(0, unfinished_message(&entry, journal_path));
    }
    Ok(UndoPlan {
        netns: netns.clone(),
        journal: journal_path.to_path_buf(),
        remaining: journal.older_for(idx, &id),
        entry,
        runtime_now,
        runtime_after: d.runtime_after,
        dropin_now,
        dropin_restore: d.dropin_restore,
        warnings,
        blocked: d.blocked,
    })
}

/// Restores the state before the apply recorded in `plan.entry` and drops that entry. Refuses
/// when undo would overwrite someone else's change, and when the journal, the kernel or the
/// drop-in moved on since `plan_undo`.
pub fn undo(plan: &UndoPlan) -> Result<Entry, ApplyError> {
    if let Some(why) = &plan.blocked {
        return Err(ApplyError::new(ErrorKind::Conflict, why.clone()));
    }
    if !is_root() {
        return Err(not_permitted());
    }
    let _lock = journal::lock(&plan.journal).map_err(|e| ApplyError::failed(e.to_string()))?;
    plan.netns.run_in(|| undo_here(plan))?
}

fn undo_here(plan: &UndoPlan) -> Result<Entry, ApplyError> {
    let _ns = journal::lock_netns().map_err(|e| ApplyError::failed(e.to_string()))?;
    let mut journal =
        Journal::load(&plan.journal).map_err(|e| ApplyError::failed(e.to_string()))?;
    let stale = |what: &str| {
        ApplyError::new(
            ErrorKind::Stale,
            format!("{what} changed since the undo was shown; nothing was changed: run undo again"),
        )
    };
    let idx = match journal
        .last_for(&NetnsId::current())
        .map_err(|e| ApplyError::failed(e.to_string()))?
    {
        Some(i) if journal.entries[i] == plan.entry => i,
        _ => return Err(stale("the undo journal")),
    };
    if read_runtime()? != plan.runtime_now {
        return Err(stale("the runtime value"));
    }
    let step = match &plan.entry.dropin {
        None => None,
        Some(d) => {
            let (dir, name) = d.open().map_err(|e| ApplyError::failed(e.to_string()))?;
            let from = dir
                .inspect(&name)
                .map_err(|e| ApplyError::failed(e.to_string()))?;
            if Some(&from) != plan.dropin_now.as_ref() {
                return Err(stale(&d.path.display().to_string()));
            }
            let _ = dir.remove_leftovers(&name);
            let to = if plan.dropin_restore {
                d.previous.clone()
            } else {
                from.clone()
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
        runtime_from: plan.runtime_now.clone(),
        runtime_to: plan.runtime_after.clone(),
        dropin: step,
        tag: "undo",
    };
    change.run().map_err(|f| ApplyError::failed(f.message))?;
    let entry = journal.entries.remove(idx);
    journal.save(&plan.journal).map_err(|e| {
        ApplyError::failed(format!(
            "the previous state is back, but {e}: the entry is still in the journal; running \
             undo again changes nothing and removes it"
        ))
    })?;
    Ok(entry)
}
