//! Connections sorted, grouped and folded, and each table's parsed filter: keys in, state out.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::analyze::conn_groups::GroupBy;
use portscope::analyze::conn_sort::SortKey;
use portscope::model::test_support::{listener, outgoing, owner, snapshot, with_state};
use portscope::model::{Snapshot, Socket, State};
use portscope::tui::app::{App, ConnLine, Modal, Msg, View};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::theme::Theme;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

fn app_with(snap: Snapshot) -> App {
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::new(snap), None));
    app
}

fn owned(mut s: Socket, pid: u32, comm: &str) -> Socket {
    s.owners = Arc::from([owner(pid, comm)]);
    s
}

/// An api with connections to a database, a web server with CLOSE_WAITs on 8080, TIME_WAITs
/// held by the kernel, and listeners (never in Connections).
fn incident() -> Vec<Socket> {
    let mut socks = vec![owned(listener(8080), 900, "web"), listener(5432)];
    for i in 0..6 {
        let mut s = owned(outgoing(40000 + i, 5432), 812, "api");
        s.remote_addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
        socks.push(s);
    }
    for i in 0..3 {
        let mut s = owned(
            with_state(outgoing(8080, 50000 + i), State::CloseWait),
            900,
            "web",
        );
        s.autobound = false;
        socks.push(s);
    }
    for i in 0..2 {
        let mut s = with_state(outgoing(8080, 51000 + i), State::TimeWait);
        s.owners = Arc::from([]);
        s.kernel_held = true;
        socks.push(s);
    }
    socks
}

/// What is on screen in Connections: "G label count" for groups, "  port" for sockets.
fn lines(app: &App) -> Vec<String> {
    let snap = app.snapshot().unwrap();
    app.conns
        .lines
        .iter()
        .map(|l| match *l {
            ConnLine::Group(g) => {
                let g = &app.conns.groups[g];
                format!("G {} {}", g.label, g.count)
            }
            ConnLine::Socket(i) | ConnLine::Member { socket: i, .. } => {
                format!("  {}", snap.sockets[i].local_port)
            }
        })
        .collect()
}

fn cursor(app: &App) -> String {
    lines(app)[app.conns.nav.selected].clone()
}

#[test]
fn s_cycles_the_sort_column_and_shift_s_reverses() {
    let mut app = app_with(snapshot(incident()));
    app.type_keys("2");
    assert_eq!(app.conns.sort, None, "the kernel's order at first");
    let order: Vec<Option<SortKey>> = (0..8)
        .map(|_| {
            app.type_keys("s");
            app.conns.sort
        })
        .collect();
    assert_eq!(
        order,
        [
            Some(SortKey::Proto),
            Some(SortKey::State),
            Some(SortKey::Local),
            Some(SortKey::Remote),
            Some(SortKey::Mark),
            Some(SortKey::Process),
            Some(SortKey::Pid),
            None,
        ]
    );
    app.type_keys("ss"); // state
    let snap = app.snapshot().unwrap();
    let states: Vec<State> = app
        .conns
        .rows
        .iter()
        .map(|&i| snap.sockets[i].state)
        .collect();
    assert_eq!(states.first(), Some(&State::Established));
    assert_eq!(states.last(), Some(&State::TimeWait));
    app.type_keys("S");
    assert!(app.conns.descending);
    let snap = app.snapshot().unwrap();
    assert_eq!(
        snap.sockets[app.conns.rows[0]].state,
        State::TimeWait,
        "reversed"
    );
    assert!(app.note.is_none(), "S says nothing: the header shows it");
    // Listeners still cycle their own three orders.
    app.type_keys("1s");
    assert_eq!(app.listeners.sort.label(), "process");
    assert_eq!(app.conns.sort, Some(SortKey::State), "untouched");
}

#[test]
fn f_groups_by_process_remote_state_port_then_none() {
    let mut app = app_with(snapshot(incident()));
    app.type_keys("2");
    let mut seen = Vec::new();
    for _ in 0..5 {
        app.type_keys("f");
        seen.push(app.conns.group);
    }
    assert_eq!(
        seen,
        [
            Some(GroupBy::Process),
            Some(GroupBy::RemoteAddr),
            Some(GroupBy::Remote),
            Some(GroupBy::StatePort),
            None
        ]
    );
    app.type_keys("fg");
    assert_eq!(
        lines(&app),
        [
            "G api (pid 812) 6",
            "G web (pid 900) 3",
            "G (kernel: no process) 2"
        ],
        "folded by default, biggest first, listeners not counted"
    );
    let g = &app.conns.groups[1];
    assert_eq!(g.states, [(State::CloseWait, 3)]);
    app.type_keys("fff");
    assert_eq!(app.conns.group, Some(GroupBy::StatePort));
    assert_eq!(lines(&app)[0], "G CLOSE-WAIT on tcp/8080 3");
    assert!(lines(&app).contains(&"G ESTAB on tcp/40000 1".to_string()));
}

