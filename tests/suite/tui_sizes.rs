//! Every view and dialog at every size: rendered over a grid from 0x0 to 200x50 (every width
//! 0-10 and height 0-5 among them) without a panic, never drawing outside the frame.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::action::exec::ActionOutcome;
use portscope::ask::recorded;
use portscope::model::Snapshot;
use portscope::tui::app::{App, Modal, Mode, Msg};
use portscope::tui::draw::{Clock, draw_frame};
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, load_replay, render_offscreen};
use std::path::Path;
use std::sync::Arc;

fn recording() -> Arc<Snapshot> {
    Arc::new(load_replay(Path::new("assets/incident.json")).expect("assets/incident.json"))
}

/// (name, app) for every view, dialog and state.
fn states() -> Vec<(&'static str, App)> {
    let snap = recording();
    let typed = |keys: &str, live: bool| {
        let mut app = App::new(KeyMap::default_map(), !live);
        app.actions.is_root = true;
        app.update(Msg::data(Arc::clone(&snap), None));
        app.type_keys(keys);
        if let Some(req) = app.why.request.clone() {
            let d = recorded(&req, &snap);
            app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(d))));
        }
        app
    };
    let mut out = vec![
        ("no data yet", App::new(KeyMap::default_map(), false)),
        ("listeners", typed("", false)),
        ("connections", typed("2", false)),
        ("port map", typed("3", false)),
        ("port map zoomed", typed("3:10080\n", false)),
        ("port map goto", typed("3g100", false)),
        ("why typing", typed("4e1008", false)),
        ("why verdict", typed("4e10080\n", false)),
        ("why scrolled", typed("4e10080\njjjjjjjjjj", false)),
        ("help", typed("?", false)),
        ("detail", typed("2/java\n\n", false)),
        ("filter editing", typed("/nginx", false)),
        ("confirm kill", typed("jjjK", true)),
        ("confirm close", typed("2/java\nD", true)),
        ("reserve planner", typed("GR", true)),
        ("confirm reservation", typed("GR\n", true)),
        ("refused", typed("2/time-wait\nK", true)),
    ];
    let mut failed = typed("", false);
    failed.update(Msg::CollectFailed("netlink sock_diag: EPERM".into()));
    out.push(("collect failed", failed));
    let mut failed_first = App::new(KeyMap::default_map(), false);
    failed_first.update(Msg::CollectFailed("netlink sock_diag: EPERM".into()));
    out.push(("collect failed, no data", failed_first));
    let mut busy = typed("", true);
    busy.mode = Mode::Modal(Modal::Busy("SIGTERM nginx (pid 812)".into()));
    out.push(("busy", busy));
    let mut outcome = typed("", true);
    outcome.mode = Mode::Modal(Modal::Outcome(ActionOutcome::nothing_done(
        "SIGTERM nginx (pid 812)",
        vec!["it did not exit within 5 s"; 40],
    )));
    out.push(("outcome", outcome));
    out
}

#[test]
fn every_view_and_dialog_renders_at_every_size() {
    let theme = Theme::defaults(false);
    let clock = Clock::fixed(recording().taken_at);
    let widths: Vec<u16> = (0..=10)
        .chain([
            11, 12, 15, 19, 20, 24, 30, 40, 50, 60, 79, 80, 100, 120, 160, 200,
        ])
        .collect();
    let heights: Vec<u16> = (0..=5)
        .chain([6, 7, 8, 9, 10, 12, 15, 20, 24, 30, 35, 40, 50])
        .collect();
    let mut failures = Vec::new();
    for (name, app) in states() {
        for &w in &widths {
            for &h in &heights {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    buffer_text(&render_offscreen(&app, &theme, &clock, w, h))
                }));
                match r {
                    Ok(text) => {
                        assert_eq!(text.lines().count(), usize::from(h), "{name} {w}x{h}");
                        assert!(
                            text.lines().all(|l| l.chars().count() <= usize::from(w)),
                            "{name} {w}x{h}"
                        );
                    }
                    Err(_) => failures.push(format!("{name} at {w}x{h}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} renders panicked: {}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Below the size check too: every view and dialog clips to any frame, down to 0x0.
#[test]
fn views_and_dialogs_clip_to_any_frame() {
    let theme = Theme::defaults(false);
    let clock = Clock::fixed(recording().taken_at);
    let mut failures = Vec::new();
    for (name, app) in states() {
        for w in (0..=12).chain([16, 19, 25, 40]) {
            for h in (0..=8).chain([10, 15]) {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let backend = ratatui::backend::TestBackend::new(w, h);
                    let mut term = ratatui::Terminal::new(backend).expect("terminal");
                    term.draw(|f| draw_frame(f, &app, &theme, &clock))
                        .map(|_| ())
                }));
                if r.is_err() {
                    failures.push(format!("{name} at {w}x{h}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} renders panicked: {}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn a_tiny_terminal_says_so() {
    let theme = Theme::defaults(true);
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    for (w, h) in [(30u16, 5u16), (19, 24), (80, 3)] {
        let text = buffer_text(&render_offscreen(
            &app,
            &theme,
            &Clock::fixed(snap.taken_at),
            w,
            h,
        ));
        assert!(
            text.replace('\n', " ").contains("too small"),
            "{w}x{h}:\n{text}"
        );
    }
}
