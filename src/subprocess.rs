//! Running another program (a stop command, iptables-save, nft, systemctl) without letting it
//! block portscope.
//!
//! The child gets its own process group, so everything it starts can be killed with it. Its
//! stdout and stderr are read together, as they come (a tool that writes 200 KB to a pipe nobody
//! reads blocks for ever), each kept up to a byte budget and drained past it. The wait is a
//! `poll` on both pipes and a pidfd, so it ends at the deadline whatever the tool does: at the
//! deadline the whole group is killed. When the tool exits but something it left behind still
//! holds the pipes open (a daemon started without closing its stdout), portscope waits a short
//! grace for the rest of the output, then kills that group too and stops reading.

use rustix::event::{PollFd, PollFlags, poll};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long and how much.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From start to the kill of the group.
    pub timeout: Duration,
    /// Bytes kept of each of stdout and stderr; the rest is read and counted, not kept.
    pub max_bytes: usize,
    /// After the tool exits, how long output may still come from what it left running.
    pub grace: Duration,
}

impl Limits {
    pub fn new(timeout: Duration) -> Self {
        Limits {
            timeout,
            max_bytes: 1 << 20,
            grace: Duration::from_millis(500),
        }
    }
}

/// One stream's output: the first `max_bytes`, and how many bytes came after them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    pub dropped: usize,
}

impl Captured {
    fn take(&mut self, chunk: &[u8], max: usize) {
        let room = max.saturating_sub(self.bytes.len());
        let kept = room.min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..kept]);
        self.dropped += chunk.len() - kept;
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// At most `max_lines` non-empty lines, each cut to `max_len` characters (with `…`), and a
    /// last line saying what was left out: output meant for a person, never a 200,000-character
    /// line.
    pub fn lines(&self, max_lines: usize, max_len: usize) -> Vec<String> {
        let text = self.text();
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut out: Vec<String> = all
            .iter()
            .take(max_lines)
            .map(|l| {
                if l.chars().count() > max_len {
                    let cut: String = l.chars().take(max_len).collect();
                    format!("{cut}…")
                } else {
                    (*l).to_string()
                }
            })
            .collect();
        let more_lines = all.len().saturating_sub(max_lines);
        if more_lines > 0 || self.dropped > 0 {
            let mut parts = Vec::new();
            if more_lines > 0 {
                parts.push(format!("{more_lines} more lines"));
            }
            if self.dropped > 0 {
                parts.push(format!("{} more bytes", self.dropped));
            }
            out.push(format!("({} not shown)", parts.join(", ")));
        }
        out
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Finished {
    /// The tool's exit status; `None` when it was killed at the deadline.
    pub status: Option<ExitStatus>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// Something the tool started still held its output after it exited: that process group
    /// was killed after the grace period.
    pub left_running: bool,
    pub elapsed: Duration,
}

impl Finished {
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }
}

