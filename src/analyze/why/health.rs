//! A listener that holds the port but takes no connections is what "the port is intermittently
//! unavailable" usually is: the answer leads with that, and its plan starts with what makes the
//! process accept again (continue it, see what it waits on, restart it) before anything that
//! only frees the port. Applied once from the snapshot's own look, and again whenever a surface
//! learns more (the holders' processes, a second look): each time from scratch.

use super::cause::CauseKind;
use super::{Diagnosis, Remedy, RemedyKind};
use crate::analyze::listener_health::{Evidence, Health, ListenerHealth, QueueLook, judge};
use crate::model::Proto;

/// Looks at a port's listeners beyond the snapshot's own (`why --sample`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Looks {
    /// Per listening socket (inode): its queue at each look, oldest first.
    pub queues: Vec<(u64, Vec<QueueLook>)>,
    /// Milliseconds between the first look and the last.
    pub span_ms: u64,
    /// Growth of the namespace's ListenOverflows between the first look and the last.
    pub overflows: Option<u64>,
    /// Each process's run state at the last look.
    pub states: Vec<(u32, char)>,
    /// Whether a connection waiting on the port at one look had left its queue by the next
    /// (followed per port: the listeners of one port share the answer).
    pub moved: Option<bool>,
}

/// What the surface knows besides the diagnosis.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    pub looks: Option<&'a Looks>,
    pub somaxconn: Option<u32>,
    /// Prefix for commands that run in the listener's namespace (sysctl).
    pub ns_prefix: &'a str,
}

fn ours(r: &Remedy) -> bool {
    matches!(
        r.action,
        RemedyKind::UnblockListener | RemedyKind::RaiseBacklog
    )
}

/// Judges every TCP listener cause of `d` and, when one is not accepting, leads the answer
/// with it. Replaces what an earlier call said.
pub fn apply(d: &mut Diagnosis, known: Known) {
    if let Some(old) = leading(d).map(|(_, h)| h.sentence())
        && let Some(rest) = d.explanation.strip_prefix(&format!("{old}. "))
    {
        d.explanation = rest.to_string();
    }
    d.plan.retain(|r| !ours(r));
    d.remedies.retain(|r| !ours(r));
    for i in 0..d.causes.len() {
        d.causes[i].remedies.retain(|r| !ours(r));
        d.causes[i].listener_health = None;
        if d.causes[i].kind != CauseKind::Listener {
            continue;
        }
        let Some(h) = d.causes[i].holders.first().map(|&h| &d.holders[h]) else {
            continue;
        };
        if h.socket.proto != Proto::Tcp || !h.socket.is_listening() {
            continue;
        }
        let now = QueueLook {
            queued: h.socket.rx_queue,
            backlog: h.socket.tx_queue,
        };
        let pid = h.socket.owners.first().map(|o| o.pid);
        let sampled = known
            .looks
            .and_then(|l| l.queues.iter().find(|(inode, _)| *inode == h.socket.inode));
        let evidence = Evidence {
            looks: sampled.map_or_else(|| vec![now], |(_, q)| q.clone()),
            span_ms: sampled.and(known.looks).map_or(0, |l| l.span_ms),
            state: known
                .looks
                .and_then(|l| l.states.iter().find(|(p, _)| Some(*p) == pid))
                .map(|(_, s)| *s)
                .or_else(|| h.process.as_ref().and_then(|p| p.state)),
            wchan: h.process.as_ref().and_then(|p| p.wchan.clone()),
            overflows: sampled.and(known.looks).and_then(|l| l.overflows),
            somaxconn: known.somaxconn,
            moved: sampled.and(known.looks).and_then(|l| l.moved),
        };
        d.causes[i].listener_health = Some(judge(&evidence));
    }
    for i in 0..d.causes.len() {
        let Some(h) = d.causes[i].listener_health.clone() else {
            continue;
        };
        if let Some(r) = raise_backlog(&h, known.ns_prefix, i) {
            d.causes[i].remedies.push(r);
        }
    }
    let Some((i, h)) = leading(d).map(|(i, h)| (i, h.clone())) else {
        return;
    };
    d.explanation = format!("{}. {}", h.sentence(), d.explanation);
    let mut steps = unblock(d, i, &h);
    d.remedies.splice(0..0, steps.iter().cloned());
    if let Some(r) = raise_backlog(&h, known.ns_prefix, i) {
        d.plan.push(r);
    }
    steps.append(&mut d.plan);
    d.plan = steps;
}

