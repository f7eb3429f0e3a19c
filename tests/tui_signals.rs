//! The terminal is given back on every signal that ends portscope: the real binary in a pty
//! receives SIGTERM, SIGHUP, SIGINT and SIGQUIT, and each time leaves the alternate screen,
//! shows the cursor, restores cooked mode and exits with 128 + the signal. SIGTSTP gives the
//! terminal back and stops; SIGCONT takes it again, redraws, and the app keeps working.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::pty::Tui;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const LEAVE_ALT: &str = "\x1b[?1049l";
const ENTER_ALT: &str = "\x1b[?1049h";
const SHOW_CURSOR: &str = "\x1b[?25h";

fn home(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portscope-sig-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn start(test: &str) -> (Tui, std::path::PathBuf) {
    let home = home(test);
    let tui = Tui::start(
        &["--replay", "assets/incident.json"],
        &[("XDG_CONFIG_HOME", home.to_str().expect("utf-8"))],
        100,
        30,
    );
    tui.wait_text("kubelet");
    assert!(!tui.cooked(), "the UI runs in raw mode");
    (tui, home)
}

fn state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
        .unwrap_or('?')
}

#[test]
fn every_terminating_signal_restores_the_terminal_and_exits_128_plus_it() {
    for sig in [
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ] {
        let (mut tui, home) = start(&format!("{sig:?}").to_lowercase());
        let mark = tui.written();
        kill(Pid::from_raw(tui.pid()), sig).expect("kill");
        let code = tui.exit_code();
        assert_eq!(code, 128 + sig as u32, "{sig:?}");
        // The process has exited; the pty reader may not have drained its last bytes yet
        // (on a busy machine it runs later): wait for them, with a deadline.
        tui.wait_written(mark, &[LEAVE_ALT, SHOW_CURSOR]);
        assert!(tui.cooked(), "{sig:?}: raw mode left on");
        let _ = std::fs::remove_dir_all(home);
    }
}

#[test]
fn quitting_restores_the_terminal() {
    let (mut tui, home) = start("quit");
    let mark = tui.written();
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    tui.wait_written(mark, &[LEAVE_ALT, SHOW_CURSOR]);
    assert!(tui.cooked());
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn sigtstp_gives_the_terminal_back_and_sigcont_takes_it_again() {
    let (mut tui, home) = start("tstp");
    let pid = tui.pid();
    let mark = tui.written();
    kill(Pid::from_raw(pid), Signal::SIGTSTP).expect("SIGTSTP");
    tui.wait_written(mark, &[LEAVE_ALT, SHOW_CURSOR]);
    assert!(
        common::wait_until(common::PATIENCE, || state(pid) == 'T'),
        "portscope stopped"
    );
    assert!(tui.cooked(), "cooked mode while stopped");
    assert!(!tui.text().contains("kubelet"), "the main screen is back");

    let mark = tui.written();
    kill(Pid::from_raw(pid), Signal::SIGCONT).expect("SIGCONT");
    tui.wait_written(mark, &[ENTER_ALT]);
    tui.wait_text("kubelet");
    assert!(!tui.cooked(), "raw mode again");
    assert_ne!(state(pid), 'T');

    // Still working: keys are read and drawn.
    tui.keys("2");
    tui.wait_text("Connections (");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    assert!(tui.cooked());
    let _ = std::fs::remove_dir_all(home);
}
