#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there
//! The TUI's view-aware cadence, against the kernel: the collector (the TUI's own loop, fed and
//! read through its channels) in a private namespace. In the Listeners view a new listener is on
//! screen from the first snapshot taken after it, a new connection reaches the counts within the
//! slow cadence, and every table that does not show it yet says its connections are older than
//! it. A tick that finds the listening table unchanged sends only its time (nothing to merge or
//! lay out again), and the screen then says how old its connections are just the same. The
//! Connections view, and `r`, read everything at once.

use crate::common::*;
use portscope::collect::CollectOptions;
use portscope::model::{Proto, State};
use portscope::tui::app::{Data, Msg, Recheck};
use portscope::tui::cadence::{Cadence, Need};
use portscope::tui::channel::{Control, Inbox, Source};
use portscope::tui::collector::collector;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

struct Loop {
    rx: Receiver<Inbox>,
    ctrl: Sender<Control>,
    /// Ports of every History change seen so far, with the change's state.
    history: Vec<(u16, State)>,
    /// When the last full table was taken.
    last_full: Option<jiff::Timestamp>,
    /// The last table sent (what the screen shows).
    shown: Option<Data>,
}

/// What the screen shows after a reading: the last table sent, the time of the reading, and how
/// old the connections in it are.
struct Screen {
    data: Data,
    read_at: jiff::Timestamp,
    conns_at: jiff::Timestamp,
    rechecked: bool,
}

impl Loop {
    /// The TUI's collector on the current namespace, on its own thread.
    fn start(cadence: Cadence) -> (Loop, std::thread::JoinHandle<()>) {
        let (tx, rx) = channel();
        let (ctrl, ctrl_rx) = channel();
        let thread = std::thread::spawn(move || {
            collector(
                Source::Live(CollectOptions::default()),
                cadence,
                tx,
                ctrl_rx,
                None,
            );
        });
        let lp = Loop {
            rx,
            ctrl,
            history: Vec::new(),
            last_full: None,
            shown: None,
        };
        (lp, thread)
    }

    /// The next snapshot taken after `after`, within `deadline`.
    fn data_after(&mut self, after: jiff::Timestamp, deadline: Duration) -> Option<Data> {
        let end = Instant::now() + deadline;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left).ok()? {
                Inbox::App(Msg::Data(d)) => {
                    if d.conns_as_of.is_none() {
                        self.last_full = Some(d.snap.taken_at);
                    }
                    self.shown = Some(d.clone());
                    if d.snap.taken_at > after {
                        return Some(d);
                    }
                }
                Inbox::App(Msg::History(ch)) => self
                    .history
                    .extend(ch.iter().map(|c| (c.local_port, c.state))),
                Inbox::App(Msg::CollectFailed(e)) => panic!("collect failed: {e}"),
                _ => {}
            }
        }
    }
}

impl Loop {
    /// What the screen shows after the next reading taken after `after` (a new table, or the
    /// last one found unchanged), within `deadline`.
    fn screen_after(&mut self, after: jiff::Timestamp, deadline: Duration) -> Option<Screen> {
        let end = Instant::now() + deadline;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let (read_at, rechecked) = match self.rx.recv_timeout(left).ok()? {
                Inbox::App(Msg::Data(d)) => {
                    if d.conns_as_of.is_none() {
                        self.last_full = Some(d.snap.taken_at);
                    }
                    let at = d.snap.taken_at;
                    self.shown = Some(d);
                    (at, false)
                }
                Inbox::App(Msg::Rechecked(Recheck { taken_at, .. })) => (taken_at, true),
                Inbox::App(Msg::History(ch)) => {
                    self.history
                        .extend(ch.iter().map(|c| (c.local_port, c.state)));
                    continue;
                }
                Inbox::App(Msg::CollectFailed(e)) => panic!("collect failed: {e}"),
                _ => continue,
            };
            if read_at <= after {
                continue;
            }
            let data = self.shown.clone().expect("a table before any recheck");
            let conns_at = data.conns_as_of.unwrap_or(data.snap.taken_at);
            return Some(Screen {
                data,
                read_at,
                conns_at,
                rechecked,
            });
        }
    }

    /// The next reading between full refreshes (a partial tick, or a recheck), within
    /// `deadline`.
    fn between_full(&mut self, deadline: Duration) -> Screen {
        let end = Instant::now() + deadline;
        let mut after = jiff::Timestamp::now();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let sc = self
                .screen_after(after, left)
                .expect("a reading between full refreshes (connections carried, their age stated)");
            if sc.rechecked || sc.data.conns_as_of.is_some() {
                return sc;
            }
            after = sc.read_at;
        }
    }
}

