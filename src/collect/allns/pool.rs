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
use std::path::PathBuf;

#[derive(Default)]
pub struct NetnsPool {
    dumpers: HashMap<u64, Dumper>,
}

/// Opens a sock_diag socket inside the namespace reached by one of `handles` (checked to be
/// namespace `inode`: a PID may have been reused since the scan). Runs on a helper thread.
fn open_in(inode: u64, handles: &[PathBuf]) -> Result<OwnedFd, String> {
    let mut last = format!("no handle on namespace {inode}");
    for h in handles {
        let file = match std::fs::File::open(h) {
            Ok(f) => f,
            Err(e) => {
                last = format!("{}: {e}", h.display());
                continue;
            }
        };
        match file.metadata() {
            Ok(m) if m.ino() == inode => {}
            _ => {
                last = format!("{} is no longer namespace {inode}", h.display());
                continue;
            }
        }
        if let Err(e) = setns(file.as_fd(), CloneFlags::CLONE_NEWNET) {
            last = format!("entering {}: {e}", h.display());
            continue;
        }
        return Dumper::open()
            .map(Dumper::into_fd)
            .map_err(|e| format!("sock_diag socket in {}: {e}", h.display()));
    }
    Err(last)
}

impl NetnsPool {
    /// Keeps sockets for exactly the namespaces in `wanted` (inode and handles), opening the
    /// missing ones on one helper thread. `own` is the calling thread's namespace, whose socket
    /// is opened here without setns. Returns the namespaces that could not be opened.
    pub fn sync(&mut self, own: u64, wanted: &[(u64, Vec<PathBuf>)]) -> Vec<(u64, String)> {
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
                    Err(e) => errors.push((inode, format!("sock_diag socket: {e}"))),
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
