//! Text typed by a person or a script: the why field's bind request, and keys for a string.

use crate::analyze::why::BindRequest;
use crate::model::Proto;
use crossterm::event::KeyEvent;
use std::net::{IpAddr, Ipv4Addr};

/// Parses what a person types in the why view: `8080`, `8080/udp`, `127.0.0.1:8080`,
/// `[::1]:8080/tcp`, then why's options: `--v6only`, `--reuseport`, `--freebind`, `--user U`.
pub fn parse_bind(text: &str) -> Result<BindRequest, String> {
    let mut words = text.split_whitespace();
    let t = words.next().unwrap_or("");
    let opts = super::why_act::parse_options(words)?;
    let (rest, proto) = match t.rsplit_once('/') {
        Some((r, p)) => (r, p.parse::<Proto>().map_err(|e| e.to_string())?),
        None => (t, Proto::Tcp),
    };
    let (addr, port) = if rest.starts_with('[') {
        let (a, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("{t:?}: write an IPv6 address and port as [::1]:8080"))?;
        (
            crate::addr::parse_ip(&format!("{a}]")).map_err(|e| e.to_string())?,
            p,
        )
    } else if rest.matches(':').count() > 1 {
        // A bare IPv6 address: is the last group a port or part of the address? Ask.
        return Err(format!(
            "{t:?}: write an IPv6 address and port as [::1]:8080"
        ));
    } else if let Some((a, p)) = rest.rsplit_once(':') {
        (crate::addr::parse_ip(a).map_err(|e| e.to_string())?, p)
    } else {
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), rest)
    };
    let port = crate::analyze::why::parse_service_port(port).map_err(|e| e.to_string())?;
    Ok(BindRequest {
        port,
        proto,
        addr,
        opts,
    })
}

/// Key events for a typed string, for scripted sessions (tests, screenshots): `\n` is Enter,
/// `\x1b` Esc, `\t` Tab, `↑↓←→` arrows, upper-case letters come with Shift.
#[doc(hidden)]
pub fn typed(text: &str) -> Vec<KeyEvent> {
    use crossterm::event::{KeyCode, KeyModifiers};
    text.chars()
        .map(|c| match c {
            '\n' => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
            '\x1b' => KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
            '\t' => KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
            '↑' => KeyEvent::new(KeyCode::Up, KeyModifiers::NONE),
            '↓' => KeyEvent::new(KeyCode::Down, KeyModifiers::NONE),
            '←' => KeyEvent::new(KeyCode::Left, KeyModifiers::NONE),
            '→' => KeyEvent::new(KeyCode::Right, KeyModifiers::NONE),
            c if c.is_ascii_uppercase() => KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT),
            c => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_text() {
        assert_eq!(parse_bind("8080"), Ok(BindRequest::tcp(8080)));
        let r = parse_bind("[::1]:53/udp").unwrap();
        assert_eq!(
            (r.port, r.proto, r.addr.to_string()),
            (53, Proto::Udp, "::1".into())
        );
        let r = parse_bind(" 127.0.0.1:80 ").unwrap();
        assert_eq!(r.addr.to_string(), "127.0.0.1");
        assert!(parse_bind("70000").unwrap_err().contains("outside"));
        assert!(parse_bind("0").unwrap_err().contains("any free port"));
        assert!(parse_bind("80/icmp").is_err());
        assert!(parse_bind("nope:80").is_err());
        for guess in ["::1:80", "[::1", "[::1]", "::1", "[::1:80"] {
            let err = parse_bind(guess).unwrap_err();
            assert!(err.contains(guess), "{guess}: {err}");
        }
    }
}
