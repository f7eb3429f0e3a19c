//! Kept-table benchmark: a TCP table kept from kernel events at 100k sockets while 1,000
//! connections a second open and close (each leaving a TIME_WAIT), beside a full table read
//! every second (what the Connections view did before). Each second the table is updated as the
//! TUI's tick does; every `--verify` seconds a dump verifies it socket by socket and owner by
//! owner. Prints the CPU share of each way and what every verification found.
//!
//!     cargo bench --bench kept                      # 100k sockets, 1,000/s, 120 s
//!     cargo bench --bench kept -- 10000 --rate 500 --seconds 30
//!
//! The churn runs in a child process, so this process's CPU (getrusage) is the table's alone:
//! its updates, lookups, owner joins and the thread that empties the rings. Needs root.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a benchmark that cannot proceed fails right there

#[path = "fill.rs"]
mod fill;

use nix::sys::resource::{UsageWho, getrusage};
use portscope::collect::owner_cache::OwnerCache;
use portscope::collect::{CollectOptions, NetnsTarget, collect_with};
use portscope::model::State;
use portscope::watch::kept::{Kept, Update};
use std::collections::VecDeque;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

fn cpu() -> Duration {
    let ru = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(ru.user_time()) + tv(ru.system_time())
}

/// `--churn RATE`: connect to a listener of its own and accept, RATE a second, keeping the
/// last 300 pairs (the oldest closed client first: a TIME_WAIT each), until stdin closes.
fn churn_mode(rate: u64) -> ExitCode {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&done);
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let mut live: VecDeque<(TcpStream, TcpStream)> = VecDeque::new();
    let start = Instant::now();
    let mut n = 0u64;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        live.push_back((c, s));
        if live.len() > 300 {
            live.pop_front();
        }
        n += 1;
        let due = start + Duration::from_micros(n * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => {
            return fill::child_mode(args[1].parse().unwrap(), args[2].parse().unwrap());
        }
        Some("--churn") => return churn_mode(args[1].parse().unwrap()),
        _ => {}
    }
    if !nix::unistd::geteuid().is_root() {
        println!("benchmark skipped: needs root to create a private network namespace");
        return ExitCode::SUCCESS;
    }
    let (mut n, mut rate, mut seconds, mut verify) = (100_000usize, 1000u64, 120u64, 10u64);
    let mut it = args.iter().filter(|a| *a != "--bench");
    while let Some(a) = it.next() {
        let mut num = || {
            it.next()
                .and_then(|v| v.parse::<u64>().ok())
                .expect("a number")
        };
        match a.as_str() {
            "--rate" => rate = num(),
            "--seconds" => seconds = num(),
            "--verify" => verify = num(),
            v => n = v.parse().expect("socket count"),
        }
    }
    let me = std::env::current_exe().unwrap();
    let me = me.to_str().unwrap();
    let filled = fill::fill(me, n, 100);
    let mut kept = Kept::start(&NetnsTarget::Current).expect("TCP events (tracefs, perf)");
    let mut churn = std::process::Command::new(me)
        .args(["--churn", &rate.to_string()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();

    let opts = CollectOptions::default();
    let mut cache = OwnerCache::default();
    let seed = collect_with(&opts, Some(&mut cache)).unwrap();
    kept.reseed(&seed, &cache);
    let (mut listening_cpu, mut dump_cpu, mut dumps) = (Duration::ZERO, Duration::ZERO, 0u32);
    let cpu0 = cpu();
    let (mut verifications, mut compared, mut differences) = (0u32, 0usize, 0usize);
    let start = Instant::now();
    let mut next_verify = start + Duration::from_secs(verify);
    let mut tick = start;
    while start.elapsed() < Duration::from_secs(seconds) {
        tick += Duration::from_secs(1);
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait); // the TUI's tick, a cadence
        }
        let c0 = cpu();
        // What the tick reads fresh anyway: listeners (and the owner scan behind them).
        let listening = collect_with(
            &CollectOptions {
                coverage: portscope::collect::Coverage::Listening {
                    bound_inactive: false,
                },
                ..opts.clone()
            },
            Some(&mut cache),
        )
        .unwrap();
        listening_cpu += cpu() - c0;
        let listeners: Vec<_> = listening
            .sockets
            .iter()
            .filter(|s| s.state == State::Listen)
            .cloned()
            .collect();
        let outcome = kept.update(&mut cache, &listeners);
        if outcome == Update::NeedsDump || Instant::now() >= next_verify {
            let c2 = cpu();
            let full = collect_with(&opts, Some(&mut cache)).unwrap();
            dump_cpu += cpu() - c2;
            dumps += 1;
            if outcome == Update::NeedsDump {
                kept.reseed(&full, &cache);
            } else {
                let report = kept.verify(&full, &mut cache);
                verifications += 1;
                compared += report.compared;
                differences += report.differences.len();
                if !report.differences.is_empty() {
                    println!(
                        "verification {verifications}: {:?}",
                        &report.differences[..report.differences.len().min(3)]
                    );
                }
            }
            next_verify = Instant::now() + Duration::from_secs(verify);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // Everything this process did but the listener ticks and the dumps: updates, lookups, owner
    // joins and the thread that empties the rings.
    let update_cpu = (cpu() - cpu0).saturating_sub(listening_cpu + dump_cpu);
    drop(churn.stdin.take());
    let _ = churn.wait();
    drop(filled);
    let per_dump = dump_cpu.as_secs_f64() / f64::from(dumps.max(1));
    let c = kept.counts;
    println!(
        "{n} sockets, {rate} connections/s for {wall:.0} s; {} events, {} lookups, {} TIME_WAITs expired, {} dumps asked for",
        c.events, c.lookups, c.expired, c.dumps_asked
    );
    println!("| way | CPU (share of one core) |");
    println!("|---|---:|");
    println!(
        "| full table every 1 s ({:.0} ms of CPU each) | {:.1}% |",
        per_dump * 1000.0,
        100.0 * per_dump
    );
    println!(
        "| kept from events (updates, lookups, owner joins, ring reader) | {:.1}% |",
        100.0 * update_cpu.as_secs_f64() / wall
    );
    println!(
        "| listeners read every 1 s (the tick, either way) | {:.1}% |",
        100.0 * listening_cpu.as_secs_f64() / wall
    );
    println!(
        "| verifying dumps, every {verify} s | {:.1}% |",
        100.0 * dump_cpu.as_secs_f64() / wall
    );
    println!();
    println!("| verifications | sockets compared | differences |");
    println!("|---:|---:|---:|");
    println!("| {verifications} | {compared} | {differences} |");
    ExitCode::SUCCESS
}
