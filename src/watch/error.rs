//! The ways a watch can fail, as types. Only [`WatchError`] ends a watch; a [`TraceError`]
//! means the tracepoint (or the `--binds` program) is unavailable, and becomes a note while the
//! poll source takes over. The messages are the ones users read (and tests check).

use std::path::PathBuf;

/// Why a watch could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The socket tables could not be read at all.
    #[error("{0}")]
    Failed(String),
}

/// Why the kernel's tracing could not be used. Each says what is missing in words a user can
/// act on.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(
        "tracefs is not mounted and only root may mount it (mount -t tracefs nodev /sys/kernel/tracing)"
    )]
    NotMounted,
    #[error("mounting tracefs at {target}: {error}")]
    Mount {
        target: &'static str,
        error: nix::Error,
    },
    #[error("tracefs mounted at {0} but has no events directory")]
    NoEvents(&'static str),
    #[error("reading {}: {error}", .path.display())]
    ReadFormat {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} has no ID line", .0.display())]
    NoId(PathBuf),
    #[error("tracepoint has no field {0}")]
    NoField(String),
    /// The BPF program addresses the record with 16-bit offsets.
    #[error("field {0} at an odd offset")]
    FieldOffset(String),
    #[error(
        "perf_event_open refused ({0}): needs root or CAP_PERFMON (kernel.perf_event_paranoid)"
    )]
    PerfRefused(std::io::Error),
    #[error("creating the BPF map: {0} (needs root or CAP_BPF)")]
    BpfMap(std::io::Error),
    #[error("loading the bind program: {0}")]
    BpfLoad(#[from] crate::sys::perf::BpfLoadError),
    #[error("no CPU could be traced")]
    NoCpu,
    /// A kernel call failed; `what` names it ("enabling the tracepoint", "perf_event_open on
    /// CPU 3").
    #[error("{what}: {error}")]
    Call { what: String, error: std::io::Error },
    /// A kernel call failed where its own message says enough.
    #[error("{0}")]
    Io(std::io::Error),
}

impl TraceError {
    pub(super) fn call(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TraceError {
        let what = what.into();
        move |error| TraceError::Call { what, error }
    }
}
