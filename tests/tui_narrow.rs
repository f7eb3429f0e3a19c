//! Names stay readable in a narrow terminal: the real binary in a pseudo-terminal at 80x24 and
//! 60x15, replaying a host with long process names (the kernel's 15 characters), long IPv6
//! addresses and long unit names, and the same host seen across namespaces with long labels.
//! A column with nothing in it (no flags, no unit) takes no room from them; the namespace count
//! in the title bar and on the message line agree.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::pty::Tui;
use common::tui::{LONG_LABELS, LONG_NAMES, all_namespaces_recording, long_names_recording};
use portscope::model::Snapshot;
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `snap` written where `--replay` can read it (removed with the returned directory).
fn replay_file(snap: &Snapshot) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.json");
    std::fs::write(&path, serde_json::to_vec(snap).unwrap()).unwrap();
    (dir, path)
}

/// The Listeners view of `file` in a `cols`x`rows` pseudo-terminal, once its rows are drawn.
fn listeners_screen(file: &Path, cols: u16, rows: u16) -> String {
    let home = file.with_extension("home");
    std::fs::create_dir_all(&home).unwrap();
    let tui = Tui::start(
        &["--replay", file.to_str().unwrap()],
        &[("XDG_CONFIG_HOME", home.to_str().unwrap())],
        cols,
        rows,
    );
    tui.wait_for("the listeners", |t| {
        t.contains("Listeners (13)") && t.contains("sorted by port")
    })
}

/// Every one of `names` that starts on screen is there whole; returns how many were seen.
fn whole(screen: &str, names: &[&str], start: usize, what: &str) -> usize {
    let mut seen = 0;
    for name in names {
        let head: String = name.chars().take(start).collect();
        if screen.contains(&head) {
            assert!(
                screen.contains(name),
                "{what} {name:?} cut short (only {head:?}…):\n{screen}"
            );
            seen += 1;
        }
    }
    seen
}

#[test]
fn process_names_stay_whole_at_80_and_60_columns() {
    let (_dir, file) = replay_file(&long_names_recording());
    for (cols, rows) in [(80, 24), (60, 15)] {
        let screen = listeners_screen(&file, cols, rows);
        let seen = whole(&screen, &LONG_NAMES, 8, "process name");
        assert!(
            seen >= 4,
            "{cols}x{rows}: only {seen} names on screen:\n{screen}"
        );
        // The port is never the price: every address keeps its ":port".
        assert!(screen.contains("]:22 "), "{cols}x{rows}:\n{screen}");
    }
}

#[test]
fn namespace_labels_and_names_stay_readable_at_80_and_60_columns() {
    let (_dir, file) = replay_file(&all_namespaces_recording());
    for (cols, rows) in [(80, 24), (60, 15)] {
        let screen = listeners_screen(&file, cols, rows);
        assert!(screen.contains("netns"), "{cols}x{rows}:\n{screen}");
        let seen = whole(&screen, &LONG_NAMES, 8, "process name");
        assert!(
            seen >= 4,
            "{cols}x{rows}: only {seen} names on screen:\n{screen}"
        );
        // Labels alike in their first 12 characters ("k8s: kube-sy") are told apart.
        let cut: Vec<String> = LONG_LABELS
            .iter()
            .map(|l| l.chars().take(19).collect())
            .collect();
        let cut: Vec<&str> = cut.iter().map(String::as_str).collect();
        let labels = whole(&screen, &cut, 12, "namespace label");
        assert_eq!(labels, LONG_LABELS.len(), "{cols}x{rows}:\n{screen}");
    }
}

/// `w` in a live TUI: the message line and the title bar say the same count, before the first
/// all-namespace snapshot (no count) and after it (its count).
#[test]
fn the_namespace_count_agrees_in_title_and_message() {
    let snap = long_names_recording();
    let all = all_namespaces_recording();
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
    let clock = Clock::fixed(snap.taken_at);
    let theme = Theme::defaults(true);
    let screen = |app: &App| buffer_text(&render_offscreen(app, &theme, &clock, 120, 24));
    app.type_keys("w");
    let before = screen(&app);
    let lines: Vec<&str> = before.lines().collect();
    assert!(
        lines[0].trim_end().ends_with("netns: all"),
        "no count yet:\n{before}"
    );
    assert!(
        lines[23].starts_with("netns: all") && !lines[23].contains('('),
        "{before}"
    );
    app.update(Msg::data(Arc::clone(&all), None));
    let after = screen(&app);
    let lines: Vec<&str> = after.lines().collect();
    assert!(lines[0].contains("netns: all (4)"), "{after}");
    assert!(lines[23].contains("netns: all (4)"), "{after}");
}
