//! What stopping a process would break beyond the port: the remote logins the operator came in
//! by, the session they are typing in, the host's name resolution. Said wherever a remedy stops
//! or signals such a process (why's plan, fix, the dialogs); it never hides the remedy, since
//! the operator may mean exactly that.

use crate::model::Owner;
use crate::model::protect::Protect;

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

/// The command name the kernel gives a program run from `path`: its file name, cut to 15 bytes.
fn comm_of_path(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.get(..15).unwrap_or(base)
}

/// How `o` matches `[protect]`, in words ("its program is /usr/sbin/haproxy", "named
/// postgres"), or None. A path is compared with the exe /proc showed; where that could not be
/// read (not root) a path's last part is compared with the command name and said to be only
/// that, since a name is any process's to choose.
pub fn protected(o: &Owner, p: &Protect) -> Option<String> {
    let comm = o.comm.raw();
    for want in &p.programs {
        match (want.starts_with('/'), &o.exe) {
            (true, Some(e)) if e.path.raw() == want => {
                return Some(format!("its program is {want}"));
            }
            (true, None) if comm_of_path(want) == comm => {
                return Some(format!(
                    "named {comm}, like {want} (its program file could not be read to compare)"
                ));
            }
            (false, _) if comm == want => {
                return Some(format!("named {want}: a name any process can take"));
            }
            _ => {}
        }
    }
    if let Some(unit) = o.unit.as_ref().map(crate::model::Foreign::raw) {
        for want in &p.units {
            if unit == want || unit.strip_suffix(".service") == Some(want.as_str()) {
                return Some(format!("it runs in unit {unit}"));
            }
        }
    }
    let name = o.workload.as_ref().and_then(|w| w.name.as_deref());
    let tag = o.container.as_ref().map(crate::model::Foreign::raw);
    for want in &p.containers {
        let id = tag.map(|c| c.split_once(':').map_or(c, |(_, id)| id));
        if name == Some(want.as_str())
            || tag == Some(want.as_str())
            || id == Some(want.as_str())
            || (want.len() >= 4 && id.is_some_and(|id| id.starts_with(want.as_str())))
        {
            return Some(format!("it runs in container {want}"));
        }
    }
    None
}

/// What breaks when `o` stops, if anything beyond the port: `ancestors` are the pids of the
/// session portscope runs in (its parent, its parent's parent, ...), `protect` what the
/// operator listed in the config file.
pub fn what_breaks(o: &Owner, ancestors: &[u32], protect: &Protect) -> Option<String> {
    let name = program(o);
    let label = o.label();
    if ancestors.contains(&o.pid) {
        return Some(format!(
            "{label} is part of the session this portscope runs in: stopping it ends that \
             session (and this command with it)"
        ));
    }
    if let Some(how) = protected(o, protect) {
        return Some(match &protect.why {
            Some(why) => format!("{label} is protected in the config file ({how}): {why}"),
            None => format!(
                "{label} is protected in the config file ({how}): make sure losing it is meant"
            ),
        });
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
            .find_map(|o| what_breaks(o, &ctx.ancestors, &ctx.protect))
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
        let none = Protect::default();
        let breaks = |o: &Owner, a: &[u32]| what_breaks(o, a, &none);
        assert!(breaks(&owner(10, "sshd"), &[]).is_some_and(|w| w.contains("remote logins")));
        assert!(breaks(&owner(11, "systemd-resolve"), &[]).is_some_and(|w| w.contains("DNS")));
        assert!(breaks(&owner(12, "bash"), &[12]).is_some_and(|w| w.contains("session")));
        assert!(breaks(&owner(13, "nginx"), &[]).is_none());
    }

    #[test]
    fn protected_programs_match_by_exe_path_or_weaker_by_name() {
        let p = Protect {
            programs: vec!["postgres".into(), "/usr/sbin/haproxy".into()],
            units: vec!["payments.service".into()],
            containers: vec!["db".into()],
            why: Some("pages the on-call".into()),
        };
        let w = what_breaks(&owner(20, "postgres"), &[], &p).unwrap_or_default();
        assert!(
            w.contains("named postgres: a name any process can take"),
            "{w}"
        );
        assert!(w.ends_with(": pages the on-call"), "{w}");

        // A path is compared with the exe, not the name: a haproxy-named copy elsewhere is not it.
        let mut h = owner(21, "haproxy");
        h.exe = Some(crate::model::Exe {
            path: "/tmp/haproxy".into(),
            system: false,
        });
        assert_eq!(protected(&h, &p), None);
        h.exe = Some(crate::model::Exe {
            path: "/usr/sbin/haproxy".into(),
            system: true,
        });
        assert_eq!(
            protected(&h, &p).as_deref(),
            Some("its program is /usr/sbin/haproxy")
        );
        // Without the exe (not root), only the name can be compared, and it says so.
        h.exe = None;
        assert!(protected(&h, &p).is_some_and(|w| w.contains("could not be read")));

        let mut u = owner(22, "java");
        u.unit = Some("payments.service".into());
        assert_eq!(
            protected(&u, &p).as_deref(),
            Some("it runs in unit payments.service")
        );
        let mut c = owner(23, "mysqld");
        c.container = Some("docker:3f2a9c0d4e5b".into());
        assert_eq!(protected(&c, &p), None);
        let mut w = crate::model::Workload::new(
            crate::model::workload::Runtime::Docker,
            Some("3f2a9c0d4e5b".into()),
            Some("db".into()),
        );
        w.relabel();
        c.workload = Some(std::sync::Arc::new(w));
        assert_eq!(
            protected(&c, &p).as_deref(),
            Some("it runs in container db")
        );
        assert!(what_breaks(&owner(24, "nginx"), &[], &p).is_none());
    }
}
