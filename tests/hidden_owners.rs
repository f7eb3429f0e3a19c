//! Without root, a socket whose process portscope cannot see still shows whose it is: its own
//! uid, in the snapshot table and in the TUI's rows and detail, with what is hidden and the
//! command that shows it. Run for real as uid 65534 in a private namespace, against a listener
//! held by a root process.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::model::Snapshot;
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::Arc;

fn as_nobody(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ])
    .arg(portscope_for_other_users())
    .args(args)
    .env("HOME", "/tmp");
    run(&mut cmd)
}

#[test]
fn a_hidden_owner_still_shows_the_sockets_uid() {
    if !private_netns("hidden_owner_uid") {
        return;
    }
    let l = tcp_listen("0.0.0.0:21300");
    let holder = hold(&[&l.as_fd()]);
    drop(l);

    let (code, out, err) = as_nobody(&["snapshot", "-l", "--port", "21300"]);
    assert_eq!(code, 0, "{err}");
    let row = out
        .lines()
        .find(|l| l.contains("0.0.0.0:21300"))
        .unwrap_or_else(|| panic!("no row:\n{out}"));
    assert!(row.contains("uid 0 (owner hidden)"), "{row}");
    assert!(row.contains("hidden"), "the mark: {row}");
    assert!(
        !row.contains(&holder.pid().to_string()),
        "nobody cannot see the pid: {row}"
    );
    assert!(
        out.contains("other users' processes are hidden without root: sudo ")
            && out.contains("snapshot -l --port 21300 shows them"),
        "{out}"
    );

    // The TUI, on the table nobody saw.
    let (code, json, err) = as_nobody(&["snapshot", "--json"]);
    assert_eq!(code, 0, "{err}");
    let snap: Arc<Snapshot> = Arc::new(serde_json::from_str(&json).expect("snapshot json"));
    assert!(!snap.stats.is_root && snap.stats.processes_hidden > 0);
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
    let theme = Theme::defaults(true);
    let clock = Clock::fixed(snap.taken_at);
    app.type_keys("/21300\n");
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 120, 30));
    let row = screen
        .lines()
        .find(|l| l.contains("0.0.0.0:21300"))
        .unwrap_or_else(|| panic!("no row:\n{screen}"));
    assert!(
        row.contains("uid 0 hidden") && row.contains("root"),
        "{row}"
    );
    app.type_keys("\n");
    let screen = buffer_text(&render_offscreen(&app, &theme, &clock, 120, 30)).replace('\n', " ");
    for needle in [
        "uid 0 (root)",
        "cannot see",
        "without root",
        "sudo portscope",
    ] {
        assert!(screen.contains(needle), "{needle}:\n{screen}");
    }
    drop(holder);
}
