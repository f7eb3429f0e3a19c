//! What the status line says about connections kept live from kernel events: how long ago a
//! dump verified them, whether a verification ever found them wrong, and, when they cannot be
//! kept, why (beside how old the carried ones are).
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::model::test_support::{listener, outgoing, snapshot};
use portscope::tui::app::{App, Data, Msg, Recheck};
use portscope::tui::keymap::KeyMap;
use portscope::watch::kept::{Liveness, Verified};
use std::sync::Arc;

fn status_line(app: &App, now: jiff::Timestamp) -> String {
    let buf = portscope::tui::render_offscreen(
        app,
        &portscope::tui::theme::Theme::defaults(true),
        &portscope::tui::draw::Clock::fixed(now),
        120,
        20,
    );
    let text = portscope::tui::buffer_text(&buf);
    text.lines().rev().nth(1).unwrap_or_default().to_string()
}

/// When the test snapshots were taken (fixed).
fn taken_at() -> jiff::Timestamp {
    snapshot(vec![]).taken_at
}

fn app_showing(
    live: Option<Liveness>,
    conns_as_of: Option<jiff::Timestamp>,
) -> (App, jiff::Timestamp) {
    let snap = snapshot(vec![listener(80), outgoing(45000, 5432)]);
    let t0 = snap.taken_at;
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::Data(Data {
        snap: Arc::new(snap),
        diagnosis: None,
        derived: None,
        conns_as_of,
        live,
    }));
    (app, t0)
}

#[test]
fn kept_connections_say_when_they_were_verified_and_never_look_stale() {
    let secs = jiff::SignedDuration::from_secs;
    let t0 = taken_at();
    let verified = Verified {
        at: Some(t0 - secs(12)),
        compared: 90_000,
        ..Verified::default()
    };
    let (mut app, _) = app_showing(Some(Liveness::Kept(verified)), None);
    let line = status_line(&app, t0);
    assert!(line.contains("conns live, verified 12 s ago"), "{line}");
    assert!(!line.contains("repaired"), "{line}");

    // A tick that found nothing changed: the connections are still live, not "as of".
    app.update(Msg::Rechecked(Recheck {
        taken_at: t0 + secs(5),
        duration_us: 3_000,
    }));
    let line = status_line(&app, t0 + secs(5));
    assert!(line.contains("conns live, verified 17 s ago"), "{line}");
    assert!(!line.contains("conns as of"), "{line}");
}

#[test]
fn differences_a_verification_repaired_are_said() {
    let t0 = taken_at();
    let verified = Verified {
        at: Some(t0),
        compared: 100,
        differences: 2,
        differences_total: 3,
        overflows: 0,
    };
    let (app, _) = app_showing(Some(Liveness::Kept(verified)), None);
    let line = status_line(&app, t0);
    assert!(line.contains("3 differences repaired"), "{line}");
}

#[test]
fn connections_that_cannot_be_kept_say_why_beside_their_age() {
    let t0 = taken_at();
    let why: Arc<str> = "kernel events need root or CAP_PERFMON".into();
    let (app, _) = app_showing(
        Some(Liveness::Off(why)),
        Some(t0 - jiff::SignedDuration::from_secs(7)),
    );
    let line = status_line(&app, t0);
    assert!(
        line.contains("conns as of 7 s ago (not live: kernel events need root or CAP_PERFMON)"),
        "{line}"
    );
}
