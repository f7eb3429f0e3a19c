//! Threads, channel and terminal. The UI thread never touches /proc and never sleeps: it blocks
//! on one channel fed by the collector thread (snapshots) and the input thread (keys), applies
//! messages, carries out effects, and redraws only after something arrived.

use super::app::{App, Effect, Msg};
use super::cadence::Cadence;
use super::channel::{Control, Inbox, Source};
use super::collector::collector;
use super::draw::{Clock, draw};
use super::signals::SignalEvent;
use super::terminal;
use super::theme::Theme;
use std::sync::mpsc::{Sender, channel};
use std::time::Instant;

/// How the UI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Quit,
    /// A terminating signal: the process should exit with 128 + it.
    Signal(i32),
}

impl Ending {
    /// The process's exit status: 0 for a quit, 128 + the signal for a signal.
    pub fn exit_status(self) -> u8 {
        match self {
            Ending::Quit => 0,
            Ending::Signal(sig) => super::signals::exit_status(sig),
        }
    }
}

/// Carries out [`Effect::ReadProcesses`]: reads /proc for the few processes asked for (skipping
/// those that exited or whose pid another process has now) and answers for the pane that asked.
///
/// The runtime runs it on a thread of its own rather than on the collector thread: the
/// collector may be inside a snapshot of 100k sockets (hundreds of ms) when the pane opens, and
/// the answer should come within a frame; the read itself is bounded (a few pids, each a
/// handful of /proc files and at most `MAX_HOPS` parents).
pub fn read_processes(req: &super::app::ProcessRequest, clock: &Clock) -> Msg {
    let found = crate::collect::process_context::read_all(
        req.owners.iter().map(AsRef::as_ref),
        &req.snap,
        None, // the app fills in the growth from the observations it keeps
        clock,
    );
    Msg::Processes {
        target: req.target.clone(),
        found,
    }
}

/// The thread that reads process context: one for the session, answering the newest request
/// for each pane (older ones still queued are stale: the pane moved on, or a newer snapshot
/// came). A pane open across many refreshes costs no thread per refresh.
fn process_reader(
    requests: &std::sync::mpsc::Receiver<Box<super::app::ProcessRequest>>,
    tx: &Sender<Inbox>,
) {
    while let Ok(first) = requests.recv() {
        let mut latest: Vec<Box<super::app::ProcessRequest>> = vec![first];
        for req in requests.try_iter() {
            latest.retain(|r| r.target != req.target);
            latest.push(req);
        }
        for req in latest {
            if tx
                .send(Inbox::App(read_processes(&req, &Clock::system())))
                .is_err()
            {
                return;
            }
        }
    }
}

fn input(tx: &Sender<Inbox>) {
    loop {
        let msg = match crossterm::event::read() {
            Ok(crossterm::event::Event::Key(k)) => Msg::Key(k),
            Ok(crossterm::event::Event::Resize(..)) => Msg::Resize,
            Ok(crossterm::event::Event::Paste(text)) => Msg::Paste(text),
            Ok(_) => continue,
            Err(_) => return,
        };
        if tx.send(Inbox::App(msg)).is_err() {
            return;
        }
    }
}

type Term = ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>;

/// Draws one frame inside a synchronized update (DEC mode 2026): a terminal that knows it shows
/// the frame whole, never half of it over a slow SSH link; one that does not ignores it.
fn frame(term: &mut Term, app: &App, theme: &Theme) -> std::io::Result<()> {
    use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
    crossterm::queue!(std::io::stdout(), BeginSynchronizedUpdate)?;
    term.draw(|f| draw(f, app, theme, &Clock::system().for_replay(app.replay)))?;
    crossterm::execute!(std::io::stdout(), EndSynchronizedUpdate)
}

fn new_terminal() -> std::io::Result<Term> {
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
}

