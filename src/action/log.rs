//! The action log: one line per executed action, appended to a file the caller names.
//!
//! The path is injected (the TUI passes `$XDG_DATA_HOME/portscope/actions.log`, tests a temp
//! dir), so nothing but a real run writes the user's log. portscope runs as root, often with a
//! user's environment (`sudo -E`), so the log may sit in a directory someone else can write:
//! the file is opened relative to its directory, never through a symlink (`O_NOFOLLOW`), never
//! blocking on a FIFO (`O_NONBLOCK`), created 0600, and must be a regular file with one link
//! owned by us; anything else is refused, and the outcome says it was not logged.

use super::outcome::{ActionOutcome, Status};
use nix::sys::stat::fstat;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an outcome was not logged. The file is never written through anything that could
/// redirect the line elsewhere, so most of these are refusals.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{} is not a file path", .0.display())]
    NotAPath(PathBuf),
    #[error("{0}: refused")]
    Refused(#[from] crate::safefs::FileError),
    #[error("cannot stat {}: {error}", .path.display())]
    Stat { path: PathBuf, error: nix::Error },
    #[error("{} has {links} hard links: refused (it may be another file's name)", .path.display())]
    HardLinks {
        path: PathBuf,
        links: nix::libc::nlink_t,
    },
    #[error("{} belongs to uid {uid}, not to us: refused", .path.display())]
    NotOurs { path: PathBuf, uid: u32 },
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLog {
    path: PathBuf,
}

impl ActionLog {
    pub fn at(path: impl Into<PathBuf>) -> ActionLog {
        ActionLog { path: path.into() }
    }

    /// `$XDG_DATA_HOME/portscope/actions.log` (or the platform's equivalent).
    pub fn default_location() -> Option<ActionLog> {
        crate::paths::data_dir().map(|d| ActionLog::at(d.join(crate::paths::ACTION_LOG)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line for `outcome`. Err says, in words, why it was not logged.
    pub fn append(&self, outcome: &ActionOutcome) -> Result<(), LogError> {
        let line = format!(
            "{} {} {}: {}\n",
            jiff::Timestamp::now(),
            match outcome.status {
                Status::Done => "ok",
                Status::NoEffect => "NO-EFFECT",
                Status::Refused => "REFUSED",
                Status::Failed => "FAILED",
            },
            escape(&outcome.title),
            outcome
                .text_lines()
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let mut file = self.open()?;
        file.write_all(line.as_bytes())
            .map_err(|error| LogError::Write {
                path: self.path.clone(),
                error,
            })
    }

    fn open(&self) -> Result<std::fs::File, LogError> {
        let path = || self.path.clone();
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Err(LogError::NotAPath(path()));
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        crate::safefs::check_trusted_dir(dir)?;
        let dir = crate::safefs::Dir::create(dir)?;
        let file = dir.open_append(&name.to_string_lossy(), 0o600)?;
        let st = fstat(&file).map_err(|error| LogError::Stat {
            path: path(),
            error,
        })?;
        if st.st_nlink != 1 {
            return Err(LogError::HardLinks {
                path: path(),
                links: st.st_nlink,
            });
        }
        if st.st_uid != nix::unistd::geteuid().as_raw() {
            return Err(LogError::NotOurs {
                path: path(),
                uid: st.st_uid,
            });
        }
        Ok(file)
    }
}

/// One log line per action, whatever the text holds: control characters (a newline in a
/// process name could forge a line) are written as `\xNN`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_lines() {
        assert_eq!(escape("a\nb\x1b[2K"), "a\\x0ab\\x1b[2K");
    }
}
