//! IP addresses as people type them (`--addr`, the TUI's why field). An address the parser
//! would have to guess at is refused with a line that names it: an unclosed bracket, or a bare
//! IPv6 address that reads just as well as an address and a port (`::1:80`).

use std::net::IpAddr;

/// An address refused rather than guessed at; each quotes the text as typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("{0:?}: brackets hold an IPv6 address, as [::1]")]
    NotV6InBrackets(String),
    #[error("{0:?} is missing its closing \"]\"")]
    NoClosingBracket(String),
    #[error("{0:?} is missing its opening \"[\"")]
    NoOpeningBracket(String),
    #[error("{0:?} is an address with a port: give the address alone")]
    WithPort(String),
    #[error("{0:?} is not an IPv4 or IPv6 address")]
    NotAnAddress(String),
    /// A name neither `localhost` nor in /etc/hosts: portscope does not ask DNS.
    #[error(
        "{0:?} is not an address, localhost, or a name in /etc/hosts (portscope asks no DNS \
         server, which may not answer in an incident): give the IP address"
    )]
    UnknownName(String),
    /// `::1:80`: the address 0::1:80, or ::1 with port 80 written without brackets.
    #[error(
        "{text:?} is ambiguous (address {head} and port {tail}?): write [{trimmed}] for that \
         address, or give the address alone"
    )]
    Ambiguous {
        text: String,
        head: String,
        tail: String,
        trimmed: String,
    },
}

/// One IPv4 or IPv6 address, bare or in brackets (`[::1]`).
pub fn parse_ip(text: &str) -> Result<IpAddr, AddrError> {
    let t = text.trim();
    let bracketed = t.strip_prefix('[');
    match (bracketed, t.ends_with(']')) {
        (Some(inner), true) => {
            let inner = &inner[..inner.len() - 1];
            return match inner.parse::<std::net::Ipv6Addr>() {
                Ok(a) => Ok(IpAddr::V6(a)),
                Err(_) => Err(AddrError::NotV6InBrackets(text.to_string())),
            };
        }
        (Some(_), false) => return Err(AddrError::NoClosingBracket(text.to_string())),
        (None, true) => return Err(AddrError::NoOpeningBracket(text.to_string())),
        (None, false) => {}
    }
    let addr: IpAddr = t.parse().map_err(|_| {
        if t.contains("]:") || (t.matches(':').count() == 1 && t.contains('.')) {
            AddrError::WithPort(text.to_string())
        } else {
            AddrError::NotAnAddress(text.to_string())
        }
    })?;
    // `::1:80` is the address 0::1:80, or ::1 with port 80 written without brackets. Ask.
    if let IpAddr::V6(_) = addr
        && let Some((head, tail)) = t.rsplit_once(':')
        && !tail.is_empty()
        && tail.bytes().all(|b| b.is_ascii_digit())
        && head.parse::<std::net::Ipv6Addr>().is_ok()
    {
        return Err(AddrError::Ambiguous {
            text: text.to_string(),
            head: head.to_string(),
            tail: tail.to_string(),
            trimmed: t.to_string(),
        });
    }
    Ok(addr)
}

/// The addresses a service given `text` binds: an IP address, or a local name, each address it
/// stands for. `localhost` is 127.0.0.1 and ::1 (RFC 6761: no lookup); other names come from
/// /etc/hosts only. A service told "localhost" binds whichever its resolver returns first, so
/// the question is answered for each.
pub fn service_addresses(text: &str) -> Result<Vec<IpAddr>, AddrError> {
    // A hosts file past this size is not one a person wrote.
    const MAX_HOSTS: u64 = 1 << 20;
    match parse_ip(text) {
        Ok(a) => Ok(vec![a]),
        Err(AddrError::NotAnAddress(_)) if is_host_name(text) => {
            if text.eq_ignore_ascii_case("localhost") {
                return Ok(vec![
                    IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                    IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
                ]);
            }
            let hosts = crate::safefs::read_text(
                std::path::Path::new("/etc/hosts"),
                crate::safefs::Links::Follow,
                MAX_HOSTS,
            )
            .unwrap_or_default();
            let found = hosts_lookup(&hosts, text);
            if found.is_empty() {
                Err(AddrError::UnknownName(text.to_string()))
            } else {
                Ok(found)
            }
        }
        Err(e) => Err(e),
    }
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Every address /etc/hosts gives `name`, in file order, each once.
fn hosts_lookup(hosts: &str, name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if fields.any(|n| n.eq_ignore_ascii_case(name)) && !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_stand_for_each_of_their_addresses() {
        assert_eq!(
            service_addresses("localhost").unwrap(),
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse::<IpAddr>().unwrap()
            ]
        );
        assert_eq!(
            service_addresses("[::1]").unwrap(),
            vec!["::1".parse::<IpAddr>().unwrap()]
        );
        let hosts = "127.0.0.1 localhost\n10.0.0.5  db db.internal # primary\n\
                     fd00::5 db\n10.0.0.5 db\n";
        assert_eq!(
            hosts_lookup(hosts, "DB"),
            vec![
                "10.0.0.5".parse::<IpAddr>().unwrap(),
                "fd00::5".parse::<IpAddr>().unwrap()
            ]
        );
        assert!(
            hosts_lookup(hosts, "primary").is_empty(),
            "a comment names nothing"
        );
        assert!(matches!(
            service_addresses("no-such-host.invalid"),
            Err(AddrError::UnknownName(_))
        ));
        assert!(matches!(
            service_addresses("1.2.3"),
            Err(AddrError::UnknownName(_) | AddrError::NotAnAddress(_))
        ));
    }

    #[test]
    fn plain_and_bracketed_addresses() {
        for (text, want) in [
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("::", "::"),
            ("fe80::1", "fe80::1"),
            ("2001:db8::abc", "2001:db8::abc"),
            ("[::1:80]", "::1:80"),
            ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ] {
            assert_eq!(
                parse_ip(text).map(|a| a.to_string()),
                Ok(want.into()),
                "{text}"
            );
        }
    }

    #[test]
    fn guesses_are_refused_naming_the_text() {
        for (text, needle) in [
            ("[::1", "closing"),
            ("::1]", "opening"),
            ("[127.0.0.1]", "IPv6"),
            ("::1:80", "ambiguous"),
            ("2001:db8::1:8080", "ambiguous"),
            ("127.0.0.1:80", "with a port"),
            ("[::1]:80", "closing"),
            ("300.1.1.1", "not an IPv4 or IPv6"),
            ("", "not an IPv4"),
        ] {
            let err = parse_ip(text).unwrap_err().to_string();
            assert!(
                err.contains(needle) && err.contains(&format!("{text:?}")),
                "{text}: {err}"
            );
        }
    }
}
