//! Reads how a listener's only process holds it ([`FdHolding`]): its stat line, its parent's,
//! and (only when the process could be an orphan that did not start its own session, which is
//! rare) the fd scan and that fd's flags. A few small reads per listener, so the TUI can ask on
//! every refresh.

use crate::escape::Foreign;
use crate::model::Owner;
use crate::model::held_fd::FdHolding;
use crate::model::process_context::{Ancestor, ProcessKind};

/// O_CLOEXEC as /proc/PID/fdinfo prints it (octal `flags:`).
const O_CLOEXEC: u32 = 0o2_000_000;

/// `flags:` of an fdinfo file, octal.
pub fn parse_fdinfo_flags(text: &str) -> Option<u32> {
    let v = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(v.trim(), 8).ok()
}

/// How `owner` holds socket `inode`, or None when it exited, its pid was reused, /proc did not
/// say, or it is not a candidate for an inherited socket (no fd scan is done for those).
pub fn read(owner: &Owner, inode: u64) -> Option<FdHolding> {
    let proc = procfs::process::Process::new(i32::try_from(owner.pid).ok()?).ok()?;
    let stat = proc.stat().ok()?;
    if stat.starttime != owner.start_time {
        return None;
    }
    let pstat = procfs::process::Process::new(stat.ppid).ok()?.stat().ok()?;
    let ppid = u32::try_from(stat.ppid).ok()?;
    let status = crate::kernel_file::read_lossy(format!("/proc/{ppid}/status")).unwrap_or_default();
    let kind = ProcessKind::of(ppid, &pstat.comm, &super::owners::parse_nspid(&status));
    let session_leader = stat.session == stat.pid;
    if session_leader || !kind.adopts_orphans() {
        return None;
    }
    let fd = super::owners::socket_fd(owner.pid, inode)?;
    let info = crate::kernel_file::read_lossy(format!("/proc/{}/fdinfo/{fd}", owner.pid)).ok()?;
    Some(FdHolding {
        pid: owner.pid,
        start_time: owner.start_time,
        inode,
        fd,
        cloexec: parse_fdinfo_flags(&info)? & O_CLOEXEC != 0,
        parent: Ancestor {
            pid: ppid,
            comm: Foreign::new(pstat.comm),
            kind,
        },
        session_leader,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn fdinfo_flags_are_octal() {
        let t = "pos:\t0\nflags:\t02000002\nmnt_id:\t9\nino:\t123\n";
        assert_eq!(super::parse_fdinfo_flags(t), Some(0o2_000_002));
        assert_eq!(super::parse_fdinfo_flags("pos: 0\n"), None);
    }
}
