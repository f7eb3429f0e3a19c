//! The TCP table kept from kernel events against a fresh dump, under churn: about 1,000
//! connections a second opened and closed (each leaving a TIME_WAIT, which expires after 60 s),
//! sockets handed to processes that come and go, compared socket by socket and owner by owner
//! at every verification for 70 s (PORTSCOPE_CHURN_SECS shortens it while iterating).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::collect::owner_cache::OwnerCache;
use portscope::collect::{CollectOptions, NetnsTarget, collect, collect_with};
use portscope::watch::kept::{Kept, Update};
use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

#[test]
fn the_kept_table_equals_a_dump_under_churn() {
    if !private_netns("kept_equals_dump") {
        return;
    }
    let secs: u64 = std::env::var("PORTSCOPE_CHURN_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(70);
    let mut kept = match Kept::start(&NetnsTarget::Current) {
        Ok(k) => k,
        Err(e) => return skip("kept_equals_dump", &format!("no TCP events here: {e}")),
    };
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "1024 65000").unwrap();
    // Churners change sockets and fd tables only while holding this for reading; a
    // verification holds it for writing, so no connect or accept is half done while it reads.
    let gate = Arc::new(RwLock::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicUsize::new(0));
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (gate, stop, made, listener) = (
            Arc::clone(&gate),
            Arc::clone(&stop),
            Arc::clone(&made),
            Arc::clone(&listener),
        );
        workers.push(std::thread::spawn(move || {
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
                // Pace to 500 a second per worker (1,000 in all).
                let due = start + Duration::from_micros(n * 2000);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        }));
    }
    // Sockets handed to other processes, which come and go: owners change with no TCP event.
    let mover_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mover_addr = mover_listener.local_addr().unwrap();
    let mover = {
        let (gate, stop) = (Arc::clone(&gate), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut accepted: VecDeque<TcpStream> = VecDeque::new();
            let mut holders: VecDeque<(Holder, Option<TcpStream>)> = VecDeque::new();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                {
                    let _g = gate.read().unwrap();
                    let c = TcpStream::connect(mover_addr).unwrap();
                    accepted.push_back(mover_listener.accept().unwrap().0);
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
                std::thread::sleep(Duration::from_millis(30));
            }
        })
    };

    let opts = CollectOptions::default();
    let mut cache = OwnerCache::default();
    let seed = collect_with(&opts, Some(&mut cache)).unwrap();
    kept.reseed(&seed, &cache);
    // What the TUI's tick reads fresh every time; here they do not change.
    let listeners: Vec<_> = seed
        .sockets
        .iter()
        .filter(|s| s.state == portscope::model::State::Listen)
        .cloned()
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let (mut verifications, mut compared, mut dumps_forced) = (0u32, 0usize, 0u32);
    let mut next_verify = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        // What the TUI's tick does between verifications: its owner scan, then the events.
        cache.incremental(2).unwrap();
        if kept.update(&mut cache, &listeners) == Update::NeedsDump {
            dumps_forced += 1;
            let full = collect_with(&opts, Some(&mut cache)).unwrap();
            kept.reseed(&full, &cache);
        }
        if Instant::now() >= next_verify {
            let _w = gate.write().unwrap();
            cache.incremental(2).unwrap();
            let before = kept.update(&mut cache, &listeners);
            let dump = collect(&opts).unwrap();
            let report = kept.verify(&dump, &mut cache);
            if before != Update::NeedsDump {
                assert!(
                    report.differences.is_empty(),
                    "verification {verifications} at {:?}: {} of {} sockets differ: {:#?}",
                    start.elapsed(),
                    report.differences.len(),
                    report.compared,
                    &report.differences[..report.differences.len().min(10)]
                );
                compared += report.compared;
                verifications += 1;
            } else {
                dumps_forced += 1;
            }
            next_verify = Instant::now() + Duration::from_secs(2);
        }
        std::thread::sleep(Duration::from_millis(100)); // the tick
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    mover.join().unwrap();
    let rate = made.load(Ordering::Relaxed) as f64 / secs as f64;
    let c = kept.counts;
    skip_note!(
        "kept == dump: {verifications} verifications, {compared} sockets compared, {rate:.0} connections/s, {} events, {} lookups, {} TIME_WAITs expired, {dumps_forced} dumps forced ({} ring overflows)",
        c.events,
        c.lookups,
        c.expired,
        kept.verified.overflows
    );
    assert!(
        u64::from(verifications) >= secs / 4,
        "only {verifications} verifications"
    );
    assert!(rate > 500.0, "churn too slow to mean anything: {rate:.0}/s");
    assert!(compared > 1000, "only {compared} sockets compared");
    assert!(c.lookups > 1000, "the events were never applied");
    if secs >= 65 {
        assert!(c.expired > 0, "no TIME_WAIT was seen to expire");
    }
}