#[test]
fn enter_and_arrows_fold_and_unfold_and_actions_need_one_connection() {
    let mut app = app_with(snapshot(incident()));
    app.type_keys("2fgj");
    assert_eq!(cursor(&app), "G web (pid 900) 3");
    assert!(app.selected_socket().is_none(), "a group is not a socket");
    // K and D on a group say what they need instead of acting on many sockets.
    for key in ["K", "D", "R"] {
        app.type_keys(key);
        assert!(app.modal().is_none(), "{key} opened nothing");
        let note = app.note.clone().unwrap_or_default();
        assert!(note.contains("single connection"), "{key}: {note}");
    }
    app.type_keys("\n");
    assert_eq!(
        lines(&app),
        [
            "G api (pid 812) 6",
            "G web (pid 900) 3",
            "  8080",
            "  8080",
            "  8080",
            "G (kernel: no process) 2"
        ]
    );
    assert_eq!(
        cursor(&app),
        "G web (pid 900) 3",
        "the cursor stays on the group"
    );
    app.type_keys("j");
    assert_eq!(app.selected_socket().unwrap().state, State::CloseWait);
    // On a member, actions act as on any row: the confirmation dialog for that socket.
    app.type_keys("D");
    assert!(app.modal().is_some(), "{:?}", app.note);
    app.type_keys("\x1b");
    // Enter on a member opens its detail, as before.
    assert!(app.modal().is_none(), "{:?}", app.modal());
    app.type_keys("\n");
    assert!(
        matches!(app.modal(), Some(Modal::Detail { .. })),
        "{:?} {:?}",
        app.modal(),
        app.note
    );
    app.type_keys("\x1b");
    // Left on a member folds its group, with the cursor on it.
    app.type_keys("j←");
    assert_eq!(lines(&app).len(), 3);
    assert_eq!(cursor(&app), "G web (pid 900) 3");
    app.type_keys("→");
    assert_eq!(lines(&app).len(), 6, "right unfolds");
    app.type_keys("→");
    assert_eq!(lines(&app).len(), 6, "and again does not fold");
    app.type_keys("\n");
    assert_eq!(lines(&app).len(), 3, "enter toggles");
    // Ungrouped, left and right say how to group.
    app.type_keys("ffff←");
    assert_eq!(app.conns.group, None);
    let note = app.note.clone().unwrap_or_default();
    assert!(note.contains("f groups"), "{note}");
}

#[test]
fn cursor_stays_on_its_group_or_socket_across_a_new_snapshot() {
    let mut app = app_with(snapshot(incident()));
    app.type_keys("2fgj\nj");
    let before = app.selected_socket().unwrap().key();
    // A new snapshot where the api has more connections than before and one CLOSE_WAIT is gone:
    // rows move, the cursor does not.
    let mut socks = incident();
    for i in 0..4 {
        socks.insert(2, owned(outgoing(42000 + i, 5432), 812, "api"));
    }
    socks.retain(|s| !(s.state == State::CloseWait && s.remote_port == 50002));
    socks.reverse();
    app.update(Msg::data(Arc::new(snapshot(socks.clone())), None));
    assert_eq!(app.selected_socket().map(|s| s.key()), Some(before));
    assert_eq!(
        lines(&app).len(),
        3 + 2,
        "web still unfolded, with its two left"
    );
    // On a group row, the cursor stays on the group.
    while !cursor(&app).starts_with('G') {
        app.type_keys("k");
    }
    assert_eq!(cursor(&app), "G web (pid 900) 2");
    socks.rotate_left(3);
    app.update(Msg::data(Arc::new(snapshot(socks)), None));
    assert_eq!(cursor(&app), "G web (pid 900) 2");
    // Grouping off from a group row (folded now): the cursor lands on that group's first
    // socket, and grouping on again finds the group that holds it.
    app.type_keys("\nffff");
    assert_eq!(app.conns.group, None);
    assert_eq!(app.selected_socket().unwrap().owners[0].pid, 900);
    // Grouping on from a socket: the cursor lands on the group that holds it.
    app.type_keys("f");
    assert_eq!(cursor(&app), "G web (pid 900) 2");
}

#[test]
fn filters_apply_before_grouping_and_each_table_keeps_its_own() {
    let mut app = app_with(snapshot(incident()));
    app.type_keys("2f/state:cw,tw\n");
    assert_eq!(
        lines(&app),
        ["G web (pid 900) 3", "G (kernel: no process) 2"]
    );
    app.type_keys("1");
    assert_eq!(app.listeners.rows.len(), 2, "Listeners keep no filter");
    app.type_keys("/sport:5432\n");
    assert_eq!(app.listeners.rows.len(), 1);
    app.type_keys("2");
    assert_eq!(app.conns.rows.len(), 5, "Connections keep theirs");
    app.type_keys("/proc:api\n");
    assert_eq!(lines(&app), ["G api (pid 812) 6"]);
}

