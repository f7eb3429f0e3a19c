//! The on-disk history log: append-only, one record a line, each with its own checksum.
//!
//! Line format: 8 hex digits (CRC-32/IEEE of the JSON), a space, one JSON object, `\n`.
//! The first record is a header (`{"portscope_history":1,...}`). A record is written with one
//! `write` on an O_APPEND file, so a crash can only leave a torn last line: the reader ignores a
//! final line without its newline and any line whose checksum does not match, and counts them.
//! Reopening for append first ends a torn line, so later records stay readable.

use super::Change;
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    portscope_history: u32,
    started: jiff::Timestamp,
    /// Who wrote the records that follow: "tui", "watch".
    writer: String,
    /// The ports this session watched (empty: all). At a session's start, whatever an earlier
    /// session left "alive" on these ports is forgotten: the session lists what it found.
    #[serde(default)]
    ports: Vec<u16>,
}

/// CRC-32 (IEEE, reflected, as zlib): enough to tell a torn or scribbled record.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn line(json: &str) -> String {
    format!("{:08x} {json}\n", crc32(json.as_bytes()))
}

/// Appends records to a log. Data reaches the disk at most a second after it was written
/// (fdatasync is batched), and always on drop.
pub struct Recorder {
    file: std::fs::File,
    last_sync: Instant,
    dirty: bool,
    path: std::path::PathBuf,
    header: Header,
    rotation: Option<super::rotate::Rotation>,
    /// Bytes in the current file and when it was begun (for rotation).
    bytes: u64,
    begun: std::time::SystemTime,
}

impl Recorder {
    /// Opens (creating, mode 0600) for appending, never following a symbolic link; writes a
    /// header naming the writer.
    pub fn open_as(path: &Path, writer: &str, ports: &[u16]) -> std::io::Result<Recorder> {
        let (file, bytes, begun) = Self::open_file(path)?;
        let mut r = Recorder {
            file,
            last_sync: Instant::now(),
            dirty: false,
            path: path.to_path_buf(),
            header: Header {
                portscope_history: FORMAT_VERSION,
                started: jiff::Timestamp::now(),
                writer: writer.into(),
                ports: ports.to_vec(),
            },
            rotation: None,
            bytes,
            begun,
        };
        r.write_json(&serde_json::to_string(&r.header).map_err(std::io::Error::other)?)?;
        Ok(r)
    }

    /// Turns the log over by size and age (see [`super::rotate`]).
    #[must_use]
    pub fn with_rotation(mut self, rotation: super::rotate::Rotation) -> Recorder {
        self.rotation = Some(rotation);
        self
    }

