//! `--all-netns` against `nsenter ... ss`, namespace by namespace and socket by socket, over
//! real namespaces: some held by processes, one held only by a bind mount.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use nix::sched::{CloneFlags, unshare};
use portscope::model::{Proto, Snapshot, State};
use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;

/// A network namespace with `n` TCP listeners, 2 UDP sockets and one bound-but-not-listening
/// TCP socket, held by a sleeping child: inside the namespace, or (`inside` false) in the test's
/// own namespace, with an nsfs fd on the namespace for the caller to pin it.
struct Ns {
    holder: Holder,
    inode: u64,
    bound_port: u16,
    nsfd: Option<std::fs::File>,
}

fn make_ns(base: u16, n: u16, inside: bool) -> Ns {
    let (fds, inode, nsfd, bound_port) = std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare");
        assert!(
            run(Command::new("ip").args(["link", "set", "lo", "up"])).0 == 0,
            "lo up"
        );
        let mut fds: Vec<OwnedFd> = Vec::new();
        for i in 0..n {
            let addr = if i % 2 == 0 { "0.0.0.0" } else { "127.0.0.1" };
            fds.push(tcp_listen(&format!("{addr}:{}", base + i)).into());
        }
        fds.push(tcp_listen(&format!("[::]:{}", base + n)).into());
        fds.push(udp_bind(&format!("0.0.0.0:{}", base + n + 1)).into());
        fds.push(udp_bind(&format!("[::1]:{}", base + n + 2)).into());
        // Bound, never listening: bind() on its port fails, yet `ss -l` does not show it.
        let bound_port = base + n + 3;
        let sock = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Stream,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )
        .expect("socket");
        nix::sys::socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            &nix::sys::socket::SockaddrIn::new(127, 0, 0, 1, bound_port),
        )
        .expect("bind");
        fds.push(sock);
        let nsfd = std::fs::File::open("/proc/thread-self/ns/net").expect("nsfd");
        let inode = std::os::unix::fs::MetadataExt::ino(&nsfd.metadata().expect("stat"));
        if inside {
            let refs: Vec<&dyn AsFd> = fds.iter().map(|f| f as &dyn AsFd).collect();
            (Err(hold(&refs)), inode, None, bound_port)
        } else {
            (Ok(fds), inode, Some(nsfd), bound_port)
        }
    })
    .join()
    .expect("namespace thread");
    let holder = match fds {
        Err(h) => h,
        Ok(fds) => {
            let refs: Vec<&dyn AsFd> = fds.iter().map(|f| f as &dyn AsFd).collect();
            hold(&refs)
        }
    };
    Ns {
        holder,
        inode,
        bound_port,
        nsfd,
    }
}

/// `(proto, port, inode)` of every listener `ss` shows inside the namespace.
fn ss_listeners(nsenter: &[&str]) -> BTreeSet<(Proto, u16, u64)> {
    let mut args: Vec<&str> = nsenter.to_vec();
    args.extend(["ss", "-Htlnue"]);
    let (code, out, err) = run(Command::new("nsenter").args(&args));
    assert_eq!(code, 0, "nsenter ss: {err}");
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let proto: Proto = f[0].parse().expect("netid");
            let port = f[4]
                .rsplit_once(':')
                .expect("local")
                .1
                .parse()
                .expect("port");
            let ino = f
                .iter()
                .find_map(|w| w.strip_prefix("ino:"))
                .expect("ino")
                .parse()
                .expect("ino");
            (proto, port, ino)
        })
        .collect()
}

fn ps_listeners(snap: &Snapshot, inode: u64) -> BTreeSet<(Proto, u16, u64)> {
    snap.sockets
        .iter()
        .filter(|s| s.netns == inode && s.is_listening())
        .map(|s| (s.proto, s.local_port, s.inode))
        .collect()
}

