//! What stopping a process would break beyond the port: the remote logins the operator came in
//! by, the session they are typing in, the host's name resolution. Said wherever a remedy stops
//! or signals such a process (why's plan, fix, the dialogs); it never hides the remedy, since
//! the operator may mean exactly that.

use crate::model::Owner;

/// Programs that serve remote logins.
const LOGIN_SERVERS: &[&str] = &[
    "sshd",
    "sshd-session",
    "sshd-auth",
    "dropbear",
    "mosh-server",
];

/// DNS resolvers a host's own lookups go through.
const RESOLVERS: &[&str] = &[
    "systemd-resolved",
    "systemd-resolve",
    "dnsmasq",
    "unbound",
    "named",
    "coredns",
    "pdns_recursor",
    "kresd",
];

/// The program's name: the file it runs where that was read (a name is easily chosen), else
/// its command name.
fn program(o: &Owner) -> &str {
    match &o.exe {
        Some(e) => e.path.raw().rsplit('/').next().unwrap_or(""),
        None => o.comm.raw(),
    }
}

/// What breaks when `o` stops, if anything beyond the port: `ancestors` are the pids of the
/// session portscope runs in (its parent, its parent's parent, ...).
pub fn what_breaks(o: &Owner, ancestors: &[u32]) -> Option<String> {
    let name = program(o);
    let label = o.label();
    if ancestors.contains(&o.pid) {
        return Some(format!(
            "{label} is part of the session this portscope runs in: stopping it ends that \
             session (and this command with it)"
        ));
    }
    if LOGIN_SERVERS.contains(&name) {
        return Some(format!(
            "{label} serves remote logins: stopping it may cut you and everyone else off this \
             host; make sure another way in works first"
        ));
    }
    if RESOLVERS.contains(&name) {
        return Some(format!(
            "{label} is a DNS resolver: name lookups on this host fail while it is down"
        ));
    }
    None
}

/// Puts [`what_breaks`] on every remedy that stops or signals a process of a cause: in the plan
/// (where `cause` says which) and in each cause's own remedies.
pub(super) fn warn(
    plan: &mut [super::Remedy],
    causes: &mut [super::cause::Cause],
    holders: &[super::Holder],
    ctx: &super::Context,
) {
    use super::RemedyKind;
    let stops = |r: &super::Remedy| {
        matches!(
            r.action,
            RemedyKind::Kill | RemedyKind::StopService | RemedyKind::StopSocketUnit
        )
    };
    let warning_for = |c: &super::cause::Cause| -> Option<String> {
        c.holders
            .iter()
            .filter_map(|&h| holders.get(h))
            .flat_map(|h| h.socket.owners.iter())
            .find_map(|o| what_breaks(o, &ctx.ancestors))
    };
    for r in plan.iter_mut().filter(|r| stops(r)) {
        if let Some(c) = r.cause.and_then(|i| causes.get(i)) {
            r.warning = warning_for(c);
        }
    }
    for c in causes.iter_mut() {
        let w = warning_for(c);
        for r in c.remedies.iter_mut().filter(|r| stops(r)) {
            r.warning.clone_from(&w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(pid: u32, comm: &str) -> Owner {
        Owner {
            pid,
            comm: comm.into(),
            ..Owner::default()
        }
    }

    #[test]
    fn logins_resolvers_and_the_operators_session_are_named() {
        assert!(what_breaks(&owner(10, "sshd"), &[]).is_some_and(|w| w.contains("remote logins")));
        assert!(what_breaks(&owner(11, "systemd-resolve"), &[]).is_some_and(|w| w.contains("DNS")));
        assert!(what_breaks(&owner(12, "bash"), &[12]).is_some_and(|w| w.contains("session")));
        assert!(what_breaks(&owner(13, "nginx"), &[]).is_none());
    }
}
