//! The service's user as typed (`--user www-data`, `--user 1001`), looked up once: the one
//! lookup `why`, `fix` and the TUI's why field share.

use crate::model::probe::ServiceUser;

/// Why a `--user` names nobody portscope can probe as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("--user {0:?}: no such user")]
    NoSuchUser(String),
    #[error("--user {user:?}: cannot look it up: {errno}")]
    Lookup { user: String, errno: nix::Error },
}

/// A name or a uid, with its name. A uid without a passwd entry (a container's user) is
/// probed with its own gid, as a runtime would run it.
pub fn resolve_user(text: &str) -> Result<(ServiceUser, String), UserError> {
    let uid = text.parse::<u32>().ok();
    let found = match uid {
        Some(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        None => nix::unistd::User::from_name(text),
    };
    match (found, uid) {
        (Ok(Some(p)), _) => Ok((
            ServiceUser {
                uid: p.uid.as_raw(),
                gid: p.gid.as_raw(),
            },
            p.name,
        )),
        (Ok(None), Some(uid)) => Ok((ServiceUser { uid, gid: uid }, text.to_string())),
        (Ok(None), None) => Err(UserError::NoSuchUser(text.to_string())),
        (Err(errno), _) => Err(UserError::Lookup {
            user: text.to_string(),
            errno,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uids() {
        let (u, name) = resolve_user("0").unwrap();
        assert_eq!((u.uid, name.as_str()), (0, "root"));
        let (u, name) = resolve_user("root").unwrap();
        assert_eq!((u.uid, u.gid, name.as_str()), (0, 0, "root"));
        // A container's uid with no entry on the host: probed as itself.
        let (u, name) = resolve_user("3999999").unwrap();
        assert_eq!(
            (u.uid, u.gid, name.as_str()),
            (3_999_999, 3_999_999, "3999999")
        );
        assert_eq!(
            resolve_user("no-such-user-here"),
            Err(UserError::NoSuchUser("no-such-user-here".into()))
        );
    }
}
