//! `portscope report`: one self-contained document of a host's ports at a moment, for a
//! ticket or a postmortem. [`gather`] collects (the why answers, the filter rules, the history
//! log); [`html`] lays it out as one HTML file with no external anything (styles inline,
//! pictures as inline SVG, hover text from SVG `<title>`, no script), every foreign text
//! escaped; `--format json` prints the same [`Report`] as one document.

pub mod html;
mod markup;
mod svg;
pub mod timeline;

use crate::collect::NetnsTarget;
use crate::model::reach::{Conntrack, Reachability};
use crate::model::{Proto, Snapshot};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

pub const VERSION: u32 = 1;

/// What to put in the report.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The ports asked about (why answer, reachability, plan, timeline each).
    pub ports: Vec<(u16, Proto)>,
    pub history: Option<PathBuf>,
    /// Only history records this recent.
    pub since: Option<Duration>,
    /// Read the filter rules for the asked ports' listeners.
    pub firewall: bool,
    /// The snapshot is the live system (else a recording: no probe, no rules).
    pub live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Owner {
    pub pid: u32,
    pub comm: String,
    pub user: String,
    pub unit: Option<String>,
    pub container: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    pub proto: Proto,
    pub addr: String,
    pub port: u16,
    pub owners: Vec<Owner>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortMap {
    pub ephemeral: (u16, u16),
    pub reserved: String,
    /// Kubernetes' default NodePort range.
    pub nodeport: (u16, u16),
    pub occupied: Vec<u16>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AskedPort {
    pub port: u16,
    pub proto: Proto,
    /// The `why` answer (its JSON document).
    pub why: serde_json::Value,
    pub reachability: Option<Reachability>,
    /// The records of the history log about this port, oldest first.
    pub timeline: Vec<timeline::Record>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub host: String,
    pub generated_at: jiff::Timestamp,
    pub netns: String,
    pub listeners: Vec<Listener>,
    pub port_map: PortMap,
    pub ports: Vec<AskedPort>,
    /// The host's checks: reserved ports and their drift from the boot configuration,
    /// ephemeral capacity, connection tracking.
    pub host_checks: Vec<crate::guard::check::HostCheck>,
    pub conntrack: Option<Conntrack>,
    /// The history log read, and what it held.
    pub history: Option<timeline::Summary>,
}

fn owners_of(s: &crate::model::Socket) -> Vec<Owner> {
    s.owners
        .iter()
        .map(|o| Owner {
            pid: o.pid,
            comm: o.comm.raw().to_string(),
            user: o.user.raw().to_string(),
            unit: o.unit.as_ref().map(|u| u.raw().to_string()),
            container: o.container.as_ref().map(|c| c.raw().to_string()),
        })
        .collect()
}

/// Collects the report for `snap` (read from `netns`).
pub fn gather(
    snap: &Snapshot,
    netns: &NetnsTarget,
    req: &Request,
) -> Result<Report, crate::history::log::ReadError> {
    let mut listeners: Vec<Listener> = snap
        .sockets
        .iter()
        .filter(|s| s.is_listening() && !s.autobound)
        .map(|s| Listener {
            proto: s.proto,
            addr: s.local_addr.to_string(),
            port: s.local_port,
            owners: owners_of(s),
        })
        .collect();
    listeners.sort_by_key(|l| (l.port, l.proto, l.addr.clone()));
    let mut occupied: Vec<u16> = listeners.iter().map(|l| l.port).collect();
    occupied.dedup();
    let (records, history) = match &req.history {
        Some(path) => {
            let (r, s) = timeline::read(path, req.since)?;
            (r, Some(s))
        }
        None => (Vec::new(), None),
    };
    let ctx = crate::ask::session(netns);
    let mut ports = Vec::new();
    for &(port, proto) in &req.ports {
        let q = crate::ask::Question {
            port,
            proto: Some(proto),
            addrs: Vec::new(),
            v6only: false,
            reuseport: false,
            freebind: false,
            user: None,
        };
        let why = match q.resolve() {
            Ok(r) => {
                let reads = if req.live {
                    crate::ask::Reads::Live { processes: true }
                } else {
                    crate::ask::Reads::Recording
                };
                let d = crate::ask::answer(&r, snap, &ctx, reads);
                serde_json::to_value(&d).unwrap_or_default()
            }
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        let ls = crate::analyze::reach::listeners(snap, proto, port);
        let reachability = if req.live && req.firewall && !ls.is_empty() {
            let e = crate::analyze::reach::exposure(&ls);
            crate::collect::nat::filter::for_listeners(
                netns,
                proto,
                port,
                &e,
                crate::collect::nat::filter::DEFAULT_BUDGET,
            )
            .ok()
        } else {
            None
        };
        ports.push(AskedPort {
            port,
            proto,
            why,
            reachability,
            timeline: records.iter().filter(|r| r.port == port).cloned().collect(),
        });
    }
    let conntrack = crate::collect::conntrack::read(netns);
    let opts = crate::guard::Options {
        conntrack,
        ..crate::guard::Options::default()
    };
    let check = crate::guard::run_check(snap, &[], netns, None, &opts);
    Ok(Report {
        version: VERSION,
        host: crate::guard::hostname(),
        generated_at: jiff::Timestamp::now(),
        netns: snap.netns.target.clone(),
        listeners,
        port_map: PortMap {
            ephemeral: snap.sysctl.ephemeral(),
            reserved: snap.sysctl.ip_local_reserved_ports.to_string(),
            nodeport: (30000, 32767),
            occupied,
        },
        ports,
        host_checks: check.host_checks,
        conntrack,
        history,
    })
}
