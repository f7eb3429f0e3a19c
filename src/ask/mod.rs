//! The why engine: "ask the kernel about this bind, the way the service would, and explain it".
//!
//! `why`, each round of `fix`, the TUI's why field (every tick), `check`'s why line and a
//! replayed recording all ask here, so their answers cannot drift apart: a surface parses words
//! into a [`Question`], has its user looked up once ([`Question::resolve`]), and renders the
//! [`Diagnosis`] that comes back. The kernel is asked with the request's own options (its user,
//! v6only, SO_REUSEPORT, IP_FREEBIND); a question that names no protocol is asked for TCP and
//! UDP, and one whose address is a name for each address the name stands for. The blocked
//! answer leads; the others are lines of it ([`Diagnosis::also`]).

mod process;
mod user;

pub use process::{MAX_READ, attach};
pub use user::{UserError, resolve_user};

use crate::analyze::why::{Also, BindOptions, BindRequest, Context, Diagnosis, diagnose};
use crate::collect::NetnsTarget;
use crate::model::Proto;
use crate::model::Snapshot;
use crate::model::probe::ProbeResult;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::net::{IpAddr, Ipv4Addr};

/// A question as a person typed it: nothing looked up yet (the TUI builds it on a key press,
/// where no I/O happens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub port: u16,
    /// `None`: the service's protocol was not named; both are asked.
    pub proto: Option<Proto>,
    /// The addresses the service binds, in the order it would try them (one, unless a name
    /// such as `localhost` stands for several); empty means the wildcard 0.0.0.0.
    pub addrs: Vec<IpAddr>,
    pub v6only: bool,
    pub reuseport: bool,
    pub freebind: bool,
    /// The service's user as typed (a name or a uid).
    pub user: Option<String>,
}

impl Question {
    pub fn port(port: u16) -> Question {
        Question {
            port,
            proto: None,
            addrs: Vec::new(),
            v6only: false,
            reuseport: false,
            freebind: false,
            user: None,
        }
    }

    /// The question as it is typed in the why field: `[::1]:8080/udp --user www-data`.
    pub fn words(&self) -> String {
        let port = self
            .proto
            .map_or(self.port.to_string(), |p| format!("{}/{p}", self.port));
        let mut w = match self.addrs.as_slice() {
            [] => port,
            [a] => {
                crate::model::fmt_endpoint(*a, self.port)
                    + &self.proto.map_or(String::new(), |p| format!("/{p}"))
            }
            many => format!(
                "{port} --addr {}",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        for (on, flag) in [
            (self.v6only, " --v6only"),
            (self.reuseport, " --reuseport"),
            (self.freebind, " --freebind"),
        ] {
            if on {
                w.push_str(flag);
            }
        }
        if let Some(u) = &self.user {
            _ = write!(w, " --user {u}");
        }
        w
    }

    /// Whether `d` answers this question (and not one typed over since).
    pub fn answered_by(&self, d: &Diagnosis) -> bool {
        let addr_asked = if self.addrs.is_empty() {
            d.addr == IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            self.addrs.contains(&d.addr)
        };
        d.port == self.port
            && self.proto.is_none_or(|p| p == d.proto)
            && addr_asked
            && (d.options.v6only, d.options.reuseport, d.options.freebind)
                == (self.v6only, self.reuseport, self.freebind)
            && d.options.user.is_some() == self.user.is_some()
    }

    /// Looks the user up (once: the user database may be slow or remote).
    pub fn resolve(&self) -> Result<Resolved, UserError> {
        let user = self.user.as_deref().map(resolve_user).transpose()?;
        let opts = BindOptions {
            v6only: self.v6only,
            reuseport: self.reuseport,
            freebind: self.freebind,
            user: user.as_ref().map(|u| u.0),
        };
        let addrs = if self.addrs.is_empty() {
            vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
        } else {
            self.addrs.clone()
        };
        let protos = match self.proto {
            Some(p) => vec![p],
            None => vec![Proto::Tcp, Proto::Udp],
        };
        let mut binds = Vec::new();
        for &addr in &addrs {
            for &proto in &protos {
                binds.push(BindRequest {
                    port: self.port,
                    proto,
                    addr,
                    opts,
                });
            }
        }
        Ok(Resolved {
            binds,
            user_name: user.map(|u| u.1),
        })
    }
}

/// A question with its user looked up: the binds the kernel is asked about, first the one a
/// person asked first (TCP before UDP, addresses in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub binds: Vec<BindRequest>,
    pub user_name: Option<String>,
}

impl Resolved {
    /// One bind, exactly as given (a caller that already holds a request: `check`, tests).
    pub fn one(req: BindRequest) -> Resolved {
        Resolved {
            binds: vec![req],
            user_name: None,
        }
    }

    /// The bind a person asked first.
    pub fn first(&self) -> Option<&BindRequest> {
        self.binds.first()
    }
}

/// The kernel's answers for each bind of a question, in its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probes(pub Vec<ProbeResult>);

/// Where the answer comes from, and how much is read beyond the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// A live host: systemd names its socket units; `processes` reads the holders' context
    /// from /proc (the TUI reads it on demand instead, for the pane on screen).
    Live { processes: bool },
    /// A recording: no kernel to ask, nothing else to read.
    Recording,
}

/// What the question does not change: who runs portscope, in which namespace. Made once per
/// session; each answer puts the service's user on top.
pub fn session(netns: &NetnsTarget) -> Context {
    Context {
        netns: netns.clone(),
        can_bind_privileged: crate::collect::probe::has_net_bind_service(),
        uid: nix::unistd::geteuid().as_raw(),
        user_name: None,
        ancestors: crate::collect::probe::session_ancestors(),
        hz: procfs::ticks_per_second(),
        protect: crate::action::protect(),
    }
}

