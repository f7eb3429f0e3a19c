//! The one place the guard asks the why analysis for its verdict. Kept narrow on purpose (the
//! why engine is free to change shape): the kernel's probe, the verdict, who is in the way, and
//! a one-line explanation.

use crate::analyze::why::{BindRequest, Context, Role, Verdict};
use crate::collect::NetnsTarget;
use crate::model::{Proto, Snapshot};
use std::net::{IpAddr, Ipv4Addr};

/// What binding a port on the wildcard address would meet now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhyLine {
    pub verdict: Verdict,
    /// Who is in the way, as a person reads it ("outgoing connection of curl (pid 12)").
    pub holder: Option<String>,
    /// The why explanation, on one line.
    pub line: String,
    /// Only TIME_WAIT sockets are in the way and a socket with SO_REUSEADDR binds now.
    pub reusable_time_wait: bool,
}

/// Probes `port` in `netns` (a throw-away bind, plain and with SO_REUSEADDR) and explains it
/// against `snap`.
pub fn why_line(snap: &Snapshot, netns: &NetnsTarget, port: u16, proto: Proto) -> WhyLine {
    let addr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let req = BindRequest {
        port,
        proto,
        addr,
        opts: Default::default(),
    };
    let ctx = Context {
        netns: netns.clone(),
        can_bind_privileged: crate::collect::probe::has_net_bind_service(),
        uid: nix::unistd::geteuid().as_raw(),
        user_name: None,
        ancestors: Vec::new(), // check only reports; it plans nothing to run
        hz: procfs::ticks_per_second(),
        protect: Default::default(),
    };
    let d = crate::ask::answer(
        &crate::ask::Resolved::one(req),
        snap,
        &ctx,
        crate::ask::Reads::Live { processes: false },
    );
    let holder = d.holders.first().map(|h| {
        let who = h.socket.holder();
        match h.role {
            Role::Listener => format!("listener of {who}"),
            Role::Outgoing => format!("outgoing connection of {who} to {}", h.socket.remote()),
            Role::Bound => format!("connection of {who} bound to it"),
            Role::TimeWait => "TIME_WAIT (no process)".to_string(),
            Role::BoundInactive => format!("socket of {who} bound but not listening"),
        }
    });
    let reusable_time_wait = !d.holders.is_empty()
        && d.holders.iter().all(|h| h.role == Role::TimeWait)
        && d.probe
            .reuseaddr
            .as_ref()
            .is_some_and(super::super::model::probe::BindOutcome::is_ok);
    WhyLine {
        verdict: d.verdict,
        holder: holder.map(|h| one_line(&h)),
        line: one_line(&d.explanation),
        reusable_time_wait,
    }
}

/// Collapses whitespace and drops control characters: the line goes into a plugin's output,
/// a journal and a terminal.
pub fn one_line(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
