//! What each `reserve apply` replaced, so `reserve undo` can put it back one step at a time.
//!
//! One JSON file under the user's data directory (`$XDG_DATA_HOME/portscope`), rewritten
//! atomically through [`crate::safefs`]. It is written *ahead*: an apply first records a pending
//! entry holding everything needed to put the old state back, then changes the kernel and the
//! drop-in, then marks the entry done. A SIGKILL anywhere leaves either nothing changed or a
//! pending entry that `undo` rolls back and `apply --finish` completes.

mod error;

use crate::portset::PortSet;
use crate::safefs::{Dir, Existing, FileError};
pub use error::JournalError;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Deserializer, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// 2: pending entries, namespace cookies, the drop-in's previous state as file/link/absent.
pub const JOURNAL_VERSION: u32 = 2;
const FILE_NAME: &str = crate::paths::RESERVE_JOURNAL;
const LOCK_NAME: &str = "reserve.lock";
/// How long to wait for another portscope that is changing the same namespace or journal.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The default journal: `reserve-journal.json` in portscope's data directory.
pub fn default_path() -> Option<PathBuf> {
    crate::paths::data_dir().map(|d| d.join(FILE_NAME))
}

/// A namespace's identity now: its inode (recycled once it is freed) and, where the kernel has
/// it (5.14+), its cookie (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetnsId {
    pub inode: u64,
    pub cookie: Option<u64>,
}

impl NetnsId {
    /// The identity of the calling thread's network namespace.
    pub fn current() -> NetnsId {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
        let cookie = socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .ok()
        .and_then(|s| crate::sys::netns_cookie(&s).ok());
        NetnsId {
            inode: crate::collect::netns::current_inode(),
            cookie,
        }
    }
}

/// Which namespace an entry changed: how the user named it, and its identity then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsRef {
    pub target: String,
    pub inode: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<u64>,
}

/// Whether a journal entry belongs to a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Same,
    /// Another namespace, or a dead one whose inode was recycled.
    Different,
    /// Same inode, but the entry has no cookie to tell a recycled inode apart: refuse.
    Unsure,
}

impl NetnsRef {
    pub fn new(target: String, id: NetnsId) -> Self {
        NetnsRef {
            target,
            inode: id.inode,
            cookie: id.cookie,
        }
    }

    pub fn matches(&self, id: &NetnsId) -> Match {
        if self.inode != id.inode {
            return Match::Different;
        }
        match (self.cookie, id.cookie) {
            (Some(a), Some(b)) if a == b => Match::Same,
            (Some(_), Some(_)) => Match::Different,
            _ => Match::Unsure,
        }
    }
}

/// The drop-in as it was before an apply, and as the apply leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropinChange {
    pub path: PathBuf,
    /// The `--sysctl-root` the path lies under: nothing below it is followed when restoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    #[serde(deserialize_with = "previous_any_version")]
    pub previous: Existing,
    pub written: String,
}

/// Version 1 recorded the previous content as a string or null.
fn previous_any_version<'de, D: Deserializer<'de>>(d: D) -> Result<Existing, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Any {
        V2(Existing),
        V1(Option<String>),
    }
    Ok(match Any::deserialize(d)? {
        Any::V2(e) => e,
        Any::V1(None) => Existing::Absent,
        Any::V1(Some(text)) => Existing::File {
            content: crate::safefs::Bytes(text.into_bytes()),
            mode: 0o644,
        },
    })
}

impl DropinChange {
    /// The directory holding the drop-in, opened without following links (below the root
    /// when there is one), and the file's name.
    pub fn open(&self) -> Result<(Dir, String), FileError> {
        open_parent(&self.path, self.root.as_deref())
    }
}

/// Opens the directory of `path` (beneath `root` when given) and returns it with the file name.
pub fn open_parent(path: &Path, root: Option<&Path>) -> Result<(Dir, String), FileError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| FileError {
            path: path.to_path_buf(),
            what: "names no file".into(),
            not_found: false,
            denied: false,
        })?;
    let parent = path.parent().unwrap_or(Path::new("."));
    let dir = match root.and_then(|r| parent.strip_prefix(r).ok().map(|rel| (r, rel))) {
        Some((r, rel)) => Dir::open_beneath(r, rel)?,
        None => Dir::open(parent)?,
    };
    Ok((dir, name))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Recorded before anything was changed; the apply did not finish (yet).
    Pending,
    #[default]
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: jiff::Timestamp,
    pub netns: NetnsRef,
    pub previous_runtime: PortSet,
    pub applied_runtime: PortSet,
    /// `None` when the apply did not persist (`--no-persist`, another namespace).
    pub dropin: Option<DropinChange>,
    #[serde(default)]
    pub state: EntryState,
    /// The portscope process that wrote a pending entry, to tell a live apply from a dead one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl Entry {
    /// Ports this entry added to the list.
    pub fn added(&self) -> PortSet {
        self.applied_runtime.difference(&self.previous_runtime)
    }

    /// Ports this entry took out of the list.
    pub fn removed(&self) -> PortSet {
        self.previous_runtime.difference(&self.applied_runtime)
    }
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

