//! Process context in the TUI: opening the detail pane (or the why view) asks the runtime to
//! read it (an effect, never I/O in `update`), the answer is shown where it was asked for, a
//! context whose pid now belongs to another process is dropped, and the socket growth comes
//! from the snapshots the app has seen. Renders at 80x24 and 120x35 compared with snapshots.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::ask::recorded;
use portscope::escape::Foreign;
use portscope::model::process_context::{
    Ancestor, FdUse, ListenQueue, ListenStats, ProcessContext, ProcessKind, SocketCount, Supervisor,
};
use portscope::model::test_support::{listener, outgoing, owner, snapshot};
use portscope::model::{Owner, Snapshot};
use portscope::tui::app::{App, Effect, Modal, Mode, Msg, ProcessRequest, ProcessesFor};
use portscope::tui::draw::Clock;
use portscope::tui::keymap::KeyMap;
use portscope::tui::load_replay;
use portscope::tui::theme::Theme;
use portscope::tui::{buffer_text, render_offscreen};
use std::path::Path;
use std::sync::Arc;

fn recording() -> Arc<Snapshot> {
    Arc::new(load_replay(Path::new("assets/incident.json")).expect("assets/incident.json"))
}

/// A context for `o` as the runtime would read it: near its fd limit, started from a shell.
fn context_of(o: &Owner, snap: &Snapshot, open: u64) -> ProcessContext {
    let clock = Clock::fixed(jiff::Timestamp::from_second(1_780_000_000).unwrap())
        .with_boot(jiff::Timestamp::from_second(1_779_990_000).unwrap());
    let parents = vec![
        Ancestor {
            pid: 4100,
            comm: Foreign::from("bash"),
            kind: ProcessKind::Shell,
        },
        Ancestor {
            pid: 1,
            comm: Foreign::from("systemd"),
            kind: ProcessKind::Init,
        },
    ];
    ProcessContext {
        pid: o.pid,
        comm: o.comm.clone(),
        cmdline: o.cmdline.clone(),
        uid: o.uid,
        user: o.user.clone(),
        start: clock.start(o.start_time),
        supervisor: Supervisor::choose(None, None, None, &parents),
        parents,
        fds: Some(FdUse {
            open,
            soft: Some(1024),
            hard: Some(4096),
        }),
        sockets: SocketCount {
            now: snap.sockets_of(o.pid).count(),
            per_min: None,
        },
        listeners: snap
            .sockets_of(o.pid)
            .filter(|s| s.is_listening())
            .map(|s| ListenQueue {
                addr: s.local_addr,
                port: s.local_port,
                queued: 3,
                backlog: 511,
            })
            .collect(),
        listen_stats: Some(ListenStats {
            overflows: 0,
            drops: 0,
        }),
        state: None,
        wchan: None,
    }
}

fn reads(effects: &[Effect]) -> Vec<&ProcessRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ReadProcesses(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

fn render(app: &App, snap: &Snapshot, w: u16, h: u16) -> String {
    buffer_text(&render_offscreen(
        app,
        &Theme::defaults(true),
        &Clock::fixed(snap.taken_at),
        w,
        h,
    ))
}

fn answer(app: &mut App, req: &ProcessRequest, open: u64) {
    let found = req
        .owners
        .iter()
        .map(|o| context_of(o, &req.snap, open))
        .collect();
    app.update(Msg::Processes {
        target: req.target.clone(),
        found,
    });
}

#[test]
fn opening_detail_asks_for_the_owners_context_and_shows_the_answer() {
    let java = owner(4123, "java");
    let mut s = listener(8080);
    s.owners = Arc::from([Arc::clone(&java)]);
    let snap = Arc::new(snapshot(vec![s, outgoing(45000, 5432)]));
    let mut app = App::new(KeyMap::default_map(), false);
    let e = app.update(Msg::data(Arc::clone(&snap), None));
    assert!(reads(&e).is_empty(), "nothing to read before a pane opens");

    let e = app.type_keys("\n");
    let r = reads(&e);
    assert_eq!(r.len(), 1, "{e:?}");
    let req = r[0].clone();
    assert!(matches!(req.target, ProcessesFor::Detail(_)));
    assert_eq!(
        req.owners
            .iter()
            .map(|o| (o.pid, o.start_time))
            .collect::<Vec<_>>(),
        vec![(java.pid, java.start_time)]
    );
    let before = render(&app, &snap, 100, 30);
    assert!(before.contains("reading fds"), "{before}");

    // Another process took the pid since: its context is not this owner's.
    let mut reused = context_of(&java, &snap, 900);
    reused.start.ticks += 1;
    app.update(Msg::Processes {
        target: req.target.clone(),
        found: vec![reused],
    });
    let Mode::Modal(Modal::Detail { pane, .. }) = &app.mode else {
        panic!("detail closed")
    };
    assert!(pane.processes.is_empty(), "a reused pid's context was kept");

    answer(&mut app, &req, 1000);
    let text = render(&app, &snap, 100, 30);
    assert!(text.contains("Process java (pid 4123)"), "{text}");
    assert!(text.contains("1000/1024 (97%)"), "{text}");
    assert!(text.contains("critical"), "{text}");
    assert!(text.contains("bash (4100, shell)"), "{text}");

    // Each refresh while the pane is open asks again; once it is closed, an answer is dropped.
    let e = app.update(Msg::data(Arc::clone(&snap), None));
    assert_eq!(reads(&e).len(), 1, "{e:?}");
    app.type_keys("q");
    let e = app.update(Msg::data(Arc::clone(&snap), None));
    assert!(reads(&e).is_empty(), "{e:?}");
    answer(&mut app, &req, 5);
    assert!(app.modal().is_none());
}

#[test]
fn socket_growth_is_known_after_two_refreshes() {
    let java = owner(4123, "java");
    let with = |n: u16, at: i64| {
        let mut socks = vec![];
        for i in 0..n {
            let mut s = outgoing(40000 + i, 5432);
            s.owners = Arc::from([Arc::clone(&java)]);
            socks.push(s);
        }
        let mut snap = snapshot(socks);
        snap.taken_at = jiff::Timestamp::from_second(at).unwrap();
        Arc::new(snap)
    };
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(with(10, 1_780_000_000), None));
    let req = reads(&app.type_keys("2\n"))[0].clone();
    answer(&mut app, &req, 20);
    let first = render(&app, &req.snap, 100, 30);
    assert!(first.contains("growth after the next refresh"), "{first}");
    // 30 s later, 20 more sockets: +40/min.
    let snap = with(30, 1_780_000_030);
    let e = app.update(Msg::data(Arc::clone(&snap), None));
    answer(&mut app, reads(&e)[0], 40);
    let text = render(&app, &snap, 100, 30);
    assert!(text.contains("+40/min"), "{text}");
}