/// Every socket of the table, by what identifies it and its state and owners.
fn keys(d: &Data) -> Vec<String> {
    let mut v: Vec<String> = d
        .snap
        .sockets
        .iter()
        .map(|s| {
            let pids: Vec<u32> = s.owners.iter().map(|o| o.pid).collect();
            format!(
                "{:?} {:?} {}:{} {}:{} {} {:?} {}",
                s.proto,
                s.state,
                s.local_addr,
                s.local_port,
                s.remote_addr,
                s.remote_port,
                s.inode,
                pids,
                s.autobound
            )
        })
        .collect();
    v.sort();
    v
}

fn established(d: &Data) -> usize {
    d.derived
        .as_ref()
        .unwrap()
        .summary
        .by_state
        .iter()
        .find(|(s, _)| *s == State::Established)
        .map_or(0, |x| x.1)
}

/// The established sockets of a table, by their ends.
fn conns(d: &Data) -> Vec<String> {
    d.snap
        .sockets
        .iter()
        .filter(|s| s.state == State::Established)
        .map(|s| format!("{}->{}", s.local(), s.remote()))
        .collect()
}

fn listens(d: &Data, port: u16) -> bool {
    d.snap
        .sockets
        .iter()
        .any(|s| s.proto == Proto::Tcp && s.state == State::Listen && s.local_port == port)
}

fn has_conn(d: &Data, local_port: u16) -> bool {
    d.snap
        .sockets
        .iter()
        .any(|s| s.state == State::Established && s.local_port == local_port)
}

