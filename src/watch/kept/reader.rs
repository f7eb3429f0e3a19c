//! The thread that empties the event rings, so that a long dump on the collector's thread never
//! lets them fill.

use crate::watch::sample::Sample;
use crate::watch::trace::Tracer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The rings and what was read from them but not yet taken: samples in the order each drain
/// found them, and how many the kernel lost.
struct Shared {
    tracer: Tracer,
    samples: Vec<Sample>,
    lost: u64,
    buf: Vec<Sample>,
}

impl Shared {
    fn drain(&mut self) {
        self.lost += self.tracer.drain(&mut self.buf);
        if self.samples.len() + self.buf.len() > INBOX_MAX {
            self.lost += (self.samples.len() + self.buf.len()) as u64;
            self.samples.clear();
            self.buf.clear();
        }
        self.samples.append(&mut self.buf);
    }
}

/// How often the reader thread empties the rings (a cadence, not a wait for anything): at
/// 2 MiB per CPU this holds over 100,000 events a second per CPU.
const DRAIN_EVERY: Duration = Duration::from_millis(100);
/// Samples waiting past this many (nobody took them: a stalled collector) are dropped and
/// counted as lost, which forces a dump.
const INBOX_MAX: usize = 1 << 20;

/// Empties the rings on its own thread, so that a long dump on the collector's thread never lets
/// them fill; [`Reader::take`] empties them at once as well, so what happened before a call is
/// in its result.
pub(super) struct Reader {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    pub(super) fn spawn(tracer: Tracer) -> std::io::Result<Reader> {
        let shared = Arc::new(Mutex::new(Shared {
            tracer,
            samples: Vec::new(),
            lost: 0,
            buf: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (to, stopped) = (Arc::clone(&shared), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("tcp-events".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    if let Ok(mut s) = to.lock() {
                        s.drain();
                    }
                    std::thread::sleep(DRAIN_EVERY);
                }
            })?;
        Ok(Reader {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Every sample up to now, into `out` (replacing what it held); returns how many were lost.
    pub(super) fn take(&self, out: &mut Vec<Sample>) -> u64 {
        out.clear();
        match self.shared.lock() {
            Ok(mut s) => {
                s.drain();
                std::mem::swap(out, &mut s.samples);
                std::mem::take(&mut s.lost)
            }
            // The reader panicked holding the lock: nothing it read can be trusted.
            Err(_) => 1,
        }
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
