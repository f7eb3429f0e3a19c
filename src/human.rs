//! Numbers as a person reads them: wall-clock start times with an age, counts with the right
//! noun, namespaces by name, and what a countdown counts down to.

use crate::collect::process_context::Clock;

/// "1 socket", "2 sockets".
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "45 s", "12 m 3 s", "2 h 14 m", "3 d 4 h": the two largest units that matter.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} m")
    } else if m > 0 {
        format!("{m} m {sec} s")
    } else {
        format!("{sec} s")
    }
}

/// "frees in 46 s": when the kernel lets a TIME_WAIT or FIN-WAIT-2 socket (and its port) go.
pub fn frees_in(ms: u32) -> String {
    // Seconds, as the kernel's timers are short (60 s for TIME_WAIT): "frees in 60 s" fits
    // the mark column.
    format!("frees in {} s", ms.div_ceil(1000))
}

/// A process start time (clock ticks after boot, field 22 of /proc/PID/stat) as
/// "03:12 · 2 h 14 m ago" when the boot time is known, else as the time after boot.
pub fn started(ticks: u64, clock: &Clock) -> String {
    clock.start(ticks).words(duration)
}

/// How the header names the namespace a snapshot shows: "the namespace of pid 812",
/// "namespace /run/netns/blue", "this namespace".
pub fn netns_words(target: &str) -> String {
    match target {
        "" | "current" => "this network namespace".into(),
        "all" => "every network namespace".into(),
        t if t.starts_with("pid ") => format!("network namespace of {t}"),
        t if t.chars().all(|c| c.is_ascii_digit()) => format!("network namespace of pid {t}"),
        t => format!("network namespace {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ages_and_start_times_read_as_words() {
        assert_eq!(count(1, "socket"), "1 socket");
        assert_eq!(count(0, "port"), "0 ports");
        assert_eq!(duration(46), "46 s");
        assert_eq!(duration(2 * 3600 + 14 * 60 + 5), "2 h 14 m");
        assert_eq!(duration(3 * 86_400 + 7200), "3 d 2 h");
        assert_eq!(frees_in(45_001), "frees in 46 s");
        let boot = jiff::Timestamp::from_second(1_000_000_000).unwrap();
        let started_at = 1_000_000_000 + 3 * 3600 + 12 * 60; // 04:58:40 UTC
        let mut clock =
            Clock::fixed(jiff::Timestamp::from_second(started_at + 2 * 3600 + 14 * 60).unwrap());
        clock.hz = 100;
        assert_eq!(started(11_520 * 100, &clock), "3 h 12 m after boot");
        clock.boot = Some(boot);
        assert_eq!(started(11_520 * 100, &clock), "04:58 · 2 h 14 m ago");
        assert_eq!(netns_words("current"), "this network namespace");
        assert_eq!(netns_words("pid 812"), "network namespace of pid 812");
    }
}
