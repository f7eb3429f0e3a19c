//! A listener left to a process that never opened it: a script's `sleep` that kept the fd of
//! a listener its parent bound, the parent gone. why names the inheritance and the fd.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::why_json as why;
use common::*;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

/// The orphan, killed on drop (it is no child of ours to reap).
struct Orphan(i32);

impl Drop for Orphan {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn a_listener_left_to_an_orphan_is_said_to_be_inherited_with_its_fd() {
    if !private_netns("why_inherited") {
        return;
    }
    let l = tcp_listen("0.0.0.0:22040");
    let fd = l.as_raw_fd();
    // The shell stands for the parent that bound the port: it starts sleep in the background
    // (which keeps the fd) and exits, so the kernel gives sleep to PID 1.
    let mut sh = spawn_holding(
        Command::new("sh")
            .args(["-c", "sleep 600 </dev/null >/dev/null 2>&1 & echo $!"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
        &[&l],
    );
    let mut out = String::new();
    sh.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    sh.child.wait().unwrap();
    let orphan = Orphan(out.trim().parse().unwrap());
    drop(l);
    // sh has been reaped: the kernel reparented sleep when sh exited, before that.
    let (code, d) = why(&["22040", "--proto", "tcp"]);
    assert_eq!(code, 1, "{}", d.explanation);
    let want = format!(
        "inherited from a process that exited; sleep (pid {}) holds it as fd {fd}",
        orphan.0
    );
    assert!(d.causes[0].summary.contains(&want), "{:?}", d.causes);
    let (_, text, _) = run(portscope().args(["why", "22040", "--proto", "tcp"]));
    assert!(text.contains("inherited from a process"), "{text}");
    assert!(text.contains(&format!("fd {fd}")), "{text}");
    drop(orphan);

    // The same listener held by a sleep whose parent (this test) still runs: nothing is said.
    let l = tcp_listen("0.0.0.0:22041");
    let held = hold(&[&l]);
    drop(l);
    let (_, d) = why(&["22041", "--proto", "tcp"]);
    assert!(
        d.causes.iter().all(|c| !c.summary.contains("inherited")),
        "{:?}",
        d.causes
    );
    drop(held);
}
