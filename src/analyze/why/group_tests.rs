//! SO_REUSEPORT groups from synthetic snapshots: who is a member, which generation is stale,
//! the plan's order and the words.

use super::group::{Evidence, GENERATION_GAP_SECS};
use super::*;
use crate::model::probe::BindOutcome;
use crate::model::test_support::{listener, owner, snapshot};
use crate::model::{Exe, Owner};
use std::sync::Arc;

const HZ: u64 = 100;

/// A listener on 0.0.0.0:9000 held by `comm` (pid), started `secs` after boot.
fn member(pid: u32, comm: &str, secs: u64, exe: Option<&str>) -> Socket {
    let mut s = listener(9000);
    s.inode = u64::from(pid) * 10;
    let o = Owner {
        start_time: secs * HZ,
        exe: exe.map(|p| Exe {
            path: p.into(),
            system: false,
        }),
        ..(*owner(pid, comm)).clone()
    };
    s.owners = Arc::from([Arc::new(o)]);
    s
}

fn probe(plain: &str) -> ProbeResult {
    ProbeResult {
        plain: Some(BindOutcome::from(plain.to_string())),
        reuseaddr: Some(BindOutcome::from(plain.to_string())),
        not_run: None,
        privileged: None,
        address: None,
    }
}

fn ctx(uid: u32) -> Context {
    Context {
        uid,
        hz: HZ,
        ..Context::default()
    }
}

fn req(reuseport: bool) -> BindRequest {
    let mut r = BindRequest::tcp(9000);
    r.opts.reuseport = reuseport;
    r
}

fn old_and_new() -> Snapshot {
    // The newer one first in the tables: the order of the plan must not follow the tables.
    snapshot(vec![
        member(4812, "api-v2", 20_000, Some("/usr/local/bin/api-v2")),
        member(4711, "api-v1", 10, Some("/usr/local/bin/api-v1")),
    ])
}

#[test]
fn two_programs_in_one_group_are_mixed_and_the_older_is_stale() {
    let d = diagnose(&req(false), &old_and_new(), &probe("EADDRINUSE"), &ctx(0));
    assert_eq!(d.reuseport_groups.len(), 1);
    let g = &d.reuseport_groups[0];
    assert_eq!(g.evidence, Evidence::Listeners);
    assert!(g.mixed_programs && !g.mixed_generations);
    assert_eq!(g.generations.len(), 2);
    let stale: Vec<Option<u32>> = g
        .stale()
        .unwrap()
        .members
        .iter()
        .map(|&m| g.members[m].pid)
        .collect();
    assert_eq!(stale, [Some(4711)]);
    // The plan stops the old program first and the newest last.
    let kills: Vec<&str> = d
        .plan
        .iter()
        .filter(|r| r.action == RemedyKind::Kill)
        .map(|r| r.command.as_str())
        .collect();
    assert_eq!(kills, ["kill 4711", "kill 4812"], "{:?}", d.plan);
    assert!(
        d.plan[0]
            .text
            .contains("oldest member of the SO_REUSEPORT group"),
        "{}",
        d.plan[0].text
    );
    let lines = group_lines(g, &|s| format!("{s}s"));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].kind, crate::model::text::Kind::Warning);
    assert_eq!(
        lines[0].text,
        "tcp 0.0.0.0:9000 is shared by a SO_REUSEPORT group of 2 programs: the kernel splits new \
         connections between api-v1 (pid 4711, /usr/local/bin/api-v1) and api-v2 (pid 4812, \
         started 19990s after the first, /usr/local/bin/api-v2): the oldest, api-v1, still \
         takes a share"
    );
}

#[test]
fn a_free_port_still_warns_and_offers_to_remove_the_stale_member() {
    let d = diagnose(&req(true), &old_and_new(), &probe("ok"), &ctx(0));
    assert_eq!(d.verdict, Verdict::Free);
    assert!(d.plan.is_empty());
    let g = &d.reuseport_groups[0];
    assert!(g.mixed() && g.service_joins);
    assert_eq!(d.remedies[0].command, "kill 4711", "{:?}", d.remedies);
    let text = &group_lines(g, &|s| format!("{s}s"))[0].text;
    assert!(text.ends_with("now joins them"), "{text}");
}

