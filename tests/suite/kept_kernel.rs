//! The TCP table kept from kernel events against a fresh dump, under churn: about 1,000
//! connections a second opened and closed (each leaving a TIME_WAIT, which expires after 60 s),
//! sockets handed to processes that come and go, compared socket by socket and owner by owner
//! at every verification for 70 s (PORTSCOPE_CHURN_SECS shortens it while iterating).
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use crate::common::*;
use portscope::collect::owner_cache::OwnerCache;
use portscope::collect::{CollectOptions, NetnsTarget, collect, collect_with};
use portscope::watch::kept::{Kept, Update};
use std::time::{Duration, Instant};

#[test]
fn the_kept_table_equals_a_dump_under_churn() {
    // A storm: host-wide tracers of other tests wait (and this test's own tracer sees theirs
    // only as lookups that find nothing here). Alone in a process: a fork by another test
    // holds a copy of every fd until its exec, and would show as an owner one side saw.
    let _storm = crate::common::storm_of_connections();
    if !alone_in_a_process(module_path!(), "the_kept_table_equals_a_dump_under_churn")
        || !private_netns("kept_equals_dump")
    {
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
    let churn = crate::common::churn::Churn::start();

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
            let _w = churn.hold_still();
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
    let rate = churn.finish();
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
