//! Why an action cannot even be offered for the selection: shown in the TUI's footer, by `fix`
//! for a step it skips, and in tests word for word. `socket` fields read "tcp 0.0.0.0:8080".

use crate::analyze::stop_safety::SignalRefusal;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOffered {
    #[error("only TCP connections can be closed one by one")]
    CloseNotTcp,
    #[error(
        "{local} is a listener, not a connection: closing it would stop the service (use K to signal its process)"
    )]
    CloseListener { local: String },
    #[error("{local} → {remote} is in TIME_WAIT: already closed, the kernel frees it in {secs} s")]
    CloseTimeWait {
        local: String,
        remote: String,
        secs: u32,
    },
    #[error(
        "this socket was read from /proc/net, which gives no socket cookie: SOCK_DESTROY needs the netlink source"
    )]
    NoCookie,
    #[error("no such cause")]
    NoSuchCause,
    #[error(
        "a listener is not a connection: closing it stops the service without telling it; stop its process instead (K)"
    )]
    DestroyListener,
    #[error(
        "a socket that is not connected cannot be destroyed from outside; stop its process instead (K)"
    )]
    DestroyBound,
    #[error("there is no socket to close for this cause")]
    NothingToClose,
    #[error("only TCP connections can be destroyed")]
    DestroyNotTcp,
    #[error(
        "these sockets were read from /proc/net, which gives no socket cookie: SOCK_DESTROY needs the netlink source"
    )]
    NoCookies,
    #[error(
        "{socket} is held by the kernel (TIME_WAIT): there is no process to kill; it is freed in {secs} s"
    )]
    KernelTimeWait { socket: String, secs: u32 },
    #[error("{socket} is held by the kernel: there is no process to kill")]
    KernelHeld { socket: String },
    #[error(
        "{socket} is held by {managers}, which portscope never signals (a signal would stop or restart everything it runs, and it holds the socket for the service it starts on demand); {advice}"
    )]
    Manager {
        socket: String,
        /// "systemd" or "systemd and inetd".
        managers: String,
        advice: String,
    },
    #[error("the process holding {socket} is hidden: run portscope as root to see and signal it")]
    Hidden { socket: String },
    #[error(transparent)]
    Refused(#[from] SignalRefusal),
    #[error(
        "this namespace's reserved ports could not be read: a change merged with a guess would drop real reservations"
    )]
    ReservedUnknown,
    #[error("no data directory for the undo journal (set HOME or XDG_DATA_HOME)")]
    NoJournal,
    #[error("no process to signal for this cause")]
    NoProcessToSignal,
    #[error("this step names no cause")]
    NoCause,
    #[error("no process is known for this cause (run as root to see it)")]
    NoProcess,
    /// A step a person does (a change to code or configuration, a command with a shell).
    #[error("portscope cannot do this step itself: {what}")]
    ByHand { what: String },
    #[error(
        "portscope runs only plain systemctl/docker/podman stop commands; run it yourself: {command}"
    )]
    StopCommand { command: String },
}