#[test]
fn all_netns_matches_ss_in_every_namespace() {
    if !private_netns("allns_matches_ss") {
        return;
    }
    let a = make_ns(22000, 5, true);
    let b = make_ns(22100, 9, true);
    // c has no process inside: its sockets are held from the test's namespace, and only a bind
    // mount (in a private mount namespace) names it, as `ip netns add` or docker's sandbox files
    // do. The test's own nsfs fd on it is closed before portscope looks.
    let mut c = make_ns(22200, 3, false);
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("netns");
    std::fs::create_dir(&dir).expect("netns dir");
    let pin = dir.join("blue");
    std::fs::write(&pin, "").expect("mount point");
    let nsfd = c.nsfd.take().expect("nsfd");
    let script = format!(
        "mount --bind /proc/{me}/fd/{fd} {pin} && echo ready && read x && \
         {bin} snapshot --all-netns --bound-inactive --json > {out}/snap.json && \
         nsenter --net={pin} ss -Htlnue > {out}/ss.txt",
        me = std::process::id(),
        fd = std::os::fd::AsRawFd::as_raw_fd(&nsfd),
        pin = pin.display(),
        bin = env!("CARGO_BIN_EXE_portscope"),
        out = tmp.path().display(),
    );
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("unshare")
    };
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut ready,
    )
    .expect("ready");
    assert_eq!(ready.trim(), "ready", "bind mount failed");
    drop(nsfd);
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"go\n").expect("go");
    assert!(
        child.wait().expect("wait").success(),
        "snapshot in the mount namespace"
    );
    let c_inode = c.inode;
    let c_bound = c.bound_port;
    let c_holder = c.holder.pid();
    let snap: Snapshot =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("snap.json")).expect("json"))
            .expect("snapshot json");
    let blue = snap
        .namespaces
        .iter()
        .find(|n| n.inode == c_inode)
        .expect("the mount-only namespace is listed");
    assert_eq!(blue.label, "netns: blue");
    assert_eq!(blue.pid, None, "no process inside");
    let ss_blue: BTreeSet<(Proto, u16, u64)> = std::fs::read_to_string(tmp.path().join("ss.txt"))
        .expect("ss")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().expect("netid"),
                f[4].rsplit_once(':')
                    .expect("local")
                    .1
                    .parse()
                    .expect("port"),
                f.iter()
                    .find_map(|w| w.strip_prefix("ino:"))
                    .expect("ino")
                    .parse()
                    .expect("ino"),
            )
        })
        .collect();
    assert_eq!(ps_listeners(&snap, c_inode), ss_blue, "namespace blue");
    assert_eq!(ss_blue.len(), 3 + 3, "3 listeners, [::], 2 UDP");
    assert!(
        snap.sockets.iter().any(|s| s.netns == c_inode
            && s.local_port == c_bound
            && s.state == State::BoundInactive),
        "bound-but-inactive socket seen"
    );
    // Held from another namespace: the owner is still found.
    assert!(
        snap.sockets
            .iter()
            .filter(|s| s.netns == c_inode)
            .all(|s| s.owners.iter().any(|o| o.pid == c_holder))
    );
    drop(c);

    // Fresh snapshot for the process-held namespaces, compared with ss inside each.
    let (code, out, err) = run(portscope().args(["snapshot", "--all-netns", "--json"]));
    assert_eq!(code, 0, "{err}");
    let snap: Snapshot = serde_json::from_str(&out).expect("json");
    for ns in [&a, &b] {
        let pid = ns.holder.pid().to_string();
        let want = ss_listeners(&["-t", &pid, "-n"]);
        assert_eq!(
            ps_listeners(&snap, ns.inode),
            want,
            "namespace of pid {pid}"
        );
        assert!(!want.is_empty());
        let summary = snap
            .namespaces
            .iter()
            .find(|n| n.inode == ns.inode)
            .expect("listed");
        assert!(!summary.full, "out of focus: listeners only");
        assert!(
            !snap
                .sockets
                .iter()
                .any(|s| s.netns == ns.inode && s.state == State::BoundInactive),
            "bound-inactive sockets only with --bound-inactive (each dump walks the bind hash)"
        );
        assert!(summary.label.contains(&pid), "{}", summary.label);
        // Owners: the holder process.
        assert!(
            snap.sockets
                .iter()
                .filter(|s| s.netns == ns.inode && s.is_listening())
                .all(|s| s.owners.iter().any(|o| o.pid == ns.holder.pid()))
        );
    }
    assert!(
        snap.namespaces.iter().all(|n| n.inode != c_inode),
        "gone once its mount went away"
    );
    // The text form has a namespace column.
    let (code, out, _) =
        run(portscope().args(["snapshot", "--all-netns", "-l", "--port", "22100"]));
    assert_eq!(code, 0);
    assert!(out.starts_with("Netns"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("pid {} (sleep)", b.holder.pid()))),
        "{out}"
    );
}

