//! The real binary in a pseudo-terminal inside a private network namespace, driven as a person
//! would: see a helper's listener, filter to it, open the port map and the help, resize to
//! 80x24, ask why a port is taken, quit with status 0.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

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

/// The incident recording opened with `--replay` in a `cols`x`rows` terminal, with a config
/// home of its own, once its first screen is drawn.
fn replay(test: &str, cols: u16, rows: u16) -> (Tui, std::path::PathBuf) {
    let home = temp_home(test);
    let cfg = home.to_str().expect("utf-8");
    let tui = Tui::start(
        &["--replay", "assets/incident.json"],
        &[("XDG_CONFIG_HOME", cfg)],
        cols,
        rows,
    );
    tui.wait_text("kubelet");
    (tui, home)
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
    // Enter on the row: the holder's context, read off the UI thread, arrives in the pane.
    tui.keys("\r");
    let screen = tui.wait_for("the holder's context in the detail pane", |t| {
        t.contains("started") && t.contains("fds ")
    });
    assert!(
        screen.contains(&format!("Process sleep (pid {})", helper.pid())),
        "{screen}"
    );
    tui.keys("q");
    tui.wait_for("the pane closed", |t| !t.contains("Details ("));

    tui.keys("3");
    // The title can arrive before the rest of the frame: wait for the whole answer.
    tui.wait_for("the port map with its legend", |t| {
        t.contains("Port map ·") && t.contains("ephemeral 32768-60999")
    });
    tui.keys(":20100\r");
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

    tui.keys("4e");
    tui.keys("20100\r");
    let screen = tui.wait_text("IN USE");
    assert!(screen.contains("listens on 0.0.0.0:20100"), "{screen}");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    drop(other);
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn replay_opens_the_recording_and_bad_input_exits_2() {
    let (mut tui, home) = replay("replay", 100, 30);
    let cfg = home.to_str().expect("utf-8");
    let screen = tui.text();
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
            "replay file /nonexistent.json cannot be read",
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

/// Connections of the incident recording folded by process, one group unfolded and folded
/// again with the arrow key, as the real binary draws them in a terminal.
#[test]
fn a_person_groups_connections_and_unfolds_one() {
    let (mut tui, home) = replay("groups", 100, 30);
    tui.keys("2");
    tui.wait_text("Connections (124)");
    // Each frame is one synchronized update: a terminal (and this test) never shows half of one.
    let bytes = tui.written_since(0);
    assert!(
        bytes.contains("\x1b[?2026h") && bytes.contains("\x1b[?2026l"),
        "frames are drawn as synchronized updates"
    );
    tui.keys("f");
    let screen = tui.wait_text("7 groups by process");
    assert!(
        screen.contains("▸ legacy-crm (pid 14470) · 25 conns · 25 CW"),
        "{screen}"
    );
    tui.keys("gj\r");
    let screen = tui.wait_text("▾ legacy-crm");
    assert!(
        screen.contains("CLOSE-WAIT 127.0.0.1:7000"),
        "members under the group: {screen}"
    );
    tui.keys("j\x1b[D");
    let screen = tui.wait_text("▸ legacy-crm");
    assert!(!screen.contains("CLOSE-WAIT 127.0.0.1:7000"), "{screen}");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    let _ = std::fs::remove_dir_all(home);
}

fn reserved_now() -> String {
    common::reserve::runtime()
}

#[test]
fn a_person_kills_closes_reserves_and_undoes_with_confirmation() {
    if !private_netns("tui_e2e_actions") {
        return;
    }
    let home = temp_home("actions");
    let data = home.join("data");
    let sysctl_dir = home.join("sysctl.d");
    std::fs::create_dir_all(&sysctl_dir).expect("sysctl dir");
    // A helper process listening on 20300; an outgoing connection held by another; a listener
    // of our own on 40300 (inside the ephemeral range) to reserve.
    let l = tcp_listen("0.0.0.0:20300");
    let mut victim = hold(&[&l.as_fd()]);
    drop(l);
    let server = tcp_listen("127.0.0.1:20301");
    let client = std::net::TcpStream::connect("127.0.0.1:20301").expect("connect");
    let client_port = client.local_addr().expect("addr").port();
    let mut thief = hold(&[&client.as_fd()]);
    drop(client);
    let (_accepted, _) = server.accept().expect("accept");
    let at_risk = tcp_listen("0.0.0.0:40300");
    let dir_arg = sysctl_dir.to_str().expect("utf-8").to_string();
    let mut tui = Tui::start(
        &["--interval", "300ms", "--sysctl-dir", &dir_arg],
        &[
            ("XDG_CONFIG_HOME", home.to_str().expect("utf-8")),
            ("XDG_DATA_HOME", data.to_str().expect("utf-8")),
        ],
        120,
        35,
    );
    tui.wait_text("0.0.0.0:20300");

    // K, n: nothing happens.
    tui.keys("/20300\r");
    tui.wait_for("the kept filter", |t| {
        t.contains("filter: 20300 ") && t.contains("? help")
    });
    tui.keys("K");
    let screen = tui.wait_text("Send SIGTERM to sleep");
    assert!(
        screen.contains(&format!("pid {}", victim.pid())),
        "{screen}"
    );
    tui.keys("n");
    tui.wait_text("cancelled: nothing was done");
    assert!(
        victim.child.try_wait().expect("try_wait").is_none(),
        "n must not signal"
    );

    // K, y: the process exits, and portscope says the port is free.
    tui.keys("K");
    tui.wait_text("Send SIGTERM to sleep");
    // y is taken once the dialog has been up long enough to read.
    tui.wait_text("yes, do it");
    tui.keys("y");
    let screen = tui.wait_text("Done: SIGTERM sleep");
    assert!(
        screen.contains("exited") && screen.contains("port 20300 is free now"),
        "{screen}"
    );
    assert!(wait_until(PATIENCE, || {
        victim.child.try_wait().is_ok_and(|s| s.is_some())
    }));
    tui.keys(ESC);
    tui.wait_for("the outcome closed", |t| !t.contains("Done: SIGTERM"));

    // D, y on the outgoing connection: it closes, its process lives on.
    tui.keys("2");
    tui.keys(&format!("/outgoing {client_port}\r"));
    tui.wait_for("the connection row", |t| {
        t.contains(&format!("127.0.0.1:{client_port}")) && t.contains("auto")
    });
    tui.keys("D");
    tui.wait_text("SOCK_DESTROY?");
    // y is taken once the dialog has been up long enough to read.
    tui.wait_text("yes, do it");
    tui.keys("y");
    let screen = tui.wait_text("Done: close");
    assert!(
        screen.contains(&format!("port {client_port} is released")),
        "{screen}"
    );
    assert!(
        thief.child.try_wait().expect("try_wait").is_none(),
        "the client lives on"
    );
    let gone = portscope::collect::collect(&Default::default())
        .expect("snapshot")
        .sockets
        .iter()
        .all(|s| s.local_port != client_port || s.state != portscope::model::State::Established);
    assert!(gone, "the connection was closed");
    tui.keys(ESC);

    // R, enter, y on the listener at 40300: the namespace's list now holds it.
    tui.wait_for("the outcome closed", |t| !t.contains("Done: close"));
    tui.keys("1");
    tui.keys("/40300\r");
    tui.wait_for("the listener row", |t| {
        t.contains("0.0.0.0:40300") && t.contains("AT RISK")
    });
    tui.keys("R");
    tui.wait_text("ports to reserve: 40300");
    tui.keys("\r");
    tui.wait_text("Set net.ipv4.ip_local_reserved_ports");
    assert_eq!(reserved_now(), "", "nothing before y");
    // y is taken once the dialog has been up long enough to read.
    tui.wait_text("yes, do it");
    tui.keys("y");
    tui.wait_text("Done: reserve 40300");
    assert_eq!(reserved_now(), "40300");
    let dropin = std::fs::read_to_string(sysctl_dir.join("90-portscope-reserved-ports.conf"))
        .expect("the drop-in is written");
    assert!(
        dropin.contains("net.ipv4.ip_local_reserved_ports = 40300"),
        "{dropin}"
    );
    tui.keys(ESC);

    // U, y: undone.
    tui.keys("U");
    tui.wait_text("Undo the reservation");
    // y is taken once the dialog has been up long enough to read.
    tui.wait_text("yes, do it");
    tui.keys("y");
    tui.wait_text("Done: undo reservation");
    assert_eq!(reserved_now(), "");
    assert!(!sysctl_dir.join("90-portscope-reserved-ports.conf").exists());
    tui.keys(ESC);
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);

    let log = std::fs::read_to_string(data.join("portscope/actions.log")).expect("action log");
    for needle in [
        "SIGTERM sleep",
        "close 127.0.0.1",
        "reserve 40300",
        "undo reservation",
    ] {
        assert!(log.contains(needle), "log lacks {needle}:\n{log}");
    }
    drop(at_risk);
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn pressing_c_puts_the_osc52_sequence_on_the_terminal() {
    let (mut tui, home) = replay("osc52", 120, 35);
    tui.keys("4e10080\r");
    tui.wait_text("Plan: what frees the port");
    tui.keys("c");
    tui.wait_text("Commands for tcp port 10080");
    let from = tui.written();
    tui.keys("c");
    // The first command of the recording's plan, base64-encoded, in the plain OSC 52 form.
    let expected = format!(
        "\x1b]52;c;{}\x07",
        portscope::tui::copy::base64(b"portscope reserve apply 10080\n")
    );
    tui.wait_written(from, &[&expected]);
    let screen = tui.wait_text("via OSC 52");
    assert!(screen.contains("copied 30 bytes"), "{screen}");
    tui.keys("\x1b");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    let _ = std::fs::remove_dir_all(home);
}

/// Pasted text is text for the field with focus and nothing else; a confirmation never takes a
/// `y` that came with the keys that opened it. A paste of `7000\nKy` (a line copied from a chat)
/// into the filter, into the why field and the reservation planner, and onto the table, never
/// signals the holder; `Ky` typed in one burst leaves the dialog open, unanswered.
#[test]
fn pasted_or_typed_ahead_keys_never_confirm_an_action() {
    if !private_netns("tui_e2e_paste") {
        return;
    }
    let home = temp_home("paste");
    let data = home.join("data");
    let l = tcp_listen("0.0.0.0:20310");
    let mut victim = hold(&[&l.as_fd()]);
    drop(l);
    let mut tui = Tui::start(
        &["--interval", "300ms"],
        &[
            ("XDG_CONFIG_HOME", home.to_str().expect("utf-8")),
            ("XDG_DATA_HOME", data.to_str().expect("utf-8")),
        ],
        120,
        35,
    );
    tui.wait_text("0.0.0.0:20310");
    let paste = |t: &mut Tui, text: &str| t.keys(&format!("\x1b[200~{text}\x1b[201~"));
    let alive = |v: &mut Holder| v.child.try_wait().is_ok_and(|s| s.is_none());

    // Into the filter: all of it is filter text; the filter stays open.
    tui.keys("/");
    paste(&mut tui, "20310\nKy");
    tui.wait_text("20310 Ky");
    assert!(!tui.text().contains("Send SIGTERM"), "{}", tui.text());
    tui.keys(ESC);
    // (An escape and a paste in one read would be one escape sequence: let it land first.)
    tui.wait_for("the filter closed", |t| !t.contains("20310 Ky"));
    // Onto the table (no field has focus): ignored, said so.
    paste(&mut tui, "Ky");
    tui.wait_text("paste ignored");
    assert!(!tui.text().contains("Send SIGTERM"), "{}", tui.text());
    // Into the why field and the planner: text there too.
    tui.keys("4e");
    paste(&mut tui, "20310\nKy");
    tui.wait_text("20310 Ky");
    tui.keys(ESC);
    tui.wait_for("the why field closed", |t| !t.contains("20310 Ky"));
    // Back to Listeners with shift-tab: in a why view with no question, digits type a port.
    tui.keys("\x1b[Z\x1b[Z\x1b[Z");
    tui.keys("/20310\r");
    tui.wait_for("the filtered row", |t| t.contains("filter: 20310 "));
    tui.keys("R");
    tui.wait_text("ports to reserve");
    paste(&mut tui, "\nKy");
    assert!(!tui.text().contains("Send SIGTERM"), "{}", tui.text());
    tui.keys(ESC);
    tui.wait_for("the planner closed", |t| !t.contains("ports to reserve"));
    assert!(alive(&mut victim), "a paste signalled the holder");

    // K and y in one burst: the dialog opens and stays open; y was not an answer.
    tui.keys("Ky");
    tui.wait_text("y ignored");
    tui.wait_text("Send SIGTERM to sleep");
    assert!(alive(&mut victim), "a typed-ahead y signalled the holder");
    // Once it has been up long enough to read, y is offered, and taken.
    tui.wait_text("yes, do it");
    tui.keys("y");
    tui.wait_text("Done: SIGTERM sleep");
    assert!(wait_until(PATIENCE, || !alive(&mut victim)));
    tui.keys(ESC);
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
}

/// Whether raw terminal output sets a colour: an SGR sequence with a foreground or background
/// parameter (30-38, 40-48, 90-97, 100-107; 39 and 49 only reset to the default).
fn sets_colour(raw: &str) -> bool {
    raw.split("\x1b[").skip(1).any(|seq| {
        let Some(end) = seq.find(|c: char| c.is_ascii_alphabetic()) else {
            return false;
        };
        if &seq[end..=end] != "m" {
            return false;
        }
        seq[..end].split(';').any(|p| {
            p.parse::<u16>().is_ok_and(|n| {
                n != 39 && n != 49 && ((30..=49).contains(&n) || (90..=107).contains(&n))
            })
        })
    })
}

/// A terminal that has no colours (TERM=dumb) gets the plain UI, as NO_COLOR does; an xterm
/// gets colours (so the check below can see them).
#[test]
fn a_dumb_terminal_gets_the_plain_ui() {
    for (term, coloured) in [("xterm-256color", true), ("dumb", false)] {
        let home = temp_home(&format!("term-{term}"));
        let cfg = home.to_str().expect("utf-8");
        let mut tui = Tui::start(
            &["--replay", "assets/incident.json"],
            &[("XDG_CONFIG_HOME", cfg), ("TERM", term)],
            100,
            30,
        );
        tui.wait_text("kubelet");
        let raw = tui.written_since(0);
        assert_eq!(sets_colour(&raw), coloured, "TERM={term}");
        tui.keys("q");
        assert_eq!(tui.exit_code(), 0, "TERM={term}");
        let _ = std::fs::remove_dir_all(&home);
    }
}
