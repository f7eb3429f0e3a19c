//! Durations typed on the command line ("1s", "500ms", "2m", "2.5"), and the one error type
//! for them: clap prints its Display as the reason the value is invalid.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{text:?} is not a duration (e.g. {examples})")]
    NotADuration {
        text: String,
        examples: &'static str,
    },
    #[error("{text:?} is out of range ({range})")]
    OutOfRange { text: String, range: &'static str },
}

/// Seconds in `s`, a number with one of `units` (suffix, seconds per unit) or none (seconds).
fn seconds(s: &str, units: &[(&str, f64)]) -> Option<f64> {
    let t = s.trim();
    let (num, scale) = units
        .iter()
        .find_map(|(suffix, scale)| t.strip_suffix(suffix).map(|n| (n, *scale)))
        .unwrap_or((t, 1.0));
    num.trim().parse::<f64>().ok().map(|v| v * scale)
}

/// "ms" before "m" and "s", which it ends with.
const ALL_UNITS: [(&str, f64); 5] = [
    ("ms", 0.001),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

/// `--interval` of the TUI: "1s", "500ms", "2.5" (seconds), 50ms to 1h.
pub fn parse_interval(s: &str) -> Result<Duration, DurationError> {
    use crate::config::{INTERVAL_MAX, INTERVAL_MIN};
    let secs = seconds(s, &ALL_UNITS[..2]).ok_or_else(|| DurationError::NotADuration {
        text: s.to_string(),
        examples: "1s, 500ms, 2.5",
    })?;
    if secs.is_finite() && secs >= INTERVAL_MIN.as_secs_f64() && secs <= INTERVAL_MAX.as_secs_f64()
    {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(DurationError::OutOfRange {
            text: s.to_string(),
            range: "50ms to 1h",
        })
    }
}

/// "30s", "500ms", "2m", "1h", "7d", "1.5" (seconds): more than 0, at most 30 days.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let secs = seconds(s, &ALL_UNITS).ok_or_else(|| DurationError::NotADuration {
        text: s.to_string(),
        examples: "30s, 500ms, 2m, 1h",
    })?;
    if secs.is_finite() && secs > 0.0 && secs <= 30.0 * 86400.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(DurationError::OutOfRange {
            text: s.to_string(),
            range: "more than 0, at most 30 days",
        })
    }
}

/// A duration as [`parse_duration`] reads it, within `min..=max` (`range` says it in words).
pub fn parse_within(
    s: &str,
    min: Duration,
    max: Duration,
    range: &'static str,
) -> Result<Duration, DurationError> {
    let d = parse_duration(s)?;
    if d < min || d > max {
        return Err(DurationError::OutOfRange {
            text: s.to_string(),
            range,
        });
    }
    Ok(d)
}

/// `why --sample`: long enough for a count to move, short enough to wait for at a prompt.
pub fn parse_sample(s: &str) -> Result<Duration, DurationError> {
    parse_within(
        s,
        Duration::from_millis(100),
        Duration::from_secs(600),
        "100ms to 10m",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_their_messages() {
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 1.5 "), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("5x").map_err(|e| e.to_string()),
            Err("\"5x\" is not a duration (e.g. 30s, 500ms, 2m, 1h)".into())
        );
        assert_eq!(
            parse_duration("0s").map_err(|e| e.to_string()),
            Err("\"0s\" is out of range (more than 0, at most 30 days)".into())
        );
        // The TUI's interval takes no minutes.
        assert_eq!(
            parse_interval("2m").map_err(|e| e.to_string()),
            Err("\"2m\" is not a duration (e.g. 1s, 500ms, 2.5)".into())
        );
        assert_eq!(
            parse_interval("10ms").map_err(|e| e.to_string()),
            Err("\"10ms\" is out of range (50ms to 1h)".into())
        );
        assert_eq!(parse_sample("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(
            parse_sample("1h").map_err(|e| e.to_string()),
            Err("\"1h\" is out of range (100ms to 10m)".into())
        );
    }
}
