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

#[cfg(test)]
mod tests {
    use super::*;

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
