//! The connection-tracking table's fill: `nf_conntrack_count` is kept per network namespace,
//! `nf_conntrack_max` is one limit for the host (namespaces read the host's, read-only). Both
//! files exist only while the nf_conntrack module is loaded.

use super::NetnsTarget;
use crate::model::reach::Conntrack;

const COUNT: &str = "/proc/sys/net/netfilter/nf_conntrack_count";
const MAX: &str = "/proc/sys/net/netfilter/nf_conntrack_max";

fn parse(count: &str, max: &str) -> Option<Conntrack> {
    Some(Conntrack {
        count: count.trim().parse().ok()?,
        max: max.trim().parse().ok()?,
    })
}

/// The table of `netns`; `None` where connection tracking is not loaded (or unreadable).
pub fn read(netns: &NetnsTarget) -> Option<Conntrack> {
    netns
        .run_in(|| {
            // /proc/sys/net shows the namespace of the thread that opens it.
            let count = crate::kernel_file::read(COUNT).ok()?;
            let max = crate::kernel_file::read(MAX).ok()?;
            parse(&count, &max)
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_two_numbers() {
        assert_eq!(
            super::parse("12\n", "262144\n").map(|c| (c.count, c.max)),
            Some((12, 262_144))
        );
        assert_eq!(super::parse("", "1"), None);
    }
}
