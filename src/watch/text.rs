//! Words for watch events and refusals, shared by the CLI and the TUI.

use crate::model::Owner;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// "nginx (pid 812) user www-data unit nginx.service", escaped.
pub fn owner_text(o: &Owner) -> String {
    // Foreign text shows escaped through Display.
    let mut t = format!("{} user {}", o.label(), o.user);
    if let Some(u) = &o.unit {
        _ = write!(t, " unit {u}");
    }
    if let Some(c) = &o.container {
        _ = write!(t, " container {c}");
    }
    t
}

/// Local wall-clock time with microseconds: events milliseconds apart must stay apart.
pub fn clock(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%H:%M:%S%.6f")
        .to_string()
}
