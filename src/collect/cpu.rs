//! CPU time spent by this process: what the collector's cadences budget against. Wall time
//! would charge a refresh for the time other processes had the CPU.

use std::time::Duration;

/// User + system CPU time of the whole process so far.
pub fn process_time() -> Duration {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|r| {
            let us = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
                    + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
            };
            us(r.user_time()) + us(r.system_time())
        })
        .unwrap_or_default()
}

/// How many threads a scan may use: the CPUs this process may run on, learnt once (the
/// standard library reads the cgroup's quota files on every call: a tenth of a millisecond,
/// on every tick of the TUI).
pub fn threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
}

/// How long to wait between runs of periodic work that cost `cost` of CPU last time: at least
/// `min`, and long enough that it takes no more than `share` of one core.
pub fn budgeted_every(min: Duration, cost: Duration, share: f64) -> Duration {
    min.max(cost.div_f64(share))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_spaced_by_its_cost() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(budgeted_every(s(30), ms(100), 0.01), s(30));
        // A 500 ms owner scan at 1% of a core: every 50 s.
        assert_eq!(budgeted_every(s(30), ms(500), 0.01), s(50));
        assert!(process_time() > Duration::ZERO);
    }
}
