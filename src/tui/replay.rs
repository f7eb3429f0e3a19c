//! `--replay FILE`: a recorded snapshot or history log, shown instead of the live system.

use crate::history::log::ParseError;
use crate::model::{JSON_VERSION, Snapshot};
use std::path::{Path, PathBuf};

/// Why a replay file cannot be shown. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("replay file {0}")]
    Read(crate::safefs::FileError),
    #[error("{}: {error}", .path.display())]
    Log { path: PathBuf, error: ParseError },
    #[error(
        "{} is not a portscope snapshot (portscope snapshot --json): {error}",
        .path.display()
    )]
    NotSnapshot {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error(
        "{} is snapshot version {version}; this portscope reads version {JSON_VERSION}",
        .path.display()
    )]
    Version { path: PathBuf, version: u32 },
}

/// Reads a recorded `snapshot --json` document, or a history log (`--record`), shown at its end.
pub fn load_replay(path: &Path) -> Result<Snapshot, ReplayError> {
    let text = crate::safefs::read_text(
        path,
        crate::safefs::Links::Follow,
        crate::history::log::MAX_LOG,
    )
    .map_err(ReplayError::Read)?;
    if crate::history::log::looks_like_log(text.as_bytes()) {
        let loaded =
            crate::history::log::parse(text.as_bytes()).map_err(|error| ReplayError::Log {
                path: path.to_path_buf(),
                error,
            })?;
        let h = crate::history::History::from_changes(loaded.changes);
        let end = h.span().map_or(jiff::Timestamp::UNIX_EPOCH, |s| s.1);
        return Ok(crate::history::snapshot_at(
            &h,
            end,
            &format!("recording {}", path.display()),
        ));
    }
    let snap: Snapshot = serde_json::from_str(&text).map_err(|error| ReplayError::NotSnapshot {
        path: path.to_path_buf(),
        error,
    })?;
    if snap.version != JSON_VERSION {
        return Err(ReplayError::Version {
            path: path.to_path_buf(),
            version: snap.version,
        });
    }
    Ok(snap)
}
