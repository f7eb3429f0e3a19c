//! Rendering: every view, the help, the detail pane and a failure, from the incident recording
//! (assets/incident.json) at 80x24 and at a wide size, compared with snapshot files.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::tui::{ipv6_recording, redact_times};

use portscope::ask::recorded;
use portscope::model::Snapshot;
use portscope::tui::app::{App, Msg};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
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
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys(keys);
    // As the runtime does: a draw that measured the map anew settles what is under its cursor.
    render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    );
    if app.map_stale() {
        app.update(Msg::Resize);
    }
    if let Some(req) = app.why.request.clone() {
        let d = recorded(&req, &snap);
        app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(d))));
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
    connections_sorted_by_state_reversed: "2ssS",
    connections_grouped_by_process: "2f",
    connections_grouped_expanded: "2fgj\n",
    connections_grouped_by_state_port_expanded: "2ffffj→",
    connections_filtered_then_grouped: "2/state:cw\nf\n",
    filter_bad_field: "2/colour:red",
    port_map: "3",
    port_map_zoomed_on_10080: "3:10080\n",
    why_10080: "4e10080\n",
    why_10080_scrolled: "4e10080\njjjjjjjjjj",
    why_typing: "4e1008",
    help: "?",
    detail_of_java: "2/java\n\n",
    filter_editing: "/nginx",
}

#[test]
fn collect_failure_dims_old_data_and_says_so() {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
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
    app.update(Msg::data(Arc::clone(&snap), None));
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

/// A live-mode app on the recording (actions enabled), with fixed paths so renders are stable.
fn dialog(keys: &str, root: bool, w: u16, h: u16) -> String {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), false);
    app.actions.is_root = root;
    app.actions.journal = Some("/var/lib/portscope/reserve-journal.json".into());
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys(keys);
    let buf = render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    );
    redact_times(&buffer_text(&buf))
}

macro_rules! dialogs {
    ($($name:ident: $keys:expr, $root:expr, $must:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            for (w, h) in [(80u16, 24u16), (120, 35)] {
                let text = dialog($keys, $root, w, h);
                assert!(text.contains($must), "{}x{} lacks {:?}:\n{text}", w, h, $must);
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), text);
            }
        }
    )*};
}

dialogs! {
    confirm_kill_nginx: "jjjK", true, "Send SIGTERM to nginx",
    confirm_close_java_connection: "2/java\nD", true, "SOCK_DESTROY",
    reserve_planner_kubelet: "GR", true, "proposed",
    confirm_reservation: "GR\n", true, "Set net.ipv4.ip_local_reserved_ports",
    kill_time_wait_refused: "2/time-wait\nK", true, "held by the kernel (TIME_WAIT)",
    reservation_without_root: "GR\n", false, "needs root",
}

/// The listeners view of an all-namespace snapshot: a namespace column, and no at-risk badges
/// judged by the wrong namespace's sysctls.
#[test]
fn listeners_all_netns() {
    use portscope::model::NetnsSummary;
    let mut snap = (*recording()).clone();
    let own = snap.netns.inode;
    let web = 4026532999;
    let summary = |inode, label: &str, is_own| NetnsSummary {
        inode,
        label: label.into(),
        mounts: vec![],
        pid: None,
        own: is_own,
        full: is_own,
        sockets: 0,
        error: None,
    };
    snap.netns.target = "all".into();
    snap.namespaces = vec![
        summary(own, "host", true),
        summary(web, "docker: web (compose app/web)", false),
    ];
    for (i, s) in snap.sockets.iter_mut().enumerate() {
        s.netns = if i % 3 == 0 { web } else { own };
    }
    let snap = Arc::new(snap);
    for (w, h) in [(80u16, 24u16), (120, 35)] {
        let mut app = App::new(KeyMap::default_map(), true);
        app.update(Msg::data(Arc::clone(&snap), None));
        let buf = render_offscreen(
            &app,
            &Theme::defaults(true),
            &Clock::fixed(snap.taken_at),
            w,
            h,
        );
        let text = buffer_text(&buf);
        assert!(text.contains("netns"), "{text}");
        assert!(text.contains("docker: web"), "{text}");
        insta::assert_snapshot!(format!("listeners_all_netns_{w}x{h}"), text);
    }
}