    /// Opens for appending; returns the file, its size, and when it was begun (its birth time
    /// where the filesystem keeps one, else now).
    fn open_file(path: &Path) -> std::io::Result<(std::fs::File, u64, std::time::SystemTime)> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC | nix::libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        // End a torn last line, or the first record appended would share its line and be lost.
        if meta.len() > 0 {
            let mut last = [0u8; 1];
            file.seek(std::io::SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        let begun = meta
            .created()
            .unwrap_or_else(|_| std::time::SystemTime::now());
        Ok((file, meta.len(), begun))
    }

    /// A recorder for `portscope watch PORTS`.
    pub fn open(path: &Path, ports: &[u16]) -> std::io::Result<Recorder> {
        Self::open_as(path, "watch", ports)
    }

    fn write_json(&mut self, json: &str) -> std::io::Result<()> {
        // One write call per record: with O_APPEND it lands whole or (on a crash) as a tail.
        let l = line(json);
        self.file.write_all(l.as_bytes())?;
        self.bytes += l.len() as u64;
        self.dirty = true;
        if let Some(r) = self.rotation
            && r.due(self.bytes, self.begun)
        {
            return self.turn_over(r);
        }
        if self.last_sync.elapsed() >= Duration::from_secs(1) {
            self.sync()?;
        }
        Ok(())
    }

    /// Moves the full log aside (FILE.1, older ones shifted) and begins a new one with the same
    /// header: a reader of FILE.1 sees a whole log, a reader of FILE a new one.
    fn turn_over(&mut self, r: super::rotate::Rotation) -> std::io::Result<()> {
        self.dirty = true;
        self.sync()?;
        super::rotate::shift(&self.path, r.keep)?;
        let (file, bytes, _) = Self::open_file(&self.path)?;
        self.file = file;
        self.bytes = bytes;
        self.begun = std::time::SystemTime::now();
        self.header.started = jiff::Timestamp::now();
        let h = serde_json::to_string(&self.header).map_err(std::io::Error::other)?;
        let l = line(&h);
        self.file.write_all(l.as_bytes())?;
        self.bytes += l.len() as u64;
        self.dirty = true;
        Ok(())
    }

    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.dirty {
            self.file.sync_data()?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    pub fn append(&mut self, c: &Change) -> std::io::Result<()> {
        self.write_json(&serde_json::to_string(c).map_err(std::io::Error::other)?)
    }

    /// A refused call (`watch --failures --record`): its own record kind, `"kind":"refused"`.
    pub fn append_refusal(&mut self, r: &crate::watch::failures::Refusal) -> std::io::Result<()> {
        let rec = RefusedRecord {
            kind: Refused::Refused,
            refusal: r.clone(),
        };
        self.write_json(&serde_json::to_string(&rec).map_err(std::io::Error::other)?)
    }

    pub fn append_event(&mut self, e: &crate::watch::WatchEvent) -> std::io::Result<()> {
        if e.event == crate::watch::EventKind::Refused {
            return Ok(()); // a refused bind held nothing
        }
        self.append(&Change::from_event(e))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

/// Whether a failure to open or write a log is the system's (a full disk, an I/O error, a
/// quota) rather than the path the user gave: status 1, not "bad input".
pub fn is_system_failure(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error())
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Refused {
    Refused,
}

/// A refusal as the log keeps it: the `watch --failures --json` object with `"kind":"refused"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefusedRecord {
    kind: Refused,
    #[serde(flatten)]
    refusal: crate::watch::failures::Refusal,
}

/// What a log held, and what had to be skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    pub changes: Vec<Change>,
    /// Refused bind() and connect() calls (`watch --failures --record`), in time order.
    pub refused: Vec<crate::watch::failures::Refusal>,
    /// Lines whose checksum was wrong (a crash mid-write, an edit).
    pub damaged: usize,
    /// Lines with a right checksum whose record this portscope does not know (a kind added by
    /// a newer version): intact, skipped, and not called damage.
    pub unknown: usize,
    /// The last line had no newline: a write cut short.
    pub torn_tail: bool,
    pub headers: usize,
}

/// Why bytes are not a history log this portscope can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("history format {0} is newer than this portscope reads ({FORMAT_VERSION})")]
    Newer(u32),
    #[error("not a portscope history log (no header record)")]
    NoHeader,
}

/// Why a history log file could not be read; both name the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not found, unreadable, not a regular file (a FIFO, a device), or over the size cap.
    #[error("{0}")]
    Io(crate::safefs::FileError),
    #[error("{}: {error}", .path.display())]
    Parse {
        path: std::path::PathBuf,
        error: ParseError,
    },
}

/// The largest history log read whole: far above the default bound (`history_mb`, 50 MB).
pub const MAX_LOG: u64 = 1 << 30;

/// Reads a whole log. Fails only when the file cannot be read or is not a history log at all.
pub fn read(path: &Path) -> Result<Loaded, ReadError> {
    let bytes = crate::safefs::read_file(path, crate::safefs::Links::Follow, MAX_LOG)
        .map_err(ReadError::Io)?;
    parse(&bytes).map_err(|error| ReadError::Parse {
        path: path.to_path_buf(),
        error,
    })
}

