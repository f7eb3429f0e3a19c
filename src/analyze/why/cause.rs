//! Causes, not sockets: what is in the way of a bind, grouped the way a person acts on it (a
//! listener with its accepted connections, all TIME_WAIT sockets of the port, one process's
//! leftover connections, ...), each judged by the kernel's rules and then by its probe.

use super::conflict::{self, Conflict};
use super::{BindRequest, Holder, Remedy};
use crate::model::probe::{BindOutcome, ProbeResult};
use crate::model::{Proto, Socket, State};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// The address is not usable here (not on the host, or still tentative).
    Address,
    /// The port needs privilege the service lacks.
    Privilege,
    /// Outgoing connections whose port the kernel picked.
    Outgoing,
    /// A process's connections on the port that no listener of its own accounts for.
    Connections,
    /// Connections their process closed, still finishing in the kernel (FIN_WAIT, LAST_ACK).
    Closing,
    /// A TCP socket bound but not listening.
    BoundInactive,
    /// A listener (or bound UDP socket), with its accepted connections.
    Listener,
    /// TIME_WAIT sockets of earlier connections.
    TimeWait,
}

/// One socket of a cause, enough to find it in `ss` or the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketRef {
    pub state: State,
    pub local: String,
    pub remote: String,
    pub inode: u64,
    pub cookie: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub kind: CauseKind,
    /// One sentence: who, what, how many.
    pub summary: String,
    /// Whether it makes the service's bind fail on its own.
    pub blocks: bool,
    /// Whether it still would with SO_REUSEADDR on the service's socket (None: unknown).
    pub blocks_with_reuseaddr: Option<bool>,
    /// `rules` when the tables decide, `probe` when the kernel's bind had to, `guess` when
    /// neither could (then `blocks` errs on the side of acting).
    pub judged_by: String,
    pub count: usize,
    /// Processes behind it (empty for the kernel's own sockets, or when hidden).
    pub pids: Vec<u32>,
    /// Someone holds it whom portscope cannot see without root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
    /// Last expiry of its TIME_WAIT sockets, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u32>,
    pub sockets: Vec<SocketRef>,
    /// Safest first; the first that acts is the plan's step for this cause.
    pub remedies: Vec<Remedy>,
    /// Indices into the diagnosis's holders (for acting on the whole cause).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<usize>,
    /// For a TCP listener: whether it takes its connections (see `analyze::listener_health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_health: Option<crate::analyze::listener_health::ListenerHealth>,
}

impl Cause {
    pub fn new(kind: CauseKind, summary: String) -> Cause {
        Cause {
            kind,
            summary,
            blocks: true,
            blocks_with_reuseaddr: None,
            judged_by: "probe".into(),
            count: 0,
            pids: Vec::new(),
            hidden: false,
            expires_ms: None,
            sockets: Vec::new(),
            remedies: Vec::new(),
            holders: Vec::new(),
            listener_health: None,
        }
    }
}