#[test]
fn a_recording_never_asks_to_read_processes() {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    let e = app.type_keys("2/java\n\n");
    assert!(app.modal().is_some());
    assert!(reads(&e).is_empty(), "{e:?}");
}

/// The recording's app with the detail pane or why view open, and the context of its processes
/// answered as the runtime would.
fn screen(keys: &str, why: bool, w: u16, h: u16) -> String {
    let snap = recording();
    let mut app = App::new(KeyMap::default_map(), true);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys(keys);
    if let Some(req) = app.why.request.clone() {
        let d = recorded(&req, &snap);
        app.update(Msg::data(Arc::clone(&snap), Some(Arc::new(d))));
    }
    let (target, owners) = if why {
        let port = app.feed.diagnosis.as_ref().unwrap().port;
        (ProcessesFor::Why(port), app.why_owners())
    } else {
        let s = app.selected_socket().unwrap();
        (ProcessesFor::Detail(s.key()), s.owners.to_vec())
    };
    assert!(!owners.is_empty());
    let req = ProcessRequest {
        target,
        owners,
        snap: Arc::clone(&snap),
    };
    answer(&mut app, &req, 830);
    render(&app, &snap, w, h)
}

#[test]
fn detail_and_why_with_process_context() {
    for (w, h) in [(80u16, 24u16), (120, 35)] {
        let detail = screen("2/java\n\n", false, w, h);
        assert!(detail.contains("Process java"), "{detail}");
        assert!(detail.contains("830/1024"), "{detail}");
        insta::assert_snapshot!(format!("detail_with_context_{w}x{h}"), detail);
        // Port 80: two nginx processes, told apart by their command lines.
        let why = screen("4e80\n", true, w, h);
        insta::assert_snapshot!(format!("why_with_context_{w}x{h}"), why);
    }
    let why = screen("4e80\n", true, 120, 35);
    assert!(why.contains("Processes in the way: 2"), "{why}");
    assert_eq!(why.matches("Process nginx").count(), 2, "{why}");
}

#[test]
fn the_map_looks_up_the_sockets_under_its_cursor_in_update() {
    let snap = Arc::new(snapshot(vec![
        listener(22),
        listener(8080),
        outgoing(45000, 8080),
    ]));
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::clone(&snap), None));
    app.type_keys("3:8080\n");
    assert_eq!(app.map.under_range, Some((8080, 8080)));
    let ports: Vec<u16> = app
        .map
        .under
        .iter()
        .map(|&i| snap.sockets[i].local_port)
        .collect();
    assert_eq!(ports, [8080]);
    // Moved to the outgoing connection's port: found without a draw in between.
    app.type_keys(":45000\n");
    assert_eq!(app.map.under_range, Some((45000, 45000)));
    assert_eq!(app.map.under.len(), 1);
    assert!(!snap.sockets[app.map.under[0]].is_listening());
    let text = render(&app, &snap, 100, 30);
    assert!(text.contains("45000 →"), "{text}");
}
