//! The benchmarks' wrapper around a reference command (`ss`, ...): the bench binary runs itself
//! as `--measure CMD ARGS...`, which runs the command with stdout to /dev/null and reports its
//! `getrusage(RUSAGE_CHILDREN)`: exactly that command's CPU, none of the bench's own.
// Each benchmark reads the figures it reports, not all of them.
#![allow(dead_code)]

use nix::sys::resource::{UsageWho, getrusage};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// One run of a measured command.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measured {
    pub wall_ms: f64,
    pub cpu_ms: f64,
    /// Of `cpu_ms`, in the kernel.
    pub sys_ms: f64,
    pub rss_mb: f64,
}

/// `--measure CMD ARGS...`: prints "wall_us cpu_us sys_us maxrss_kb ok".
pub fn measure_mode(cmd: &[String]) -> ExitCode {
    let devnull = std::fs::File::create("/dev/null").expect("/dev/null");
    let t = Instant::now();
    let status = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(devnull)
        .status()
        .expect("spawn measured command");
    let wall = t.elapsed().as_micros();
    let ru = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as i128 * 1_000_000 + t.tv_usec() as i128;
    let sys = tv(ru.system_time());
    let cpu = tv(ru.user_time()) + sys;
    println!("{wall} {cpu} {sys} {} {}", ru.max_rss(), status.success());
    ExitCode::SUCCESS
}

/// Runs `cmd` under `me --measure`; a command that fails fails the benchmark.
pub fn run(me: &str, cmd: &[&str]) -> Measured {
    let out = Command::new(me)
        .arg("--measure")
        .args(cmd)
        .output()
        .expect("measure");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f.get(4), Some(&"true"), "{cmd:?} failed: {text}");
    let num = |i: usize| f[i].parse::<f64>().expect("a number");
    Measured {
        wall_ms: num(0) / 1000.0,
        cpu_ms: num(1) / 1000.0,
        sys_ms: num(2) / 1000.0,
        rss_mb: num(3) / 1024.0,
    }
}
