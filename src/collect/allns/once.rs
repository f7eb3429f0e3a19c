//! A one-shot read of many namespaces (`snapshot --all-netns`, `why --all-netns`): each
//! namespace's sock_diag socket is opened, read and closed in turn, through one receive buffer,
//! and every namespace's sockets go straight into the one table.
//!
//! The TUI keeps a socket per namespace between refreshes ([`super::pool`]); a command that
//! reads once needs none of them, nor a buffer each: at 10,000 namespaces those were 470 MB.

use super::ReadError;
use super::pool::open_in;
use crate::collect::netlink::Dumper;
use crate::model::Socket;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// One namespace to read: its inode, the handles that open it, and whether every state is
/// wanted (the focus) or only what holds a port.
pub(super) struct Todo {
    pub inode: u64,
    pub handles: Vec<PathBuf>,
    pub full: bool,
}

/// Reads every namespace of `todo` into `out`, each socket marked with its namespace; returns
/// where each namespace's sockets are in `out`, or why it could not be read. `here` is the
/// calling thread's namespace, whose socket is opened without setns; the others are entered
/// by a helper thread (the caller's namespace never changes). One socket is open at a time:
/// each is closed when the next takes its place.
pub(super) fn read_each(
    here: u64,
    todo: &[Todo],
    bound: bool,
    out: &mut Vec<Socket>,
) -> Vec<(u64, Result<Range<usize>, ReadError>)> {
    let mut own: Option<nix::Result<OwnedFd>> = todo
        .iter()
        .any(|t| t.inode == here)
        .then(|| Dumper::open().map(Dumper::into_fd));
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut dumper: Option<Dumper> = None;
                todo.iter()
                    .map(|t| {
                        let fd = if t.inode == here {
                            match own.take() {
                                Some(Ok(fd)) => Ok(fd),
                                Some(Err(e)) => Err(super::pool::OpenError::Here(e)),
                                None => open_in(t.inode, &t.handles),
                            }
                        } else {
                            open_in(t.inode, &t.handles)
                        };
                        let r = fd.map_err(ReadError::from).and_then(|fd| {
                            let d = match dumper.as_mut() {
                                Some(d) => {
                                    d.set_fd(fd);
                                    d
                                }
                                None => dumper.insert(Dumper::from_fd(fd)),
                            };
                            read_one(d, t, bound, out)
                        });
                        (t.inode, r)
                    })
                    .collect()
            })
            .join()
            .unwrap_or_default()
    })
}

/// Appends one namespace's sockets to `out`.
fn read_one(
    d: &mut Dumper,
    t: &Todo,
    bound: bool,
    out: &mut Vec<Socket>,
) -> Result<Range<usize>, ReadError> {
    let start = out.len();
    let r = if t.full {
        d.all_sockets().map(|all| out.extend(all))
    } else {
        d.listening_into(bound, out)
    };
    if let Err(e) = r {
        out.truncate(start);
        return Err(ReadError::Dump(e));
    }
    for s in &mut out[start..] {
        s.netns = t.inode;
    }
    Ok(start..out.len())
}
