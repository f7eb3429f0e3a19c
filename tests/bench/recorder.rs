//! `cargo bench --bench recorder [-- SECONDS]`: what the flight recorder (`watch --failures`)
//! costs a busy host, and whether a storm of refusals is recorded or counted.
//!
//! In a private network namespace, a workload process makes 20,000 connect() and 2,000 bind()
//! per second (UDP sockets: the recorder's programs run on every connect() and bind() whatever
//! the protocol, and UDP needs no peer). It runs once unobserved and once with the recorder on;
//! the cost is the workload's extra CPU (the BPF programs run in its syscalls) plus the
//! recorder's own, as a share of one core. Then a storm: 10,000 refused bind() per second for
//! a few seconds; every refusal must be either a recorded event or in a `lost` count.
//! Needs root (namespaces, BPF).
#![allow(clippy::pedantic)]

#[path = "measure.rs"]
mod measure;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, connect, socket};
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const CONNECTS_PER_S: u64 = 20_000;
const BINDS_PER_S: u64 = 2_000;
const STORM_PER_S: u64 = 10_000;

/// `--workload SECONDS`: the paced connect()/bind() load, in this process.
fn workload(secs: u64) -> ExitCode {
    let start = Instant::now();
    let total = secs * CONNECTS_PER_S;
    let every_bind = CONNECTS_PER_S / BINDS_PER_S;
    let peer = SockaddrIn::new(127, 0, 0, 1, 9);
    for i in 0..total {
        // Paced: call i is due at i / rate seconds.
        let due = Duration::from_secs_f64(i as f64 / CONNECTS_PER_S as f64);
        if let Some(wait) = due.checked_sub(start.elapsed())
            && wait > Duration::from_millis(1)
        {
            std::thread::sleep(wait);
        }
        // socket() and connect() alone (std's UdpSocket would bind() each one first).
        let s = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .expect("socket");
        connect(s.as_raw_fd(), &peer).expect("connect");
        if i % every_bind == 0 {
            drop(UdpSocket::bind(("127.0.0.1", 0)).expect("bind"));
        }
    }
    ExitCode::SUCCESS
}

/// `--storm SECONDS PORT`: refused binds to PORT, paced at STORM_PER_S; prints how many.
fn storm(secs: u64, port: u16) -> ExitCode {
    let start = Instant::now();
    let mut refused = 0u64;
    for i in 0..secs * STORM_PER_S {
        let due = Duration::from_secs_f64(i as f64 / STORM_PER_S as f64);
        if let Some(wait) = due.checked_sub(start.elapsed())
            && wait > Duration::from_millis(1)
        {
            std::thread::sleep(wait);
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            refused += 1;
        }
    }
    println!("{refused}");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--measure") => return measure::measure_mode(&args[2..]),
        Some("--workload") => return workload(args[2].parse().expect("seconds")),
        Some("--storm") => {
            return storm(
                args[2].parse().expect("seconds"),
                args[3].parse().expect("port"),
            );
        }
        _ => {}
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("recorder bench: needs root (a private network namespace, BPF)");
        return ExitCode::FAILURE;
    }
    let secs: u64 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
    Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip");
    let me = args[0].clone();
    let portscope = env!("CARGO_BIN_EXE_portscope");
    let secs_s = secs.to_string();

    let alone = measure::run(&me, &[&me, "--workload", &secs_s]);
    // The recorder starts first and outlives the workload; its own CPU is measured whole.
    let rec_for = format!("{}s", secs + 3);
    let rec = std::thread::spawn({
        let me = me.clone();
        move || {
            measure::run(
                &me,
                &[
                    portscope,
                    "watch",
                    "--failures",
                    "--json",
                    "--for",
                    &rec_for,
                ],
            )
        }
    });
    std::thread::sleep(Duration::from_secs(1)); // the recorder's programs attached
    let watched = measure::run(&me, &[&me, "--workload", &secs_s]);
    let recorder = rec.join().expect("recorder");
    let span_ms = alone.wall_ms.max(watched.wall_ms);
    let share = |ms: f64| 100.0 * ms / span_ms;
    println!(
        "workload: {CONNECTS_PER_S} connect()/s + {BINDS_PER_S} bind()/s for {secs} s, Linux {}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    println!("| measure | unobserved | recorder on |");
    println!("|---|---|---|");
    println!(
        "| workload CPU | {:.1}% of a core | {:.1}% |",
        share(alone.cpu_ms),
        share(watched.cpu_ms)
    );
    println!(
        "| recorder process CPU | - | {:.2}% |",
        share(recorder.cpu_ms)
    );
    let added = watched.cpu_ms - alone.cpu_ms + recorder.cpu_ms;
    println!(
        "| added, total | - | {:.2}% of a core (target < 2%) |",
        share(added)
    );

    // The storm: recorded + lost must account for every refusal.
    let port = 47999;
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).expect("listener");
    let storm_secs = 3u64;
    let mut rec = Command::new(portscope)
        .args(["watch", "--failures", "--json", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("recorder");
    let out = rec.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut events, mut lost) = (0u64, 0u64);
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).expect("json");
            match v["type"].as_str() {
                Some("event") => events += 1,
                Some("lost") => lost += v["count"].as_u64().unwrap_or(0),
                Some("source") => {
                    let _ = tx.send(None);
                }
                _ => {}
            }
            let _ = tx.send(Some((events, lost)));
        }
    });
    let _ = rx.recv_timeout(Duration::from_secs(60)); // the source line: recording
    let made: u64 = String::from_utf8_lossy(
        &Command::new(&me)
            .args(["--storm", &storm_secs.to_string(), &port.to_string()])
            .output()
            .expect("storm")
            .stdout,
    )
    .trim()
    .parse()
    .expect("count");
    // Wait until everything made is accounted for, or the recorder falls silent.
    let mut seen = (0, 0);
    while seen.0 + seen.1 < made {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(s)) => seen = s,
            Ok(None) => {}
            Err(_) => break,
        }
    }
    let _ = rec.kill();
    let _ = rec.wait();
    println!(
        "storm: {made} refused bind() in {storm_secs} s ({STORM_PER_S}/s): {} recorded, {} counted lost, {} unaccounted",
        seen.0,
        seen.1,
        made.saturating_sub(seen.0 + seen.1)
    );
    if seen.0 + seen.1 < made {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
