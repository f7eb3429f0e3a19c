//! The incidents of issue 10, each made for real in a private network namespace: what `why`
//! says (causes, what blocks, the plan), and that the printed commands work when pasted (run
//! through `sh -c` in the namespace, then a real bind).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::sockets::*;
use common::why_json as why;
use common::*;
use portscope::analyze::why::{CauseKind, Diagnosis, Role, Verdict};
use std::net::TcpStream;
use std::os::fd::AsFd;

fn why_text(args: &[&str]) -> String {
    let mut full = vec!["why"];
    full.extend_from_slice(args);
    run(portscope().args(&full)).1
}

/// Runs a printed command in the test's namespace, as a person pasting it would.
fn paste(cmd: &str) {
    let (code, out, err) = run(std::process::Command::new("sh").args(["-c", cmd]));
    assert_eq!(code, 0, "{cmd}: {out} {err}");
    assert!(!err.contains("Invalid argument"), "{cmd}: {err}");
}

fn kinds(d: &Diagnosis) -> Vec<(CauseKind, usize, bool)> {
    d.causes
        .iter()
        .map(|c| (c.kind, c.count, c.blocks))
        .collect()
}

#[test]
fn listener_with_time_wait_never_says_wait_first() {
    if !private_netns("incident_listener_tw") {
        return;
    }
    let l = tcp_listen("127.0.0.1:22001");
    for _ in 0..3 {
        make_time_wait(&l);
    }
    let holder = hold(&[&l.as_fd()]);
    drop(l);
    let (code, d) = why(&["22001"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(
        kinds(&d),
        vec![
            (CauseKind::Listener, 1, true),
            (CauseKind::TimeWait, 3, true)
        ]
    );
    assert_eq!(d.causes[0].pids, vec![holder.pid()]);
    assert!(
        d.plan.iter().all(|r| r.action != "wait"),
        "waiting cannot free a port a listener holds: {:?}",
        d.plan
    );
    assert_eq!(d.remedies[0].action, "kill", "{:?}", d.remedies);
    assert!(d.explanation.contains("listens on 127.0.0.1:22001"));
    // TIME_WAIT comes after the listener: stopping a process leaves more of it.
    let pos = |a: &str| d.plan.iter().position(|r| r.action == a).unwrap();
    assert!(pos("kill") < pos("destroy_time_wait"), "{:?}", d.plan);
}

#[test]
fn ten_thousand_accepted_connections_fold_into_their_listener() {
    if !private_netns("incident_10k") {
        return;
    }
    let want = 10_000usize;
    // The accepted ends stay here; the clients go to helper processes in batches, so no
    // process needs more than its (unraised) file limit.
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    let batch = 2_500;
    if hard < (want + batch + 100) as u64 {
        skip_note!("SKIPPED incident_10k: RLIMIT_NOFILE {hard} is too low");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "skipped in CI"
        );
        return;
    }
    let l = tcp_listen("0.0.0.0:22002");
    let mut accepted = Vec::with_capacity(want);
    let mut helpers = Vec::new();
    for _ in 0..want / batch {
        let mut clients = Vec::with_capacity(batch);
        for _ in 0..batch {
            clients.push(TcpStream::connect("127.0.0.1:22002").unwrap());
            accepted.push(l.accept().unwrap().0);
        }
        let fds: Vec<&dyn AsFd> = clients.iter().map(|c| c as &dyn AsFd).collect();
        helpers.push(hold(&fds));
    }
    let (code, d) = why(&["22002"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(d.holders.len(), want + 1, "JSON keeps every holder");
    assert_eq!(kinds(&d), vec![(CauseKind::Listener, want + 1, true)]);
    assert_eq!(d.causes[0].sockets.len(), want + 1);
    assert_eq!(d.plan.len(), 1, "{:?}", d.plan);
    assert!(
        !d.remedies.iter().any(|r| r.action == "close_connection"),
        "closing accepted connections never frees a listener's port"
    );
    let text = why_text(&["22002"]);
    assert!(
        text.lines().count() < 40,
        "{} lines:\n{text}",
        text.lines().count()
    );
    assert!(
        text.contains("with 10000 connections it accepted"),
        "{text}"
    );
    let all = why_text(&["22002", "--all"]);
    assert!(all.lines().count() > want, "--all lists every socket");
    drop((helpers, accepted, l));
}

/// A forked worker kept 300 accepted connections after its parent (the listener) died; the
/// clients hung up, so they sit in CLOSE_WAIT.
fn leaky_worker(port: u16, n: usize) -> Holder {
    let l = tcp_listen(&format!("127.0.0.1:{port}"));
    let mut accepted = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..n {
        clients.push(TcpStream::connect(("127.0.0.1", port)).unwrap());
        accepted.push(l.accept().unwrap().0);
    }
    let fds: Vec<&dyn AsFd> = accepted.iter().map(|a| a as &dyn AsFd).collect();
    let worker = hold(&fds);
    drop((l, accepted, clients));
    let ok = wait_until(PATIENCE, || {
        let (_, d) = why(&[&port.to_string()]);
        d.causes
            .first()
            .is_some_and(|c| c.count == n && c.summary.contains("CLOSE-WAIT"))
    });
    assert!(ok, "no CLOSE_WAIT on {port}");
    worker
}

#[test]
fn close_wait_left_by_a_worker_is_one_cause_with_one_remedy() {
    if !private_netns("incident_close_wait") {
        return;
    }
    let worker = leaky_worker(22003, 300);
    let (code, d) = why(&["22003"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(kinds(&d), vec![(CauseKind::Connections, 300, true)]);
    let c = &d.causes[0];
    assert_eq!(c.pids, vec![worker.pid()]);
    assert!(
        c.summary
            .contains("holds 300 CLOSE-WAIT connections on :22003")
            && c.summary.contains("listener is gone"),
        "{}",
        c.summary
    );
    assert_eq!(d.plan.len(), 1);
    let step = &d.plan[0];
    assert_eq!(step.action, "destroy_connections");
    assert!(step.text.contains("all 300 connections"), "{}", step.text);
    assert_eq!(
        step.command,
        "ss -tK state close-wait '( src 127.0.0.1 and sport = :22003 )'"
    );
    let text = why_text(&["22003"]);
    assert!(text.lines().count() < 40, "{text}");
    paste(&step.command);
    assert!(
        binds("0.0.0.0", 22003),
        "the port is free after the printed command"
    );
    drop(worker);
}

#[test]
fn three_hundred_time_wait_fit_on_a_screen_and_can_be_destroyed() {
    if !private_netns("incident_300_tw") {
        return;
    }
    let l = tcp_listen_plain(22004);
    for _ in 0..300 {
        make_time_wait(&l);
    }
    drop(l);
    let (code, d) = why(&["22004"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(kinds(&d), vec![(CauseKind::TimeWait, 300, true)]);
    assert!(d.causes[0].expires_ms.is_some_and(|ms| ms <= 60_000));
    assert!(d.causes[0].summary.contains("300 TIME_WAIT sockets"));
    let text = why_text(&["22004"]);
    assert!(text.lines().count() < 40, "{text}");
    assert!(text.starts_with("IN USE"), "{text}");
    let step = &d.plan[0];
    assert_eq!(step.action, "destroy_time_wait");
    assert_eq!(
        step.command,
        "ss -tK state time-wait '( src 127.0.0.1 and sport = :22004 )'"
    );
    paste(&step.command);
    assert!(
        binds("0.0.0.0", 22004),
        "TIME_WAIT destroyed: the port binds"
    );
}

#[test]
fn a_socket_bound_but_not_listening_is_seen() {
    if !private_netns("incident_bound_inactive") {
        return;
    }
    let fd = tcp_bind("0.0.0.0".parse().unwrap(), 22005, Opts::default()).unwrap();
    let holder = hold(&[&fd.as_fd()]);
    drop(fd);
    let (code, d) = why(&["22005"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(d.holders.len(), 1, "bound-inactive sockets are in the dump");
    assert_eq!(d.holders[0].role, Role::BoundInactive);
    assert_eq!(kinds(&d), vec![(CauseKind::BoundInactive, 1, true)]);
    assert_eq!(d.causes[0].pids, vec![holder.pid()]);
    assert!(d.causes[0].summary.contains("but not listening"));
    assert_eq!(d.plan[0].action, "kill");
    // In the snapshot too: its own state in the table and the JSON.
    let (_, json, _) = run(portscope().args(["snapshot", "--json", "--port", "22005"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["sockets"][0]["state"], "BOUND_INACTIVE", "{json}");
    assert_eq!(v["stats"]["bound_inactive_visible"], true);
    let (_, table, _) = run(portscope().args(["snapshot", "--port", "22005"]));
    assert!(table.contains("BOUND"), "{table}");
    let (_, table, _) = run(portscope().args(["snapshot", "--state", "bound"]));
    assert!(table.contains("0.0.0.0:22005"), "{table}");
}

#[test]
fn a_queued_connection_belongs_to_its_listeners_process() {
    if !private_netns("incident_accept_queue") {
        return;
    }
    let l = tcp_listen("127.0.0.1:22006");
    let holder = hold(&[&l.as_fd()]);
    drop(l);
    let _client = TcpStream::connect("127.0.0.1:22006").unwrap();
    let (_, d) = why(&["22006"]);
    let queued: Vec<_> = d.holders.iter().filter(|h| h.socket.accept_queue).collect();
    assert_eq!(queued.len(), 1, "{:?}", d.holders);
    let s = &queued[0].socket;
    assert!(!s.kernel_held && s.inode == 0);
    assert_eq!(s.owners[0].pid, holder.pid());
    assert_eq!(kinds(&d), vec![(CauseKind::Listener, 2, true)]);
    let text = why_text(&["22006"]);
    assert!(!text.contains("(kernel"), "{text}");
}

#[test]
fn the_thief_plan_reserves_then_closes_and_the_command_pastes() {
    if !private_netns("incident_thief") {
        return;
    }
    let server = tcp_listen("127.0.0.1:22007");
    let client = TcpStream::connect("127.0.0.1:22007").unwrap();
    let thief = hold(&[&client.as_fd()]);
    drop(client);
    let (_accepted, peer) = server.accept().unwrap();
    let port = peer.port().to_string();
    let (_, d) = why(&[&port]);
    let plan: Vec<&str> = d.plan.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(plan, ["reserve", "close_connection", "start_service"]);
    assert_eq!(d.causes[0].kind, CauseKind::Outgoing);
    assert_eq!(d.causes[0].pids, vec![thief.pid()]);
    assert!(
        d.plan[1]
            .command
            .starts_with("ss -tK '( src 127.0.0.1 and sport = :")
    );
    assert!(
        d.plan[2].command.is_empty(),
        "starting the service is no shell command"
    );
    paste(&d.plan[1].command);
    assert!(binds("0.0.0.0", peer.port()));
}

#[test]
fn a_hidden_holders_first_remedy_is_to_look_as_root() {
    if !private_netns("incident_hidden") {
        return;
    }
    let l = tcp_listen("0.0.0.0:22008");
    let _holder = hold(&[&l.as_fd()]);
    drop(l);
    // A copy the other user can reach (the checkout may be under a 0700 home).
    let bin = portscope_for_other_users();
    let (code, out, err) = run(std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin)
        .args(["why", "22008", "--json"])
        .env("HOME", "/tmp"));
    let d: Diagnosis = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    let c = &d.causes[0];
    assert!(c.hidden && c.pids.is_empty(), "{c:?}");
    assert!(c.summary.contains("uid is 0"), "{}", c.summary);
    assert_eq!(c.remedies[0].action, "see_owner");
    assert_eq!(c.remedies[0].command, "sudo portscope why 22008");
    assert_eq!(d.plan[0].action, "see_owner");
}

/// Connections a listener has not accept()ed yet wait in its accept queue: they are called
/// that, never "connections it accepted" (which it serves), and the one process holding the
/// listener is named once, with a verb that agrees.
#[test]
fn queued_connections_are_not_called_accepted() {
    if !private_netns("why_accept_queue") {
        return;
    }
    let l = tcp_listen("0.0.0.0:22010");
    let holder = hold(&[&l]);
    drop(l);
    let clients: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect("127.0.0.1:22010").unwrap())
        .collect();
    let (_, d) = why(&["22010"]);
    let summary = &d.causes[0].summary;
    assert!(
        summary.contains("with 3 connections waiting in its accept queue"),
        "{summary}"
    );
    assert!(!summary.contains("it accepted"), "{summary}");
    assert!(summary.contains(" listens on "), "{summary}");
    drop((clients, holder));
}

/// Stopping what serves remote logins, or the session portscope itself runs in, breaks more
/// than a port: the plan says so beside the step (text and JSON), and still offers it.
#[test]
fn stopping_sshd_or_your_own_session_is_warned_about() {
    if !private_netns("why_what_breaks") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sshd = dir.path().join("sshd");
    copy_executable("/bin/sleep", &sshd);
    let l = tcp_listen("0.0.0.0:22022");
    let holder = spawn_holding(std::process::Command::new(&sshd).arg("600"), &[&l]);
    drop(l);
    let (_, d) = why(&["22022", "--proto", "tcp"]);
    let step = d
        .plan
        .iter()
        .find(|r| r.command.contains(&holder.pid().to_string()));
    let warning = step.and_then(|r| r.warning.clone()).unwrap_or_default();
    assert!(warning.contains("remote logins"), "{:?}", d.plan);
    assert!(why_text(&["22022", "--proto", "tcp"]).contains("warning: sshd"));
    drop(holder);
    // The test process is portscope's parent: stopping it ends the session portscope runs in.
    let own = tcp_listen("0.0.0.0:22023");
    let (_, d) = why(&["22023", "--proto", "tcp"]);
    assert!(
        d.plan
            .iter()
            .any(|r| r.warning.as_deref().is_some_and(|w| w.contains("session"))),
        "{:?}",
        d.plan
    );
    drop(own);
}

/// A resolver on 127.0.0.53:53 (SO_REUSEADDR) and a service that wants 0.0.0.0:53: the probe
/// proves SO_REUSEADDR binds now, so that is the plan, and nothing is killed (killing the
/// resolver is the classic way to break a host's DNS). The kernel then takes the service's bind
/// with the option, beside the resolver.
#[test]
fn an_overlap_that_so_reuseaddr_solves_is_never_a_kill() {
    if !private_netns("why_resolver_overlap") {
        return;
    }
    let resolver = common::sockets::udp_bind_with("127.0.0.53".parse().unwrap(), 53, true).unwrap();
    let holder = hold(&[&resolver]);
    drop(resolver);
    let (code, d) = why(&["53/udp"]);
    assert_eq!(code, 1, "{}", d.explanation);
    let actions: Vec<&str> = d.plan.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["reuseaddr"], "{:?}", d.plan);
    assert!(
        common::sockets::udp_bind_with("0.0.0.0".parse().unwrap(), 53, true).is_ok(),
        "the kernel takes the service's bind with SO_REUSEADDR"
    );
    assert!(
        std::fs::metadata(format!("/proc/{}", holder.pid())).is_ok(),
        "the resolver still runs"
    );
}

/// A prefork server (a master and its workers share the listener): the kill step's text names
/// every process its command signals, never fewer.
#[test]
fn a_kill_step_names_every_pid_its_command_signals() {
    if !private_netns("why_prefork") {
        return;
    }
    let l = tcp_listen("0.0.0.0:22030");
    let workers: Vec<Holder> = (0..4).map(|_| hold(&[&l])).collect();
    drop(l);
    let (_, d) = why(&["22030", "--proto", "tcp"]);
    let kill = d
        .remedies
        .iter()
        .find(|r| r.action.as_str() == "kill")
        .expect("a kill step");
    for w in &workers {
        let pid = w.pid().to_string();
        assert!(kill.command.contains(&pid), "{}", kill.command);
        assert!(
            kill.text.contains(&pid),
            "the text omits {pid}: {}",
            kill.text
        );
    }
    drop(workers);
}

/// `--addr localhost` is a question about each address the name stands for: a service told
/// "localhost" may get 127.0.0.1 or ::1 from its resolver. The blocked one leads; the free one
/// is a line of the answer (JSON `also`). Both come from the kernel's own bind, as the CLI and
/// the engine ask it.
#[test]
fn localhost_is_answered_for_each_of_its_addresses() {
    if !private_netns("incident_localhost") {
        return;
    }
    let v4 = tcp_listen("127.0.0.1:22011");
    let (code, d) = why(&["22011", "--addr", "localhost", "--proto", "tcp"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse), "{:?}", d.also);
    assert_eq!(d.addr.to_string(), "127.0.0.1", "the blocked address leads");
    assert_eq!(d.also.len(), 1, "{:?}", d.also);
    assert_eq!(d.also[0].addr.to_string(), "::1");
    // The kernel agrees: ::1 binds while 127.0.0.1 is held.
    let v6_binds = std::net::TcpListener::bind("[::1]:22011").is_ok();
    assert_eq!(d.also[0].would_bind, v6_binds);
    let text = why_text(&["22011", "--addr", "localhost", "--proto", "tcp"]);
    assert!(
        text.contains("answered for each address the name stands for"),
        "{text}"
    );
    // Without --proto: two addresses by two protocols, the TCP one on 127.0.0.1 leads.
    let (_, d) = why(&["22011", "--addr", "localhost"]);
    assert_eq!(d.also.len(), 3, "{:?}", d.also);
    // A name portscope would have to ask DNS for is refused, one line, exit 2.
    let (code, _, err) = run(portscope().args(["why", "22011", "--addr", "db.invalid"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("asks no DNS server"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    drop(v4);
}
