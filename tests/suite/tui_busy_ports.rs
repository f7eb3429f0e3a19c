//! The Connections view's "busiest service ports" box shows every port it computed, also when
//! there is only one, and says so when there is none (issue #14).
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::model::Snapshot;
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, load_replay, render_offscreen};
use std::path::Path;
use std::sync::Arc;

/// The incident recording, keeping only the sockets `keep` selects; Connections at 100x30.
fn connections_of(keep: impl Fn(&portscope::model::Socket) -> bool) -> String {
    let mut snap: Snapshot = load_replay(Path::new("assets/incident.json")).unwrap();
    snap.sockets.retain(|s| keep(s));
    let snap = Arc::new(snap);
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys("2");
    let buf = render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        100,
        30,
    );
    buffer_text(&buf)
}

/// The lines of the box between its title and its bottom border.
fn summary_box(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.contains("Connection states"))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .map(|l| l.trim_matches(|c| c == '│' || c == ' ').to_string())
        .collect()
}

#[test]
fn one_busy_port_is_shown() {
    // The 7000 listener with its CLOSE_WAITs, plus every outgoing connection (not load).
    let text = connections_of(|s| s.local_port == 7000 || s.autobound);
    let lines = summary_box(&text);
    // States, outgoing, the busy port, and the busiest destination of the outgoing ones.
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[3].starts_with("busiest destination 127.0.0.1:5432"),
        "{text}"
    );
    assert!(lines[1].ends_with("busiest service ports:"), "{text}");
    assert!(
        lines[2].starts_with("tcp/7000") && lines[2].contains("25 close-wait"),
        "{text}"
    );
}

#[test]
fn no_busy_port_says_so_instead_of_an_empty_label() {
    let text = connections_of(|s| s.is_listening() || s.autobound);
    let lines = summary_box(&text);
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[1].ends_with("no service port has connections"),
        "{text}"
    );
}
