//! The wall clock a frame is drawn at (fixed in tests and screenshots).

/// Wall clock and zone used for "06:20:01 (3 s ago)"; fixed in tests so renders are
/// reproducible.
#[derive(Debug, Clone)]
pub struct Clock {
    pub now: jiff::Timestamp,
    pub tz: jiff::tz::TimeZone,
    /// When this machine booted: process start times (ticks after boot) become clock times.
    /// `None` for a replay from another machine, where only "after boot" is true.
    pub boot: Option<jiff::Timestamp>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock {
            now: jiff::Timestamp::now(),
            tz: jiff::tz::TimeZone::system(),
            boot: boot_time(),
        }
    }

    /// A fixed instant in UTC, for tests and screenshots.
    pub fn fixed(now: jiff::Timestamp) -> Clock {
        Clock {
            now,
            tz: jiff::tz::TimeZone::UTC,
            boot: None,
        }
    }

    /// A recording's start times count from another boot: only "after boot" is true of them.
    pub fn for_replay(mut self, replay: bool) -> Clock {
        if replay {
            self.boot = None;
        }
        self
    }

    /// The same, with a boot time, so start times show as clock times and ages.
    pub fn with_boot(mut self, boot: jiff::Timestamp) -> Clock {
        self.boot = Some(boot);
        self
    }
}

/// The boot time of this machine, for `Clock::system`; read once (it does not change).
pub fn boot_time() -> Option<jiff::Timestamp> {
    static BOOT: std::sync::OnceLock<Option<jiff::Timestamp>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let secs = procfs::boot_time_secs().ok()?;
        jiff::Timestamp::from_second(i64::try_from(secs).ok()?).ok()
    })
}
