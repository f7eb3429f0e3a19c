//! Connection churn for the tests that compare a kept or incremental table with a fresh one:
//! two workers open and close 1,000 connections a second (the client closing first, so each
//! leaves a TIME_WAIT), and a mover hands sockets to processes that come and go (owners that
//! change with no TCP event). Everything they do happens under `gate` held for reading, so a
//! check that holds it for writing sees no connect or accept half done.

#![allow(clippy::unwrap_used)] // a churn that cannot proceed fails its test right there

use super::{Holder, hold};
use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Churn {
    gate: Arc<RwLock<()>>,
    stop: Arc<AtomicBool>,
    made: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
    started: Instant,
}

impl Churn {
    /// Starts the churn in the calling thread's network namespace (its threads inherit it).
    pub fn start() -> Churn {
        // 60,000 connections a minute: room for them beside the TIME_WAITs they leave.
        std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "1024 65000").unwrap();
        let gate = Arc::new(RwLock::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let made = Arc::new(AtomicUsize::new(0));
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let mut threads = Vec::new();
        for _ in 0..2 {
            let (gate, stop, made, listener) = (
                Arc::clone(&gate),
                Arc::clone(&stop),
                Arc::clone(&made),
                Arc::clone(&listener),
            );
            threads.push(std::thread::spawn(move || {
                worker(&gate, &stop, &made, &listener);
            }));
        }
        let (g, s) = (Arc::clone(&gate), Arc::clone(&stop));
        threads.push(std::thread::spawn(move || mover(&g, &s)));
        Churn {
            gate,
            stop,
            made,
            threads,
            started: Instant::now(),
        }
    }

    /// Holds every churner still while a check reads.
    pub fn hold_still(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap()
    }

    /// Stops the churn; returns the connections made per second.
    pub fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        self.made.load(Ordering::Relaxed) as f64 / self.started.elapsed().as_secs_f64()
    }
}

fn worker(gate: &RwLock<()>, stop: &AtomicBool, made: &AtomicUsize, listener: &TcpListener) {
    let addr = listener.local_addr().unwrap();
    let mut live: VecDeque<(TcpStream, TcpStream)> = VecDeque::new();
    let start = Instant::now();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        {
            let _g = gate.read().unwrap();
            let c = TcpStream::connect(addr).unwrap();
            let (s, _) = listener.accept().unwrap();
            live.push_back((c, s));
            if live.len() > 300 {
                // The client closes first: its side goes through TIME_WAIT.
                live.pop_front();
            }
        }
        made.fetch_add(1, Ordering::Relaxed);
        n += 1;
        // Pace to 500 a second per worker (1,000 in all): a cadence, not a wait for anything.
        let due = start + Duration::from_micros(n * 2000);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

fn mover(gate: &RwLock<()>, stop: &AtomicBool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut accepted: VecDeque<TcpStream> = VecDeque::new();
    let mut holders: VecDeque<(Holder, Option<TcpStream>)> = VecDeque::new();
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        {
            let _g = gate.read().unwrap();
            let c = TcpStream::connect(addr).unwrap();
            accepted.push_back(listener.accept().unwrap().0);
            let h = hold(&[&c]);
            // Half of them: only the new process keeps it.
            let ours = i.is_multiple_of(2).then_some(c);
            holders.push_back((h, ours));
            if accepted.len() > 16 {
                accepted.pop_front();
            }
            if holders.len() > 8 {
                holders.pop_front(); // killed and reaped under the gate
            }
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(30)); // the mover's pace
    }
}
