//! Whether a directory is portscope's to keep files in: no other user may be able to swap it or
//! anything above it (OpenSSH's StrictModes, applied to the data, config and textfile
//! directories). Root run with another user's environment (`sudo -E`, `su` without `-`) would
//! otherwise keep its undo journal in that user's home, where the user can rename it away or
//! swap an older journal back in.

use super::FileError;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Checks `path` (which may not exist yet) and every directory above it: each must belong to
/// root or to the user portscope runs as, and be writable by nobody else, except a root-owned
/// directory with the sticky bit (/tmp), where others cannot rename or remove what is ours.
/// Links are resolved first, so the check is of the directories the files will really be in.
pub fn check_trusted_dir(path: &Path) -> Result<(), FileError> {
    let me = nix::unistd::geteuid().as_raw();
    // The deepest part that exists, resolved; what does not exist yet will be created by us.
    let mut existing = path.to_path_buf();
    let real = loop {
        match std::fs::canonicalize(&existing) {
            Ok(p) => break p,
            Err(_) => match existing.parent() {
                Some(p) if !p.as_os_str().is_empty() => existing = p.to_path_buf(),
                _ => return Ok(()),
            },
        }
    };
    let mut cur = PathBuf::new();
    for c in real.components() {
        match c {
            Component::RootDir => cur.push("/"),
            Component::Normal(n) => cur.push(n),
            _ => continue,
        }
        let m = std::fs::metadata(&cur).map_err(|e| FileError::io(&cur, "inspect it", e))?;
        let owner = m.uid();
        let writable_by_others = m.mode() & 0o022 != 0;
        let sticky = m.mode() & 0o1000 != 0;
        let why = if owner != 0 && owner != me {
            Some(format!(
                "belongs to uid {owner}{}, not to root or to uid {me} that portscope runs as",
                user_name(owner)
            ))
        } else if writable_by_others && !(sticky && owner == 0) {
            Some(format!(
                "is writable by other users (mode {:o})",
                m.mode() & 0o7777
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(FileError::new(
                &cur,
                format!(
                    "{why}: another user could replace what portscope keeps in {}; refused \
                     (run with sudo -H or su -, or point XDG_DATA_HOME / XDG_CONFIG_HOME at a \
                     directory only you can change)",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(String::new, |u| format!(" ({})", u.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_private_directory_is_trusted_and_a_world_writable_one_is_not() {
        let d = tempfile::tempdir().unwrap();
        assert!(check_trusted_dir(&d.path().join("not/yet/made")).is_ok());
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        let e = check_trusted_dir(&open.join("portscope")).unwrap_err();
        assert!(e.to_string().contains("is writable by other users"), "{e}");
    }
}
