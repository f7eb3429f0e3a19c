//! Two programs in one SO_REUSEPORT group (issue 21, item 2), made for real in a private network
//! namespace: an old `api-v1` still accepting beside the new `api-v2`. `why` shows the group and
//! warns (even when the service's own SO_REUSEPORT bind is free), explains the same-uid rule,
//! plans the old one's removal first, and `check` is CRITICAL until only `api-v2` listens.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::sockets::*;
use common::why_json as why;
use common::*;
use portscope::analyze::why::{Diagnosis, Evidence, Verdict};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

fn why_text(args: &[&str]) -> String {
    let mut full = vec!["why"];
    full.extend_from_slice(args);
    // Wrapped at 80 columns: compared as one line of words.
    run(portscope().args(&full))
        .1
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Clock ticks after boot of a process (field 22 of /proc/PID/stat).
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(") ").unwrap().1;
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// Clock ticks since boot now (/proc/uptime in hundredths, USER_HZ's usual 100).
fn ticks_now() -> u64 {
    let up = std::fs::read_to_string("/proc/uptime").unwrap();
    let secs: f64 = up.split_whitespace().next().unwrap().parse().unwrap();
    (secs * 100.0) as u64
}

fn alive(h: &mut Holder) -> bool {
    h.child.try_wait().ok().flatten().is_none()
}

/// The pids of the TCP listeners `why` sees on the port.
fn listener_pids(port: &str) -> Vec<u32> {
    let (_, d) = why(&[port, "--proto", "tcp"]);
    let mut p: Vec<u32> = d
        .holders
        .iter()
        .filter(|h| h.socket.is_listening())
        .flat_map(|h| h.socket.owners.iter().map(|o| o.pid))
        .collect();
    p.sort_unstable();
    p
}

fn check(dir: &std::path::Path, port: u16) -> (i32, String) {
    std::fs::write(
        dir.join("config.toml"),
        format!("[[service]]\nname = \"api\"\nport = {port}\nprocess = \"api-v2\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("root/etc/sysctl.d")).unwrap();
    let (code, out, err) = run(portscope()
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("check")
        .arg("--sysctl-root")
        .arg(dir.join("root")));
    assert!(err.is_empty(), "check wrote to stderr: {err}");
    (code, out)
}

fn group(d: &Diagnosis) -> &portscope::analyze::why::ReuseGroup {
    assert_eq!(d.reuseport_groups.len(), 1, "{:?}", d.reuseport_groups);
    &d.reuseport_groups[0]
}

#[test]
fn an_old_program_left_in_the_group_is_shown_planned_away_and_critical() {
    if !private_netns("why_reuseport_mixed") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = (dir.path().join("api-v1"), dir.path().join("api-v2"));
    copy_executable("/bin/sleep", &v1);
    copy_executable("/bin/sleep", &v2);
    let port = 22101u16;
    let p = port.to_string();
    let rp = Opts {
        reuseaddr: false,
        reuseport: true,
        v6only: false,
    };
    let any = "0.0.0.0".parse().unwrap();
    let (a, b) = (
        tcp_listen_with(any, port, rp),
        tcp_listen_with(any, port, rp),
    );
    let sleeper = |exe: &std::path::Path| {
        let mut c = Command::new(exe);
        c.arg("600").stdin(Stdio::null()).stdout(Stdio::null());
        c
    };
    let mut old = spawn_holding(&mut sleeper(&v1), &[&a.as_fd()]);
    // The new one starts on a later clock tick than the old: "older" is the kernel's word.
    let old_start = start_ticks(old.pid());
    assert!(wait_until(PATIENCE, || ticks_now() > old_start + 1));
    let mut new = spawn_holding(&mut sleeper(&v2), &[&b.as_fd()]);
    drop((a, b));
    // Both have exec'd their programs (until then they run the test binary under its name).
    let seen = wait_until(PATIENCE, || {
        let (_, d) = why(&[&p, "--proto", "tcp", "--reuseport"]);
        d.reuseport_groups.first().is_some_and(|g| {
            let mut names: Vec<String> = g
                .members
                .iter()
                .filter_map(|m| m.program.as_ref().map(|p| p.raw().to_string()))
                .collect();
            names.sort();
            names == ["api-v1", "api-v2"]
        })
    });
    assert!(seen, "no group of api-v1 and api-v2 on {port}");

    // The service's own SO_REUSEPORT bind is free, and the warning is still there.
    let (code, d) = why(&[&p, "--proto", "tcp", "--reuseport"]);
    assert_eq!((code, d.verdict), (0, Verdict::Free), "{}", d.explanation);
    let g = group(&d);
    assert_eq!(g.evidence, Evidence::Listeners);
    assert!(g.mixed_programs && g.service_joins, "{g:?}");
    assert_eq!(g.members.len(), 2);
    let exe_of = |pid: u32| {
        g.members
            .iter()
            .find(|m| m.pid == Some(pid))
            .and_then(|m| m.exe.as_ref())
            .map(|e| e.raw().to_string())
    };
    assert_eq!(exe_of(old.pid()), Some(v1.display().to_string()));
    assert_eq!(exe_of(new.pid()), Some(v2.display().to_string()));
    let stale = g.stale().unwrap();
    assert_eq!(g.members[stale.members[0]].pid, Some(old.pid()));
    assert_eq!(d.remedies[0].command, format!("kill {}", old.pid()));
    let text = why_text(&[&p, "--proto", "tcp", "--reuseport"]);
    assert!(text.starts_with("FREE"), "{text}");
    let warning = format!(
        "warning: tcp 0.0.0.0:{port} is shared by a SO_REUSEPORT group of 2 programs: the kernel \
         splits new connections between api-v1 (pid {}, started",
        old.pid()
    );
    assert!(text.contains(&warning), "{text}");
    assert!(
        text.contains("the oldest, api-v1, still takes a share"),
        "{text}"
    );

    // Another uid cannot join root's group: the same-uid rule, with the group's uid.
    let (code, d) = why(&[&p, "--proto", "tcp", "--reuseport", "--user", "nobody"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert!(
        d.explanation.contains(&format!(
            "same effective uid (socket(7)): the SO_REUSEPORT group on 0.0.0.0:{port} belongs to \
             uid 0 (root), the service's socket would have uid 65534 (nobody)"
        )),
        "{}",
        d.explanation
    );

    // Monitoring: api-v2 listens, but so does api-v1.
    let (code, out) = check(dir.path(), port);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("PORTSCOPE CRITICAL - "), "{out}");
    assert!(
        out.contains(&format!(
            "shared with api-v1 (pid {}), not api-v2: it takes a share of new connections",
            old.pid()
        )),
        "{out}"
    );
    assert!(!out.contains(&format!("pid {}),", new.pid())), "{out}");

    // Without SO_REUSEPORT the port is blocked; the first step stops the old program only.
    let (code, d) = why(&[&p, "--proto", "tcp"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    let kills: Vec<&str> = d
        .plan
        .iter()
        .filter(|r| r.action == "kill")
        .map(|r| r.command.as_str())
        .collect();
    let (kill_old, kill_new) = (format!("kill {}", old.pid()), format!("kill {}", new.pid()));
    assert_eq!(
        kills,
        [kill_old.as_str(), kill_new.as_str()],
        "{:?}",
        d.plan
    );
    let (c, out, err) = run(Command::new("sh").args(["-c", kills[0]]));
    assert_eq!(c, 0, "{out} {err}");
    assert!(
        wait_until(PATIENCE, || !alive(&mut old)),
        "api-v1 still runs"
    );
    assert!(wait_until(PATIENCE, || listener_pids(&p) == [new.pid()]));
    assert!(alive(&mut new), "the newest member keeps serving");
    assert!(!binds("0.0.0.0", port), "api-v2 still holds the port");

    let (code, out) = check(dir.path(), port);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "OK: api {port}/tcp: api-v2 (pid {}) listens",
            new.pid()
        )),
        "{out}"
    );
    drop(new);
}