fn split(path: &Path) -> Result<(&Path, &str), JournalError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| JournalError::NoFileName(path.to_path_buf()))?;
    Ok((dir, name))
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

impl Journal {
    /// Reads the journal; a missing file is an empty journal. A file that does not parse, that
    /// a newer portscope wrote, or that is not a plain file owned by us, is an error rather than
    /// a fresh start, so undo history is never overwritten or trusted by accident.
    pub fn load(path: &Path) -> Result<Journal, JournalError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let (dir, name) = split(path)?;
        let dir = match Dir::open(dir) {
            Ok(d) => d,
            Err(e) if e.not_found => return Ok(Journal::default()),
            Err(e) => return Err(JournalError::Read(e.to_string())),
        };
        dir.check_private(euid())
            .map_err(|e| JournalError::Untrusted(e.to_string()))?;
        let bytes = match dir.read_regular(name) {
            Ok(None) => return Ok(Journal::default()),
            Ok(Some(b)) => b,
            Err(e) => return Err(JournalError::Read(e.to_string())),
        };
        let damaged = |source| JournalError::Damaged {
            path: path.to_path_buf(),
            source,
        };
        let v: VersionOnly = serde_json::from_slice(&bytes).map_err(damaged)?;
        if v.version > JOURNAL_VERSION {
            return Err(JournalError::Newer {
                path: path.to_path_buf(),
                version: v.version,
            });
        }
        let mut j: Journal = serde_json::from_slice(&bytes).map_err(damaged)?;
        j.version = JOURNAL_VERSION;
        Ok(j)
    }

    pub fn save(&self, path: &Path) -> Result<(), JournalError> {
        let (dir, name) = split(path)?;
        let mut text = serde_json::to_string_pretty(self).map_err(JournalError::Encode)?;
        text.push('\n');
        let dir = Dir::create(dir).map_err(|e| JournalError::Write(e.to_string()))?;
        dir.check_private(euid())
            .map_err(|e| JournalError::Untrusted(e.to_string()))?;
        dir.write_atomic(name, text.as_bytes(), 0o600)
            .map_err(|e| JournalError::Write(e.to_string()))
    }

    /// Index of the newest entry for the namespace `id`; an entry that might be a recycled
    /// inode's is an error, never a guess.
    pub fn last_for(&self, id: &NetnsId) -> Result<Option<usize>, JournalError> {
        for (i, e) in self.entries.iter().enumerate().rev() {
            match e.netns.matches(id) {
                Match::Same => return Ok(Some(i)),
                Match::Different => {}
                Match::Unsure => {
                    return Err(JournalError::Unsure {
                        at: e.at.to_string(),
                        target: e.netns.target.clone(),
                        inode: e.netns.inode,
                    });
                }
            }
        }
        Ok(None)
    }

    /// Entries for this namespace older than `idx`.
    pub fn older_for(&self, idx: usize, id: &NetnsId) -> usize {
        self.entries[..idx]
            .iter()
            .filter(|e| e.netns.matches(id) == Match::Same)
            .count()
    }
}

/// Held while a run changes anything; dropping it releases the lock.
pub struct Lock {
    _lock: Flock<File>,
}

/// Takes `file`'s lock, waiting up to [`LOCK_WAIT`] for another portscope to finish.
fn flock(file: File, what: &str) -> Result<Lock, JournalError> {
    let deadline = Instant::now() + LOCK_WAIT;
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Lock { _lock: lock }),
            Err((f, nix::Error::EWOULDBLOCK)) if Instant::now() < deadline => {
                file = f;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err((_, nix::Error::EWOULDBLOCK)) => {
                return Err(JournalError::Busy(what.to_string()));
            }
            Err((_, error)) => {
                return Err(JournalError::Lock {
                    what: what.to_string(),
                    error,
                });
            }
        }
    }
}

