//! TUI benchmark: the real `portscope` in a pseudo-terminal on a namespace with N sockets
//! (default 100k over 100 processes), `--interval 1s`. Reports the TUI's average CPU as a share of
//! one core, and how fast a key press is answered, also while a snapshot is being taken.
//!
//!     cargo bench --bench tui                       # 100k sockets, 120 s of keys, 120 s per view
//!     cargo bench --bench tui -- 10000 --seconds 10 --idle-seconds 30
//!     cargo bench --bench tui -- --events-only      # the kept table only (no --no-events run)
//!
//! A view left on screen is measured over two minutes by default: its periodic work (a full
//! table every ~10 s, a full owner scan every 30-50 s) must fall inside the window, or the
//! figure depends on where the window happens to start.
//!
//! Needs root (a private network namespace); otherwise it says so and exits.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

#[path = "fill.rs"]
mod fill;

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// TIME_WAIT sockets in this namespace (/proc/net/sockstat's `tw`).
fn time_wait() -> u64 {
    let text = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "tw")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(0)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let n = args[1].parse().expect("n");
        let i = args[2].parse().expect("index");
        return fill::child_mode(n, i);
    }
    if !nix::unistd::geteuid().is_root() {
        println!("benchmark skipped: needs root to create a private network namespace");
        return ExitCode::SUCCESS;
    }
    let mut n = 100_000usize;
    let mut seconds = 120u64;
    let mut idle_seconds = 120u64;
    let mut modes = vec![false, true];
    let mut it = args.iter().filter(|a| *a != "--bench");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds N"),
            "--idle-seconds" => {
                idle_seconds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--idle-seconds N")
            }
            "--events-only" => modes = vec![true],
            v => n = v.parse().expect("socket count"),
        }
    }
    let me = std::env::current_exe().expect("self");
    let filled = fill::fill(me.to_str().expect("utf-8"), n, 100);

    if modes == [true] {
        // The full run starts the kept table after the --no-events run, when the fill's
        // TIME_WAIT sockets are gone: measure alone from the same point.
        let t0 = Instant::now();
        while time_wait() > 0 && t0.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let mut per_view = Vec::new();
    for events in modes {
        per_view.extend(run_tui(n, seconds, idle_seconds, events));
    }
    // The comparison: `ss -tanu` (one dump, no owners) once a second, as `watch -n1` would.
    let ss_share = {
        use nix::sys::resource::{UsageWho, getrusage};
        let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        let ru = || {
            let r = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
            tv(r.user_time()) + tv(r.system_time())
        };
        let mut v: Vec<f64> = (0..3)
            .map(|_| {
                let c0 = ru();
                std::process::Command::new("ss")
                    .arg("-tanu")
                    .stdout(std::process::Stdio::null())
                    .status()
                    .expect("ss");
                ru() - c0
            })
            .collect();
        percentile(&mut v, 0.5)
    };
    drop(filled);
    println!();
    println!(
        "One view on screen for {idle_seconds} s, no keys (CPU from /proc/PID/stat utime+stime; load average {}):",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| view | CPU (share of one core) | vs `ss -tanu` every 1 s | status line at the end |"
    );
    println!("|---|---:|---:|---|");
    println!(
        "| `ss -tanu` every 1 s (cpu {:.0} ms a run) | {:.1}% | 1.00x | |",
        ss_share * 1000.0,
        100.0 * ss_share
    );
    for (view, share, status) in per_view {
        println!(
            "| {view} | {:.1}% | {:.2}x | {} |",
            100.0 * share,
            share / ss_share,
            status.trim()
        );
    }
    ExitCode::SUCCESS
}

/// One run of the TUI: walking between the two views, then each left open. Returns each
/// view's CPU share and its last status line.
fn run_tui(n: usize, seconds: u64, idle_seconds: u64, events: bool) -> Vec<(String, f64, String)> {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 35,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_portscope"));
    cmd.args(["--interval", "1s"]);
    if !events {
        cmd.arg("--no-events");
    }
    cmd.env("TERM", "xterm-256color");
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("portscope-bench-none"),
    );
    let mut child = pair.slave.spawn_command(cmd).expect("spawn");
    drop(pair.slave);
    let pid = child.process_id().expect("pid");
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let mut writer = pair.master.take_writer().expect("writer");
    let screen = Arc::new(Mutex::new(vt100::Parser::new(35, 120, 0)));
    let feed = Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(k) = reader.read(&mut buf) {
            if k == 0 {
                break;
            }
            feed.lock().expect("parser").process(&buf[..k]);
        }
    });
    let text = || screen.lock().expect("parser").screen().contents();
    let wait = |what: &str, deadline: Duration| -> Option<Duration> {
        let t0 = Instant::now();
        while t0.elapsed() < deadline {
            if text().contains(what) {
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        None
    };
    wait("Listeners (", Duration::from_secs(60)).expect("first render");
    let status = || text().lines().rev().nth(1).unwrap_or("").to_string();
    let first_status = status();

    // Key presses alternate between two views; the answer is the other view's title on screen.
    let ticks = procfs::ticks_per_second() as f64;
    let cpu0 = cpu_ticks(pid);
    let t0 = Instant::now();
    let mut latencies = Vec::new();
    let mut i = 0;
    while t0.elapsed() < Duration::from_secs(seconds) {
        let (key, want) = if i % 2 == 0 {
            ("2", "Connections (")
        } else {
            ("1", "Listeners (")
        };
        writer.write_all(key.as_bytes()).expect("key");
        writer.flush().expect("flush");
        let lat = wait(want, Duration::from_secs(5)).expect("the key was answered");
        latencies.push(lat.as_secs_f64() * 1000.0);
        i += 1;
        // A key every half second, spread over the whole refresh cycle, dumps included.
        std::thread::sleep(Duration::from_millis(500).saturating_sub(lat));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(pid) - cpu0) as f64 / ticks;
    let last_status = status();

    // One view left on screen, no keys: what portscope costs left open on a busy host.
    let mode = if events {
        "kept from events"
    } else {
        "--no-events"
    };
    let mut per_view = Vec::new();
    for (key, title) in [("1", "Listeners ("), ("2", "Connections (")] {
        writer.write_all(key.as_bytes()).expect("key");
        writer.flush().expect("flush");
        wait(title, Duration::from_secs(5)).expect("the view");
        let c0 = cpu_ticks(pid);
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs(idle_seconds));
        let share = (cpu_ticks(pid) - c0) as f64 / ticks / t0.elapsed().as_secs_f64();
        per_view.push((
            format!("{} ({mode})", title.trim_end_matches(" (")),
            share,
            status(),
        ));
    }
    writer.write_all(b"q").expect("quit");
    let _ = child.wait();

    let mut l = latencies.clone();
    let mode = if events {
        "kept from events"
    } else {
        "--no-events"
    };
    println!(
        "portscope TUI ({mode}), {n} sockets over 100 processes, --interval 1s, walking Listeners <-> Connections (a key every 0.5 s) for {wall:.0} s"
    );
    println!("status line: {}", last_status.trim());
    if first_status != last_status {
        println!("(first status: {})", first_status.trim());
    }
    println!("| connections | CPU (share of one core) | key presses | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| {mode} | {:.1}% | {} | {:.1} | {:.1} | {:.1} |",
        100.0 * cpu / wall,
        latencies.len(),
        percentile(&mut l, 0.5),
        percentile(&mut l, 0.99),
        percentile(&mut l, 1.0),
    );
    println!();
    per_view
}
