//! TUI behaviour through the key map, without a terminal: keys in, state and effects out.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::model::test_support::{listener, outgoing, snapshot, with_state};
use portscope::model::{Snapshot, State};
use portscope::tui::app::{App, Effect, Modal, Msg, View};
use portscope::tui::cadence::Need;
use portscope::tui::keymap::KeyMap;
use std::sync::Arc;

fn app_with(snap: Snapshot) -> App {
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::new(snap), None));
    app
}

fn sample() -> Snapshot {
    snapshot(vec![
        listener(22),
        listener(80),
        listener(8080),
        listener(40000),
        outgoing(45000, 5432),
        with_state(outgoing(8080, 41000), State::TimeWait),
    ])
}

fn selected_port(app: &App) -> Option<u16> {
    app.selected_socket().map(|s| s.local_port)
}

#[test]
fn views_cycle_with_tab_and_jump_with_digits() {
    let mut app = app_with(sample());
    assert_eq!(app.view, View::Listeners);
    app.type_keys("\t");
    assert_eq!(app.view, View::Connections);
    app.type_keys("3");
    assert_eq!(app.view, View::PortMap);
    app.type_keys("1");
    assert_eq!(app.view, View::Listeners);
    app.type_keys("4");
    assert_eq!(app.view, View::Why);
    assert!(!app.why_editing(), "4 opens the view; e edits");
    app.type_keys("e");
    assert!(app.why_editing(), "e edits the port");
    assert!(app.why.input.value().is_empty(), "e is not typed");
}

#[test]
fn vim_keys_and_arrows_move_the_cursor() {
    let mut app = app_with(sample());
    assert_eq!(selected_port(&app), Some(22));
    app.type_keys("j");
    assert_eq!(selected_port(&app), Some(80));
    app.type_keys("↓↓");
    assert_eq!(selected_port(&app), Some(40000));
    app.type_keys("↓");
    assert_eq!(selected_port(&app), Some(40000), "stops at the last row");
    app.type_keys("k↑");
    assert_eq!(selected_port(&app), Some(80));
    app.type_keys("G");
    assert_eq!(selected_port(&app), Some(40000));
}

#[test]
fn selection_stays_on_the_same_socket_when_rows_move() {
    let mut app = app_with(sample());
    app.type_keys("jj");
    assert_eq!(selected_port(&app), Some(8080));
    // A new listener appears above it: the cursor follows 8080, not row number 2.
    let mut next = sample();
    next.sockets.insert(0, listener(21));
    app.update(Msg::data(Arc::new(next), None));
    assert_eq!(selected_port(&app), Some(8080));
    assert_eq!(app.listeners.nav.selected, 3);
    // Its socket disappears: the cursor stays on the same row, now another socket.
    let mut gone = sample();
    gone.sockets.retain(|s| s.local_port != 8080);
    app.update(Msg::data(Arc::new(gone), None));
    assert_eq!(selected_port(&app), Some(40000));
}

#[test]
fn filter_by_text_and_escape_clears() {
    let mut app = app_with(sample());
    app.type_keys("/8080");
    assert!(app.filter_editing());
    assert_eq!(app.listeners.rows.len(), 1);
    assert_eq!(selected_port(&app), Some(8080));
    app.type_keys("\n");
    assert!(!app.filter_editing());
    assert_eq!(app.listeners.rows.len(), 1, "enter keeps the filter");
    app.type_keys("2");
    assert_eq!(
        app.conns.rows.len(),
        2,
        "Connections keeps its own (empty) filter"
    );
    app.type_keys("/8080\n");
    assert_eq!(
        app.conns.rows.len(),
        1,
        "the TIME_WAIT on 8080 matches, the 45000 socket does not"
    );
    app.type_keys("\x1b");
    assert_eq!(app.conns.rows.len(), 2, "esc clears the filter");
    app.type_keys("1");
    assert_eq!(app.filter_text(), "8080", "Listeners kept its filter");
    assert_eq!(app.listeners.rows.len(), 1);
    app.type_keys("/svc tcp\n");
    assert_eq!(
        app.listeners.rows.len(),
        4,
        "words match process and protocol"
    );
    app.type_keys("/\x1b");
    app.type_keys("/nomatch\n");
    assert!(app.listeners.rows.is_empty());
    assert_eq!(app.selected_socket(), None);
}

