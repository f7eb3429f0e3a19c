//! Login names for uids, cached: the owner scan, the container reader and every table that shows
//! a socket whose process was not seen ask for them, and none of those should import another.

use crate::escape::Foreign;
use std::collections::HashMap;

thread_local! {
    /// NSS lookups cost tens of microseconds; a table of 100k ownerless rows asks for the same
    /// few uids over and over.
    static USER_NAMES: std::cell::RefCell<HashMap<u32, Foreign>> = Default::default();
}

/// The login name for a uid, or the number when there is none (containers often have none).
/// A name from the user database (possibly a directory service) is shown escaped like any other
/// text portscope did not write.
pub fn user_name(uid: u32) -> Foreign {
    USER_NAMES.with(|cache| {
        cache
            .borrow_mut()
            .entry(uid)
            .or_insert_with(
                || match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
                    Ok(Some(u)) => Foreign::new(u.name),
                    _ => Foreign::new(uid.to_string()),
                },
            )
            .clone()
    })
}
