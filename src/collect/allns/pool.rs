//! One sock_diag socket per network namespace, kept between refreshes.
//!
//! A sock_diag socket dumps the namespace it was *created* in, whichever thread later uses it.
//! So a short-lived helper thread enters each new namespace, creates the socket and exits; the
//! main thread never calls setns (its namespace is what `/proc/self/ns/net` reports). A kept
//! socket pins its namespace, so sockets of namespaces that went away are closed at each sync.

use super::super::netlink::Dumper;
use nix::sched::{CloneFlags, setns};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Default)]
pub struct NetnsPool {
    dumpers: HashMap<u64, Dumper>,
}

/// Why a namespace's sock_diag socket could not be opened (the last handle's reason).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("sock_diag socket: {0}")]
    Here(nix::Error),
    #[error("no handle on namespace {inode}")]
    NoHandle { inode: u64 },
    #[error("{}: {source}", .handle.display())]
    Handle {
        handle: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is no longer namespace {inode}", .handle.display())]
    Replaced { handle: PathBuf, inode: u64 },
    #[error("entering {}: {errno}", .handle.display())]
    Enter { handle: PathBuf, errno: nix::Error },
    #[error("sock_diag socket in {}: {errno}", .handle.display())]
    Socket { handle: PathBuf, errno: nix::Error },
}

/// Opens a sock_diag socket inside the namespace reached by one of `handles` (checked to be
/// namespace `inode`: a PID may have been reused since the scan). Runs on a helper thread.
pub(super) fn open_in(inode: u64, handles: &[PathBuf]) -> Result<OwnedFd, OpenError> {
    let mut last = OpenError::NoHandle { inode };
    for h in handles {
        let handle = h.clone();
        let file = match std::fs::File::open(h) {
            Ok(f) => f,
            Err(source) => {
                last = OpenError::Handle { handle, source };
                continue;
            }
        };
        match file.metadata() {
            Ok(m) if m.ino() == inode => {}
            _ => {
                last = OpenError::Replaced { handle, inode };
                continue;
            }
        }
        if let Err(errno) = setns(file.as_fd(), CloneFlags::CLONE_NEWNET) {
            last = OpenError::Enter { handle, errno };
            continue;
        }
        return Dumper::open()
            .map(Dumper::into_fd)
            .map_err(|errno| OpenError::Socket { handle, errno });
    }
    Err(last)
}

impl NetnsPool {
    /// Keeps sockets for exactly the namespaces in `wanted` (inode and handles), opening the
    /// missing ones on one helper thread. `own` is the calling thread's namespace, whose socket
    /// is opened here without setns. Returns the namespaces that could not be opened.
    pub fn sync(&mut self, own: u64, wanted: &[(u64, Vec<PathBuf>)]) -> Vec<(u64, OpenError)> {
        self.dumpers
            .retain(|inode, _| wanted.iter().any(|(w, _)| w == inode));
        let mut errors = Vec::new();
        let missing: Vec<(u64, Vec<PathBuf>)> = wanted
            .iter()
            .filter(|(i, _)| !self.dumpers.contains_key(i))
            .cloned()
            .collect();
        let mut remote = Vec::new();
        for (inode, handles) in missing {
            if inode == own {
                match Dumper::open() {
                    Ok(d) => {
                        self.dumpers.insert(inode, d);
                    }
                    Err(e) => errors.push((inode, OpenError::Here(e))),
                }
            } else {
                remote.push((inode, handles));
            }
        }
        if remote.is_empty() {
            return errors;
        }
        let opened = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    remote
                        .iter()
                        .map(|(inode, handles)| (*inode, open_in(*inode, handles)))
                        .collect::<Vec<_>>()
                })
                .join()
                .unwrap_or_default()
        });
        for (inode, r) in opened {
            match r {
                Ok(fd) => {
                    self.dumpers.insert(inode, Dumper::from_fd(fd));
                }
                Err(e) => errors.push((inode, e)),
            }
        }
        errors
    }

    /// The socket of namespace `inode`, opened through `handle` the first time (on a helper
    /// thread; `own` needs none). Unlike [`NetnsPool::sync`] the others are kept, up to `max`:
    /// beyond that every other one is let go (each pins its namespace).
    pub fn ensure(
        &mut self,
        own: u64,
        inode: u64,
        handle: &Path,
        max: usize,
    ) -> Result<&mut Dumper, OpenError> {
        if !self.dumpers.contains_key(&inode) {
            if self.dumpers.len() >= max {
                self.dumpers.clear();
            }
            let dumper = if inode == own {
                Dumper::open().map_err(OpenError::Here)?
            } else {
                let fd = std::thread::scope(|scope| {
                    scope
                        .spawn(|| open_in(inode, &[handle.to_path_buf()]))
                        .join()
                        .unwrap_or(Err(OpenError::NoHandle { inode }))
                })?;
                Dumper::from_fd(fd)
            };
            self.dumpers.insert(inode, dumper);
        }
        self.dumpers
            .get_mut(&inode)
            .ok_or(OpenError::NoHandle { inode })
    }

    pub fn get(&mut self, inode: u64) -> Option<&mut Dumper> {
        self.dumpers.get_mut(&inode)
    }

    /// How many namespaces have a socket open (each pins its namespace).
    pub fn len(&self) -> usize {
        self.dumpers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dumpers.is_empty()
    }

    pub fn contains(&self, inode: u64) -> bool {
        self.dumpers.contains_key(&inode)
    }
}
