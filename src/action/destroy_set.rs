//! SOCK_DESTROY on a whole cause: all TIME_WAIT sockets of a port, all connections a process
//! left behind. Each socket is pinned by its cookie, so a socket that reuses the addresses since
//! the snapshot is not touched.

use super::outcome::ActionOutcome;
use super::{NotOffered, PendingAction};
use crate::analyze::why::{CauseKind, Diagnosis};
use crate::collect::NetnsTarget;
use crate::collect::netlink::Dumper;
use crate::model::text::{Described, Line};
use crate::model::{Proto, Socket, State};

#[derive(Debug, Clone, PartialEq)]
pub struct DestroySetAction {
    pub sockets: Vec<Socket>,
    /// "300 CLOSE-WAIT connections of leaky-worker (pid 17136)".
    pub what: String,
    pub port: u16,
    pub netns: NetnsTarget,
}

/// Destroys every socket of cause `i` of a diagnosis (D on a cause, a `fix` step).
pub fn plan_destroy_cause(
    d: &Diagnosis,
    i: usize,
    netns: &NetnsTarget,
) -> Result<PendingAction, NotOffered> {
    let c = d.causes.get(i).ok_or(NotOffered::NoSuchCause)?;
    if !matches!(
        c.kind,
        CauseKind::TimeWait | CauseKind::Connections | CauseKind::Outgoing | CauseKind::Closing
    ) {
        return Err(match c.kind {
            CauseKind::Listener => NotOffered::DestroyListener,
            CauseKind::BoundInactive => NotOffered::DestroyBound,
            _ => NotOffered::NothingToClose,
        });
    }
    let sockets: Vec<Socket> = c
        .holders
        .iter()
        .map(|&h| d.holders[h].socket.clone())
        .filter(|s| s.proto == Proto::Tcp && s.state != State::Listen)
        .collect();
    if sockets.is_empty() {
        return Err(NotOffered::DestroyNotTcp);
    }
    if sockets.iter().any(|s| s.cookie == 0) {
        return Err(NotOffered::NoCookies);
    }
    Ok(PendingAction::DestroySockets(DestroySetAction {
        sockets,
        what: c.summary.clone(),
        port: d.port,
        netns: netns.clone(),
    }))
}

pub fn describe(a: &DestroySetAction) -> Described {
    let n = a.sockets.len();
    let mut lines = vec![Line::heading(format!(
        "Destroy {} with SOCK_DESTROY?",
        if n == 1 {
            "1 socket".to_string()
        } else {
            format!("{n} sockets")
        }
    ))];
    lines.push(format!("  {}", a.what).into());
    for s in a.sockets.iter().take(3) {
        lines.push(format!("  {} {} → {}", s.state.ss_name(), s.local(), s.remote()).into());
    }
    if n > 3 {
        lines.push(format!("  … and {} more", n - 3).into());
    }
    lines.push(Line::note(
        "  processes keep running; their connections are reset (a TIME_WAIT is already closed)",
    ));
    lines.push(Line::note(format!(
        "  whether port {} is then free is checked with the kernel's bind, not promised",
        a.port
    )));
    Described::new("Destroy sockets", lines)
}

pub fn run(a: &DestroySetAction) -> ActionOutcome {
    let title = format!("destroy {} sockets on port {}", a.sockets.len(), a.port);
    let result = a.netns.run_in(|| {
        let mut d = Dumper::open()?;
        let (mut done, mut gone) = (0usize, 0usize);
        for s in &a.sockets {
            match d.destroy(s) {
                Ok(()) => done += 1,
                Err(nix::Error::ENOENT | nix::Error::ESTALE) => gone += 1,
                Err(e) => return Err(e),
            }
        }
        Ok((done, gone))
    });
    let fail = |lines: Vec<String>| ActionOutcome::failed(title.clone(), lines);
    match result {
        Ok(Ok((done, gone))) => ActionOutcome::done(
            title.clone(),
            vec![format!(
                "destroyed {done} of {}; {gone} were already gone",
                a.sockets.len()
            )],
        ),
        Ok(Err(nix::Error::EPERM | nix::Error::EACCES)) => fail(vec![
            "permission denied: destroying sockets needs root (CAP_NET_ADMIN); nothing was destroyed after the refusal".into(),
        ]),
        Ok(Err(nix::Error::EOPNOTSUPP)) => fail(vec![
            "this kernel cannot destroy sockets (built without CONFIG_INET_DIAG_DESTROY)".into(),
        ]),
        Ok(Err(e)) => fail(vec![format!("SOCK_DESTROY failed: {e}")]),
        Err(e) => fail(vec![e.to_string()]),
    }
}
