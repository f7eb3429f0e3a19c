//! A plan step of `why` as an action: the same values for `fix` on the command line and for the
//! TUI's why view, so both go through the executor's re-checks.

use super::{NotOffered, PendingAction, Sig, destroy_set, plan_reservation, plan_signal};
use crate::analyze::why::RemedyKind;
use crate::analyze::why::{Diagnosis, Remedy};
use crate::collect::NetnsTarget;
use crate::model::Snapshot;
use crate::portset::PortSet;
use std::path::PathBuf;

/// Whether portscope can carry the step out itself (the rest are shown for a person to do:
/// stopping a unit, a change in code or configuration, looking as root, waiting).
pub fn runnable(r: &Remedy) -> bool {
    matches!(
        r.action,
        RemedyKind::Reserve
            | RemedyKind::DestroyTimeWait
            | RemedyKind::DestroyConnections
            | RemedyKind::CloseConnection
            | RemedyKind::Kill
    ) || (r.action == RemedyKind::StopService && super::stop::argv_of(&r.command).is_some())
}

/// The action for one step. A reservation is runtime only: the moment is what matters here,
/// and persisting it is `reserve apply`'s job (it knows the drop-in and the boot value).
pub fn plan_step(
    r: &Remedy,
    d: &Diagnosis,
    snap: &Snapshot,
    netns: &NetnsTarget,
    journal: Option<PathBuf>,
) -> Result<PendingAction, NotOffered> {
    match r.action {
        RemedyKind::Reserve => {
            if !snap.sysctl.known("ip_local_reserved_ports") {
                return Err(NotOffered::ReservedUnknown);
            }
            let journal = journal.ok_or(NotOffered::NoJournal)?;
            let mut add = PortSet::new();
            add.insert(d.port);
            let a = plan_reservation(snap, &add, &PortSet::new(), netns, None, None, journal);
            Ok(PendingAction::ApplyReservation(a))
        }
        RemedyKind::Kill => {
            let c = r
                .cause
                .and_then(|i| d.causes.get(i))
                .ok_or(NotOffered::NoCause)?;
            let s = c
                .holders
                .iter()
                .map(|&h| &d.holders[h].socket)
                .find(|s| !s.owners.is_empty())
                .ok_or(NotOffered::NoProcess)?;
            plan_signal(snap, s, Sig::Term, netns)
        }
        RemedyKind::StopService => {
            let owners: Vec<&crate::model::Owner> = r
                .cause
                .and_then(|i| d.causes.get(i))
                .map(|c| {
                    c.holders
                        .iter()
                        .flat_map(|&h| d.holders[h].socket.owners.iter().map(|o| &**o))
                        .collect()
                })
                .unwrap_or_default();
            super::stop::plan(&r.command, &r.text, &owners).map(PendingAction::StopService)
        }
        RemedyKind::DestroyTimeWait
        | RemedyKind::DestroyConnections
        | RemedyKind::CloseConnection => {
            destroy_set::plan_destroy_cause(d, r.cause.ok_or(NotOffered::NoCause)?, netns)
        }
        _ => Err(NotOffered::ByHand {
            what: if r.command.is_empty() {
                r.change.clone().unwrap_or_else(|| r.text.clone())
            } else {
                r.command.clone()
            },
        }),
    }
}
