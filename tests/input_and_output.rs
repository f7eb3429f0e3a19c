//! Bad input is refused with one line and status 2; a failed write is portscope's failure
//! (status 1), and a reader that went away (`| head`) gets no complaint. The config file cannot
//! lock the user in, and the keys it binds fire.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::pty::Tui;
use common::*;
use std::process::Stdio;

fn temp_home(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portscope-io-{test}-{}", std::process::id()));
    std::fs::create_dir_all(d.join("portscope")).expect("temp dir");
    d
}

#[test]
fn addresses_that_would_be_guessed_at_are_refused_naming_them() {
    for addr in [
        "[::1",
        "::1]",
        "::1:80",
        "127.0.0.1:80",
        "[127.0.0.1]",
        "[::1]:80",
    ] {
        let (code, out, err) = run(portscope().args(["why", "80", "--addr", addr]));
        assert_eq!(code, 2, "{addr}: {err}");
        assert!(out.is_empty(), "{addr}: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{addr}: {err}");
        assert!(err.contains(&format!("{addr:?}")), "{addr}: {err}");
    }
}

#[test]
fn a_full_disk_is_a_failure_not_bad_input() {
    if !std::path::Path::new("/dev/full").exists() {
        skip_note!("SKIPPED full_disk: no /dev/full");
        return;
    }
    for args in [
        &["snapshot"][..],
        &["snapshot", "--json"][..],
        &["why", "20999", "--json"][..],
        &["why", "20999"][..],
        &["reserve", "status"][..],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let (code, _, err) = run(portscope().args(args).stdout(full));
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("cannot write output"), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [&["snapshot"][..], &["why", "20999"][..]] {
        // As `portscope snapshot | head` after head has exited: the read end is already closed.
        let (read, write) = nix::unistd::pipe().expect("pipe");
        drop(read);
        let (code, _, err) = run(portscope()
            .args(args)
            .stdout(Stdio::from(write))
            .stderr(Stdio::piped()));
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: no message for EPIPE: {err}");
    }
}

#[test]
fn the_config_cannot_lock_the_user_in_and_checks_the_interval() {
    let home = temp_home("config");
    let cfg = home.to_str().expect("utf-8");
    for (config, needle) in [
        ("[keys]\nquit = []\n", "no way out"),
        ("[keys]\nback = []\n", "no way out"),
        ("[keys]\nquit = [\"ctrl-enter\"]\n", "cannot be sent"),
        ("[keys]\nhelp = [\"ctrl-i\"]\n", "as tab"),
        ("interval_ms = 10\n", "out of range"),
        ("interval_ms = 0\n", "out of range"),
        ("interval_ms = 3600001\n", "out of range"),
    ] {
        std::fs::write(home.join("portscope/config.toml"), config).expect("write config");
        let (code, out, err) = run(portscope()
            .args(["--replay", "assets/incident.json"])
            .env("XDG_CONFIG_HOME", cfg));
        assert_eq!(code, 2, "{config}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{config}: {err}");
        assert!(
            err.contains(needle) && err.contains("config.toml"),
            "{config}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn ctrl_q_bound_to_quit_fires_even_inside_a_field() {
    let home = temp_home("ctrlq");
    std::fs::write(
        home.join("portscope/config.toml"),
        "[keys]\nquit = [\"ctrl-Q\"]\n",
    )
    .expect("write config");
    let mut tui = Tui::start(
        &["--replay", "assets/incident.json"],
        &[("XDG_CONFIG_HOME", home.to_str().expect("utf-8"))],
        100,
        30,
    );
    let screen = tui.wait_text("kubelet");
    assert!(
        screen.contains("ctrl-q quit"),
        "the footer names it:\n{screen}"
    );
    // Inside the filter field, where q would be typed: ctrl-q still quits.
    tui.keys("/ngi");
    tui.wait_text("filter: ngi");
    tui.keys("\x11");
    assert_eq!(tui.exit_code(), 0);
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn the_why_field_refuses_an_ambiguous_address() {
    let home = temp_home("whyfield");
    let mut tui = Tui::start(
        &["--replay", "assets/incident.json"],
        &[("XDG_CONFIG_HOME", home.to_str().expect("utf-8"))],
        120,
        35,
    );
    tui.wait_text("kubelet");
    tui.keys("4e::1:80\r");
    tui.wait_text("write an IPv6 address and port as [::1]:8080");
    tui.keys("\x1bq");
    assert_eq!(tui.exit_code(), 0);
    let _ = std::fs::remove_dir_all(home);
}
