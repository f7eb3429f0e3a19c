//! What each `reserve apply` replaced, so `reserve undo` can put it back one step at a time.
//!
//! One JSON file under the user's data directory (`$XDG_DATA_HOME/portscope`), rewritten
//! atomically; a lock file beside it keeps two portscope runs from interleaving their changes.

use super::atomic;
use crate::portset::PortSet;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

pub const JOURNAL_VERSION: u32 = 1;
const FILE_NAME: &str = "reserve-journal.json";
const LOCK_NAME: &str = "reserve.lock";

/// The default journal: `reserve-journal.json` in portscope's data directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "portscope").map(|d| d.data_dir().join(FILE_NAME))
}

/// Which namespace an entry changed. The inode identifies it while it lives; the target is how
/// the user named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsRef {
    pub target: String,
    pub inode: u64,
}

/// The drop-in as it was before an apply, and as the apply left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropinChange {
    pub path: PathBuf,
    /// `None`: the file did not exist.
    pub previous: Option<String>,
    pub written: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: jiff::Timestamp,
    pub netns: NetnsRef,
    pub previous_runtime: PortSet,
    pub applied_runtime: PortSet,
    /// `None` when the apply did not persist (`--no-persist`).
    pub dropin: Option<DropinChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub entries: Vec<Entry>,
}

impl Default for Journal {
    fn default() -> Self {
        Journal {
            version: JOURNAL_VERSION,
            entries: Vec::new(),
        }
    }
}

impl Journal {
    /// Reads the journal; a missing file is an empty journal. A file that does not parse is an
    /// error rather than a fresh start, so undo history is never overwritten by accident.
    pub fn load(path: &Path) -> Result<Journal, String> {
        match atomic::read_optional(path) {
            Ok(None) => Ok(Journal::default()),
            Ok(Some(text)) => serde_json::from_str(&text).map_err(|e| {
                format!(
                    "the undo journal {} is damaged ({e}); move it away to start a new one",
                    path.display()
                )
            }),
            Err(e) => Err(format!(
                "cannot read the undo journal {}: {e}",
                path.display()
            )),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("cannot encode the undo journal: {e}"))?;
        text.push('\n');
        atomic::write(path, &text, 0o600)
            .map_err(|e| format!("cannot write the undo journal {}: {e}", path.display()))
    }

    /// Index of the newest entry for the namespace with this inode.
    pub fn last_for(&self, inode: u64) -> Option<usize> {
        self.entries.iter().rposition(|e| e.netns.inode == inode)
    }
}

/// Held while a run changes anything; dropping it releases the lock.
pub struct JournalLock {
    _lock: Flock<File>,
}

/// Creates the journal's directory and takes its lock, failing at once when another portscope
/// holds it. Done before any change, so a journal that cannot be written stops the run early.
pub fn lock(journal: &Path) -> Result<JournalLock, String> {
    let dir = journal.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create the undo journal's directory {}: {e}",
            dir.display()
        )
    })?;
    let lock_path = dir.join(LOCK_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(JournalLock { _lock: lock }),
        Err((_, nix::Error::EWOULDBLOCK)) => Err(format!(
            "another portscope is changing reserved ports now (lock {}); try again when it is done",
            lock_path.display()
        )),
        Err((_, e)) => Err(format!("cannot lock {}: {e}", lock_path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(inode: u64, prev: &str) -> Entry {
        Entry {
            at: jiff::Timestamp::UNIX_EPOCH,
            netns: NetnsRef {
                target: "current".into(),
                inode,
            },
            previous_runtime: PortSet::parse(prev).unwrap(),
            applied_runtime: PortSet::parse("8080").unwrap(),
            dropin: None,
        }
    }

    #[test]
    fn round_trip_and_lookup_by_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let _l = lock(&path).unwrap();
        assert!(
            lock(&path).is_err(),
            "second lock must fail while the first is held"
        );
        assert_eq!(Journal::load(&path).unwrap(), Journal::default());
        let j = Journal {
            version: JOURNAL_VERSION,
            entries: vec![entry(1, ""), entry(2, "9000"), entry(1, "7")],
        };
        j.save(&path).unwrap();
        let back = Journal::load(&path).unwrap();
        assert_eq!(back, j);
        assert_eq!(back.last_for(1), Some(2));
        assert_eq!(back.last_for(2), Some(1));
        assert_eq!(back.last_for(3), None);
        std::fs::write(&path, "{not json").unwrap();
        assert!(Journal::load(&path).unwrap_err().contains("damaged"));
    }
}
