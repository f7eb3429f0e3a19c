//! A value on the command line that portscope cannot use: clap prints the Display of the ones
//! its value parsers return, and the commands report the rest as bad input (`check`: UNKNOWN).

use crate::model::UnknownName;
use crate::portset::PortSpecError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("{token:?} is not a port: {reason}")]
    NotAPort { token: String, reason: &'static str },
    #[error("port 0 is not a port anything can hold")]
    PortZero,
    #[error("{0:?} names no port")]
    NoPort(String),
    #[error("{0} ports given; watch takes at most 64")]
    TooManyPorts(usize),
    #[error("{0:?}: name ports 1-65535")]
    PortsOutOfRange(String),
    #[error(transparent)]
    PortList(#[from] PortSpecError),
    #[error(transparent)]
    Name(#[from] UnknownName),
    #[error("unknown source {0:?} (expected auto, netlink or procfs)")]
    UnknownSource(String),
    #[error("--ephemeral-crit {crit} is above --ephemeral-warn {warn}")]
    Thresholds { crit: u32, warn: u32 },
    #[error("no service named {name:?} in {config} (declared: {declared})")]
    NoSuchService {
        name: String,
        /// The config file as shown ("the config file" when there is none).
        config: String,
        /// The declared names, or "none; see portscope services".
        declared: String,
    },
    #[error("--user {0:?}: no such user")]
    NoSuchUser(String),
    #[error("--user {user:?}: cannot look it up: {errno}")]
    UserLookup { user: String, errno: nix::Error },
    #[error("{0:?} is not a time (03:12:05, \"2026-11-22 03:12:05\" or RFC 3339)")]
    NotATime(String),
    #[error("{text:?}: {reason}")]
    TimeNotOnClock { text: String, reason: String },
    #[error("{0:?}: no such time in the recording")]
    NotInRecording(String),
    /// Two ways of saying the same thing say different things.
    #[error("{0}")]
    Conflict(String),
}

impl ArgError {
    /// A time the clock of this zone does not show (a DST gap), as jiff says it.
    pub fn time(text: &str, e: &jiff::Error) -> Self {
        ArgError::TimeNotOnClock {
            text: text.to_string(),
            reason: e.to_string(),
        }
    }
}
