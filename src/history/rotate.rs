//! Turning a long-running log over, as a recorder left running for months needs: past a size
//! or an age the log moves to FILE.1 (FILE.1 to FILE.2, ...), at most `keep` old logs stay, and
//! a new FILE begins. Renames within one directory are atomic: a reader (or `metrics`) sees
//! either the old name or the new, never half a file; a kill between two renames leaves every
//! record in some FILE.n.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_bytes: u64,
    pub max_age: Duration,
    pub keep: u32,
}

impl Rotation {
    pub fn due(&self, bytes: u64, begun: SystemTime) -> bool {
        bytes >= self.max_bytes || begun.elapsed().is_ok_and(|a| a >= self.max_age)
    }
}

/// FILE.n for n >= 1.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The log and its turned-over predecessors that exist, oldest first.
pub fn all(path: &Path, keep: u32) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = (1..=keep)
        .rev()
        .map(|n| numbered(path, n))
        .filter(|p| p.exists())
        .collect();
    if path.exists() {
        v.push(path.to_path_buf());
    }
    v
}

/// FILE.(keep) is dropped, each FILE.n becomes FILE.(n+1), FILE becomes FILE.1.
pub fn shift(path: &Path, keep: u32) -> std::io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    match std::fs::remove_file(numbered(path, keep)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    for n in (1..keep).rev() {
        match std::fs::rename(numbered(path, n), numbered(path, n + 1)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(path, numbered(path, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_turned_over_keeps_every_record_in_order_and_at_most_keep_old_logs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.log");
        let rot = Rotation {
            max_bytes: 400,
            max_age: Duration::from_secs(3600),
            keep: 2,
        };
        let mut rec = crate::history::Recorder::open_as(&path, "recorder", &[])
            .expect("open")
            .with_rotation(rot);
        let c = crate::history::Change::restarts(jiff::Timestamp::now(), &[8080])
            .into_iter()
            .next()
            .expect("a change");
        for _ in 0..20 {
            rec.append(&c).expect("append");
        }
        drop(rec);
        let files = all(&path, 5);
        assert_eq!(files.len(), 3, "FILE, FILE.1, FILE.2: {files:?}");
        for f in &files {
            let loaded = crate::history::log::read(f).expect("each is a whole log");
            assert_eq!(loaded.damaged, 0);
            assert!(std::fs::metadata(f).expect("meta").len() < 400 + 400);
        }
        assert!(!numbered(&path, 3).exists());
    }
}
