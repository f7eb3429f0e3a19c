//! Rendering: every view, the help, the detail pane and a failure, from the incident recording
//! (assets/incident.json) at 80x24 and at a wide size, compared with snapshot files.

use portscope::analyze::why::Context;
use portscope::model::Snapshot;
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::runtime::replay_diagnosis;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, load_replay, render_offscreen};
use std::path::Path;
use std::sync::Arc;

fn recording() -> Arc<Snapshot> {
    Arc::new(load_replay(Path::new("assets/incident.json")).expect("assets/incident.json"))
}

/// Renders after typing `keys` into a fresh replay app.
fn screen(keys: &str, w: u16, h: u16) -> String {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::Data(Arc::clone(&snap), None));
    app.type_keys(keys);
    if let Some(req) = app.why_request {
        let d = replay_diagnosis(&req, &snap, &Context::default());
        app.update(Msg::Data(Arc::clone(&snap), Some(Arc::new(d))));
    }
    let buf = render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    );
    buffer_text(&buf)
}

macro_rules! views {
    ($($name:ident: $keys:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            for (w, h) in [(80u16, 24u16), (120, 35)] {
                let text = screen($keys, w, h);
                assert_eq!(text.lines().count(), usize::from(h));
                assert!(text.lines().all(|l| l.chars().count() <= usize::from(w)));
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), text);
            }
        }
    )*};
}

views! {
    listeners: "",
    listeners_sorted_by_user: "ss",
    connections: "2",
    port_map: "3",
    port_map_zoomed_on_10080: "3g10080\n",
    why_10080: "410080\n",
    why_10080_scrolled: "410080\njjjjjjjjjj",
    why_typing: "41008",
    help: "?",
    detail_of_java: "2/java\n\n",
    filter_editing: "/nginx",
}

#[test]
fn collect_failure_dims_old_data_and_says_so() {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::Data(Arc::clone(&snap), None));
    app.update(Msg::CollectFailed("netlink sock_diag: EPERM".into()));
    let buf = render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        80,
        24,
    );
    let text = buffer_text(&buf);
    assert!(
        text.contains("collect failed: netlink sock_diag: EPERM"),
        "{text}"
    );
    assert!(text.contains("sshd"), "the last good data stays on screen");
    let body_cell = &buf[(10, 5)];
    assert!(
        body_cell.modifier.contains(ratatui::style::Modifier::DIM),
        "stale data is dimmed"
    );
    insta::assert_snapshot!("collect_failure_80x24", text);
}

#[test]
fn no_color_keeps_every_class_distinguishable() {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::Data(Arc::clone(&snap), None));
    app.type_keys("3");
    let buf = render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        120,
        35,
    );
    let text = buffer_text(&buf);
    for glyph in ['●', '!', '░', '▒'] {
        assert!(text.contains(glyph), "NO_COLOR map lacks {glyph}:\n{text}");
    }
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset),
        "NO_COLOR means no colour"
    );
}