/// Renders the IPv6 recording after `keys`, and checks that each table row shows the ports of
/// the socket it stands for (`ports` gives them), whole, not cut.
fn ipv6_screen(
    keys: &str,
    w: u16,
    h: u16,
    ports: fn(&portscope::model::Socket) -> Vec<u16>,
) -> String {
    let snap = ipv6_recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys(keys);
    let buf = render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    );
    let text = buffer_text(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let rows: &[usize] = if keys.starts_with('2') {
        &app.conns.rows
    } else {
        &app.listeners.rows
    };
    // The table's rows start under its column header; find that line.
    let head = if keys.starts_with('2') {
        "local"
    } else {
        "address:port"
    };
    let first = lines
        .iter()
        .rposition(|l| l.starts_with('│') && l.contains(head))
        .unwrap_or_else(|| panic!("no table header at {w}x{h}:\n{text}"))
        + 1;
    let mut checked = 0;
    for (line, &i) in lines[first..].iter().zip(rows) {
        if line.starts_with('└') {
            break;
        }
        let s = &snap.sockets[i];
        for port in ports(s) {
            let whole = [format!(":{port} "), format!(":{port}│")];
            assert!(
                whole.iter().any(|p| line.contains(p.as_str())),
                "port {port} cut at {w}x{h}: {line}\n{text}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no rows checked at {w}x{h}:\n{text}");
    if w <= 60 {
        assert!(
            text.contains('…'),
            "IPv6 addresses are shortened at {w}x{h}:\n{text}"
        );
    }
    text
}

#[test]
fn ipv6_listeners_keep_every_port() {
    for (w, h) in [(60u16, 20u16), (80, 24), (120, 35)] {
        let text = ipv6_screen("", w, h, |s| vec![s.local_port]);
        assert!(text.lines().all(|l| l.chars().count() <= usize::from(w)));
        insta::assert_snapshot!(format!("ipv6_listeners_{w}x{h}"), text);
    }
}

#[test]
fn ipv6_connections_keep_every_port() {
    for (w, h) in [(60u16, 20u16), (80, 24), (120, 35)] {
        let text = ipv6_screen("2", w, h, |s| {
            let mut p = vec![s.local_port];
            if s.remote_port != 0 {
                p.push(s.remote_port);
            }
            p
        });
        assert!(text.lines().all(|l| l.chars().count() <= usize::from(w)));
        insta::assert_snapshot!(format!("ipv6_connections_{w}x{h}"), text);
    }
}

#[test]
fn detail_shows_the_start_time_as_clock_time_and_age() {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys("2/java\n\n");
    let hz = procfs::ticks_per_second();
    let java = app.selected_socket().unwrap().owners[0].start_time;
    // Booted so that java started exactly 2 h 14 m before the snapshot.
    let started = snap.taken_at.as_second() - 2 * 3600 - 14 * 60;
    let boot = jiff::Timestamp::from_second(started - (java / hz) as i64).unwrap();
    let clock = Clock::fixed(snap.taken_at).with_boot(boot);
    let text = buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &clock,
        120,
        35,
    ));
    let hhmm = jiff::Timestamp::from_second(started)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M")
        .to_string();
    assert!(
        text.contains(&format!("started: {hhmm} · 2 h 14 m ago")),
        "{text}"
    );
    assert!(!text.contains("start time"), "no raw ticks: {text}");
}

/// Two programs in one SO_REUSEPORT group: the why view shows the group's warning, the same
/// words `why` prints.
#[test]
fn why_warns_of_a_mixed_reuseport_group() {
    use portscope::model::test_support::{listener, owner, snapshot};
    let mut snap = snapshot(vec![]);
    for (pid, comm, start) in [(4711, "api-v1", 100), (4812, "api-v2", 2_000_000)] {
        let mut s = listener(9000);
        s.inode = u64::from(pid);
        let mut o = (*owner(pid, comm)).clone();
        o.start_time = start;
        s.owners = Arc::from([Arc::new(o)]);
        snap.sockets.push(s);
    }
    let snap = Arc::new(snap);
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys("4e9000\n");
    let req = app.why.request.clone().expect("a why request");
    let d = recorded(&req, &snap);
    app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(d))));
    let clock = Clock::fixed(snap.taken_at);
    let text = buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &clock,
        120,
        35,
    ));
    assert!(
        text.contains("tcp 0.0.0.0:9000 is shared by a SO_REUSEPORT group of 2 programs"),
        "{text}"
    );
    assert!(text.contains("api-v1 (pid 4711)"), "{text}");
}

