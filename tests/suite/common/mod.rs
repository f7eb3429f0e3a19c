//! Test kit: private network namespaces, real sockets, helper processes that hold them.
//!
//! `unshare(CLONE_NEWNET)` moves only the calling thread, and each libtest test runs on its own
//! thread, so every test gets its own namespace; sockets it opens and children it spawns live
//! there. Nothing touches the host's namespace.

/// Says on the real stderr, past libtest's output capture, that a test skipped and why.
#[macro_export]
macro_rules! skip_note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod churn;
pub mod pty;
pub mod reserve;
pub mod sockets;
pub mod tui;
pub mod veth;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sched::{CloneFlags, unshare};
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn6, bind, listen, setsockopt, socket,
    sockopt,
};
use std::net::{SocketAddr, SocketAddrV6, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// Every spawn in the suite goes through this lock (all its tests share one process): while one
/// test clears CLOEXEC on a socket to hand it to a child, no other test's child may be spawned
/// and inherit it by accident, and while one test compares what holds its sockets, no fork of
/// another test (which holds a copy of every fd until its exec) is in the way.
pub static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// Host-wide kernel tracing against storms of kernel events. A tracer (watch's tracepoint and
/// BPF programs, the flight recorder) gets every namespace's events that pass its kernel filter,
/// through rings of a few pages per CPU, and every connect passes watch's filter while it has
/// no port yet: a test that opens thousands of connections a second could fill the rings, and
/// the events a tracer test waits for would be lost with the rest. Storm tests hold this for
/// writing, tracer tests for reading: tracers run beside each other and beside every other
/// test, never beside a storm. (While each test file was a binary of its own, cargo ran them
/// one after the other, and the storms never met the tracers.)
static HOST_EVENTS: RwLock<()> = RwLock::new(());

/// Held by a test for as long as it runs a host-wide tracer (see [`HOST_EVENTS`]). Once per
/// test, at its start: a second read lock on the same thread can wait for a waiting storm.
pub fn host_wide_tracer() -> RwLockReadGuard<'static, ()> {
    HOST_EVENTS.read().unwrap_or_else(|e| e.into_inner())
}

/// Held by a test for as long as it makes a storm of connections (see [`HOST_EVENTS`]).
pub fn storm_of_connections() -> RwLockWriteGuard<'static, ()> {
    HOST_EVENTS.write().unwrap_or_else(|e| e.into_inner())
}

/// Holds off every spawn of this test binary. A fork copies the file table, so a socket this
/// thread closes while another test forks stays open (and bound) in the child until its exec:
/// a bind right after such a close gets EADDRINUSE on a busy machine, where the window between
/// fork and exec is long. Tests that compare the kernel's bind() with what was just closed
/// hold this across the comparison.
pub fn no_spawns() -> std::sync::MutexGuard<'static, ()> {
    SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// In CI (`CI=true`) a test that cannot run is a failure, never a silent pass.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips a test that cannot run here: says SKIPPED and why outside CI, fails in CI.
pub fn skip(test: &str, why: &str) {
    assert!(!in_ci(), "{test} cannot run in CI: {why}");
    skip_note!("SKIPPED {test}: {why}");
}

/// Moves the calling test thread into a fresh network namespace with loopback up.
/// Returns false (after saying so) where that is not possible, so the test can skip.
#[must_use]
pub fn private_netns(test: &str) -> bool {
    if !is_root() {
        skip(
            test,
            "needs root to create a private network namespace (unshare -n)",
        );
        return false;
    }
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNET) {
        skip(test, &format!("unshare(CLONE_NEWNET) failed: {e}"));
        return false;
    }
    let status = run_quiet(Command::new("ip").args(["link", "set", "lo", "up"]));
    assert!(status, "could not bring lo up in the private namespace");
    true
}

