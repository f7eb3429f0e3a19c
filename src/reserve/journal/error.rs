//! The ways the undo journal can fail, as a type (see [`super`]).

use super::JOURNAL_VERSION;
use std::path::PathBuf;

/// Why the undo journal could not be used. The messages are the ones users read (and tests
/// check); callers add what was or was not changed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the undo journal path {} names no file", .0.display())]
    NoFileName(PathBuf),
    #[error("cannot read the undo journal: {0}")]
    Read(String),
    #[error("cannot trust the undo journal: {0}")]
    Untrusted(String),
    #[error("the undo journal {} is damaged ({source}); move it away to start a new one", .path.display())]
    Damaged {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "the undo journal {} was written by a newer portscope (journal version {version}, this \
         one reads up to {JOURNAL_VERSION}); nothing was changed: use that portscope",
        .path.display()
    )]
    Newer { path: PathBuf, version: u32 },
    #[error("cannot encode the undo journal: {0}")]
    Encode(serde_json::Error),
    #[error("cannot write the undo journal: {0}")]
    Write(String),
    #[error("cannot use the undo journal: {0}")]
    Use(String),
    #[error("cannot lock the undo journal: {0}")]
    OpenLock(String),
    #[error(
        "the journal's entry of {at} for {target} (inode {inode}) cannot be told apart from a \
         namespace that has since been freed and its inode reused (it was written without a \
         namespace cookie): refusing to act on it"
    )]
    Unsure {
        at: String,
        target: String,
        inode: u64,
    },
    #[error(
        "another portscope is changing {0} now; nothing was changed: try again when it is done"
    )]
    Busy(String),
    #[error("cannot lock {what}: {error}")]
    Lock { what: String, error: nix::Error },
    #[error("cannot open the network namespace to lock it: {0}")]
    OpenNetns(std::io::Error),
}
