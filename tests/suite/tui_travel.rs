//! Time travel in the TUI without a terminal: `[` and `]` through take, release, take by
//! another; the header says it is the past; the detail pane tells the port's story.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::history::changes_since;
use portscope::model::test_support::{listener, owner, snapshot};
use portscope::model::{Snapshot, Socket};
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::sync::Arc;

fn held(port: u16, pid: u32, comm: &str) -> Socket {
    let mut s = listener(port);
    s.inode = u64::from(pid) * 10;
    s.owners = Arc::from([owner(pid, comm)]);
    s
}

fn at(secs: i64, sockets: Vec<Socket>) -> Arc<Snapshot> {
    let mut s = snapshot(sockets);
    s.taken_at = jiff::Timestamp::from_second(1_763_780_400 + secs).unwrap();
    Arc::new(s)
}

/// Feeds the snapshots as the collector would: data, then what changed.
fn live(app: &mut App, prev: Option<&Arc<Snapshot>>, next: &Arc<Snapshot>) {
    app.update(Msg::History(Arc::new(changes_since(
        prev.map(|p| &**p),
        next,
    ))));
    app.update(Msg::data(Arc::clone(next), None));
}

fn holder(app: &App, port: u16) -> Option<u32> {
    app.snapshot()?
        .sockets
        .iter()
        .find(|s| s.local_port == port)
        .and_then(|s| s.owners.first().map(|o| o.pid))
}

fn story() -> (App, Vec<Arc<Snapshot>>) {
    let mut app = App::new(KeyMap::default_map(), false);
    app.travel.tz = jiff::tz::TimeZone::UTC;
    let s = vec![
        at(0, vec![held(22, 1, "sshd"), held(8080, 4123, "java")]),
        at(5, vec![held(22, 1, "sshd")]),
        at(9, vec![held(22, 1, "sshd"), held(8080, 777, "scanner")]),
    ];
    live(&mut app, None, &s[0]);
    live(&mut app, Some(&s[0]), &s[1]);
    live(&mut app, Some(&s[1]), &s[2]);
    (app, s)
}

#[test]
fn brackets_step_through_take_release_take_by_another() {
    let (mut app, s) = story();
    assert_eq!(holder(&app, 8080), Some(777));
    assert!(app.travel.header().is_none());
    app.type_keys("[");
    assert_eq!(holder(&app, 8080), None, "released at +5 s");
    assert!(app.travel.header().unwrap().contains("PAST 03:00:05"));
    app.type_keys("[");
    assert_eq!(holder(&app, 8080), Some(4123), "java held it first");
    assert!(app.travel.header().unwrap().contains("2 changes back"));
    app.type_keys("[");
    assert_eq!(holder(&app, 8080), Some(4123), "nothing earlier: stays");
    assert!(app.note.as_deref().unwrap().contains("nothing earlier"));
    // Live data arriving meanwhile waits; the past stays on screen.
    let s3 = at(12, vec![held(22, 1, "sshd")]);
    live(&mut app, Some(&s[2]), &s3);
    assert_eq!(holder(&app, 8080), Some(4123));
    app.type_keys("]");
    assert_eq!(holder(&app, 8080), None);
    app.type_keys("]");
    assert_eq!(holder(&app, 8080), Some(777));
    app.type_keys("]");
    assert!(app.travel.header().is_none(), "back in the present");
    assert_eq!(
        holder(&app, 8080),
        None,
        "the newest data, which waited, is shown"
    );
    app.type_keys("]");
    assert!(
        app.note
            .as_deref()
            .unwrap()
            .contains("already at the present")
    );
}

#[test]
fn the_detail_pane_in_the_past_tells_the_port_story() {
    let (mut app, s) = story();
    app.type_keys("[[");
    // The listener of 8080 (java) is the second row.
    app.type_keys("j\n");
    let text = buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(s[2].taken_at),
        120,
        35,
    ));
    assert!(text.contains("PAST 03:00:00"), "{text}");
    insta::assert_snapshot!("past_detail_of_8080_120x35", text);
    assert!(
        text.contains("03:00:00 java (pid 4123) held it, LISTEN (history starts)"),
        "{text}"
    );
    // Back in the present, the detail of the new holder has the whole story.
    app.type_keys("\x1b]]");
    assert!(app.travel.header().is_none());
    app.type_keys("j\n");
    let text = buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(s[2].taken_at),
        120,
        35,
    ));
    insta::assert_snapshot!("present_detail_of_8080_with_timeline_120x35", text);
    let lines = app.travel.timeline(8080, 8);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[1].contains("03:00:05 java (pid 4123) released"),
        "{lines:?}"
    );
    assert!(
        lines[2].contains("03:00:09 scanner (pid 777) took it, LISTEN"),
        "{lines:?}"
    );
}
