//! Every view and dialog on IPv6-heavy data (the incident recording with long unique-local and
//! IPv4-mapped addresses) at 60x20, 80x24, 120x35 and 200x50, compared with snapshot files; at
//! each size every table row on screen must show its ports whole.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::tui::{ipv6_recording, redact_times};
use portscope::action::exec::ActionOutcome;
use portscope::ask::recorded;
use portscope::model::Snapshot;
use portscope::tui::app::{App, Modal, Mode, Msg, View};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::sync::Arc;

const SIZES: [(u16, u16); 4] = [(60, 20), (80, 24), (120, 35), (200, 50)];

/// An app on the IPv6 recording after `keys`; `live` enables actions (as root, with fixed paths
/// so renders are stable).
fn app_after(snap: &Arc<Snapshot>, keys: &str, live: bool, root: bool) -> App {
    let mut app = App::new(KeyMap::default_map(), !live);
    app.actions.is_root = root;
    app.actions.journal = Some("/var/lib/portscope/reserve-journal.json".into());
    app.update(Msg::data(Arc::clone(snap), None));
    app.type_keys(keys);
    if let Some(req) = app.why.request.clone() {
        let d = recorded(&req, snap);
        app.update(Msg::data(Arc::clone(snap), Some(Arc::new(d))));
    }
    app
}

fn render(app: &App, snap: &Snapshot, w: u16, h: u16) -> String {
    let buf = render_offscreen(
        app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    );
    redact_times(&buffer_text(&buf))
}

/// Checks that each row of the table on screen (without whatever dialog is on top of it) shows
/// its socket's ports whole, and returns how many rows were checked.
fn check_table_ports(app: &mut App, snap: &Snapshot, w: u16, h: u16) -> usize {
    let (rows, head): (Vec<usize>, &str) = match app.view {
        View::Listeners => (app.listeners.rows.clone(), "address:port"),
        View::Connections => (app.conns.rows.clone(), "local"),
        View::PortMap | View::Why | View::Failures => return 0,
    };
    let mode = std::mem::replace(&mut app.mode, Mode::Normal);
    let text = render(app, snap, w, h);
    app.mode = mode;
    let lines: Vec<&str> = text.lines().collect();
    let Some(head_line) = lines
        .iter()
        .rposition(|l| l.starts_with('│') && l.contains(head))
    else {
        // An empty table (a filter that matches nothing) has no header.
        assert!(rows.is_empty(), "no table header at {w}x{h}:\n{text}");
        return 0;
    };
    let (selected, offset) = match app.view {
        View::Listeners => (app.listeners.nav.selected, app.listeners.nav.offset),
        _ => (app.conns.nav.selected, app.conns.nav.offset),
    };
    // The window the draw used: from the offset update keeps, clamped to this height.
    let shown: Vec<&str> = lines[head_line + 1..]
        .iter()
        .take_while(|l| !l.starts_with('└'))
        .copied()
        .collect();
    let from = portscope::tui::layout::scroll_window(selected, offset, shown.len(), rows.len());
    let mut checked = 0;
    for (line, &i) in shown.iter().zip(&rows[from..]) {
        let s = &snap.sockets[i];
        let mut ports = vec![s.local_port];
        if app.view == View::Connections && s.remote_port != 0 {
            ports.push(s.remote_port);
        }
        for port in ports {
            let whole = [format!(":{port} "), format!(":{port}│")];
            assert!(
                whole.iter().any(|p| line.contains(p.as_str())),
                "port {port} cut at {w}x{h}: {line}\n{text}"
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        shown.len().min(rows.len() - from),
        "every row on screen checked at {w}x{h}"
    );
    checked
}

/// (name, app, text the screen must show) for every view and dialog.
fn states(snap: &Arc<Snapshot>) -> Vec<(&'static str, App, &'static str)> {
    let replay = |keys: &str| app_after(snap, keys, false, true);
    let live = |keys: &str| app_after(snap, keys, true, true);
    let mut out = vec![
        ("listeners", replay(""), "Listeners ("),
        ("listeners_by_process", replay("s"), "sorted by process"),
        ("listeners_filtered", replay("/java\n"), "filter: java"),
        ("filter_editing", replay("/ngin"), "filter: ngin"),
        ("connections", replay("2"), "Connection states"),
        (
            "connections_filtered",
            replay("2/time-wait\n"),
            "filter: time-wait",
        ),
        ("port_map", replay("3"), "Port map"),
        ("port_map_zoomed", replay("3:10080\n"), "port 10080"),
        ("port_map_goto", replay("3:1008"), "Go to port"),
        ("why_empty", replay("4"), "Type the port"),
        ("why_typing", replay("4e1008"), "1008▏"),
        ("why_10080", replay("4e10080\n"), "10080"),
        ("help", replay("?"), "Keys"),
        ("detail_of_java", replay("2/java\n\n"), "java (pid"),
        ("confirm_kill", live("jjjK"), "SIGTERM"),
        ("confirm_close", live("2/java\nD"), "SOCK_DESTROY"),
        (
            "kill_time_wait_refused",
            live("2/time-wait\nK"),
            "TIME_WAIT",
        ),
        ("reserve_planner", live("GR"), "proposed"),
        (
            "confirm_reservation",
            live("GR\n"),
            "ip_local_reserved_ports",
        ),
        (
            "reservation_without_root",
            app_after(snap, "GR\n", true, false),
            "needs root",
        ),
    ];
    let mut busy = live("");
    busy.mode = Mode::Modal(Modal::Busy("SIGTERM nginx (pid 812)".into()));
    out.push(("busy", busy, "working"));
    let mut outcome = live("");
    outcome.mode = Mode::Modal(Modal::Outcome(ActionOutcome::nothing_done(
        "SIGTERM nginx (pid 812)",
        vec!["it did not exit within 5 s"; 3],
    )));
    out.push(("outcome", outcome, "did not exit"));
    let mut failed = replay("");
    failed.update(Msg::CollectFailed("netlink sock_diag: EPERM".into()));
    out.push(("collect_failed", failed, "collect failed"));
    out
}

#[test]
fn every_view_and_dialog_on_ipv6_data_at_four_sizes() {
    let snap = ipv6_recording();
    let mut tables = 0;
    for (name, mut app, must) in states(&snap) {
        for (w, h) in SIZES {
            let clock = Clock::fixed(snap.taken_at);
            portscope::tui::settle(&mut app, &Theme::defaults(true), &clock, w, h);
            let text = render(&app, &snap, w, h);
            assert_eq!(text.lines().count(), usize::from(h), "{name} {w}x{h}");
            assert!(
                text.lines().all(|l| l.chars().count() <= usize::from(w)),
                "{name} {w}x{h}"
            );
            assert!(
                text.replace('\n', " ").contains(must),
                "{name} at {w}x{h} lacks {must:?}:\n{text}"
            );
            tables += check_table_ports(&mut app, &snap, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
        }
    }
    assert!(tables > 100, "table rows were checked: {tables}");
}
