//! The real portscope binary in a pseudo-terminal: type keys, read the screen as a person would.

use super::SPAWN_LOCK;
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Tui {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    screen: Arc<Mutex<vt100::Parser>>,
    /// The screen as of the last whole frame: portscope draws each frame inside a synchronized
    /// update (`ESC[?2026h` ... `ESC[?2026l`), and a screen read in the middle of one shows half
    /// of two frames (a loaded runner splits a frame over several reads).
    frame: Arc<Mutex<String>>,
    /// Every byte portscope wrote, for checking the escape sequences themselves.
    raw: Arc<Mutex<Vec<u8>>>,
}

/// DEC mode 2026: the start and end of a synchronized update (one frame).
const BEGIN: &[u8] = b"\x1b[?2026h";
const END: &[u8] = b"\x1b[?2026l";

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

impl Tui {
    /// Starts `portscope ARGS` in a `cols`x`rows` terminal, in the calling thread's namespace.
    pub fn start(args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Tui {
        Tui::start_in(env!("CARGO_MANIFEST_DIR"), args, env, cols, rows)
    }

    /// As [`Tui::start`], in the working directory `cwd` (where the TUI writes files).
    pub fn start_in(cwd: &str, args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Tui {
        let pair = native_pty_system()
            .openpty(size(rows, cols))
            .expect("openpty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_portscope"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.cwd(cwd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = {
            let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            pair.slave
                .spawn_command(cmd)
                .expect("spawn portscope in a pty")
        };
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let feed = Arc::clone(&screen);
        let raw = Arc::new(Mutex::new(Vec::new()));
        let raw_feed = Arc::clone(&raw);
        let frame = Arc::new(Mutex::new(String::new()));
        let frame_feed = Arc::clone(&frame);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut in_frame = false;
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let recent = {
                    let mut raw = raw_feed.lock().unwrap_or_else(|e| e.into_inner());
                    // A marker may straddle two reads: look back a marker's length.
                    let from = raw.len().saturating_sub(BEGIN.len());
                    raw.extend_from_slice(&buf[..n]);
                    raw[from..].to_vec()
                };
                let mut parser = feed.lock().unwrap_or_else(|e| e.into_inner());
                parser.process(&buf[..n]);
                let last_begin = find_last(&recent, BEGIN);
                let last_end = find_last(&recent, END);
                in_frame = match (last_begin, last_end) {
                    (Some(b), Some(e)) => b > e,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => in_frame,
                };
                if !in_frame {
                    *frame_feed.lock().unwrap_or_else(|e| e.into_inner()) =
                        parser.screen().contents();
                }
            }
        });
        Tui {
            master: pair.master,
            writer,
            child,
            screen,
            frame,
            raw,
        }
    }

    /// The screen as of the last whole frame.
    pub fn text(&self) -> String {
        self.frame.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many bytes portscope has written so far.
    pub fn written(&self) -> usize {
        self.raw.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The bytes written after `from`, lossily as text.
    pub fn written_since(&self, from: usize) -> String {
        let raw = self.raw.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&raw[from.min(raw.len())..]).into_owned()
    }

    /// Waits until the bytes written after `from` contain every one of `needles`.
    pub fn wait_written(&self, from: usize, needles: &[&str]) -> String {
        let end = Instant::now() + super::PATIENCE;
        loop {
            let t = self.written_since(from);
            if needles.iter().all(|n| t.contains(n)) {
                return t;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {needles:?}; written:\n{}",
                t.escape_debug()
            );
            std::thread::sleep(Duration::from_millis(10)); // poll interval
        }
    }

    /// Whether the terminal is in canonical (cooked) mode with echo, as a shell leaves it.
    pub fn cooked(&self) -> bool {
        // portable-pty's termios comes from its own nix version: read the flags by name.
        let t = self.master.get_termios().expect("termios of the pty");
        let flags = format!("{:?}", t.local_flags);
        flags.contains("ICANON") && flags.contains("ECHO")
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().expect("pid") as i32
    }

    pub fn keys(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).expect("type");
        self.writer.flush().expect("flush");
    }

    /// Waits until the screen satisfies `cond`; panics with the screen if it never does.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + super::PATIENCE;
        loop {
            let t = self.text();
            if cond(&t) {
                return t;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; screen:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(10)); // poll interval
        }
    }

    pub fn wait_text(&self, needle: &str) -> String {
        self.wait_for(needle, |t| t.contains(needle))
    }

    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.screen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .screen_mut()
            .set_size(rows, cols);
        self.master.resize(size(rows, cols)).expect("resize");
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn exit_code(&mut self) -> u32 {
        let end = Instant::now() + super::PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.exit_code();
            }
            assert!(
                Instant::now() < end,
                "portscope did not exit; screen:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