#[test]
fn freeze_keeps_the_view_and_holds_newer_data() {
    let mut app = app_with(sample());
    app.type_keys(" ");
    assert!(app.feed.frozen);
    let mut next = sample();
    next.sockets.push(listener(9999));
    app.update(Msg::data(Arc::new(next), None));
    assert_eq!(
        app.listeners.rows.len(),
        4,
        "frozen: the new listener is not shown"
    );
    assert!(app.feed.pending.is_some(), "newer data is waiting");
    app.type_keys("j");
    assert_eq!(
        selected_port(&app),
        Some(80),
        "keys still work while frozen"
    );
    app.type_keys(" ");
    assert!(!app.feed.frozen && app.feed.pending.is_none());
    assert_eq!(app.listeners.rows.len(), 5);
    assert_eq!(selected_port(&app), Some(80));
}

#[test]
fn refresh_quit_and_help() {
    let mut app = app_with(sample());
    assert_eq!(app.type_keys("r"), vec![Effect::RefreshNow]);
    app.type_keys("?");
    assert!(matches!(app.modal(), Some(Modal::Help { .. })));
    app.type_keys("j");
    assert!(
        matches!(app.modal(), Some(Modal::Help { scroll: 1 })),
        "keys go to the dialog first"
    );
    app.type_keys("\x1b");
    assert!(app.modal().is_none());
    assert_eq!(app.type_keys("q"), vec![Effect::Quit]);
}

#[test]
fn enter_opens_details_of_the_selected_socket() {
    let mut app = app_with(sample());
    app.type_keys("jj\n");
    match &app.modal() {
        Some(Modal::Detail { key, .. }) => assert_eq!(key.local.1, 8080),
        other => panic!("expected the detail pane, got {other:?}"),
    }
    app.type_keys("\x1b");
    assert!(app.modal().is_none());
}

#[test]
fn why_port_entry_watches_the_port() {
    let mut app = app_with(sample());
    let effects = app.type_keys("4e8080\n");
    assert_eq!(
        effects,
        vec![
            Effect::Need(Need::Everything),
            Effect::Watch(Some(portscope::ask::Question::port(8080))),
            Effect::RefreshNow
        ]
    );
    assert!(!app.why_editing());
    app.type_keys("e\x1b");
    assert_eq!(
        app.why.request,
        Some(portscope::ask::Question::port(8080)),
        "esc keeps the watched port"
    );
    let effects = app.type_keys("e70000\n");
    assert!(effects.is_empty(), "a bad port is not watched");
    assert!(
        app.why.error.as_deref().unwrap_or("").contains("outside"),
        "{:?}",
        app.why.error
    );
}

#[test]
fn port_map_zoom_and_goto() {
    let mut app = app_with(sample());
    app.type_keys("3");
    assert_eq!(app.map.zoom, 0);
    app.type_keys("+\n");
    assert_eq!(app.map.zoom, 2, "+ and enter zoom in");
    app.type_keys("-");
    assert_eq!(app.map.zoom, 1);
    app.type_keys(":40000\n");
    assert_eq!(
        (app.map.cursor, app.map.zoom),
        (40000, 5),
        "goto lands on the single port"
    );
    app.type_keys("→→");
    assert_eq!(app.map.cursor, 40002);
    app.type_keys(":99999\n");
    assert!(
        matches!(app.modal(), Some(Modal::Goto(_))),
        "a bad port keeps the dialog open"
    );
    assert!(app.note.is_some());
}

#[test]
fn listener_sort_cycles_port_process_user() {
    let mut snap = sample();
    let mut named = listener(9000);
    named.owners = Arc::from([portscope::model::test_support::owner(5, "aaa")]);
    snap.sockets.push(named);
    let mut app = app_with(snap);
    assert_eq!(selected_port(&app), Some(22));
    app.type_keys("s");
    assert_eq!(
        selected_port(&app),
        Some(22),
        "the cursor stays on its socket"
    );
    let first = app.listeners.rows[0];
    assert_eq!(
        app.snapshot().unwrap().sockets[first].local_port,
        9000,
        "aaa sorts first"
    );
}