/// Whether `bytes` start like a history log (checksum, space, the header object).
pub fn looks_like_log(bytes: &[u8]) -> bool {
    bytes.len() > 10
        && bytes[..8].iter().all(u8::is_ascii_hexdigit)
        && bytes[8] == b' '
        && bytes[9..].starts_with(b"{\"portscope_history\"")
}

pub fn parse(bytes: &[u8]) -> Result<Loaded, ParseError> {
    let mut out = Loaded::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (l, tail) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => {
                out.torn_tail = true;
                break;
            }
        };
        rest = tail;
        if l.is_empty() {
            continue;
        }
        let ok = l.len() > 9
            && l[8] == b' '
            && std::str::from_utf8(&l[..8])
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                == Some(crc32(&l[9..]));
        if !ok {
            out.damaged += 1;
            continue;
        }
        let json = &l[9..];
        if let Ok(h) = serde_json::from_slice::<Header>(json) {
            if h.portscope_history > FORMAT_VERSION {
                return Err(ParseError::Newer(h.portscope_history));
            }
            out.headers += 1;
            out.changes
                .extend(super::Change::restarts(h.started, &h.ports));
            continue;
        }
        match serde_json::from_slice::<Change>(json) {
            Ok(c) => out.changes.push(c),
            Err(_) => match serde_json::from_slice::<RefusedRecord>(json) {
                Ok(r) => out.refused.push(r.refusal),
                Err(_) => out.unknown += 1,
            },
        }
    }
    if out.headers == 0 {
        return Err(ParseError::NoHeader);
    }
    // Several writers (or restarts) append in time order each; one timeline is wanted. The
    // sort is stable, so a session's restart marker stays before its first records.
    out.changes.sort_by_key(|c| c.at);
    out.refused.sort_by_key(|r| r.time);
    Ok(out)
}

/// Records a live TUI: the changes of each refresh (the first one's sockets as `present`).
pub struct SnapshotRecorder {
    rec: Recorder,
}

impl SnapshotRecorder {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(SnapshotRecorder {
            rec: Recorder::open_as(path, "tui", &[])?,
        })
    }

    pub fn append_all(&mut self, changes: &[Change]) -> std::io::Result<()> {
        for c in changes {
            self.rec.append(c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_intact_record_of_an_unknown_kind_is_not_called_damage() {
        let line = |json: &str| format!("{:08x} {json}\n", super::crc32(json.as_bytes()));
        let mut log = line(
            r#"{"portscope_history":1,"started":"2026-01-01T00:00:00Z","writer":"tui","ports":[]}"#,
        );
        log.push_str(&line(r#"{"kind":"quarantined","call":"bind"}"#));
        log.push_str("00000000 {\"edited\":true}\n");
        let loaded = super::parse(log.as_bytes()).unwrap();
        assert_eq!((loaded.unknown, loaded.damaged), (1, 1));
    }

    #[test]
    fn crc_matches_zlib() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
    }

    #[test]
    fn refusals_are_typed_and_worded_for_the_user() {
        use super::{ParseError, line, parse};
        let not_a_log = line(r#"{"some":"json"}"#);
        assert_eq!(
            parse(not_a_log.as_bytes()).map(|_| ()),
            Err(ParseError::NoHeader)
        );
        let newer = line(
            r#"{"portscope_history":7,"started":"2026-01-01T00:00:00Z","writer":"tui","ports":[]}"#,
        );
        let e = parse(newer.as_bytes()).map(|_| ()).unwrap_err();
        assert_eq!(e, ParseError::Newer(7));
        assert_eq!(
            e.to_string(),
            format!(
                "history format 7 is newer than this portscope reads ({})",
                super::FORMAT_VERSION
            )
        );
        let path = std::path::Path::new("/nonexistent/portscope-test.log");
        let e = super::read(path).map(|_| ()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/portscope-test.log cannot be read: "),
            "{e}"
        );
    }
}