/// The first listener that is not accepting.
fn leading(d: &Diagnosis) -> Option<(usize, &ListenerHealth)> {
    d.causes.iter().enumerate().find_map(|(i, c)| {
        c.listener_health
            .as_ref()
            .filter(|h| h.verdict == Health::NotAccepting)
            .map(|h| (i, h))
    })
}

fn remedy(action: RemedyKind, command: String, text: String, cause: usize) -> Remedy {
    Remedy {
        cause: Some(cause),
        ..super::remedy::run(action, command, text)
    }
}

/// What makes the process accept again, before anything that only frees the port.
fn unblock(d: &Diagnosis, i: usize, h: &ListenerHealth) -> Vec<Remedy> {
    let c = &d.causes[i];
    let Some(o) = c
        .holders
        .first()
        .and_then(|&x| d.holders[x].socket.owners.first())
    else {
        return Vec::new();
    };
    let who = o.label();
    let queue = format!(
        "{} is not accepting ({} waiting, backlog {})",
        who, h.queued, h.backlog
    );
    let mut out = vec![match h.state {
        Some('T') => remedy(
            RemedyKind::UnblockListener,
            format!("kill -CONT {}", o.pid),
            format!(
                "{queue}: it is stopped (state T). Continue it; it then accepts the waiting connections"
            ),
            i,
        ),
        Some('t') => remedy(
            RemedyKind::UnblockListener,
            format!("grep TracerPid /proc/{}/status", o.pid),
            format!(
                "{queue}: a debugger stopped it (state t). Detach the debugger (TracerPid names it)"
            ),
            i,
        ),
        state => remedy(
            RemedyKind::UnblockListener,
            format!("ps -o pid,stat,wchan:32,cmd -p {}", o.pid),
            format!(
                "{queue}: see what it is blocked on{}; its accept loop is stuck or busy elsewhere (a thread dump of the program says where)",
                match (state, &h.wchan) {
                    (Some(s), Some(w)) => format!(" (state {s}, sleeping in {w})"),
                    (Some(s), None) => format!(" (state {s})"),
                    (None, Some(w)) => format!(" (sleeping in {w})"),
                    (None, None) => String::new(),
                }
            ),
            i,
        ),
    }];
    // A restart through what manages the process, as the cause's stop remedy names it.
    let restart = c.remedies.iter().find_map(|r| {
        let cmd = &r.command;
        let managed = ["systemctl ", "docker ", "podman "]
            .iter()
            .any(|m| cmd.starts_with(m));
        (r.action == RemedyKind::StopService && managed && cmd.contains(" stop "))
            .then(|| cmd.replacen(" stop ", " restart ", 1))
    });
    if let Some(cmd) = restart {
        out.push(remedy(
            RemedyKind::UnblockListener,
            cmd,
            "restart it: a new process accepts again (the waiting clients must reconnect)".into(),
            i,
        ));
    }
    out
}

/// A bigger backlog for a listener whose queue fills while it runs (none for a stopped one:
/// no queue is long enough for a process that never accepts).
fn raise_backlog(h: &ListenerHealth, ns: &str, i: usize) -> Option<Remedy> {
    let running = !matches!(h.state, Some('T' | 't' | 'D'));
    let filling = h.full || h.verdict == Health::Slow;
    if !running || !filling || h.verdict == Health::Accepting {
        return None;
    }
    let change = format!(
        "raise the backlog the program passes to listen() (the kernel gives it {})",
        h.backlog
    );
    let mut r = remedy(
        RemedyKind::RaiseBacklog,
        String::new(),
        "give the queue room for bursts while the program catches up".into(),
        i,
    );
    if h.capped_by_somaxconn {
        let want = h.backlog.saturating_mul(4).clamp(4096, 65535);
        r.command = format!("{ns}sysctl -w net.core.somaxconn={want}");
        r.text = format!(
            "{change}: {} is net.core.somaxconn, which caps every backlog, so raise it too (persist it in /etc/sysctl.d) and restart the program so listen() asks again",
            h.backlog
        );
    } else {
        r.change = Some(change);
    }
    Some(r)
}
