//! The real binary in a pseudo-terminal inside a private network namespace, driven as a person
//! would: see a helper's listener, filter to it, open the port map and the help, resize to
//! 80x24, ask why a port is taken, quit with status 0.

mod common;

use common::pty::Tui;
use common::*;
use std::os::fd::AsFd;

const ESC: &str = "\x1b";

fn temp_home(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portscope-e2e-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn a_person_finds_a_listener_filters_maps_and_quits() {
    if !private_netns("tui_e2e_flow") {
        return;
    }
    let l = tcp_listen("0.0.0.0:20100");
    let helper = hold(&[&l.as_fd()]);
    drop(l);
    let other = tcp_listen("127.0.0.1:20101");
    let home = temp_home("flow");
    let cfg = home.to_str().expect("utf-8");
    let mut tui = Tui::start(
        &["--interval", "200ms"],
        &[("XDG_CONFIG_HOME", cfg)],
        120,
        35,
    );
    let screen = tui.wait_text("0.0.0.0:20100");
    assert!(screen.contains("Listeners (2)"), "{screen}");
    assert!(
        screen.contains(&helper.pid().to_string()),
        "owner pid shown:\n{screen}"
    );
    assert!(screen.contains("sleep"), "{screen}");

    tui.keys("/20100");
    let screen = tui.wait_text("Listeners (1, filtered)");
    assert!(!screen.contains("127.0.0.1:20101"), "{screen}");
    tui.keys("\r");
    // Enter keeps the filter and leaves editing: the footer shows it beside the key hints.
    tui.wait_for("the kept filter", |t| {
        t.contains("filter: 20100 ") && t.contains("? help")
    });

    tui.keys("3");
    let screen = tui.wait_text("Port map ·");
    assert!(screen.contains("ephemeral 32768-60999"), "{screen}");
    tui.keys("g20100\r");
    tui.wait_text("port 20100: listener");

    tui.keys("?");
    tui.wait_text("Keys (");
    tui.keys(ESC);
    tui.wait_for("help closed", |t| !t.contains("Keys ("));

    tui.resize(80, 24);
    let screen = tui.wait_for("an 80x24 redraw", |t| {
        let lines: Vec<&str> = t.lines().collect();
        // The footer sits on the last row: it is there only after a redraw at the new size.
        lines.len() <= 24
            && lines.iter().any(|l| l.contains("Port map ·"))
            && lines.last().is_some_and(|l| l.contains("q quit"))
    });
    assert!(
        screen.contains("port 20100: listener"),
        "the cursor survived the resize:\n{screen}"
    );

    tui.keys("4");
    tui.keys("20100\r");
    let screen = tui.wait_text("IN USE");
    assert!(screen.contains("listener"), "{screen}");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    drop(other);
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn replay_opens_the_recording_and_bad_input_exits_2() {
    let home = temp_home("replay");
    let cfg = home.to_str().expect("utf-8");
    let mut tui = Tui::start(
        &["--replay", "assets/incident.json"],
        &[("XDG_CONFIG_HOME", cfg)],
        100,
        30,
    );
    let screen = tui.wait_text("kubelet");
    assert!(
        screen.contains("REPLAY") && screen.contains("AT RISK"),
        "{screen}"
    );
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);

    // Bad input never reaches the UI: one line, status 2.
    std::fs::write(home.join("bad.json"), "{\"not\": \"a snapshot\"}").expect("write");
    std::fs::create_dir_all(home.join("portscope")).expect("dir");
    for (args, needle) in [
        (
            vec!["--replay", "/nonexistent.json"],
            "cannot read replay file",
        ),
        (
            vec!["--replay", home.join("bad.json").to_str().unwrap_or("")],
            "is not a portscope snapshot",
        ),
        (vec!["--interval", "0"], "out of range"),
        (vec!["--interval", "soon"], "not a duration"),
    ] {
        let (code, out, err) = run(portscope().args(&args).env("XDG_CONFIG_HOME", cfg));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            out.is_empty() && err.trim_end().lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    for (config, needle) in [
        ("intervall_ms = 5\n", "unknown field"),
        ("[keys]\nquit = [\"?\"]\n", "bound to both"),
        ("[keys]\nexplode = [\"x\"]\n", "unknown command"),
        ("[colors]\nlistener = \"mauve-ish\"\n", "unknown colour"),
    ] {
        std::fs::write(home.join("portscope/config.toml"), config).expect("write config");
        let (code, _, err) = run(portscope()
            .args(["--replay", "assets/incident.json"])
            .env("XDG_CONFIG_HOME", cfg));
        assert_eq!(code, 2, "{config}: {err}");
        assert!(
            err.contains(needle) && err.contains("config.toml"),
            "{config}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(home);
}
