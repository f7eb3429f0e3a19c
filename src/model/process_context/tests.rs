use super::*;

fn t(s: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_700_000_000 + s).unwrap_or_default()
}

#[test]
fn growth_needs_two_samples_and_is_per_minute() {
    let mut o = Observations::new();
    o.record(10, 5, t(0), 100);
    assert_eq!(o.per_min(10, 5), None);
    o.record(10, 5, t(30), 160);
    assert_eq!(o.per_min(10, 5), Some(120));
    // Another process with the same pid (reused) starts over.
    assert_eq!(o.per_min(10, 6), None);
    // Out of order: ignored.
    o.record(10, 5, t(10), 0);
    assert_eq!(o.per_min(10, 5), Some(120));
    let c = SocketCount {
        now: 160,
        per_min: o.per_min(10, 5),
    };
    assert_eq!(c.growth_words().as_deref(), Some("+120/min"));
}

#[test]
fn snapshots_feed_the_growth_of_their_processes() {
    use crate::model::test_support::{listener, owner, snapshot};
    let api = owner(40, "api");
    let held = |port| {
        let mut s = listener(port);
        s.owners = std::sync::Arc::from([api.clone()]);
        s
    };
    let mut snap = snapshot(vec![held(8080)]);
    snap.taken_at = t(0);
    let mut o = Observations::new();
    o.record_snapshot(&snap);
    snap.taken_at = t(60);
    snap.sockets.push(held(8081));
    snap.sockets.push(held(8082));
    o.record_snapshot(&snap);
    assert_eq!(o.per_min(40, api.start_time), Some(2));
    snap.sockets.clear();
    snap.taken_at = t(120);
    o.record_snapshot(&snap);
    assert!(o.is_empty(), "a process without sockets is forgotten");
}

#[test]
fn observations_are_bounded() {
    let mut o = Observations::new();
    for i in 0..(i64::try_from(SAMPLES_PER_PROCESS).unwrap() + 10) {
        o.record(1, 1, t(i * 60), usize::try_from(i).unwrap());
    }
    // Rate over the kept window stays right, and old samples went.
    assert_eq!(o.per_min(1, 1), Some(1));
    assert_eq!(o.samples_of(1, 1), SAMPLES_PER_PROCESS);
    for pid in 0..(u32::try_from(PROCESSES_KEPT).unwrap() + 20) {
        o.record(pid + 100, 0, t(i64::from(pid)), 1);
    }
    assert_eq!(o.len(), PROCESSES_KEPT);
    o.retain(|p, _| p % 2 == 0);
    assert!(o.len() <= PROCESSES_KEPT / 2 + 1);
}

#[test]
fn fd_levels_follow_the_soft_limit() {
    let u = |open, soft| FdUse {
        open,
        soft,
        hard: Some(4096),
    };
    assert_eq!(u(812, Some(1024)).words(), "812/1024 (79%)");
    assert_eq!(u(812, Some(1024)).level(), Level::Ok);
    assert_eq!(u(820, Some(1024)).level(), Level::Warning);
    assert_eq!(u(1000, Some(1024)).level(), Level::Critical);
    assert_eq!(u(5, None).words(), "5 (no limit)");
    assert_eq!(u(5, None).level(), Level::Ok);
}

#[test]
fn kinds_and_supervisors() {
    assert_eq!(ProcessKind::of(1, "systemd", &[1]), ProcessKind::Init);
    assert_eq!(
        ProcessKind::of(900, "sh", &[900, 1]),
        ProcessKind::ContainerInit
    );
    assert_eq!(
        ProcessKind::of(880, "containerd-shim-runc-v2", &[880]),
        ProcessKind::RuntimeShim
    );
    assert_eq!(ProcessKind::of(4100, "bash", &[4100]), ProcessKind::Shell);
    assert_eq!(ProcessKind::of(4000, "sshd", &[4000]), ProcessKind::Process);
    let chain = vec![
        Ancestor {
            pid: 4100,
            comm: Foreign::from("bash"),
            kind: ProcessKind::Shell,
        },
        Ancestor {
            pid: 1,
            comm: Foreign::from("systemd"),
            kind: ProcessKind::Init,
        },
    ];
    assert_eq!(
        Supervisor::choose(None, Some("api.service"), None, &chain).words(),
        "systemd unit api.service"
    );
    assert_eq!(
        Supervisor::choose(None, Some("session-3.scope"), None, &chain).words(),
        "shell bash (4100)"
    );
    assert_eq!(
        Supervisor::choose(Some("docker web"), Some("x.service"), None, &chain).words(),
        "container docker web"
    );
    assert_eq!(
        Supervisor::choose(None, None, None, &chain[1..]),
        Supervisor::Init
    );
    assert_eq!(
        Supervisor::choose(None, None, None, &[]),
        Supervisor::Unknown
    );
}

#[test]
fn chains_elide_the_middle_and_end_at_the_unit() {
    let p = |pid, comm: &str, kind| Ancestor {
        pid,
        comm: Foreign::from(comm),
        kind,
    };
    let mut c = ProcessContext {
        pid: 4123,
        comm: Foreign::from("java"),
        cmdline: Foreign::from("java -jar api.jar"),
        uid: 0,
        user: Foreign::from("root"),
        start: ProcessStart {
            ticks: 0,
            after_boot_secs: 570,
            at: None,
            local: None,
            age_secs: None,
        },
        parents: vec![
            p(4100, "bash", ProcessKind::Shell),
            p(4090, "sshd", ProcessKind::Process),
            p(4000, "sshd", ProcessKind::Process),
            p(900, "sshd", ProcessKind::Process),
            p(1, "systemd", ProcessKind::Init),
        ],
        supervisor: Supervisor::Unit {
            name: Foreign::from("api.service"),
        },
        fds: None,
        sockets: SocketCount::default(),
        listeners: Vec::new(),
        listen_stats: None,
        state: None,
        wchan: None,
    };
    assert_eq!(
        c.chain_words(true),
        "java (4123) ← bash (4100, shell) ← sshd (4090) ← sshd (4000) ← sshd (900) \
         ← systemd unit api.service"
    );
    c.parents.insert(1, p(4095, "sudo", ProcessKind::Process));
    assert_eq!(
        c.chain_words(false),
        "java (4123) ← bash (4100, shell) ← sudo (4095) ← sshd (4090) ← … ← systemd (1, init)"
    );
    assert_eq!(c.start.words(|s| format!("{s} s")), "570 s after boot");
}

#[test]
fn netstat_counters_by_name() {
    let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 7 9\n\
                IpExt: InNoRoutes\nIpExt: 0\n";
    assert_eq!(
        parse_listen_stats(text),
        Some(ListenStats {
            overflows: 7,
            drops: 9
        })
    );
    assert_eq!(parse_listen_stats("IpExt: A\nIpExt: 1\n"), None);
}
