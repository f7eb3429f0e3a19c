//! `why --all-netns`: what other network namespaces say about a port. A container listening on
//! 9090 in its own namespace does not hold the host's 9090; a container that publishes 9090 does
//! (through a proxy socket) or redirects it (through NAT rules only).

use crate::model::workload::Workload;
use crate::model::{Proto, Snapshot};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One fact about the port from outside the namespace in focus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elsewhere {
    /// listens_inside | published | published_nat_only
    pub kind: String,
    /// The namespace the fact is about (0 for the host's NAT rules).
    pub netns: u64,
    /// Who: `docker: web (compose app/web)`, `netns: blue`.
    pub who: String,
    pub text: String,
}

/// A port a container publishes according to its runtime's state (`hostconfig.json`), whether
/// or not a socket holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateBinding {
    pub workload: Workload,
    pub proto: Proto,
    pub host_port: u16,
    pub target: Option<std::net::SocketAddr>,
}

/// Facts about `proto` port `port` from an `--all-netns` snapshot whose focus is the namespace
/// being diagnosed, plus bindings read from the runtimes' state.
pub fn elsewhere(
    snap: &Snapshot,
    proto: Proto,
    port: u16,
    bindings: &[StateBinding],
) -> Vec<Elsewhere> {
    let focus = snap.netns.inode;
    let labels: HashMap<u64, &str> = snap
        .namespaces
        .iter()
        .map(|n| (n.inode, n.label.as_str()))
        .collect();
    let mut out: Vec<Elsewhere> = Vec::new();
    let mut published_here = Vec::new();
    for s in snap.sockets.iter().filter(|s| {
        s.netns == focus && s.proto == proto && s.local_port == port && s.is_listening()
    }) {
        if let Some(p) = &s.published {
            let who = p
                .workload
                .as_ref()
                .map_or_else(|| p.via.as_str().to_string(), |w| w.label.clone());
            published_here.push(who.clone());
            if !out.iter().any(|e| e.kind == "published" && e.who == who) {
                out.push(Elsewhere {
                    kind: "published".into(),
                    netns: focus,
                    who,
                    text: format!(
                        "{proto} port {port} here is {} (the socket is held by {})",
                        p.describe(),
                        p.via.as_str()
                    ),
                });
            }
        }
    }
    for b in bindings
        .iter()
        .filter(|b| b.proto == proto && b.host_port == port)
    {
        if published_here.contains(&b.workload.label) {
            continue;
        }
        out.push(Elsewhere {
            kind: "published_nat_only".into(),
            netns: 0,
            who: b.workload.label.clone(),
            text: format!(
                "{} publishes {proto} port {port}{} but no socket holds it here (NAT rules only): a bind here succeeds, and inbound traffic to {port} still goes to the container",
                b.workload.label,
                b.target.map_or(String::new(), |t| format!(" (to {t})"))
            ),
        });
    }
    let mut seen = Vec::new();
    for s in snap.sockets.iter().filter(|s| {
        s.netns != focus
            && s.netns != 0
            && s.proto == proto
            && s.local_port == port
            && s.is_listening()
    }) {
        if seen.contains(&s.netns) {
            continue;
        }
        seen.push(s.netns);
        let who = labels
            .get(&s.netns)
            .map_or_else(|| format!("net:[{}]", s.netns), ToString::to_string);
        out.push(Elsewhere {
            kind: "listens_inside".into(),
            netns: s.netns,
            who: who.clone(),
            text: format!(
                "{who} listens on {proto} {} in its own network namespace (net:[{}]): that does not take {port} here{}",
                s.local(),
                s.netns,
                if published_here.contains(&who) {
                    ", but it also publishes it here (above)"
                } else {
                    "; it is reachable here only if something publishes it"
                }
            ),
        });
    }
    out
}
