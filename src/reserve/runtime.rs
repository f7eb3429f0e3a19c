//! The kernel's value of `ip_local_reserved_ports` in the calling thread's namespace: read,
//! written in one piece, and checked against what the kernel can take.

use crate::collect::sysctl::RESERVED_PORTS;
use crate::portset::PortSet;
use std::io::{self, Write};

/// The kernel parses one write of at most a page less one byte (proc_do_large_bitmap); a longer
/// list would be cut, with the tail taken as a second, appending write. Value plus newline must
/// fit.
pub const MAX_VALUE_LEN: usize = 4094;

/// Below this many usable ephemeral ports a reduction is refused without `--force`.
pub const NEAR_EMPTY_PORTS: u32 = 1000;

/// The reserved-ports list of the calling thread's namespace.
pub fn read() -> io::Result<PortSet> {
    let text = crate::kernel_file::read(RESERVED_PORTS)?;
    PortSet::parse(text.trim()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Replaces the list in one write: the kernel parses one buffer, and an empty write is ignored
/// (only a lone newline clears the list).
fn write(value: &PortSet) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(RESERVED_PORTS)?;
    let buf = format!("{value}\n");
    let n = f.write(buf.as_bytes())?;
    if n != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("the kernel took {n} of {} bytes", buf.len()),
        ));
    }
    Ok(())
}

/// Why the kernel cannot be given `value`, if it cannot.
pub fn too_long(value: &PortSet) -> Option<String> {
    let len = value.to_string().len();
    (len > MAX_VALUE_LEN).then(|| {
        format!(
            "the list would be {len} characters; the kernel takes at most {MAX_VALUE_LEN} in \
             one write: reserve ranges (9000-9100) instead of many single ports"
        )
    })
}

/// Sets the value and checks the kernel holds exactly that. On failure, says whether the kernel
/// took anything: `Err((message, changed))`.
pub fn set(value: &PortSet) -> Result<(), (String, bool)> {
    if let Some(why) = too_long(value) {
        return Err((why, false));
    }
    let before = read().ok();
    if let Err(e) = write(value) {
        let changed = read().ok() != before;
        let msg = match e.kind() {
            io::ErrorKind::PermissionDenied => {
                format!("writing {RESERVED_PORTS} was refused ({e}): root is needed")
            }
            _ => format!("writing \"{value}\" to {RESERVED_PORTS} failed: {e}"),
        };
        return Err((msg, changed));
    }
    match read() {
        Ok(back) if &back == value => Ok(()),
        Ok(back) => Err((
            format!(
                "the kernel holds \"{back}\" after writing \"{value}\" (read-back differs; it \
                 held \"{}\" before)",
                before
                    .as_ref()
                    .map_or_else(|| "(unreadable)".to_string(), ToString::to_string)
            ),
            before.as_ref() != Some(&back),
        )),
        Err(e) => Err((format!("reading {RESERVED_PORTS} back failed: {e}"), true)),
    }
}

/// The list as a person reads it.
pub fn shown(p: &PortSet) -> String {
    if p.is_empty() {
        "(none)".into()
    } else {
        p.to_string()
    }
}