#[test]
fn listeners_every_tick_connections_on_the_slow_cadence_never_silently_stale() {
    if !private_netns("tui_cadence") {
        return;
    }
    let cadence = Cadence {
        interval: Duration::from_millis(200),
        // Long enough that `r`'s refresh (one tick away) cannot be confused with the natural
        // one even when a loaded runner stretches a tick to seconds.
        full_min: Duration::from_secs(8),
        full_share: 0.03,
        // This test is about the dumps' cadence: connections carried, not kept from events.
        events: false,
        ..Cadence::new(Duration::from_millis(200))
    };
    // The deadlines wait for conditions; on a shared 2-core runner with other work, a first
    // snapshot (an owner scan of all of /proc in a debug build) can take seconds. A generous
    // deadline costs nothing when things are quick.
    let slack = Duration::from_secs(20);
    let (mut lp, thread) = Loop::start(cadence);
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    // One of each kind a tick reads or carries: UDP (read every tick), an established pair and
    // a TIME_WAIT (carried from the full refresh).
    let udp = udp_bind("127.0.0.1:0");
    make_time_wait(&server);
    let _held = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_held_a, _) = server.accept().unwrap();
    // A whole table read after the set-up: the collector started before it, and a tick after
    // the set-up still carries connections from a full table read before (under load its
    // first full table can predate the accept; counts based on it were off by one).
    let set_up = jiff::Timestamp::now();
    let first = loop {
        let d = lp.data_after(set_up, slack).expect("a first snapshot");
        if d.conns_as_of.is_none() {
            break d;
        }
    };
    assert!(listens(&first, port));

    // Nothing changed since: a tick between full refreshes finds the same listening table and
    // sends only its time; the screen keeps the full table and dates its connections.
    let quiet = lp.between_full(cadence.full_min + slack);
    assert!(quiet.rechecked, "an unchanged tick sends no table");
    assert!(quiet.read_at > first.snap.taken_at);
    // The table on screen may be a partial tick sent in between (a child forked by another
    // test briefly holds the listener's fd: a new owner); its connections are still the last
    // full refresh's.
    assert_eq!(
        Some(quiet.conns_at),
        lp.last_full,
        "the connections shown are the last full refresh's"
    );
    assert!(
        quiet.conns_at < quiet.read_at,
        "the screen says its connections are older than the reading"
    );
    assert!(
        quiet
            .data
            .snap
            .sockets
            .iter()
            .any(|s| s.proto == Proto::Udp && s.local_port == udp.local_addr().unwrap().port())
    );
    let before_listener = keys(&quiet.data);

    // A new listener: in every snapshot taken after it, the first of them within one tick.
    let l2 = TcpListener::bind("127.0.0.1:0").unwrap();
    let p2 = l2.local_addr().unwrap().port();
    let made = jiff::Timestamp::now();
    let t0 = Instant::now();
    let d = lp
        .data_after(made, cadence.interval + slack)
        .expect("a tick after the listener");
    assert!(listens(&d, p2), "the next tick shows the new listener");
    let first_tick = t0.elapsed();
    if d.conns_as_of.is_some() {
        // A partial tick: the carried part is the full table's, plus the listener read now.
        let mut want = before_listener.clone();
        want.extend(
            keys(&d)
                .into_iter()
                .filter(|k| k.contains(&format!(":{p2} "))),
        );
        want.sort();
        assert_eq!(
            keys(&d),
            want,
            "a partial tick's table is the full one plus what changed"
        );
    }

    // A new connection: missing only from tables that say their connections predate it.
    let base = established(&d);
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cport = client.local_addr().unwrap().port();
    let (_accepted, _) = server.accept().unwrap();
    let made = jiff::Timestamp::now();
    let t0 = Instant::now();
    let mut stale_ticks = 0;
    let mut after = made;
    let seen = loop {
        let sc = lp
            .screen_after(after, cadence.full_min + slack)
            .expect("a snapshot with the connection within the slow cadence");
        after = sc.read_at;
        assert!(listens(&sc.data, p2), "the listener stays on every tick");
        if has_conn(&sc.data, cport) {
            break sc.data;
        }
        assert!(
            sc.conns_at < made,
            "connections as of {} yet the one made at {made} is missing",
            sc.conns_at
        );
        assert!(
            sc.conns_at < sc.read_at,
            "a table without the new connection says how old its connections are"
        );
        stale_ticks += 1;
        assert!(
            t0.elapsed() < cadence.full_min + slack,
            "no full refresh within the slow cadence"
        );
    };
    assert_eq!(
        established(&seen),
        base + 2,
        "client and accepted side counted: before {:?}, now {:?}",
        conns(&d),
        conns(&seen)
    );
    // History: the listener (recorded on a tick) and the connection (at the full refresh).
    assert!(
        lp.history.contains(&(p2, State::Listen)),
        "history has the listener"
    );
    assert!(
        lp.history.contains(&(cport, State::Established)),
        "history has the connection"
    );

    // The Connections view on screen: connections in the first snapshot taken after them.
    lp.ctrl.send(Control::Need(Need::Everything)).unwrap();
    let told = jiff::Timestamp::now();
    // A tick already under way when told may still be partial.
    let _ = lp.data_after(told, cadence.full_min + slack);
    let c2 = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let c2port = c2.local_addr().unwrap().port();
    let (_a2, _) = server.accept().unwrap();
    let made = jiff::Timestamp::now();
    let d = lp
        .data_after(made, cadence.interval + slack)
        .expect("a tick in the Connections view");
    assert!(d.conns_as_of.is_none(), "the whole table every tick");
    assert!(has_conn(&d, c2port));

    // Back to Listeners; `r` reads everything at once.
    lp.ctrl.send(Control::Need(Need::Listening)).unwrap();
    lp.between_full(cadence.full_min + slack);
    let c3 = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let c3port = c3.local_addr().unwrap().port();
    let (_a3, _) = server.accept().unwrap();
    let natural = lp.last_full.unwrap() + cadence.full_min;
    // Before sending: the refresh may start before this thread runs again.
    let mut after = jiff::Timestamp::now();
    lp.ctrl.send(Control::Refresh).unwrap();
    // The tick under way when `r` arrives may be a partial one; the next reads everything.
    let d = loop {
        let d = lp
            .data_after(after, cadence.interval + slack)
            .expect("a refresh after r");
        if d.conns_as_of.is_none() {
            break d;
        }
        after = d.snap.taken_at;
    };
    assert!(
        d.snap.taken_at < natural,
        "r read everything at once, not at the next full refresh due ({natural})"
    );
    assert!(has_conn(&d, c3port));

    lp.ctrl.send(Control::Quit).unwrap();
    drop(lp);
    thread.join().unwrap();
    println!(
        "new listener in the first tick after it ({first_tick:?}); connection after {stale_ticks} readings between full refreshes, all saying their age"
    );
    drop((l2, client, c2, c3, udp));
}

