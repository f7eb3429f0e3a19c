//! The reserve tests' fixture: a temporary sysctl tree and data directory, and the test
//! thread's namespace's reserved-ports value.

use super::*;
use std::path::PathBuf;
use std::process::Command;

pub const PROC: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";
pub const KEY: &str = "net.ipv4.ip_local_reserved_ports";
pub const DROPIN: &str = "90-portscope-reserved-ports.conf";

/// The reserved-ports list of the test thread's namespace, read as `cat` and `sysctl` read it:
/// one read of a page at offset 0. (`read_to_string` starts with a 32-byte read, and the
/// kernel's bitmap handler answers nothing at a later offset: it would cut the list.)
pub fn runtime() -> String {
    use std::io::Read;
    let mut f = std::fs::File::open(PROC).expect("open sysctl");
    let mut buf = vec![0u8; 1 << 16];
    let n = f.read(&mut buf).expect("read sysctl");
    assert_eq!(
        f.read(&mut [0u8; 16]).expect("read sysctl"),
        0,
        "one read is all"
    );
    String::from_utf8_lossy(&buf[..n]).trim().to_string()
}

pub fn set_runtime(v: &str) {
    std::fs::write(PROC, format!("{v}\n")).expect("write sysctl");
    assert_eq!(runtime(), v);
}

/// A temporary sysctl tree and data directory, removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("root/etc/sysctl.d")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
        Env { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn etc_d(&self) -> PathBuf {
        self.root().join("etc/sysctl.d")
    }

    pub fn dropin(&self) -> PathBuf {
        self.etc_d().join(DROPIN)
    }

    pub fn journal(&self) -> PathBuf {
        self.data().join("portscope/reserve-journal.json")
    }

    pub fn journal_entries(&self) -> usize {
        match std::fs::read_to_string(self.journal()) {
            Ok(t) => {
                let v: serde_json::Value = serde_json::from_str(&t).expect("journal json");
                v["entries"].as_array().expect("entries").len()
            }
            Err(_) => 0,
        }
    }

    /// `portscope reserve ARGS` with the temp data dir, and the temp sysctl tree for the
    /// subcommands that read it.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = portscope();
        c.env("XDG_DATA_HOME", self.data())
            .arg("reserve")
            .args(args);
        if args.first() != Some(&"undo") {
            c.arg("--sysctl-root").arg(self.root());
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(&mut self.cmd(args))
    }

    /// Files in the drop-in directory (to see that no temp file is left behind).
    pub fn etc_d_names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.etc_d())
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

pub fn assignment_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}