/// Text with every run of whitespace (a wrap, an indent) and the TUI's box edges made one space.
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One outline, two surfaces: every sentence `why` prints about an answer (its headings,
/// causes, remedies with their commands and warnings, notes) is in the TUI's why view too, and
/// in the same order.
#[test]
fn the_why_view_and_why_say_the_same_things_in_the_same_order() {
    use portscope::analyze::why::outline::{Item, Section, Shape, outline};
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys("4e10080\n");
    let d = recorded(&app.why.request.clone().unwrap(), &snap);
    app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(d.clone()))));
    // Wide and tall enough that the view neither wraps nor clips a command.
    let tui = flat(&buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        400,
        120,
    )));
    let cli = flat(&portscope::cli::why::text::render(&d, &snap, true, None));
    let shape = Shape {
        max_causes: usize::MAX,
        examples: 2,
        alternatives_of: Some(0),
        max_alternatives: usize::MAX,
        duration: &|s| s.to_string(),
    };
    let mut said = Vec::new();
    for item in outline(&d, &shape) {
        match item {
            // The TUI offers the selected cause's alternatives and says which cause.
            Item::Heading(Section::OrInstead(_)) => said.push("Or instead".into()),
            Item::Heading(s) => said.push(s.title()),
            Item::Cause { cause, .. } => said.push(cause.summary.clone()),
            Item::Remedy { remedy, .. } => {
                said.push(remedy.text.clone());
                if !remedy.command.is_empty() {
                    said.push(remedy.command.clone());
                }
            }
            Item::Note(n) => said.push(n.to_string()),
            Item::Text(t) => said.push(t.to_string()),
            _ => {}
        }
    }
    assert!(said.len() > 8, "{said:?}");
    for surface in [&tui, &cli] {
        let mut from = 0;
        for s in &said {
            let s = flat(s);
            let at = surface[from..]
                .find(&s)
                .unwrap_or_else(|| panic!("{s:?} missing or out of order in:\n{surface}"));
            from += at + s.len();
        }
    }
}

/// `--connect DST:PORT` in the why field: connect()'s local ports toward it, from the table on
/// screen, in `why --connect`'s words.
#[test]
fn the_why_field_answers_connect_questions() {
    use portscope::model::test_support::{outgoing, snapshot};
    let mut snap = snapshot((40000..40010).map(|p| outgoing(p, 5432)).collect());
    snap.sysctl.ip_local_port_range = [40000, 40009];
    let snap = Arc::new(snap);
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys("4e--connect 127.0.0.1:5432\n");
    assert!(app.why.error.is_none(), "{:?}", app.why.error);
    let text = buffer_text(&render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        120,
        35,
    ));
    assert!(text.contains("EXHAUSTED"), "{text}");
    assert!(text.contains("--connect 127.0.0.1:5432"), "{text}");
    let u =
        &portscope::analyze::connect::toward(&snap, "127.0.0.1".parse().unwrap(), Some(5432))[0];
    let summary = portscope::analyze::connect_text::summary(u);
    assert!(
        flat(&text).contains(&flat(&summary)[..60]),
        "{summary}\n{text}"
    );
    // A destination that does not parse is said under the field, and nothing changes.
    app.type_keys("e--connect nope:99999\n");
    assert!(
        app.why
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("--connect")),
        "{:?}",
        app.why.error
    );
}

/// The incident with its :7000 listener's queue full (5 waiting, backlog 4), seen over three
/// ticks: the Listeners view's queue column and FULL flag, and the detail pane's history.
fn full_queue_screen(keys: &str, w: u16, h: u16) -> String {
    let mut snap = (*recording()).clone();
    let mut app = App::new(KeyMap::default_map(), true);
    for (tick, queued) in [1u32, 3, 5].into_iter().enumerate() {
        for s in snap.sockets.iter_mut().filter(|s| s.local_port == 7000) {
            if s.is_listening() {
                (s.rx_queue, s.tx_queue) = (queued, 4);
            }
        }
        snap.taken_at = recording()
            .taken_at
            .checked_add(jiff::SignedDuration::from_secs(2 * tick as i64))
            .unwrap();
        app.update(Msg::data(Arc::new(snap.clone()), None));
    }
    app.type_keys(keys);
    let buf = render_offscreen(
        &app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    );
    buffer_text(&buf)
}

