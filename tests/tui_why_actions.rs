//! The why view's actions without a terminal: K and D act on the selected cause as a whole, F
//! offers the plan as one confirmed sequence, and the port field takes why's options.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use portscope::action::PendingAction;
use portscope::analyze::why::{BindRequest, Context, diagnose};
use portscope::collect::probe::{BindOutcome, ProbeResult};
use portscope::model::test_support::{owner, snapshot, with_state};
use portscope::model::{Snapshot, Socket, State};
use portscope::tui::app::{App, Modal, Msg, parse_bind};
use portscope::tui::keymap::KeyMap;
use std::sync::Arc;

/// Port 9000: a worker's 5 CLOSE_WAIT connections (its listener is gone) and 3 TIME_WAIT.
fn leftovers() -> Snapshot {
    let worker = owner(300, "worker");
    let mut socks = Vec::new();
    for i in 0..8u16 {
        let mut s: Socket = portscope::model::test_support::outgoing(9000, 50000 + i);
        s.autobound = false;
        s.cookie = u64::from(i) + 1;
        s.owners = Arc::from([Arc::clone(&worker)]);
        s.state = State::CloseWait;
        socks.push(if i < 5 {
            s
        } else {
            with_state(s, State::TimeWait)
        });
    }
    snapshot(socks)
}

fn app_on_9000() -> App {
    let snap = leftovers();
    let mut app = App::new(KeyMap::default_map(), false);
    app.update(Msg::data(Arc::new(snap.clone()), None));
    app.type_keys("4e");
    app.type_keys("9000\n");
    let req = *app
        .why
        .request
        .clone()
        .expect("watching 9000")
        .resolve()
        .unwrap()
        .first()
        .unwrap();
    let probe = ProbeResult {
        plain: Some(BindOutcome::Errno("EADDRINUSE".into())),
        reuseaddr: Some(BindOutcome::Errno("EADDRINUSE".into())),
        not_run: None,
        privileged: None,
        address: None,
    };
    let d = diagnose(&req, &snap, &probe, &Context::default());
    app.update(Msg::data(Arc::new(snap), Some(Arc::new(d))));
    app
}

fn confirm(app: &App) -> &PendingAction {
    match app.modal() {
        Some(Modal::Confirm { action, .. }) => action,
        m => panic!("expected a confirmation, got {m:?}"),
    }
}

#[test]
fn d_on_a_cause_destroys_all_of_it() {
    let mut app = app_on_9000();
    app.type_keys("D");
    let PendingAction::DestroySockets(a) = confirm(&app) else {
        panic!("{:?}", app.modal())
    };
    assert_eq!(a.sockets.len(), 5);
    assert!(a.sockets.iter().all(|s| s.state == State::CloseWait));
    let described = confirm(&app).describe();
    let (_, lines) = (described.title.clone(), described.text());
    assert!(
        !lines.iter().any(|l| l.contains("is released")),
        "no promise the port is free: {lines:?}"
    );
    app.type_keys("n");
    assert!(app.modal().is_none(), "n is no");
    // The next cause: the TIME_WAIT sockets.
    app.type_keys("j");
    assert_eq!(app.why.cause, 1);
    app.type_keys("D");
    let PendingAction::DestroySockets(a) = confirm(&app) else {
        panic!("{:?}", app.modal())
    };
    assert_eq!(a.sockets.len(), 3);
    assert!(a.sockets.iter().all(|s| s.state == State::TimeWait));
}

#[test]
fn k_on_time_wait_says_press_d_and_on_connections_signals_their_process() {
    let mut app = app_on_9000();
    app.type_keys("jK");
    match app.modal() {
        Some(Modal::Outcome(o)) => assert!(o.lines[0].text.contains("press D"), "{o:?}"),
        m => panic!("{m:?}"),
    }
    app.type_keys("\x1bkK");
    let PendingAction::Signal(s) = confirm(&app) else {
        panic!("{:?}", app.modal())
    };
    assert_eq!(s.owner.pid, 300);
}

#[test]
fn f_offers_the_plan_as_one_sequence() {
    let mut app = app_on_9000();
    app.type_keys("F");
    let PendingAction::Sequence(seq) = confirm(&app) else {
        panic!("{:?}", app.modal())
    };
    let kinds: Vec<usize> = seq
        .steps
        .iter()
        .map(|s| match s {
            PendingAction::DestroySockets(a) => a.sockets.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, [5, 3], "connections first, TIME_WAIT last");
    let described = confirm(&app).describe();
    let (_, lines) = (described.title.clone(), described.text());
    assert!(
        lines[0].contains("stopping as soon as it binds"),
        "{lines:?}"
    );
}

#[test]
fn the_port_field_takes_whys_options() {
    let r = parse_bind("[::]:8080 --v6only --reuseport").unwrap();
    assert!(r.v6only && r.reuseport && !r.freebind);
    // The user is kept as typed; the runtime looks it up, never the key press.
    let r = parse_bind("443 --user root --freebind").unwrap();
    assert_eq!(r.user.as_deref(), Some("root"));
    let opts = r.resolve().unwrap().first().unwrap().opts;
    assert_eq!(opts.user.map(|u| u.uid), Some(0));
    assert!(opts.freebind);
    assert_eq!(
        parse_bind("443 --user no-such-user-here")
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string(),
        "--user \"no-such-user-here\": no such user"
    );
    assert!(
        parse_bind("443 --user")
            .unwrap_err()
            .to_string()
            .contains("--user needs")
    );
    assert!(
        parse_bind("443 --bogus")
            .unwrap_err()
            .to_string()
            .contains("--bogus")
    );
    assert_eq!(
        parse_bind("8080").unwrap().resolve().unwrap().binds,
        [BindRequest::tcp(8080), BindRequest::udp(8080)],
        "both protocols, TCP first"
    );
}
