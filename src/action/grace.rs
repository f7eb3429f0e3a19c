//! How long a process gets after SIGTERM before SIGKILL is offered, and where that comes from:
//! `--grace` when given; else, for a process of a systemd service, that unit's TimeoutStopSec
//! (what systemd itself would wait, so the service's own owner chose it); else 10 s.

use crate::model::Owner;
use std::time::Duration;

/// How long a signalled process gets to exit before SIGKILL is offered, unless `--grace`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

static GRACE: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Sets how long a signalled process is given to exit (`fix --grace`), once, before acting.
pub fn set_grace(d: Duration) {
    let _ = GRACE.set(d);
}

/// `--grace`, when given. Without it a service's TimeoutStopSec applies ([`resolve`]): a
/// database mid-checkpoint needs more than a few seconds, and SIGKILL then would cost it
/// recovery.
pub fn grace_flag() -> Option<Duration> {
    GRACE.get().copied()
}

/// The longest wait taken from a unit: `infinity` (or a timeout of hours) would leave a person
/// staring at a prompt; `--grace` can still ask for more.
pub const MAX_FROM_UNIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grace {
    pub wait: Duration,
    /// "--grace", "TimeoutStopSec of postgresql.service", "the default".
    pub from: String,
}

impl Grace {
    /// "waits up to 1min 30s (TimeoutStopSec of postgresql.service) before offering SIGKILL".
    pub fn words(&self) -> String {
        format!(
            "waits up to {} ({}) before offering SIGKILL",
            span(self.wait),
            self.from
        )
    }
}

/// A wait as systemd writes one: "1min 30s", "10s", "500ms".
pub fn span(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut s = d.as_secs();
    let mut parts = Vec::new();
    for (unit, len) in [("h", 3600), ("min", 60), ("s", 1)] {
        if s >= len {
            parts.push(format!("{}{unit}", s / len));
            s %= len;
        }
    }
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

/// A TimeoutStopUSec value as `systemctl show` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    After(Duration),
    /// `infinity` (or 0, which systemd also takes as "no timeout").
    Never,
}

/// Parses "1min 30s", "90s", "1h", "500ms", "infinity"; None for anything else.
pub fn parse_timespan(text: &str) -> Option<Timeout> {
    let text = text.trim();
    if text == "infinity" {
        return Some(Timeout::Never);
    }
    let mut total = Duration::ZERO;
    let mut any = false;
    for word in text.split_whitespace() {
        let split = word.find(|c: char| !c.is_ascii_digit())?;
        let (num, unit) = word.split_at(split);
        let n: u64 = num.parse().ok()?;
        let per = match unit {
            "us" | "µs" => Duration::from_micros(1),
            "ms" => Duration::from_millis(1),
            "s" | "sec" => Duration::from_secs(1),
            "min" | "m" => Duration::from_secs(60),
            "h" | "hr" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            "w" => Duration::from_secs(7 * 86_400),
            _ => return None,
        };
        total = total.checked_add(per.checked_mul(u32::try_from(n).ok()?)?)?;
        any = true;
    }
    match (any, total.is_zero()) {
        (false, _) => None,
        (true, true) => Some(Timeout::Never),
        (true, false) => Some(Timeout::After(total)),
    }
}

/// The grace for a unit's TimeoutStopSec, capped at [`MAX_FROM_UNIT`] and saying so.
pub fn from_unit(unit: &str, t: Timeout) -> Grace {
    let of = format!("TimeoutStopSec of {unit}");
    match t {
        Timeout::After(d) if d <= MAX_FROM_UNIT => Grace { wait: d, from: of },
        Timeout::After(d) => Grace {
            wait: MAX_FROM_UNIT,
            from: format!("{of} is {}: capped; --grace waits longer", span(d)),
        },
        Timeout::Never => Grace {
            wait: MAX_FROM_UNIT,
            from: format!("{of} is infinity: capped; --grace waits longer"),
        },
    }
}

/// Asks systemd for a unit's TimeoutStopUSec (None: no systemd, no such unit, a name that is not
/// plain, or an answer that is not a timespan).
fn timeout_stop(unit: &str) -> Option<Timeout> {
    if !super::stop::plain_name(unit) {
        return None;
    }
    let mut cmd = crate::tools::command("systemctl").ok()?;
    cmd.args(["show", "-p", "TimeoutStopUSec", "--value", unit]);
    // systemd that does not answer (a hung dbus) must not hold up a kill.
    let out = crate::subprocess::run(
        &mut cmd,
        crate::subprocess::Limits::new(Duration::from_secs(5)),
    )
    .ok()?;
    if !out.status.is_some_and(|s| s.success()) {
        return None;
    }
    parse_timespan(&out.stdout.text())
}

/// The grace for signalling `o`: `--grace`, its service's TimeoutStopSec, or the default.
/// Runs `systemctl` for a process of a service: not for the UI thread.
pub fn resolve(o: &Owner) -> Grace {
    if let Some(g) = grace_flag() {
        return Grace {
            wait: g,
            from: "--grace".into(),
        };
    }
    if let Some(unit) = o
        .unit
        .as_ref()
        .map(crate::escape::Foreign::raw)
        .filter(|u| u.ends_with(".service"))
        && let Some(t) = timeout_stop(unit)
    {
        return from_unit(unit, t);
    }
    Grace {
        wait: DEFAULT_GRACE,
        from: "the default; --grace changes it".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_timespans_parse_and_infinity_is_capped() {
        let s = Duration::from_secs;
        assert_eq!(parse_timespan("1min 30s"), Some(Timeout::After(s(90))));
        assert_eq!(parse_timespan("90s\n"), Some(Timeout::After(s(90))));
        assert_eq!(parse_timespan("1h 2min"), Some(Timeout::After(s(3720))));
        assert_eq!(
            parse_timespan("500ms"),
            Some(Timeout::After(Duration::from_millis(500)))
        );
        assert_eq!(parse_timespan("infinity"), Some(Timeout::Never));
        assert_eq!(parse_timespan("0"), None);
        assert_eq!(parse_timespan("0s"), Some(Timeout::Never));
        for bad in ["", "soon", "5 min", "1x", "-1s"] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
        let g = from_unit("postgresql.service", Timeout::After(s(90)));
        assert_eq!(
            g.words(),
            "waits up to 1min 30s (TimeoutStopSec of postgresql.service) before offering SIGKILL"
        );
        let g = from_unit("slow.service", Timeout::Never);
        assert_eq!(g.wait, MAX_FROM_UNIT);
        assert!(g.words().contains("infinity: capped"), "{}", g.words());
        assert_eq!(span(s(10)), "10s");
    }
}