#[test]
fn a_collect_failure_keeps_the_last_good_data() {
    let mut app = app_with(sample());
    app.update(Msg::CollectFailed("netlink: EPERM".into()));
    assert_eq!(app.feed.error.as_deref(), Some("netlink: EPERM"));
    assert_eq!(app.listeners.rows.len(), 4);
    app.update(Msg::data(Arc::new(sample()), None));
    assert!(app.feed.error.is_none());
}

mod actions {
    use super::*;
    use portscope::action::exec::ActionOutcome;
    use portscope::action::{PendingAction, Sig};

    fn live(snap: Snapshot) -> App {
        let mut app = app_with(snap);
        app.actions.is_root = true;
        app
    }

    fn pending(app: &App) -> Option<&PendingAction> {
        match &app.modal() {
            Some(Modal::Confirm { action, .. }) => Some(action),
            _ => None,
        }
    }

    #[test]
    fn kill_proposes_sigterm_to_the_shown_pid_and_start_time() {
        let mut app = live(sample());
        app.type_keys("j");
        let shown = app.selected_socket().expect("row").owners[0].clone();
        app.type_keys("K");
        match pending(&app) {
            Some(PendingAction::Signal(a)) => {
                assert_eq!(
                    (a.sig, a.owner.pid, a.owner.start_time),
                    (Sig::Term, shown.pid, shown.start_time)
                );
                assert_eq!(a.port, 80);
            }
            other => panic!("expected a signal to confirm, got {other:?}"),
        }
    }

    #[test]
    fn n_esc_and_enter_change_nothing_and_only_y_executes() {
        for no in ["n", "\x1b", "\n", "x"] {
            let mut app = live(sample());
            app.type_keys("K");
            assert!(pending(&app).is_some());
            let effects = app.type_keys(no);
            assert!(effects.is_empty(), "{no:?} must not act: {effects:?}");
            assert!(app.modal().is_none());
            assert_eq!(app.note.as_deref(), Some("cancelled: nothing was done"));
        }
        let mut app = live(sample());
        app.type_keys("K");
        let expected = pending(&app).cloned().expect("pending");
        let effects = app.type_keys("y");
        assert_eq!(effects, vec![Effect::Execute(Box::new(expected))]);
        assert!(matches!(app.modal(), Some(Modal::Busy(_))));
    }

    #[test]
    fn kernel_held_sockets_have_nothing_to_kill() {
        let mut app = live(sample());
        app.type_keys("2");
        // Connections: the 45000 outgoing socket, then the TIME_WAIT on 8080 (sorted by port).
        let tw_row = app
            .conns
            .rows
            .iter()
            .position(|&i| app.snapshot().unwrap().sockets[i].state == State::TimeWait)
            .expect("tw");
        for _ in 0..tw_row {
            app.type_keys("j");
        }
        app.type_keys("K");
        match &app.modal() {
            Some(Modal::Outcome(o)) => assert!(
                o.lines[0].text.contains("no process to kill") && o.lines[0].text.contains("42 s"),
                "{o:?}"
            ),
            other => panic!("{other:?}"),
        }
        app.type_keys("\x1bD");
        assert!(
            matches!(&app.modal(), Some(Modal::Outcome(o)) if o.lines[0].text.contains("TIME_WAIT"))
        );
    }

    #[test]
    fn close_proposes_the_selected_connection() {
        let mut snap = sample();
        for s in &mut snap.sockets {
            s.cookie = 77;
        }
        let mut app = live(snap);
        app.type_keys("2");
        let want = app.selected_socket().expect("row").key();
        app.type_keys("D");
        match pending(&app) {
            Some(PendingAction::CloseConnection(a)) => assert_eq!(a.socket.key(), want),
            other => panic!("{other:?}"),
        }
        // A listener is not a connection.
        let mut app = live(sample());
        app.type_keys("D");
        assert!(
            matches!(&app.modal(), Some(Modal::Outcome(o)) if o.lines[0].text.contains("listener"))
        );
    }