/// Runs the UI until the user quits or a signal ends it. The terminal is restored on every way
/// out: quit, error, terminating signal (here), stop (and re-entered on continue), and panic
/// (terminal::install_panic_hook).
pub fn run(
    mut app: App,
    theme: &Theme,
    source: Source,
    cadence: Cadence,
    recorder: Option<crate::history::SnapshotRecorder>,
) -> std::io::Result<Ending> {
    let netns = match &source {
        Source::Live(o) => Some(o.netns.clone()),
        Source::Replay(_) => None,
    };
    let (tx, rx) = channel::<Inbox>();
    let (ctrl_tx, ctrl_rx) = channel::<Control>();
    let collector_tx = tx.clone();
    let action_tx = tx.clone();
    let signal_tx = std::sync::Mutex::new(tx.clone());
    let signals = super::signals::spawn(move |ev| {
        signal_tx
            .lock()
            .is_ok_and(|tx| tx.send(Inbox::Signal(ev)).is_ok())
    })?;
    let collector_thread = std::thread::Builder::new()
        .name("collector".into())
        .spawn(move || collector(source, cadence, collector_tx, ctrl_rx, recorder))?;
    let (process_tx, process_rx) = channel();
    let reader_tx = tx.clone();
    std::thread::Builder::new()
        .name("processes".into())
        .spawn(move || process_reader(&process_rx, &reader_tx))?;
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || input(&tx))?;

    terminal::install_panic_hook();
    let result = (|| -> std::io::Result<Ending> {
        terminal::enter()?;
        let mut term = new_terminal()?;
        frame(&mut term, &app, theme)?;
        loop {
            // Wait for input, or until an open confirmation becomes answerable (its prompt
            // changes then).
            let first = match app.wake_at() {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        return Ok(Ending::Quit);
                    }
                },
                None => match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return Ok(Ending::Quit),
                },
            };
            app.begin_burst(Instant::now());
            let Some(first) = first else {
                frame(&mut term, &app, theme)?;
                continue;
            };
            let mut effects = Vec::new();
            let mut resumed = false;
            // Coalesce a burst (key repeat, data + keys) into one redraw.
            for inbox in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                match inbox {
                    Inbox::App(msg) => effects.extend(app.update(msg)),
                    Inbox::Signal(SignalEvent::Terminate(sig)) => return Ok(Ending::Signal(sig)),
                    Inbox::Signal(SignalEvent::Suspend) => {
                        terminal::leave();
                        super::signals::stop_self();
                        terminal::enter()?;
                        resumed = true;
                    }
                    Inbox::Signal(SignalEvent::Resume) => {
                        terminal::enter()?;
                        resumed = true;
                    }
                }
            }
            if resumed {
                // The screen was the shell's meanwhile: a fresh Terminal draws every cell again
                // (Terminal::clear would ask the terminal for the cursor position, a reply the
                // input thread may take).
                term = new_terminal()?;
            }
            for e in effects {
                let sent = match e {
                    Effect::Quit => return Ok(Ending::Quit),
                    Effect::RefreshNow => ctrl_tx.send(Control::Refresh),
                    // The user database is asked here, once, off the update path.
                    Effect::Watch(w) => match w.map(|q| q.resolve()).transpose() {
                        Ok(r) => ctrl_tx.send(Control::Watch(r)),
                        Err(e) => {
                            let _ = action_tx.send(Inbox::App(Msg::WatchRefused(e.to_string())));
                            Ok(())
                        }
                    },
                    Effect::Scope(s) => ctrl_tx.send(Control::Scope(s)),
                    Effect::ReadProcesses(req) => {
                        if process_tx.send(req).is_err() {
                            return Err(std::io::Error::other("the process reader stopped"));
                        }
                        Ok(())
                    }
                    Effect::ReadReach(req) => {
                        let own = req.owner_pid.map(crate::collect::NetnsTarget::Pid);
                        if let Some(netns) = own.or_else(|| netns.clone()) {
                            let tx = action_tx.clone();
                            std::thread::spawn(move || {
                                let found = crate::collect::nat::filter::for_listeners(
                                    &netns,
                                    req.proto,
                                    req.port,
                                    &req.exposure,
                                    crate::collect::nat::filter::DEFAULT_BUDGET,
                                );
                                if let Ok(found) = found {
                                    let _ = tx.send(Inbox::App(Msg::Reach {
                                        key: req.key,
                                        found: Box::new(found),
                                    }));
                                }
                            });
                        }
                        Ok(())
                    }
                    Effect::WriteReport(job) => {
                        let tx = action_tx.clone();
                        let netns = netns.clone().unwrap_or_default();
                        std::thread::spawn(move || {
                            let req = crate::report::Request {
                                ports: job.ports.clone(),
                                firewall: job.live,
                                live: job.live,
                                ..Default::default()
                            };
                            let note = match crate::report::gather(&job.snap, &netns, &req) {
                                Ok(r) => super::copy::write_new(
                                    &job.path,
                                    &crate::report::html::render(&r),
                                ),
                                Err(e) => format!("report not written: {e}"),
                            };
                            let _ = tx.send(Inbox::App(Msg::Note(note)));
                        });
                        Ok(())
                    }
                    Effect::Copy(text) => {
                        // Written between two frames, straight to the terminal: it draws nothing.
                        let note = super::copy::copy(&mut std::io::stdout(), &text);
                        let _ = action_tx.send(Inbox::App(Msg::Note(note)));
                        Ok(())
                    }
                    Effect::WriteFile { path, text } => {
                        let note = super::copy::write_new(&path, &text);
                        let _ = action_tx.send(Inbox::App(Msg::Note(note)));
                        Ok(())
                    }
                    Effect::Need(n) => ctrl_tx.send(Control::Need(n)),
                    Effect::StartRecorder => {
                        let tx = std::sync::Mutex::new(action_tx.clone());
                        super::failures_feed::start(app.failures.log.clone(), move |m| {
                            tx.lock().is_ok_and(|t| t.send(Inbox::App(m)).is_ok())
                        });
                        Ok(())
                    }
                    Effect::Execute(action) => {
                        // Signals wait for the process to exit, sysctl writes read back: never
                        // on the UI thread.
                        let tx = action_tx.clone();
                        let log = app.actions.action_log.clone();
                        std::thread::spawn(move || {
                            let _ = tx.send(Inbox::App(Msg::ActionDone(Box::new(
                                crate::action::exec::execute(&action, log.as_ref()),
                            ))));
                        });
                        Ok(())
                    }
                };
                if sent.is_err() {
                    return Err(std::io::Error::other("the collector thread stopped"));
                }
            }
            frame(&mut term, &app, theme)?;
            // A draw that measured the map anew (resize) settles what is under its cursor.
            if app.map_stale() {
                app.update(Msg::Resize);
                frame(&mut term, &app, theme)?;
            }
        }
    })();
    terminal::leave();
    let _ = ctrl_tx.send(Control::Quit);
    // The collector may be inside a long snapshot; it exits at its next check, and the process
    // exit ends it anyway. Joining here would delay quitting by that snapshot.
    drop(collector_thread);
    // After the terminal is restored: a signal from here on ends the process the default way.
    signals.close();
    result
}
