//! The thread that empties the event rings, so that a long dump on the collector's thread never
//! lets them fill.

use crate::watch::sample::Sample;
use crate::watch::trace::Tracer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the reader thread hands over: samples in the order they happened, and how many the
/// kernel lost.
#[derive(Default)]
pub(super) struct Inbox {
    pub(super) samples: Vec<Sample>,
    pub(super) lost: u64,
}

/// How often the reader thread empties the rings (a cadence, not a wait for anything): at
/// 2 MiB per CPU this holds over 100,000 events a second per CPU.
const DRAIN_EVERY: Duration = Duration::from_millis(100);
/// Samples waiting past this many (nobody took them: a stalled collector) are dropped and
/// counted as lost, which forces a dump.
const INBOX_MAX: usize = 1 << 20;

/// Empties the rings on its own thread, so that a long dump on the collector's thread never lets
/// them fill.
pub(super) struct Reader {
    pub(super) inbox: Arc<Mutex<Inbox>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    pub(super) fn spawn(mut tracer: Tracer) -> std::io::Result<Reader> {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (to, stopped) = (Arc::clone(&inbox), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("tcp-events".into())
            .spawn(move || {
                let mut buf = Vec::new();
                while !stopped.load(Ordering::Relaxed) {
                    let lost = tracer.drain(&mut buf);
                    if let Ok(mut inbox) = to.lock() {
                        inbox.lost += lost;
                        if inbox.samples.len() + buf.len() > INBOX_MAX {
                            inbox.lost += (inbox.samples.len() + buf.len()) as u64;
                            inbox.samples.clear();
                            buf.clear();
                        }
                        inbox.samples.append(&mut buf);
                    }
                    std::thread::sleep(DRAIN_EVERY);
                }
            })?;
        Ok(Reader {
            inbox,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