/// Runs `cmd` (stdin from /dev/null) within `limits`. `Err` only when it cannot be started.
pub fn run(cmd: &mut Command, limits: Limits) -> io::Result<Finished> {
    let start = Instant::now();
    let deadline = start + limits.timeout;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    // A pid is at most pid_max (2^22), so it fits pid_t.
    let pgid = nix::unistd::Pid::from_raw(child.id().cast_signed());
    let kill_group = || {
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    };
    let pidfd = rustix::process::Pid::from_raw(child.id().cast_signed())
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    let mut streams = [
        (
            child.stdout.take().map(std::os::fd::OwnedFd::from),
            Captured::default(),
        ),
        (
            child.stderr.take().map(std::os::fd::OwnedFd::from),
            Captured::default(),
        ),
    ];
    for (fd, _) in &streams {
        if let Some(fd) = fd {
            let _ = rustix::io::ioctl_fionbio(fd, true);
        }
    }
    let mut status = None;
    let mut exited_at = None;
    let mut left_running = false;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if status.is_none()
            && let Some(s) = child.try_wait()?
        {
            status = Some(s);
            exited_at = Some(Instant::now());
        }
        let open = streams.iter().any(|(fd, _)| fd.is_some());
        if status.is_some() && !open {
            break;
        }
        let now = Instant::now();
        let until = match exited_at {
            Some(t) => deadline.min(t + limits.grace),
            None => deadline,
        };
        if now >= until {
            kill_group();
            if status.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            } else {
                left_running = true;
            }
            // What is already in the pipes is still read, without waiting.
            for (fd, cap) in &mut streams {
                if let Some(f) = fd.as_ref() {
                    drain(f.as_fd(), cap, &mut buf, limits.max_bytes);
                }
            }
            break;
        }
        let wait = until - now;
        // A pidfd wakes the poll when the tool exits; without one (an old kernel), look again
        // every 50 ms.
        let wait = if pidfd.is_some() || status.is_some() {
            wait
        } else {
            wait.min(Duration::from_millis(50))
        };
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(2);
        for (i, (fd, _)) in streams.iter().enumerate() {
            if let Some(f) = fd {
                fds.push(PollFd::new(f, PollFlags::IN));
                which.push(i);
            }
        }
        if status.is_none()
            && let Some(p) = &pidfd
        {
            fds.push(PollFd::new(p, PollFlags::IN));
        }
        let ts = rustix::time::Timespec {
            tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<(usize, bool)> = which
            .iter()
            .zip(&fds)
            .map(|(i, f)| (*i, !f.revents().is_empty()))
            .collect();
        drop(fds);
        for (i, is_ready) in ready {
            if !is_ready {
                continue;
            }
            let (fd, cap) = &mut streams[i];
            let eof = fd
                .as_ref()
                .is_some_and(|f| drain(f.as_fd(), cap, &mut buf, limits.max_bytes));
            if eof {
                *fd = None;
            }
        }
    }
    if status.is_none() {
        // Killed at the deadline: reaped above; the status is not the tool's answer.
        let _ = child.try_wait();
    }
    let [(_, stdout), (_, stderr)] = streams;
    Ok(Finished {
        status,
        stdout,
        stderr,
        left_running,
        elapsed: start.elapsed(),
    })
}

/// Reads what is there without blocking; true at end of file (or an error: the stream is done).
fn drain(fd: BorrowedFd<'_>, cap: &mut Captured, buf: &mut [u8], max: usize) -> bool {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => return true,
            Ok(n) => cap.take(&buf[..n], max),
            Err(rustix::io::Errno::AGAIN) => return false,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn a_tool_writing_more_than_a_pipe_holds_is_read_while_it_runs() {
        let f = run(
            &mut sh("head -c 300000 /dev/zero | tr '\\0' x; echo done >&2"),
            Limits {
                max_bytes: 1000,
                ..Limits::new(Duration::from_secs(30))
            },
        )
        .unwrap();
        assert!(f.status.is_some_and(|s| s.success()), "{f:?}");
        assert_eq!(f.stdout.bytes.len(), 1000);
        assert_eq!(f.stdout.dropped, 299_000);
        assert_eq!(f.stderr.text(), "done\n");
        let lines = f.stdout.lines(6, 80);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].chars().count(), 81);
        assert!(lines[1].contains("299000 more bytes"), "{lines:?}");
    }

    #[test]
    fn a_background_child_holding_the_output_does_not_hold_the_caller() {
        let f = run(
            &mut sh("echo started; sleep 600 & exit 0"),
            Limits {
                grace: Duration::from_millis(200),
                ..Limits::new(Duration::from_secs(60))
            },
        )
        .unwrap();
        assert!(f.status.is_some_and(|s| s.success()), "{f:?}");
        assert!(f.left_running, "{f:?}");
        assert_eq!(f.stdout.text(), "started\n");
        assert!(f.elapsed < Duration::from_secs(30), "{f:?}");
    }

    #[test]
    fn the_deadline_kills_the_whole_group() {
        let dir = tempfile_dir();
        let pidfile = dir.join("child.pid");
        let script = format!("sleep 600 & echo $! > {}; wait", pidfile.display());
        let f = run(&mut sh(&script), Limits::new(Duration::from_millis(500))).unwrap();
        assert!(f.timed_out(), "{f:?}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild was killed with its group (it may linger as a zombie of init for a
        // moment: wait until it is gone or dead).
        let end = Instant::now() + Duration::from_secs(60);
        let gone = loop {
            let state = crate::kernel_file::read(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next().and_then(|r| r.trim().chars().next()));
            if matches!(state, None | Some('Z' | 'X')) {
                break true;
            }
            if Instant::now() > end {
                break false;
            }
            std::thread::sleep(Duration::from_millis(10)); // polling for a condition
        };
        let _ = std::fs::remove_dir_all(&dir);
        assert!(gone, "the background child survived the deadline");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("portscope-subprocess-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