#[test]
fn pool_closes_sockets_of_namespaces_that_went_away() {
    if !private_netns("allns_pool_closes") {
        return;
    }
    let own_before = std::fs::read_link("/proc/self/ns/net").expect("own ns");
    let here_before = std::fs::read_link("/proc/thread-self/ns/net").expect("thread ns");
    let ns = make_ns(22300, 2, true);
    let opts = portscope::collect::allns::AllNetnsOptions {
        only: vec![ns.inode],
        skip_owners: true,
        ..Default::default()
    };
    let snap = portscope::collect::allns::collect_all(&opts).expect("collect");
    assert_eq!(
        snap.sockets
            .iter()
            .filter(|s| s.netns == ns.inode && s.is_listening())
            .count(),
        2 + 3
    );
    assert!(portscope::collect::allns::pooled() >= 1);
    let pid = ns.holder.pid();
    drop(ns);
    assert!(wait_until(PATIENCE, || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }));
    let snap = portscope::collect::allns::collect_all(&opts).expect("collect");
    assert!(snap.sockets.iter().all(|s| s.netns == snap.netns.inode));
    // Only the calling thread's own namespace is left in the pool: the dead one was closed.
    assert_eq!(portscope::collect::allns::pooled(), 1);
    // setns never ran on this thread or the main thread.
    assert_eq!(
        std::fs::read_link("/proc/self/ns/net").expect("own"),
        own_before
    );
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").expect("thread"),
        here_before
    );
}

/// A one-shot read of every namespace keeps one sock_diag socket open at a time: with 24 file
/// descriptors (as with `ulimit -n 1024` on a host with 1,500 namespaces, which the TUI's kept
/// sockets would exceed), `why --all-netns` and `snapshot --all-netns` still read all 40. How an
/// unread namespace is named with its fix is unit-tested with `unread_warnings`.
#[test]
fn namespaces_that_cannot_be_read_are_named_with_the_fix() {
    if !private_netns("allns_unread") {
        return;
    }
    let held: Vec<Ns> = (0..40).map(|i| make_ns(23000 + i * 10, 1, true)).collect();
    let limited = |args: &[&str]| {
        let mut c = Command::new("prlimit");
        c.args(["--nofile=24:24", env!("CARGO_BIN_EXE_portscope")])
            .args(args);
        run(&mut c)
    };
    let (_, out, err) = limited(&["why", "23000", "--all-netns", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect(&err);
    assert_eq!(v["unread_netns"], serde_json::json!([]), "{out}");
    let (_, out, err) = limited(&["snapshot", "--all-netns", "--listening", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect(&err);
    let namespaces = v["namespaces"].as_array().expect("namespaces");
    assert!(namespaces.len() > 40, "{out}");
    assert!(
        namespaces.iter().all(|n| n["error"].is_null()),
        "every namespace read: {out}"
    );
    // With the limit portscope sets itself (soft raised to hard), every namespace is read.
    let (_, out, err) = run(portscope().args(["why", "23000", "--all-netns", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).expect(&err);
    assert_eq!(v["unread_netns"], serde_json::json!([]), "{out}");
    drop(held);
}