/// Creates the journal's directory and takes its lock. Done before any change, so a journal
/// that cannot be written stops the run early.
pub fn lock(journal: &Path) -> Result<Lock, JournalError> {
    let (dir, _) = split(journal)?;
    crate::safefs::check_trusted_dir(dir).map_err(|e| JournalError::Untrusted(e.to_string()))?;
    let dir = Dir::create(dir).map_err(|e| JournalError::Use(e.to_string()))?;
    dir.check_private(euid())
        .map_err(|e| JournalError::Untrusted(e.to_string()))?;
    let file = dir
        .open_lock(LOCK_NAME)
        .map_err(|e| JournalError::OpenLock(e.to_string()))?;
    flock(
        file,
        &format!("the undo journal {}", dir.path().join(LOCK_NAME).display()),
    )
}

/// Locks the calling thread's network namespace itself (its nsfs inode), so every portscope
/// changing it is serialised, whichever journal or user it runs with.
pub fn lock_netns() -> Result<Lock, JournalError> {
    let file = File::open("/proc/thread-self/ns/net").map_err(JournalError::OpenNetns)?;
    flock(file, "the reserved ports of this network namespace")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(inode: u64, cookie: Option<u64>, prev: &str) -> Entry {
        Entry {
            at: jiff::Timestamp::UNIX_EPOCH,
            netns: NetnsRef {
                target: "current".into(),
                inode,
                cookie,
            },
            previous_runtime: PortSet::parse(prev).unwrap(),
            applied_runtime: PortSet::parse("8080").unwrap(),
            dropin: None,
            state: EntryState::Done,
            pid: None,
        }
    }

    fn id(inode: u64, cookie: u64) -> NetnsId {
        NetnsId {
            inode,
            cookie: Some(cookie),
        }
    }

    #[test]
    fn round_trip_and_lookup_by_namespace_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        assert_eq!(Journal::load(&path).unwrap(), Journal::default());
        let _l = lock(&path).unwrap();
        let j = Journal {
            version: JOURNAL_VERSION,
            entries: vec![
                entry(1, Some(10), ""),
                entry(2, Some(20), "9000"),
                entry(1, Some(10), "7"),
                entry(1, Some(11), "5"), // inode 1 recycled by a new namespace
            ],
        };
        j.save(&path).unwrap();
        let back = Journal::load(&path).unwrap();
        assert_eq!(back, j);
        assert_eq!(back.last_for(&id(1, 10)).unwrap(), Some(2));
        assert_eq!(back.older_for(2, &id(1, 10)), 1);
        assert_eq!(back.last_for(&id(1, 11)).unwrap(), Some(3));
        assert_eq!(back.last_for(&id(2, 20)).unwrap(), Some(1));
        assert_eq!(back.last_for(&id(1, 12)).unwrap(), None);
        assert_eq!(back.last_for(&id(3, 30)).unwrap(), None);
        let unsure = Journal {
            version: JOURNAL_VERSION,
            entries: vec![entry(1, None, "")],
        };
        assert!(
            unsure
                .last_for(&id(1, 10))
                .unwrap_err()
                .to_string()
                .contains("cannot be told apart")
        );
    }

    #[test]
    fn damaged_newer_and_linked_journals_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{not json").unwrap();
        assert!(
            Journal::load(&path)
                .unwrap_err()
                .to_string()
                .contains("damaged")
        );
        std::fs::write(&path, r#"{"version": 99, "entries": [], "future": 1}"#).unwrap();
        assert!(
            Journal::load(&path)
                .unwrap_err()
                .to_string()
                .contains("newer portscope")
        );
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &path).unwrap();
        assert!(
            Journal::load(&path)
                .unwrap_err()
                .to_string()
                .contains("symbolic link")
        );
    }

    #[test]
    fn reads_version_1() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            r#"{"version":1,"entries":[{"at":"2026-11-21T00:00:00Z",
            "netns":{"target":"current","inode":5},"previous_runtime":"","applied_runtime":"80",
            "dropin":{"path":"/x/90.conf","previous":"old\n","written":"new\n"}},
            {"at":"2026-11-21T00:00:00Z","netns":{"target":"current","inode":5},
            "previous_runtime":"","applied_runtime":"80",
            "dropin":{"path":"/x/90.conf","previous":null,"written":"new\n"}}]}"#,
        )
        .unwrap();
        let j = Journal::load(&path).unwrap();
        let d0 = j.entries[0].dropin.as_ref().unwrap();
        assert_eq!(d0.previous.content(), Some(&b"old\n"[..]));
        assert_eq!(
            j.entries[1].dropin.as_ref().unwrap().previous,
            Existing::Absent
        );
        assert_eq!(j.entries[0].state, EntryState::Done);
    }
}
