//! A declared port someone listens on: is every listener the declared process? Several TCP
//! listeners on one port are a SO_REUSEPORT group (UDP sockets share a port through it or
//! SO_REUSEADDR), and the kernel hands each member a share of the traffic: an old version left
//! running beside the new one is a stranger on the port even though the new one listens.

use super::findings::{PortResult, PortState, Status};
use super::service::Service;
use super::why_line::{WhyLine, one_line};
use crate::model::{Proto, Snapshot, Socket};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

fn owners_label(socks: &[&Socket]) -> String {
    let mut names: Vec<String> = Vec::new();
    for s in socks {
        let n = s.holder();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    one_line(&names.join(", "))
}

/// Judges a port with `listeners` (not empty) against the service's declaration.
pub(super) fn judge(
    svc: &Service,
    port: u16,
    listeners: &[&Socket],
    snap: &Snapshot,
    why: &mut dyn FnMut(u16, Proto) -> WhyLine,
) -> PortResult {
    let sys = &snap.sysctl;
    let (lo, hi) = sys.ephemeral();
    let result = |status, state, holder, text| PortResult::new(port, status, state, holder, text);
    let who = owners_label(listeners);
    let risk = if sys.at_risk(port) {
        format!(
            " (inside the ephemeral range {lo}-{hi} and not reserved: after a restart an outgoing connection may hold it)"
        )
    } else {
        String::new()
    };
    let Some(want) = svc.process.as_deref() else {
        return result(
            Status::Ok,
            PortState::Listening,
            Some(who.clone()),
            format!("{who} listens{risk}"),
        );
    };
    let is_ours = |s: &&&Socket| s.owners.iter().any(|o| svc.matches(o));
    let ours: Vec<&Socket> = listeners.iter().filter(is_ours).copied().collect();
    let strangers: Vec<&Socket> = listeners
        .iter()
        .filter(|s| !s.owners.is_empty() && !is_ours(s))
        .copied()
        .collect();
    let unseen = listeners
        .iter()
        .filter(|s| s.owners.is_empty() && !s.kernel_held)
        .count();
    if !ours.is_empty() && !strangers.is_empty() {
        let stranger = owners_label(&strangers);
        let share = match svc.proto {
            Proto::Tcp => "new connections (a SO_REUSEPORT group",
            Proto::Udp => "datagrams (sockets sharing the port",
        };
        return result(
            Status::Critical,
            PortState::ListeningShared,
            Some(stranger.clone()),
            format!(
                "shared with {stranger}, not {}: it takes a share of {share} with {})",
                one_line(want),
                owners_label(&ours)
            ),
        );
    }
    if !ours.is_empty() && unseen == 0 {
        return result(
            Status::Ok,
            PortState::Listening,
            Some(who.clone()),
            format!("{who} listens{risk}"),
        );
    }
    if !ours.is_empty() {
        return result(
            Status::Unknown,
            PortState::ListeningOwnerHidden,
            Some(owners_label(&ours)),
            format!(
                "{} listens beside a listener whose process portscope cannot see (run as root to see it)",
                owners_label(&ours)
            ),
        );
    }
    if unseen == listeners.len() {
        return result(
            Status::Unknown,
            PortState::ListeningOwnerHidden,
            None,
            "a listener whose process portscope cannot see (run as root to see it)".into(),
        );
    }
    let w = why(port, svc.proto);
    result(
        Status::Critical,
        PortState::ListeningOther,
        Some(who.clone()),
        format!("held by {who}, not {}: {}", one_line(want), w.line),
    )
}

/// A port the declared process listens on (OK so far) judged by whether it takes its
/// connections: not accepting or overflowing is CRITICAL (clients time out), slow a WARNING.
pub(super) fn with_health(
    mut r: PortResult,
    listeners: &[&Socket],
    book: &super::health::Book,
    snap: &Snapshot,
) -> PortResult {
    use crate::analyze::listener_health::{Health, QueueLook};
    let worst = listeners
        .iter()
        .filter(|s| s.proto == Proto::Tcp)
        .map(|s| super::health::of(book, s, snap.sysctl.somaxconn))
        .max_by_key(|h| (h.verdict, h.overflowing(), h.queued));
    let Some(h) = worst else {
        return r;
    };
    r.accept_queue = Some(QueueLook {
        queued: h.queued,
        backlog: h.backlog,
    });
    r.listener_health = Some(h.verdict);
    if r.state != PortState::Listening {
        return r;
    }
    let who = r.holder.clone().unwrap_or_else(|| "its listener".into());
    let (status, state) = match h.verdict {
        _ if h.overflowing() => (Status::Critical, PortState::ListeningNotAccepting),
        Health::NotAccepting => (Status::Critical, PortState::ListeningNotAccepting),
        Health::Slow => (Status::Warning, PortState::ListeningSlow),
        Health::Accepting => return r,
    };
    r.status = r.status.worst(status);
    r.state = state;
    r.text =
        one_line(&format!(
            "{who} listens but {} ({})",
            h.sentence().split_once(": ").map_or(
                h.verdict.words().to_string(),
                |(_, rest)| format!("is {}: {rest}", h.verdict.words())
            ),
            h.based_on
        ));
    r
}

/// Adds what the filter rules say: a listener no one outside can reach through the rules is a
/// WARNING (one its own address keeps local is as declared, and stays as judged).
pub fn with_reach(
    mut r: PortResult,
    proto: crate::model::Proto,
    reach: &[crate::model::reach::Reachability],
) -> PortResult {
    use crate::model::reach::ReachVerdict;
    let Some(found) = reach.iter().find(|x| x.port == r.port && x.proto == proto) else {
        return r;
    };
    r.reachability = Some(found.verdict);
    let blocking: Vec<&crate::model::reach::FilterRule> =
        found.rules.iter().filter(|x| x.blocks()).collect();
    match (found.verdict, blocking.first()) {
        (ReachVerdict::Blocked, Some(rule)) => {
            r.status = r.status.worst(Status::Warning);
            _ = write!(
                r.text,
                "; firewall blocks it from outside ({})",
                rule.describe()
            );
        }
        (ReachVerdict::Blocked, None) => {
            r.text.push_str("; unreachable from outside by its address");
        }
        (ReachVerdict::Partly, _) => {
            let sources: Vec<&str> = blocking.iter().map(|x| x.sources.as_str()).collect();
            _ = write!(
                r.text,
                "; firewall blocks some sources ({})",
                sources.join(", ")
            );
        }
        _ => {}
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, owner, snapshot};
    use crate::portset::PortSet;
    use std::sync::Arc;

    fn svc(process: &str) -> Service {
        Service {
            name: "api".into(),
            ports: PortSet::parse("9000").unwrap_or_default(),
            proto: Proto::Tcp,
            process: Some(process.into()),
        }
    }

    fn never(_: u16, _: Proto) -> WhyLine {
        unreachable!("a port the declared process listens on needs no probe")
    }

    fn held_by(pid: u32, comm: &str) -> Socket {
        let mut s = listener(9000);
        s.owners = Arc::from([owner(pid, comm)]);
        s.inode = u64::from(pid);
        s
    }

    #[test]
    fn a_stranger_in_the_group_is_critical_and_named() {
        let (old, new) = (held_by(4711, "api-v1"), held_by(4812, "api-v2"));
        let snap = snapshot(vec![old.clone(), new.clone()]);
        let r = judge(&svc("api-v2"), 9000, &[&old, &new], &snap, &mut never);
        assert_eq!(
            (r.status, r.state),
            (Status::Critical, PortState::ListeningShared)
        );
        assert_eq!(r.holder.as_deref(), Some("api-v1 (pid 4711)"));
        assert!(
            r.text
                .starts_with("shared with api-v1 (pid 4711), not api-v2: it takes a share"),
            "{}",
            r.text
        );
        let r = judge(&svc("api-v2"), 9000, &[&new], &snap, &mut never);
        assert_eq!((r.status, r.state), (Status::Ok, PortState::Listening));
        let mut hidden = held_by(1, "x");
        hidden.owners = crate::model::no_owners();
        hidden.owner_hidden = true;
        let r = judge(&svc("api-v2"), 9000, &[&new, &hidden], &snap, &mut never);
        assert_eq!(
            (r.status, r.state),
            (Status::Unknown, PortState::ListeningOwnerHidden)
        );
    }

    #[test]
    fn a_listener_the_firewall_blocks_is_a_warning() {
        use crate::model::reach::{FilterRule, ReachVerdict, Reachability};
        let l = held_by(1, "api");
        let snap = snapshot(vec![l.clone()]);
        let ok = judge(&svc("api"), 9000, &[&l], &snap, &mut never);
        let rule = FilterRule {
            tool: "nft".into(),
            family: "ipv4".into(),
            table: "inet fw".into(),
            chain: "input".into(),
            rule: "tcp dport 9000 drop".into(),
            action: "drop".into(),
            sources: "all sources".into(),
            packets: Some(2),
            bytes: None,
        };
        let reach = |verdict, rules| Reachability {
            proto: Proto::Tcp,
            port: 9000,
            verdict,
            rules,
            tools: vec![],
            notes: vec![],
        };
        let r = with_reach(
            ok.clone(),
            Proto::Tcp,
            &[reach(ReachVerdict::Blocked, vec![rule.clone()])],
        );
        assert_eq!(
            (r.status, r.reachability),
            (Status::Warning, Some(ReachVerdict::Blocked))
        );
        assert!(
            r.text
                .contains("firewall blocks it from outside (drops all sources"),
            "{}",
            r.text
        );
        let r = with_reach(
            ok.clone(),
            Proto::Tcp,
            &[reach(ReachVerdict::Blocked, vec![])],
        );
        assert_eq!(
            r.status,
            Status::Ok,
            "kept local by its address: as declared"
        );
        let mut partial = rule;
        partial.sources = "10.0.0.0/8".into();
        let r = with_reach(
            ok.clone(),
            Proto::Tcp,
            &[reach(ReachVerdict::Partly, vec![partial])],
        );
        assert_eq!(r.status, Status::Ok);
        assert!(
            r.text
                .ends_with("; firewall blocks some sources (10.0.0.0/8)"),
            "{}",
            r.text
        );
        assert_eq!(
            with_reach(
                ok.clone(),
                Proto::Udp,
                &[reach(ReachVerdict::Blocked, vec![])]
            ),
            ok
        );
    }

    #[test]
    fn a_full_conntrack_table_is_critical() {
        use crate::guard::check::{BootConfig, Options, evaluate};
        use crate::model::reach::Conntrack;
        let snap = snapshot(vec![]);
        let boot =
            BootConfig::NotApplicable(crate::guard::NotCompared::NotTheHost { netns: "t".into() });
        let status = |count| {
            let opts = Options {
                conntrack: Some(Conntrack { count, max: 1000 }),
                ..Options::default()
            };
            let r = evaluate(&snap, &[], &boot, &opts, "h", &mut never);
            let c = r
                .host_checks
                .iter()
                .find(|h| h.check == "conntrack")
                .cloned();
            (c.map(|c| c.status), crate::guard::plugin::perfdata(&r))
        };
        assert_eq!(status(800).0, Some(Status::Ok));
        assert_eq!(status(801).0, Some(Status::Warning));
        let (st, perf) = status(1000);
        assert_eq!(st, Some(Status::Critical));
        assert!(
            perf.contains(" conntrack_entries=1000;800;1000;0;1000"),
            "{perf}"
        );
    }
}