/// Asks the kernel about each bind (a throw-away bind per protocol and address, plain and
/// with SO_REUSEADDR, as the service's user): microseconds each.
pub fn probe(r: &Resolved, netns: &NetnsTarget) -> Probes {
    Probes(
        r.binds
            .iter()
            .map(|b| crate::collect::probe::probe_as(netns, b.proto, b.addr, b.port, &b.opts))
            .collect(),
    )
}

/// Explains the kernel's answers against `snap`: the blocked answer leads, the others are its
/// `also` lines. `ctx` is the session's ([`session`]); the service's user goes on top of it.
pub fn explain(
    r: &Resolved,
    snap: &Snapshot,
    probes: &Probes,
    session: &Context,
    reads: Reads,
) -> Diagnosis {
    let mut all: Vec<Diagnosis> = r
        .binds
        .iter()
        .zip(probes.0.iter())
        .map(|(b, p)| diagnose(b, snap, p, &context(session, b, r.user_name.clone())))
        .collect();
    if all.is_empty() {
        // A question always has a bind; an empty one (a caller's bug) is answered for 0.0.0.0.
        let b = BindRequest::tcp(0);
        let p = ProbeResult::not_run("nothing was asked");
        all.push(diagnose(&b, snap, &p, session));
    }
    let lead = all.iter().position(|d| !d.would_bind()).unwrap_or(0);
    let mut d = all.remove(lead);
    d.also = all.iter().map(Also::of).collect();
    if !d.also.is_empty() {
        d.notes.insert(0, also_note(r, &d));
    }
    if let Reads::Live { processes } = reads {
        name_socket_units(&mut d);
        process::inheritance(&mut d);
        // The processes' states tell a stopped listener from a slow one. Without the whole
        // context (the TUI reads it on demand, for its pane) the listeners' run states alone
        // are read: one stat line each, cheap enough for every tick.
        let looks = if processes {
            attach(&mut d, snap);
            None
        } else {
            Some(crate::analyze::why::health::Looks {
                states: process::listener_states(&d),
                ..Default::default()
            })
        };
        crate::analyze::why::health::apply(
            &mut d,
            crate::analyze::why::health::Known {
                looks: looks.as_ref(),
                somaxconn: snap.sysctl.somaxconn,
                ns_prefix: &session.ns_prefix(),
            },
        );
    }
    d
}

/// Probes and explains: the whole answer against a snapshot already taken.
pub fn answer(r: &Resolved, snap: &Snapshot, session: &Context, reads: Reads) -> Diagnosis {
    let probes = match reads {
        Reads::Live { .. } => probe(r, &session.netns),
        Reads::Recording => Probes(
            r.binds
                .iter()
                .map(|_| ProbeResult::not_run("replaying a recording: there is no kernel to ask"))
                .collect(),
        ),
    };
    explain(r, snap, &probes, session, reads)
}

/// A question answered from a recording's tables alone, as the TUI's replay does (screenshots,
/// tests of the views). A user this host does not know is left out of the question.
pub fn recorded(q: &Question, snap: &Snapshot) -> Diagnosis {
    let r = q.resolve().unwrap_or_else(|_| Resolved {
        binds: Question {
            user: None,
            ..q.clone()
        }
        .resolve()
        .map(|r| r.binds)
        .unwrap_or_default(),
        user_name: None,
    });
    answer(&r, snap, &Context::default(), Reads::Recording)
}

fn context(session: &Context, b: &BindRequest, user_name: Option<String>) -> Context {
    Context {
        // The service's user decides EACCES and SO_REUSEPORT's same-uid rule.
        uid: b.opts.user.map_or(session.uid, |u| u.uid),
        user_name: user_name.or_else(|| session.user_name.clone()),
        ..session.clone()
    }
}

/// "answered for tcp and udp (--proto picks one); udp 53 is blocked too: ..."
fn also_note(r: &Resolved, d: &Diagnosis) -> String {
    let protos = r.binds.iter().any(|b| b.proto != d.proto);
    let addrs = r.binds.iter().any(|b| b.addr != d.addr);
    let asked = match (protos, addrs) {
        (true, false) => "answered for tcp and udp (--proto picks one)".to_string(),
        (false, true) => "answered for each address the name stands for".to_string(),
        _ => "answered for tcp and udp on each address the name stands for".to_string(),
    };
    let others: Vec<String> = d
        .also
        .iter()
        .map(|a| {
            let what = if addrs {
                format!("{} {}", a.proto, crate::model::fmt_endpoint(a.addr, d.port))
            } else {
                format!("{} {}", a.proto, d.port)
            };
            if a.would_bind {
                format!("{what} is free")
            } else {
                format!("{what} is blocked too: {}", a.explanation)
            }
        })
        .collect();
    format!("{asked}; {}", others.join("; "))
}

/// The socket unit a manager holds the port for is guessed from names in the analysis (no
/// I/O there); systemd knows, so it is asked, and its answer replaces the guess everywhere.
fn name_socket_units(d: &mut Diagnosis) {
    let found: Vec<_> = d
        .holders
        .iter()
        .filter_map(|h| crate::action::socket_unit_from_systemd(&h.socket))
        .collect();
    for (guessed, listed) in found {
        let all = d
            .remedies
            .iter_mut()
            .chain(d.plan.iter_mut())
            .chain(d.causes.iter_mut().flat_map(|c| c.remedies.iter_mut()));
        for r in all.filter(|r| r.command == guessed.command) {
            r.command.clone_from(&listed.command);
            r.text.clone_from(&listed.text);
        }
    }
}
