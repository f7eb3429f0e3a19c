//! Sockets that share one address and port. Two TCP listeners on the same (namespace, address,
//! port) can only exist through SO_REUSEPORT, and then the kernel splits new connections between
//! them by a hash: an old version left running beside the new one silently takes a share
//! (crystal #4019, msquic#3177). UDP sockets share a port through SO_REUSEPORT or SO_REUSEADDR,
//! which no table tells apart. A service's own bind with SO_REUSEPORT that succeeds beside a
//! listener proves the listener set it too, with the same effective uid (socket(7)).

use super::{BindRequest, Holder, Remedy, RemedyKind, cause::Cause};
use crate::model::probe::ProbeResult;
use crate::model::{Family, Foreign, Owner, Proto, Socket};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::net::IpAddr;

/// Processes of one program that started within this many seconds of each other are one
/// generation: prefork workers start with their master, a restart that left the old process
/// running starts the new one minutes or hours later.
pub const GENERATION_GAP_SECS: u64 = 10;

/// How portscope knows the sockets share the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Several TCP listeners on one address and port: only SO_REUSEPORT lets them exist.
    Listeners,
    /// The service's bind with SO_REUSEPORT succeeded beside the listener: it set SO_REUSEPORT
    /// and has the service's uid.
    Probe,
    /// Several UDP sockets bound to one address and port: SO_REUSEPORT or SO_REUSEADDR.
    Sharing,
}

/// One socket of the group and the process behind it (its oldest holder: a master that forked
/// workers holds their sockets too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Index into the diagnosis's holders.
    pub holder: usize,
    pub inode: u64,
    pub uid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The command name (comm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Foreign>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<Foreign>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Foreign>,
    /// Field 22 of /proc/PID/stat: clock ticks after boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    /// Index into the group's generations (none for a process portscope cannot see).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<usize>,
    /// Age in seconds, filled in by a surface that reads the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<i64>,
}

/// Processes of one program started together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// The executable's path where every member's is known, else the command name.
    pub program: Foreign,
    /// Start of its first process, in clock ticks after boot.
    pub started: u64,
    /// Seconds after the group's first generation started.
    pub after_first_secs: u64,
    /// Indices into the group's members.
    pub members: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReuseGroup {
    pub proto: Proto,
    /// "0.0.0.0:9000".
    pub local: String,
    pub evidence: Evidence,
    pub members: Vec<Member>,
    /// Oldest first.
    pub generations: Vec<Generation>,
    /// Members run different programs (executables, or command names where one is unknown).
    pub mixed_programs: bool,
    /// One program runs in processes started far apart (more than [`GENERATION_GAP_SECS`]).
    pub mixed_generations: bool,
    /// The service's bind with SO_REUSEPORT succeeds now: it would join the group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service_joins: bool,
}

impl ReuseGroup {
    pub fn mixed(&self) -> bool {
        self.mixed_programs || self.mixed_generations
    }

    /// The generation to remove first in a mixed group: the oldest (never the newest).
    pub fn stale(&self) -> Option<&Generation> {
        if self.mixed() && self.generations.len() > 1 {
            self.generations.first()
        } else {
            None
        }
    }

    /// The holders (indices into the diagnosis's) of the stale generation.
    pub fn stale_holders(&self) -> Vec<usize> {
        self.stale()
            .map(|g| g.members.iter().map(|&m| self.members[m].holder).collect())
            .unwrap_or_default()
    }

    fn uids(&self) -> Vec<u32> {
        let mut u: Vec<u32> = self.members.iter().map(|m| m.uid).collect();
        u.sort_unstable();
        u.dedup();
        u
    }
}

/// The process a socket stands for: its oldest holder (the master of forked workers).
fn principal(s: &Socket) -> Option<&Owner> {
    s.owners
        .iter()
        .min_by_key(|o| (o.start_time, o.pid))
        .map(|o| &**o)
}

fn member(holder: usize, s: &Socket) -> Member {
    let o = principal(s);
    Member {
        holder,
        inode: s.inode,
        uid: s.uid,
        pid: o.map(|o| o.pid),
        program: o.map(|o| o.comm.clone()),
        exe: o.and_then(|o| o.exe.as_ref()).map(|e| e.path.clone()),
        user: o.map(|o| o.user.clone()).filter(|u| !u.is_empty()),
        start_time: o.map(|o| o.start_time),
        generation: None,
        age_secs: None,
    }
}

