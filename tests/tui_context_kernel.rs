//! The TUI's process-context read against the real kernel: in a private network namespace a
//! `sleep` with a lowered RLIMIT_NOFILE holds a listener; opening its detail pane yields the
//! read effect, which, carried out as the runtime carries it out, fills the pane with that
//! process's open fds (as /proc lists them) against its limit.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::{SPAWN_LOCK, private_netns, wait_until};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use portscope::tui::app::{App, Effect, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// Kills and reaps the child on every way out of the test.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const LIMIT: u64 = 57;

#[test]
fn the_read_effect_fills_the_detail_pane_with_the_processes_fds_and_limit() {
    if !private_netns("tui_context_kernel") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        fcntl(listener.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
        // exec: the sleep is the shell's process, with the shell's lowered limit and the socket.
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!("ulimit -n {LIMIT} && exec sleep 600"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        fcntl(listener.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        Reaped(child)
    };
    let pid = child.0.id();
    assert!(
        wait_until(common::PATIENCE, || {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c == "sleep\n")
        }),
        "bash did not exec sleep"
    );
    drop(listener);

    let snap = Arc::new(portscope::collect::collect(&Default::default()).expect("collect"));
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys(&format!("/{port}\n"));
    assert_eq!(
        app.selected_socket().map(|s| s.local_port),
        Some(port),
        "the listener's row"
    );
    let effects = app.type_keys("\n");
    let req = effects
        .iter()
        .find_map(|e| match e {
            Effect::ReadProcesses(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no read effect: {effects:?}"));
    assert_eq!(req.owners.iter().map(|o| o.pid).collect::<Vec<_>>(), [pid]);

    // As the runtime does it (on its own thread).
    let answer =
        std::thread::spawn(move || portscope::tui::runtime::read_processes(&req, &Clock::system()))
            .join()
            .unwrap();
    // The kernel's own list of the process's fds, read after the answer (nothing opens more).
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    app.update(answer);

    let text = buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::system(),
        120,
        35,
    ));
    assert!(
        text.contains(&format!("Process sleep (pid {pid})")),
        "{text}"
    );
    assert!(text.contains("sleep 600"), "{text}");
    let percent = open as u64 * 100 / LIMIT;
    assert!(
        text.contains(&format!("{open}/{LIMIT} ({percent}%)")),
        "fds {open} of {LIMIT} not shown: {text}"
    );
    assert!(
        text.contains(&format!("127.0.0.1:{port} 0 queued")),
        "{text}"
    );
    // Its parent is this test (bash exec'd the sleep): the chain names it by pid.
    let parent = format!(" ({}", std::process::id());
    assert!(text.contains(&parent), "no parent {parent}: {text}");
}
