//! A port asked about with `why PORT` that is really a destination whose clients ran out of
//! local ports: "can't connect to db:5432" typed as the only port the operator has. The bind
//! answer stays true (the database does listen there), but it is not why clients fail, and
//! stopping the database would be the wrong fix: the answer leads with the ports, and its plan
//! never stops the listener for it.

use super::{Cause, CauseKind, Remedy};
use crate::analyze::connect::{ConnectVerdict, PortUse, destinations_on};
use crate::analyze::connect_text::summary;
use crate::model::Snapshot;

/// Destinations on `port` whose local ports are exhausted or at risk, worst first.
pub fn short_of_ports(snap: &Snapshot, port: u16) -> Vec<PortUse> {
    destinations_on(snap, Some(port), usize::MAX)
        .into_iter()
        .filter(|u| u.verdict != ConnectVerdict::Ok)
        .collect()
}

/// What gives the clients their ports back, as remedies (none runs by itself: each is a
/// decision about the clients or the host).
pub fn remedies(found: &[PortUse], snap: &Snapshot) -> Vec<Remedy> {
    let Some(worst) = found.first() else {
        return Vec::new();
    };
    crate::analyze::connect_text::remedies(worst, snap)
        .into_iter()
        .map(|r| {
            let (text, command) = match r.split_once(" $ ") {
                Some((t, c)) => (t.to_string(), c.to_string()),
                None => (r, String::new()),
            };
            super::remedy::run(super::RemedyKind::EphemeralPorts, command, text)
        })
        .collect()
}

/// Leads the explanation with the ports and takes the listener's stop out of the plan.
pub fn lead(
    found: &[PortUse],
    explanation: &mut String,
    plan: &mut Vec<Remedy>,
    causes: &[Cause],
    notes: &mut Vec<String>,
) {
    let Some(worst) = found.first() else {
        return;
    };
    let dst = crate::model::fmt_endpoint(worst.dest, worst.dest_port);
    *explanation = format!(
        "{}; see `portscope why --connect {dst}`. As for binding the port: {explanation}",
        summary(worst)
    );
    let before = plan.len();
    plan.retain(|r| {
        r.cause
            .and_then(|i| causes.get(i))
            .is_none_or(|c| c.kind != CauseKind::Listener)
    });
    if plan.len() < before {
        notes.insert(
            0,
            format!(
                "the plan does not stop the listener on {dst}: clients fail because their \
                 local ports toward it ran out, and a restart would drop every connection \
                 without freeing one port for new ones"
            ),
        );
    }
}