#[test]
fn listeners_show_the_queue_and_flag_a_full_one() {
    for (w, h) in [(80u16, 24u16), (120, 35)] {
        let text = full_queue_screen("", w, h);
        assert!(text.lines().all(|l| l.chars().count() <= usize::from(w)));
        let row = text
            .lines()
            .find(|l| l.contains(":7000"))
            .unwrap_or_else(|| panic!("no :7000 row at {w}x{h}:\n{text}"));
        assert!(row.contains("FULL") && row.contains("5/4"), "{row}");
        assert!(
            text.contains("queue"),
            "no queue column at {w}x{h}:\n{text}"
        );
        insta::assert_snapshot!(format!("listeners_full_queue_{w}x{h}"), text);
    }
    let detail = full_queue_screen("/7000\n\n", 120, 35);
    assert!(
        detail.contains("accept queue per tick, oldest first (backlog 4): 1 3 5"),
        "{detail}"
    );
    assert!(
        detail.contains("listener not accepting · accept queue 5/4, full"),
        "{detail}"
    );
}

/// Refusals as a recorder's log holds them: a bind over IPv6 held by a listener, a connect out
/// of ports, and an EACCES by a caller whose name carries an escape sequence.
fn refusals() -> Vec<portscope::watch::failures::Refusal> {
    let owner = |pid: u32, comm: &str| {
        serde_json::json!({"pid": pid, "comm": comm, "cmdline": comm, "uid": 1000,
                           "user": "app", "start_time": 1, "unit": "api.service"})
    };
    [
        serde_json::json!({
            "time": "2026-12-07T03:12:05.264792Z", "call": "bind", "errno": "EADDRINUSE",
            "pid": 22333, "tid": 22333, "comm": "api", "uid": 1000, "user": "app",
            "owner": owner(22333, "api"),
            "request": {"family": "ipv6", "address": "2001:db8:4006:812::200e", "port": 8443,
                        "proto": "tcp", "options": {"known": true, "reuseaddr": true}},
            "holders": [{"proto": "tcp", "local_addr": "::", "local_port": 8443,
                         "remote_addr": "::", "remote_port": 0, "state": "LISTEN",
                         "owner": owner(4123, "java")}],
            "why": "port 8443 is held by java (pid 4123) (tcp [::]:8443 LISTEN)",
        }),
        serde_json::json!({
            "time": "2026-12-07T03:12:09.118310Z", "call": "connect", "errno": "EADDRNOTAVAIL",
            "pid": 811, "tid": 812, "comm": "worker", "uid": 1000, "user": "app",
            "request": {"family": "ipv4", "address": "10.0.0.5", "port": 5432, "proto": "tcp",
                        "options": {"known": false}},
            "why": "no local port left toward 10.0.0.5:5432: 28232 of 28232 usable ports in use; busiest: worker (pid 811) with 28102 ports",
        }),
        serde_json::json!({
            "time": "2026-12-07T03:13:00Z", "call": "bind", "errno": "EACCES",
            "pid": 999, "tid": 999, "comm": "evil\u{1b}[2J", "uid": 65534, "user": "nobody",
            "request": {"family": "ipv4", "address": "0.0.0.0", "port": 80, "proto": "tcp",
                        "options": {"known": true}},
            "privilege": {"unprivileged_port_start": 1024, "cap_net_bind_service": false},
            "why": "port 80 is below net.ipv4.ip_unprivileged_port_start (1024) and the caller lacks CAP_NET_BIND_SERVICE",
        }),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).expect("a refusal"))
    .collect()
}

#[test]
fn failures_view_and_its_why_then() {
    let snap = recording();
    for (w, h) in [(80u16, 24u16), (120, 35)] {
        let mut app = App::new(KeyMap::default_map(), true);
        app.update(Msg::data(Arc::clone(&snap), None));
        app.type_keys("5");
        app.update(Msg::Recorder(portscope::tui::app::RecorderState::Log(
            "/var/lib/portscope/failures.log".into(),
        )));
        app.update(Msg::Refused {
            list: refusals(),
            replace: true,
        });
        let draw = |app: &App| {
            buffer_text(&render_offscreen(
                app,
                &Theme::defaults(true),
                &Clock::fixed(snap.taken_at),
                w,
                h,
            ))
        };
        let text = redact_times(&draw(&app));
        assert!(!text.contains('\u{1b}'), "escaped: {text}");
        insta::assert_snapshot!(format!("failures_view_{w}x{h}"), text);
        // Down to the IPv6 bind (the newest is on top), then its why as it was then.
        app.type_keys("jj\n");
        let text = redact_times(&draw(&app));
        assert!(text.contains("Why bind() was refused at"), "{text}");
        assert!(text.contains("2001:db8:4006:812::200e"), "{text}");
        insta::assert_snapshot!(format!("failures_why_then_{w}x{h}"), text);
    }
}