/// The TUI's why field and `portscope why` ask the kernel the same question: for every option
/// the field takes (`--user`, `--v6only`, `--reuseport`, `--freebind`), the collector's verdict
/// for the typed words is the CLI's for the same words.
#[test]
fn the_why_field_and_the_cli_give_the_same_answer_for_every_option() {
    if !private_netns("tui_why_field_options") {
        return;
    }
    let _v4 = TcpListener::bind("0.0.0.0:20481").unwrap();
    let rp = crate::common::sockets::tcp_listen_with(
        "0.0.0.0".parse().unwrap(),
        20482,
        crate::common::sockets::Opts {
            reuseport: true,
            ..Default::default()
        },
    );
    let (tx, rx) = channel();
    let (ctrl, ctrl_rx) = channel();
    let thread = std::thread::spawn(move || {
        collector(
            Source::Live(CollectOptions::default()),
            Cadence::new(Duration::from_millis(100)),
            tx,
            ctrl_rx,
            None,
        )
    });
    for words in [
        "443",
        "443 --user nobody",
        "[::]:20481",
        "[::]:20481 --v6only",
        "20482",
        "20482 --reuseport",
        "20482 --reuseport --user nobody",
        "192.0.2.7:80",
        "192.0.2.7:80 --freebind",
    ] {
        let req = portscope::tui::app::parse_bind(words).unwrap();
        ctrl.send(Control::Watch(Some(req.resolve().unwrap())))
            .unwrap();
        let end = Instant::now() + PATIENCE;
        let tui = loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Inbox::App(Msg::Data(d))) => {
                    if let Some(diag) = d.diagnosis.filter(|g| req.answered_by(g)) {
                        break diag;
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("{words}: no diagnosis from the collector: {e}"),
            }
        };
        // The same words, the same engine: the same lead (both protocols asked, the blocked
        // one first) and the same other answers.
        let (_, cli) = why_json(&words.split_whitespace().collect::<Vec<_>>());
        assert_eq!(
            (tui.proto, tui.verdict, tui.options),
            (cli.proto, cli.verdict, cli.options),
            "{words}: TUI vs CLI"
        );
        assert_eq!(tui.also, cli.also, "{words}: the other answers");
        assert_eq!(tui.would_bind(), cli.would_bind(), "{words}");
    }
    ctrl.send(Control::Quit).unwrap();
    drop(rx);
    thread.join().unwrap();
    drop(rp);
}

/// Connections kept from events: a bind announces nothing, so sockets bound without listening
/// are read with the listeners on a cadence of their own. One bound after the table was seeded
/// is on screen, and gone once closed, before any verifying dump could have brought either.
#[test]
fn kept_connections_still_show_a_socket_bound_without_listening_within_seconds() {
    use crate::common::sockets::{Opts, tcp_bind};
    use portscope::watch::kept::Liveness;
    if !private_netns("tui_cadence_bound") {
        return;
    }
    let cadence = Cadence {
        interval: Duration::from_millis(200),
        full_min: Duration::from_secs(1),
        full_share: 0.03,
        events: true,
        // Far enough that no verifying dump can bring the bound socket in its stead, even on a
        // loaded runner.
        verify_min: Duration::from_secs(600),
        ..Cadence::new(Duration::from_millis(200))
    };
    let slack = Duration::from_secs(20);
    let (mut lp, thread) = Loop::start(cadence);
    let first = lp
        .data_after(jiff::Timestamp::UNIX_EPOCH, slack)
        .expect("a first snapshot");
    match &first.live {
        Some(Liveness::Kept(_)) => {}
        other => {
            drop(lp.ctrl.send(Control::Quit));
            drop(thread.join());
            return skip(
                "tui_cadence_bound",
                &format!("connections are not kept here: {other:?}"),
            );
        }
    }
    let bound_on_screen = |d: &Data| {
        d.snap
            .sockets
            .iter()
            .any(|s| s.state == State::BoundInactive && s.local_port == 22077)
    };
    // No verification yet: the seed does not count as one, and the first is 10 minutes away.
    let unverified = |d: &Data| matches!(&d.live, Some(Liveness::Kept(v)) if v.at.is_none());
    let fd = tcp_bind("127.0.0.1".parse().unwrap(), 22077, Opts::default()).unwrap();
    let bound_at = jiff::Timestamp::now();
    let seen = loop {
        let d = lp
            .data_after(bound_at, slack)
            .expect("a table after the bind");
        if bound_on_screen(&d) {
            break d;
        }
    };
    drop(fd);
    let closed_at = jiff::Timestamp::now();
    let gone = loop {
        let sc = lp
            .screen_after(closed_at, slack)
            .expect("a reading after the close");
        if !bound_on_screen(&sc.data) {
            break sc.data;
        }
    };
    drop(lp.ctrl.send(Control::Quit));
    drop(thread.join());
    assert!(seen.snap.taken_at > bound_at && gone.snap.taken_at > closed_at);
    assert!(
        unverified(&seen) && unverified(&gone),
        "a verifying dump ran: the bound cadence was not what showed the change"
    );
}