    #[test]
    fn reserve_prefills_the_port_and_merges_with_the_current_list() {
        let mut snap = sample();
        snap.sysctl.ip_local_reserved_ports =
            portscope::portset::PortSet::parse("9000-9010").unwrap();
        let mut app = live(snap);
        app.type_keys("jjj"); // the listener on 40000
        app.type_keys("R");
        match &app.modal() {
            Some(Modal::Reserve(d)) => assert_eq!(d.input.value(), "40000"),
            other => panic!("{other:?}"),
        }
        app.type_keys(",8081\n");
        match pending(&app) {
            Some(PendingAction::ApplyReservation(a)) => {
                assert_eq!(a.plan.proposed.to_string(), "8081,9000-9010,40000");
                assert_eq!(a.plan.added.to_string(), "8081,40000");
                assert_eq!(a.request.value.to_string(), "8081,9000-9010,40000");
                assert!(
                    a.request
                        .dropin
                        .as_ref()
                        .is_some_and(|d| d.ends_with("90-portscope-reserved-ports.conf"))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(app.type_keys("n").is_empty());
        // A bad list stays in the planner with the reason.
        app.type_keys("R");
        app.type_keys("x\n");
        assert!(matches!(app.modal(), Some(Modal::Reserve(_))));
        assert!(
            app.note.as_deref().unwrap_or("").contains("not a number"),
            "{:?}",
            app.note
        );
    }

    #[test]
    fn an_unread_reserved_list_is_never_merged_with_a_guess() {
        let mut snap = sample();
        snap.sysctl.unread.push("ip_local_reserved_ports".into());
        let mut app = live(snap);
        app.type_keys("jjjR\n");
        assert!(
            pending(&app).is_none(),
            "nothing to confirm: {:?}",
            app.modal()
        );
        assert!(
            app.note
                .as_deref()
                .unwrap_or("")
                .contains("could not be read"),
            "{:?}",
            app.note
        );
    }

    #[test]
    fn reserve_at_risk_prefills_every_at_risk_listener() {
        let mut app = live(sample());
        app.type_keys("A");
        match &app.modal() {
            Some(Modal::Reserve(d)) => assert_eq!(d.input.value(), "40000"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_root_reserve_shows_the_commands_instead() {
        let mut app = app_with(sample());
        app.actions.is_root = false;
        app.type_keys("jjjR\n");
        match &app.modal() {
            Some(Modal::Outcome(o)) => {
                let text = o.text_lines().join("\n");
                assert!(
                    text.contains("needs root") && text.contains("ansible.posix.sysctl"),
                    "{text}"
                );
                assert!(text.contains("40000"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_ignored_sigterm_leads_to_a_confirmed_sigkill() {
        let mut app = live(sample());
        app.type_keys("K");
        let Some(PendingAction::Signal(term)) = pending(&app).cloned() else {
            panic!()
        };
        app.type_keys("y");
        let kill = PendingAction::Signal(portscope::action::SignalAction {
            sig: Sig::Kill,
            ..term
        });
        let effects = app.update(Msg::ActionDone(Box::new(ActionOutcome {
            status: portscope::action::exec::Status::NoEffect,
            title: "SIGTERM".into(),
            lines: vec!["still running 3 s after SIGTERM".into()],
            blocks: Vec::new(),
            follow_up: Some(kill.clone()),
            logged: portscope::action::exec::Logged::NotAnAction,
        })));
        assert_eq!(effects, vec![Effect::RefreshNow]);
        match &app.modal() {
            Some(Modal::Confirm {
                action, context, ..
            }) => {
                assert_eq!(action, &kill);
                assert!(context[0].contains("still running"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            app.type_keys("\n").is_empty(),
            "SIGKILL also defaults to No"
        );
    }

    #[test]
    fn replay_disables_actions_and_says_why() {
        let mut app = App::new(KeyMap::default_map(), true);
        app.update(Msg::data(Arc::new(sample()), None));
        for k in ["K", "D", "R", "A", "U"] {
            app.type_keys(k);
            assert!(app.modal().is_none(), "{k}");
            assert!(
                app.note
                    .as_deref()
                    .unwrap_or("")
                    .contains("disabled in a replay"),
                "{k}"
            );
        }
    }
}

#[test]
fn esc_glued_to_the_next_key_is_read_as_both() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let mut app = app_with(sample());
    app.type_keys("/8080\n");
    assert_eq!(app.listeners.rows.len(), 1);
    // "\x1b2" in one read arrives as Alt-2: clear the filter, then switch view.
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('2'),
        KeyModifiers::ALT,
    )));
    assert_eq!(app.view, View::Connections);
    assert!(app.listeners.filter.value().is_empty(), "esc cleared it");
    assert_eq!(app.listeners.rows.len(), 4);
}

#[test]
fn w_switches_network_namespaces_without_a_restart() {
    use portscope::tui::app::{App, Effect};
    use portscope::tui::keymap::KeyMap;
    use portscope::tui::netns_pick::Scope;
    let mut app = App::new(KeyMap::default_map(), false);
    let effects = app.type_keys("w");
    assert!(effects.contains(&Effect::Scope(Scope::All)), "{effects:?}");
    assert!(effects.contains(&Effect::RefreshNow));
    // No namespace listed yet: the next press goes back to the start namespace.
    let effects = app.type_keys("w");
    assert!(
        effects.contains(&Effect::Scope(Scope::Start)),
        "{effects:?}"
    );
    // A replay has no live namespaces to switch to.
    let mut replay = App::new(KeyMap::default_map(), true);
    assert!(replay.type_keys("w").is_empty());
}

#[test]
fn q_and_esc_close_the_topmost_overlay_instead_of_quitting() {
    let mut app = app_with(sample());
    for close in ["q", "\x1b"] {
        app.type_keys("?");
        assert!(matches!(app.modal(), Some(Modal::Help { .. })));
        let effects = app.type_keys(close);
        assert!(app.modal().is_none(), "{close:?} closes help");
        assert!(!effects.contains(&Effect::Quit), "{close:?} must not quit");
        app.type_keys("\n");
        assert!(matches!(app.modal(), Some(Modal::Detail { .. })));
        let effects = app.type_keys(close);
        assert!(app.modal().is_none(), "{close:?} closes the detail pane");
        assert!(!effects.contains(&Effect::Quit));
    }
    // With nothing open, q quits as before.
    assert!(app.type_keys("q").contains(&Effect::Quit));
}

#[test]
fn g_and_shift_g_go_to_top_and_bottom_and_colon_goes_to_a_port() {
    let mut app = app_with(sample());
    app.type_keys("G");
    assert_eq!(selected_port(&app), Some(40000));
    app.type_keys("g");
    assert_eq!(selected_port(&app), Some(22));
    app.type_keys("3:8080\n");
    assert_eq!(app.map.cursor, 8080, ": opens go-to-port in the map");
    assert!(app.modal().is_none());
    app.type_keys("g");
    assert_eq!(app.map.cursor, 0, "g is the lowest port in the map");
}

#[test]
fn n_and_shift_n_walk_the_filter_matches_wrapping_around() {
    let mut app = app_with(sample());
    app.type_keys("n");
    assert!(
        app.note.as_deref().is_some_and(|n| n.contains("no search")),
        "{:?}",
        app.note
    );
    app.type_keys("/tcp\n");
    let ports: Vec<u16> = app
        .listeners
        .rows
        .iter()
        .map(|&i| app.snapshot().unwrap().sockets[i].local_port)
        .collect();
    assert_eq!(ports, vec![22, 80, 8080, 40000]);
    assert_eq!(selected_port(&app), Some(22));
    app.type_keys("n");
    assert_eq!(selected_port(&app), Some(80));
    app.type_keys("N");
    assert_eq!(selected_port(&app), Some(22));
    app.type_keys("N");
    assert_eq!(
        selected_port(&app),
        Some(40000),
        "N wraps to the last match"
    );
    app.type_keys("n");
    assert_eq!(selected_port(&app), Some(22), "n wraps to the first match");
}

#[test]
fn keys_that_do_nothing_here_say_so() {
    let mut app = app_with(sample());
    app.type_keys("3s");
    assert_eq!(app.view, View::PortMap);
    let note = app.note.clone().unwrap_or_default();
    assert!(
        note.contains("sorts") && note.contains("Listeners and Connections"),
        "{note}"
    );
    app.type_keys("x");
    let note = app.note.clone().unwrap_or_default();
    assert!(note.contains("x: not a key here"), "{note}");
    // The next key that acts clears the note.
    app.type_keys("j");
    assert!(app.note.is_none());
    app.type_keys("1:");
    assert!(app.modal().is_none(), "go to port belongs to the map");
    assert!(app.note.as_deref().is_some_and(|n| n.contains("Port map")));
}

#[test]
fn help_never_scrolls_past_its_last_line() {
    use portscope::tui::draw::Clock;
    use portscope::tui::theme::Theme;
    let mut app = app_with(sample());
    app.type_keys("?");
    let clock = Clock::fixed(jiff::Timestamp::UNIX_EPOCH);
    let theme = Theme::defaults(true);
    // Draw once so the pane knows its height, then hold j down.
    portscope::tui::render_offscreen(&app, &theme, &clock, 80, 24);
    app.type_keys(&"j".repeat(200));
    let text = portscope::tui::buffer_text(&portscope::tui::render_offscreen(
        &app, &theme, &clock, 80, 24,
    ));
    let Some(&Modal::Help { scroll }) = app.modal() else {
        panic!("help closed")
    };
    assert!(scroll < 200, "the scroll stopped: {scroll}");
    // The last line of the help sits on the pane's last row: no blank lines under it.
    let rows: Vec<&str> = text.lines().collect();
    let bottom = rows.iter().rposition(|l| l.contains('└')).unwrap();
    assert!(rows[bottom - 1].contains("FW2"), "{text}");
    app.type_keys("k");
    let Some(&Modal::Help { scroll: after }) = app.modal() else {
        panic!("help closed")
    };
    assert_eq!(after, scroll - 1, "one k scrolls back at once");
    app.type_keys("g");
    assert!(matches!(app.modal(), Some(Modal::Help { scroll: 0 })));
}

#[test]
fn the_collector_is_told_what_the_view_needs_fresh_once_per_change() {
    let mut app = app_with(sample());
    let needs = |e: Vec<Effect>| -> Vec<Need> {
        e.into_iter()
            .filter_map(|e| match e {
                Effect::Need(n) => Some(n),
                _ => None,
            })
            .collect()
    };
    assert_eq!(app.need(), Need::Listening, "the Listeners view starts");
    assert_eq!(needs(app.type_keys("2")), vec![Need::Everything]);
    assert_eq!(needs(app.type_keys("jk")), Vec::<Need>::new());
    assert_eq!(needs(app.type_keys("3")), vec![Need::Listening]);
    assert_eq!(needs(app.type_keys("1")), Vec::<Need>::new());
    assert_eq!(needs(app.type_keys("4")), vec![Need::Everything]);
}

/// The status line of `app` drawn at `now`.
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

#[test]
fn a_recheck_moves_the_clock_and_dates_the_connections_without_new_data() {
    use portscope::tui::app::Recheck;
    let snap = sample();
    let t0 = snap.taken_at;
    let later = t0 + jiff::SignedDuration::from_secs(7);
    let mut app = app_with(snap);
    let data = Arc::clone(app.feed.snap.as_ref().unwrap());
    let clock = |t: jiff::Timestamp| {
        t.to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%H:%M:%S")
            .to_string()
    };
    assert!(!status_line(&app, t0).contains("conns as of"));

    app.update(Msg::Rechecked(Recheck {
        taken_at: later,
        duration_us: 4_000,
    }));
    let line = status_line(&app, later);
    assert!(line.contains(&clock(later)), "the reading's time: {line}");
    assert!(line.contains("took 4 ms"), "the reading's cost: {line}");
    assert!(line.contains("conns as of 7 s ago"), "{line}");
    assert!(
        Arc::ptr_eq(app.feed.snap.as_ref().unwrap(), &data),
        "no new table"
    );

    // New data replaces the recheck; a frozen screen keeps the time of what it shows.
    app.update(Msg::data(Arc::new(sample()), None));
    assert!(app.feed.rechecked.is_none());
    app.type_keys(" ");
    assert!(app.feed.frozen, "space freezes");
    app.update(Msg::Rechecked(Recheck {
        taken_at: later,
        duration_us: 4_000,
    }));
    assert!(
        app.feed.rechecked.is_none(),
        "a frozen screen is not rechecked"
    );
}

#[test]
fn a_digit_in_the_why_view_with_no_question_starts_the_port_field() {
    let mut app =
        portscope::tui::app::App::new(portscope::tui::keymap::KeyMap::default_map(), true);
    app.type_keys("4");
    app.type_keys("8080");
    assert!(matches!(app.mode, portscope::tui::app::Mode::WhyInput));
    assert_eq!(app.why.input.value(), "8080");
    assert_eq!(app.view, portscope::tui::app::View::Why);
    // Asked: digits change view again, as everywhere.
    app.type_keys("\n");
    assert!(app.why.request.is_some());
    app.type_keys("1");
    assert_eq!(app.view, portscope::tui::app::View::Listeners);
}
