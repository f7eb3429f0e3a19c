//! `portscope --record FILE` in a pseudo-terminal: the live TUI's changes land in a history log
//! that `history --at` and `--replay` read back.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::pty::Tui;
use common::*;
use std::os::fd::AsFd;

fn history_pids(log: &std::path::Path, port: u16, at: &str) -> Vec<u64> {
    let (code, out, err) = run(portscope().args([
        "history",
        log.to_str().unwrap(),
        "--port",
        &port.to_string(),
        "--at",
        at,
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["owners"].as_array().cloned().unwrap_or_default())
        .map(|o| o["pid"].as_u64().unwrap())
        .collect()
}

#[test]
fn the_tui_records_take_release_take_by_another() {
    if !private_netns("tui_record") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tui.log");
    let home = dir.path().to_str().unwrap().to_string();
    let port = 20310;
    let l = tcp_listen(&format!("0.0.0.0:{port}"));
    let a = hold(&[&l.as_fd()]);
    drop(l);
    let mut tui = Tui::start(
        &["--interval", "100ms", "--record", log.to_str().unwrap()],
        &[("XDG_CONFIG_HOME", &home)],
        120,
        35,
    );
    tui.wait_text(&format!("0.0.0.0:{port}"));
    let t_a = jiff::Timestamp::now();
    let a_pid = a.pid();
    drop(a);
    tui.wait_for("the listener gone", |t| {
        !t.contains(&format!("0.0.0.0:{port}"))
    });
    let t_gap = jiff::Timestamp::now();
    let l = tcp_listen(&format!("0.0.0.0:{port}"));
    let b = hold(&[&l.as_fd()]);
    drop(l);
    tui.wait_text(&format!("0.0.0.0:{port}"));
    let t_b = jiff::Timestamp::now();
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    assert!(wait_until(PATIENCE, || log.exists()));
    assert_eq!(
        history_pids(&log, port, &t_a.to_string()),
        vec![u64::from(a_pid)]
    );
    assert_eq!(
        history_pids(&log, port, &t_gap.to_string()),
        Vec::<u64>::new()
    );
    assert_eq!(
        history_pids(&log, port, &t_b.to_string()),
        vec![u64::from(b.pid())]
    );

    // --replay opens the recording (at its end: B holds the port).
    let mut replay = Tui::start(
        &["--replay", log.to_str().unwrap()],
        &[("XDG_CONFIG_HOME", &home)],
        120,
        35,
    );
    let screen = replay.wait_text(&format!("0.0.0.0:{port}"));
    assert!(screen.contains(&b.pid().to_string()), "{screen}");
    replay.keys("q");
    assert_eq!(replay.exit_code(), 0);
}
