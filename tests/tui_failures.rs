//! The Failures view, driven as a person would: open it (the recorder starts then), watch a
//! refused bind appear with its caller, open its why at that moment; and the same view read from
//! a recorder's log named in the config.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::pty::Tui;
use common::sockets::{Opts, tcp_bind, tcp_listen_with};
use common::*;

fn home(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portscope-fail-{test}-{}", std::process::id()));
    std::fs::create_dir_all(d.join("portscope")).unwrap();
    d
}

#[test]
fn a_refused_bind_appears_live_and_enter_shows_its_why_then() {
    let test = "a_refused_bind_appears_live_and_enter_shows_its_why_then";
    if !private_netns(test) {
        return;
    }
    let h = home("live");
    let mut tui = Tui::start(
        &["--interval", "500ms"],
        &[("XDG_CONFIG_HOME", h.to_str().unwrap())],
        120,
        35,
    );
    tui.wait_text("Listeners");
    tui.keys("5");
    let screen = tui.wait_for("the recorder's state", |s| {
        s.contains("live: every refused") || s.contains("cannot record")
    });
    if !screen.contains("live: every refused") {
        skip(
            test,
            &format!("the recorder could not start here:\n{screen}"),
        );
        return;
    }
    let port = 47931;
    let _l = tcp_listen_with("127.0.0.1".parse().unwrap(), port, Opts::default());
    assert!(tcp_bind("0.0.0.0".parse().unwrap(), port, Opts::default()).is_err());
    let needle = format!("tcp 0.0.0.0:{port}");
    let screen = tui.wait_text(&needle);
    let row = screen.lines().find(|l| l.contains(&needle)).unwrap();
    assert!(row.contains("EADDRINUSE"), "{row}");
    assert!(
        row.contains(&format!("({})", std::process::id())),
        "the caller: {row}"
    );
    // The newest is on top and selected: Enter opens its why as it was then.
    tui.keys("\r");
    let dialog = tui.wait_text("Why bind() was refused at");
    assert!(
        dialog.contains(&format!("port {port} is held by")),
        "{dialog}"
    );
    assert!(dialog.contains("LISTEN"), "{dialog}");
    assert!(
        dialog.contains(&format!("portscope why {port}/tcp")),
        "{dialog}"
    );
    tui.keys("\x1b");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
}

#[test]
fn the_view_reads_a_recorders_log_named_in_the_config() {
    let test = "the_view_reads_a_recorders_log_named_in_the_config";
    if !private_netns(test) {
        return;
    }
    let h = home("log");
    let log = h.join("failures.log");
    let refusal: portscope::watch::failures::Refusal = serde_json::from_value(serde_json::json!({
        "time": "2026-12-07T03:12:05Z", "call": "connect", "errno": "EADDRNOTAVAIL",
        "pid": 811, "tid": 811, "comm": "worker\u{1b}[31m", "uid": 0, "user": "root",
        "why": "no local port left toward 10.0.0.5:5432: 28232 of 28232 usable ports in use",
        "request": {"family": "ipv4", "address": "10.0.0.5", "port": 5432, "proto": "tcp",
                    "options": {"known": false}},
    }))
    .unwrap();
    {
        let mut rec = portscope::history::Recorder::open_as(&log, "recorder", &[]).unwrap();
        rec.append_refusal(&refusal).unwrap();
    }
    std::fs::write(
        h.join("portscope/config.toml"),
        format!("[recorder]\nlog = \"{}\"\n", log.display()),
    )
    .unwrap();
    let mut tui = Tui::start(
        &["--interval", "500ms"],
        &[("XDG_CONFIG_HOME", h.to_str().unwrap())],
        120,
        35,
    );
    tui.wait_text("Listeners");
    tui.keys("5");
    let screen = tui.wait_text("tcp 10.0.0.5:5432");
    assert!(screen.contains("from the recorder's log"), "{screen}");
    assert!(screen.contains("EADDRNOTAVAIL"), "{screen}");
    // The caller's name is escaped, never sent to the terminal as a control sequence.
    assert!(screen.contains("worker\\e[31m"), "{screen}");
    // A refusal appended later shows up without a restart.
    {
        let mut r2 = refusal.clone();
        r2.request.as_mut().unwrap().port = 5433;
        let mut rec = portscope::history::Recorder::open_as(&log, "recorder", &[]).unwrap();
        rec.append_refusal(&r2).unwrap();
    }
    tui.wait_text("tcp 10.0.0.5:5433");
    tui.keys("\r");
    let dialog = tui.wait_text("Why connect() was refused at");
    assert!(dialog.contains("portscope history"), "{dialog}");
    tui.keys("\x1bq");
    assert_eq!(tui.exit_code(), 0);
}
