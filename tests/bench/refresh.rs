//! Refresh benchmark: a steady-state TUI refresh (owners reused through collect::owner_cache)
//! beside a full snapshot and `ss -tanup`, on one private namespace with N sockets over P
//! processes.
//!
//!     cargo bench --bench refresh                   # 100k sockets, 100 processes
//!     cargo bench --bench refresh -- 10000 --runs 10
//!
//! `ss -tanup` runs under a wrapper (getrusage of its child); portscope's refreshes run in this
//! process, CPU from getrusage(RUSAGE_SELF) around each call. Needs root.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a benchmark that cannot proceed fails right there

#[path = "fill.rs"]
mod fill;
#[path = "measure.rs"]
mod measure;

use nix::sys::resource::{UsageWho, getrusage};
use portscope::collect::owner_cache::OwnerCache;
use portscope::collect::{CollectOptions, collect, collect_with};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn cpu(who: UsageWho) -> Duration {
    let ru = getrusage(who).unwrap();
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(ru.user_time()) + tv(ru.system_time())
}

/// System (kernel) CPU of this process so far.
fn kernel_cpu() -> Duration {
    let t = getrusage(UsageWho::RUSAGE_SELF).unwrap().system_time();
    Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// (wall ms, cpu ms, of which kernel ms) of one `ss` run.
fn ss(me: &str, args: &str) -> (f64, f64, f64) {
    let m = measure::run(me, &["ss", args]);
    (m.wall_ms, m.cpu_ms, m.sys_ms)
}

/// (wall ms, cpu ms) of one call.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, f64, T) {
    let c0 = cpu(UsageWho::RUSAGE_SELF);
    let t0 = Instant::now();
    let v = f();
    let wall = t0.elapsed().as_secs_f64() * 1000.0;
    let cpu = (cpu(UsageWho::RUSAGE_SELF) - c0).as_secs_f64() * 1000.0;
    (wall, cpu, v)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--measure") {
        return measure::measure_mode(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--child") {
        return fill::child_mode(args[1].parse().unwrap(), args[2].parse().unwrap());
    }
    if !nix::unistd::geteuid().is_root() {
        println!("benchmark skipped: needs root to create a private network namespace");
        return ExitCode::SUCCESS;
    }
    let (mut n, mut procs, mut runs) = (100_000usize, 100usize, 5usize);
    let mut it = args.iter().filter(|a| *a != "--bench");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--procs" => procs = it.next().and_then(|v| v.parse().ok()).unwrap(),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).unwrap(),
            v => n = v.parse().unwrap(),
        }
    }
    let me = std::env::current_exe().unwrap();
    let me = me.to_str().unwrap();
    let filled = fill::fill(me, n, procs);
    let opts = CollectOptions::default();
    let total = collect(&CollectOptions {
        skip_owners: true,
        ..Default::default()
    })
    .unwrap()
    .sockets
    .len();
    let ss_runs: Vec<(f64, f64)> = (0..runs)
        .map(|_| ss(me, "-tanup"))
        .map(|(w, c, _)| (w, c))
        .collect();
    // The floor: `ss` without -p is one dump of every socket, formatted, and nothing else.
    let ss_plain3: Vec<(f64, f64, f64)> = (0..runs).map(|_| ss(me, "-tanu")).collect();
    let ss_plain: Vec<(f64, f64)> = ss_plain3.iter().map(|&(w, c, _)| (w, c)).collect();
    let ss_plain_kernel = median(ss_plain3.iter().map(|x| x.2).collect());
    let full: Vec<(f64, f64)> = (0..runs)
        .map(|_| {
            let (w, c, s) = timed(|| collect(&opts).unwrap());
            drop(s);
            (w, c)
        })
        .collect();
    let mut cache = OwnerCache::default();
    let _ = collect_with(&opts, Some(&mut cache)).unwrap(); // the first is a full scan
    let mut steady = Vec::new();
    let (mut sys, mut asked) = (Vec::new(), Vec::new());
    let mut incremental = 0;
    // What the TUI's collector does besides: derive the views, diff for history.
    let (mut derive, mut diff) = (Vec::new(), Vec::new());
    let mut prev: Option<portscope::model::Snapshot> = None;
    for _ in 0..runs.max(5) {
        std::thread::sleep(Duration::from_millis(200)); // between refreshes, as in the TUI
        let k0 = kernel_cpu();
        let (w, c, s) = timed(|| collect_with(&opts, Some(&mut cache)).unwrap());
        sys.push((kernel_cpu() - k0).as_secs_f64() * 1000.0);
        asked.push(cache.autobound.asked as f64);
        incremental += usize::from(!cache.last.full);
        steady.push((w, c));
        let (_, dc, _) = timed(|| portscope::analyze::Derived::of(&s));
        derive.push(dc);
        let (_, hc, _) = timed(|| portscope::history::changes_since(prev.as_ref(), &s));
        diff.push(hc);
        prev = Some(s);
    }
    // The TUI's cheap refresh between full ones: only what holds a port for others to see.
    let light = |bound_inactive: bool, cache: &mut OwnerCache| {
        let o = CollectOptions {
            coverage: portscope::collect::Coverage::Listening { bound_inactive },
            ..Default::default()
        };
        let mut v = Vec::new();
        for _ in 0..runs.max(5) {
            std::thread::sleep(Duration::from_millis(200));
            let k0 = kernel_cpu();
            let (w, c, s) = timed(|| collect_with(&o, Some(&mut *cache)).unwrap());
            v.push((
                w,
                c,
                (kernel_cpu() - k0).as_secs_f64() * 1000.0,
                s.sockets.len(),
            ));
        }
        v
    };
    let listen_only = light(false, &mut cache);
    let with_bound = light(true, &mut cache);
    let m = |v: &[(f64, f64)], i: usize| {
        median(v.iter().map(|x| if i == 0 { x.0 } else { x.1 }).collect())
    };
    let (ssw, ssc) = (m(&ss_runs, 0), m(&ss_runs, 1));
    let (spw, spc) = (m(&ss_plain, 0), m(&ss_plain, 1));
    let (fw, fc) = (m(&full, 0), m(&full, 1));
    let (iw, ic) = (m(&steady, 0), m(&steady, 1));
    println!(
        "{total} sockets over {procs} processes, {} cores, kernel {}, median of {runs}; {incremental} of {} steady refreshes incremental",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        steady.len()
    );
    println!("| refresh | wall ms | cpu ms | wall vs ss | cpu vs ss |");
    println!("|---|---:|---:|---:|---:|");
    println!("| `ss -tanup` | {ssw:.0} | {ssc:.0} | 1.00x | 1.00x |");
    println!(
        "| `ss -tanu` (no owners: one dump, the floor) | {spw:.0} | {spc:.0} | {:.3}x | {:.3}x |",
        spw / ssw,
        spc / ssc
    );
    println!(
        "| full snapshot | {fw:.0} | {fc:.0} | {:.3}x | {:.3}x |",
        fw / ssw,
        fc / ssc
    );
    println!(
        "| steady-state (owners reused) | {iw:.0} | {ic:.0} | {:.3}x | {:.3}x |",
        iw / ssw,
        ic / ssc
    );
    for (label, v) in [
        ("listening only (TCP LISTEN + UDP)", &listen_only),
        ("listening + bound-inactive TCP", &with_bound),
    ] {
        let (w, c) = (
            median(v.iter().map(|x| x.0).collect()),
            median(v.iter().map(|x| x.1).collect()),
        );
        println!(
            "| {label}, {} sockets (kernel {:.1} ms) | {w:.1} | {c:.1} | {:.4}x | {:.4}x |",
            v[0].3,
            median(v.iter().map(|x| x.2).collect()),
            w / ssw,
            c / ssc
        );
    }
    println!(
        "kernel cpu (median): `ss -tanu` {ss_plain_kernel:.0} ms, steady-state refresh {:.0} ms; autobound marks asked of the kernel: {:.0} sockets (median)",
        median(sys),
        median(asked)
    );
    println!(
        "TUI collector extras per refresh (cpu ms, median): derived views {:.0}, history diff {:.0}",
        median(derive),
        median(diff)
    );
    drop(filled);
    ExitCode::SUCCESS
}