fn pids_of(s: &Socket) -> Vec<u32> {
    let mut p: Vec<u32> = s.owners.iter().map(|o| o.pid).collect();
    p.sort_unstable();
    p
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "300 CLOSE-WAIT" or "2 ESTAB and 3 CLOSE-WAIT".
fn state_counts(socks: &[&Socket]) -> String {
    let mut counts: Vec<(State, usize)> = Vec::new();
    for s in socks {
        match counts.iter_mut().find(|(st, _)| *st == s.state) {
            Some(c) => c.1 += 1,
            None => counts.push((s.state, 1)),
        }
    }
    counts
        .iter()
        .map(|(st, n)| format!("{n} {}", st.ss_name()))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Groups the holders into causes (without verdicts or remedies yet).
pub fn group(holders: &[Holder]) -> Vec<Cause> {
    // (kind, the processes behind it) -> members
    type Key = (CauseKind, Vec<u32>);
    let socks: Vec<&Socket> = holders.iter().map(|h| &h.socket).collect();
    let mut causes: Vec<Cause> = Vec::new();
    // Listeners first: the connections they accepted fold into them.
    let mut listener_of: Vec<(Vec<u32>, usize)> = Vec::new();
    for (i, s) in socks.iter().enumerate() {
        if s.is_listening() {
            let several = s.holder_count() > 1;
            let verb = match (s.proto == Proto::Udp, several) {
                (true, false) => "has a socket bound on",
                (true, true) => "have a socket bound on",
                (false, false) => "listens on",
                (false, true) => "listen on",
            };
            let mut c = Cause::new(
                CauseKind::Listener,
                format!("{} {verb} {}", s.holder(), s.local()),
            );
            c.holders.push(i);
            c.pids = pids_of(s);
            c.hidden = s.owner_hidden;
            listener_of.push((c.pids.clone(), causes.len()));
            causes.push(c);
        }
    }
    let mut keyed: Vec<(Key, Vec<usize>)> = Vec::new();
    for (i, s) in socks.iter().enumerate() {
        if s.is_listening() {
            continue;
        }
        let pids = pids_of(s);
        let kind = if s.state == State::TimeWait {
            CauseKind::TimeWait
        } else if s.state == State::BoundInactive {
            CauseKind::BoundInactive
        } else if s.autobound {
            CauseKind::Outgoing
        } else if s.kernel_held {
            CauseKind::Closing
        } else {
            // Accepted by one of the port's listeners (same process, or still in its queue).
            let mine = listener_of
                .iter()
                .find(|(lp, _)| !pids.is_empty() && pids.iter().any(|p| lp.contains(p)));
            if let Some(&(_, li)) = mine {
                causes[li].holders.push(i);
                continue;
            }
            CauseKind::Connections
        };
        let key = (
            kind,
            if kind == CauseKind::TimeWait {
                vec![]
            } else {
                pids
            },
        );
        match keyed.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => keyed.push((key, vec![i])),
        }
    }
    let has_listener = !listener_of.is_empty();
    for ((kind, pids), members) in keyed {
        let ms: Vec<&Socket> = members.iter().map(|&i| socks[i]).collect();
        let first = ms[0];
        let n = ms.len();
        let who = first.holder();
        let summary = match kind {
            CauseKind::TimeWait => {
                let last = ms.iter().filter_map(|s| s.expires_ms).max();
                format!(
                    "{} of earlier connections (the kernel holds them, no process){}",
                    plural(n, "TIME_WAIT socket", "TIME_WAIT sockets"),
                    last.map_or(String::new(), |ms| format!(
                        ", the last frees in {} s",
                        ms.div_ceil(1000)
                    ))
                )
            }
            CauseKind::BoundInactive => format!(
                "{who} has a socket bound to {} but not listening",
                first.local()
            ),
            CauseKind::Outgoing if n == 1 => format!(
                "an outgoing connection of {who} to {} (the kernel picked port {} for it)",
                first.remote(),
                first.local_port
            ),
            CauseKind::Outgoing => format!(
                "{} of {who} (to {} ...; the kernel picked the port)",
                plural(n, "outgoing connection", "outgoing connections"),
                first.remote()
            ),
            CauseKind::Closing => format!(
                "{} closed by their process, still finishing in the kernel ({})",
                plural(n, "connection", "connections"),
                state_counts(&ms)
            ),
            _ if n == 1 => format!(
                "{who} holds a connection {} -> {} ({}){}",
                first.local(),
                first.remote(),
                first.state.ss_name(),
                if has_listener {
                    "; it is not the listener's"
                } else {
                    "; its listener is gone"
                }
            ),
            _ => format!(
                "{who} holds {} connections on :{}{}",
                state_counts(&ms),
                first.local_port,
                if has_listener {
                    "; they are not the listener's"
                } else {
                    "; their listener is gone"
                }
            ),
        };
        let mut c = Cause::new(kind, summary);
        c.pids = pids;
        c.hidden = ms.iter().any(|s| s.owner_hidden);
        c.holders = members;
        causes.push(c);
    }
    for c in &mut causes {
        let ms: Vec<&Socket> = c.holders.iter().map(|&i| socks[i]).collect();
        c.count = ms.len();
        c.expires_ms = ms.iter().filter_map(|s| s.expires_ms).max();
        c.sockets = ms
            .iter()
            .map(|s| SocketRef {
                state: s.state,
                local: s.local(),
                remote: s.remote(),
                inode: s.inode,
                cookie: s.cookie,
            })
            .collect();
        if c.kind == CauseKind::Listener && c.count > 1 {
            // A connection the listener has not accept()ed yet waits in its accept queue,
            // which is not the same as being served.
            let others: Vec<&&Socket> = ms.iter().filter(|s| !s.is_listening()).collect();
            let queued = others.iter().filter(|s| s.accept_queue).count();
            let accepted = others.len() - queued;
            let mut parts = Vec::new();
            if accepted > 0 {
                parts.push(format!(
                    "{} it accepted",
                    plural(accepted, "connection", "connections")
                ));
            }
            if queued > 0 {
                parts.push(format!(
                    "{} waiting in its accept queue",
                    plural(queued, "connection", "connections")
                ));
            }
            if !parts.is_empty() {
                _ = write!(c.summary, " (with {})", parts.join(" and "));
            }
        }
    }
    causes.sort_by_key(|c| c.kind);
    causes
}

/// The rules' answer for a whole cause.
pub fn rules(
    c: &Cause,
    holders: &[Holder],
    req: &BindRequest,
    bindv6only: bool,
    uid: u32,
) -> Conflict {
    c.holders
        .iter()
        .map(|&i| conflict::judge(req, &holders[i].socket, bindv6only, uid))
        .fold(Conflict::NONE, |a, b| Conflict {
            plain: conflict::any(a.plain, b.plain),
            reuseaddr: conflict::any(a.reuseaddr, b.reuseaddr),
        })
}

/// Settles each cause's verdict: the rules where they decide, the kernel's probe where they
/// cannot (a flag of the old socket), and "blocks" where neither can say.
pub fn settle(causes: &mut [Cause], judged: &[Conflict], probe: &ProbeResult) {
    // EACCES comes before the conflict check: then the privileged probe speaks for conflicts.
    let conflict_probe: Option<&BindOutcome> = match probe.plain.as_ref() {
        Some(o) if o.is("EACCES") || o.is("EPERM") => probe.privileged.as_ref(),
        Some(o) if o.is_ok() || o.is("EADDRINUSE") => Some(o),
        _ => None,
    };
    let reuse_probe = probe
        .reuseaddr
        .as_ref()
        .filter(|o| o.is_ok() || o.is("EADDRINUSE"))
        .filter(|_| conflict_probe == probe.plain.as_ref());
    let certain_plain = judged.iter().any(|j| j.plain == Some(true));
    let certain_reuse = judged.iter().any(|j| j.reuseaddr == Some(true));
    for (c, j) in causes.iter_mut().zip(judged) {
        let (blocks, how) = one(j.plain, conflict_probe, certain_plain);
        c.blocks = blocks;
        c.judged_by = how.into();
        let (r, rhow) = one(j.reuseaddr, reuse_probe, certain_reuse);
        c.blocks_with_reuseaddr = (rhow != "guess").then_some(r);
    }
}

fn one(
    rule: Option<bool>,
    probe: Option<&BindOutcome>,
    other_certain: bool,
) -> (bool, &'static str) {
    match (rule, probe) {
        // The kernel bound it: nothing blocks, whatever the tables said a moment ago.
        (_, Some(o)) if o.is_ok() => (
            false,
            if rule == Some(false) {
                "rules"
            } else {
                "probe"
            },
        ),
        (Some(b), _) => (b, "rules"),
        // Refused, and no cause blocks for certain: the unknown ones must.
        (None, Some(_)) if !other_certain => (true, "probe"),
        (None, _) => (true, "guess"),
    }
}