#[test]
fn generations_of_one_program_split_by_start_time() {
    // Prefork: four workers of one master started within a second are one generation.
    let gap = GENERATION_GAP_SECS;
    let prefork = snapshot(
        (0..4)
            .map(|i| member(100 + i, "nginx", 500 + u64::from(i) / 2, None))
            .collect(),
    );
    let d = diagnose(&req(false), &prefork, &probe("EADDRINUSE"), &ctx(0));
    let g = &d.reuseport_groups[0];
    assert!(!g.mixed(), "{g:?}");
    assert_eq!(g.generations.len(), 1);
    assert_eq!(
        group_lines(g, &|s| format!("{s}s"))[0].kind,
        crate::model::text::Kind::Note
    );
    // A restart that left the old process running: same program, far apart.
    let restarted = snapshot(vec![
        member(200, "api", 100, None),
        member(300, "api", 100 + gap + 1, None),
    ]);
    let d = diagnose(&req(false), &restarted, &probe("EADDRINUSE"), &ctx(0));
    let g = &d.reuseport_groups[0];
    assert!(g.mixed_generations && !g.mixed_programs);
    assert_eq!(g.members[g.stale().unwrap().members[0]].pid, Some(200));
    assert!(
        group_lines(g, &|s| format!("{s}s"))[0]
            .text
            .contains("a SO_REUSEPORT group of 2 generations of api")
    );
}

#[test]
fn an_unknown_executable_compares_command_names() {
    // Root saw one exe, not the other: a path and a name are not two programs.
    let s = snapshot(vec![
        member(10, "worker", 50, Some("/usr/bin/worker")),
        member(11, "worker", 50, None),
    ]);
    let d = diagnose(&req(false), &s, &probe("EADDRINUSE"), &ctx(0));
    assert!(!d.reuseport_groups[0].mixed());
}

#[test]
fn udp_sockets_bound_together_are_sharing_without_a_claim() {
    let udp = |pid, comm, secs| {
        let mut s = member(pid, comm, secs, None);
        s.proto = Proto::Udp;
        s.state = crate::model::State::Unconn;
        s
    };
    let snap = snapshot(vec![udp(20, "avahi", 10), udp(21, "mdnsd", 10)]);
    let mut r = req(false);
    r.proto = Proto::Udp;
    let d = diagnose(&r, &snap, &probe("EADDRINUSE"), &ctx(0));
    let g = &d.reuseport_groups[0];
    assert_eq!(g.evidence, Evidence::Sharing);
    let text = &group_lines(g, &|s| format!("{s}s"))[0].text;
    assert!(
        text.starts_with(
            "udp 0.0.0.0:9000 is shared (through SO_REUSEPORT or SO_REUSEADDR: no table says \
             which) by sockets of 2 programs: datagrams to the port may reach any of"
        ),
        "{text}"
    );
}

#[test]
fn one_listener_alone_is_no_group_unless_the_probe_joined_it() {
    let one = snapshot(vec![member(7, "api", 10, None)]);
    let d = diagnose(&req(false), &one, &probe("EADDRINUSE"), &ctx(0));
    assert!(d.reuseport_groups.is_empty());
    let d = diagnose(&req(true), &one, &probe("ok"), &ctx(0));
    assert_eq!(d.reuseport_groups[0].evidence, Evidence::Probe);
    assert!(
        group_lines(&d.reuseport_groups[0], &|s| format!("{s}s"))[0]
            .text
            .contains("the service would join its group")
    );
}

#[test]
fn another_uid_is_told_the_same_uid_rule() {
    let mut c = ctx(65534);
    c.user_name = Some("nobody".into());
    let d = diagnose(&req(true), &old_and_new(), &probe("EADDRINUSE"), &c);
    assert_eq!(d.verdict, Verdict::InUse);
    assert!(
        d.explanation.contains(
            "SO_REUSEPORT shares a port only between sockets of the same effective uid \
             (socket(7)): the SO_REUSEPORT group on 0.0.0.0:9000 belongs to uid 0 (root), the \
             service's socket would have uid 65534 (nobody)"
        ),
        "{}",
        d.explanation
    );
    // Without --reuseport the rule is not the question.
    let d = diagnose(&req(false), &old_and_new(), &probe("EADDRINUSE"), &c);
    assert!(!d.explanation.contains("same effective uid"));
}
