//! A set of TCP/UDP ports in the kernel's list syntax (`8080,9000-9010`), as used by
//! `net.ipv4.ip_local_reserved_ports`.
//!
//! Parsing is forgiving of what a person types (spaces, surrounding quotes are *reported*, not
//! silently accepted, because the kernel rejects quotes from sysctl.d files) and the printed form is
//! always the strict one the kernel writes back: sorted, merged, no spaces.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Sorted, non-overlapping, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

/// Why a port list did not parse; names the offending token so the user can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpecError {
    pub token: String,
    pub reason: &'static str,
}

impl fmt::Display for PortSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid port list entry {:?}: {}",
            self.token, self.reason
        )
    }
}

impl std::error::Error for PortSpecError {}

/// Parses one port number, naming the token on failure.
pub fn parse_port(token: &str) -> Result<u16, PortSpecError> {
    let t = token.trim();
    let err = |reason| PortSpecError {
        token: t.to_string(),
        reason,
    };
    if t.is_empty() {
        return Err(err("empty port"));
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("not a number"));
    }
    match t.parse::<u32>().ok().and_then(|n| u16::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => Err(err("port outside 0..65535")),
    }
}

impl PortSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_ranges<I: IntoIterator<Item = (u16, u16)>>(iter: I) -> Self {
        let mut set = PortSet::new();
        for (lo, hi) in iter {
            set.insert_range(lo.min(hi), lo.max(hi));
        }
        set
    }

    /// Parses the kernel's list syntax. Whitespace around tokens is tolerated; quotes, reversed
    /// ranges, out-of-range numbers and anything else are rejected with the token named.
    pub fn parse(spec: &str) -> Result<Self, PortSpecError> {
        let trimmed = spec.trim();
        if trimmed.starts_with(['"', '\'']) || trimmed.ends_with(['"', '\'']) {
            return Err(PortSpecError {
                token: trimmed.to_string(),
                reason: "quotes are not part of the value (sysctl.d rejects them)",
            });
        }
        let mut set = PortSet::new();
        if trimmed.is_empty() {
            return Ok(set);
        }
        for raw in trimmed.split(',') {
            let token = raw.trim();
            if token.is_empty() {
                return Err(PortSpecError {
                    token: spec.trim().to_string(),
                    reason: "empty entry between commas",
                });
            }
            match token.split_once('-') {
                Some((a, b)) => {
                    let lo = parse_port(a).map_err(|e| PortSpecError {
                        token: token.to_string(),
                        reason: e.reason,
                    })?;
                    let hi = parse_port(b).map_err(|e| PortSpecError {
                        token: token.to_string(),
                        reason: e.reason,
                    })?;
                    if lo > hi {
                        return Err(PortSpecError {
                            token: token.to_string(),
                            reason: "reversed range (low end first, e.g. 9000-9010)",
                        });
                    }
                    set.insert_range(lo, hi);
                }
                None => {
                    let p = parse_port(token)?;
                    set.insert_range(p, p);
                }
            }
        }
        Ok(set)
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of ports in the set.
    pub fn len(&self) -> u32 {
        self.ranges
            .iter()
            .map(|&(lo, hi)| u32::from(hi) - u32::from(lo) + 1)
            .sum()
    }

    pub fn contains(&self, port: u16) -> bool {
        // Binary search on range starts: the candidate is the last range starting at or below port.
        let idx = self.ranges.partition_point(|&(lo, _)| lo <= port);
        idx > 0 && self.ranges[idx - 1].1 >= port
    }

    pub fn insert(&mut self, port: u16) {
        self.insert_range(port, port);
    }

    pub fn insert_range(&mut self, lo: u16, hi: u16) {
        let (mut lo, mut hi) = (lo.min(hi), lo.max(hi));
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.ranges {
            // Disjoint and not adjacent: keep as is.
            if u32::from(b) + 1 < u32::from(lo) {
                out.push((a, b));
            } else if u32::from(hi) + 1 < u32::from(a) {
                if !placed {
                    out.push((lo, hi));
                    placed = true;
                }
                out.push((a, b));
            } else {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        if !placed {
            out.push((lo, hi));
        }
        self.ranges = out;
    }

    #[must_use]
    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut out = self.clone();
        for &(lo, hi) in &other.ranges {
            out.insert_range(lo, hi);
        }
        out
    }

    /// Ports in `self` that are not in `other`.
    #[must_use]
    // `cur` is pushed only while below a port (`a`) or at most `hi`, so it fits a u16.
    #[allow(clippy::cast_possible_truncation)]
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::new();
        for &(lo, hi) in &self.ranges {
            let mut cur = u32::from(lo);
            let end = u32::from(hi);
            for &(a, b) in &other.ranges {
                let (a, b) = (u32::from(a), u32::from(b));
                if b < cur || a > end {
                    continue;
                }
                if a > cur {
                    out.push((cur as u16, (a - 1) as u16));
                }
                cur = b + 1;
                if cur > end {
                    break;
                }
            }
            if cur <= end {
                out.push((cur as u16, hi));
            }
        }
        PortSet { ranges: out }
    }

    #[must_use]
    pub fn intersection(&self, other: &PortSet) -> PortSet {
        self.difference(&self.difference(other))
    }

    /// How many ports of the inclusive range `lo..=hi` are in the set.
    pub fn count_in(&self, lo: u16, hi: u16) -> u32 {
        self.intersection(&PortSet::from_ranges([(lo, hi)])).len()
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for PortSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PortSet::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let cases = [
            ("", ""),
            ("8080", "8080"),
            (" 9000-9010 , 8080 ", "8080,9000-9010"),
            ("5,3,4", "3-5"),
            ("10-20,15-25,26", "10-26"),
            ("0,65535", "0,65535"),
            ("7-7", "7"),
        ];
        for (input, want) in cases {
            let got = PortSet::parse(input).map(|s| s.to_string());
            assert_eq!(got.as_deref(), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_naming_the_token() {
        let cases = [
            ("70000", "70000"),
            ("80,abc", "abc"),
            ("9010-9000", "9010-9000"),
            ("1-70000", "1-70000"),
            ("\"8080\"", "\"8080\""),
            ("80,,81", "80,,81"),
            ("-5", "-5"),
            ("+5", "+5"),
        ];
        for (input, token) in cases {
            let err = PortSet::parse(input).expect_err(input);
            assert_eq!(err.token, token, "input {input:?}");
        }
    }

    #[test]
    fn set_algebra() {
        let a = PortSet::parse("1-10,20-30").unwrap();
        let b = PortSet::parse("5-25").unwrap();
        assert_eq!(a.union(&b).to_string(), "1-30");
        assert_eq!(a.difference(&b).to_string(), "1-4,26-30");
        assert_eq!(a.intersection(&b).to_string(), "5-10,20-25");
        assert_eq!(a.len(), 21);
        assert_eq!(a.count_in(8, 22), 6);
        assert!(a.contains(1) && a.contains(10) && a.contains(20) && !a.contains(11));
        assert!(!PortSet::new().contains(0));
        let full = PortSet::parse("0-65535").unwrap();
        assert_eq!(full.len(), 65536);
        assert_eq!(full.difference(&a).to_string(), "0,11-19,31-65535");
    }
}