fn run_quiet(cmd: &mut Command) -> bool {
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command in the test's namespace and returns (status code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        cmd.stdin(Stdio::null()).output().expect("spawn")
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cmd.output()` with its spawn under the spawn lock (what every spawn of the suite must do,
/// see [`SPAWN_LOCK`]); the child runs and is waited for outside the lock.
pub fn output(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    let child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?
    };
    child.wait_with_output()
}

/// For a test that changes what is process-wide (a `OnceLock` of the crate, such as the tool
/// search path that `--tool-path` sets once per process): runs it again, alone, in a process of
/// its own (this binary with `--exact`), so that no other test of the suite sees the change.
/// `module` is the caller's `module_path!()`. Returns true in that process (go on with the test
/// there); in the suite's own process, false once the run has passed.
#[must_use]
pub fn alone_in_a_process(module: &str, test: &str) -> bool {
    const ALONE: &str = "PORTSCOPE_TEST_ALONE";
    // The suite's name for the test: its module path without the crate's name.
    let name = format!(
        "{}::{test}",
        module.split_once("::").map_or(module, |m| m.1)
    );
    if std::env::var(ALONE).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary");
    // Not `run`, which holds the spawn lock until the child exits: that would stop every spawn
    // of the suite for as long as the test takes.
    let done = output(
        Command::new(exe)
            .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(ALONE, &name),
    )
    .expect("spawn the test binary");
    let code = done.status.code().unwrap_or(-1);
    let out = String::from_utf8_lossy(&done.stdout);
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(
        code == 0 && out.contains("1 passed"),
        "the run of {name} in a process of its own failed ({code}):\n{out}\n{err}"
    );
    false
}

/// `portscope why ARGS --json`: the exit status and the parsed diagnosis.
pub fn why_json(args: &[&str]) -> (i32, portscope::analyze::why::Diagnosis) {
    let mut full = vec!["why"];
    full.extend_from_slice(args);
    full.push("--json");
    let (code, out, err) = run(portscope().args(&full));
    let d = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("why {args:?}: {e}\nstdout: {out}\nstderr: {err}"));
    (code, d)
}

pub fn portscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portscope"))
}

/// A child process (`sleep`) that holds some of our sockets; killed and reaped on drop.
pub struct Holder {
    pub child: Child,
}

impl Holder {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns a process that inherits `fds` (same fd numbers) and sleeps.
pub fn hold(fds: &[&dyn AsFd]) -> Holder {
    spawn_holding(
        Command::new("sleep")
            .arg("600")
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
        fds,
    )
}

/// Spawns `cmd` inheriting `fds` (same fd numbers): it holds those sockets, and is killed and
/// reaped on drop (even when the test fails). Under the spawn lock, so no other child of the
/// binary inherits them meanwhile.
pub fn spawn_holding(cmd: &mut Command, fds: &[&dyn AsFd]) -> Holder {
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for fd in fds {
        fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).expect("clear cloexec");
    }
    let child = cmd.spawn().expect("spawn");
    for fd in fds {
        fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("set cloexec");
    }
    // spawn() returns once the child's exec has taken over its memory, which is before the
    // exec closes the close-on-exec fds: until then the child holds a copy of every fd of this
    // process, so a socket another thread closes meanwhile stays open (ESTABLISHED, with an
    // inode, owned by no fd in /proc) and vanishes a moment later. The exec renames the process
    // after those fds are closed: wait until the child no longer bears this thread's name
    // (whatever it execs into next: `sh` may exec `sleep`, `unshare` its command).
    let pid = child.id();
    let ours = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
    let settled = wait_until(PATIENCE, || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).map_or(true, |c| c != ours)
    });
    assert!(settled, "the child {pid} never finished its exec");
    Holder { child }
}

/// Writes an executable file (a tool's stand-in, a copy of a program) with no spawn in flight:
/// a child forked while the write fd is open keeps it until its exec, and running the file in
/// that window fails with ETXTBSY ("Text file busy").
pub fn write_executable(path: &std::path::Path, contents: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let _quiet = no_spawns();
    std::fs::write(path, contents).expect("write an executable");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A copy of the program at `from`, executable, written as [`write_executable`] writes.
pub fn copy_executable(from: &str, to: &std::path::Path) {
    write_executable(to, &std::fs::read(from).expect("read the program"));
}

/// A process with no sockets, for namespace handles (`--netns PID`).
pub fn idle() -> Holder {
    hold(&[])
}

/// How long a test waits for a condition before it fails. CI runners are shared: on a 2-core
/// machine with other work, a process start or a first snapshot in a debug build can take
/// seconds. A wait ends as soon as its condition holds, so patience costs nothing when things
/// are quick; only a test that is failing anyway waits this long.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `cond` until it holds or the deadline passes; returns whether it held.
pub fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(5)); // poll interval, not synchronisation
    }
}

pub fn tcp_listen(addr: &str) -> TcpListener {
    TcpListener::bind(addr).unwrap_or_else(|e| panic!("listen {addr}: {e}"))
}

pub fn port_of(l: &TcpListener) -> u16 {
    l.local_addr().expect("local addr").port()
}

/// An IPv6 wildcard listener with IPV6_V6ONLY set (does not cover IPv4).
pub fn tcp_listen_v6only(port: u16) -> TcpListener {
    let fd: OwnedFd = socket(
        AddressFamily::Inet6,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    setsockopt(&fd, sockopt::Ipv6V6Only, &true).expect("v6only");
    setsockopt(&fd, sockopt::ReuseAddr, &true).expect("reuseaddr");
    let sa = SockaddrIn6::from(SocketAddrV6::new(
        std::net::Ipv6Addr::UNSPECIFIED,
        port,
        0,
        0,
    ));
    bind(fd.as_raw_fd(), &sa).expect("bind v6only");
    listen(&fd, Backlog::new(16).expect("backlog")).expect("listen");
    TcpListener::from(fd)
}

/// A TCP listener *without* SO_REUSEADDR (std's TcpListener always sets it on Unix).
pub fn tcp_listen_plain(port: u16) -> TcpListener {
    let fd: OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    let sa = nix::sys::socket::SockaddrIn::new(127, 0, 0, 1, port);
    bind(fd.as_raw_fd(), &sa).expect("bind");
    listen(&fd, Backlog::new(16).expect("backlog")).expect("listen");
    TcpListener::from(fd)
}

/// A client connection made *with* an explicit bind to `local_port` first (not autobound).
pub fn tcp_connect_from(local_port: u16, to: SocketAddr) -> TcpStream {
    let fd: OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    let local = nix::sys::socket::SockaddrIn::new(127, 0, 0, 1, local_port);
    bind(fd.as_raw_fd(), &local).expect("bind client");
    let SocketAddr::V4(v4) = to else {
        panic!("v4 only")
    };
    nix::sys::socket::connect(fd.as_raw_fd(), &nix::sys::socket::SockaddrIn::from(v4))
        .expect("connect");
    TcpStream::from(fd)
}

pub fn udp_bind(addr: &str) -> UdpSocket {
    UdpSocket::bind(addr).unwrap_or_else(|e| panic!("udp bind {addr}: {e}"))
}

/// Leaves a TIME_WAIT on the listener's port, as a restarted server finds it: connect, accept,
/// close the server side first (the active closer keeps TIME_WAIT), then the client.
pub fn make_time_wait(listener: &TcpListener) {
    let port = port_of(listener);
    let client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (server_side, _) = listener.accept().expect("accept");
    // A child forked by another test holds a copy of every fd until it execs; a close in that
    // window sends no FIN, the client closes first, and TIME_WAIT lands on the client's port.
    // Every spawn takes this lock, so closing under it makes the order certain.
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    drop(server_side);
    drop(client);
}

/// A free port in the namespace's ephemeral range is what the kernel would choose; tests pick
/// fixed ports below it so that nothing else in the private namespace collides.
pub fn fresh_port(seed: u16) -> u16 {
    20000 + seed
}

/// The portscope binary at a path another user (uid 65534 via setpriv, or `Command::uid`) can
/// execute. The build's own path is under the checkout, which on most servers is under a
/// home directory other users cannot enter (root's is 0700), so it is copied once per test
/// process into a world-reachable temporary directory.
pub fn portscope_for_other_users() -> std::path::PathBuf {
    static COPY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let built = std::path::Path::new(env!("CARGO_BIN_EXE_portscope"));
        if reachable_by_all(built) {
            return built.to_path_buf();
        }
        let dir = ["/tmp", "/var/tmp", "/dev/shm"]
            .iter()
            .map(std::path::Path::new)
            .find(|d| reachable_by_all(d) && executable_fs(d))
            .map(|d| d.join(format!("portscope-tests-{}", nix::unistd::geteuid())))
            .expect("a world-reachable temporary directory (/tmp, /var/tmp or /dev/shm)");
        copy_reachable(built, &dir)
    })
    .clone()
}

/// `portscope` as a command runnable by another user.
pub fn portscope_as_other_user() -> Command {
    Command::new(portscope_for_other_users())
}

fn copy_reachable(built: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(built).expect("the built binary");
    std::fs::create_dir_all(dir).expect("temp dir for the binary");
    let dir_meta = std::fs::symlink_metadata(dir).expect("temp dir");
    assert!(
        dir_meta.is_dir() && dir_meta.uid() == nix::unistd::geteuid().as_raw(),
        "{} is not our own directory",
        dir.display()
    );
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    // One copy per build (size and mtime): parallel test binaries share it; older builds' copies
    // are removed.
    let name = format!(
        "portscope-{}-{}",
        meta.len(),
        meta.mtime_nsec() ^ meta.mtime()
    );
    let target = dir.join(&name);
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name() != name.as_str() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    if std::fs::metadata(&target).is_ok_and(|m| m.len() == meta.len()) {
        return target;
    }
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    {
        // Written with no spawn in flight: a child forked meanwhile would hold the write fd
        // until its exec, and exec'ing the copy would fail with ETXTBSY.
        let _quiet = no_spawns();
        std::fs::copy(built, &tmp).expect("copy the binary");
    }
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::rename(&tmp, &target).expect("rename the copy into place");
    target
}

/// Every directory up to `path` lets others through (o+x), and `path` itself is o+x.
fn reachable_by_all(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    })
}

fn executable_fs(dir: &std::path::Path) -> bool {
    nix::sys::statvfs::statvfs(dir)
        .is_ok_and(|s| !s.flags().contains(nix::sys::statvfs::FsFlags::ST_NOEXEC))
}