/// The groups among the holders of a diagnosis. `hz` is the clock's ticks per second (0:
/// USER_HZ's usual 100).
pub fn groups(
    req: &BindRequest,
    holders: &[Holder],
    probe: &ProbeResult,
    hz: u64,
) -> Vec<ReuseGroup> {
    type Key = (u64, Family, IpAddr);
    let joined = req.opts.reuseport
        && probe
            .plain
            .as_ref()
            .is_some_and(crate::model::probe::BindOutcome::is_ok);
    let mut buckets: Vec<(Key, Vec<usize>)> = Vec::new();
    for (i, h) in holders.iter().enumerate() {
        let s = &h.socket;
        if !s.is_listening() {
            continue;
        }
        let key = (s.netns, s.family, s.local_addr);
        match buckets.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(i),
            None => buckets.push((key, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (_, idx) in buckets {
        let first = &holders[idx[0]].socket;
        let evidence = match (first.proto, idx.len() > 1) {
            (Proto::Tcp, true) => Evidence::Listeners,
            _ if joined => Evidence::Probe,
            (Proto::Udp, true) => Evidence::Sharing,
            _ => continue,
        };
        let members: Vec<Member> = idx.iter().map(|&i| member(i, &holders[i].socket)).collect();
        let mut g = ReuseGroup {
            proto: first.proto,
            local: first.local(),
            evidence,
            members,
            generations: Vec::new(),
            mixed_programs: false,
            mixed_generations: false,
            service_joins: joined,
        };
        generations(&mut g, hz);
        out.push(g);
    }
    out
}

/// Splits the members into generations and sets the mixed flags.
fn generations(g: &mut ReuseGroup, hz: u64) {
    let hz = if hz == 0 { 100 } else { hz };
    let seen: Vec<usize> = (0..g.members.len())
        .filter(|&i| g.members[i].start_time.is_some())
        .collect();
    // An executable path is the program; a command name any process can choose, and comparing
    // a path with a name would call one program two.
    let by_exe = seen.iter().all(|&i| g.members[i].exe.is_some());
    let program = |m: &Member| -> Foreign {
        if by_exe {
            m.exe.clone().unwrap_or_default()
        } else {
            m.program.clone().unwrap_or_default()
        }
    };
    let mut programs: Vec<Foreign> = seen.iter().map(|&i| program(&g.members[i])).collect();
    programs.sort();
    programs.dedup();
    let mut gens: Vec<Generation> = Vec::new();
    for p in &programs {
        let mut ms: Vec<usize> = seen
            .iter()
            .copied()
            .filter(|&i| &program(&g.members[i]) == p)
            .collect();
        ms.sort_by_key(|&i| (g.members[i].start_time, g.members[i].pid));
        let mut last: Option<u64> = None;
        for i in ms {
            let t = g.members[i].start_time.unwrap_or(0);
            match (last, gens.last_mut()) {
                (Some(l), Some(cur)) if t.saturating_sub(l) <= GENERATION_GAP_SECS * hz => {
                    cur.members.push(i);
                }
                _ => gens.push(Generation {
                    program: p.clone(),
                    started: t,
                    after_first_secs: 0,
                    members: vec![i],
                }),
            }
            last = Some(t);
        }
    }
    gens.sort_by(|a, b| (a.started, &a.program).cmp(&(b.started, &b.program)));
    let first = gens.first().map_or(0, |x| x.started);
    for (n, generation) in gens.iter_mut().enumerate() {
        generation.after_first_secs = generation.started.saturating_sub(first) / hz;
        for &m in &generation.members {
            g.members[m].generation = Some(n);
        }
    }
    g.mixed_programs = programs.len() > 1;
    g.mixed_generations = gens.len() > programs.len();
    g.generations = gens;
}

/// Puts the plan's steps on a mixed group's members in the order that keeps the newest serving:
/// oldest generation first, the newest last; other steps keep their places. The stale
/// generation's steps say why.
pub fn order_plan(plan: &mut [Remedy], causes: &[Cause], groups: &[ReuseGroup]) {
    let rank = |r: &Remedy| -> Option<usize> {
        let c = causes.get(r.cause?)?;
        groups.iter().filter(|g| g.mixed()).find_map(|g| {
            g.members
                .iter()
                .find(|m| c.holders.contains(&m.holder))
                .map(|m| {
                    m.generation
                        .unwrap_or(g.generations.len().saturating_sub(1))
                })
        })
    };
    let places: Vec<usize> = (0..plan.len())
        .filter(|&i| rank(&plan[i]).is_some())
        .collect();
    let mut steps: Vec<Remedy> = places.iter().map(|&i| plan[i].clone()).collect();
    steps.sort_by_key(|r| rank(r));
    for (&i, r) in places.iter().zip(steps) {
        plan[i] = r;
    }
    for r in plan.iter_mut() {
        mark_stale(r, causes, groups);
    }
}

/// "…: the older member of the SO_REUSEPORT group on 0.0.0.0:9000, still taking a share".
pub fn mark_stale(r: &mut Remedy, causes: &[Cause], groups: &[ReuseGroup]) {
    let stops = matches!(
        r.action,
        RemedyKind::Kill | RemedyKind::StopService | RemedyKind::StopSocketUnit
    );
    let Some(c) = r.cause.and_then(|i| causes.get(i)).filter(|_| stops) else {
        return;
    };
    if let Some(g) = groups
        .iter()
        .find(|g| g.stale_holders().iter().any(|h| c.holders.contains(h)))
        && !r.text.contains("SO_REUSEPORT")
    {
        _ = write!(
            r.text,
            ": the oldest member of the {} on {}, still taking a share of {}",
            if g.evidence == Evidence::Sharing {
                "sockets sharing the port"
            } else {
                "SO_REUSEPORT group"
            },
            g.local,
            if g.proto == Proto::Udp {
                "datagrams"
            } else {
                "new connections"
            }
        );
    }
}

/// The remedies that remove each mixed group's stale generation, from its causes' own lists
/// (with the warnings `loss` put on them): for a port that is free, where no plan runs.
pub fn stale_remedies(causes: &[Cause], groups: &[ReuseGroup]) -> Vec<Remedy> {
    let mut out: Vec<Remedy> = Vec::new();
    for g in groups {
        let stale = g.stale_holders();
        for (i, c) in causes.iter().enumerate() {
            if !c.holders.iter().any(|h| stale.contains(h)) {
                continue;
            }
            if let Some(r) = c
                .remedies
                .iter()
                .find(|r| r.change.is_none() && r.action != RemedyKind::Wait)
            {
                let mut r = r.clone();
                r.cause = Some(i);
                mark_stale(&mut r, causes, groups);
                out.push(r);
            }
        }
    }
    out
}

/// With `--reuseport` and a listener of another uid in the way: the kernel's same-uid rule.
pub fn uid_sentence(
    req: &BindRequest,
    holders: &[Holder],
    groups: &[ReuseGroup],
    uid: u32,
    user: Option<&str>,
) -> Option<String> {
    if !req.opts.reuseport {
        return None;
    }
    let theirs: Vec<&Socket> = holders
        .iter()
        .map(|h| &h.socket)
        .filter(|s| s.is_listening() && s.uid != uid)
        .collect();
    let first = theirs.first()?;
    let mut uids: Vec<u32> = theirs.iter().map(|s| s.uid).collect();
    uids.sort_unstable();
    uids.dedup();
    let named = |u: u32| -> String {
        let name = theirs
            .iter()
            .filter(|s| s.uid == u)
            .find_map(|s| principal(s))
            .map(|o| o.user.to_string())
            .filter(|n| !n.is_empty());
        match name {
            Some(n) => format!("uid {u} ({n})"),
            None => format!("uid {u}"),
        }
    };
    let whose = uids
        .iter()
        .map(|&u| named(u))
        .collect::<Vec<_>>()
        .join(", ");
    let what = match groups
        .iter()
        .find(|g| g.evidence == Evidence::Listeners && g.local == first.local())
    {
        Some(g) if g.uids().len() == 1 => format!("the SO_REUSEPORT group on {}", g.local),
        _ if theirs.len() == 1 => format!("the listener on {}", first.local()),
        _ => "the listeners".to_string(),
    };
    let service = match user {
        Some(n) => format!("uid {uid} ({})", crate::model::shell::shell_quote(n)),
        None => format!("uid {uid}"),
    };
    Some(format!(
        "SO_REUSEPORT shares a port only between sockets of the same effective uid (socket(7)): \
         {what} belongs to {whose}, the service's socket would have {service}, so the kernel \
         refuses its bind even with SO_REUSEPORT set (run the service as {whose} to join, or \
         free the port)."
    ))
}
