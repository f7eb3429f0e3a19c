//! Text from other processes cannot drive root's terminal: a real process in a private
//! namespace names itself `\r\e[2K\e[1A` (which would erase its own row and hide it) and puts an
//! OSC title sequence, a C1 CSI, a right-to-left override and bytes that are not UTF-8 in its
//! command line. `snapshot`, `why` and `reserve` print it escaped (no raw control character
//! reaches stdout), JSON keeps the exact text, and the TUI shows it escaped.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// What the process calls itself (prctl PR_SET_NAME: 15 bytes at most).
const COMM: &str = "\r\x1b[2K\x1b[1A";
const COMM_SHOWN: &str = "\\r\\e[2K\\e[1A";
const OSC: &str = "\x1b]0;pwned\x07";
const OSC_SHOWN: &str = "\\e]0;pwned\\x07";
const RLO: &str = "\u{202e}gpj.exe";
const RLO_SHOWN: &str = "\\u{202e}gpj.exe";
const PORT: u16 = 40900;

const HELPER: &str = r#"
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode("utf-8", "surrogateescape"), 0, 0, 0)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen()
print("ready", flush=True)
sys.stdin.read()
"#;

struct Hostile {
    child: std::process::Child,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

fn spawn_hostile(py: &str) -> Hostile {
    let mut not_utf8 = b"bytes-".to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe]);
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new(py)
            .args(["-c", HELPER, COMM, &PORT.to_string(), OSC, RLO, "\u{9b}2J"])
            .arg(OsString::from_vec(not_utf8))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3")
    };
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    BufReader::new(out).read_line(&mut line).expect("ready");
    assert_eq!(line.trim(), "ready");
    Hostile { child }
}

/// No character a terminal would act on (or that hides text) besides the newline.
fn assert_inert(what: &str, out: &str) {
    for (i, c) in out.char_indices() {
        let bad = (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}'..='\u{200f}');
        assert!(
            !bad,
            "{what}: raw {c:?} at byte {i}:\n{}",
            out.escape_debug()
        );
    }
}

#[test]
fn hostile_process_names_are_shown_escaped_everywhere() {
    if !private_netns("hostile_names") {
        return;
    }
    let Some(py) = python() else {
        skip_note!("SKIPPED hostile_names: python3 not found");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs python3"
        );
        return;
    };
    let h = spawn_hostile(py);
    let pid = h.child.id();

    let (code, out, err) = run(portscope().args(["snapshot"]));
    assert_eq!(code, 0, "{err}");
    assert_inert("snapshot", &out);
    let row = format!("{COMM_SHOWN}(pid={pid})");
    assert_eq!(
        out.lines().filter(|l| l.contains(&row)).count(),
        1,
        "the row is there, once, escaped:\n{out}"
    );

    let (code, out, err) = run(portscope().args(["why", &PORT.to_string()]));
    assert_eq!(code, 1, "{err}");
    assert_inert("why", &out);
    assert!(out.contains(COMM_SHOWN), "{out}");

    let (_, out, err) = run(portscope().args([
        "reserve",
        "plan",
        &PORT.to_string(),
        "--sysctl-root",
        std::env::temp_dir().to_str().expect("utf-8"),
    ]));
    assert_inert("reserve plan", &out);
    assert_inert("reserve plan (stderr)", &err);
    assert!(out.contains(COMM_SHOWN), "{out}{err}");

    // JSON is exact: the name and the command line as the kernel has them.
    let (code, out, err) = run(portscope().args(["snapshot", "--json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let owner = v["sockets"]
        .as_array()
        .expect("sockets")
        .iter()
        .flat_map(|s| s["owners"].as_array().cloned().unwrap_or_default())
        .find(|o| o["pid"].as_u64() == Some(u64::from(pid)))
        .expect("the hostile owner is in the JSON");
    assert_eq!(owner["comm"].as_str(), Some(COMM));
    let cmdline = owner["cmdline"].as_str().expect("cmdline");
    for part in [OSC, RLO, "\u{9b}2J", "bytes-\u{fffd}\u{fffd}"] {
        assert!(cmdline.contains(part), "{part:?} in {cmdline:?}");
    }

    // The TUI: the row, the detail pane and the kill dialog show the escapes.
    let snap = Arc::new(portscope::collect::collect(&Default::default()).expect("collect"));
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
    let theme = Theme::defaults(true);
    let clock = Clock::fixed(snap.taken_at);
    app.type_keys(&format!("/{PORT}\n"));
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 160, 40));
    assert_inert("TUI listeners", &screen);
    assert!(screen.contains(COMM_SHOWN), "{screen}");
    app.type_keys("\n");
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 200, 50));
    assert_inert("TUI detail", &screen);
    for shown in [COMM_SHOWN, OSC_SHOWN, RLO_SHOWN, "\\u{009b}2J"] {
        assert!(screen.contains(shown), "{shown} in:\n{screen}");
    }
    app.type_keys("\x1bK");
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 200, 50));
    assert_inert("TUI kill dialog", &screen);
    assert!(
        screen.contains(&format!("Send SIGTERM to {COMM_SHOWN} (pid {pid}")),
        "{screen}"
    );
    assert!(screen.contains(OSC_SHOWN), "{screen}");
    drop(h);
}

/// Unit, container and user names are foreign text too (a delegated cgroup subtree, a
/// directory service): the table and every TUI surface show them escaped.
#[test]
fn hostile_unit_container_and_user_names_are_escaped() {
    use portscope::model::test_support;
    let mut a = test_support::listener(8080);
    let mut owner = (*test_support::owner(4242, "svc")).clone();
    owner.unit = Some("evil\x1b[31m.service".into());
    owner.user = "\u{202e}toor".into();
    a.owners = Arc::from([Arc::new(owner)]);
    let mut b = test_support::listener(9090);
    let mut owner = (*test_support::owner(4343, "box")).clone();
    owner.container = Some("docker:\x1b]0;x\x07".into());
    b.owners = Arc::from([Arc::new(owner)]);
    let snap = Arc::new(test_support::snapshot(vec![a, b]));

    let mut table = Vec::new();
    portscope::cli::snapshot::write_table(&mut table, &snap).expect("table");
    let table = String::from_utf8(table).expect("utf-8");
    assert_inert("snapshot table", &table);
    for shown in [
        "[evil\\e[31m.service]",
        "\\u{202e}toor",
        "[docker:\\e]0;x\\x07]",
    ] {
        assert!(table.contains(shown), "{shown} in:\n{table}");
    }

    let mut app = App::new(KeyMap::default_map(), false);
    app.actions.is_root = true;
    app.update(Msg::data(Arc::clone(&snap), None));
    let theme = Theme::defaults(true);
    let clock = Clock::fixed(snap.taken_at);
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 160, 30));
    assert_inert("TUI listeners", &screen);
    assert!(screen.contains("evil\\e[31m.service"), "{screen}");
    assert!(screen.contains("docker:\\e]0;x\\x07"), "{screen}");
    app.type_keys("\n");
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 160, 40));
    assert_inert("TUI detail", &screen);
    assert!(screen.contains("unit: evil\\e[31m.service"), "{screen}");
    app.type_keys("\x1bK");
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 160, 40));
    assert_inert("TUI kill dialog", &screen);
    assert!(
        screen.contains("systemctl stop evil\\e[31m.service"),
        "{screen}"
    );
}