#[test]
fn a_half_typed_field_keeps_the_last_result_and_a_bad_one_says_why() {
    let mut app = app_with(snapshot(incident()));
    app.type_keys("2/state:cw");
    assert_eq!(app.conns.rows.len(), 3);
    assert!(app.filter_error().is_none());
    app.type_keys(" sport:");
    assert_eq!(
        app.conns.rows.len(),
        3,
        "the terms that parse stay in force"
    );
    let err = app.filter_error().unwrap();
    assert!(
        err.contains("sport") && err.contains("needs a value"),
        "{err}"
    );
    app.type_keys("8080");
    assert!(app.filter_error().is_none());
    assert_eq!(app.conns.rows.len(), 3);
    app.type_keys(" colour:red\n");
    let err = app.filter_error().unwrap().to_string();
    assert!(
        err.contains("unknown field") && err.contains("dport"),
        "{err}"
    );
    // Shown in the footer, after the filter, styled as an error.
    let theme = Theme::defaults(false);
    let buf = portscope::tui::render_offscreen(
        &app,
        &theme,
        &Clock::fixed(jiff::Timestamp::UNIX_EPOCH),
        120,
        30,
    );
    let text = portscope::tui::buffer_text(&buf);
    let footer = text.lines().last().unwrap();
    assert!(footer.contains("unknown field"), "{footer}");
    let x = footer.find("unknown field").unwrap();
    let col = footer[..x].chars().count() as u16;
    assert_eq!(buf[(col, 29)].fg, theme.bad().fg.unwrap());
    // Esc clears the filter and its error.
    app.type_keys("\x1b");
    assert!(app.filter_error().is_none());
    assert_eq!(app.conns.rows.len(), 11);
    assert_eq!(app.view, View::Connections);
}

/// 100,000 connections of 1,000 processes: filtering, sorting, grouping, unfolding, a refresh
/// and a frame must all stay near-linear (a quadratic step would take minutes at this size).
#[test]
fn grouping_and_drawing_a_hundred_thousand_connections() {
    let n: u32 = 100_000;
    let owners: Vec<_> = (0..1000).map(|p| owner(2000 + p, "worker")).collect();
    let socks: Vec<Socket> = (0..n)
        .map(|i| {
            let mut s = outgoing(1024 + (i % 60000) as u16, 5432);
            s.remote_addr = IpAddr::V4(Ipv4Addr::new(10, 0, (i / 60000) as u8, (i % 250) as u8));
            s.inode = u64::from(i) + 1;
            if i % 7 == 0 {
                s.state = State::CloseWait;
            }
            s.owners = Arc::from([owners[(i % 1000) as usize].clone()]);
            s
        })
        .collect();
    let snap = Arc::new(snapshot(socks));
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
    let theme = Theme::defaults(true);
    let clock = Clock::fixed(jiff::Timestamp::UNIX_EPOCH);
    app.type_keys("2ssssssfG");
    // A frame measures the page, as the running TUI has before any key.
    portscope::tui::render_offscreen(&app, &theme, &clock, 120, 35);
    app.type_keys("\n");
    assert_eq!(app.conns.sort, Some(SortKey::Process));
    assert_eq!(app.conns.groups.len(), 1000);
    assert_eq!(app.conns.lines.len(), 1000 + 100, "the last group unfolded");
    let text = portscope::tui::buffer_text(&portscope::tui::render_offscreen(
        &app, &theme, &clock, 120, 35,
    ));
    let cw = (0..100).filter(|k| (999 + 1000 * k) % 7 == 0).count();
    let want = format!("worker (pid 2999) · 100 conns · {} EST {cw} CW", 100 - cw);
    assert!(text.contains(&want), "{want}\n{text}");
    // Unfolded at the bottom, the group scrolled up to show its members under it.
    let rows: Vec<&str> = text.lines().collect();
    let at = rows.iter().position(|l| l.contains(&want)).unwrap();
    assert!(
        rows[at + 1].contains("worker") && rows[at + 1].contains("2999"),
        "{text}"
    );
    let group = app.conns.selected_line();
    app.update(Msg::data(Arc::clone(&snap), None));
    assert_eq!(
        app.conns.selected_line(),
        group,
        "a refresh keeps the cursor"
    );
    app.type_keys("/state:cw\n");
    let cws = (0..n).filter(|i| i % 7 == 0).count();
    assert_eq!(app.conns.rows.len(), cws);
    app.type_keys("ffff");
    assert_eq!(app.conns.lines.len(), cws);
    portscope::tui::render_offscreen(&app, &theme, &clock, 200, 50);
}
